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
use crate::memory::Memory;
use crate::outbox::Outbox;
use crate::simulator::{SimListener, SimulatorError};

/// One message handed to an adapter.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Arc<Envelope>,
    /// What the bus adds at ingress beside the sender's envelope, an object of: `routing` (the
    /// competent agency and why) and, for a dossier.submitted, `documents_reuse` (the papers its
    /// procedure needs and those already on file). Empty when there is nothing to add.
    pub annotations: Arc<serde_json::Value>,
    /// A newer `seq` of the same (type, subject) already reached this adapter. Only types that
    /// carry state (`x-lgsp-state` in their schema) are ever stale. The adapter must not send
    /// this message's state (it would overwrite newer state at the peer), but still sends its
    /// history entries (which carry their own time), and answers `Superseded`.
    pub stale: bool,
    /// 1 on the first try, counting every earlier failure.
    pub attempt: u32,
    /// An earlier attempt may have reached the peer without the bus learning how it went (the
    /// bus stopped mid-call, or the call timed out after it was sent). An adapter whose peer
    /// can be asked should check before sending again, so the peer does not get it twice; if
    /// it cannot check, its failure should be marked [`Failure::uncertain`] so the next attempt
    /// checks again.
    pub uncertain: bool,
    /// What the peer answered, noted by the adapter with [`Delivery::answered`].
    pub answer: PeerAnswer,
}

impl Delivery {
    /// A first try of `envelope`, current, with nothing added at ingress.
    pub fn new(envelope: Arc<Envelope>) -> Delivery {
        Delivery {
            envelope,
            annotations: Arc::new(serde_json::Value::Object(Default::default())),
            stale: false,
            attempt: 1,
            uncertain: false,
            answer: PeerAnswer::default(),
        }
    }

    /// Notes the peer's answer to this delivery, its body as received, so that the message log
    /// can keep its digest with the outcome (the evidence of what the peer said). An adapter
    /// calls it for every delivery its peer took; when one took several calls, the last answer
    /// counts.
    pub fn answered(&self, body: impl AsRef<[u8]>) {
        let body = body.as_ref();
        let text = self.answer.keep_text.then(|| cut_answer(String::from_utf8_lossy(body).into_owned()));
        *self.answer.slot() = Some(Answer { digest: crate::envelope::sha256_hex(body), text });
    }
}

/// A peer's answer to one delivery, once the adapter has noted it in the delivery the engine
/// handed over (a clone is a copy): its SHA-256 (hex), and for a test message its text too.
#[derive(Debug, Default)]
pub struct PeerAnswer {
    answer: std::sync::Mutex<Option<Answer>>,
    keep_text: bool,
}

#[derive(Debug, Clone)]
struct Answer {
    digest: String,
    /// As received, cut to `MAX_PEER_ANSWER`.
    text: Option<String>,
}

impl PeerAnswer {
    /// One that keeps the answer's text as well (a test message's, to show the caller).
    pub fn keeping_text() -> Self {
        PeerAnswer { keep_text: true, ..Default::default() }
    }

    pub fn digest(&self) -> Option<String> {
        self.slot().as_ref().map(|a| a.digest.clone())
    }

    /// The answer's text, when kept.
    pub fn text(&self) -> Option<String> {
        self.slot().as_ref().and_then(|a| a.text.clone())
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Answer>> {
        self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clone for PeerAnswer {
    fn clone(&self) -> Self {
        PeerAnswer { answer: std::sync::Mutex::new(self.slot().clone()), keep_text: self.keep_text }
    }
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
    /// What kind of answer it was, in a form the per-adapter policy can name (see
    /// `delivery.permanent` and `delivery.transient`): `http:<status>` for an HTTP status,
    /// `answer:<code>` for the peer's own refusal code, `unreachable`, `timeout`.
    pub code: Option<String>,
    /// The call may have reached the peer (it timed out after being sent): the next attempt is
    /// marked [`Delivery::uncertain`].
    pub uncertain: bool,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), peer_answer: None, code: None, uncertain: false }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Marks that the peer may have taken the call.
    pub fn uncertain(mut self) -> Self {
        self.uncertain = true;
        self
    }

    pub fn with_answer(mut self, answer: impl Into<String>) -> Self {
        self.peer_answer = Some(cut_answer(answer.into()));
        self
    }
}

/// Enough of a peer's answer to explain a failure, small enough to keep with every dead letter.
const MAX_PEER_ANSWER: usize = 2048;

/// A peer's answer cut to `MAX_PEER_ANSWER` bytes.
fn cut_answer(answer: String) -> String {
    crate::shortened(answer, MAX_PEER_ANSWER)
}

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

    /// Work the adapter does on its own for as long as the bus runs, such as polling its peer
    /// for changes; what it learns goes into the bus through `outbox`. It returns when
    /// `shutdown` is cancelled (the bus then waits for it). The engine restarts it, after a
    /// pause, if it ever returns early.
    async fn run(&self, outbox: Outbox, shutdown: tokio_util::sync::CancellationToken) {
        let _ = outbox;
        shutdown.cancelled().await;
    }

    /// A call from the peer to `POST /v1/adapters/{id}/webhook`: check that it comes from the
    /// peer (a signature, say), submit what it says through `outbox`, and answer.
    async fn webhook(&self, request: WebhookRequest, outbox: &Outbox) -> WebhookResponse {
        let _ = (request, outbox);
        WebhookResponse::new(404, "this adapter takes no webhook")
    }
}

/// An inbound call from a peer.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

impl WebhookRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The answer to a webhook: a status and a short plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

impl WebhookResponse {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into() }
    }
}

/// A kind of adapter the binary can build from config, such as `dvc`. Kinds are registered in
/// one place (the binary); the bus never names one.
pub trait AdapterKind: Send + Sync + 'static {
    /// The `kind` value in `[adapters.<id>]`.
    fn name(&self) -> &'static str;

    /// Builds an adapter from its settings: the `[adapters.<id>]` table without the keys the bus
    /// owns (`kind`, `routes`, `delivery`, `requests`). Reports every problem, keyed relative to
    /// that table.
    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        context: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>>;

    /// The simulator of this kind's peer, when it ships one.
    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        None
    }
}

/// What the bus gives an adapter when it builds it.
#[derive(Clone)]
pub struct BuildContext {
    /// The adapter's own memory, kept across restarts.
    pub memory: Memory,
}

impl BuildContext {
    /// For tests and checks: memory that is not kept.
    pub fn ephemeral(id: &str) -> BuildContext {
        BuildContext { memory: Memory::in_memory(id) }
    }
}

/// A stand-in for an adapter's peer that follows the peer's contract, for the sandbox and tests.
#[async_trait]
pub trait Simulator: Send + Sync + 'static {
    /// Settings the adapter needs to talk to this simulator (credentials, say). In sandbox mode
    /// they fill in what the operator did not set; they never override the config.
    fn sandbox_settings(&self) -> toml::Table;

    /// Starts serving on `listener` (plain or TLS) as the peer the adapter's `settings` describe,
    /// in the background, for as long as the process runs. Returns the bound address.
    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError>;

    /// Starts serving where the adapter's `url` points, which must be plain http on loopback.
    async fn serve(&self, settings: &toml::Table) -> Result<SocketAddr, SimulatorError> {
        let addr = crate::simulator::sandbox_address(settings)?;
        let tcp =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| SimulatorError::Listen { addr, source })?;
        self.serve_on(settings, SimListener::plain(tcp)).await
    }
}
