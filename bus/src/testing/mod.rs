//! Helpers for tests that run a real bus on a real broker (feature `testing`), and the
//! conformance suite every adapter passes.

pub mod adapter;
pub mod browser;
pub mod conformance;
pub mod front;
pub mod fuzz;
pub mod logs;
pub mod tls;

use std::time::Duration;

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use serde_json::Value;

use crate::server::RunningBus;
use crate::transport::Names;

/// The broker tests use: `LGSP_TEST_AMQP_URL`, or the local default.
pub fn amqp_url() -> String {
    std::env::var("LGSP_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into())
}

/// A namespace of its own, so tests share a broker without seeing each other's queues.
pub fn unique_namespace() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// The member tests speak as by default: every right, in every test config.
pub const MEMBER: &str = "onestop.sandbox";
/// The operator tests act as: every role, in every test config.
pub const OPERATOR: &str = "admin";
/// The secret of every member and operator in tests (as in sandbox mode).
pub const SECRET: &str = crate::auth::SANDBOX_SECRET;

/// Gives every member and operator of `config` that has no secret the tests' [`SECRET`] (hashed,
/// as the directory keeps it).
pub fn with_test_secrets(config: &mut crate::config::Config) {
    let hash = crate::auth::passwords::hash(SECRET);
    for member in config.members.values_mut().filter(|m| m.secret_hash.is_none()) {
        member.secret_hash = Some(hash.clone());
    }
    for operator in config.operators.values_mut().filter(|o| o.password_hash.is_none()) {
        operator.password_hash = Some(hash.clone());
    }
}

/// A token from `base`'s `POST /oauth2/token` for `client_id` with `secret`.
pub async fn token(http: &reqwest::Client, base: &str, client_id: &str, secret: &str) -> String {
    let form = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)];
    let response = http.post(format!("{base}/oauth2/token")).form(&form).send().await.expect("the bus answers");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body["access_token"].as_str() {
        Some(token) => token.to_string(),
        None => panic!("no token for {client_id}: {status} {body}"),
    }
}

/// Speaks to a running bus over HTTP as one member or operator: its token goes with every
/// request `http` sends.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    /// Who it speaks as.
    pub who: String,
    commits: tokio::sync::watch::Receiver<u64>,
}

impl Api {
    /// As [`MEMBER`].
    pub async fn new(bus: &RunningBus) -> Api {
        Api::signed_in(&bus.base_url, bus.store.commits(), MEMBER).await
    }

    /// As `who`, whose secret is [`SECRET`].
    pub async fn signed_in(base: &str, commits: tokio::sync::watch::Receiver<u64>, who: &str) -> Api {
        let token = token(&reqwest::Client::new(), base, who, SECRET).await;
        Api::with_token(base, commits, who, &token)
    }

    /// The same bus, as `who` with `secret`: `None` when the token endpoint refuses it.
    pub async fn as_with(&self, who: &str, secret: &str) -> Option<Api> {
        let form = [("grant_type", "client_credentials"), ("client_id", who), ("client_secret", secret)];
        let response = self.http.post(format!("{}/oauth2/token", self.base)).form(&form).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        Some(Api::with_token(&self.base, self.commits.clone(), who, body["access_token"].as_str()?))
    }

    fn with_token(base: &str, commits: tokio::sync::watch::Receiver<u64>, who: &str, token: &str) -> Api {
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is ASCII");
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        let http = reqwest::Client::builder().default_headers(headers).build().expect("a client");
        Api { http, base: base.to_string(), who: who.to_string(), commits }
    }

    /// The same bus, as `who`.
    pub async fn as_(&self, who: &str) -> Api {
        Api::signed_in(&self.base, self.commits.clone(), who).await
    }

    pub async fn post(&self, envelope: &Value) -> (u16, Value) {
        let response = self.http.post(format!("{}/v1/messages", self.base)).json(envelope).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts as the envelope's `source`, signing in as that member.
    pub async fn post_from(&self, envelope: &Value) -> (u16, Value) {
        match envelope["source"].as_str() {
            Some(source) if source != self.who => self.as_(source).await.post(envelope).await,
            _ => self.post(envelope).await,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `method path` with no body.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self.http.request(method, format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `method path` with a JSON body.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let response = self.http.request(method, format!("{}{path}", self.base)).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until `GET path` answers as `done` wants, reading again after each commit of the
    /// store rather than polling; returns the last body.
    pub async fn wait_get(&self, path: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let mut commits = self.commits.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            commits.borrow_and_update();
            let (status, body) = self.get(path).await;
            if done(status, &body) {
                return body;
            }
            if tokio::time::timeout_at(deadline, commits.changed()).await.is_err() {
                panic!("GET {path} never answered as expected: {status} {body:#}");
            }
        }
    }

    /// Waits until `GET /v1/messages/{id}` reports `state`.
    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        self.wait_get(&format!("/v1/messages/{id}"), |_, body| body["state"] == state).await
    }

    /// Waits until the message is in the dead-letter archive of `adapter`, in `state`; returns
    /// its row as `GET /v1/dead-letters/{id}` shows it.
    pub async fn wait_dead_letter(&self, id: &str, adapter: &str, state: &str) -> Value {
        let path = format!("/v1/dead-letters/{id}?adapter={adapter}");
        let body =
            self.wait_get(&path, |status, body| status == 200 && body["dead_letters"][0]["state"] == state).await;
        body["dead_letters"][0].clone()
    }

    /// Waits until the broker is connected (the bus starts without it).
    pub async fn wait_ready(&self, bus: &RunningBus) {
        if tokio::time::timeout(Duration::from_secs(20), bus.broker.wait_connected(true)).await.is_err() {
            panic!("the broker at {} did not connect", amqp_url());
        }
    }
}

/// Messages waiting in a queue of `namespace` (a passive declare is exact, unlike the
/// management API's counters).
pub async fn queue_depth(url: &str, namespace: &str, suffix: &str) -> u32 {
    let connection = lapin::Connection::connect(url, Default::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let options = QueueDeclareOptions { passive: true, ..Default::default() };
    let queue =
        channel.queue_declare(format!("{namespace}.{suffix}").into(), options, FieldTable::default()).await.unwrap();
    let _ = connection.close(200, "done".into()).await;
    queue.message_count()
}

/// Deletes a namespace's exchanges and the queues of these adapters (id, retry tiers).
pub async fn delete_namespace(url: &str, namespace: &str, adapters: &[(&str, &[Duration])]) {
    let Ok(connection) = lapin::Connection::connect(url, Default::default()).await else { return };
    let Ok(channel) = connection.create_channel().await else { return };
    let names = Names::new(namespace);
    for (id, tiers) in adapters {
        let mut queues = vec![names.queue(id), names.request_queue(id)];
        queues.extend(tiers.iter().map(|t| names.retry_queue(*t)));
        for queue in queues {
            let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
        }
    }
    for exchange in [names.exchange(), names.services_exchange(), names.retry_exchange()] {
        let _ = channel.exchange_delete(exchange.into(), Default::default()).await;
    }
    let _ = connection.close(200, "done".into()).await;
}

/// A valid `dossier.status_changed` envelope from the sandbox one-stop system.
pub fn status_changed(dossier: &str, seq: u64, status: u8) -> Value {
    crate::simulator::status_changed(uuid::Uuid::now_v7(), "onestop.sandbox", dossier, seq, status, None)
}

/// The n-th sandbox dossier's code.
pub fn dossier(n: u32) -> String {
    format!("000.00.01.H42-261120-{n:04}")
}
