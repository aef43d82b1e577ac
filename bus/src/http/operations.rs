//! What operators and their tools call: health, readiness, metrics, the OpenAPI document and
//! the schemas.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use super::problem::Problem;

static OPENAPI: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/v1/schemas", get(schemas))
        .route("/v1/schemas/{name}", get(schema))
}

/// Ready when both the broker and the store answer: a load balancer sends no traffic otherwise.
async fn ready(State(app): State<AppState>) -> Response {
    let broker = app.broker.is_connected();
    let store = app.store.ping().await.is_ok();
    let word = |up: bool| if up { "up" } else { "down" };
    let status = if broker && store { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"ready": broker && store, "broker": word(broker), "store": word(store)}))).into_response()
}

async fn metrics(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

async fn schemas(State(app): State<AppState>) -> Response {
    let names: Vec<&str> = app.catalogue.documents().map(|(name, _)| name).collect();
    Json(json!({"schemas": names, "message_types": app.catalogue.message_types().collect::<Vec<_>>()})).into_response()
}

async fn schema(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    match app.catalogue.document(&name) {
        Some(doc) => Json(doc.clone()).into_response(),
        None => Problem::not_found(format!("`{name}` is not in /v1/schemas")).into_response(),
    }
}

/// Unix milliseconds as RFC 3339 (UTC), the way the API shows times.
pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
