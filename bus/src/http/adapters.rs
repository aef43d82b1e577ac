//! `GET /v1/adapters[/{id}]`: each adapter, where it stands, what it consumes and answers, and
//! whether its peer's circuit breaker is open; `POST /v1/adapters` (an agency for its own
//! systems, or an admin), `PUT /v1/adapters/{id}`, `.../approve` and `.../reject` (admins),
//! `POST /v1/adapters/{id}/pause` and `.../resume` (operators), `DELETE /v1/adapters/{id}`
//! (admins, or a registration's owner), all taking effect at once on the running bus;
//! `POST /v1/adapters/{id}/test`: a test message through the adapter's whole path.
//! `POST /v1/adapters/{id}/webhook`: a peer calling the bus (a postal shipment moved, say); the
//! adapter checks that the call comes from its peer and submits what it says.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::{ApiJson, OptionalJson};
use crate::adapter::WebhookRequest;
use crate::auth::Caller;
use crate::config::Role;
use crate::engine::AdapterRuntime;
use crate::engine::activity::{ActivityView, TestOutcome};
use crate::engine::guard::BreakerStatus;
use crate::engine::trial::{self, TestRequest, TrialError};
use crate::fleet::FleetError;
use crate::outbox::Outbox;
use crate::registrar::{Refusal, without_secrets};
use crate::roster::{Phase, Roster};
use crate::schema::Violation;
use crate::store::{Registration, RegistrationState};
use crate::transport::QueueDepth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(show, update, remove))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(test))
        .routes(routes!(webhook))
}

/// The adapters this bus runs, and those registered over the API (running or not).
#[derive(Serialize, ToSchema)]
pub struct Adapters {
    pub adapters: Vec<AdapterStatus>,
    pub registrations: Vec<RegistrationView>,
}

/// An adapter registered over the API.
#[derive(Serialize, ToSchema)]
pub struct RegistrationView {
    pub id: String,
    /// `pending` (a member's, waiting for an admin), `approved` (running on the bus) or
    /// `rejected` (with `reason`).
    pub state: RegistrationState,
    /// The member or operator who registered it.
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The registration as sent, its secrets shown as `********`.
    #[schema(value_type = Object)]
    pub registration: Value,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
}

impl RegistrationView {
    fn of(registration: Registration) -> Self {
        RegistrationView {
            id: registration.id,
            state: registration.state,
            owner: registration.owner,
            reason: registration.reason,
            registration: without_secrets(&registration.body),
            created_at: registration.created_at,
            updated_at: registration.updated_at,
        }
    }
}

/// Why an admin rejects a registration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectionReason {
    /// Read by the agency's IT officer: what to change before registering again.
    pub reason: String,
}

/// One adapter: what it takes, how the engine delivers to it, and how its peer is doing.
#[derive(Serialize, ToSchema)]
pub struct AdapterStatus {
    pub id: String,
    /// `running`, `paused` (its messages wait in its queue), `adding` or `removing` (what is
    /// left for it being archived as its dead letters).
    pub state: Phase,
    /// Routing-key patterns of the messages it consumes.
    pub routes: Vec<String>,
    /// Request/reply services it answers.
    pub services: Vec<String>,
    pub breaker: BreakerStatus,
    pub delivery: DeliveryPolicyView,
    /// Its queue as the broker counts it; absent when it has none (it only answers services)
    /// or the broker cannot be asked now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueDepth>,
    /// Its deliveries since the bus started, over the last minute, and its last failure.
    pub activity: ActivityView,
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

impl AdapterStatus {
    fn of(runtime: &AdapterRuntime, state: Phase, activity: ActivityView, queue: Option<QueueDepth>) -> Self {
        let policy = &runtime.policy;
        AdapterStatus {
            queue,
            activity,
            id: runtime.id.clone(),
            state,
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
    let roster = app.fleet.adapters().current();
    let queued: Vec<&str> = roster.adapters().filter(|r| !r.routes.is_empty()).map(|r| r.id.as_str()).collect();
    let mut depths = queue_depths(&app, &queued).await;
    let adapters = roster.adapters().filter_map(|r| status_of(&roster, &r.id, depths.remove(&r.id))).collect();
    let registrations = app.registrar.list().await?.into_iter().map(RegistrationView::of).collect();
    Ok(Json(Adapters { adapters, registrations }))
}

/// The adapters' queue depths; none when the broker cannot be asked (the rest still shows).
async fn queue_depths(app: &AppState, ids: &[&str]) -> HashMap<String, QueueDepth> {
    app.broker.queue_depths(ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "queue depths not read from the broker");
        HashMap::new()
    })
}

fn status_of(roster: &Roster, id: &str, queue: Option<QueueDepth>) -> Option<AdapterStatus> {
    let (runtime, phase, activity) = (roster.get(id)?, roster.phase(id)?, roster.activity(id)?);
    Some(AdapterStatus::of(runtime, phase, activity.view(), queue))
}

/// Registers an adapter: an agency's member for its own agencies, for the types it may receive
/// and the services it may offer (it waits as `pending` until an admin approves it); an admin
/// for anyone (it runs at once). The body is an `[adapters.<id>]` table as JSON, with its `id`.
#[utoipa::path(
    post,
    path = "/v1/adapters",
    tag = "adapters",
    request_body(content = Object, content_type = "application/json",
        description = "{\"id\": \"land_hatinh\", \"kind\": \"http\", \"url\": …, \"subscriptions\": [{\"types\": […], \"agencies\": […]}], …}"),
    responses(
        (status = 201, description = "Registered: `approved` and running, or `pending`", body = RegistrationView),
        (status = 403, description = "The member may not receive these types of these agencies, or offer these services (`missing_right` names it)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "An adapter of that id exists", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The registration cannot run: every problem named; nothing changed", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store is unreachable; nothing changed", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn register(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<RegistrationView>), Problem> {
    let registration = app.registrar.register(&caller, body).await.map_err(refused)?;
    Ok((StatusCode::CREATED, Json(RegistrationView::of(registration))))
}

/// Changes a registered adapter live: its subscriptions, policy, limits, mapping or peer. A
/// running one keeps running (its queue kept); a pending or rejected one waits for an admin again.
#[utoipa::path(
    put,
    path = "/v1/adapters/{id}",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    request_body(content = Object, content_type = "application/json", description = "the whole registration, as for POST /v1/adapters"),
    responses(
        (status = 200, description = "Changed", body = RegistrationView),
        (status = 403, description = "Not its owner or an admin, or a right is missing (`missing_right` names it)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such registration", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Configured in the file, or being removed", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The registration cannot run: every problem named; nothing changed", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store is unreachable", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<RegistrationView>, Problem> {
    let registration = app.registrar.update(&caller, &id, body).await.map_err(refused)?;
    Ok(Json(RegistrationView::of(registration)))
}

/// Approves a member's pending registration: its adapter runs now.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/approve",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    responses(
        (status = 200, description = "Approved and running", body = RegistrationView),
        (status = 404, description = "No such registration", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "It no longer builds (its service is answered elsewhere now, say)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store is unreachable", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn approve(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RegistrationView>, Problem> {
    approve_registration(&app, &caller, &id).await.map(Json)
}

/// Rejects a member's pending registration, saying why; its owner may register it again.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/reject",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    request_body = RejectionReason,
    responses(
        (status = 200, description = "Rejected", body = RegistrationView),
        (status = 404, description = "No such registration", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<RejectionReason>, Problem>,
) -> Result<Json<RegistrationView>, Problem> {
    // Who may, before what they sent.
    caller.need(Role::Admin)?;
    let ApiJson(body) = body?;
    reject_registration(&app, &caller, &id, &body.reason).await.map(Json)
}

/// Rejects a pending registration for an admin, with a reason: the API's and the console's.
pub(crate) async fn reject_registration(
    app: &AppState,
    caller: &Caller,
    id: &str,
    reason: &str,
) -> Result<RegistrationView, Problem> {
    caller.need(Role::Admin)?;
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        let why = Violation::new("/reason", "say what the agency must change before registering again");
        return Err(Problem::new(ProblemKind::InvalidBody).violations(vec![why]));
    }
    let registration = app.registrar.reject(caller, id, reason).await.map_err(refused)?;
    Ok(RegistrationView::of(registration))
}

/// Approves a pending registration for an admin: the API's and the console's.
pub(crate) async fn approve_registration(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<RegistrationView, Problem> {
    app.registrar.approve(caller, id).await.map(RegistrationView::of).map_err(refused)
}

/// A refused registration as a problem.
pub(crate) fn refused(refusal: Refusal) -> Problem {
    match refusal {
        Refusal::Invalid(problems) => {
            let violations = problems.iter().map(|p| Violation::new(p.pointer(), p.reason.clone())).collect();
            let count = problems.len();
            Problem::new(ProblemKind::InvalidAdapter)
                .detail(format!("{count} problem{}; nothing changed", if count == 1 { "" } else { "s" }))
                .violations(violations)
        }
        Refusal::Denied(denied) => denied.into(),
        Refusal::NotFound(id) => Problem::not_found(format!("`{id}` is not a registered adapter of this bus")),
        Refusal::Exists(why) => Problem::new(ProblemKind::AdapterExists).detail(why),
        Refusal::State(why) => Problem::new(ProblemKind::AdapterState).detail(why),
        Refusal::Fleet(FleetError::Broker(why)) => Problem::unavailable(why),
        Refusal::Fleet(e) => Problem::new(ProblemKind::AdapterState).detail(e.to_string()),
        Refusal::Store(e) => e.into(),
    }
}

/// One adapter: where it stands, what it consumes and answers, its peer's circuit breaker.
#[utoipa::path(
    get,
    path = "/v1/adapters/{id}",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    responses(
        (status = 200, body = AdapterStatus),
        (status = 404, description = "No such adapter", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdapterStatus>, Problem> {
    caller.need(Role::Viewer)?;
    let queue = queue_depths(&app, &[id.as_str()]).await.remove(&id);
    status_of(&app.fleet.adapters().current(), &id, queue).map(Json).ok_or_else(|| no_such(&id))
}

/// The adapter as it stands now, without asking the broker (after a change).
fn status(app: &AppState, id: &str) -> Result<AdapterStatus, Problem> {
    status_of(&app.fleet.adapters().current(), id, None).ok_or_else(|| no_such(id))
}

fn no_such(id: &str) -> Problem {
    Problem::not_found(format!("`{id}` is not an adapter of this bus"))
}

/// Stops consuming the adapter's messages at once; they keep arriving and wait in its queue.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/pause",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    responses(
        (status = 200, description = "Paused", body = AdapterStatus),
        (status = 404, description = "No such adapter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not running", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn pause(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdapterStatus>, Problem> {
    pause_adapter(&app, &caller, &id).await.map(Json)
}

/// Pauses an adapter for an operator: the API's and the console's.
pub(crate) async fn pause_adapter(app: &AppState, caller: &Caller, id: &str) -> Result<AdapterStatus, Problem> {
    caller.need(Role::Operator)?;
    let outcome = app.fleet.pause(id).await;
    act(app, caller, "adapters.pause", id, outcome)
}

/// Consumes a paused adapter's messages again, those that waited first.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/resume",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    responses(
        (status = 200, description = "Running", body = AdapterStatus),
        (status = 404, description = "No such adapter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not paused", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn resume(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdapterStatus>, Problem> {
    resume_adapter(&app, &caller, &id).await.map(Json)
}

/// Resumes an adapter for an operator: the API's and the console's.
pub(crate) async fn resume_adapter(app: &AppState, caller: &Caller, id: &str) -> Result<AdapterStatus, Problem> {
    caller.need(Role::Operator)?;
    let outcome = app.fleet.resume(id).await;
    act(app, caller, "adapters.resume", id, outcome)
}

/// Removes the adapter from the running bus: nothing more is routed to it, its consumers stop,
/// and what is left for it (queued, or coming back from a retry tier) becomes its dead letters,
/// to be replayed elsewhere; then its queues are deleted. Answers once nothing more reaches it,
/// with its state `removing`; it leaves `GET /v1/adapters` when the rest is archived.
#[utoipa::path(
    delete,
    path = "/v1/adapters/{id}",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    responses(
        (status = 202, description = "Removing: no longer routed to or consumed", body = AdapterStatus),
        (status = 204, description = "A registration that never ran (pending or rejected), removed"),
        (status = 403, description = "Not an admin, nor the registration's owner", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such adapter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Being added or removed already", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker is unreachable; nothing changed", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn remove(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    // A registration's owner may remove it too; the registrar checks who may.
    if app.registrar.remove(&caller, &id).await.map_err(refused)?.is_some() {
        return Ok(match status(&app, &id) {
            Ok(removing) => (StatusCode::ACCEPTED, Json(removing)).into_response(),
            // It never ran (pending or rejected): nothing is left of it.
            Err(_) => StatusCode::NO_CONTENT.into_response(),
        });
    }
    caller.need(Role::Admin)?;
    let outcome = app.fleet.remove(&id, caller.name()).await;
    let status = act(&app, &caller, "adapters.remove", &id, outcome)?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

/// What became of the test message.
#[derive(Serialize, ToSchema)]
pub struct TestAnswer {
    pub message_id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    #[serde(flatten)]
    pub outcome: TestOutcome,
    /// From publishing it to its outcome.
    pub took_ms: u64,
}

/// Sends a test message through the whole path to the adapter's peer (its queue, its engine,
/// its mapping, authentication and delivery policy) and answers what the peer said. It is
/// tried once: never retried, dead-lettered or sent to any other adapter.
#[utoipa::path(
    post,
    path = "/v1/adapters/{id}/test",
    tag = "adapters",
    params(("id" = String, Path, description = "the adapter's id")),
    request_body(content = Option<TestRequest>, content_type = "application/json",
        description = "optional: the type and payload to send"),
    responses(
        (status = 200, description = "Tried: `outcome` is `delivered`, `superseded` or `failed`, with `error` and `peer_answer`", body = TestAnswer),
        (status = 403, description = "Neither an operator nor the member who registered it", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such adapter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not running, or it only answers services", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A type it does not take, or a payload its schema refuses", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker did not take the test message, or too many tests are waiting", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 504, description = "No outcome in time (its peer's breaker open, say)", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn test(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<OptionalJson<TestRequest>, Problem>,
) -> Result<Json<TestAnswer>, Problem> {
    // Who may, before what they sent.
    app.registrar.may_act(&caller, &id, Role::Operator).await.map_err(refused)?;
    let OptionalJson(request) = body?;
    test_adapter(&app, &caller, &id, request.unwrap_or_default()).await.map(Json)
}

/// Sends a test message to an adapter, for a caller that may act on it (`Registrar::may_act`,
/// checked first): the API's and the console's.
pub(crate) async fn test_adapter(
    app: &AppState,
    caller: &Caller,
    id: &str,
    request: TestRequest,
) -> Result<TestAnswer, Problem> {
    let roster = app.fleet.adapters().current();
    let (Some(runtime), Some(phase), Some(activity)) = (roster.get(id), roster.phase(id), roster.activity(id)) else {
        return Err(no_such(id));
    };
    let adapter = (runtime.as_ref(), phase, activity.as_ref());
    let tried = trial::run(&app.broker, &app.catalogue, &app.ingress.province, adapter, caller.name(), request).await;
    let result = match &tried {
        Ok(tried) => tried.outcome.outcome,
        Err(_) => "refused",
    };
    let message = tried.as_ref().ok().map(|t| t.message_id.clone());
    let detail = json!({ "adapter": id, "message": message, "result": result });
    app.log.operator_action("operator.action", caller.name(), "adapters.test", detail);
    match tried {
        Ok(tried) => Ok(TestAnswer {
            message_id: tried.message_id,
            message_type: tried.message_type,
            outcome: tried.outcome,
            took_ms: tried.took.as_millis() as u64,
        }),
        Err(TrialError::Invalid(violations)) => Err(Problem::new(ProblemKind::InvalidBody).violations(violations)),
        Err(e @ (TrialError::NotRunning(_) | TrialError::NoRoutes(_))) => {
            Err(Problem::new(ProblemKind::AdapterState).detail(e.to_string()))
        }
        Err(e @ (TrialError::Busy(_) | TrialError::Publish(_))) => Err(Problem::unavailable(e.to_string())),
        Err(e @ TrialError::NoOutcome(..)) => Err(Problem::new(ProblemKind::Timeout).detail(e.to_string())),
    }
}

/// Records an operator's action on an adapter in the message log, and answers with its state.
fn act(
    app: &AppState,
    caller: &Caller,
    action: &str,
    id: &str,
    outcome: Result<(), FleetError>,
) -> Result<AdapterStatus, Problem> {
    let result = if outcome.is_ok() { "done" } else { "refused" };
    app.log.operator_action("operator.action", caller.name(), action, json!({ "adapter": id, "result": result }));
    match outcome {
        Ok(()) => status(app, id),
        Err(FleetError::NotFound(_)) => Err(no_such(id)),
        Err(e @ (FleetError::Phase(..) | FleetError::Exists(_))) => {
            Err(Problem::new(ProblemKind::AdapterState).detail(e.to_string()))
        }
        Err(e @ FleetError::Broker(_)) => Err(Problem::unavailable(e.to_string())),
    }
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
    let Some(adapter) = app.fleet.adapters().current().get(&id).cloned() else {
        return no_such(&id).into_response();
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
