//! How an adapter sends messages into the bus: events it learns from its peer (a postal
//! shipment moved, a webhook came in). They take the same path as a member's `POST
//! /v1/messages` — validated, routed, confirmed by the broker, recorded — with the adapter's id
//! as their `source`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::schema::{Catalogue, Violation};

/// What became of a submitted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// New, and confirmed by the broker.
    Accepted,
    /// Already held under its id: nothing was published again (a re-polled event, say). A
    /// resubmission must be the same message: the same id with other content is refused (409).
    Known,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status a member would have got: 422 invalid or unroutable, 409 id reused, 503
    /// broker or store unreachable.
    pub status: u16,
    pub reason: String,
    pub violations: Vec<Violation>,
}

impl Refusal {
    /// Worth submitting again later (the broker or store was unreachable); otherwise the message
    /// itself is wrong.
    pub fn is_transient(&self) -> bool {
        self.status == 503
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)?;
        for violation in &self.violations {
            write!(f, "; {}: {}", violation.pointer, violation.reason)?;
        }
        Ok(())
    }
}

/// Where an outbox's messages go.
#[async_trait]
pub trait Submit: Send + Sync + 'static {
    async fn submit(&self, source: &str, envelope: Value) -> Result<Submitted, Refusal>;
}

/// An adapter's way into the bus.
#[derive(Clone)]
pub struct Outbox {
    source: String,
    target: Arc<dyn Submit>,
}

impl Outbox {
    pub fn new(source: &str, target: Arc<dyn Submit>) -> Outbox {
        Outbox { source: source.to_string(), target }
    }

    /// The `source` the messages carry: the adapter's id.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Submits one envelope (its `source` is set to the adapter's id).
    pub async fn submit(&self, envelope: Value) -> Result<Submitted, Refusal> {
        self.target.submit(&self.source, envelope).await
    }

    /// For an adapter's own tests: an outbox that checks each envelope against the schemas, as
    /// the bus would, and keeps the accepted ones (an id seen before is `Known`).
    pub fn collecting(source: &str) -> (Outbox, Collected) {
        let collected = Collected { inner: Arc::new(Collecting::default()) };
        (Outbox::new(source, collected.inner.clone()), collected)
    }
}

/// What a [`Outbox::collecting`] outbox accepted, in order.
#[derive(Clone)]
pub struct Collected {
    inner: Arc<Collecting>,
}

#[derive(Default)]
struct Collecting {
    envelopes: Mutex<Vec<Value>>,
    changes: crate::simulator::Changes,
}

impl Collected {
    pub fn envelopes(&self) -> Vec<Value> {
        crate::simulator::lock(&self.inner.envelopes).clone()
    }

    /// Waits until the accepted envelopes satisfy `done`; false after `timeout`.
    pub async fn wait_until(&self, timeout: std::time::Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        self.inner.changes.wait_until(&self.inner.envelopes, timeout, |envelopes| done(envelopes)).await
    }
}

#[async_trait]
impl Submit for Collecting {
    async fn submit(&self, source: &str, mut envelope: Value) -> Result<Submitted, Refusal> {
        static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
        let catalogue = CATALOGUE.get_or_init(|| Catalogue::embedded().expect("the schemas compile"));
        envelope["source"] = Value::String(source.to_string());
        let checked = catalogue.check_envelope(envelope.clone()).map_err(|violations| Refusal {
            status: 422,
            reason: "the message is not valid".into(),
            violations,
        })?;
        let mut envelopes = crate::simulator::lock(&self.envelopes);
        let id = checked.id.to_string();
        if let Some(earlier) = envelopes.iter().find(|e| e["id"].as_str() == Some(&id)) {
            // As the bus: the same id is the same message, or a conflict.
            let same = serde_json::from_value::<crate::envelope::Envelope>(earlier.clone()).ok().map(|e| e.digest());
            return if same == Some(checked.digest()) {
                Ok(Submitted::Known)
            } else {
                Err(Refusal {
                    status: 409,
                    reason: format!("id {id} belongs to a different message"),
                    violations: Vec::new(),
                })
            };
        }
        envelopes.push(envelope);
        drop(envelopes);
        self.changes.bump();
        Ok(Submitted::Accepted)
    }
}
