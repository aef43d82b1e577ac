//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::{envelope, example};
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use lgsp_bus::testing::dossier;
use serde_json::Value;

/// The n-th dossier handed in, as a one-stop system sends it.
fn submitted(n: usize) -> Value {
    let mut payload = example("dossier.submitted", 0);
    payload["dossier_code"] = dossier(n as u32 + 1000).into();
    envelope("dossier.submitted", "onestop.sandbox", payload)
}

#[tokio::test]
async fn the_dvc_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_dvc::DvcKind),
        example: include_str!("../example.toml"),
        log_target: "lgsp_dvc",
        peer_personal_data: &[],
        traffic: Traffic::Messages { make: submitted, peer_key: |envelope| envelope["id"].as_str().unwrap().into() },
    })
    .await;
}
