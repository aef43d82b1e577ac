//! `GET /v1/adapters`: each adapter, what it consumes and answers, and whether its peer's
//! circuit breaker is open. `POST /v1/adapters/{id}/webhook`: a peer calling the bus (a postal
//! shipment moved, say); the adapter checks that the call comes from its peer and submits what
//! it says.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument};
use crate::adapter::WebhookRequest;
use crate::auth::Caller;
use crate::config::Role;
use crate::engine::AdapterRuntime;
use crate::engine::guard::BreakerStatus;
use crate::outbox::Outbox;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(webhook))
}

/// The adapters this bus runs.
#[derive(Serialize, ToSchema)]
pub struct Adapters {
    pub adapters: Vec<AdapterStatus>,
}

/// One adapter: what it takes, how the engine delivers to it, and how its peer is doing.
#[derive(Serialize, ToSchema)]
pub struct AdapterStatus {
    pub id: String,
    /// Routing-key patterns of the messages it consumes.
    pub routes: Vec<String>,
    /// Request/reply services it answers.
    pub services: Vec<String>,
    pub breaker: BreakerStatus,
    pub delivery: DeliveryPolicyView,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPolicyView {
    pub lanes: usize,
    pub max_attempts: u32,
    /// Each retry tier's wait, such as `30s`.
    pub retry_tiers: Vec<String>,
    /// Failure codes dead-lettered at once.
    pub permanent: Vec<String>,
    /// Failure codes retried.
    pub transient: Vec<String>,
}

impl From<&AdapterRuntime> for AdapterStatus {
    fn from(runtime: &AdapterRuntime) -> Self {
        let policy = &runtime.policy;
        AdapterStatus {
            id: runtime.id.clone(),
            routes: runtime.routes.clone(),
            services: runtime.services.clone(),
            breaker: runtime.guard.status(),
            delivery: DeliveryPolicyView {
                lanes: policy.lanes,
                max_attempts: policy.max_attempts,
                retry_tiers: policy.retry_tiers.iter().map(|t| humantime::format_duration(*t).to_string()).collect(),
                permanent: policy.permanent.clone(),
                transient: policy.transient.clone(),
            },
        }
    }
}

/// The adapters, what each consumes and answers, and its peer's circuit breaker.
#[utoipa::path(
    get,
    path = "/v1/adapters",
    tag = "adapters",
    responses((status = 200, description = "Every adapter of this bus", body = Adapters))
)]
async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Adapters>, Problem> {
    caller.need(Role::Viewer)?;
    Ok(Json(Adapters { adapters: app.adapters.values().map(|runtime| AdapterStatus::from(&**runtime)).collect() }))
}

/// A peer calling its adapter (a postal shipment moved, say).
///
/// The adapter checks that the call comes from its peer (a signature, say), submits what it
/// says, and answers as the peer's contract wants, in plain text.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/webhook",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    request_body(content = String, content_type = "application/json", description = "what the peer sends, in its own shape"),
    responses(
        (status = 200, description = "Taken: what it says was accepted", body = String, content_type = "text/plain"),
        (status = 400, description = "Unreadable", body = String, content_type = "text/plain"),
        (status = 401, description = "Not from the peer (a bad or missing signature)", body = String, content_type = "text/plain"),
        (status = 404, description = "No such adapter (a problem), or it takes no webhook (plain text)",
            content((ProblemDocument = "application/problem+json"), (String = "text/plain"))),
        (status = 422, description = "What it says is not valid", body = String, content_type = "text/plain"),
        (status = 503, description = "The bus cannot take it now; send it again", body = String, content_type = "text/plain"),
    )
)]
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
