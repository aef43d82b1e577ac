//! A test message (`POST /v1/adapters/{id}/test`): a message of a type the adapter takes, put in
//! its queue and delivered by its engine like any other (its policy, its peer's guard and
//! limits, its mapping and authentication), but tried once, never retried or dead-lettered, and
//! never routed to another adapter. Its outcome and what the peer answered go back to the caller.

use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Value, json};

use super::activity::{Activity, TestOutcome};
use crate::roster::{AdapterRuntime, Phase};
use crate::routing::takes_type;
use crate::schema::{Catalogue, Violation};
use crate::transport::{Broker, PublishError, Target, headers};
use crate::{now_ms, rfc3339_ms};

/// What the caller asks to send; each part left out (or the whole body) is filled in.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// A message type the adapter takes; by default the one its first route names.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    /// The payload, checked against the type's schema; by default the type's first example in
    /// `/v1/schemas`.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

/// A test message's one attempt.
#[derive(Debug)]
pub struct Tried {
    pub message_id: String,
    pub message_type: String,
    pub outcome: TestOutcome,
    pub took: Duration,
}

/// Why no test message was sent, or no outcome came.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error("the adapter is {0:?}: only a running adapter is tested (resume it first)")]
    NotRunning(Phase),
    #[error(
        "the adapter takes no messages, it only answers services ({0}): call POST /v1/services/<service> to test it"
    )]
    NoRoutes(String),
    #[error("the test message is not valid")]
    Invalid(Vec<Violation>),
    #[error("{0} tests are waiting for their outcome already; try again in a moment")]
    Busy(usize),
    #[error("{0}")]
    Publish(#[from] PublishError),
    #[error(
        "no outcome within {0:?} (the peer's circuit breaker is {1}); the test message will be tried once when its turn comes"
    )]
    NoOutcome(Duration, &'static str),
}

/// Sends a test message to a running adapter and waits for its outcome.
pub async fn run(
    broker: &Broker,
    catalogue: &Catalogue,
    province: &str,
    (runtime, phase, activity): (&AdapterRuntime, Phase, &Activity),
    sender: &str,
    request: TestRequest,
) -> Result<Tried, TrialError> {
    if phase != Phase::Running {
        return Err(TrialError::NotRunning(phase));
    }
    if runtime.routes.is_empty() {
        return Err(TrialError::NoRoutes(runtime.services.join(", ")));
    }
    let message_type = match request.message_type {
        Some(t) if !runtime.routes.iter().any(|r| takes_type(r, &t, province)) => {
            let why = format!("`{t}` is not taken by the adapter's routes ({})", runtime.routes.join(", "));
            return Err(TrialError::Invalid(vec![Violation::new("/type", why)]));
        }
        Some(t) => t,
        None => default_type(catalogue, &runtime.routes).ok_or_else(|| {
            let why = format!("name the type to send: the adapter's routes ({}) name none", runtime.routes.join(", "));
            TrialError::Invalid(vec![Violation::new("/type", why)])
        })?,
    };
    let payload = match request.payload.or_else(|| catalogue.example(&message_type).cloned()) {
        Some(payload) => payload,
        None => {
            return Err(TrialError::Invalid(vec![Violation::new("/payload", "this type has no example: send one")]));
        }
    };
    let id = uuid::Uuid::now_v7();
    let now = now_ms();
    let subject = catalogue.subject_of(&message_type, &payload).unwrap_or_else(|| id.to_string());
    let envelope = json!({
        "id": id, "type": message_type, "source": sender, "subject": subject,
        "seq": now, "occurred_at": rfc3339_ms(now), "payload": payload,
    });
    let envelope = catalogue.check_envelope(envelope).map_err(TrialError::Invalid)?;
    let (body, _) = envelope.encode();

    let message_id = id.to_string();
    let Some(outcome) = activity.expect_test(&message_id) else {
        return Err(TrialError::Busy(super::activity::MAX_TESTS));
    };
    let mut table = FieldTable::default();
    table.insert(headers::TEST.into(), AMQPValue::Boolean(true));
    table.insert(headers::ACCEPTED_AT.into(), AMQPValue::LongLongInt(now));
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(message_id.as_str().into())
        .with_type(message_type.as_str().into())
        .with_headers(table);
    let started = Instant::now();
    // Its own queue, not the exchange: no other adapter gets a test message.
    broker.publish(Target::Queue(&broker.names().queue(&runtime.id)), &body, properties).await?;
    // The delivery's own timeout, and time to get through the queue and the peer's limits.
    let wait = runtime.policy.timeout + Duration::from_secs(5);
    match tokio::time::timeout(wait, outcome).await {
        Ok(Ok(outcome)) => Ok(Tried { message_id, message_type, outcome, took: started.elapsed() }),
        _ => Err(TrialError::NoOutcome(wait, runtime.guard.status().state)),
    }
}

/// The first catalogue type a route names in its first words (`dossier.status_changed.*.h42`).
fn default_type(catalogue: &Catalogue, routes: &[String]) -> Option<String> {
    routes
        .iter()
        .find_map(|route| catalogue.message_types().find(|t| route.starts_with(&format!("{t}."))).map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_type_is_the_first_a_route_names() {
        let catalogue = Catalogue::embedded().unwrap();
        let routes = ["#".to_string(), "dossier.status_changed.*.h42".to_string()];
        assert_eq!(default_type(&catalogue, &routes).as_deref(), Some("dossier.status_changed"));
        assert_eq!(default_type(&catalogue, &routes[..1]), None);
    }
}
