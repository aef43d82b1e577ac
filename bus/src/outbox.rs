//! How an adapter sends messages into the bus: events it learns from its peer (a postal
//! shipment moved, a webhook came in). They take the same path as a member's `POST
//! /v1/messages` — validated, routed, confirmed by the broker, recorded — with the adapter's id
//! as their `source`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::ingress::{IngressError, Submit, Submitted};
use crate::schema::{Catalogue, Violation};

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub reason: String,
    pub violations: Vec<Violation>,
}

/// What kind of refusal: whether sending the same message again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The message breaks the schemas.
    Invalid,
    /// Nobody receives it: no adapter's routes, or no competent agency.
    Unroutable,
    /// Its id was accepted before with other content.
    Conflict,
    /// The sender may not send it.
    Forbidden,
    /// The broker or the store was unreachable: worth submitting again later.
    Unavailable,
}

impl Refusal {
    /// Worth submitting again later (the broker or store was unreachable); otherwise the message
    /// itself is wrong.
    pub fn is_transient(&self) -> bool {
        self.kind == RefusalKind::Unavailable
    }
}

impl From<IngressError> for Refusal {
    fn from(error: IngressError) -> Self {
        let kind = match &error {
            IngressError::Invalid(_) => RefusalKind::Invalid,
            IngressError::Unroutable { .. } | IngressError::NoCompetentAgency { .. } => RefusalKind::Unroutable,
            IngressError::IdReused(_) => RefusalKind::Conflict,
            IngressError::Forbidden(_) => RefusalKind::Forbidden,
            IngressError::Unavailable(_) => RefusalKind::Unavailable,
        };
        Refusal { kind, reason: error.to_string(), violations: error.violations() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.reason, self.kind)?;
        for violation in &self.violations {
            write!(f, "; {}: {}", violation.pointer, violation.reason)?;
        }
        Ok(())
    }
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
        Ok(self.target.submit(&self.source, envelope).await?)
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
    /// Submissions still taken before an outage, and refused during it.
    outage: Mutex<Option<(usize, usize)>>,
}

impl Collected {
    pub fn envelopes(&self) -> Vec<Value> {
        crate::simulator::lock(&self.inner.envelopes).clone()
    }

    /// The broker goes away for a while: the next `take` submissions are taken, the `refuse`
    /// after them are refused as unavailable, and then they are taken again.
    pub fn outage_after(&self, take: usize, refuse: usize) {
        *crate::simulator::lock(&self.inner.outage) = Some((take, refuse));
    }

    /// Waits until the accepted envelopes satisfy `done`; false after `timeout`.
    pub async fn wait_until(&self, timeout: std::time::Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        self.inner.changes.wait_until(&self.inner.envelopes, timeout, |envelopes| done(envelopes)).await
    }
}

#[async_trait]
impl Submit for Collecting {
    async fn submit(&self, source: &str, mut envelope: Value) -> Result<Submitted, IngressError> {
        static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
        let catalogue = CATALOGUE.get_or_init(|| Catalogue::embedded().expect("the schemas compile"));
        if let Some((take, refuse)) = crate::simulator::lock(&self.outage).as_mut() {
            if *take > 0 {
                *take -= 1;
            } else if *refuse > 0 {
                *refuse -= 1;
                return Err(IngressError::Unavailable("the broker is unreachable".into()));
            }
        }
        envelope["source"] = Value::String(source.to_string());
        let checked = catalogue.check_envelope(envelope.clone()).map_err(IngressError::Invalid)?;
        let mut envelopes = crate::simulator::lock(&self.envelopes);
        let id = checked.id.to_string();
        if let Some(earlier) = envelopes.iter().find(|e| e["id"].as_str() == Some(&id)) {
            // As the bus: the same id is the same message, or a conflict.
            let same = serde_json::from_value::<crate::envelope::Envelope>(earlier.clone()).ok().map(|e| e.digest());
            return if same == Some(checked.digest()) {
                Ok(Submitted::Known)
            } else {
                Err(IngressError::IdReused(checked.id))
            };
        }
        envelopes.push(envelope);
        drop(envelopes);
        self.changes.bump();
        Ok(Submitted::Accepted)
    }
}
