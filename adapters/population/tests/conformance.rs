//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::catalogue;
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use lgsp_bus::testing::dossier;
use serde_json::Value;

/// The n-th check of a citizen in the sandbox, for a dossier of its own.
fn verify(n: usize) -> Value {
    let mut request = catalogue().document("citizen.verify.request.json").unwrap()["examples"][0].clone();
    request["dossier_code"] = dossier(n as u32 + 1000).into();
    request
}

#[tokio::test]
async fn the_population_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_population::PopulationKind),
        example: include_str!("../example.toml"),
        log_target: "lgsp_population",
        peer_personal_data: &[],
        traffic: Traffic::Requests { service: "citizen.verify", make: verify },
    })
    .await;
}
