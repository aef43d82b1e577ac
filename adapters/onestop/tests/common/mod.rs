//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! deliveries made from the fixtures and the schemas' examples.

#![allow(dead_code)] // each test file uses its own share of these

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lgsp_bus::config::Settings;
use lgsp_bus::{Delivery, Envelope, Failure, Outcome};
use lgsp_onestop::{OnestopAdapter, OnestopConfig, OnestopSim, SimOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub const AGENCY: &str = "000.00.01.H42";
pub const SUBMITTED: &str = "dossier.submitted";
pub const PAYMENT: &str = "payment.status";
pub const SHIPMENT: &str = "postal.shipment_status";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start_sim() -> OnestopSim {
    OnestopSim::start("127.0.0.1:0".parse().unwrap(), SimOptions::default()).await.unwrap()
}

/// The settings an operator would write for this simulator (the secret as the environment sets it).
pub fn settings(sim: &OnestopSim) -> toml::Table {
    let options = sim.options();
    let mut settings = toml::Table::new();
    settings.insert("url".into(), sim.url().to_string().into());
    settings.insert("agencies".into(), toml::Value::Array(vec![AGENCY.into()]));
    settings.insert("token_endpoint".into(), options.token_endpoint.clone().into());
    settings.insert("client_id".into(), options.client_id.clone().into());
    settings.insert("client_secret".into(), options.client_secret.clone().into());
    settings.insert("timeout".into(), "5s".into());
    settings
}

pub fn config(settings: &toml::Table) -> OnestopConfig {
    OnestopConfig::from_settings("onestop_test", settings).unwrap()
}

pub fn adapter(sim: &OnestopSim) -> OnestopAdapter {
    adapter_with(&settings(sim))
}

pub fn adapter_with(settings: &toml::Table) -> OnestopAdapter {
    OnestopAdapter::new("onestop_test", &config(settings)).unwrap()
}

/// `examples[index]` of `schemas/<message_type>.json`.
pub fn example(message_type: &str, index: usize) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../schemas/{message_type}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    schema["examples"][index].clone()
}

/// `fixtures/<name>.in.json` as the bus hands it over.
pub fn fixture(name: &str) -> Delivery {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.in.json"));
    let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Delivery {
        envelope: Arc::new(serde_json::from_value(value["envelope"].clone()).unwrap()),
        annotations: Arc::new(value["annotations"].clone()),
        stale: value["stale"].as_bool().unwrap_or(false),
        attempt: 1,
        uncertain: false,
    }
}

/// `fixtures/<name>.out.json`: the body the system should receive.
pub fn expected_body(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.out.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fresh message (new id) of `message_type` about `payload`'s dossier.
pub fn delivery(message_type: &str, payload: Value) -> Delivery {
    let subject = payload["dossier_code"].as_str().unwrap_or("no-code").to_string();
    let envelope = Envelope {
        id: Uuid::now_v7(),
        message_type: message_type.into(),
        source: "onestop.test".into(),
        subject,
        seq: 1,
        occurred_at: OffsetDateTime::now_utc(),
        correlation_id: None,
        payload,
    };
    let annotations = json!({"routing": {"agency": AGENCY, "reason": "test"}});
    Delivery {
        envelope: Arc::new(envelope),
        annotations: Arc::new(annotations),
        stale: false,
        attempt: 1,
        uncertain: false,
    }
}

pub fn stale(mut delivery: Delivery) -> Delivery {
    delivery.stale = true;
    delivery
}

pub fn id(delivery: &Delivery) -> String {
    delivery.envelope.id.to_string()
}

pub fn code(delivery: &Delivery) -> &str {
    &delivery.envelope.subject
}

/// The failure of a Transient outcome; panics on any other.
pub fn transient(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Transient(failure) => failure,
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

/// The failure of a Permanent outcome; panics on any other.
pub fn permanent(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Permanent(failure) => failure,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}
