//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::{envelope, example};
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use lgsp_bus::testing::dossier;
use serde_json::Value;

/// The n-th dossier handed in for the example's first system's agency (000.00.01.H42).
fn submitted(n: usize) -> Value {
    let mut payload = example("dossier.submitted", 0);
    payload["dossier_code"] = dossier(n as u32 + 1000).into();
    envelope("dossier.submitted", "portal.national", payload)
}

#[tokio::test]
async fn the_onestop_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_onestop::OnestopKind),
        example: include_str!("../example.toml"),
        log_target: "lgsp_onestop",
        peer_personal_data: &[],
        traffic: Traffic::Messages { make: submitted, peer_key: |envelope| envelope["id"].as_str().unwrap().into() },
    })
    .await;
}
