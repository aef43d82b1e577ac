//! `POST /v1/messages` (submit an envelope), `POST /v1/messages/batch` (many, each with its own
//! result) and `GET /v1/messages/{id}` (where it is).
//!
//! A message is answered `202` only after the broker confirmed it and the store recorded it; a
//! known id is answered `200` without publishing again; nothing else is ever "accepted".

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::read_json;
use super::{AppState, evidence};
use crate::audit::Refusal;
use crate::auth::Caller;
use crate::config::HttpConfig;
use crate::events;
use crate::ingress::{Sender, Submitted};
use crate::rfc3339_ms;
use crate::schema::Violation;
use crate::store::{DeliveryState, MessageView};

pub fn router(http: &HttpConfig) -> OpenApiRouter<AppState> {
    let single = OpenApiRouter::new().routes(routes!(submit)).layer(DefaultBodyLimit::max(http.max_body_bytes));
    let batch = OpenApiRouter::new().routes(routes!(submit_batch)).layer(DefaultBodyLimit::max(http.max_batch_bytes));
    single.merge(batch).routes(routes!(status))
}

/// A message taken: where to ask about it.
#[derive(Serialize, ToSchema)]
pub struct Taken {
    pub id: Uuid,
}

/// Submit a message.
///
/// Answered 202 only after the broker confirmed the message and the store recorded it. The id
/// is the idempotency key: a known id is answered 200 and nothing is published again.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "messages",
    request_body(content = ref("#/components/schemas/envelope"), content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: confirmed by the broker and recorded", body = Taken,
            headers(("Location" = String, description = "/v1/messages/{id}"))),
        (status = 200, description = "Already accepted under this id (the same message); nothing published again",
            body = Taken, headers(("Location" = String, description = "/v1/messages/{id}"))),
        (status = 400, description = "The body is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The id belongs to a different message", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, description = "The body is over [http] max_body_bytes", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The envelope or payload is not valid (every violation listed), or nobody receives it", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store cannot take it now; nothing was accepted", body = ProblemDocument,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "seconds"))),
    )
)]
async fn submit(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let value = match read_json(&headers, body) {
        Ok(value) => value,
        Err(problem) => return rejected(problem).into_response(),
    };
    let accepted = match app.ingress.prepare(value, Sender::Member(&caller)).await {
        Ok(prepared) => app.ingress.accept(vec![prepared]).await.remove(0),
        Err(error) => Err(error),
    };
    match accepted {
        Ok((submitted, id)) => {
            let location = format!("/v1/messages/{id}");
            (status_of(submitted), [(header::LOCATION, location)], Json(Taken { id })).into_response()
        }
        Err(error) => rejected(error.into()).into_response(),
    }
}

/// `202` for a message accepted now, `200` for one held already.
fn status_of(submitted: Submitted) -> StatusCode {
    match submitted {
        Submitted::Accepted => StatusCode::ACCEPTED,
        Submitted::Known => StatusCode::OK,
    }
}

/// Counts a refused submission, by the kind of its problem.
fn rejected(problem: Problem) -> Problem {
    events::message_rejected(problem.kind.slug());
    problem
}

/// The results of a batch, one per message, in request order.
#[derive(Serialize, ToSchema)]
pub struct BatchResults {
    pub results: Vec<BatchResult>,
}

/// What became of one message of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// Its id, when it was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// 202 accepted, 200 held already, or the status of its problem.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ProblemDocument>)]
    pub problem: Option<Problem>,
}

/// A batch of envelopes: each is checked, and accepted or refused, on its own.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the request's shape, for the API document; the body is read as JSON
struct Batch {
    /// 1 to `[http] max_batch_messages` envelopes.
    #[schema(value_type = Vec<Object>, min_items = 1)]
    messages: Vec<Value>,
}

/// Submit many messages at once.
///
/// Each message is accepted or refused on its own, and has its own result, in request order:
/// 202 accepted (confirmed), 200 already held, or its problem.
#[utoipa::path(
    post,
    path = "/v1/messages/batch",
    tag = "messages",
    request_body(content = Batch, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per message, in order", body = BatchResults),
        (status = 400, description = "The body is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, description = "The body is over [http] max_batch_bytes", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not a batch: no `messages`, an empty or too long list, or an item that is not an object", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn submit_batch(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let values = match read_json(&headers, body).and_then(|value| batch_items(value, app.max_batch_messages)) {
        Ok(values) => values,
        Err(problem) => return rejected(problem).into_response(),
    };
    let mut results = Vec::with_capacity(values.len());
    let mut prepared = Vec::new();
    let mut positions = Vec::new();
    let ids: Vec<Option<String>> =
        values.iter().map(|value| value.get("id").and_then(Value::as_str).map(String::from)).collect();
    for (index, value) in values.into_iter().enumerate() {
        match app.ingress.prepare(value, Sender::Member(&caller)).await {
            Ok(item) => {
                prepared.push(item);
                positions.push(index);
                results.push(None);
            }
            Err(error) => results.push(Some(Err(error))),
        }
    }
    for (index, result) in positions.into_iter().zip(app.ingress.accept(prepared).await) {
        results[index] = Some(result);
    }
    let results = results
        .into_iter()
        .zip(&ids)
        .map(|(result, id)| match result.expect("every item has a result") {
            Ok((submitted, id)) => BatchResult { id: Some(id), status: status_of(submitted).as_u16(), problem: None },
            Err(error) => {
                let problem = rejected(error.into());
                let status = problem.kind.status().as_u16();
                if evidence::is_refusal(status) {
                    app.log.refused(Refusal {
                        actor: caller.name(),
                        status,
                        method: "POST",
                        path: "/v1/messages/batch",
                        problem: problem.kind.slug(),
                        detail: &problem.summary(),
                        peer: None,
                        message: id.as_deref(),
                    });
                }
                BatchResult { id: None, status, problem: Some(problem) }
            }
        })
        .collect();
    Json(BatchResults { results }).into_response()
}

/// The batch's envelopes: an object `{"messages": [...]}` of 1 to `max` objects. Each object is
/// then checked as an envelope on its own.
fn batch_items(value: Value, max: usize) -> Result<Vec<Value>, Problem> {
    let refuse = |pointer: &str, reason: String| {
        Problem::new(ProblemKind::InvalidBatch).violations(vec![Violation::new(pointer, reason)])
    };
    let Value::Object(mut object) = value else {
        return Err(refuse("", "the body must be an object {\"messages\": [envelopes]}".into()));
    };
    let items = match object.remove("messages") {
        Some(Value::Array(items)) if items.is_empty() => return Err(refuse("/messages", "is empty".into())),
        Some(Value::Array(items)) if items.len() > max => {
            return Err(refuse("/messages", format!("holds {} messages; at most {max} per batch", items.len())));
        }
        Some(Value::Array(items)) => items,
        _ => return Err(refuse("/messages", "is required: an array of envelopes".into())),
    };
    if let Some(key) = object.keys().next() {
        return Err(refuse(&format!("/{key}"), "is not a field of a batch".into()));
    }
    if let Some(index) = items.iter().position(|item| !item.is_object()) {
        return Err(refuse(&format!("/messages/{index}"), "must be an envelope (a JSON object)".into()));
    }
    Ok(items)
}

/// Where a message is.
///
/// Its routing, and each adapter's delivery: accepted, delivered, retrying (attempts, last
/// error), superseded or dead-lettered.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    tag = "messages",
    params(("id" = Uuid, Path, description = "the message's id")),
    responses(
        (status = 200, description = "The message and each adapter's delivery", body = MessageStatus),
        (status = 400, description = "Not a UUID", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No message of that id was accepted here", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn status(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    Ok(Json(message_status(&app, &caller, &id).await?).into_response())
}

/// Where message `id` is, if `caller` may read it (the console's message page asks here too).
pub(crate) async fn message_status(app: &AppState, caller: &Caller, id: &str) -> Result<MessageStatus, Problem> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(Problem::new(ProblemKind::BadId).detail(format!("`{id}` is not a UUID")));
    };
    match app.store.message(id).await? {
        Some(message) => {
            caller.may_read_message(&message.source)?;
            Ok(view(message))
        }
        None => Err(Problem::not_found(format!("no message {id} was accepted here"))),
    }
}

/// A message, where it was routed, and what became of it at each adapter.
#[derive(Serialize, ToSchema)]
pub struct MessageStatus {
    pub id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub source: String,
    pub subject: String,
    pub seq: u64,
    pub routing_key: String,
    /// Where it was routed, and why: `{agency, reason, tables}`.
    #[schema(value_type = Object)]
    pub routing: Value,
    /// RFC 3339.
    pub accepted_at: String,
    /// The least advanced of its deliveries, failures first.
    pub state: DeliveryState,
    pub deliveries: Vec<DeliveryStatus>,
}

/// One adapter's delivery of a message.
#[derive(Serialize, ToSchema)]
pub struct DeliveryStatus {
    pub adapter: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(message: MessageView) -> MessageStatus {
    let state = overall(&message);
    let deliveries = message
        .deliveries
        .into_iter()
        .map(|d| DeliveryStatus {
            adapter: d.adapter,
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
            updated_at: rfc3339_ms(d.updated_at),
        })
        .collect();
    MessageStatus {
        id: message.id,
        message_type: message.message_type,
        source: message.source,
        subject: message.subject,
        seq: message.seq,
        routing_key: message.routing_key,
        routing: message.routing,
        accepted_at: rfc3339_ms(message.accepted_at),
        state,
        deliveries,
    }
}

/// One word for the whole message: the least advanced of its deliveries, failures first. A
/// message no adapter receives (a result only indexed by the bus) is delivered once stored.
fn overall(message: &MessageView) -> DeliveryState {
    let states: Vec<DeliveryState> = message.deliveries.iter().map(|d| d.state).collect();
    let any = |s: DeliveryState| states.contains(&s);
    if any(DeliveryState::DeadLettered) {
        DeliveryState::DeadLettered
    } else if any(DeliveryState::Retrying) {
        DeliveryState::Retrying
    } else if any(DeliveryState::Accepted) {
        DeliveryState::Accepted
    } else if !states.is_empty() && states.iter().all(|s| *s == DeliveryState::Superseded) {
        DeliveryState::Superseded
    } else {
        DeliveryState::Delivered
    }
}
