//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! deliveries made from the fixtures and the schemas' examples.

#![allow(dead_code)] // each test file uses its own share of these

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lgsp_bus::Delivery;
use lgsp_bus::config::Settings;
#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{example, permanent, stale, transient};
use lgsp_onestop::{OnestopAdapter, OnestopConfig, OnestopSim, SimOptions};
use serde_json::{Value, json};

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

/// `fixtures/<name>.in.json` as the bus hands it over.
pub fn fixture(name: &str) -> Delivery {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.in.json"));
    let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Delivery {
        annotations: Arc::new(value["annotations"].clone()),
        stale: value["stale"].as_bool().unwrap_or(false),
        ..Delivery::new(Arc::new(serde_json::from_value(value["envelope"].clone()).unwrap()))
    }
}

/// `fixtures/<name>.out.json`: the body the system should receive.
pub fn expected_body(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.out.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fresh message (new id) of `message_type` about `payload`'s dossier.
pub fn delivery(message_type: &str, payload: Value) -> Delivery {
    let mut delivery = lgsp_bus::testing::adapter::delivery(message_type, payload);
    delivery.annotations = Arc::new(json!({"routing": {"agency": AGENCY, "reason": "test"}}));
    delivery
}

pub fn id(delivery: &Delivery) -> String {
    delivery.envelope.id.to_string()
}

pub fn code(delivery: &Delivery) -> &str {
    &delivery.envelope.subject
}
