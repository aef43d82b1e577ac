//! The HTTP API for members and operators (the OpenAPI document at `/v1/openapi.json` lists it).

pub(crate) mod adapters;
pub(crate) mod audit;
mod auth;
pub(crate) mod dead_letters;
pub(crate) mod dossier_reports;
mod dossiers;
pub mod evidence;
pub(crate) mod exports;
pub(crate) mod members;
pub(crate) mod messages;
pub mod openapi;
mod operations;
pub mod problem;
pub(crate) mod reports;
mod request;
pub(crate) mod routing;
mod services;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::audit::MessageLog;
use crate::auth::Auth;
use crate::config::HttpConfig;
use crate::fleet::Fleet;
use crate::ingress::Ingress;
use crate::schema::Catalogue;
use crate::store::Store;
use crate::transport::Broker;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// How messages are accepted (members' and adapters' alike).
    pub ingress: Arc<Ingress>,
    pub catalogue: Arc<Catalogue>,
    pub broker: Broker,
    pub store: Store,
    /// Who callers are and what they may do.
    pub auth: Arc<Auth>,
    /// The signed record of every exchange.
    pub log: MessageLog,
    pub metrics: PrometheusHandle,
    /// Most messages in one batch request.
    pub max_batch_messages: usize,
    /// Adapters registered over the API.
    pub registrar: Arc<crate::registrar::Registrar>,
    /// The adapters, changed while the bus runs: their webhooks, the services they answer, and
    /// how they are doing.
    pub fleet: Arc<Fleet>,
}

/// The whole API; tests can call it without a socket.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    let (router, document) = routes(http).split_for_parts();
    // The document depends only on the routes and the embedded schemas: the same for every bus.
    operations::DOCUMENT.get_or_init(|| openapi::document(document, &state.catalogue).to_string());
    let console = crate::console::router(state.clone(), http.tls.is_some());
    router
        .with_state(state.clone())
        .merge(console)
        .layer(DefaultBodyLimit::max(http.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state, evidence::record_refusals))
}

/// Whose `secret` it is: a member's or an operator's, checked one or two at a time off the
/// async threads (argon2 is slow on purpose); `None` for no such client or the wrong secret.
pub(crate) async fn check_secret(
    app: &AppState,
    client_id: &str,
    secret: String,
) -> Option<crate::auth::PrincipalKind> {
    let _turn = app.auth.secret_checks.acquire().await.expect("the semaphore is never closed");
    let (auth, client_id) = (app.auth.clone(), client_id.to_string());
    tokio::task::spawn_blocking(move || auth.directory.check_secret(&client_id, &secret)).await.ok().flatten()
}

/// The API document, as `GET /v1/openapi.json` serves it.
pub fn document(catalogue: &Catalogue) -> serde_json::Value {
    let (_, document) = routes(&HttpConfig::default()).split_for_parts();
    openapi::document(document, catalogue)
}

fn routes(http: &HttpConfig) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(messages::router(http))
        .merge(dossiers::router())
        .merge(members::router())
        .merge(services::router())
        .merge(reports::router())
        .merge(dossier_reports::router())
        .merge(audit::router())
        .merge(adapters::router())
        .merge(routing::router())
        .merge(operations::router())
        .merge(dead_letters::router())
}
