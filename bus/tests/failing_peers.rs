//! A failing peer: the circuit breaker stops the bus hammering it and keeps its messages waiting
//! (their attempts are not spent), requests are refused at once while it is open, and the
//! adapter's policy decides which failure codes are worth retrying.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::testing::dossier;
use lgsp_bus::{Failure, Outcome};
use serde_json::json;

const BREAKER: &str = r#"
[adapters.scripted.breaker]
failures = 2
open_for = "200ms"
max_open_for = "400ms"
"#;

#[tokio::test]
async fn a_dead_peer_is_probed_while_its_messages_wait_in_the_queue() {
    let bus = TestBus::start_with(|_| BREAKER.into()).await;
    let down = Arc::new(AtomicBool::new(true));
    bus.adapter.answer({
        let down = down.clone();
        move |_| {
            if down.load(Ordering::SeqCst) {
                Outcome::Transient(Failure::new("connection refused").with_code("unreachable"))
            } else {
                Outcome::Delivered
            }
        }
    });
    let messages: Vec<_> = (1..=12).map(|n| status_changed(&dossier(n), 1, 4)).collect();
    for message in &messages {
        assert_eq!(bus.post(message).await.0, 202);
    }
    // Without the breaker, 3 attempts 100–200 ms apart would dead-letter every message well
    // within the outage. With it, the peer gets a probe every 200–400 ms and nothing more.
    let seen = bus.adapter.wait_until(|s| s.len() >= 4).await;
    assert!(seen.iter().all(|s| s.attempt <= 3));
    tokio::time::sleep(Duration::from_millis(1500)).await; // the outage goes on
    let (_, adapters) = bus.operator.get("/v1/adapters").await;
    let breaker = &adapters["adapters"][0]["breaker"];
    assert!(["open", "probing"].contains(&breaker["state"].as_str().unwrap()), "{adapters}");
    let during = bus.adapter.seen();
    assert!(during.iter().all(|s| s.attempt < 3), "no message spent its attempts: {during:#?}");
    // Requests to an open breaker are refused at once, not queued behind a dead peer.
    let request = json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                         "dossier_code": DOSSIER, "fields": ["permanent_address"]});
    let thachha = bus.api.as_("onestop.thachha").await;
    let response =
        thachha.http.post(format!("{}/v1/services/citizen.verify", bus.api.base)).json(&request).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("failing"), "{problem}");

    down.store(false, Ordering::SeqCst);
    for message in &messages {
        bus.wait_state(message["id"].as_str().unwrap(), "delivered").await;
    }
    let (status, archive) = bus.operator.get("/v1/dead-letters").await;
    assert_eq!((status, archive["total"].as_u64()), (200, Some(0)), "nothing was given up on: {archive}");
    bus.stop().await;
}

#[tokio::test]
async fn one_dead_peer_does_not_hold_back_the_other_adapters() {
    let bus = TestBus::start_with(|_| {
        format!(
            r#"{BREAKER}
            [adapters.other]
            kind = "scripted_other"
            [adapters.other.delivery]
            max_attempts = 3
            retry_tiers = ["100ms", "200ms"]
            [adapters.other.breaker]
            failures = 2
            open_for = "60s"
            "#
        )
    })
    .await;
    bus.other.answer(|_| Outcome::Transient(Failure::new("connection refused").with_code("unreachable")));
    let first = status_changed(&dossier(1), 1, 4);
    bus.post(&first).await;
    // Its peer failed twice: its breaker is open for a minute.
    bus.other.wait_until(|s| s.len() >= 2).await;
    let (_, adapters) = bus.operator.get("/v1/adapters").await;
    let state = |id: &str| {
        let adapter = adapters["adapters"].as_array().unwrap().iter().find(|a| a["id"] == id).unwrap();
        adapter["breaker"]["state"].as_str().unwrap().to_string()
    };
    assert_eq!((state("other").as_str(), state("scripted").as_str()), ("open", "closed"), "{adapters}");

    // Meanwhile the healthy adapter takes every message at once.
    let messages: Vec<_> = (2..=11).map(|n| status_changed(&dossier(n), 1, 4)).collect();
    for message in &messages {
        bus.post(message).await;
    }
    let ids: Vec<String> = messages.iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    bus.adapter.wait_until(|seen| ids.iter().all(|id| seen.iter().any(|s| &s.id == id))).await;
    assert_eq!(bus.other.seen().len(), 2, "the dead peer was not called again while its breaker is open");
    bus.stop().await;
}

#[tokio::test]
async fn the_policy_decides_which_failure_codes_are_permanent() {
    let bus = TestBus::start_with(|_| {
        // Appended to the test bus's [adapters.scripted.delivery] table.
        r#"
        permanent = ["http:409"]
        transient = ["answer:99"]
        "#
        .into()
    })
    .await;
    let conflict = status_changed(DOSSIER, 1, 4);
    let maintenance = status_changed(&dossier(2), 1, 4);
    let conflict_id = conflict["id"].as_str().unwrap().to_string();
    bus.adapter.answer(move |d| match (d.envelope.id.to_string() == conflict_id, d.attempt) {
        // The adapter would retry a 409; this peer's 409 means it never will take it.
        (true, _) => Outcome::Transient(Failure::new("portal answered HTTP 409").with_code("http:409")),
        // The adapter would give up on code 99; this peer answers it while under maintenance.
        (false, 1) => Outcome::Permanent(Failure::new("error_code 99: bảo trì").with_code("answer:99")),
        (false, _) => Outcome::Delivered,
    });
    bus.post(&conflict).await;
    bus.post(&maintenance).await;
    let view = bus.wait_state(conflict["id"].as_str().unwrap(), "dead_lettered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 1, "{view}");
    assert!(
        view["deliveries"][0]["last_error"].as_str().unwrap().contains("permanent by the adapter's delivery policy")
    );
    let view = bus.wait_state(maintenance["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 2, "{view}");
    bus.stop().await;
}

#[tokio::test]
async fn a_call_that_may_have_reached_the_peer_marks_the_next_attempt_uncertain() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|d| match d.attempt {
        1 => Outcome::Transient(Failure::new("no answer within 1s").with_code("timeout").uncertain()),
        2 => Outcome::Transient(Failure::new("portal answered HTTP 503").with_code("http:503")),
        _ => Outcome::Delivered,
    });
    let message = status_changed(DOSSIER, 1, 4);
    bus.post(&message).await;
    bus.wait_state(message["id"].as_str().unwrap(), "delivered").await;
    let uncertain: Vec<(u32, bool)> = bus.adapter.seen().iter().map(|s| (s.attempt, s.uncertain)).collect();
    // The second attempt was told; its plain 503 says the adapter settled the doubt.
    assert_eq!(uncertain, [(1, false), (2, true), (3, false)]);
    bus.stop().await;
}
