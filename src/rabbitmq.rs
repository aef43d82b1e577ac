//! A private RabbitMQ node, for runs that stop or kill the broker without disturbing anyone else
//! (`lgsp chaos`, the broker-restart test). It uses the project's own scripts
//! (`scripts/rabbitmq`), on free ports, with its state in a temporary folder; killed and removed
//! when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

pub struct PrivateBroker {
    pub port: u16,
    base: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl PrivateBroker {
    /// Starts a bare node (no plugins); returns once it has booted (~7 s).
    pub fn start() -> anyhow::Result<PrivateBroker> {
        let free = || -> anyhow::Result<u16> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
        let (port, dist) = (free()?, free()?);
        let base = tempfile::Builder::new().prefix("lgsp-rabbitmq-").tempdir()?;
        let env = vec![
            ("RMQ_BASE".to_string(), base.path().display().to_string()),
            ("RABBITMQ_NODENAME".to_string(), format!("lgsp-private-{port}@localhost")),
            ("RABBITMQ_NODE_PORT".to_string(), port.to_string()),
            ("RABBITMQ_DIST_PORT".to_string(), dist.to_string()),
            ("RMQ_PLUGINS".to_string(), "none".to_string()),
        ];
        let broker = PrivateBroker { port, base, env };
        broker.run("start.sh")?;
        Ok(broker)
    }

    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    /// Kills the node (`kill -9`: no clean shutdown) and starts it again on the same state, as
    /// a machine that lost its broker process and restarted it would.
    pub fn crash_and_restart(&self) -> anyhow::Result<()> {
        self.kill();
        self.run("start.sh")
    }

    /// `kill -9` of the node; returns once its port is closed.
    pub fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.base.path().join("rabbit.pid")) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn run(&self, script: &str) -> anyhow::Result<()> {
        let path = scripts().join(script);
        let status = Command::new(&path).envs(self.env.iter().cloned()).status().with_context(|| {
            format!("cannot run {} (is RabbitMQ installed? scripts/rabbitmq/ensure.sh)", path.display())
        })?;
        if !status.success() {
            bail!("{} failed ({status}); its log is under {}", path.display(), self.base.path().join("log").display());
        }
        Ok(())
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The project's RabbitMQ scripts: `LGSP_RABBITMQ_SCRIPTS`, else those of the checkout this
/// binary was built from.
fn scripts() -> PathBuf {
    std::env::var_os("LGSP_RABBITMQ_SCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/rabbitmq")))
}
