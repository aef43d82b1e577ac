//! The plug-in contract between the bus and the external systems.
//!
//! An adapter only talks to its peer: it turns canonical messages into the peer's calls and says
//! how each one went. The engine (not the adapter) acks, retries, dead-letters, deduplicates,
//! orders and records; so an adapter stays a small client plus a pure mapping.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::ConfigProblem;
use crate::envelope::Envelope;

/// One message handed to an adapter.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Arc<Envelope>,
    /// A newer `seq` of the same (type, subject) already reached this adapter. The adapter must
    /// not send this message's state (it would overwrite newer state at the peer), but still
    /// sends its history entries (which carry their own time); it then answers `Superseded`.
    pub stale: bool,
    /// 1 on the first try, counting every earlier failure.
    pub attempt: u32,
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The peer accepted it.
    Delivered,
    /// A stale state update: not sent (its history entries, if any, were delivered).
    Superseded,
    /// Retrying may help: the peer answered 5xx, timed out or refused the connection.
    Transient(Failure),
    /// Retrying cannot help: the peer refused the message itself. Dead-lettered at once.
    Permanent(Failure),
}

/// Why a delivery failed, as an operator needs to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Short, specific, in plain words: "portal answered error_code 03: missing MaTTHC".
    pub reason: String,
    /// The peer's answer as received (status line and body, truncated), when there was one.
    pub peer_answer: Option<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), peer_answer: None }
    }

    pub fn with_answer(mut self, answer: impl Into<String>) -> Self {
        let mut answer: String = answer.into();
        if answer.len() > MAX_PEER_ANSWER {
            let mut cut = MAX_PEER_ANSWER;
            while !answer.is_char_boundary(cut) {
                cut -= 1;
            }
            answer.truncate(cut);
            answer.push('…');
        }
        self.peer_answer = Some(answer);
        self
    }
}

/// Enough of a peer's answer to explain a failure, small enough to keep with every dead letter.
const MAX_PEER_ANSWER: usize = 2048;

/// One request to a request/reply service, such as `citizen.verify`.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// The bus's id for this lookup, as its audit records it: give it to the peer as the
    /// request's id where the peer has one, so that both logs can be matched.
    pub request_id: String,
    pub service: String,
    /// The member asking (its systems answer for the lookup).
    pub member: String,
    /// The request, valid against `schemas/<service>.request.json`.
    pub body: serde_json::Value,
}

/// Why a service gave no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The peer refused the request itself (a SOAP fault for bad input, say): passed on to the
    /// caller as a problem it can act on.
    Refused(Failure),
    /// The peer failed or could not be reached.
    Unavailable(Failure),
}

/// A running adapter: the client of one external system. It consumes messages (`routes`,
/// `deliver`), answers request/reply services (`services`, `call`), or both.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// Routing-key patterns (AMQP topic syntax) of the messages it consumes, such as
    /// `dossier.status_changed.#`. Config may replace them (`routes = [...]`).
    fn routes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Most deliveries the engine may hand over in one call (peers that take lists).
    fn max_batch(&self) -> usize {
        1
    }

    /// Deliver to the peer. Returns exactly one outcome per delivery, in the same order. A batch
    /// holds messages of one lane in arrival order; one subject's messages keep their order.
    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let refusal = Failure::new("this adapter consumes no messages");
        vec![Outcome::Permanent(refusal); batch.len()]
    }

    /// Request/reply services it answers, such as `citizen.verify`.
    fn services(&self) -> Vec<String> {
        Vec::new()
    }

    /// Answers one request. The reply must be valid against `schemas/<service>.reply.json` (the
    /// bus checks it) and hold only what the request asked for.
    async fn call(&self, request: &ServiceRequest) -> Result<serde_json::Value, ServiceError> {
        Err(ServiceError::Unavailable(Failure::new(format!("{} is not served by this adapter", request.service))))
    }
}

/// A kind of adapter the binary can build from config, such as `dvc`. Kinds are registered in
/// one place (the binary); the bus never names one.
pub trait AdapterKind: Send + Sync + 'static {
    /// The `kind` value in `[adapters.<id>]`.
    fn name(&self) -> &'static str;

    /// Builds an adapter from its settings: the `[adapters.<id>]` table without the keys the bus
    /// owns (`kind`, `routes`, `delivery`). Reports every problem, keyed relative to that table.
    fn build(&self, id: &str, settings: &toml::Table) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>>;

    /// The simulator of this kind's peer, when it ships one.
    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        None
    }
}

/// A stand-in for an adapter's peer that follows the peer's contract, for the sandbox and tests.
#[async_trait]
pub trait Simulator: Send + Sync + 'static {
    /// Settings the adapter needs to talk to this simulator (credentials, say). In sandbox mode
    /// they fill in what the operator did not set; they never override the config.
    fn sandbox_settings(&self) -> toml::Table;

    /// Starts serving where the adapter's settings point (its `url`, which must be loopback),
    /// in the background, for as long as the process runs. Returns the bound address.
    async fn serve(&self, settings: &toml::Table) -> anyhow::Result<SocketAddr>;
}
