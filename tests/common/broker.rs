//! A private RabbitMQ node, for tests that stop or kill the broker without disturbing others.
//! It uses the project's own scripts (scripts/rabbitmq), on free ports, with its state in a
//! temporary folder; killed and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PrivateBroker {
    pub port: u16,
    base: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl PrivateBroker {
    pub fn start() -> PrivateBroker {
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, dist) = (free(), free());
        let base = tempfile::tempdir().unwrap();
        let env = vec![
            ("RMQ_BASE".to_string(), base.path().display().to_string()),
            ("RABBITMQ_NODENAME".to_string(), format!("lgsp-test-{port}@localhost")),
            ("RABBITMQ_NODE_PORT".to_string(), port.to_string()),
            ("RABBITMQ_DIST_PORT".to_string(), dist.to_string()),
            ("RMQ_PLUGINS".to_string(), "none".to_string()),
        ];
        let broker = PrivateBroker { port, base, env };
        broker.run("start.sh");
        broker
    }

    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    /// Kills the node (`kill -9`: no clean shutdown) and starts it again on the same state.
    pub fn crash_and_restart(&self) {
        self.kill();
        self.run("start.sh");
    }

    pub fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.base.path().join("rabbit.pid")) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            // The pid is gone once the kernel has reaped it; wait for the port to close.
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }

    fn run(&self, script: &str) {
        let path = scripts().join(script);
        let status = Command::new(&path).envs(self.env.iter().cloned()).status().unwrap();
        assert!(status.success(), "{} failed", path.display());
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rabbitmq")
}
