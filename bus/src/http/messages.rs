//! `POST /v1/messages` (submit an envelope), `POST /v1/messages/batch` (many, each with its own
//! result) and `GET /v1/messages/{id}` (where it is).
//!
//! A message is answered `202` only after the broker confirmed it and the store recorded it; a
//! known id is answered `200` without publishing again; nothing else is ever "accepted".

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::operations::rfc3339_ms;
use super::problem::Problem;
use crate::config::HttpConfig;
use crate::events;
use crate::ingress::Sender;
pub(super) use crate::ingress::invalid;
use crate::schema::Violation;
use crate::store::{DeliveryState, MessageView};

pub fn router(http: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(submit).layer(DefaultBodyLimit::max(http.max_body_bytes)))
        .route("/v1/messages/batch", post(submit_batch).layer(DefaultBodyLimit::max(http.max_batch_bytes)))
        .route("/v1/messages/{id}", get(status))
}

async fn submit(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let accepted = match read_json(&headers, body) {
        Ok(value) => match app.ingress.prepare(value, Sender::Member).await {
            Ok(prepared) => app.ingress.accept(vec![prepared]).await.remove(0),
            Err(problem) => Err(problem),
        },
        Err(problem) => Err(problem),
    };
    match accepted {
        Ok((status, id)) => {
            let location = format!("/v1/messages/{id}");
            (status, [(header::LOCATION, location)], Json(json!({"id": id}))).into_response()
        }
        Err(problem) => {
            events::message_rejected(problem_word(&problem));
            problem.into_response()
        }
    }
}

/// Many messages in one request, each with its own result, in request order: `202` accepted
/// (confirmed), `200` already held, or a problem. Each is accepted or refused on its own.
async fn submit_batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let values = match read_json(&headers, body).and_then(|value| batch_items(value, app.max_batch_messages)) {
        Ok(values) => values,
        Err(problem) => {
            events::message_rejected(problem_word(&problem));
            return problem.into_response();
        }
    };
    let mut results: Vec<Option<Result<(StatusCode, Uuid), Problem>>> = Vec::with_capacity(values.len());
    let mut prepared = Vec::new();
    let mut positions = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        match app.ingress.prepare(value, Sender::Member).await {
            Ok(item) => {
                prepared.push(item);
                positions.push(index);
                results.push(None);
            }
            Err(problem) => results.push(Some(Err(problem))),
        }
    }
    for (index, result) in positions.into_iter().zip(app.ingress.accept(prepared).await) {
        results[index] = Some(result);
    }
    let results: Vec<Value> = results
        .into_iter()
        .map(|result| match result.expect("every item has a result") {
            Ok((status, id)) => json!({"id": id, "status": status.as_u16()}),
            Err(problem) => {
                events::message_rejected(problem_word(&problem));
                json!({"status": problem.status.as_u16(), "problem": problem})
            }
        })
        .collect();
    Json(json!({"results": results})).into_response()
}

/// Checks the media type and parses the body.
pub(super) fn read_json(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, Problem> {
    if !is_json(headers) {
        return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send JSON")
            .detail("Content-Type must be application/json"));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request too large").detail(rejection.body_text())
        }
        status => Problem::new(status, "unreadable-body", "Cannot read the request body").detail(rejection.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "The body is not JSON").detail(e.to_string())
    })
}

fn batch_items(value: Value, max: usize) -> Result<Vec<Value>, Problem> {
    let refuse = |reason: String| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-batch", "The batch is not valid")
            .violations(vec![Violation::new("/messages", reason)])
    };
    match value {
        Value::Object(mut object) => match object.remove("messages") {
            Some(Value::Array(items)) if items.is_empty() => Err(refuse("is empty".into())),
            Some(Value::Array(items)) if items.len() > max => {
                Err(refuse(format!("holds {} messages; at most {max} per batch", items.len())))
            }
            Some(Value::Array(items)) => Ok(items),
            _ => Err(refuse("is required: an array of envelopes".into())),
        },
        _ => Err(refuse("the body must be an object {\"messages\": [envelopes]}".into())),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A bounded word for the rejected-messages metric.
fn problem_word(problem: &Problem) -> &'static str {
    match problem.status {
        StatusCode::UNPROCESSABLE_ENTITY if problem.kind.ends_with("unroutable") => "unroutable",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::BAD_REQUEST => "malformed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "other",
    }
}

async fn status(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return Problem::new(StatusCode::BAD_REQUEST, "bad-id", "Not a message id")
            .detail(format!("`{id}` is not a UUID"))
            .into_response();
    };
    match app.store.message(id).await {
        Ok(Some(message)) => Json(view(message)).into_response(),
        Ok(None) => Problem::not_found("message").detail(format!("no message {id} was accepted here")).into_response(),
        Err(e) => Problem::unavailable(e.to_string()).into_response(),
    }
}

fn view(message: MessageView) -> Value {
    let deliveries: Vec<Value> = message
        .deliveries
        .iter()
        .map(|d| {
            json!({"adapter": d.adapter, "state": d.state, "attempts": d.attempts,
                   "last_error": d.last_error, "updated_at": rfc3339_ms(d.updated_at)})
        })
        .collect();
    json!({
        "id": message.id,
        "type": message.message_type,
        "source": message.source,
        "subject": message.subject,
        "seq": message.seq,
        "routing_key": message.routing_key,
        "routing": message.routing,
        "accepted_at": rfc3339_ms(message.accepted_at),
        "state": overall(&message),
        "deliveries": deliveries,
    })
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
