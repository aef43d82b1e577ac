//! The HTTP API for members and operators (the OpenAPI document at `/v1/openapi.json` lists it).

mod dossiers;
mod messages;
mod operations;
pub mod problem;
mod reports;
mod services;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::{HttpConfig, MemberConfig};
use crate::procedures::Procedures;
use crate::schema::Catalogue;
use crate::store::Store;
use crate::transport::Broker;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub catalogue: Arc<Catalogue>,
    pub broker: Broker,
    pub store: Store,
    pub members: Arc<BTreeMap<String, MemberConfig>>,
    /// (adapter, routing-key patterns): who receives what.
    pub subscriptions: Arc<Vec<(String, Vec<String>)>>,
    /// The routing suffix of every message (the province code).
    pub routing_suffix: String,
    pub metrics: PrometheusHandle,
    /// Submissions of one id are handled one at a time (striped, so different ids rarely wait).
    pub id_locks: Arc<Vec<tokio::sync::Mutex<()>>>,
    /// Most messages in one batch request.
    pub max_batch_messages: usize,
    /// The procedure catalogue (the papers each procedure needs).
    pub procedures: Arc<Procedures>,
    /// Request/reply services adapters answer, with how long a caller waits.
    pub services: Arc<BTreeMap<String, Duration>>,
}

impl AppState {
    /// Stripes for [`AppState::id_locks`]: enough that concurrent submissions seldom share one.
    pub const ID_LOCK_STRIPES: usize = 4096;
}

/// The whole API; tests can call it without a socket.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    Router::new()
        .merge(messages::router(http))
        .merge(dossiers::router())
        .merge(services::router())
        .merge(reports::router())
        .merge(operations::router())
        .layer(DefaultBodyLimit::max(http.max_body_bytes))
        .with_state(state)
}
