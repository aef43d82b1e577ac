//! What operators and their tools call: health, readiness, metrics, the OpenAPI document and
//! the schemas.

use std::sync::OnceLock;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument};
use crate::audit::LogHealth;
use crate::auth::Caller;
use crate::config::Role;
use crate::listener::Peer;

/// The API document, once made (the same for every bus of the process: see `http::app`).
pub(super) static DOCUMENT: OnceLock<String> = OnceLock::new();

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .routes(routes!(schemas))
        .routes(routes!(schema))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: &'static str,
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Whether the bus can take messages.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// `up` or `down`.
    pub broker: &'static str,
    /// `up` or `down`.
    pub store: &'static str,
    /// The message log: `ok`, `behind` (entries are being lost: the chain records how many),
    /// `failing` (its writes fail) or `off`. It never makes the bus unready: traffic goes on.
    pub message_log: LogHealth,
}

/// Ready when both the broker and the store answer: a load balancer sends no traffic otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Broker and store answer", body = Readiness),
        (status = 503, description = "The broker or the store does not answer", body = Readiness),
    )
)]
async fn ready(State(app): State<AppState>) -> Response {
    let broker = app.broker.is_connected();
    let store = app.store.ping().await.is_ok();
    let word = |up: bool| if up { "up" } else { "down" };
    let status = if broker && store { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let readiness =
        Readiness { ready: broker && store, broker: word(broker), store: word(store), message_log: app.log.health() };
    (status, Json(readiness)).into_response()
}

/// The metrics, in Prometheus's text format: open to a scraper on loopback, to an operator's
/// token from elsewhere.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Every named event's counter, gauge and histogram", body = String,
            content_type = "text/plain"),
        (status = 401, description = "From beyond loopback, without an operator's token", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 403, description = "From beyond loopback, as a member", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
async fn metrics(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<Peer>>>,
    caller: Result<Caller, Problem>,
) -> Result<Response, Problem> {
    let from_loopback = peer.is_none_or(|Extension(ConnectInfo(peer))| peer.addr.ip().is_loopback());
    if !from_loopback {
        caller?.need(Role::Viewer)?;
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response())
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
async fn openapi() -> Response {
    let document = DOCUMENT.get().map(String::as_str).unwrap_or("{}");
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}

/// The schemas of the canonical model.
#[derive(Serialize, ToSchema)]
pub struct Schemas {
    /// Every schema file, such as `dossier.submitted.json`.
    pub schemas: Vec<String>,
    pub message_types: Vec<String>,
}

/// The schemas every message and service request is checked against.
#[utoipa::path(get, path = "/v1/schemas", tag = "operations", responses((status = 200, body = Schemas)))]
async fn schemas(State(app): State<AppState>) -> Json<Schemas> {
    Json(Schemas {
        schemas: app.catalogue.documents().map(|(name, _)| name.to_string()).collect(),
        message_types: app.catalogue.message_types().map(String::from).collect(),
    })
}

/// One schema (JSON Schema 2020-12).
#[utoipa::path(
    get,
    path = "/v1/schemas/{name}",
    tag = "operations",
    params(("name" = String, Path, description = "a file name from /v1/schemas, such as dossier.submitted.json")),
    responses(
        (status = 200, description = "The schema", body = Object),
        (status = 404, description = "No such schema", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn schema(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    match app.catalogue.document(&name) {
        Some(doc) => Json::<Value>(doc.clone()).into_response(),
        None => Problem::not_found(format!("`{name}` is not in /v1/schemas")).into_response(),
    }
}
