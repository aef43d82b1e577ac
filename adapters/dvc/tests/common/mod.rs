//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! deliveries made from the schemas' examples and the fixtures.

#![allow(dead_code)] // each test file uses its own share of these

use lgsp_bus::config::Settings;
use std::path::Path;
use std::time::Duration;

use lgsp_bus::Delivery;
#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{delivery, example, permanent, stale, transient};
use lgsp_dvc::{DvcAdapter, DvcConfig, PortalSim, SimOptions};
use serde_json::Value;

pub const UNIT: &str = "000.00.00.H42";
pub const SUBMITTED: &str = "dossier.submitted";
pub const STATUS_CHANGED: &str = "dossier.status_changed";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start_sim() -> PortalSim {
    PortalSim::start("127.0.0.1:0".parse().unwrap(), SimOptions::default()).await.unwrap()
}

/// The settings an operator would write for this simulator (the password as the environment sets it).
pub fn settings(sim: &PortalSim) -> toml::Table {
    let options = sim.options();
    let mut settings = toml::Table::new();
    settings.insert("url".into(), sim.url().to_string().into());
    settings.insert("username".into(), options.username.clone().into());
    settings.insert("password".into(), options.password.clone().into());
    settings.insert("madonvi".into(), UNIT.into());
    settings.insert("timeout".into(), "5s".into());
    settings
}

pub fn config(settings: &toml::Table) -> DvcConfig {
    DvcConfig::from_settings("dvc", settings).unwrap()
}

pub fn adapter(sim: &PortalSim) -> DvcAdapter {
    DvcAdapter::new(&config(&settings(sim))).unwrap()
}

/// `fixtures/<name>.in.json`.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.in.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn id(delivery: &Delivery) -> String {
    delivery.envelope.id.to_string()
}

pub fn code(delivery: &Delivery) -> &str {
    &delivery.envelope.subject
}
