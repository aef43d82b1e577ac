//! Helpers for tests that run a real bus on a real broker (feature `testing`), and the
//! conformance suite every adapter passes.

pub mod adapter;
pub mod conformance;
pub mod front;
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

/// Speaks to a running bus over HTTP, as a member would.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    commits: tokio::sync::watch::Receiver<u64>,
}

impl Api {
    pub fn new(bus: &RunningBus) -> Api {
        Api { http: reqwest::Client::new(), base: format!("http://{}", bus.http_addr), commits: bus.store.commits() }
    }

    pub async fn post(&self, envelope: &Value) -> (u16, Value) {
        let response = self.http.post(format!("{}/v1/messages", self.base)).json(envelope).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
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

/// Deletes a namespace's exchange and the queues of these adapters (id, retry tiers).
pub async fn delete_namespace(url: &str, namespace: &str, adapters: &[(&str, &[Duration])]) {
    let Ok(connection) = lapin::Connection::connect(url, Default::default()).await else { return };
    let Ok(channel) = connection.create_channel().await else { return };
    let names = Names::new(namespace);
    for (id, tiers) in adapters {
        let mut queues = vec![names.queue(id), names.dead_letter_queue(id), names.request_queue(id)];
        queues.extend(tiers.iter().map(|t| names.retry_queue(id, *t)));
        for queue in queues {
            let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
        }
    }
    let _ = channel.exchange_delete(names.exchange().into(), Default::default()).await;
    let _ = channel.exchange_delete(names.services_exchange().into(), Default::default()).await;
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
