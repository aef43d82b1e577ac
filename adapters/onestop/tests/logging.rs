//! What the adapter logs, in a test binary of its own: a thread's own subscriber sees every
//! event only when no other test registers the same call sites at the same time.

mod common;

use std::collections::BTreeMap;

use common::*;
use lgsp_bus::{Adapter, Outcome};
use lgsp_onestop::Behaviour;

#[tokio::test]
async fn deliveries_are_logged_with_ids_and_dossier_never_the_payload_or_citizen_ids() {
    let captured = lgsp_bus::testing::logs::capture("lgsp_onestop=trace");

    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = fixture("submitted_annotated");
    assert_eq!(adapter.deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);
    assert_eq!(adapter.deliver(&[stale(fixture("submitted_plain"))]).await, [Outcome::Superseded]);
    // The system echoes the citizen ID in its refusal.
    let refuse = BTreeMap::from([(
        "000.21.30.H42-261120-0002".to_string(),
        "Công dân 001203000001 (Nguyễn Văn An) chưa nộp lệ phí".to_string(),
    )]);
    sim.set_behaviour(Behaviour { refuse_dossiers: refuse, ..Behaviour::default() });
    assert!(matches!(adapter.deliver(&[fixture("submitted_plain")]).await[0], Outcome::Permanent(_)));
    // And the sender's side.
    sim.set_behaviour(Behaviour::default());
    let port = lgsp_bus::simulator::free_port().unwrap();
    let bus = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    assert!(sim.sender("onestop.sotuphap", "secret", &bus).advance(code(&submitted), 2, None).await.is_err());

    let logs = captured.text();
    let events = ["onestop_token_issued", "onestop_delivered", "onestop_superseded", "onestop_delivery_failed"];
    for event in events {
        assert!(logs.contains(&format!("event=\"{event}\"")), "{event} not logged: {logs}");
    }
    let delivered = logs.lines().find(|l| l.contains("onestop_delivered")).unwrap();
    for expected in [id(&submitted).as_str(), code(&submitted), "onestop_test", "dossier.submitted"] {
        assert!(delivered.contains(expected), "{expected} missing from {delivered}");
    }
    let failed = logs.lines().find(|l| l.contains("onestop_delivery_failed")).unwrap();
    assert!(failed.contains("0012******01") && failed.contains("HTTP 422"), "{failed}");
    for secret in ["001203000001", "0912345678", "Thôn 3", "Tờ khai", "sandbox", "client_secret="] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}
