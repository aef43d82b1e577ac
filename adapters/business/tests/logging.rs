//! What the adapter logs about lookups, in a test binary of its own: a thread's own subscriber
//! sees every event only when no other test registers the same call sites at the same time.

mod common;

use common::*;
use lgsp_bus::Adapter;
use lgsp_business::Behaviour;

#[tokio::test]
async fn lookups_are_logged_with_code_dossier_and_outcome_never_the_record() {
    let captured = lgsp_bus::testing::logs::capture("lgsp_business=trace");

    let sim = start_sim().await;
    let adapter = adapter(&sim);
    lookup(&adapter, ENTERPRISE).await;
    lookup(&adapter, UNKNOWN).await;
    sim.set_behaviour(Behaviour { down: true, ..Behaviour::default() });
    sim.revoke_tokens();
    unavailable(adapter.call(&request(BRANCH)).await);

    let logs = captured.text();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("event=\"business_lookup")).collect();
    assert_eq!(lines.len(), 3, "{logs}");
    for (line, mst) in lines.iter().zip([ENTERPRISE, UNKNOWN, BRANCH]) {
        assert!(line.contains(&format!("mst=\"{mst}\"")) && line.contains(DOSSIER) && line.contains(MEMBER), "{line}");
    }
    assert!(lines[0].contains("outcome=\"found\"") && lines[0].contains("legal_status=\"active\""), "{}", lines[0]);
    assert!(lines[1].contains("outcome=\"not_found\""), "{}", lines[1]);
    assert!(lines[2].contains("business_lookup_failed") && lines[2].contains("HTTP 503"), "{}", lines[2]);
    for secret in ["Phạm Minh Phát", "001075000123", "1975-04-12", "Tràng Tiền", "sandbox"] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}
