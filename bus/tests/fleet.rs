//! Adapters changed on a running bus, against a real broker and a real store: added (it gets
//! the next matching message), paused (its
//! messages wait in its queue) and resumed (they come, in order); removed (what was queued for
//! it lands in the dead-letter archive, nothing more is routed to it, its queue is gone); each
//! by the role it needs, and each on the message log with who did it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{DOSSIER, TIERS, TestBus, status_changed};
use lgsp_bus::config::{BreakerPolicy, DeliveryPolicy, PeerLimits, RequestPolicy};
use lgsp_bus::engine::AdapterRuntime;
use lgsp_bus::engine::guard::PeerGuard;
use lgsp_bus::{Failure, Outcome};
use reqwest::Method;
use serde_json::json;

/// The bus's second scripted adapter, taking status changes, to be added to the running bus.
fn other(bus: &TestBus) -> Arc<AdapterRuntime> {
    let policy = DeliveryPolicy { retry_tiers: TIERS.to_vec(), ..DeliveryPolicy::default() };
    Arc::new(AdapterRuntime {
        id: "other".into(),
        adapter: bus.other.clone(),
        routes: vec!["dossier.status_changed.#".into()],
        guard: PeerGuard::new("other", BreakerPolicy::default(), &PeerLimits::default()),
        policy,
        services: Vec::new(),
        requests: RequestPolicy::default(),
        contracts: Default::default(),
    })
}

#[tokio::test]
async fn a_paused_adapter_keeps_its_messages_and_takes_them_in_order_when_resumed() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);

    let (status, paused) = bus.operator.call(Method::POST, "/v1/adapters/scripted/pause").await;
    assert_eq!((status, paused["state"].as_str()), (200, Some("paused")), "{paused}");
    let (status, again) = bus.operator.call(Method::POST, "/v1/adapters/scripted/pause").await;
    assert_eq!((status, again["type"].as_str()), (409, Some("https://lgsp.local/problems/adapter-state")), "{again}");

    let messages: Vec<_> = (1..=3).map(|seq| status_changed(DOSSIER, seq, 4)).collect();
    for message in &messages {
        assert_eq!(bus.post(message).await.0, 202);
    }
    // Accepted (the broker confirmed each) and waiting in the adapter's queue, not delivered.
    assert_eq!(bus.queue_depth("scripted").await, 3);
    assert!(bus.adapter.seen().is_empty());
    let (_, shown) = bus.operator.get("/v1/adapters/scripted").await;
    assert_eq!(shown["state"], "paused", "{shown}");
    // Its lookups would only wait out their timeout: the caller hears at once why not.
    let lookup = json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                        "dossier_code": DOSSIER});
    let asked = bus.api.http.post(format!("{}/v1/services/citizen.verify", bus.api.base)).json(&lookup).send().await;
    let asked = asked.unwrap();
    assert_eq!(asked.status(), 503);
    let problem: serde_json::Value = asked.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("paused"), "{problem}");

    let (status, resumed) = bus.operator.call(Method::POST, "/v1/adapters/scripted/resume").await;
    assert_eq!((status, resumed["state"].as_str()), (200, Some("running")), "{resumed}");
    for message in &messages {
        bus.wait_state(message["id"].as_str().unwrap(), "delivered").await;
    }
    let seqs: Vec<u64> = bus.adapter.seen().iter().map(|seen| seen.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);

    // On the message log, with who did it.
    let auditor = bus.api.as_("auditor").await;
    let actions = |log: &serde_json::Value| -> Vec<String> {
        let entries = log["entries"].as_array().into_iter().flatten();
        entries.filter_map(|e| e["detail"]["action"].as_str().map(String::from)).collect()
    };
    bus.wait_log(&auditor, "/v1/audit?kind=operator.action&actor=operator", |_, log| {
        ["adapters.pause", "adapters.resume"].iter().all(|action| actions(log).iter().any(|a| a == action))
    })
    .await;
    bus.stop().await;
}

#[tokio::test]
async fn a_removed_adapter_leaves_what_was_queued_for_it_in_the_archive_and_gets_nothing_more() {
    let bus = TestBus::start().await;
    let admin = bus.api.as_("admin").await;
    assert_eq!(bus.operator.call(Method::POST, "/v1/adapters/scripted/pause").await.0, 200);
    let messages: Vec<_> = (1..=3).map(|seq| status_changed(DOSSIER, seq, 4)).collect();
    for message in &messages {
        assert_eq!(bus.post(message).await.0, 202);
    }

    // Removing takes an admin; an operator is refused and nothing changes.
    let (status, refused) = bus.operator.call(Method::DELETE, "/v1/adapters/scripted").await;
    assert_eq!((status, refused["missing_right"].as_str()), (403, Some("role admin")), "{refused}");
    assert_eq!(admin.call(Method::DELETE, "/v1/adapters/nothing").await.0, 404);

    let (status, removing) = admin.call(Method::DELETE, "/v1/adapters/scripted").await;
    assert_eq!((status, removing["state"].as_str()), (202, Some("removing")), "{removing}");
    for message in &messages {
        let row = bus.operator.wait_dead_letter(message["id"].as_str().unwrap(), "scripted", "dead").await;
        assert!(row["last_error"].as_str().unwrap().contains("removed by admin"), "{row}");
        bus.wait_state(message["id"].as_str().unwrap(), "dead_lettered").await;
    }
    let adapters = bus.bus.as_ref().unwrap().fleet.adapters().clone();
    assert!(adapters.wait_until(Duration::from_secs(10), |roster| roster.get("scripted").is_none()).await);
    assert_eq!(bus.operator.get("/v1/adapters/scripted").await.0, 404);
    assert!(bus.adapter.seen().is_empty(), "a removed adapter is handed nothing");

    // Nothing receives the next one: it is refused, not accepted and dropped.
    let (status, unroutable) = bus.post(&status_changed(DOSSIER, 4, 4)).await;
    assert_eq!((status, unroutable["type"].as_str()), (422, Some("https://lgsp.local/problems/unroutable")));

    // What it left is replayed to the system that replaces it, once each.
    let first = messages[0]["id"].as_str().unwrap();
    let (status, problem) = bus.operator.call(Method::POST, &format!("/v1/dead-letters/{first}/replay")).await;
    assert_eq!(status, 409, "its own adapter is gone: {problem}");
    assert!(problem["detail"].as_str().unwrap().contains("not on this bus"), "{problem}");
    bus.other.answer(|_| Outcome::Delivered);
    bus.bus.as_ref().unwrap().fleet.add(other(&bus)).await.unwrap();
    for message in &messages {
        let id = message["id"].as_str().unwrap();
        let (status, replayed) =
            bus.operator.call(Method::POST, &format!("/v1/dead-letters/{id}/replay?to=other")).await;
        assert_eq!((status, replayed["replayed"].clone()), (202, json!(["scripted"])), "{replayed}");
        let delivered_to_other = |_: u16, view: &serde_json::Value| {
            let deliveries = view["deliveries"].as_array().into_iter().flatten();
            deliveries.filter(|d| d["adapter"] == "other").any(|d| d["state"] == "delivered")
        };
        bus.api.wait_get(&format!("/v1/messages/{id}"), delivered_to_other).await;
        let (_, row) = bus.operator.get(&format!("/v1/dead-letters/{id}")).await;
        let row = &row["dead_letters"][0];
        assert_eq!((row["state"].as_str(), row["replayed_to"].as_str()), (Some("replayed"), Some("other")), "{row}");
    }
    let seqs: Vec<u64> = bus.other.seen().iter().map(|seen| seen.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let (status, again) = bus.operator.call(Method::POST, &format!("/v1/dead-letters/{first}/replay?to=other")).await;
    assert_eq!(status, 409, "replayed already: {again}");
    bus.stop().await;
}

#[tokio::test]
async fn an_adapter_added_to_a_running_bus_gets_the_next_matching_message() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);
    bus.other.answer(|_| Outcome::Delivered);
    let first = status_changed(DOSSIER, 1, 4);
    assert_eq!(bus.post(&first).await.0, 202);
    bus.wait_state(first["id"].as_str().unwrap(), "delivered").await;

    let fleet = &bus.bus.as_ref().unwrap().fleet;
    fleet.add(other(&bus)).await.unwrap();
    let (_, shown) = bus.operator.get("/v1/adapters/other").await;
    assert_eq!(shown["state"], "running", "{shown}");

    let second = status_changed(DOSSIER, 2, 5);
    assert_eq!(bus.post(&second).await.0, 202);
    let view = bus.wait_state(second["id"].as_str().unwrap(), "delivered").await;
    let adapters: Vec<&str> =
        view["deliveries"].as_array().unwrap().iter().filter_map(|d| d["adapter"].as_str()).collect();
    assert_eq!(adapters.len(), 2, "both adapters receive it: {view}");
    let seen: Vec<u64> = bus.other.seen().iter().map(|s| s.seq).collect();
    assert_eq!(seen, [2], "the new adapter gets what comes after it, not before");
    bus.stop().await;
}

#[tokio::test]
async fn a_retry_copy_coming_back_to_a_removed_adapter_is_archived_not_lost() {
    let bus = TestBus::start().await;
    let admin = bus.api.as_("admin").await;
    bus.adapter.answer(|_| Outcome::Transient(Failure::new("portal answered HTTP 503").with_code("http:503")));
    let message = status_changed(DOSSIER, 1, 4);
    assert_eq!(bus.post(&message).await.0, 202);
    let id = message["id"].as_str().unwrap();
    bus.wait_state(id, "retrying").await;

    // Its copy waits in a retry tier while the adapter goes; when it comes back, it is archived
    // (or, if the engine gave up on it first, it is archived by the engine): never dropped.
    assert_eq!(admin.call(Method::DELETE, "/v1/adapters/scripted").await.0, 202);
    let row = bus.operator.wait_dead_letter(id, "scripted", "dead").await;
    assert_eq!(row["id"], id, "{row}");
    bus.wait_state(id, "dead_lettered").await;
    let adapters = bus.bus.as_ref().unwrap().fleet.adapters().clone();
    assert!(adapters.wait_until(Duration::from_secs(10), |roster| roster.get("scripted").is_none()).await);
    bus.stop().await;
}
