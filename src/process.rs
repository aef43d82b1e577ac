//! The bus as a child process (`lgsp serve`), for the runs that measure it or break it on
//! purpose: `lgsp bench` (its memory and CPU are its own) and `lgsp chaos` (it is killed with
//! `kill -9` and started again on the same store).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// What the runs that start their own bus give it, and speak to it with: every member's secret is
/// `sandbox` (`[auth] sandbox_secrets`), and tokens last the whole run.
pub fn sandbox_auth_env() -> Vec<(String, String)> {
    vec![("LGSP__AUTH__SANDBOX_SECRETS".into(), "true".into()), ("LGSP__AUTH__TOKEN_TTL".into(), "24h".into())]
}

/// An HTTP client (from `builder`) that sends `who`'s token (a member's or an operator's) with
/// every request, the token asked of the bus at `base` with the sandbox secret.
pub async fn signed_in_client(
    builder: reqwest::ClientBuilder,
    base: &str,
    who: &str,
) -> anyhow::Result<reqwest::Client> {
    let form = [("grant_type", "client_credentials"), ("client_id", who), ("client_secret", "sandbox")];
    let response = reqwest::Client::new().post(format!("{base}/oauth2/token")).form(&form).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let token = body["access_token"].as_str().with_context(|| format!("no token for {who}: {status} {body}"))?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse()?);
    Ok(builder.default_headers(headers).build()?)
}

pub struct BusChild {
    child: tokio::process::Child,
    pub pid: u32,
}

impl BusChild {
    /// Starts `lgsp --config CONFIG serve` with `env` on top of this process's environment;
    /// its log goes to `log` (appended) or is dropped.
    pub fn spawn(config: &Path, env: &[(String, String)], log: Option<&Path>) -> anyhow::Result<BusChild> {
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command.arg("--config").arg(config).arg("serve").envs(env.iter().cloned()).kill_on_drop(true);
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = command.spawn().context("starting the bus")?;
        let pid = child.id().context("the bus exited at once")?;
        Ok(BusChild { child, pid })
    }

    /// Waits until `GET {base}/readyz` answers 200 (broker and store up), at most `within`.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, base: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the bus exited ({status}) before it was ready");
            }
            if Instant::now() > deadline {
                bail!("the bus was not ready within {within:?} (is RabbitMQ running?)");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `kill -9`: no drain, no goodbye, as a crash or the OOM killer would.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for it to drain and exit; `kill -9` if it takes longer than `within`.
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<()> {
        let _ = tokio::process::Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status().await;
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if status.success() { Ok(()) } else { Err(anyhow!("the bus exited with {status}")) }
            }
            Err(_) => {
                self.kill().await;
                bail!("the bus did not stop within {within:?} of SIGTERM; killed")
            }
        }
    }

    /// VmHWM: the most resident memory it has had, in KiB.
    pub fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmHWM:")
    }

    /// VmRSS: its resident memory now, in KiB.
    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmRSS:")
    }

    /// CPU time (user + system) it has used, from /proc/<pid>/stat.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        Ok((tick(11) + tick(12)) / 100.0)
    }
}

/// The last `lines` lines of a log file (each cut at 300 characters), for an error to show.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let last: Vec<&str> = text.lines().rev().take(lines).collect();
    last.iter().rev().map(|line| format!("{}\n", line.chars().take(300).collect::<String>())).collect()
}

fn status_field(pid: u32, name: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with(name)).ok_or_else(|| anyhow!("no {name} for {pid}"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}
