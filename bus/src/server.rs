//! Starting and stopping a whole bus: store, broker, engine, HTTP, and in sandbox mode the
//! peers' simulators.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::adapter::AdapterKind;
use crate::competence::Routes;
use crate::config::{Config, ConfigProblem};
use crate::http::AppState;
use crate::ingress::Ingress;
use crate::schema::{Catalogue, SchemaError};
use crate::simulator::SimulatorError;
use crate::store::{Store, StoreError};
use crate::transport::{Broker, Subscription};
use crate::{engine, events, registry};

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
}

/// A bus that is running.
pub struct RunningBus {
    /// Where the HTTP API listens (the real port when the config said `:0`).
    pub http_addr: SocketAddr,
    pub store: Store,
    pub broker: Broker,
    /// The competence tables, when `[routing]` has them.
    pub routes: Option<Routes>,
    http: JoinHandle<()>,
    engine: JoinSet<()>,
    supervisor: JoinHandle<()>,
    stop_http: CancellationToken,
    stop_consumers: CancellationToken,
    stop_broker: CancellationToken,
    drain_timeout: Duration,
}

/// Starts a bus on `config`. It starts even when the broker is down (and says so on /readyz):
/// it connects as soon as the broker is there.
pub async fn start(config: Config, kinds: &[Arc<dyn AdapterKind>], sandbox: bool) -> Result<RunningBus, StartError> {
    let store = Store::open(&config.store.sqlite_path().map_err(|problem| StartError::Config(vec![problem]))?)?;
    let built = registry::build(&config, kinds, sandbox, Some(Arc::new(store.clone()))).map_err(StartError::Config)?;
    for (runtime, (simulator, settings)) in built.iter().filter_map(|b| Some((&b.runtime, b.sandbox.as_ref()?))) {
        let addr = simulator
            .serve(settings)
            .await
            .map_err(|source| StartError::Simulator { adapter: runtime.id.clone(), source })?;
        events::simulator_serving(&runtime.id, addr);
    }
    let catalogue = Arc::new(Catalogue::embedded()?);

    let stop_http = CancellationToken::new();
    let stop_consumers = CancellationToken::new();
    let stop_broker = CancellationToken::new();
    let adapters: Vec<_> = built.into_iter().map(|b| b.runtime).collect();
    let subscriptions = adapters
        .iter()
        .map(|a| Subscription {
            adapter: a.id.clone(),
            routes: a.routes.clone(),
            retry_tiers: a.policy.retry_tiers.clone(),
            services: a.services.clone(),
        })
        .collect();
    let (broker, supervisor) = Broker::start(config.amqp.clone(), subscriptions, stop_broker.clone());
    let routes = config.competence.clone().map(Routes::new);
    if let (Some(routes), Some(units), Some(rules)) = (&routes, &config.routing.units, &config.routing.rules) {
        routes.watch(units.clone(), rules.clone(), config.routing.reload_every, stop_broker.clone());
    }
    let members = Arc::new(config.members.clone());
    let ingress = Arc::new(Ingress::new(
        catalogue.clone(),
        broker.clone(),
        store.clone(),
        members.clone(),
        adapters.iter().map(|a| (a.id.clone(), a.routes.clone())).collect(),
        config.bus.province_code.clone(),
        Arc::new(config.procedures.clone()),
        routes.clone(),
    ));
    let engine = engine::spawn(&adapters, &broker, &store, &ingress, &stop_consumers);

    let state = AppState {
        ingress: ingress.clone(),
        catalogue,
        broker: broker.clone(),
        store: store.clone(),
        members,
        metrics: metrics(),
        max_batch_messages: config.http.max_batch_messages,
        services: Arc::new(
            adapters
                .iter()
                .flat_map(|a| a.services.iter().map(|service| (service.clone(), a.requests.timeout)))
                .collect(),
        ),
        adapters: Arc::new(adapters.iter().map(|a| (a.id.clone(), a.clone())).collect()),
    };
    let addr = config.http.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
    let http_addr = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
    let app = crate::http::app(state, &config.http);
    let stop = stop_http.clone();
    let http = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        if let Err(e) = served {
            events::http_server_stopped(&e);
        }
    });
    events::bus_up(http_addr, adapters.len());
    Ok(RunningBus {
        http_addr,
        store,
        broker,
        routes,
        http,
        engine,
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
            while self.engine.join_next().await.is_some() {}
        };
        if tokio::time::timeout(self.drain_timeout, drain).await.is_err() {
            events::drain_timed_out(self.drain_timeout);
        }
        self.stop_broker.cancel();
        let _ = self.supervisor.await;
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
