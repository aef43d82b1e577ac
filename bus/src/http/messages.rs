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
use super::problem::{Problem, ProblemKind};
use super::request::read_json;
use crate::config::HttpConfig;
use crate::events;
use crate::ingress::{Sender, Submitted};
use crate::schema::Violation;
use crate::store::{DeliveryState, MessageView};

pub fn router(http: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(submit).layer(DefaultBodyLimit::max(http.max_body_bytes)))
        .route("/v1/messages/batch", post(submit_batch).layer(DefaultBodyLimit::max(http.max_batch_bytes)))
        .route("/v1/messages/{id}", get(status))
}

async fn submit(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let value = match read_json(&headers, body) {
        Ok(value) => value,
        Err(problem) => return rejected(problem).into_response(),
    };
    let accepted = match app.ingress.prepare(value, Sender::Member).await {
        Ok(prepared) => app.ingress.accept(vec![prepared]).await.remove(0),
        Err(error) => Err(error),
    };
    match accepted {
        Ok((submitted, id)) => {
            let location = format!("/v1/messages/{id}");
            (status_of(submitted), [(header::LOCATION, location)], Json(json!({"id": id}))).into_response()
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

/// Many messages in one request, each with its own result, in request order: `202` accepted
/// (confirmed), `200` already held, or a problem. Each is accepted or refused on its own.
async fn submit_batch(
    State(app): State<AppState>,
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
    for (index, value) in values.into_iter().enumerate() {
        match app.ingress.prepare(value, Sender::Member).await {
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
    let results: Vec<Value> = results
        .into_iter()
        .map(|result| match result.expect("every item has a result") {
            Ok((submitted, id)) => json!({"id": id, "status": status_of(submitted).as_u16()}),
            Err(error) => {
                let problem = rejected(error.into());
                json!({"status": problem.kind.status().as_u16(), "problem": problem})
            }
        })
        .collect();
    Json(json!({"results": results})).into_response()
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

async fn status(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return Problem::new(ProblemKind::BadId).detail(format!("`{id}` is not a UUID")).into_response();
    };
    match app.store.message(id).await {
        Ok(Some(message)) => Json(view(message)).into_response(),
        Ok(None) => Problem::not_found(format!("no message {id} was accepted here")).into_response(),
        Err(e) => Problem::from(e).into_response(),
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
