//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! requests as the bus hands them over.

#![allow(dead_code)] // each test file uses its own share of these

use lgsp_bus::config::Settings;
use std::path::Path;
use std::time::Duration;

#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{catalogue, refused, unavailable};
use lgsp_bus::{Adapter, ServiceRequest};
use lgsp_business::{BusinessAdapter, BusinessConfig, BusinessSim, SimOptions};
use serde_json::{Value, json};

pub const SERVICE: &str = "business.lookup";
pub const DOSSIER: &str = "000.00.01.H42-261120-0002";
pub const MEMBER: &str = "onestop.test";
pub const ENTERPRISE: &str = "0101234567";
pub const BRANCH: &str = "0101234567-001";
pub const DISSOLVED: &str = "0109999999";
/// Well-formed, not in the sandbox.
pub const UNKNOWN: &str = "0101234568";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start_sim() -> BusinessSim {
    start_sim_with(SimOptions::default()).await
}

pub async fn start_sim_with(options: SimOptions) -> BusinessSim {
    BusinessSim::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap()
}

/// The settings an operator would write for this simulator (the password as the environment sets it).
pub fn settings(sim: &BusinessSim) -> toml::Table {
    let options = sim.options();
    let mut settings = toml::Table::new();
    settings.insert("url".into(), sim.url().to_string().into());
    settings.insert("username".into(), options.username.clone().into());
    settings.insert("password".into(), options.password.clone().into());
    settings.insert("timeout".into(), "5s".into());
    settings
}

pub fn config(settings: &toml::Table) -> BusinessConfig {
    BusinessConfig::from_settings("business", settings).unwrap()
}

pub fn adapter(sim: &BusinessSim) -> BusinessAdapter {
    BusinessAdapter::new(&config(&settings(sim))).unwrap()
}

pub fn request(mst: &str) -> ServiceRequest {
    ServiceRequest {
        request_id: format!("lookup-{mst}"),
        service: SERVICE.into(),
        member: MEMBER.into(),
        body: json!({"mst": mst, "dossier_code": DOSSIER}),
    }
}

/// The adapter's reply to a lookup of `mst`, checked against the reply schema as the bus does.
pub async fn lookup(adapter: &BusinessAdapter, mst: &str) -> Value {
    let reply = adapter.call(&request(mst)).await.unwrap_or_else(|e| panic!("lookup of {mst}: {e:?}"));
    catalogue().check_reply(SERVICE, &reply).unwrap_or_else(|v| panic!("{mst}: {v:?} in {reply}"));
    reply
}

/// `fixtures/<name>.out.json`: the reply the mapping makes of that record.
pub fn expected_reply(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.out.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (code, token fresh, status) of every lookup the simulator recorded.
pub fn calls(sim: &BusinessSim) -> Vec<(String, bool, u16)> {
    sim.calls().into_iter().map(|c| (c.mst, c.token_fresh, c.status)).collect()
}

pub fn call(mst: &str, fresh: bool, status: u16) -> (String, bool, u16) {
    (mst.to_string(), fresh, status)
}
