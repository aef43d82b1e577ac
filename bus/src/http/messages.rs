//! `POST /v1/messages` (submit an envelope), `POST /v1/messages/batch` (many, each with its own
//! result) and `GET /v1/messages/{id}` (where it is).
//!
//! A message is answered `202` only after the broker confirmed it and the store recorded it; a
//! known id is answered `200` without publishing again; nothing else is ever "accepted".

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
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
use crate::config::HttpConfig;
use crate::engine::headers;
use crate::envelope::Envelope;
use crate::routing::{matches, routing_key};
use crate::schema::Violation;
use crate::store::{Accepted, DeliveryState, MessageView, Store};
use crate::transport::{PublishError, Target};
use crate::{events, now_ms};

pub fn router(http: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(submit).layer(DefaultBodyLimit::max(http.max_body_bytes)))
        .route("/v1/messages/batch", post(submit_batch).layer(DefaultBodyLimit::max(http.max_batch_bytes)))
        .route("/v1/messages/{id}", get(status))
}

async fn submit(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let accepted = match read_json(&headers, body).and_then(|value| prepare(&app, value)) {
        Ok(prepared) => accept(&app, vec![prepared]).await.remove(0),
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
        match prepare(&app, value) {
            Ok(item) => {
                prepared.push(item);
                positions.push(index);
                results.push(None);
            }
            Err(problem) => results.push(Some(Err(problem))),
        }
    }
    for (index, result) in positions.into_iter().zip(accept(&app, prepared).await) {
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

/// A message that passed every check, ready to publish.
struct Prepared {
    envelope: Arc<Envelope>,
    /// The canonical JSON that is published, and its digest.
    body: Vec<u8>,
    digest: String,
    routing_key: String,
    /// The adapters whose routes match.
    adapters: Vec<String>,
    /// For a dossier.submitted: the papers its procedure needs.
    requires: Vec<String>,
}

/// Validates one envelope: schema, payload, member, and that some adapter receives it.
fn prepare(app: &AppState, value: Value) -> Result<Prepared, Problem> {
    let envelope = app.catalogue.check_envelope(value).map_err(invalid)?;
    if !app.members.contains_key(&envelope.source) {
        return Err(invalid(vec![Violation::new(
            "/source",
            format!("`{}` is not a member of this bus (see [members] in the config)", envelope.source),
        )]));
    }
    let routing_key = routing_key(&envelope.message_type, &app.routing_suffix, None);
    let adapters: Vec<String> = app
        .subscriptions
        .iter()
        .filter(|(_, routes)| routes.iter().any(|route| matches(route, &routing_key)))
        .map(|(adapter, _)| adapter.clone())
        .collect();
    // A type the store indexes for itself (a result's documents) is worth keeping even when no
    // adapter receives it; anything else nobody receives is refused, not dropped.
    if adapters.is_empty() && !Store::indexes(&envelope.message_type) {
        return Err(unroutable(&envelope.message_type, &routing_key));
    }
    let requires = match envelope.message_type.as_str() {
        "dossier.submitted" => {
            let procedure = envelope.payload["procedure_code"].as_str().unwrap_or_default();
            app.procedures.requires(procedure).to_vec()
        }
        _ => Vec::new(),
    };
    let (body, digest) = envelope.encode();
    Ok(Prepared { envelope: Arc::new(envelope), body, digest, routing_key, adapters, requires })
}

/// Accepts prepared messages: each new id is published (confirms awaited together) and all are
/// recorded in one write; a known id answers `200` and is not published again.
async fn accept(app: &AppState, prepared: Vec<Prepared>) -> Vec<Result<(StatusCode, Uuid), Problem>> {
    // One submission of an id at a time: a concurrent retry waits, then finds it known. Stripes
    // are locked in ascending order so two batches never wait on each other in a cycle.
    let mut stripes: Vec<usize> = prepared.iter().map(|p| stripe(p.envelope.id, app.id_locks.len())).collect();
    stripes.sort_unstable();
    stripes.dedup();
    let mut guards = Vec::with_capacity(stripes.len());
    for index in stripes {
        guards.push(app.id_locks[index].lock().await);
    }

    let ids: Vec<Uuid> = prepared.iter().map(|p| p.envelope.id).collect();
    let known = match app.store.known_digests(&ids).await {
        Ok(known) => known,
        Err(e) => return prepared.iter().map(|_| Err(Problem::unavailable(e.to_string()))).collect(),
    };
    let mut results = Vec::with_capacity(prepared.len());
    // The same id twice in one batch: the second is a retry of the first (or a conflict).
    let mut seen: HashMap<Uuid, &str> = HashMap::new();
    let mut new = Vec::new();
    for (index, (item, stored)) in prepared.iter().zip(known).enumerate() {
        let id = item.envelope.id;
        let known = seen.get(&id).map(|digest| digest.to_string()).or(stored);
        results.push(match known {
            Some(digest) if digest == item.digest => Ok((StatusCode::OK, id)),
            Some(_) => Err(Problem::new(StatusCode::CONFLICT, "id-reused", "This id belongs to a different message")
                .detail("an envelope's id is its idempotency key: send a new id for a new message")),
            None => {
                new.push(index);
                Ok((StatusCode::ACCEPTED, id))
            }
        });
        seen.entry(id).or_insert(&item.digest);
    }

    let accepted_at = now_ms();
    // Only messages some adapter receives go to the broker; the store's commit below is the
    // durable record of the others (indexed types only, see `prepare`).
    let published = futures::future::join_all(new.iter().map(|&index| {
        let item = &prepared[index];
        async move { if item.adapters.is_empty() { Ok(()) } else { publish(app, item, accepted_at).await } }
    }))
    .await;
    let mut records = Vec::new();
    for (&index, outcome) in new.iter().zip(published) {
        match outcome {
            Ok(()) => {
                let item = &prepared[index];
                records.push(Accepted {
                    envelope: item.envelope.clone(),
                    digest: item.digest.clone(),
                    routing_key: item.routing_key.clone(),
                    accepted_at,
                    adapters: item.adapters.clone(),
                    requires: item.requires.clone(),
                });
            }
            Err(problem) => results[index] = Err(problem),
        }
    }
    let envelopes: Vec<Arc<Envelope>> = records.iter().map(|r| r.envelope.clone()).collect();
    if let Err(e) = app.store.record_accepted(records).await {
        // The broker has them and consumers deduplicate, so the caller's retry is harmless.
        error!(error = %e, messages = envelopes.len(), "published but not recorded");
        for &index in &new {
            if results[index].is_ok() {
                results[index] = Err(Problem::unavailable("the message could not be recorded; send it again"));
            }
        }
        return results;
    }
    for envelope in &envelopes {
        events::message_accepted(envelope);
    }
    results
}

async fn publish(app: &AppState, item: &Prepared, accepted_at: i64) -> Result<(), Problem> {
    let mut table = FieldTable::default();
    table.insert(headers::ACCEPTED_AT.into(), AMQPValue::LongLongInt(accepted_at));
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(item.envelope.id.to_string().into())
        .with_type(item.envelope.message_type.as_str().into())
        .with_timestamp((accepted_at / 1000) as u64)
        .with_headers(table);
    app.broker.publish(Target::Exchange(&item.routing_key), &item.body, properties).await.map_err(|e| match e {
        PublishError::Unroutable(_) => unroutable(&item.envelope.message_type, &item.routing_key),
        e => Problem::unavailable(e.to_string()),
    })
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

pub(super) fn invalid(violations: Vec<Violation>) -> Problem {
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
