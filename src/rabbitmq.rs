//! A private RabbitMQ node, for runs that stop or kill the broker without disturbing anyone else
//! (`lgsp chaos`, the broker-restart test). It uses the project's own scripts
//! (`scripts/rabbitmq`), on free ports, with its state in a temporary folder; killed and removed
//! when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use lgsp_bus::simulator::free_port;

use crate::process::log_tail;

pub struct PrivateBroker {
    pub port: u16,
    base: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl PrivateBroker {
    /// Starts a bare node (no plugins); returns once it has booted (~7 s).
    pub fn start() -> anyhow::Result<PrivateBroker> {
        let (port, dist) = (free_port()?, free_port()?);
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

    /// `kill -9` of the node (if it still runs); returns once its port is closed.
    pub fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.base.path().join("rabbit.pid")) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).stderr(std::process::Stdio::null()).status();
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
            // The node's folder goes when it is dropped, so the log's end goes into the error.
            bail!("{} failed ({status}); the end of its log:\n{}", path.display(), self.log_tail(20));
        }
        Ok(())
    }

    fn log_tail(&self, lines: usize) -> String {
        let files = std::fs::read_dir(self.base.path().join("log")).into_iter().flatten().flatten();
        files
            .map(|file| format!("==> {} <==\n{}", file.file_name().to_string_lossy(), log_tail(&file.path(), lines)))
            .collect()
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
