//! Starting and stopping a whole bus: store, broker, engine, HTTP, and in sandbox mode the
//! peers' simulators.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::adapter::AdapterKind;
use crate::audit::{AuditError, MessageLog};
use crate::auth::grants::unknown_in_members;
use crate::auth::keys::{KeyError, SigningKey};
use crate::auth::{Auth, Directory, Tokens};
use crate::competence::Routes;
use crate::config::{AuthConfig, Config, ConfigProblem};
use crate::fleet::Fleet;
use crate::http::AppState;
use crate::ingress::Ingress;
use crate::listener::{self, Listener, Peer, TlsSetupError};
use crate::memory::Remember;
use crate::registrar::{Builder, Registrar};
use crate::roster::Adapters;
use crate::schema::{Catalogue, SchemaError};
use crate::simulator::SimulatorError;
use crate::store::{Store, StoreError};
use crate::transport::Broker;
use crate::{events, registry};

/// Why a bus did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid config:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Config(Vec<ConfigProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Schemas(#[from] SchemaError),
    #[error("adapter {adapter}: its simulator: {source}")]
    Simulator { adapter: String, source: SimulatorError },
    #[error("cannot listen on {addr} (http.listen): {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("http.listen is {0}, beyond loopback, without {1}: {2}")]
    Insecure(SocketAddr, &'static str, &'static str),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("{0}: {1}")]
    Key(&'static str, KeyError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A bus that is running.
pub struct RunningBus {
    /// Where the HTTP API listens (the real port when the config said `:0`).
    pub http_addr: SocketAddr,
    /// `http://…` or `https://…`.
    pub base_url: String,
    pub store: Store,
    pub broker: Broker,
    /// The competence tables, when `[routing]` has them.
    pub routes: Option<Routes>,
    pub log: MessageLog,
    /// The adapters, changed while the bus runs.
    pub fleet: Arc<Fleet>,
    http: JoinHandle<()>,
    supervisor: JoinHandle<()>,
    stop_http: CancellationToken,
    stop_consumers: CancellationToken,
    stop_broker: CancellationToken,
    drain_timeout: Duration,
}

/// Longest a stopping bus waits for the message log's last write and seal.
const LOG_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a bus on `config`. It starts even when the broker is down (and says so on /readyz):
/// it connects as soon as the broker is there.
pub async fn start(config: Config, kinds: &[Arc<dyn AdapterKind>], sandbox: bool) -> Result<RunningBus, StartError> {
    secure_enough(&config, sandbox)?;
    let store = Store::open(&config.store.sqlite_path().map_err(|problem| StartError::Config(vec![problem]))?)?;
    let log = MessageLog::open(&config.audit, &config.store)?;
    log.recover(&store).await;
    let catalogue = Arc::new(Catalogue::embedded()?);
    let auth = Arc::new(Auth {
        required: config.auth.required,
        tokens: Tokens::new(&token_key(&config.auth)?, config.auth.token_ttl),
        directory: Directory::open(
            store.clone(),
            &config.members,
            &config.operators,
            sandbox || config.auth.sandbox_secrets,
        )
        .await?,
        secret_checks: tokio::sync::Semaphore::new(crate::auth::SECRET_CHECKS),
    });
    let memory: Arc<dyn Remember> = Arc::new(store.clone());
    let mut built = registry::build(&config, kinds, sandbox, Some(memory.clone())).map_err(StartError::Config)?;
    let builder = Builder { kinds: kinds.to_vec(), catalogue: catalogue.clone(), memory, sandbox };
    let configured: BTreeSet<String> = config.adapters.keys().cloned().collect();
    // Registered adapters join those of the config, unless the config took their id since.
    built.extend(
        Registrar::restore(&builder, &store).await?.into_iter().filter(|b| !configured.contains(&b.runtime.id)),
    );
    let agency_services: Vec<String> = built.iter().flat_map(|b| b.runtime.services.iter().cloned()).collect();
    let unknown = unknown_in_members(&config.members, &catalogue, &agency_services);
    if !unknown.is_empty() {
        return Err(StartError::Config(unknown));
    }
    for (runtime, (simulator, settings)) in built.iter().filter_map(|b| Some((&b.runtime, b.sandbox.as_ref()?))) {
        let addr = simulator
            .serve(settings)
            .await
            .map_err(|source| StartError::Simulator { adapter: runtime.id.clone(), source })?;
        events::simulator_serving(&runtime.id, addr);
    }

    let stop_http = CancellationToken::new();
    let stop_consumers = CancellationToken::new();
    let stop_broker = CancellationToken::new();
    // Every configured adapter is on the roster before the broker connects: the first
    // connection declares them all.
    let adapters = Adapters::of(built.into_iter().map(|b| b.runtime));
    let topology = {
        let adapters = adapters.clone();
        Arc::new(move || adapters.current().subscriptions())
    };
    let (broker, supervisor) = Broker::start(config.amqp.clone(), topology, stop_broker.clone());
    let routes = config.competence.clone().map(Routes::new);
    if let (Some(routes), Some(units), Some(rules)) = (&routes, &config.routing.units, &config.routing.rules) {
        routes.watch(units.clone(), rules.clone(), config.routing.reload_every, stop_broker.clone());
    }
    let ingress = Arc::new(
        Ingress::new(
            catalogue.clone(),
            broker.clone(),
            store.clone(),
            adapters.clone(),
            config.bus.province_code.clone(),
            Arc::new(config.procedures.clone()),
            routes.clone(),
        )
        .logging_to(log.clone()),
    );
    if let Some(day) = config.bus.send_monthly_report_on {
        crate::monitoring::upward::schedule(ingress.clone(), day, stop_broker.clone());
    }
    let fleet = Arc::new(Fleet::start(
        adapters.clone(),
        broker.clone(),
        store.clone(),
        ingress.clone(),
        stop_consumers.clone(),
    ));

    let registrar = Arc::new(Registrar::new(builder, store.clone(), fleet.clone(), log.clone(), configured));
    let state = AppState {
        registrar,
        ingress: ingress.clone(),
        catalogue,
        broker: broker.clone(),
        store: store.clone(),
        auth,
        log: log.clone(),
        metrics: metrics(),
        max_batch_messages: config.http.max_batch_messages,
        fleet: fleet.clone(),
    };
    let addr = config.http.listen;
    let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
    let http_addr = tcp.local_addr().map_err(|source| StartError::Listen { addr, source })?;
    let listener = match &config.http.tls {
        Some(tls) => Listener::tls(tcp, listener::server_config(tls)?),
        None => Listener::plain(tcp),
    };
    let scheme = listener.scheme();
    let app = crate::http::app(state, &config.http).into_make_service_with_connect_info::<Peer>();
    let stop = stop_http.clone();
    let http = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        if let Err(e) = served {
            events::http_server_stopped(&e);
        }
    });
    events::bus_up(http_addr, adapters.current().len());
    Ok(RunningBus {
        http_addr,
        base_url: format!("{scheme}://{http_addr}"),
        store,
        broker,
        routes,
        log,
        http,
        fleet,
        supervisor,
        stop_http,
        stop_consumers,
        stop_broker,
        drain_timeout: config.bus.drain_timeout,
    })
}

impl RunningBus {
    /// Drains and stops: no new requests; in-flight requests finish; consumers finish the batch
    /// in hand and leave the rest to the broker; then the connections close. Bounded by
    /// `bus.drain_timeout`.
    pub async fn shutdown(mut self) {
        events::stopping();
        let drain = async {
            self.stop_http.cancel();
            let _ = (&mut self.http).await;
            self.stop_consumers.cancel();
            self.fleet.join().await;
        };
        if tokio::time::timeout(self.drain_timeout, drain).await.is_err() {
            events::drain_timed_out(self.drain_timeout);
        }
        self.stop_broker.cancel();
        let _ = self.supervisor.await;
        // The log's last write and seal; a log that cannot write does not hold the stop.
        if tokio::time::timeout(LOG_CLOSE_TIMEOUT, self.log.close()).await.is_err() {
            events::audit_close_timed_out(LOG_CLOSE_TIMEOUT);
        }
        events::stopped();
    }

    /// Runs until SIGINT or SIGTERM, then drains.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        self.shutdown().await;
    }
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A bus reachable beyond loopback must prove who it is (TLS) and ask callers to (auth), with
/// secrets of its own: the sandbox's are known to everyone.
fn secure_enough(config: &Config, sandbox: bool) -> Result<(), StartError> {
    let listen = config.http.listen;
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if config.http.tls.is_none() {
        return Err(StartError::Insecure(listen, "TLS", "set [http.tls] cert and key"));
    }
    if !config.auth.required {
        return Err(StartError::Insecure(listen, "authentication", "set [auth] required = true"));
    }
    if sandbox || config.auth.sandbox_secrets {
        return Err(StartError::Insecure(
            listen,
            "secrets of its own",
            "serve without --sandbox and with auth.sandbox_secrets = false (both give everyone the secret `sandbox`)",
        ));
    }
    Ok(())
}

/// The key tokens are signed with: the environment's, the file's, or one made now.
fn token_key(auth: &AuthConfig) -> Result<SigningKey, StartError> {
    let key = match (&auth.signing_key, &auth.signing_key_file) {
        (Some(pem), _) => SigningKey::from_pem(pem.expose()).map_err(|e| StartError::Key("auth.signing_key", e))?,
        (None, Some(file)) => SigningKey::from_file(file).map_err(|e| StartError::Key("auth.signing_key_file", e))?,
        (None, None) => {
            events::token_key_made();
            SigningKey::generate()
        }
    };
    Ok(key)
}

/// The process-wide Prometheus recorder (one per process, shared by every bus in it).
fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets =
                [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .expect("valid buckets")
                .install_recorder()
                .expect("one Prometheus recorder per process");
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!("[http]\nlisten = \"0.0.0.0:8443\"\n{extra}");
        Config::from_toml(&text, Vec::new()).unwrap()
    }

    const TLS: &str = "[http.tls]\ncert = \"/etc/lgsp/bus.pem\"\nkey = \"/etc/lgsp/bus.key\"\n";

    #[test]
    fn beyond_loopback_a_bus_needs_tls_authentication_and_secrets_of_its_own() {
        let refusal = |config: &Config, sandbox: bool| secure_enough(config, sandbox).unwrap_err().to_string();
        assert!(refusal(&config(""), false).contains("without TLS"), "{}", refusal(&config(""), false));
        let open = config(&format!("{TLS}[auth]\nrequired = false"));
        assert!(refusal(&open, false).contains("without authentication"));
        assert!(refusal(&config(TLS), true).contains("secrets of its own"));
        let shared = config(&format!("{TLS}[auth]\nsandbox_secrets = true"));
        assert!(refusal(&shared, false).contains("secrets of its own"));
        secure_enough(&config(TLS), false).unwrap();
        let loopback = Config::from_toml("[http]\nlisten = \"127.0.0.1:8080\"", Vec::new()).unwrap();
        secure_enough(&loopback, true).unwrap();
    }
}
