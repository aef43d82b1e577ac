//! A simulator of an agency's service as the adapter's settings describe it: a real HTTP server
//! that records every call and follows the generic contract, so that an agency (and the tests)
//! can see what its service will receive before it exists.
//!
//! It takes deliveries at `{url}{path}` with the configured method, answers each service at its
//! path with the reply in `[simulator.replies."<service>"]`, and checks the auth the settings
//! configure: the bearer token, the HMAC signature of the body, or, for OAuth2, tokens it issued
//! itself at the `auth.token_url` path (mutual TLS is checked by the TLS listener it is given).
//! When the settings name an `answer_code`, its answers carry a success code there. It can be
//! told to misbehave, from Rust ([`HttpSim::set_behaviour`]) or over HTTP (`PUT /_sim/behaviour`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use lgsp_bus::ConfigProblem;
use lgsp_bus::config::{Settings, duration};
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use crate::adapter::headers;
use crate::auth::{self, SignatureError};
use crate::config::{AuthKind, HttpConfig, SANDBOX_SECRETS};

/// What the sandbox fills in for each secret the operator did not set.
pub const SANDBOX_SECRET: &str = "sandbox-only-not-a-real-secret";

/// The service the simulator stands in for, as the adapter's settings describe it.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Full path of the delivery call, and its method.
    pub delivery_path: String,
    pub method: Method,
    /// Service name by full path.
    pub services: BTreeMap<String, String>,
    pub auth: SimAuth,
    /// Where its answers carry their code (a JSON pointer), and the codes that mean "taken"
    /// (the first is the one it answers).
    pub answer_code: Option<(String, Vec<String>)>,
    /// The reply of each service, by name.
    pub replies: BTreeMap<String, Value>,
    /// How long a token it issues lasts, unless [`Behaviour::token_ttl`] says otherwise.
    pub token_ttl: Duration,
}

/// The auth the simulator checks.
#[derive(Clone, PartialEq, Eq)]
pub enum SimAuth {
    None,
    Bearer(String),
    /// Tokens are issued at `token_path` for this client, and checked.
    OAuth2 {
        token_path: String,
        client_id: String,
        client_secret: String,
    },
    /// Checked by the TLS listener, if it asks for client certificates.
    Mtls,
    Hmac {
        secret: String,
        header: String,
    },
}

impl std::fmt::Debug for SimAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimAuth::None => f.write_str("None"),
            SimAuth::Bearer(_) => f.write_str("Bearer(***)"),
            SimAuth::OAuth2 { token_path, client_id, .. } => {
                write!(f, "OAuth2 {{ token_path: {token_path:?}, client_id: {client_id:?}, client_secret: *** }}")
            }
            SimAuth::Mtls => f.write_str("Mtls"),
            SimAuth::Hmac { header, .. } => write!(f, "Hmac {{ secret: ***, header: {header:?} }}"),
        }
    }
}

impl SimOptions {
    /// The service an adapter with `settings` calls. Its secrets must be set (the sandbox's
    /// `sandbox_settings` of [`HttpSimulator`] fill in the ones the operator did not).
    pub fn from_settings(settings: &toml::Table) -> Result<SimOptions, SimulatorError> {
        let config = HttpConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let required = |key: &'static str, secret: &Option<lgsp_bus::Secret>| {
            secret
                .as_ref()
                .map(|s| s.expose().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new(key, "is required")))
        };
        let auth = &config.auth;
        let sim_auth = match auth.kind {
            AuthKind::None => SimAuth::None,
            AuthKind::Mtls => SimAuth::Mtls,
            AuthKind::Bearer => SimAuth::Bearer(required("auth.token", &auth.token)?),
            AuthKind::Hmac => SimAuth::Hmac {
                secret: required("auth.secret", &auth.secret)?,
                header: config.signature_header().to_ascii_lowercase(),
            },
            AuthKind::Oauth2 => SimAuth::OAuth2 {
                token_path: config
                    .token_url()
                    .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("auth.token_url", "is required")))?
                    .path()
                    .to_string(),
                client_id: auth.client_id.clone().unwrap_or_default(),
                client_secret: required("auth.client_secret", &auth.client_secret)?,
            },
        };
        let services = config
            .services
            .keys()
            .filter_map(|name| Some((config.service_url(name)?.path().to_string(), name.clone())))
            .collect();
        let replies = config.simulator.replies.iter().map(|(name, reply)| (name.clone(), json_of(reply))).collect();
        Ok(SimOptions {
            delivery_path: config.delivery_url().path().to_string(),
            method: match config.method {
                crate::config::Method::Post => Method::POST,
                crate::config::Method::Put => Method::PUT,
            },
            services,
            auth: sim_auth,
            answer_code: config.answer_code.clone().map(|pointer| (pointer, config.success_codes())),
            replies,
            token_ttl: Duration::from_secs(3600),
        })
    }
}

/// A TOML value as the JSON a service answers.
fn json_of(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        toml::Value::Table(table) => Value::Object(table.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
    }
}

/// How the simulator misbehaves; the default is a healthy service. Also the JSON of
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
    /// Every delivery and service call answered with this 4xx status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_status: Option<u16>,
    /// Every delivery answered 200 with this code at the settings' `answer_code` (`/code` when
    /// they name none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_code: Option<String>,
    /// Lifetime of the OAuth2 tokens issued from now on, such as `"2s"`.
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<Duration>,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)?;
        if self.reject_status.is_some_and(|status| !(400..=499).contains(&status)) {
            return Err(ConfigProblem::new("reject_status", "must be a 4xx status, such as 422"));
        }
        if self.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(ConfigProblem::new("token_ttl", "must be more than 0"));
        }
        Ok(())
    }
}

/// Which kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    Delivery,
    Service,
}

/// How a call's auth was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthCheck {
    /// Nothing to check (`none`, or `mtls`, which the listener checks).
    Unchecked,
    Ok,
    Missing,
    Wrong,
}

/// One call that reached the service (after any misbehaviour), whatever it was answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    pub kind: CallKind,
    /// The service called, for a service call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub method: String,
    pub path: String,
    /// Header names in lower case; without `Authorization`, `Proxy-Authorization` and `Cookie`.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON, or as text when it is not JSON.
    pub body: Value,
    pub auth: AuthCheck,
    /// The status it was answered.
    pub status: u16,
    /// A delivery answered as taken.
    pub taken: bool,
}

impl RecordedCall {
    /// The header `name` (lower case), as received.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Everything the simulator recorded; what [`HttpSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    /// Deliveries and service calls, in arrival order.
    pub calls: Vec<RecordedCall>,
    /// Tokens issued.
    pub logins: usize,
    /// Calls left unanswered on purpose (`timeout_rate`).
    pub withheld: usize,
    /// Token → when it expires, on the simulator's clock.
    tokens: HashMap<String, OffsetDateTime>,
}

impl SimState {
    /// The `Idempotency-Key` of every delivery taken, in order, with repeats.
    pub fn received(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|call| call.kind == CallKind::Delivery && call.taken)
            .filter_map(|call| call.header(headers::IDEMPOTENCY_KEY).map(String::from))
            .collect()
    }
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct HttpSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    /// How it misbehaves, and its clock: ahead when tests expire tokens without sleeping.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded call, token and reset; wakes `wait_until`.
    changes: Changes,
}

impl HttpSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<HttpSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<HttpSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            changes: Changes::default(),
        });
        let served = Served::spawn(listener, scheme, router(shared.clone()), "http_sim_stopped")?;
        Ok(HttpSim { shared, served })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// Its origin, such as `http://127.0.0.1:PORT`: the settings' `url` keeps its own path.
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

    /// Forgets every token it issued, as an identity server that restarted would.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.state).tokens.clear();
    }

    /// Forgets every call and token, and behaves again.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    /// The `Idempotency-Key` of every delivery taken, in order.
    pub fn received(&self) -> Vec<String> {
        lock(&self.shared.state).received()
    }

    pub fn logins(&self) -> usize {
        lock(&self.shared.state).logins
    }

    /// Waits until `predicate` holds, checking it after each change; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/received", get(control_received))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/revoke", post(control_revoke))
        .route("/_sim/reset", post(control_reset))
        // The service's paths come from the settings; matched by hand so that any path works.
        .fallback(service)
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

/// An answer as a JSON service would give it.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The refusal of a call whose auth does not hold.
fn unauthorized(check: AuthCheck, why: &str) -> Response {
    let error = if check == AuthCheck::Missing { "missing_credentials" } else { "invalid_credentials" };
    let mut response = answer(StatusCode::UNAUTHORIZED, json!({"error": error, "message": why}));
    let challenge = header::HeaderValue::from_static("Bearer realm=\"lgsp-sim\"");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

async fn service(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let options = &shared.options;
    let token_path = match &options.auth {
        SimAuth::OAuth2 { token_path, .. } => Some(token_path.as_str()),
        _ => None,
    };
    let kind = if token_path == Some(path) && method == Method::POST {
        None
    } else if path == options.delivery_path && method == options.method {
        Some((CallKind::Delivery, None))
    } else if let Some(name) = options.services.get(path).filter(|_| method == Method::POST) {
        Some((CallKind::Service, Some(name.clone())))
    } else {
        let known = path == options.delivery_path || options.services.contains_key(path) || token_path == Some(path);
        let status = if known { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::NOT_FOUND };
        return answer(status, json!({"error": "no_such_endpoint", "message": format!("no {method} {path} here")}));
    };
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let Some((kind, service)) = kind else {
        return shared.token(&headers, &body);
    };
    let check = shared.check_auth(&headers, &body);
    let response = match check {
        AuthCheck::Missing | AuthCheck::Wrong => unauthorized(check, shared.auth_problem(check)),
        AuthCheck::Ok | AuthCheck::Unchecked => match shared.controls.behaviour().reject_status {
            Some(status) => answer(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                json!({"error": "rejected", "message": "rejected by the simulator (reject_status)"}),
            ),
            None => match &service {
                None => shared.take(&headers, &body),
                Some(name) => shared.reply(name, &body),
            },
        },
    };
    shared.record(kind, service, &method, path, &headers, &body, check, response)
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
            Fault::Down => answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "message": "the service is down (simulated)"}),
            ),
            Fault::Hang => {
                lock(&self.state).withheld += 1;
                self.changes.bump();
                hang().await
            }
            Fault::Error => answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal", "message": "the service failed (simulated)"}),
            ),
        })
    }

    /// The token endpoint: client credentials, the client by HTTP Basic or in the form.
    fn token(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let SimAuth::OAuth2 { client_id, client_secret, .. } = &self.options.auth else {
            return answer(StatusCode::NOT_FOUND, json!({"error": "no_such_endpoint"}));
        };
        let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            let refusal = json!({
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be client_credentials",
            });
            return answer(StatusCode::BAD_REQUEST, refusal);
        }
        let decode = |text: &str| {
            url::form_urlencoded::parse(format!("v={text}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                Some((decode(id)?, decode(secret)?))
            });
        let presented = basic.or_else(|| Some((form.get("client_id")?.clone(), form.get("client_secret")?.clone())));
        if presented.as_ref() != Some(&(client_id.clone(), client_secret.clone())) {
            let refusal = json!({"error": "invalid_client", "error_description": "Client authentication failed."});
            return answer(StatusCode::UNAUTHORIZED, refusal);
        }
        let ttl = self.controls.behaviour().token_ttl.unwrap_or(self.options.token_ttl);
        let token: String = std::iter::repeat_with(fastrand::alphanumeric).take(40).collect();
        {
            let mut state = lock(&self.state);
            state.tokens.insert(token.clone(), self.controls.now() + ttl);
            state.logins += 1;
        }
        self.changes.bump();
        let expires_in = ttl.as_secs_f64().ceil() as u64;
        answer(StatusCode::OK, json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}))
    }

    fn check_auth(&self, headers: &HeaderMap, body: &[u8]) -> AuthCheck {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        match &self.options.auth {
            SimAuth::None | SimAuth::Mtls => AuthCheck::Unchecked,
            SimAuth::Bearer(token) => match bearer {
                None => AuthCheck::Missing,
                Some(presented) if presented == token => AuthCheck::Ok,
                Some(_) => AuthCheck::Wrong,
            },
            SimAuth::OAuth2 { .. } => match bearer {
                None => AuthCheck::Missing,
                Some(presented) => {
                    let expires = lock(&self.state).tokens.get(presented).copied();
                    if expires.is_some_and(|at| at > self.controls.now()) { AuthCheck::Ok } else { AuthCheck::Wrong }
                }
            },
            SimAuth::Hmac { secret, header } => {
                let signature = headers.get(header.as_str()).and_then(|v| v.to_str().ok());
                match auth::verify(secret, body, signature) {
                    Ok(()) => AuthCheck::Ok,
                    Err(SignatureError::Missing) => AuthCheck::Missing,
                    Err(SignatureError::Malformed | SignatureError::Wrong) => AuthCheck::Wrong,
                }
            }
        }
    }

    fn auth_problem(&self, check: AuthCheck) -> &'static str {
        match (&self.options.auth, check) {
            (SimAuth::Hmac { .. }, AuthCheck::Missing) => "no signature header",
            (SimAuth::Hmac { .. }, _) => "the signature does not match the body",
            (SimAuth::OAuth2 { .. }, AuthCheck::Wrong) => "the token is unknown or expired",
            (_, AuthCheck::Missing) => "no bearer token",
            _ => "the token is not the one configured",
        }
    }

    /// A delivery: a JSON body with an Idempotency-Key, taken.
    fn take(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        if serde_json::from_slice::<Value>(body).is_err() {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_body", "message": "the body is not JSON"}),
            );
        }
        let Some(key) = headers.get(headers::IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) else {
            let refusal = json!({"error": "invalid_request", "message": "no Idempotency-Key header"});
            return answer(StatusCode::BAD_REQUEST, refusal);
        };
        let message = if self.answers_success() { "accepted" } else { "refused by the simulator (answer_code)" };
        let mut reply = json!({"message": message, "received": key});
        let told = self.controls.behaviour().answer_code;
        let (pointer, code) = match (&self.options.answer_code, told) {
            (Some((pointer, _)), Some(code)) => (pointer.as_str(), code),
            (None, Some(code)) => ("/code", code),
            (Some((pointer, success)), None) => (pointer.as_str(), success[0].clone()),
            (None, None) => return answer(StatusCode::OK, reply),
        };
        set_pointer(&mut reply, pointer, Value::String(code));
        answer(StatusCode::OK, reply)
    }

    /// A service call: the configured reply, or 404.
    fn reply(&self, service: &str, body: &[u8]) -> Response {
        if serde_json::from_slice::<Value>(body).is_err() {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_body", "message": "the body is not JSON"}),
            );
        }
        match self.options.replies.get(service) {
            Some(reply) => answer(StatusCode::OK, reply.clone()),
            None => answer(
                StatusCode::NOT_FOUND,
                json!({
                    "error": "no_reply",
                    "message": format!("no reply configured for {service}: set [simulator.replies.\"{service}\"]"),
                }),
            ),
        }
    }

    /// Records a call and its answer.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        kind: CallKind,
        service: Option<String>,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        auth: AuthCheck,
        response: Response,
    ) -> Response {
        const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];
        let recorded_headers = headers
            .iter()
            .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
        let status = response.status().as_u16();
        let taken = kind == CallKind::Delivery && response.status().is_success() && self.answers_success();
        lock(&self.state).calls.push(RecordedCall {
            kind,
            service,
            method: method.to_string(),
            path: path.to_string(),
            headers: recorded_headers,
            body,
            auth,
            status,
            taken,
        });
        self.changes.bump();
        response
    }

    /// Whether its 2xx delivery answers say "taken": unless it is told to answer a code that is
    /// not a success code (`"0"` when the settings name none).
    fn answers_success(&self) -> bool {
        let Some(code) = self.controls.behaviour().answer_code else { return true };
        match &self.options.answer_code {
            Some((_, success)) => success.contains(&code),
            None => code == crate::config::DEFAULT_SUCCESS_CODE,
        }
    }
}

/// Sets `value` at a JSON pointer, making the objects on the way.
fn set_pointer(document: &mut Value, pointer: &str, value: Value) {
    let mut slot = document;
    for token in pointer.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        if !slot.is_object() {
            *slot = json!({});
        }
        slot = slot.as_object_mut().expect("an object").entry(key).or_insert(Value::Null);
    }
    *slot = value;
}

async fn control_received(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "received": lock(&shared.state).received() }))
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

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point.
pub struct HttpSimulator;

#[async_trait]
impl lgsp_bus::Simulator for HttpSimulator {
    /// A secret for each auth type under `[auth]` (see [`SANDBOX_SECRETS`]): the bus fills in
    /// each the operator did not set, and the type uses only its own.
    fn sandbox_settings(&self) -> toml::Table {
        let auth: toml::Table =
            SANDBOX_SECRETS.iter().map(|key| (key.to_string(), toml::Value::from(SANDBOX_SECRET))).collect();
        [("auth".to_string(), toml::Value::Table(auth))].into_iter().collect()
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let options = SimOptions::from_settings(settings)?;
        let scheme = listener.scheme();
        let sim = HttpSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_value(json!({"down": true, "reject_status": 422})).unwrap();
        assert_eq!(behaviour, Behaviour { down: true, reject_status: Some(422), ..Behaviour::default() });
        assert!(serde_json::from_value::<Behaviour>(json!({"dwon": true})).is_err());
        assert!(Behaviour { reject_status: Some(500), ..Behaviour::default() }.check().is_err());
        assert!(Behaviour { timeout_rate: 2.0, ..Behaviour::default() }.check().is_err());
        assert!(Behaviour { token_ttl: Some(Duration::ZERO), ..Behaviour::default() }.check().is_err());
    }

    #[test]
    fn a_code_is_set_at_its_pointer() {
        let mut answer = json!({"message": "accepted"});
        set_pointer(&mut answer, "/result/code", json!("0"));
        set_pointer(&mut answer, "/a~1b", json!(1));
        assert_eq!(answer, json!({"message": "accepted", "result": {"code": "0"}, "a/b": 1}));
    }

    #[test]
    fn the_readme_documents_the_control_routes_and_the_sandbox_secret() {
        let readme = include_str!("../README.md");
        for route in ["/_sim/received", "/_sim/calls", "/_sim/behaviour", "/_sim/revoke", "/_sim/reset"] {
            assert!(readme.contains(route), "{route}");
        }
        assert!(readme.contains(SANDBOX_SECRET));
    }
}
