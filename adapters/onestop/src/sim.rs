//! A simulator of an agency's one-stop system: a real HTTP server that follows the contract (as
//! [`crate::mapping::wire`] records it) closely enough that switching to a real system is a
//! config change.
//!
//! Receiving, it is what the adapter talks to: an OAuth2 token endpoint (client credentials)
//! and the messages endpoint, which checks the bearer token and the envelope's shape, answers a
//! repeated Idempotency-Key with 409, and records per dossier every message it took, in arrival
//! order, with its annotations. It can be told to misbehave, from Rust
//! ([`OnestopSim::set_behaviour`]) or over HTTP (`PUT /_sim/behaviour`).
//!
//! Sending, it is what an agency's system does for the bus: [`OnestopSim::sender`] posts status
//! changes, results and postal orders about the dossiers it received (see [`sender`]).

pub mod sender;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lgsp_bus::ConfigProblem;
use lgsp_bus::config::{Settings, duration};
use lgsp_bus::schema::Catalogue;
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::config::OnestopConfig;
use crate::mapping::wire;

pub use sender::{BusAnswer, OnestopSender, SenderError};

/// Who may ask for tokens, where, and how long they last.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub client_id: String,
    pub client_secret: String,
    /// Full path of the token endpoint.
    pub token_endpoint: String,
    /// Full path of the messages endpoint.
    pub messages_endpoint: String,
    /// How long a token lasts, unless [`Behaviour::token_ttl`] says otherwise.
    pub token_ttl: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            client_id: "lgsp".into(),
            client_secret: SANDBOX_SECRET.into(),
            token_endpoint: "/oauth2/token".into(),
            messages_endpoint: wire::DEFAULT_MESSAGES_ENDPOINT.into(),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

/// How the simulator misbehaves; the default is a healthy system. Also the JSON of
/// `PUT /_sim/behaviour`, where every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls (0 to 1) answered HTTP 500.
    pub error_rate: f64,
    /// Share of calls (0 to 1) left unanswered for longer than any client waits.
    pub timeout_rate: f64,
    /// Every call answered HTTP 503.
    pub down: bool,
    /// Lifetime of the tokens issued from now on, such as `"2s"`; short ones force renewals.
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<Duration>,
    /// Every message answered 401, whatever its token (a system that lost its signing keys).
    pub refuse_tokens: bool,
    /// Messages about these dossiers (by code) refused with 422 and the reason given.
    pub refuse_dossiers: BTreeMap<String, String>,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)?;
        if self.token_ttl.is_some_and(|ttl| ttl < Duration::from_secs(1)) {
            return Err(ConfigProblem::new("token_ttl", "must be at least 1s (expires_in counts seconds)"));
        }
        Ok(())
    }
}

/// One message the system took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedMessage {
    pub id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub source: String,
    pub subject: String,
    pub seq: u64,
    pub occurred_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub payload: Value,
    /// What the bus added: `routing`, `documents_reuse`.
    pub annotations: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// One message the sender posted to the bus, and what the bus answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    pub id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub seq: u64,
    /// The bus's last answer.
    pub status: u16,
    /// 1, or more when the bus answered 503 and the sender tried again.
    pub attempts: u32,
}

/// What the system holds about one dossier.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierRecord {
    /// Every message taken about it, in arrival order, with its annotations.
    pub messages: Vec<ReceivedMessage>,
    /// The dossier as this system holds it: its `dossier.submitted` payload, then as the sender
    /// moved it on. None until a `dossier.submitted` arrives.
    pub state: Option<Value>,
    /// What the sender posted about it, in order.
    pub sent: Vec<SentMessage>,
    /// The last `seq` the sender used for it (every type shares one counter, so it rises per dossier).
    pub seq: u64,
}

/// One call to the messages endpoint that got past any misbehaviour, and how it was answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    /// The Idempotency-Key header, if any.
    pub idempotency_key: Option<String>,
    pub status: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Everything the simulator recorded; what [`OnestopSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    /// Every message taken, in arrival order.
    pub messages: Vec<ReceivedMessage>,
    pub dossiers: BTreeMap<String, DossierRecord>,
    /// Every call to the messages endpoint, in arrival order, whatever its answer.
    pub calls: Vec<RecordedCall>,
    /// Tokens issued.
    pub tokens_issued: usize,
    /// Access token → when it expires, on the simulator's clock.
    tokens: HashMap<String, OffsetDateTime>,
    /// Idempotency keys of the messages taken.
    keys: HashSet<String>,
}

impl SimState {
    /// Answers of the messages endpoint with this status.
    pub fn answered(&self, status: u16) -> usize {
        self.calls.iter().filter(|call| call.status == status).count()
    }

    pub fn dossier(&self, code: &str) -> Option<&DossierRecord> {
        self.dossiers.get(code)
    }
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct OnestopSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    /// How it misbehaves, and its clock: ahead when tests expire tokens without sleeping.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded message, call, token and reset; wakes `wait_until`.
    changes: Changes,
}

impl OnestopSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<OnestopSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<OnestopSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        if options.token_endpoint == options.messages_endpoint {
            let reason = "the token and messages endpoints must differ";
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason));
        }
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            changes: Changes::default(),
        });
        let served = Served::spawn(listener, scheme, router(shared.clone()), "onestop_sim_stopped")?;
        Ok(OnestopSim { shared, served })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The `url` to configure: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> Url {
        self.served.url()
    }

    pub fn options(&self) -> &SimOptions {
        &self.shared.options
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.controls.set_behaviour(behaviour);
    }

    pub fn behaviour(&self) -> Behaviour {
        self.shared.controls.behaviour()
    }

    /// Moves the simulator's clock on, so that tokens expire without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.controls.advance_clock(by);
    }

    /// Forgets every token it issued, as a system that restarted would.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.state).tokens.clear();
    }

    /// Forgets every message, dossier, call and token, and behaves again.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Every message taken, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.shared.state).messages.clone()
    }

    pub fn dossier(&self, code: &str) -> Option<DossierRecord> {
        lock(&self.shared.state).dossiers.get(code).cloned()
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    pub fn tokens_issued(&self) -> usize {
        lock(&self.shared.state).tokens_issued
    }

    /// Waits until `predicate` holds, checking it after each change; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }

    /// This system as a member of a bus: `member` is its id there (the envelopes' `source`),
    /// `bus` the bus's base URL (`POST {bus}/v1/messages`).
    /// Sends to the bus at `bus` as `member`, whose client secret there is `secret`.
    pub fn sender(&self, member: &str, secret: &str, bus: &Url) -> OnestopSender {
        OnestopSender::new(self.shared.clone(), member, secret, bus)
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let options = &shared.options;
    Router::new()
        .route(&options.token_endpoint, post(token))
        .route(&options.messages_endpoint, post(message))
        .route("/_sim/messages", get(control_messages))
        .route("/_sim/received", get(control_received))
        .route("/_sim/dossiers/{code}", get(control_dossier))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/revoke", post(control_revoke))
        .route("/_sim/reset", post(control_reset))
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

/// A refusal, as OAuth2 (RFC 6749 §5.2) and the system shape them: `{error, message}`.
fn refusal(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = json!({ wire::ERROR: error, wire::ERROR_DESCRIPTION: message, wire::MESSAGE: message });
    (status, Json(body)).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case(wire::FORM_CONTENT_TYPE));
    if !is_form {
        return refusal(StatusCode::BAD_REQUEST, "invalid_request", "the token request must be a form");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |key: &str| form.get(key).map(String::as_str);
    match field(wire::GRANT_TYPE) {
        Some(wire::CLIENT_CREDENTIALS) => {}
        Some(other) => {
            let message = format!("grant_type `{other}` is not supported; use client_credentials");
            return refusal(StatusCode::BAD_REQUEST, "unsupported_grant_type", message);
        }
        None => return refusal(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    }
    let options = &shared.options;
    if field(wire::CLIENT_ID) != Some(&options.client_id) || field(wire::CLIENT_SECRET) != Some(&options.client_secret)
    {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    }
    let ttl = shared.controls.behaviour().token_ttl.unwrap_or(options.token_ttl);
    let access_token: String = std::iter::repeat_with(fastrand::alphanumeric).take(40).collect();
    let expires = shared.controls.now() + ttl;
    {
        let mut state = lock(&shared.state);
        state.tokens.insert(access_token.clone(), expires);
        state.tokens_issued += 1;
    }
    shared.changes.bump();
    let answer = json!({
        wire::ACCESS_TOKEN: access_token,
        wire::TOKEN_TYPE: wire::BEARER,
        wire::EXPIRES_IN: ttl.as_secs(),
    });
    // RFC 6749 §5.1: a token answer is never cached.
    let no_store = [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")];
    (no_store, Json(answer)).into_response()
}

async fn message(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let key = headers.get(wire::IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).map(String::from);
    let response = shared.take(&headers, key.as_deref(), &body);
    let mut state = lock(&shared.state);
    state.calls.push(RecordedCall {
        idempotency_key: key,
        status: response.status().as_u16(),
        at: shared.controls.now(),
    });
    drop(state);
    shared.changes.bump();
    response
}

async fn control_messages(State(shared): State<Arc<Shared>>) -> Json<Vec<ReceivedMessage>> {
    Json(lock(&shared.state).messages.clone())
}

/// `GET /_sim/received`: the id of every message the system took, in order.
async fn control_received(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let ids: Vec<String> = lock(&shared.state).messages.iter().map(|m| m.id.clone()).collect();
    Json(json!({ "received": ids }))
}

async fn control_dossier(State(shared): State<Arc<Shared>>, Path(code): Path<String>) -> Response {
    match lock(&shared.state).dossiers.get(&code) {
        Some(record) => Json(record.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no dossier {code}")).into_response(),
    }
}

async fn control_calls(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedCall>> {
    Json(lock(&shared.state).calls.clone())
}

async fn control_revoke(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.state).tokens.clear();
    StatusCode::NO_CONTENT
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

impl Shared {
    fn reset(&self) {
        *lock(&self.state) = SimState::default();
        self.controls.reset();
        self.changes.bump();
    }

    /// The answer to give instead of the real one, if the simulator is told to misbehave.
    async fn misbehave(&self) -> Option<Response> {
        let b = self.controls.behaviour();
        Some(match fault(b.latency_ms, b.down, b.error_rate, b.timeout_rate).await? {
            Fault::Down => refusal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Hệ thống đang bảo trì (mô phỏng)"),
            Fault::Hang => hang().await,
            Fault::Error => refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Lỗi hệ thống (mô phỏng)"),
        })
    }

    /// Checks and keeps one message; the answer says how it went.
    fn take(&self, headers: &HeaderMap, key: Option<&str>, body: &[u8]) -> Response {
        let behaviour = self.controls.behaviour();
        let now = self.controls.now();
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(wire::BEARER))
            .map(|(_, token)| token.trim());
        let token_valid = !behaviour.refuse_tokens
            && presented.and_then(|token| lock(&self.state).tokens.get(token).copied()).is_some_and(|exp| exp > now);
        if !token_valid {
            let mut response = refusal(StatusCode::UNAUTHORIZED, "invalid_token", "Token không hợp lệ hoặc đã hết hạn");
            let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            return response;
        }
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return refusal(StatusCode::BAD_REQUEST, "invalid_request", "Nội dung không phải là JSON");
        };
        let mut message = match check_envelope(&body) {
            Ok(message) => message,
            Err(reason) => return refusal(StatusCode::BAD_REQUEST, "invalid_envelope", reason),
        };
        if let Err(reason) = check_payload(&body) {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, "invalid_message", reason);
        }
        match key {
            None => {
                let reason = format!("Thiếu header {}", wire::IDEMPOTENCY_KEY);
                return refusal(StatusCode::BAD_REQUEST, "invalid_request", reason);
            }
            Some(key) if key != message.id => {
                let reason = format!("{} phải là id của tin nhắn", wire::IDEMPOTENCY_KEY);
                return refusal(StatusCode::BAD_REQUEST, "invalid_request", reason);
            }
            Some(_) => {}
        }
        let mut state = lock(&self.state);
        if state.keys.contains(&message.id) {
            return refusal(
                StatusCode::CONFLICT,
                "duplicate",
                format!("Đã tiếp nhận tin nhắn {} trước đó", message.id),
            );
        }
        if let Some(reason) = behaviour.refuse_dossiers.get(&message.subject) {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, "refused", reason.clone());
        }
        message.received_at = now;
        state.keys.insert(message.id.clone());
        state.messages.push(message.clone());
        let record = state.dossiers.entry(message.subject.clone()).or_default();
        // A dossier this system has not moved on yet takes its latest reception as its state.
        if message.message_type == sender::SUBMITTED && record.sent.is_empty() {
            let mut state = message.payload.clone();
            // The competent agency takes the dossier over: it handles it from now on, wherever it
            // was handed in.
            if let Some(agency) = message.annotations["routing"]["agency"].as_str() {
                state["agency_code"] = agency.into();
            }
            record.state = Some(state);
        }
        let id = message.id.clone();
        record.messages.push(message);
        (StatusCode::OK, Json(json!({"id": id, wire::MESSAGE: "Đã tiếp nhận"}))).into_response()
    }
}

/// Checks the message against the canonical schemas, which are the system's contract as they are
/// the bus's: the first violation, if any.
fn check_payload(body: &Value) -> Result<(), String> {
    static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    let catalogue = CATALOGUE.get_or_init(|| Catalogue::embedded().expect("the schemas compile"));
    let mut envelope = body.clone();
    if let Some(fields) = envelope.as_object_mut() {
        fields.remove(wire::ANNOTATIONS);
    }
    match catalogue.check_envelope(envelope) {
        Ok(_) => Ok(()),
        Err(violations) => {
            let first = &violations[0];
            Err(format!("Tin nhắn không hợp lệ: {} {}", first.pointer, first.reason))
        }
    }
}

/// Checks the request body's shape: the envelope's members, typed, and `annotations`; nothing else.
fn check_envelope(body: &Value) -> Result<ReceivedMessage, String> {
    const MEMBERS: [&str; 9] =
        ["id", "type", "source", "subject", "seq", "occurred_at", "correlation_id", "payload", "annotations"];
    let fields: &Map<String, Value> = body.as_object().ok_or("Nội dung phải là một đối tượng JSON")?;
    if let Some(unknown) = fields.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!("Trường `{unknown}` không thuộc phong bì tin nhắn"));
    }
    let text = |key: &str| -> Result<String, String> {
        match fields.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(_) => Err(format!("Trường `{key}` phải là chuỗi không rỗng")),
            None => Err(format!("Thiếu trường `{key}`")),
        }
    };
    let id = text("id")?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(format!("Trường `id` không phải UUID: {id}"));
    }
    let message_type = text("type")?;
    if !message_type.contains('.') {
        return Err(format!("Trường `type` không phải loại tin nhắn: {message_type}"));
    }
    let occurred_at = text("occurred_at")?;
    if OffsetDateTime::parse(&occurred_at, &Rfc3339).is_err() {
        return Err("Trường `occurred_at` không đúng định dạng RFC 3339".into());
    }
    let seq = fields.get("seq").and_then(Value::as_u64).ok_or("Trường `seq` phải là số nguyên không âm")?;
    let correlation_id = match fields.get("correlation_id") {
        None => None,
        Some(_) => Some(text("correlation_id")?),
    };
    let object = |key: &str| match fields.get(key) {
        Some(value @ Value::Object(_)) => Ok(value.clone()),
        Some(_) => Err(format!("Trường `{key}` phải là đối tượng JSON")),
        None => Err(format!("Thiếu trường `{key}`")),
    };
    Ok(ReceivedMessage {
        id,
        message_type,
        source: text("source")?,
        subject: text("subject")?,
        seq,
        occurred_at,
        correlation_id,
        payload: object("payload")?,
        annotations: object("annotations")?,
        received_at: OffsetDateTime::UNIX_EPOCH,
    })
}

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point.
pub struct OnestopSimulator;

/// What sandbox mode fills in when the operator set no client secret.
pub const SANDBOX_SECRET: &str = "sandbox";

#[async_trait]
impl lgsp_bus::Simulator for OnestopSimulator {
    fn sandbox_settings(&self) -> toml::Table {
        let mut settings = toml::Table::new();
        settings.insert("client_secret".into(), SANDBOX_SECRET.into());
        settings
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let config = OnestopConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let secret = config
            .client_secret
            .as_ref()
            .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("client_secret", "is required")))?;
        let (token_url, messages_url) = (config.token_url(), config.messages_url());
        if token_url.origin() != messages_url.origin() {
            let reason = format!(
                "the one-stop simulator serves its token endpoint beside its messages endpoint; {token_url} is \
                 elsewhere: make token_endpoint a path"
            );
            return Err(SimulatorError::Settings(ConfigProblem::new("token_endpoint", reason)));
        }
        let options = SimOptions {
            client_id: config.client_id.clone(),
            client_secret: secret.expose().to_string(),
            token_endpoint: token_url.path().to_string(),
            messages_endpoint: messages_url.path().to_string(),
            ..SimOptions::default()
        };
        let scheme = listener.scheme();
        let sim = OnestopSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Value {
        json!({
            "id": "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e21", "type": "payment.status", "source": "dvc.payment",
            "subject": "000.00.01.H42-261120-0003", "seq": 2, "occurred_at": "2026-11-20T09:00:05+07:00",
            "payload": {"dossier_code": "000.00.01.H42-261120-0003"}, "annotations": {}
        })
    }

    fn refusal(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut body = envelope();
        change(body.as_object_mut().unwrap());
        check_envelope(&body).unwrap_err()
    }

    #[test]
    fn the_envelope_shape_is_checked_member_by_member() {
        let message = check_envelope(&envelope()).unwrap();
        assert_eq!((message.seq, message.message_type.as_str()), (2, "payment.status"));
        assert_eq!(refusal(|b| drop(b.remove("annotations"))), "Thiếu trường `annotations`");
        assert!(refusal(|b| drop(b.insert("annotations".into(), json!([])))).contains("annotations"));
        assert!(refusal(|b| drop(b.insert("seq".into(), json!(-1)))).contains("seq"));
        assert!(refusal(|b| drop(b.insert("id".into(), json!("x")))).contains("UUID"));
        assert!(refusal(|b| drop(b.insert("occurred_at".into(), json!("20/11/2026")))).contains("occurred_at"));
        assert!(refusal(|b| drop(b.insert("payload".into(), json!("x")))).contains("payload"));
        assert!(refusal(|b| drop(b.insert("subject".into(), json!("")))).contains("subject"));
        assert!(refusal(|b| drop(b.insert("extra".into(), json!(1)))).contains("extra"));
        assert!(check_envelope(&json!([1])).is_err());
    }

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_value(json!({"down": true})).unwrap();
        assert_eq!(behaviour, Behaviour { down: true, ..Behaviour::default() });
        let refusing: Behaviour =
            serde_json::from_value(json!({"refuse_dossiers": {"000.00.01.H42-261120-0001": "Thiếu tờ khai"}})).unwrap();
        assert_eq!(refusing.refuse_dossiers["000.00.01.H42-261120-0001"], "Thiếu tờ khai");
        let short: Behaviour = serde_json::from_value(json!({"token_ttl": "2s"})).unwrap();
        assert_eq!(short.token_ttl, Some(Duration::from_secs(2)));
        assert!(serde_json::from_value::<Behaviour>(json!({"dwon": true})).is_err());
        assert!(Behaviour { error_rate: 1.5, ..Behaviour::default() }.check().is_err());
        assert!(Behaviour { token_ttl: Some(Duration::from_millis(500)), ..Behaviour::default() }.check().is_err());
    }
}
