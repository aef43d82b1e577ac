//! `POST /v1/messages` (submit an envelope) and `GET /v1/messages/{id}` (where it is).
//!
//! A message is answered `202` only after the broker confirmed it and the store recorded it; a
//! known id is answered `200` without publishing again; nothing else is ever "accepted".

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Value, json};
use tracing::error;
use uuid::Uuid;

use super::AppState;
use super::operations::rfc3339_ms;
use super::problem::Problem;
use crate::engine::headers;
use crate::routing::{matches, routing_key};
use crate::schema::Violation;
use crate::store::{Accepted, DeliveryState, MessageView};
use crate::transport::{PublishError, Target};
use crate::{events, now_ms};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/messages", post(submit)).route("/v1/messages/{id}", get(status))
}

async fn submit(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match accept(&app, &headers, body).await {
        Ok(response) => response,
        Err(problem) => {
            events::message_rejected(problem_word(&problem));
            problem.into_response()
        }
    }
}

async fn accept(app: &AppState, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Response, Problem> {
    if !is_json(headers) {
        return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send JSON")
            .detail("Content-Type must be application/json"));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Message too large").detail(rejection.body_text())
        }
        status => Problem::new(status, "unreadable-body", "Cannot read the request body").detail(rejection.body_text()),
    })?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "The body is not JSON").detail(e.to_string())
    })?;

    let envelope = app.catalogue.check_envelope(&value).map_err(invalid)?;
    if !app.members.contains_key(&envelope.source) {
        return Err(invalid(vec![Violation::new(
            "/source",
            format!("`{}` is not a member of this bus (see [members] in the config)", envelope.source),
        )]));
    }
    let routing_key = routing_key(&envelope.message_type, &app.routing_suffix);
    let adapters: Vec<String> = app
        .subscriptions
        .iter()
        .filter(|(_, routes)| routes.iter().any(|route| matches(route, &routing_key)))
        .map(|(adapter, _)| adapter.clone())
        .collect();
    if adapters.is_empty() {
        return Err(unroutable(&envelope.message_type, &routing_key));
    }

    let envelope = Arc::new(envelope);
    let digest = envelope.digest();
    // One submission of an id at a time: a concurrent retry waits and then finds it known.
    let _guard = app.id_locks[stripe(envelope.id, app.id_locks.len())].lock().await;
    match app.store.known_digest(envelope.id).await {
        Ok(Some(known)) if known == digest => return Ok(answer(StatusCode::OK, envelope.id)),
        Ok(Some(_)) => {
            return Err(Problem::new(StatusCode::CONFLICT, "id-reused", "This id belongs to a different message")
                .detail("an envelope's id is its idempotency key: send a new id for a new message"));
        }
        Ok(None) => {}
        Err(e) => return Err(Problem::unavailable(e.to_string())),
    }

    let accepted_at = now_ms();
    let body = serde_json::to_vec(&*envelope).expect("an envelope always serialises");
    let mut table = FieldTable::default();
    table.insert(headers::ACCEPTED_AT.into(), AMQPValue::LongLongInt(accepted_at));
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(envelope.id.to_string().into())
        .with_type(envelope.message_type.as_str().into())
        .with_timestamp((accepted_at / 1000) as u64)
        .with_headers(table);
    app.broker.publish(Target::Exchange(&routing_key), &body, properties).await.map_err(|e| match e {
        PublishError::Unroutable(_) => unroutable(&envelope.message_type, &routing_key),
        e => Problem::unavailable(e.to_string()),
    })?;

    let record = Accepted { envelope: envelope.clone(), digest, routing_key, accepted_at, adapters };
    if let Err(e) = app.store.record_accepted(record).await {
        // The broker has it and consumers deduplicate, so the caller's retry is harmless.
        error!(id = %envelope.id, error = %e, "published but not recorded");
        return Err(Problem::unavailable("the message could not be recorded; send it again"));
    }
    events::message_accepted(&envelope);
    Ok(answer(StatusCode::ACCEPTED, envelope.id))
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn stripe(id: Uuid, stripes: usize) -> usize {
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    (hasher.finish() % stripes as u64) as usize
}

fn answer(status: StatusCode, id: Uuid) -> Response {
    let location = format!("/v1/messages/{id}");
    (status, [(header::LOCATION, location)], Json(json!({"id": id}))).into_response()
}

fn invalid(violations: Vec<Violation>) -> Problem {
    let count = violations.len();
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-message", "The message is not valid")
        .detail(format!("{count} violation{}; nothing was accepted", if count == 1 { "" } else { "s" }))
        .violations(violations)
}

fn unroutable(message_type: &str, routing_key: &str) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unroutable", "No adapter receives this message")
        .detail(format!("no adapter's routes match `{routing_key}`; nothing was accepted"))
        .violations(vec![Violation::new("/type", format!("no adapter consumes `{message_type}`"))])
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
        "accepted_at": rfc3339_ms(message.accepted_at),
        "state": overall(&message),
        "deliveries": deliveries,
    })
}

/// One word for the whole message: the least advanced of its deliveries, failures first.
fn overall(message: &MessageView) -> DeliveryState {
    let states: Vec<DeliveryState> = message.deliveries.iter().map(|d| d.state).collect();
    let any = |s: DeliveryState| states.contains(&s);
    if any(DeliveryState::DeadLettered) {
        DeliveryState::DeadLettered
    } else if any(DeliveryState::Retrying) {
        DeliveryState::Retrying
    } else if states.is_empty() || any(DeliveryState::Accepted) {
        DeliveryState::Accepted
    } else if states.iter().all(|s| *s == DeliveryState::Superseded) {
        DeliveryState::Superseded
    } else {
        DeliveryState::Delivered
    }
}
