//! A real bus on a real broker, with an adapter whose answers the test scripts.

#![allow(dead_code)]

pub mod console;
pub mod october;
pub mod tables;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lgsp_bus::config::{Config, ConfigProblem};
use lgsp_bus::procedures::Procedures;
use lgsp_bus::server::{self, RunningBus};
#[allow(unused_imports)]
pub use lgsp_bus::testing::status_changed;
use lgsp_bus::testing::{Api, amqp_url, delete_namespace, queue_depth, unique_namespace, with_test_secrets};
use lgsp_bus::{Adapter, AdapterKind, Delivery, Outcome, ServiceError, ServiceRequest};
use serde_json::{Value, json};
use tokio::sync::watch;

/// What the scripted adapter saw, in order: (message id, seq, stale, attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: String,
    pub subject: String,
    pub seq: u64,
    pub stale: bool,
    pub attempt: u32,
    pub uncertain: bool,
}

type Script = Box<dyn Fn(&Delivery) -> Outcome + Send + Sync>;
type ServiceScript = Box<dyn Fn(&ServiceRequest) -> Result<Value, ServiceError> + Send + Sync>;

/// An adapter that records each delivery and answers what the test's script says; it also
/// answers `citizen.verify` as its service script says, after `service_delay`.
pub struct Scripted {
    script: Mutex<Script>,
    seen: watch::Sender<Vec<Seen>>,
    service: Mutex<ServiceScript>,
    service_delay: Mutex<Duration>,
}

impl Scripted {
    pub fn new() -> Arc<Self> {
        Arc::new(Scripted {
            script: Mutex::new(Box::new(|_| Outcome::Delivered)),
            seen: watch::channel(Vec::new()).0,
            service: Mutex::new(Box::new(|_| Ok(json!({"result": "not_found"})))),
            service_delay: Mutex::new(Duration::ZERO),
        })
    }

    pub fn answer(&self, script: impl Fn(&Delivery) -> Outcome + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Box::new(script);
    }

    pub fn answer_requests(
        &self,
        script: impl Fn(&ServiceRequest) -> Result<Value, ServiceError> + Send + Sync + 'static,
    ) {
        *self.service.lock().unwrap() = Box::new(script);
    }

    /// Makes the service slow, as a registry under load is.
    pub fn delay_requests(&self, delay: Duration) {
        *self.service_delay.lock().unwrap() = delay;
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
        for (delivery, outcome) in batch.iter().zip(&outcomes) {
            if *outcome == Outcome::Delivered {
                delivery.answered(scripted_answer(&delivery.envelope.id.to_string()));
            }
        }
        self.seen.send_modify(|seen| {
            seen.extend(batch.iter().map(|d| Seen {
                id: d.envelope.id.to_string(),
                subject: d.envelope.subject.clone(),
                seq: d.envelope.seq,
                stale: d.stale,
                attempt: d.attempt,
                uncertain: d.uncertain,
            }))
        });
        outcomes
    }

    fn services(&self) -> Vec<String> {
        vec!["citizen.verify".into()]
    }

    async fn call(&self, request: &ServiceRequest) -> Result<Value, ServiceError> {
        let delay = *self.service_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        (self.service.lock().unwrap())(request)
    }
}

/// What the scripted peer answers to a message it took.
pub fn scripted_answer(message_id: &str) -> String {
    format!("{{\"received\":\"{message_id}\"}}")
}

/// Kind `name`, always building `adapter`.
struct ScriptedKind(&'static str, Arc<Scripted>);

impl AdapterKind for ScriptedKind {
    fn name(&self) -> &'static str {
        self.0
    }

    fn build(
        &self,
        _: &str,
        _: &toml::Table,
        _: &lgsp_bus::BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        Ok(self.1.clone())
    }
}

pub struct TestBus {
    pub bus: Option<RunningBus>,
    pub adapter: Arc<Scripted>,
    /// A second scripted adapter, of kind `scripted_other`, for a config that adds one (its
    /// id must be `other`, with the retry tiers of `scripted`).
    pub other: Arc<Scripted>,
    /// As the sandbox member `onestop.sandbox`.
    pub api: Api,
    /// As the operator `operator`.
    pub operator: Api,
    pub namespace: String,
    _dir: tempfile::TempDir,
}

pub const TIERS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(200)];

impl TestBus {
    /// A bus on its own namespace of the shared broker, its own store, an ephemeral port, and one
    /// scripted adapter `scripted` with short retry tiers.
    pub async fn start() -> TestBus {
        Self::start_with(|_| String::new()).await
    }

    /// As [`TestBus::start`], with more config: `extra(dir)` may write files into the bus's
    /// directory and returns TOML appended to the config.
    pub async fn start_with(extra: impl FnOnce(&std::path::Path) -> String) -> TestBus {
        let dir = tempfile::tempdir().unwrap();
        let extra = extra(dir.path());
        let namespace = unique_namespace();
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
            rights = {{ send = [{{ types = ["*"], agencies = ["*"] }}], services = [{{ service = "*", fields = ["*"] }}], read = {{ messages = "all", dossiers = ["*"], lookups = "all", reports = true }} }}
            [members."onestop.thachha"]
            name = "One-stop system of Thạch Hà commune"
            rights = {{ send = [{{ types = ["dossier.submitted", "dossier.status_changed"], agencies = ["000.00.31.H42"] }}], services = [{{ service = "citizen.verify", fields = ["permanent_address"] }}] }}
            [operators.operator]
            roles = ["operator"]
            [operators.auditor]
            roles = ["auditor"]
            [operators.admin]
            roles = ["admin"]
            [adapters.scripted]
            kind = "scripted"
            [adapters.scripted.requests]
            timeout = "500ms"
            [adapters.scripted.delivery]
            lanes = 4
            max_attempts = 3
            retry_tiers = ["100ms", "200ms"]
            timeout = "5s"
            {extra}
            "#,
            amqp = amqp_url(),
            store = dir.path().join("lgsp.db").display()
        );
        let path = dir.path().join("lgsp.toml");
        std::fs::write(&path, text).unwrap();
        let mut config = Config::load(&path, Vec::new()).unwrap();
        config.procedures = Procedures::from_toml(
            r#"
            [procedures."1.001234"]
            name = "Đăng ký thường trú"
            processing_days = 5
            requires = ["GKS", "XNCT"]
            "#,
        )
        .unwrap();
        let (adapter, other) = (Scripted::new(), Scripted::new());
        let kinds: Vec<Arc<dyn AdapterKind>> = vec![
            Arc::new(ScriptedKind("scripted", adapter.clone())),
            Arc::new(ScriptedKind("scripted_other", other.clone())),
        ];
        with_test_secrets(&mut config);
        let bus = server::start(config, &kinds, false).await.unwrap();
        let api = Api::new(&bus).await;
        api.wait_ready(&bus).await;
        let operator = api.as_("operator").await;
        TestBus { bus: Some(bus), adapter, other, api, operator, namespace, _dir: dir }
    }

    pub async fn post(&self, envelope: &Value) -> (u16, Value) {
        self.api.post(envelope).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.api.get(path).await
    }

    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        self.api.wait_state(id, state).await
    }

    /// Waits until `GET path` answers as `done` wants, reading again after each write the log tried.
    pub async fn wait_log(&self, api: &Api, path: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let mut attempts = self.bus.as_ref().unwrap().log.attempts().unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            attempts.borrow_and_update();
            let (status, body) = api.get(path).await;
            if done(status, &body) {
                return body;
            }
            if tokio::time::timeout_at(deadline, attempts.changed()).await.is_err() {
                panic!("GET {path} never answered as expected: {status} {body:#}");
            }
        }
    }

    pub async fn queue_depth(&self, suffix: &str) -> u32 {
        queue_depth(&amqp_url(), &self.namespace, suffix).await
    }

    /// Stops the bus (its consumers' channels close: what they did not ack is ready again in its
    /// queue) and keeps its queues, for the test to look into; `stop` removes them.
    pub async fn halt(&mut self) {
        if let Some(bus) = self.bus.take() {
            bus.shutdown().await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(bus) = self.bus.take() {
            bus.shutdown().await;
        }
        delete_namespace(&amqp_url(), &self.namespace, &[("scripted", &TIERS), ("other", &TIERS)]).await;
    }
}

pub const DOSSIER: &str = "000.00.01.H42-261120-0001";
