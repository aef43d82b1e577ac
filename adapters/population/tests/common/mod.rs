//! Shared by the integration tests: a simulator on 127.0.0.1:0, an adapter pointed at it, and
//! `citizen.verify` requests.

#![allow(dead_code)] // each test file uses its own share of these

use lgsp_bus::config::Settings;
use std::time::Duration;

#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{catalogue, refused, unavailable};
use lgsp_bus::{Failure, ServiceError, ServiceRequest};
use lgsp_population::{PopulationAdapter, PopulationConfig, PopulationSim, SimOptions};
use serde_json::{Value, json};

pub const AN: &str = "001203000001";
pub const BINH: &str = "042198000002";
pub const NOBODY: &str = "079300000099";
pub const DOSSIER: &str = "000.00.01.H42-261120-0001";
/// The member asking: its id goes to the registry as `MaCanBo`.
pub const MEMBER: &str = "onestop.h42";
pub const MA_DVC: &str = "DVC-H42";
pub const MA_TICH_HOP: &str = "TH-H42-0001";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start_sim() -> PopulationSim {
    start_sim_with(SimOptions::default()).await
}

pub async fn start_sim_with(options: SimOptions) -> PopulationSim {
    PopulationSim::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap()
}

/// The settings an operator would write for this simulator.
pub fn settings(sim: &PopulationSim) -> toml::Table {
    let mut settings = toml::Table::new();
    settings.insert("url".into(), sim.url().to_string().into());
    settings.insert("ma_dvc".into(), MA_DVC.into());
    settings.insert("ma_tich_hop".into(), MA_TICH_HOP.into());
    settings.insert("timeout".into(), "5s".into());
    settings
}

pub fn config(settings: &toml::Table) -> PopulationConfig {
    PopulationConfig::from_settings("population", settings).unwrap()
}

pub fn adapter(sim: &PopulationSim) -> PopulationAdapter {
    PopulationAdapter::new(&config(&settings(sim))).unwrap()
}

/// A `citizen.verify` request from `MEMBER` for `DOSSIER`.
pub fn verify(cccd: &str, name: &str, born: &str, fields: &[&str]) -> ServiceRequest {
    verify_for(DOSSIER, cccd, name, born, fields)
}

pub fn verify_for(dossier: &str, cccd: &str, name: &str, born: &str, fields: &[&str]) -> ServiceRequest {
    let mut body = json!({"cccd": cccd, "full_name": name, "date_of_birth": born, "dossier_code": dossier});
    if !fields.is_empty() {
        body["fields"] = json!(fields);
    }
    let request = ServiceRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        service: "citizen.verify".into(),
        member: MEMBER.into(),
        body,
    };
    // What the bus checks before it calls the adapter.
    if let Some(Err(violations)) = catalogue().check_request("citizen.verify", &request.body) {
        panic!("test request breaks the request schema: {violations:?}");
    }
    request
}

/// The reply, after the bus's own check of it.
pub fn checked(reply: Result<Value, ServiceError>) -> Value {
    let reply = reply.unwrap_or_else(|e| panic!("expected a reply, got {e:?}"));
    if let Err(violations) = catalogue().check_reply("citizen.verify", &reply) {
        panic!("{reply} breaks the reply schema: {violations:?}");
    }
    reply
}

/// No citizen ID in anything a failure carries.
pub fn assert_no_cccd(failure: &Failure, cccd: &str) {
    assert!(!failure.reason.contains(cccd), "CCCD in the reason: {failure:?}");
    assert!(!failure.peer_answer.as_deref().unwrap_or_default().contains(cccd), "CCCD in the answer: {failure:?}");
}
