//! `GET /v1/adapters`: each adapter, what it consumes and answers, and whether its peer's
//! circuit breaker is open. `POST /v1/adapters/{id}/webhook`: a peer calling the bus (a postal
//! shipment moved, say); the adapter checks that the call comes from its peer and submits what
//! it says.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::AppState;
use super::problem::Problem;
use crate::adapter::WebhookRequest;
use crate::outbox::Outbox;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/adapters", get(list)).route("/v1/adapters/{id}/webhook", post(webhook))
}

async fn list(State(app): State<AppState>) -> Json<Value> {
    let adapters: Vec<Value> = app
        .adapters
        .values()
        .map(|runtime| {
            let policy = &runtime.policy;
            json!({
                "id": runtime.id,
                "routes": runtime.routes,
                "services": runtime.services,
                "breaker": runtime.guard.status(),
                "delivery": {
                    "lanes": policy.lanes,
                    "max_attempts": policy.max_attempts,
                    "retry_tiers": policy.retry_tiers.iter().map(|t| humantime::format_duration(*t).to_string()).collect::<Vec<_>>(),
                    "permanent": policy.permanent,
                    "transient": policy.transient,
                },
            })
        })
        .collect();
    Json(json!({ "adapters": adapters }))
}

async fn webhook(State(app): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(adapter) = app.adapters.get(&id) else {
        return Problem::not_found(format!("`{id}` is not an adapter of this bus")).into_response();
    };
    let headers = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let outbox = Outbox::new(&id, app.ingress.clone());
    let answer = adapter.adapter.webhook(WebhookRequest { headers, body }, &outbox).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, answer.body).into_response()
}
