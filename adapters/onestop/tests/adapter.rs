//! The real adapter against the real simulator on 127.0.0.1:0.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, Outcome, Simulator};
use lgsp_onestop::{Behaviour, OnestopKind, OnestopSimulator};
use serde_json::{Value, json};

#[test]
fn the_kind_routes_each_agency_and_keys_every_problem() {
    let context = BuildContext::ephemeral("onestop_thachha");
    let mut settings: toml::Table = r#"
        url = "https://motcua.thachha.example"
        agencies = []
        token_endpoint = "/oauth2/token"
        client_id = "lgsp-thachha"
    "#
    .parse()
    .unwrap();
    let problems = OnestopKind.build("onestop_thachha", &settings, &context).err().unwrap();
    let keyed: Vec<(&str, &str)> = problems.iter().map(|p| (p.key.as_str(), p.reason.as_str())).collect();
    assert_eq!(
        keyed,
        [
            ("agencies", "needs at least one agency code, such as 000.00.01.H42"),
            ("client_secret", "is required: set LGSP__ADAPTERS__ONESTOP_THACHHA__CLIENT_SECRET"),
        ]
    );

    settings.insert("agencies".into(), toml::Value::Array(vec!["000.21.30.H42".into(), "21.30.H42".into()]));
    settings.insert("client_secret".into(), "from the environment".into());
    let problems = OnestopKind.build("onestop_thachha", &settings, &context).err().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].key.as_str(), problems[0].reason.contains("`21.30.H42`")), ("agencies", true));

    settings.insert("agencies".into(), toml::Value::Array(vec!["000.21.30.H42".into(), "000.21.31.H42".into()]));
    let adapter = OnestopKind.build("onestop_thachha", &settings, &context).unwrap();
    assert_eq!(
        adapter.routes(),
        [
            "dossier.submitted.*.000-21-30-H42",
            "payment.status.*.000-21-30-H42",
            "postal.shipment_status.*.000-21-30-H42",
            "dossier.submitted.*.000-21-31-H42",
            "payment.status.*.000-21-31-H42",
            "postal.shipment_status.*.000-21-31-H42",
        ]
    );
    assert_eq!(adapter.max_batch(), 1);
    assert_eq!(OnestopKind.name(), "onestop");
}

#[tokio::test]
async fn a_submitted_dossier_reaches_the_system_with_its_annotations_intact() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = fixture("submitted_annotated");

    assert_eq!(adapter.deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);

    let record = sim.dossier(code(&submitted)).unwrap();
    assert_eq!(record.messages.len(), 1);
    let mut received = serde_json::to_value(&record.messages[0]).unwrap();
    received.as_object_mut().unwrap().remove("received_at");
    assert_eq!(received, expected_body("submitted_annotated"));
    // The officer sees which papers the citizen need not hand in again.
    let reuse = &record.messages[0].annotations["documents_reuse"];
    assert_eq!(reuse["required"], json!(["GKS", "XNCT"]));
    assert_eq!(reuse["reusable"][0]["issuer"], "UBND xã Thạch Hà");
    // The system now holds the dossier as received.
    assert_eq!(record.state.as_ref(), Some(&submitted.envelope.payload));
    let calls = sim.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].idempotency_key.as_deref(), Some(id(&submitted).as_str()));
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test]
async fn the_same_message_twice_is_recorded_once() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = fixture("submitted_plain");

    // A redelivery (the bus never saw the first answer) is a success, not a failure.
    for _ in 0..2 {
        assert_eq!(adapter.deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);
    }

    assert_eq!(sim.messages().len(), 1);
    assert_eq!(sim.dossier(code(&submitted)).unwrap().messages.len(), 1);
    let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 409]);
}

#[tokio::test]
async fn one_dossiers_messages_arrive_in_order() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let dossier = "000.00.01.H42-261120-0003";
    let mut submitted = example(SUBMITTED, 0);
    submitted["dossier_code"] = dossier.into();
    let batch = [delivery(SUBMITTED, submitted), delivery(PAYMENT, example(PAYMENT, 0)), fixture("shipment_delivered")];

    assert_eq!(adapter.deliver(&batch).await, vec![Outcome::Delivered; 3]);

    let record = sim.dossier(dossier).unwrap();
    let types: Vec<&str> = record.messages.iter().map(|m| m.message_type.as_str()).collect();
    assert_eq!(types, [SUBMITTED, PAYMENT, SHIPMENT]);
    let ids: Vec<&str> = record.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, batch.iter().map(id).collect::<Vec<_>>());
    assert_eq!(record.messages[2].correlation_id.as_deref(), Some("019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e30"));
    assert_eq!(sim.tokens_issued(), 1, "one token serves every call");
}

#[tokio::test]
async fn an_expired_token_is_renewed_when_the_system_refuses_it() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[fixture("submitted_plain")]).await, [Outcome::Delivered]);

    // The system's clock passes the token's expiry while the adapter still holds it.
    sim.advance_clock(sim.options().token_ttl + Duration::from_secs(1));
    let next = fixture("submitted_annotated");
    assert_eq!(adapter.deliver(std::slice::from_ref(&next)).await, [Outcome::Delivered]);

    assert_eq!(sim.tokens_issued(), 2);
    let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 401, 200]);
    assert_eq!(sim.messages().last().unwrap().id, id(&next));
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_it_is_used() {
    let sim = start_sim().await;
    sim.set_behaviour(Behaviour { token_ttl: Some(Duration::from_secs(2)), ..Behaviour::default() });
    let adapter = adapter(&sim);
    for name in ["submitted_plain", "submitted_annotated", "payment_paid"] {
        assert_eq!(adapter.deliver(&[fixture(name)]).await, [Outcome::Delivered], "{name}");
    }
    // Each token lives less than the renewal margin: a new one for every call, and no refusal.
    assert_eq!(sim.tokens_issued(), 3);
    assert!(sim.calls().iter().all(|call| call.status == 200));
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_then_the_delivery_is_transient() {
    let sim = start_sim().await;
    sim.set_behaviour(Behaviour { refuse_tokens: true, ..Behaviour::default() });
    let adapter = adapter(&sim);

    let outcomes = adapter.deliver(&[fixture("submitted_plain")]).await;

    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("refused a freshly issued token: HTTP 401"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.contains("invalid_token")), "{failure:?}");
    assert_eq!(sim.tokens_issued(), 2, "one renewal, not a loop");
    assert_eq!(sim.calls().iter().map(|c| c.status).collect::<Vec<_>>(), [401, 401]);
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn a_refused_dossier_is_permanent_with_the_systems_reason() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let refused = fixture("submitted_annotated");
    let reason = "Hồ sơ của công dân 001203000001 thiếu tờ khai TK01";
    let refuse = BTreeMap::from([(code(&refused).to_string(), reason.to_string())]);
    sim.set_behaviour(Behaviour { refuse_dossiers: refuse, ..Behaviour::default() });

    let outcomes = adapter.deliver(&[refused.clone(), fixture("submitted_plain")]).await;

    let failure = permanent(&outcomes[0]);
    assert_eq!(
        failure.reason,
        "one-stop system refused dossier.submitted of 000.00.01.H42-261120-0001: HTTP 422 Unprocessable Entity: \
         Hồ sơ của công dân 0012******01 thiếu tờ khai TK01"
    );
    let answer = failure.peer_answer.as_deref().unwrap();
    assert!(answer.starts_with("HTTP 422") && answer.contains("thiếu tờ khai"), "{answer}");
    assert!(!answer.contains("001203000001"), "no citizen ID in {answer}");
    assert_eq!(failure.code.as_deref(), Some("http:422"), "the code a delivery policy can name");
    assert_eq!(outcomes[1], Outcome::Delivered, "the others still go");
    assert!(sim.dossier(code(&refused)).is_none());
}

#[tokio::test]
async fn trouble_at_the_system_is_transient() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = adapter_with(&settings);
    // Holding a token, so that each case reaches the messages endpoint.
    assert_eq!(adapter.deliver(&[fixture("submitted_plain")]).await, [Outcome::Delivered]);
    let cases = [
        (
            Behaviour { down: true, ..Behaviour::default() },
            "answered HTTP 503 Service Unavailable: Hệ thống đang bảo trì",
        ),
        (Behaviour { error_rate: 1.0, ..Behaviour::default() }, "answered HTTP 500 Internal Server Error"),
        (
            Behaviour { timeout_rate: 1.0, ..Behaviour::default() },
            "no answer from the one-stop system at 127.0.0.1 within 300ms",
        ),
    ];
    for (behaviour, expected) in cases {
        sim.set_behaviour(behaviour.clone());
        let outcomes = adapter.deliver(&[fixture("submitted_annotated")]).await;
        let failure = transient(&outcomes[0]);
        assert!(failure.reason.starts_with("dossier.submitted of 000.00.01.H42-261120-0001 not delivered: "));
        assert!(failure.reason.contains(expected), "{behaviour:?}: {failure:?}");
    }
    assert_eq!(sim.messages().len(), 1);

    // And once the system is back, the same adapter delivers.
    sim.set_behaviour(Behaviour::default());
    assert_eq!(adapter.deliver(&[fixture("submitted_annotated")]).await, [Outcome::Delivered]);
}

#[tokio::test]
async fn a_token_endpoint_in_trouble_is_transient() {
    let sim = start_sim().await;
    sim.set_behaviour(Behaviour { down: true, ..Behaviour::default() });
    let outcomes = adapter(&sim).deliver(&[fixture("submitted_plain")]).await;
    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("token endpoint answered HTTP 503"), "{failure:?}");
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_transient_and_never_shown() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("client_secret".into(), "not-the-secret".into());
    let outcomes = adapter_with(&settings).deliver(&[fixture("submitted_plain")]).await;
    let failure = transient(&outcomes[0]);
    assert!(
        failure.reason.contains("token endpoint refused client `lgsp`: HTTP 401 Unauthorized: unknown client"),
        "{failure:?}"
    );
    assert!(!format!("{failure:?}").contains("not-the-secret"));
    assert_eq!(sim.tokens_issued(), 0);
}

#[tokio::test]
async fn another_client_error_is_permanent_with_the_systems_answer() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("messages_endpoint".into(), "/no-such-endpoint".into());
    let outcomes = adapter_with(&settings).deliver(&[fixture("submitted_plain")]).await;
    let failure = permanent(&outcomes[0]);
    assert!(failure.reason.contains("HTTP 404 Not Found"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 404")), "{failure:?}");
}

#[tokio::test]
async fn a_stale_dossier_submitted_is_superseded_and_not_sent() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let outcomes = adapter.deliver(&[stale(fixture("submitted_annotated"))]).await;
    assert_eq!(outcomes, [Outcome::Superseded]);
    assert!(sim.calls().is_empty(), "nothing sent");
    assert_eq!(sim.tokens_issued(), 0, "not even a token asked for");
}

#[tokio::test]
async fn stale_payments_and_shipments_are_still_sent() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    // payment_paid is stale as the fixture has it: a newer payment.status already went.
    let payment = fixture("payment_paid");
    assert!(payment.stale);
    let shipment = stale(fixture("shipment_delivered"));

    let outcomes = adapter.deliver(&[payment.clone(), shipment.clone()]).await;

    // Each is an event of the dossier's history with its own time, delivered in full.
    assert_eq!(outcomes, [Outcome::Delivered, Outcome::Delivered]);
    let received: Vec<Value> = sim.messages().iter().map(|m| json!([m.id, m.message_type])).collect();
    assert_eq!(received, [json!([id(&payment), PAYMENT]), json!([id(&shipment), SHIPMENT])]);
}

/// The simulator serves the token endpoint beside the messages endpoint: settings that put the
/// token endpoint on another host cannot be simulated, and it says which key to change.
#[tokio::test]
async fn the_sandbox_simulator_needs_the_token_endpoint_beside_the_system() {
    let port = lgsp_bus::simulator::free_port().unwrap();
    let mut settings: toml::Table = format!(
        r#"
        url = "http://127.0.0.1:{port}/motcua"
        agencies = ["{AGENCY}"]
        token_endpoint = "https://sso.example/token"
        client_id = "operator"
        "#
    )
    .parse()
    .unwrap();
    for (key, value) in OnestopSimulator.sandbox_settings() {
        settings.entry(key).or_insert(value);
    }
    let refused = OnestopSimulator.serve(&settings).await.unwrap_err();
    assert!(refused.to_string().contains("make token_endpoint a path"), "{refused}");
}
