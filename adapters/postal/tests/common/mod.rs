//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! deliveries made from the schemas' examples and the fixtures.

#![allow(dead_code)] // each test file uses its own share of these

use lgsp_bus::config::Settings;
use std::path::Path;
use std::time::Duration;

#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{delivery, example, permanent, transient};
use lgsp_bus::{Delivery, Memory};
use lgsp_postal::{PostalAdapter, PostalConfig, PostalSim, SimOptions};
use serde_json::Value;

pub const PICKUP: &str = "postal.pickup_requested";
pub const DELIVERY: &str = "postal.delivery_requested";
pub const CANCEL: &str = "postal.cancel_requested";
pub const STATUS: &str = "postal.shipment_status";
/// The adapter's id in these tests: the `source` of what it submits.
pub const ID: &str = "postal";
/// The webhook key the tests configure.
pub const WEBHOOK_SECRET: &str = "shared-with-the-post-office";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start_sim() -> PostalSim {
    PostalSim::start("127.0.0.1:0".parse().unwrap(), SimOptions::default()).await.unwrap()
}

/// The settings an operator would write for this simulator (the secrets as the environment sets them).
pub fn settings(sim: &PostalSim) -> toml::Table {
    let options = sim.options();
    let mut settings = toml::Table::new();
    settings.insert("url".into(), sim.url().to_string().into());
    settings.insert("consumer_key".into(), options.consumer_key.clone().into());
    settings.insert("consumer_secret".into(), options.consumer_secret.clone().into());
    settings.insert("customer_code".into(), options.customer_code.clone().into());
    settings.insert("webhook_secret".into(), WEBHOOK_SECRET.into());
    settings.insert("timeout".into(), "5s".into());
    settings
}

pub fn config(settings: &toml::Table) -> PostalConfig {
    PostalConfig::from_settings(ID, settings).unwrap()
}

/// An adapter for `sim` with a memory of its own.
pub fn adapter(sim: &PostalSim) -> PostalAdapter {
    adapter_with(&settings(sim), Memory::in_memory(ID))
}

pub fn adapter_with(settings: &toml::Table, memory: Memory) -> PostalAdapter {
    PostalAdapter::new(&config(settings), memory).unwrap()
}

/// `fixtures/<name>`.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The pickup of `fixtures/pickup.in.json`, as the bus hands it over.
pub fn pickup() -> Delivery {
    delivery(PICKUP, fixture("pickup.in.json"))
}

/// The delivery of `fixtures/delivery.in.json`, as the bus hands it over.
pub fn result_delivery() -> Delivery {
    delivery(DELIVERY, fixture("delivery.in.json"))
}

pub fn cancel(dossier_code: &str, order_number: &str) -> Delivery {
    let payload = serde_json::json!({
        "dossier_code": dossier_code,
        "order_number": order_number,
        "reason": "Công dân rút hồ sơ",
    });
    delivery(CANCEL, payload)
}

pub fn order_number(delivery: &Delivery) -> String {
    delivery.envelope.payload["order_number"].as_str().unwrap().to_string()
}

pub fn dossier(delivery: &Delivery) -> String {
    delivery.envelope.subject.clone()
}

/// (order number, status code, seq) of each submitted shipment status, in submission order.
pub fn statuses(envelopes: &[Value]) -> Vec<(String, u64, u64)> {
    envelopes
        .iter()
        .map(|e| {
            assert_eq!(e["type"], STATUS);
            let payload = &e["payload"];
            (
                payload["order_number"].as_str().unwrap().to_string(),
                payload["status_code"].as_u64().unwrap(),
                e["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}
