//! The conformance suite every adapter passes (`lgsp_bus::testing::conformance`).

use std::sync::Arc;

use lgsp_bus::testing::adapter::catalogue;
use lgsp_bus::testing::conformance::{Subject, Traffic, run};
use lgsp_bus::testing::dossier;
use serde_json::Value;

/// The n-th lookup of the sandbox's enterprise, for a dossier of its own.
fn lookup(n: usize) -> Value {
    let mut request = catalogue().document("business.lookup.request.json").unwrap()["examples"][0].clone();
    request["dossier_code"] = dossier(n as u32 + 1000).into();
    request
}

#[tokio::test]
async fn the_business_adapter_conforms() {
    run(Subject {
        kind: Arc::new(lgsp_business::BusinessKind),
        example: include_str!("../example.toml"),
        log_target: "lgsp_business",
        // The registry answers with the legal representative's citizen ID (the sandbox's
        // enterprise 0101234567): the bus passes none of it on, and logs none of it.
        peer_personal_data: &["001075000123"],
        traffic: Traffic::Requests { service: "business.lookup", make: lookup },
    })
    .await;
}
