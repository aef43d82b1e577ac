//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::{envelope, example};
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../example.toml");

/// The n-th dossier handed in to the land office (the agency the example's routes name).
fn submitted(n: usize) -> Value {
    let mut payload = example("dossier.submitted", 0);
    payload["agency_code"] = "000.00.31.H42".into();
    payload["dossier_code"] = format!("000.00.31.H42-261120-{:04}", n + 1000).into();
    envelope("dossier.submitted", "onestop.sandbox", payload)
}

#[tokio::test]
async fn the_http_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_http::HttpKind),
        example: EXAMPLE,
        log_target: "lgsp_http",
        peer_personal_data: &[],
        traffic: Traffic::Messages { make: submitted, peer_key: |envelope| envelope["id"].as_str().unwrap().into() },
    })
    .await;
}
