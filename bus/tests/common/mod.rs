//! A real bus on a real broker, with an adapter whose answers the test scripts.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lgsp_bus::config::{Config, ConfigProblem};
use lgsp_bus::server::{self, RunningBus};
use lgsp_bus::{Adapter, AdapterKind, Delivery, Outcome};
use serde_json::{Value, json};
use tokio::sync::watch;

pub fn amqp_url() -> String {
    std::env::var("LGSP_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into())
}

/// What the scripted adapter saw, in order: (message id, seq, stale, attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: String,
    pub subject: String,
    pub seq: u64,
    pub stale: bool,
    pub attempt: u32,
}

type Script = Box<dyn Fn(&Delivery) -> Outcome + Send + Sync>;

/// An adapter that records each delivery and answers what the test's script says.
pub struct Scripted {
    script: Mutex<Script>,
    seen: watch::Sender<Vec<Seen>>,
}

impl Scripted {
    pub fn new() -> Arc<Self> {
        Arc::new(Scripted { script: Mutex::new(Box::new(|_| Outcome::Delivered)), seen: watch::channel(Vec::new()).0 })
    }

    pub fn answer(&self, script: impl Fn(&Delivery) -> Outcome + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Box::new(script);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().clone()
    }

    /// Waits (without polling) until the record satisfies `done`.
    pub async fn wait_until(&self, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let mut seen = self.seen.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(30), seen.wait_for(|s| done(s))).await;
        match waited {
            Ok(Ok(s)) => s.clone(),
            _ => panic!("timed out; the adapter saw {:#?}", self.seen()),
        }
    }
}

#[async_trait]
impl Adapter for Scripted {
    fn routes(&self) -> Vec<String> {
        vec!["dossier.status_changed.#".into(), "dossier.submitted.#".into()]
    }

    fn max_batch(&self) -> usize {
        10
    }

    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let outcomes: Vec<Outcome> = {
            let script = self.script.lock().unwrap();
            batch.iter().map(script.as_ref()).collect()
        };
        self.seen.send_modify(|seen| {
            seen.extend(batch.iter().map(|d| Seen {
                id: d.envelope.id.to_string(),
                subject: d.envelope.subject.clone(),
                seq: d.envelope.seq,
                stale: d.stale,
                attempt: d.attempt,
            }))
        });
        outcomes
    }
}

struct ScriptedKind(Arc<Scripted>);

impl AdapterKind for ScriptedKind {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn build(&self, _id: &str, _settings: &toml::Table) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        Ok(self.0.clone())
    }
}

pub struct TestBus {
    pub bus: Option<RunningBus>,
    pub adapter: Arc<Scripted>,
    pub http: reqwest::Client,
    pub base: String,
    pub namespace: String,
    _dir: tempfile::TempDir,
}

impl TestBus {
    /// A bus on its own namespace of the shared broker, its own store, an ephemeral port, and one
    /// scripted adapter `scripted` with short retry tiers.
    pub async fn start() -> TestBus {
        let dir = tempfile::tempdir().unwrap();
        let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let text = format!(
            r#"
            [http]
            listen = "127.0.0.1:0"
            max_body_bytes = 4096
            [amqp]
            url = "{amqp}"
            namespace = "{namespace}"
            [store]
            url = "sqlite://{store}"
            [members."onestop.sandbox"]
            name = "Sandbox"
            [adapters.scripted]
            kind = "scripted"
            [adapters.scripted.delivery]
            lanes = 4
            max_attempts = 3
            retry_tiers = ["100ms", "200ms"]
            timeout = "5s"
            "#,
            amqp = amqp_url(),
            store = dir.path().join("lgsp.db").display()
        );
        let config = Config::from_toml(&text, Vec::new()).unwrap();
        let adapter = Scripted::new();
        let kinds: Vec<Arc<dyn AdapterKind>> = vec![Arc::new(ScriptedKind(adapter.clone()))];
        let bus = server::start(config, &kinds, false).await.unwrap();
        let base = format!("http://{}", bus.http_addr);
        let test = TestBus { bus: Some(bus), adapter, http: reqwest::Client::new(), base, namespace, _dir: dir };
        test.wait_ready().await;
        test
    }

    async fn wait_ready(&self) {
        let broker = self.bus.as_ref().unwrap().broker.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !broker.is_connected() {
            assert!(tokio::time::Instant::now() < deadline, "the broker at {} did not connect", amqp_url());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

    /// Waits until `GET /v1/messages/{id}` reports `state`.
    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        let mut commits = self.bus.as_ref().unwrap().store.commits();
        loop {
            commits.borrow_and_update();
            let (_, body) = self.get(&format!("/v1/messages/{id}")).await;
            if body["state"] == state {
                return body;
            }
            // Read again after the store's next commit.
            if tokio::time::timeout(Duration::from_secs(30), commits.changed()).await.is_err() {
                panic!("message {id} never reached {state}: {body:#}");
            }
        }
    }

    /// Messages waiting in one of this bus's queues (a passive declare is exact, unlike the
    /// management API's counters).
    pub async fn queue_depth(&self, suffix: &str) -> u32 {
        let connection = lapin::Connection::connect(&amqp_url(), Default::default()).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let options = QueueDeclareOptions { passive: true, ..Default::default() };
        let queue = channel
            .queue_declare(format!("{}.{suffix}", self.namespace).into(), options, FieldTable::default())
            .await
            .unwrap();
        let _ = connection.close(200, "done".into()).await;
        queue.message_count()
    }

    pub async fn stop(mut self) {
        if let Some(bus) = self.bus.take() {
            bus.shutdown().await;
        }
        let connection = lapin::Connection::connect(&amqp_url(), Default::default()).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        for queue in ["scripted", "scripted.dead", "scripted.retry.100ms", "scripted.retry.200ms"] {
            let _ =
                channel.queue_delete(format!("{}.{queue}", self.namespace).into(), QueueDeleteOptions::default()).await;
        }
        let _ = channel.exchange_delete(format!("{}.events", self.namespace).into(), Default::default()).await;
        let _ = connection.close(200, "done".into()).await;
    }
}

pub const DOSSIER: &str = "000.00.01.H42-261120-0001";

/// A valid `dossier.status_changed` envelope.
pub fn status_changed(dossier: &str, seq: u64, status: u8) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(),
        "type": "dossier.status_changed",
        "source": "onestop.sandbox",
        "subject": dossier,
        "seq": seq,
        "occurred_at": "2026-11-20T09:15:00+07:00",
        "payload": {
            "dossier_code": dossier,
            "procedure_code": "1.001234",
            "agency_code": "000.00.01.H42",
            "status": status,
            "received_at": "2026-11-20T08:30:00+07:00",
            "due_at": "2026-11-27T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn An"}
        }
    })
}
