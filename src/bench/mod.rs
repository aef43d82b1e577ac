//! `lgsp bench`: measures the bus against what it is built on, in one run, on one machine.
//!
//! - `--mode messages` (the default): the broker's own limit (raw lapin through a quorum queue)
//!   against the bus end to end, HTTP in to the portal simulator; see [`messages`].
//! - `--mode lookups`: `citizen.verify` straight from the population adapter to its simulator
//!   against the same lookups through the bus (HTTP → broker → adapter → broker → HTTP); see
//!   [`lookups`].
//! - `--mode soak`: a steady `--rate` for `--duration`, the bus's memory sampled every minute;
//!   see [`soak`].
//! - `--mode fanout`: `--adapters` agency systems registered on one bus, their registration
//!   times, the bus's and the broker's memory and queues, and the throughput among them; see
//!   [`fanout`].
//!
//! The bus runs as its own process on the given config (so its memory and CPU are its own); the
//! load and the simulators run in this one.

mod fanout;
mod lookups;
mod messages;
mod soak;

use std::path::Path;
use std::time::Duration;

use crate::process::BusChild;
use lapin::Connection;
use lapin::options::QueueDeleteOptions;
use lgsp_bus::config::Config;
use lgsp_bus::simulator::free_port;
use lgsp_bus::transport::Names;

/// Whether callers prove who they are and every exchange goes to the message log.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// As the bus runs: tokens checked, rights enforced, the message log kept.
    On,
    /// No authentication and no message log: what they cost, by difference.
    Off,
    /// On, then off, and the cost of trust between them.
    Both,
}

impl Trust {
    /// The runs, trust on first.
    fn runs(self) -> Vec<bool> {
        match self {
            Trust::On => vec![true],
            Trust::Off => vec![false],
            Trust::Both => vec![true, false],
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Messages,
    Lookups,
    Soak,
    Fanout,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value = "messages")]
    pub mode: Mode,
    /// Messages sent through each path.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Dossiers the status changes are spread over (each gets messages/dossiers, in seq order).
    #[arg(long, default_value_t = 2_000)]
    pub dossiers: usize,
    /// Concurrent HTTP requests into the bus.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Unconfirmed publishes in flight in the raw run.
    #[arg(long, default_value_t = 1_000)]
    pub in_flight: usize,
    /// Messages per request in the batched run (`POST /v1/messages/batch`); 0 skips it.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Lookups sent through each path in the lookup mode.
    #[arg(long, default_value_t = 5_000)]
    pub lookups: usize,
    /// Lookups asked at once in the lookup mode (officers at their counters).
    #[arg(long, default_value_t = 4)]
    pub lookup_concurrency: usize,
    /// How long the soak mode runs.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    pub duration: Duration,
    /// Messages per second the soak mode sends.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Authentication and the message log in the message mode: on, off, or both runs.
    #[arg(long, value_enum, default_value = "both")]
    pub trust: Trust,
    /// Agency systems the fan-out mode registers.
    #[arg(long, default_value_t = 200)]
    pub adapters: usize,
    /// The broker's Prometheus endpoint (the `rabbitmq_prometheus` plugin), for its queue count
    /// and memory in the fan-out mode.
    #[arg(long, default_value = "http://127.0.0.1:15692/metrics")]
    pub broker_metrics: String,
    /// Turns each form of the message mode is cut into; with `--trust both` the two buses
    /// alternate, so that the machine's own ups and downs do not decide the comparison.
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
}

pub async fn run(config_path: &Path, config: &Config, args: Args) -> anyhow::Result<()> {
    match args.mode {
        Mode::Messages => messages::run(config_path, config, &args).await,
        Mode::Lookups => lookups::run(config_path, config, &args).await,
        Mode::Soak => soak::run(config_path, config, &args).await,
        Mode::Fanout => fanout::run(config_path, config, &args).await,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` quantile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// A namespace of the bench's own on the broker, removed afterwards.
fn namespace() -> String {
    format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The bus running as its own process, on the config, with a fresh store and namespace.
/// The member the bench sends and asks as: the sandbox's, which may do anything.
const MEMBER: &str = "onestop.sandbox";

struct BusProcess {
    child: BusChild,
    pub base: String,
    pub client: reqwest::Client,
    namespace: String,
    /// Adapters registered over its API, whose queues go with the bench's.
    registered: Vec<String>,
    _dir: tempfile::TempDir,
}

/// What the bus process used.
struct Usage {
    peak_rss_kb: u64,
    cpu_seconds: f64,
    /// The store's writes and commits, as its metrics count them.
    store: String,
}

impl BusProcess {
    /// Starts `lgsp serve` with `env` on top of the bench's own overrides; returns when ready.
    /// Without `trust`, no caller is asked who it is and the message log is off.
    async fn start(
        config_path: &Path,
        config: &Config,
        namespace: &str,
        env: &[(&str, String)],
        concurrency: usize,
        trust: bool,
    ) -> anyhow::Result<BusProcess> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let mut overrides = vec![
            ("LGSP__HTTP__LISTEN".to_string(), format!("127.0.0.1:{port}")),
            ("LGSP__STORE__URL".to_string(), format!("sqlite://{}", dir.path().join("bench.db").display())),
            ("LGSP__AMQP__NAMESPACE".to_string(), namespace.to_string()),
            ("LGSP_LOG".to_string(), std::env::var("LGSP_LOG").unwrap_or_else(|_| "warn".into())),
        ];
        // Secrets of the adapters the bench does not call, which their config still requires:
        // those their simulators would give the sandbox.
        let kinds = crate::adapter_kinds();
        for (id, section) in &config.adapters {
            let Some(simulator) = kinds.iter().find(|k| k.name() == section.kind).and_then(|k| k.simulator()) else {
                continue;
            };
            let mut settings = section.settings.clone();
            for (path, value) in lgsp_bus::config::secret_values(&simulator.sandbox_settings()) {
                if lgsp_bus::config::remove_path(&mut settings, &path).is_none() {
                    overrides.push((lgsp_bus::config::env_var_for(&format!("adapters.{id}.{path}")), value));
                }
            }
        }
        overrides.extend(crate::process::sandbox_auth_env());
        if !trust {
            overrides.push(("LGSP__AUTH__REQUIRED".into(), "false".into()));
            overrides.push(("LGSP__AUDIT__ENABLED".into(), "false".into()));
        }
        overrides.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut child = BusChild::spawn(config_path, &overrides, None)?;
        let base = format!("http://127.0.0.1:{port}");
        child.wait_ready(&reqwest::Client::new(), &base, Duration::from_secs(60)).await?;
        let builder = reqwest::Client::builder().pool_max_idle_per_host(concurrency);
        let client =
            if trust { crate::process::signed_in_client(builder, &base, MEMBER).await? } else { builder.build()? };
        Ok(BusProcess { child, base, client, namespace: namespace.to_string(), registered: Vec::new(), _dir: dir })
    }

    /// Stops it (SIGTERM, drained), removes its queues, and says what it used.
    async fn stop(mut self, config: &Config) -> Usage {
        let peak_rss_kb = self.child.peak_rss_kb().unwrap_or(0);
        let cpu_seconds = self.child.cpu_seconds().unwrap_or(0.0);
        let metrics = match self.client.get(format!("{}/metrics", self.base)).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let metric = |name: &str| {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().last())
                .unwrap_or("?")
                .to_string()
        };
        let store =
            format!("{} writes in {} commits", metric("lgsp_store_writes_total"), metric("lgsp_store_commits_total"));
        if let Err(e) = self.child.terminate(Duration::from_secs(30)).await {
            eprintln!("warning: {e:#}");
        }
        cleanup(config, &self.namespace, &self.registered).await;
        Usage { peak_rss_kb, cpu_seconds, store }
    }
}

/// Removes the bench's queues and exchanges from the broker.
async fn cleanup(config: &Config, namespace: &str, registered: &[String]) {
    let Ok(connection) = Connection::connect(config.amqp.connect_url().as_str(), Default::default()).await else {
        return;
    };
    let Ok(channel) = connection.create_channel().await else { return };
    let names = Names::new(namespace);
    for (id, section) in &config.adapters {
        let mut queues = vec![names.queue(id), names.request_queue(id)];
        queues.extend(section.delivery.retry_tiers.iter().map(|t| names.retry_queue(*t)));
        for queue in queues {
            let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
        }
    }
    for id in registered {
        let _ = channel.queue_delete(names.queue(id).into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [names.exchange(), names.services_exchange(), names.retry_exchange()] {
        let _ = channel.exchange_delete(exchange.into(), Default::default()).await;
    }
    let _ = connection.close(200, "bench done".into()).await;
}
