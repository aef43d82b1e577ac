//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::{envelope, example};
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use lgsp_bus::testing::dossier;
use serde_json::Value;

/// The n-th pickup a one-stop system asks for, each its own order.
fn pickup(n: usize) -> Value {
    let mut payload = example("postal.pickup_requested", 0);
    payload["dossier_code"] = dossier(n as u32 + 1000).into();
    payload["order_number"] = format!("PU-261120-{:04}", n + 1000).into();
    envelope("postal.pickup_requested", "onestop.sandbox", payload)
}

#[tokio::test]
async fn the_postal_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_postal::PostalKind),
        example: include_str!("../example.toml"),
        log_target: "lgsp_postal",
        peer_personal_data: &[],
        traffic: Traffic::Messages {
            make: pickup,
            peer_key: |envelope| envelope["payload"]["order_number"].as_str().unwrap().into(),
        },
    })
    .await;
}
