//! A simulator of the public postal service: a real HTTP server that follows the contract (as
//! [`crate::mapping::wire`] records it) closely enough that switching to the real postal service
//! is a config change.
//!
//! It issues tokens for a consumer key and secret and checks them (known, unexpired), takes
//! orders (refusing a missing field, and a second order with the same number as "already
//! exists"), cancels orders not yet collected, and serves the tracking feed by `lastId` and
//! `pagesize`. Orders move 1 registered → 2 collecting → 3 delivered (or 4 cancelled) on a clock
//! the caller turns ([`PostalSim::advance`], [`PostalSim::advance_all`],
//! [`PostalSim::deliver_all`]); each move is a tracking item, pushed also, signed, to a webhook
//! if one is set ([`PostalSim::set_webhook`]). It records every call, and can be told to
//! misbehave, from Rust ([`PostalSim::set_behaviour`]) or over HTTP (`PUT /_sim/behaviour`).

use lgsp_bus::ConfigProblem;
use lgsp_bus::config::{Settings, duration};
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use url::Url;

use crate::config::PostalConfig;
use crate::mapping::{self, wire};
use crate::signature;

/// Who may get a token, where the calls are, and how long a token lasts.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub consumer_key: String,
    pub consumer_secret: String,
    /// The only customer code the account may order for.
    pub customer_code: String,
    /// Full paths of the calls.
    pub token_endpoint: String,
    pub order_endpoint: String,
    pub cancel_endpoint: String,
    pub tracking_endpoint: String,
    /// How long a token lasts, unless [`Behaviour::token_ttl`] says otherwise.
    pub token_ttl: Duration,
    /// The largest `pagesize` taken.
    pub max_page_size: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            consumer_key: "lgsp".into(),
            consumer_secret: SANDBOX_CONSUMER_SECRET.into(),
            customer_code: "LGSP42".into(),
            token_endpoint: wire::DEFAULT_TOKEN_ENDPOINT.into(),
            order_endpoint: wire::DEFAULT_ORDER_ENDPOINT.into(),
            cancel_endpoint: wire::DEFAULT_CANCEL_ENDPOINT.into(),
            tracking_endpoint: wire::DEFAULT_TRACKING_ENDPOINT.into(),
            token_ttl: Duration::from_secs(3600),
            max_page_size: 1000,
        }
    }
}

/// How the simulator misbehaves; the default is a healthy postal service. Also the JSON of
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
    /// Every call answered 401, whatever its token (a gateway that lost its keys).
    pub refuse_tokens: bool,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)?;
        if self.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(ConfigProblem::new("token_ttl", "must be more than 0"));
        }
        Ok(())
    }
}

/// One order the postal service holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimOrder {
    pub order_number: String,
    /// The `/order/post` body as received.
    pub fields: Value,
    /// Its collection status: 1 registered, 2 collecting, 3 delivered, 4 cancelled.
    pub status: u8,
}

/// Which call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Order,
    Cancel,
    Tracking,
}

/// One call that reached the API (after any misbehaviour), whatever it was answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    pub endpoint: Endpoint,
    /// The `orderNumber` of an order or cancellation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// The `lastId` of a tracking call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_id: Option<u64>,
    /// Whether it carried a known, unexpired token.
    pub token_fresh: bool,
    /// The HTTP status and `code` it was answered.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One push of a tracking item to the webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCall {
    pub tracking_id: u64,
    /// The webhook's answer, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why it did not answer, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything the simulator recorded; what [`PostalSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    /// Order, cancel and tracking calls, in arrival order.
    pub calls: Vec<RecordedCall>,
    pub orders: BTreeMap<String, SimOrder>,
    /// The tracking feed, in id order, each item as served.
    pub tracking: Vec<Value>,
    /// Tokens issued.
    pub logins: usize,
    /// Calls left unanswered on purpose (`timeout_rate`).
    pub withheld: usize,
    /// Pushes to the webhook, in order.
    pub webhook_calls: Vec<WebhookCall>,
    /// Token → when it expires, on the simulator's clock.
    tokens: HashMap<String, OffsetDateTime>,
}

impl SimState {
    /// Every order and cancellation call with this order number: (endpoint, status, code).
    pub fn calls_about(&self, order_number: &str) -> Vec<(Endpoint, u16, Option<String>)> {
        self.calls
            .iter()
            .filter(|c| c.order_number.as_deref() == Some(order_number))
            .map(|c| (c.endpoint, c.status, c.code.clone()))
            .collect()
    }
}

/// Where tracking items are pushed, and the key they are signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: Url,
    pub secret: String,
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct PostalSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    webhook: Mutex<Option<WebhookTarget>>,
    /// Items to push, in the order they were recorded: one task sends them one after another.
    pushes: mpsc::UnboundedSender<(Value, WebhookTarget)>,
    /// How it misbehaves, and its clock: ahead when tests expire tokens without sleeping.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded call, move, push, token and reset; wakes `wait_until`.
    changes: Changes,
}

/// How long a push waits for the webhook's answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

impl PostalSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<PostalSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<PostalSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let (pushes, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            webhook: Mutex::default(),
            pushes,
            changes: Changes::default(),
        });
        tokio::spawn(push_all(Arc::downgrade(&shared), queue));
        let served = Served::spawn(listener, scheme, router(shared.clone()), "postal_sim_stopped")?;
        Ok(PostalSim { shared, served })
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

    /// Forgets every token it issued, as a gateway that restarted would.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.state).tokens.clear();
    }

    /// Pushes every tracking item recorded from now on to `url`, signed with `secret`.
    pub fn set_webhook(&self, url: Url, secret: &str) {
        *lock(&self.shared.webhook) = Some(WebhookTarget { url, secret: secret.to_string() });
    }

    pub fn clear_webhook(&self) {
        *lock(&self.shared.webhook) = None;
    }

    /// Moves one order a step (registered → collecting → delivered), recording a tracking item:
    /// its new status, or None for an order it does not hold or that moves no further.
    pub fn advance(&self, order_number: &str) -> Option<u8> {
        self.shared.advance(order_number)
    }

    /// Moves every order that can move a step, in order-number order: how many moved.
    pub fn advance_all(&self) -> usize {
        self.shared.advance_all()
    }

    /// Moves every order that can move until it is delivered: how many steps were taken.
    pub fn deliver_all(&self) -> usize {
        std::iter::repeat_with(|| self.advance_all()).take_while(|moved| *moved > 0).sum()
    }

    /// Forgets every call, order, item, token and push, and behaves again (the webhook stays).
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn order(&self, order_number: &str) -> Option<SimOrder> {
        lock(&self.shared.state).orders.get(order_number).cloned()
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        lock(&self.shared.state).orders.values().cloned().collect()
    }

    /// The tracking feed, in id order, each item as served.
    pub fn tracking(&self) -> Vec<Value> {
        lock(&self.shared.state).tracking.clone()
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    pub fn logins(&self) -> usize {
        lock(&self.shared.state).logins
    }

    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        lock(&self.shared.state).webhook_calls.clone()
    }

    /// Waits until `predicate` holds, checking it after each change; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let options = &shared.options;
    Router::new()
        .route(&options.token_endpoint, post(token))
        .route(&options.order_endpoint, post(order))
        .route(&options.cancel_endpoint, post(cancel))
        .route(&options.tracking_endpoint, post(tracking))
        .route("/_sim/orders", get(control_orders))
        .route("/_sim/received", get(control_received))
        .route("/_sim/orders/{number}", get(control_order))
        .route("/_sim/orders/{number}/advance", post(control_advance_one))
        .route("/_sim/advance", post(control_advance))
        .route("/_sim/deliver", post(control_deliver))
        .route("/_sim/tracking", get(control_tracking))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/webhook", put(control_put_webhook).delete(control_delete_webhook))
        .route("/_sim/revoke", post(control_revoke))
        .route("/_sim/reset", post(control_reset))
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

/// An answer shaped as the postal service's: `{code, message}`, and `data` when given.
fn answer(status: StatusCode, code: &str, message: impl Into<String>, data: Option<Value>) -> Response {
    let mut body = json!({ wire::CODE: code, wire::MESSAGE: message.into() });
    if let Some(data) = data {
        body[wire::DATA] = data;
    }
    (status, Json(body)).into_response()
}

/// The gateway's refusal of a missing, unknown or expired token (the shape of WSO2's).
fn unauthorized() -> Response {
    let fault = json!({"fault": {
        "code": 900901,
        "message": "Invalid Credentials",
        "description": "Invalid Credentials. Make sure you have provided the correct security credentials",
    }});
    let mut response = (StatusCode::UNAUTHORIZED, Json(fault)).into_response();
    let challenge = header::HeaderValue::from_static("Bearer realm=\"lgsp\" error=\"invalid_token\"");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    if !body.split('&').any(|pair| pair.trim() == wire::GRANT) {
        let refusal =
            json!({"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"});
        return (StatusCode::BAD_REQUEST, Json(refusal)).into_response();
    }
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let options = &shared.options;
    let expected = format!("{}:{}", options.consumer_key, options.consumer_secret);
    if credentials.as_deref() != Some(expected.as_str()) {
        let refusal = json!({"error": "invalid_client", "error_description": "Client Authentication failed."});
        return (StatusCode::UNAUTHORIZED, Json(refusal)).into_response();
    }
    Json(shared.issue()).into_response()
}

/// What an authenticated call received: its JSON body, unless the answer is already decided.
struct Call {
    token_fresh: bool,
    body: Result<Value, Response>,
}

impl Shared {
    fn receive(&self, headers: &HeaderMap, body: Result<Json<Value>, JsonRejection>) -> Call {
        let refuse_tokens = self.controls.behaviour().refuse_tokens;
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let now = self.controls.now();
        let token_fresh = !refuse_tokens
            && presented.and_then(|token| lock(&self.state).tokens.get(token).copied()).is_some_and(|exp| exp > now);
        let body = if !token_fresh {
            Err(unauthorized())
        } else {
            match body {
                Err(rejection) => {
                    Err(coded_invalid(format!("Dữ liệu không đúng định dạng JSON: {}", rejection.body_text())))
                }
                Ok(Json(body)) if !body.is_object() => Err(coded_invalid("Dữ liệu phải là một đối tượng JSON")),
                Ok(Json(body)) => {
                    let customer = body.get(wire::order::CUSTOMER_CODE).and_then(Value::as_str).unwrap_or_default();
                    if customer == self.options.customer_code {
                        Ok(body)
                    } else if customer.trim().is_empty() {
                        Err(coded_invalid(format!("Thiếu trường {}", wire::order::CUSTOMER_CODE)))
                    } else {
                        Err(coded_invalid(format!("Mã khách hàng `{customer}` không đúng")))
                    }
                }
            }
        };
        Call { token_fresh, body }
    }

    /// Records a call and its answer.
    fn record(
        &self,
        endpoint: Endpoint,
        token_fresh: bool,
        order_number: Option<String>,
        last_id: Option<u64>,
        response: Response,
    ) -> Response {
        let status = response.status().as_u16();
        let code = response.extensions().get::<AnswerCode>().map(|c| c.0.clone());
        lock(&self.state).calls.push(RecordedCall { endpoint, order_number, last_id, token_fresh, status, code });
        self.changes.bump();
        response
    }
}

/// The `code` of an answer, kept beside the response for the record.
#[derive(Clone)]
struct AnswerCode(String);

fn coded(status: StatusCode, code: &str, message: impl Into<String>, data: Option<Value>) -> Response {
    let mut response = answer(status, code, message, data);
    response.extensions_mut().insert(AnswerCode(code.to_string()));
    response
}

fn coded_invalid(message: impl Into<String>) -> Response {
    coded(StatusCode::BAD_REQUEST, wire::INVALID, message, None)
}

async fn order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let call = shared.receive(&headers, body);
    let (order_number, response) = match call.body {
        Err(response) => (None, response),
        Ok(body) => (order_number(&body), shared.place(body)),
    };
    shared.record(Endpoint::Order, call.token_fresh, order_number, None, response)
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let call = shared.receive(&headers, body);
    let (order_number, response) = match call.body.map(|body| order_number(&body)) {
        Err(response) => (None, response),
        Ok(None) => (None, coded_invalid(format!("Thiếu trường {}", wire::order::ORDER_NUMBER))),
        Ok(Some(number)) => {
            let response = shared.cancel(&number);
            (Some(number), response)
        }
    };
    shared.record(Endpoint::Cancel, call.token_fresh, order_number, None, response)
}

async fn tracking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let call = shared.receive(&headers, body);
    let (last_id, response) = match call.body {
        Err(response) => (None, response),
        Ok(body) => shared.page(&body),
    };
    shared.record(Endpoint::Tracking, call.token_fresh, None, last_id, response)
}

fn order_number(body: &Value) -> Option<String> {
    body.get(wire::order::ORDER_NUMBER).and_then(Value::as_str).filter(|n| !n.trim().is_empty()).map(String::from)
}

async fn control_orders(State(shared): State<Arc<Shared>>) -> Json<Vec<SimOrder>> {
    Json(lock(&shared.state).orders.values().cloned().collect())
}

async fn control_order(State(shared): State<Arc<Shared>>, Path(number): Path<String>) -> Response {
    match lock(&shared.state).orders.get(&number) {
        Some(order) => Json(order.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no order {number}")).into_response(),
    }
}

async fn control_advance_one(State(shared): State<Arc<Shared>>, Path(number): Path<String>) -> Response {
    match shared.advance(&number) {
        Some(status) => Json(json!({"status": status})).into_response(),
        None if lock(&shared.state).orders.contains_key(&number) => {
            (StatusCode::CONFLICT, format!("order {number} moves no further")).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no order {number}")).into_response(),
    }
}

async fn control_advance(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"moved": shared.advance_all()}))
}

async fn control_deliver(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let moved: usize = std::iter::repeat_with(|| shared.advance_all()).take_while(|moved| *moved > 0).sum();
    Json(json!({"moved": moved}))
}

async fn control_tracking(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(lock(&shared.state).tracking.clone())
}

async fn control_calls(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedCall>> {
    Json(lock(&shared.state).calls.clone())
}

/// `GET /_sim/received`: the order number of every order call taken, in order.
async fn control_received(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let taken = lock(&shared.state)
        .calls
        .iter()
        .filter(|call| call.endpoint == Endpoint::Order && call.status == 200)
        .filter_map(|call| call.order_number.clone())
        .collect::<Vec<_>>();
    Json(json!({ "received": taken }))
}

async fn control_put_webhook(State(shared): State<Arc<Shared>>, Json(target): Json<WebhookTarget>) -> StatusCode {
    *lock(&shared.webhook) = Some(target);
    StatusCode::NO_CONTENT
}

async fn control_delete_webhook(State(shared): State<Arc<Shared>>) -> StatusCode {
    *lock(&shared.webhook) = None;
    StatusCode::NO_CONTENT
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

    /// A new token, as the token call answers it.
    fn issue(&self) -> Value {
        let ttl = self.controls.behaviour().token_ttl.unwrap_or(self.options.token_ttl);
        let token: String = std::iter::repeat_with(fastrand::alphanumeric).take(40).collect();
        {
            let mut state = lock(&self.state);
            state.tokens.insert(token.clone(), self.controls.now() + ttl);
            state.logins += 1;
        }
        self.changes.bump();
        json!({
            wire::ACCESS_TOKEN: token,
            wire::TOKEN_TYPE: wire::DEFAULT_TOKEN_TYPE,
            wire::EXPIRES_IN: ttl.as_secs_f64().ceil() as u64,
            "scope": "default",
        })
    }

    /// Takes an order, checked field by field as the postal service would.
    fn place(&self, body: Value) -> Response {
        if let Some(field) = mapping::missing_field(&body) {
            return coded_invalid(format!("Thiếu trường {field}"));
        }
        match body.get(wire::order::COD_AMOUNT) {
            None => {}
            Some(amount) if amount.as_u64().is_some() => {}
            Some(amount) => {
                return coded_invalid(format!("Trường {} không hợp lệ ({amount})", wire::order::COD_AMOUNT));
            }
        }
        let number = body[wire::order::ORDER_NUMBER].as_str().unwrap_or_default().to_string();
        let mut state = lock(&self.state);
        if state.orders.contains_key(&number) {
            let message = format!("Đơn hàng {number} đã tồn tại (order already exists)");
            return coded(StatusCode::CONFLICT, wire::ORDER_EXISTS, message, None);
        }
        state
            .orders
            .insert(number.clone(), SimOrder { order_number: number.clone(), fields: body, status: wire::REGISTERED });
        self.record_item(&mut state, &number, wire::REGISTERED);
        drop(state);
        self.changes.bump();
        let data = json!({ wire::order::ORDER_NUMBER: number, "status": wire::REGISTERED });
        coded(StatusCode::OK, wire::OK, "Tạo đơn hàng thành công", Some(data))
    }

    /// One page of the feed: the items after `lastId`, at most `pagesize`; and the `lastId` read.
    fn page(&self, body: &Value) -> (Option<u64>, Response) {
        let max = self.options.max_page_size;
        let page_size = body.get(wire::PAGE_SIZE).and_then(Value::as_u64).filter(|n| (1..=max as u64).contains(n));
        let last_id = match body.get(wire::LAST_ID) {
            None | Some(Value::Null) => Some(0),
            Some(value) => value.as_u64(),
        };
        let response = match (page_size, last_id) {
            (None, _) => coded_invalid(format!("{} phải là số nguyên từ 1 đến {max}", wire::PAGE_SIZE)),
            (_, None) => coded_invalid(format!("{} phải là số nguyên không âm", wire::LAST_ID)),
            (Some(page_size), Some(last_id)) => {
                let items: Vec<Value> = lock(&self.state)
                    .tracking
                    .iter()
                    .filter(|item| mapping::item_id(item).is_some_and(|id| id > last_id))
                    .take(page_size as usize)
                    .cloned()
                    .collect();
                coded(StatusCode::OK, wire::OK, "Thành công", Some(Value::Array(items)))
            }
        };
        (last_id, response)
    }

    fn cancel(&self, number: &str) -> Response {
        let mut state = lock(&self.state);
        let Some(order) = state.orders.get_mut(number) else {
            return coded(
                StatusCode::NOT_FOUND,
                wire::NO_SUCH_ORDER,
                format!("Không tìm thấy đơn hàng {number}"),
                None,
            );
        };
        let refusal = match order.status {
            wire::CANCELLED => Some((wire::ALREADY_CANCELLED, format!("Đơn hàng {number} đã bị hủy trước đó"))),
            wire::COLLECTING => {
                Some((wire::NOT_CANCELLABLE, format!("Đơn hàng {number} đã được bưu tá thu gom, không thể hủy")))
            }
            wire::DELIVERED => Some((wire::NOT_CANCELLABLE, format!("Đơn hàng {number} đã được giao, không thể hủy"))),
            _ => None,
        };
        if let Some((code, message)) = refusal {
            return coded(StatusCode::CONFLICT, code, message, None);
        }
        order.status = wire::CANCELLED;
        self.record_item(&mut state, number, wire::CANCELLED);
        drop(state);
        self.changes.bump();
        coded(StatusCode::OK, wire::OK, format!("Đã hủy đơn hàng {number}"), None)
    }

    fn advance(&self, number: &str) -> Option<u8> {
        let mut state = lock(&self.state);
        let order = state.orders.get_mut(number)?;
        order.status = match order.status {
            wire::REGISTERED => wire::COLLECTING,
            wire::COLLECTING => wire::DELIVERED,
            _ => return None,
        };
        let status = order.status;
        self.record_item(&mut state, number, status);
        drop(state);
        self.changes.bump();
        Some(status)
    }

    fn advance_all(&self) -> usize {
        let movable: Vec<String> = lock(&self.state)
            .orders
            .values()
            .filter(|o| matches!(o.status, wire::REGISTERED | wire::COLLECTING))
            .map(|o| o.order_number.clone())
            .collect();
        movable.iter().filter(|number| self.advance(number).is_some()).count()
    }

    /// Appends a tracking item for an order's new status, and queues its push.
    fn record_item(&self, state: &mut SimState, number: &str, status: u8) {
        let id = state.tracking.len() as u64 + 1;
        let item = json!({
            wire::item::ID: id,
            wire::item::ORDER_NUMBER: number,
            wire::item::STATUS: status,
            wire::item::STATUS_NAME: mapping::status_wording(status).unwrap_or_default(),
            wire::item::TIME: mapping::postal_time(self.controls.now()),
        });
        state.tracking.push(item.clone());
        if let Some(target) = lock(&self.webhook).clone() {
            // Queued under the state's lock: pushes go in the feed's order.
            let _ = self.pushes.send((item, target));
        }
    }

    /// The answer to give instead of the real one, if the simulator is told to misbehave.
    async fn misbehave(&self) -> Option<Response> {
        let b = self.controls.behaviour();
        Some(match fault(b.latency_ms, b.down, b.error_rate, b.timeout_rate).await? {
            Fault::Down => {
                answer(StatusCode::SERVICE_UNAVAILABLE, wire::INTERNAL_ERROR, "Hệ thống đang bảo trì (mô phỏng)", None)
            }
            Fault::Hang => {
                lock(&self.state).withheld += 1;
                self.changes.bump();
                hang().await
            }
            Fault::Error => {
                answer(StatusCode::INTERNAL_SERVER_ERROR, wire::INTERNAL_ERROR, "Lỗi hệ thống (mô phỏng)", None)
            }
        })
    }
}

/// Pushes queued items to their webhook one after another, signed, until the simulator is gone.
async fn push_all(shared: std::sync::Weak<Shared>, mut queue: mpsc::UnboundedReceiver<(Value, WebhookTarget)>) {
    let http = reqwest::Client::builder().timeout(PUSH_TIMEOUT).build().expect("a plain HTTP client builds");
    while let Some((item, target)) = queue.recv().await {
        let body = serde_json::to_vec(&item).expect("an item serialises");
        let signed = signature::sign(&target.secret, &body);
        let sent = http
            .post(target.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(wire::SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await;
        let tracking_id = mapping::item_id(&item).unwrap_or_default();
        let call = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.ok();
                WebhookCall { tracking_id, status: Some(status), body, error: None }
            }
            Err(e) => WebhookCall { tracking_id, status: None, body: None, error: Some(e.to_string()) },
        };
        let Some(shared) = shared.upgrade() else { return };
        lock(&shared.state).webhook_calls.push(call);
        shared.changes.bump();
    }
}

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point, and moves
/// every order a step every [`SANDBOX_STEP`], so that a sandbox sees its orders travel.
pub struct PostalSimulator;

/// What sandbox mode fills in when the operator set no consumer secret.
pub const SANDBOX_CONSUMER_SECRET: &str = "sandbox";
/// How often the sandbox moves its orders on.
pub const SANDBOX_STEP: Duration = Duration::from_secs(5);

#[async_trait]
impl lgsp_bus::Simulator for PostalSimulator {
    fn sandbox_settings(&self) -> toml::Table {
        let mut settings = toml::Table::new();
        settings.insert("consumer_secret".into(), SANDBOX_CONSUMER_SECRET.into());
        settings
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let config = PostalConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let consumer_secret = config
            .consumer_secret
            .as_ref()
            .map(|s| s.expose().to_string())
            .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("consumer_secret", "is required")))?;
        let options = SimOptions {
            consumer_key: config.consumer_key.clone(),
            consumer_secret,
            customer_code: config.customer_code.clone(),
            token_endpoint: config.endpoint(&config.token_endpoint).path().to_string(),
            order_endpoint: config.endpoint(&config.order_endpoint).path().to_string(),
            cancel_endpoint: config.endpoint(&config.cancel_endpoint).path().to_string(),
            tracking_endpoint: config.endpoint(&config.tracking_endpoint).path().to_string(),
            ..SimOptions::default()
        };
        let scheme = listener.scheme();
        let sim = PostalSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        let clock = sim.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SANDBOX_STEP);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                clock.advance_all();
            }
        });
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_value(json!({"down": true, "token_ttl": "2s"})).unwrap();
        assert_eq!(
            behaviour,
            Behaviour { down: true, token_ttl: Some(Duration::from_secs(2)), ..Behaviour::default() }
        );
        assert_eq!(serde_json::to_value(&behaviour).unwrap()["token_ttl"], "2s");
        assert!(serde_json::to_value(Behaviour::default()).unwrap().get("token_ttl").is_none());
        assert!(serde_json::from_value::<Behaviour>(json!({"dwon": true})).is_err());
        assert!(Behaviour { error_rate: 1.5, ..Behaviour::default() }.check().is_err());
        assert!(Behaviour { token_ttl: Some(Duration::ZERO), ..Behaviour::default() }.check().is_err());
    }

    #[test]
    fn the_readme_documents_the_control_routes() {
        let readme = include_str!("../README.md");
        for route in
            ["/_sim/orders", "/_sim/advance", "/_sim/deliver", "/_sim/tracking", "/_sim/webhook", "/_sim/behaviour"]
        {
            assert!(readme.contains(route), "{route}");
        }
        assert!(readme.contains(&format!("consumer secret is `{SANDBOX_CONSUMER_SECRET}`")));
    }
}
