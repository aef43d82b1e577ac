//! `lgsp chaos`: the bus's promises checked under faults, on loopback, in bounded time.
//!
//! It runs a private RabbitMQ node, the portal simulator (failing a share of calls with 5xx and
//! leaving a share unanswered) and the bus as its own process on a config of its own; pushes
//! status changes over many dossiers, each dossier's in `seq` order as a one-stop system sends
//! them; and meanwhile kills and restarts RabbitMQ and kills the bus with `kill -9` and starts it
//! again. Then it waits for the bus to settle and checks the portal's record against what was
//! accepted: nothing accepted lost, nothing delivered twice, every dossier ending at its newest
//! `seq`; and the message log's chain intact, sealed, with every accepted message on it. See
//! [`report`] for how each figure is counted.

mod load;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use lgsp_bus::simulator::free_port;
use lgsp_dvc::sim::{Behaviour, PortalSim, SimOptions};
use tokio::sync::watch;

use crate::process::{BusChild, log_tail};
use crate::rabbitmq::PrivateBroker;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The form CI runs: 5,000 messages over 500 dossiers, one broker restart, one bus kill.
    #[arg(long)]
    pub short: bool,
    /// Status changes sent (default 50,000; 5,000 with --short).
    #[arg(long)]
    pub messages: Option<usize>,
    /// Dossiers they are spread over, each getting its changes in seq order (default 5,000;
    /// 500 with --short).
    #[arg(long)]
    pub dossiers: Option<usize>,
    /// Times RabbitMQ is killed and restarted during the run (default 3; 1 with --short).
    #[arg(long)]
    pub broker_restarts: Option<usize>,
    /// Times the bus is killed with `kill -9` and restarted (default 3; 1 with --short).
    #[arg(long)]
    pub bus_kills: Option<usize>,
    /// Share of portal calls answered HTTP 500.
    #[arg(long, default_value_t = 0.30)]
    pub error_rate: f64,
    /// Share of portal calls left unanswered (the adapter times out).
    #[arg(long, default_value_t = 0.10)]
    pub timeout_rate: f64,
    /// One-stop systems sending at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Longest the whole run may take before it gives up (sending and settling).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15m")]
    pub deadline: Duration,
    /// Keep the working folder (the bus's log, config and store) and say where it is; a run
    /// that fails keeps it anyway.
    #[arg(long)]
    pub keep: bool,
}

/// What the run is made of, once the defaults are filled in.
#[derive(Debug, Clone)]
pub struct Plan {
    pub messages: usize,
    pub dossiers: usize,
    pub broker_restarts: usize,
    pub bus_kills: usize,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub concurrency: usize,
    pub deadline: Duration,
}

impl Args {
    fn plan(&self) -> anyhow::Result<Plan> {
        let (messages, dossiers, faults) = if self.short { (5_000, 500, 1) } else { (50_000, 5_000, 3) };
        let plan = Plan {
            messages: self.messages.unwrap_or(messages),
            dossiers: self.dossiers.unwrap_or(dossiers),
            broker_restarts: self.broker_restarts.unwrap_or(faults),
            bus_kills: self.bus_kills.unwrap_or(faults),
            error_rate: self.error_rate,
            timeout_rate: self.timeout_rate,
            concurrency: self.concurrency,
            deadline: self.deadline,
        };
        if plan.messages == 0 || plan.dossiers == 0 || plan.concurrency == 0 {
            bail!("--messages, --dossiers and --concurrency must be at least 1");
        }
        if plan.dossiers > plan.messages {
            bail!("--dossiers ({}) cannot exceed --messages ({})", plan.dossiers, plan.messages);
        }
        if !(0.0..1.0).contains(&(plan.error_rate + plan.timeout_rate))
            || plan.error_rate < 0.0
            || plan.timeout_rate < 0.0
        {
            bail!("--error-rate and --timeout-rate must be at least 0 and add up to less than 1");
        }
        Ok(plan)
    }
}

/// Runs the suite; exits 0 only when every promise held (see [`report::Report::kept_promises`]).
pub async fn run(args: Args) -> ExitCode {
    let work = match tempfile::Builder::new().prefix("lgsp-chaos-").tempdir() {
        Ok(work) => work,
        Err(e) => {
            eprintln!("lgsp chaos: cannot make a working folder: {e}");
            return ExitCode::from(2);
        }
    };
    // On Ctrl-C the run is dropped, and with it the private RabbitMQ node and the bus.
    let outcome = tokio::select! {
        outcome = run_plan(&args, work.path()) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; the private RabbitMQ node and the bus are stopped")),
    };
    let code = match outcome {
        Ok(report) => {
            report.print();
            if report.kept_promises() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("lgsp chaos: {e:#}");
            ExitCode::from(2)
        }
    };
    if args.keep || code != ExitCode::SUCCESS {
        println!("kept: {}", work.keep().display());
    }
    code
}

/// How long the run may go without any message accepted or settled before it stops and says
/// where it stuck, rather than waiting for the deadline.
const STALL: Duration = Duration::from_secs(90);

async fn run_plan(args: &Args, work: &Path) -> anyhow::Result<report::Report> {
    let plan = args.plan()?;
    let started = Instant::now();
    println!(
        "lgsp chaos: {} status changes over {} dossiers; {} RabbitMQ restart(s), {} bus kill(s); portal fails {:.0} % \
         of calls with 5xx and leaves {:.0} % unanswered",
        plan.messages,
        plan.dossiers,
        plan.broker_restarts,
        plan.bus_kills,
        plan.error_rate * 100.0,
        plan.timeout_rate * 100.0
    );

    let broker = Arc::new(tokio::task::spawn_blocking(PrivateBroker::start).await??);
    let portal = PortalSim::start(
        "127.0.0.1:0".parse()?,
        SimOptions { username: "lgsp.chaos".into(), password: SIM_PASSWORD.into(), ..SimOptions::default() },
    )
    .await?;
    portal.set_behaviour(Behaviour {
        error_rate: plan.error_rate,
        timeout_rate: plan.timeout_rate,
        ..Behaviour::default()
    });
    let port = free_port()?;
    let config = write_config(work, port, &broker.url(), portal.url().as_str())?;
    let base = format!("http://127.0.0.1:{port}");
    let mut bus = Bus::start(work, config, base.clone()).await?;

    let messages = Arc::new(load::Messages::new(plan.messages, plan.dossiers));
    let (progress, accepted) = watch::channel(0usize);
    let mut sending = tokio::spawn(load::send_all(messages.clone(), base.clone(), plan.concurrency, progress));

    // Faults spread evenly over the run, alternating kinds; each waits for the one before.
    let store = work.join("chaos.db");
    let mut accepted_seen = accepted.clone();
    for (at, fault) in schedule(&plan) {
        let reached = loop {
            let count = *accepted_seen.borrow_and_update();
            if count >= at {
                break true;
            }
            match tokio::time::timeout(STALL, accepted_seen.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break false, // every message answered
                Err(_) => bail!(bus.stuck(&format!("no message accepted for {STALL:?}, at {count}"), &store).await),
            }
        };
        if !reached {
            break;
        }
        let began = Instant::now();
        match fault {
            Fault::Broker => {
                let broker = broker.clone();
                tokio::task::spawn_blocking(move || broker.crash_and_restart()).await??;
                println!(
                    "fault: RabbitMQ killed (kill -9) and restarted at {at} accepted, back in {:.1} s",
                    secs(began)
                );
            }
            Fault::Bus => {
                bus.kill().await;
                bus.start_again().await?;
                println!("fault: bus killed (kill -9) at {at} accepted, restarted and ready in {:.1} s", secs(began));
            }
        }
    }
    let sent = loop {
        tokio::select! {
            biased;
            sent = &mut sending => break sent??,
            changed = tokio::time::timeout(STALL, accepted_seen.changed()) => match changed {
                Ok(Ok(())) if started.elapsed() < plan.deadline => {}
                Ok(Err(_)) => break sending.await??, // every message answered
                _ => {
                    let count = *accepted_seen.borrow();
                    bail!(bus.stuck(&format!("not every message accepted in time, {count} so far"), &store).await)
                }
            },
        }
    };

    // Settled: every accepted message delivered, superseded or dead-lettered. A run that stops
    // settling says where it stuck; the report then counts what never arrived as lost.
    let mut last = (i64::MAX, Instant::now());
    loop {
        let pending = report::pending_deliveries(&store)?;
        if pending == 0 {
            break;
        }
        if pending != last.0 {
            last = (pending, Instant::now());
        }
        if started.elapsed() > plan.deadline || last.1.elapsed() > STALL {
            println!("{}", bus.stuck(&format!("{pending} deliveries still pending"), &store).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stopped = bus.terminate().await;
    let log = work.join("audit.db");
    let report = report::Report::build(&messages, &sent, &portal, &store, &log, started.elapsed())?;
    if let Err(e) = stopped {
        println!("warning: {e:#}");
    }
    Ok(report)
}

/// The portal simulator's password for the chaos bus's account.
const SIM_PASSWORD: &str = "chaos";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Broker,
    Bus,
}

/// When each fault strikes, as a count of accepted messages: evenly spread, kinds alternating.
fn schedule(plan: &Plan) -> Vec<(usize, Fault)> {
    let mut kinds = Vec::new();
    for i in 0..plan.broker_restarts.max(plan.bus_kills) {
        if i < plan.broker_restarts {
            kinds.push(Fault::Broker);
        }
        if i < plan.bus_kills {
            kinds.push(Fault::Bus);
        }
    }
    let step = plan.messages / (kinds.len() + 1);
    kinds.into_iter().enumerate().map(|(i, kind)| (step * (i + 1), kind)).collect()
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// The bus's config for the run: only the portal adapter, short retry tiers and many attempts
/// (a message is retried through every fault rather than dead-lettered), a 1 s portal timeout.
fn write_config(dir: &Path, port: u16, amqp: &str, portal: &str) -> anyhow::Result<PathBuf> {
    let key = dir.join("token-key.pem");
    std::fs::write(&key, lgsp_bus::auth::keys::SigningKey::generate().to_pem())?;
    let text = format!(
        r#"
[bus]
province_code = "42"
drain_timeout = "10s"

[http]
listen = "127.0.0.1:{port}"

[amqp]
url = "{amqp}"
namespace = "chaos"
confirm_timeout = "3s"

[store]
url = "sqlite://{store}"

[auth]
# Tokens outlive every restart of the bus: the key is the run's own.
signing_key_file = "{key}"

[members."onestop.chaos"]
name = "One-stop system under chaos"
rights = {{ send = [{{ types = ["dossier.status_changed"], agencies = ["*"] }}], read = {{ messages = "own" }} }}

# Who reads the bus's state when a run is stuck.
[operators.viewer]
roles = ["viewer"]

[adapters.dvc]
kind = "dvc"
url = "{portal}"
username = "lgsp.chaos"
madonvi = "000.00.00.H42"
timeout = "1s"

[adapters.dvc.delivery]
lanes = 8
prefetch = 1000
max_attempts = 50
retry_tiers = ["200ms", "500ms", "1s", "2s"]
timeout = "10s"

[adapters.dvc.breaker]
open_for = "500ms"
max_open_for = "2s"
"#,
        store = dir.join("chaos.db").display(),
        key = key.display(),
    );
    let path = dir.join("lgsp.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The bus under test, restarted on the same config and store after each kill.
struct Bus {
    child: BusChild,
    config: PathBuf,
    log: PathBuf,
    base: String,
    client: reqwest::Client,
}

impl Bus {
    async fn start(dir: &Path, config: PathBuf, base: String) -> anyhow::Result<Bus> {
        let log = dir.join("bus.log");
        let child = BusChild::spawn(&config, &Self::env(), Some(&log))?;
        let mut bus = Bus { child, config, log, base, client: reqwest::Client::new() };
        bus.child.wait_ready(&bus.client, &bus.base, Duration::from_secs(60)).await?;
        bus.client = crate::process::signed_in_client(reqwest::Client::builder(), &bus.base, "viewer").await?;
        Ok(bus)
    }

    fn env() -> Vec<(String, String)> {
        let mut env = vec![
            ("LGSP__ADAPTERS__DVC__PASSWORD".into(), SIM_PASSWORD.into()),
            ("LGSP_LOG".into(), std::env::var("LGSP_LOG").unwrap_or_else(|_| "info,lapin=warn".into())),
        ];
        env.extend(crate::process::sandbox_auth_env());
        env
    }

    async fn kill(&mut self) {
        self.child.kill().await;
    }

    async fn start_again(&mut self) -> anyhow::Result<()> {
        self.child = BusChild::spawn(&self.config, &Self::env(), Some(&self.log))?;
        self.child.wait_ready(&self.client, &self.base, Duration::from_secs(60)).await
    }

    async fn terminate(&mut self) -> anyhow::Result<()> {
        self.child.terminate(Duration::from_secs(30)).await
    }

    /// Where the run stuck: `what`, whether the bus still runs, what its `/readyz` and
    /// `/v1/adapters` say, and the end of its log.
    async fn stuck(&mut self, what: &str, store: &Path) -> String {
        let process = match self.child.exited() {
            Some(status) => format!("exited on its own ({status})"),
            None => format!("running (pid {})", self.child.pid),
        };
        let mut text = format!("stuck: {what}\nbus: {process}\n");
        for path in ["/readyz", "/v1/adapters"] {
            let answer =
                match self.client.get(format!("{}{path}", self.base)).timeout(Duration::from_secs(5)).send().await {
                    Ok(response) => format!("{} {}", response.status(), response.text().await.unwrap_or_default()),
                    Err(e) => format!("no answer ({e})"),
                };
            text += &format!("{path}: {answer}\n");
        }
        if let Ok(pending) = report::pending_deliveries(store) {
            text += &format!("pending deliveries: {pending}\n");
        }
        text + "the end of the bus's log:\n" + &log_tail(&self.log, 25)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_spread_evenly_and_alternate() {
        let args = Args {
            short: false,
            messages: None,
            dossiers: None,
            broker_restarts: None,
            bus_kills: None,
            error_rate: 0.3,
            timeout_rate: 0.1,
            concurrency: 64,
            deadline: Duration::from_secs(600),
            keep: false,
        };
        let plan = args.plan().unwrap();
        let faults = schedule(&plan);
        let kinds: Vec<Fault> = faults.iter().map(|(_, kind)| *kind).collect();
        use Fault::*;
        assert_eq!(kinds, [Broker, Bus, Broker, Bus, Broker, Bus]);
        assert_eq!(faults[0].0, 50_000 / 7);
        assert!(faults.windows(2).all(|w| w[0].0 < w[1].0));

        let short = Args { short: true, ..args.clone() }.plan().unwrap();
        assert_eq!((short.messages, short.dossiers), (5_000, 500));
        assert_eq!(schedule(&short).len(), 2);
        assert!(Args { error_rate: 0.95, ..args.clone() }.plan().is_err());
        assert!(Args { dossiers: Some(10), messages: Some(5), ..args }.plan().is_err());
    }
}
