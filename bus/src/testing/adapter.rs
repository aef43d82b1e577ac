//! What every adapter's tests need of the adapter contract: deliveries as the bus hands them
//! over, made from the schemas' examples, and the outcomes and errors they expect back.

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::Catalogue;
use crate::{Delivery, Envelope, Failure, Outcome, ServiceError};

/// The schemas the bus checks with, built once.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue::embedded().unwrap())
}

/// `examples[index]` of `schemas/<message_type>.json`.
pub fn example(message_type: &str, index: usize) -> Value {
    let schema = catalogue().document(&format!("{message_type}.json"));
    schema.unwrap_or_else(|| panic!("no schema for {message_type}"))["examples"][index].clone()
}

/// A fresh message (new id, first attempt) of `message_type` about `payload`'s dossier, without
/// annotations.
pub fn delivery(message_type: &str, payload: Value) -> Delivery {
    let subject = payload["dossier_code"].as_str().unwrap_or("no-code").to_string();
    let envelope = Envelope {
        id: Uuid::now_v7(),
        message_type: message_type.into(),
        source: "onestop.test".into(),
        subject,
        seq: 1,
        occurred_at: OffsetDateTime::now_utc(),
        correlation_id: None,
        payload,
    };
    Delivery::new(Arc::new(envelope))
}

/// The same delivery, known to be older than one already delivered.
pub fn stale(mut delivery: Delivery) -> Delivery {
    delivery.stale = true;
    delivery
}

/// The failure of a Transient outcome; panics on any other.
pub fn transient(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Transient(failure) => failure,
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

/// The failure of a Permanent outcome; panics on any other.
pub fn permanent(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Permanent(failure) => failure,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

/// The failure of an `Unavailable`; panics on anything else.
pub fn unavailable(result: Result<Value, ServiceError>) -> Failure {
    match result {
        Err(ServiceError::Unavailable(failure)) => failure,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// The failure of a `Refused`; panics on anything else.
pub fn refused(result: Result<Value, ServiceError>) -> Failure {
    match result {
        Err(ServiceError::Refused(failure)) => failure,
        other => panic!("expected Refused, got {other:?}"),
    }
}

/// An envelope as a member sends it: a fresh id, the payload's dossier code as its subject, the
/// first of its subject.
pub fn envelope(message_type: &str, source: &str, payload: Value) -> Value {
    let subject = payload["dossier_code"].clone();
    json!({
        "id": Uuid::now_v7(), "type": message_type, "source": source, "subject": subject, "seq": 1,
        "occurred_at": "2026-11-20T09:15:00+07:00", "payload": payload,
    })
}
