//! The dead-letter archive against a real broker and a real store: what an adapter gives up on
//! is archived with its history, listed by filter, replayed through the normal path (once, and
//! never over a newer state) and purged.

mod common;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::testing::amqp_url;
use lgsp_bus::{Failure, Outcome};
use reqwest::Method;
use serde_json::Value;

const OTHER: &str = "000.00.01.H42-261120-0002";

/// The adapter refuses `DOSSIER` for good, as a portal refusing a dossier does, and takes the rest.
fn refuse_the_dossier(bus: &TestBus) {
    bus.adapter.answer(|d| {
        if d.envelope.subject == DOSSIER && !d.stale {
            Outcome::Permanent(
                Failure::new("portal refused: error_code 03")
                    .with_answer("{\"error_code\":\"03\",\"message\":\"thiếu MaTTHC\"}"),
            )
        } else if d.stale {
            Outcome::Superseded
        } else {
            Outcome::Delivered
        }
    });
}

/// Posts a message and waits until it is archived as a dead letter; returns its id and row.
async fn dead(bus: &TestBus, message: &Value) -> (String, Value) {
    let (status, body) = bus.post(message).await;
    assert_eq!(status, 202, "{body}");
    let id = message["id"].as_str().unwrap().to_string();
    bus.wait_state(&id, "dead_lettered").await;
    let row = bus.operator.wait_dead_letter(&id, "scripted", "dead").await;
    (id, row)
}

fn ids(list: &Value) -> Vec<&str> {
    list["dead_letters"].as_array().unwrap().iter().map(|row| row["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_refused_message_is_archived_with_its_history_and_taken_off_the_dead_queue() {
    let mut bus = TestBus::start().await;
    refuse_the_dossier(&bus);
    let message = status_changed(DOSSIER, 1, 4);
    let (id, row) = dead(&bus, &message).await;

    assert_eq!(row["attempts"], 1);
    assert_eq!(row["last_error"], "portal refused: error_code 03");
    assert_eq!(row["peer_answer"], "{\"error_code\":\"03\",\"message\":\"thiếu MaTTHC\"}");
    assert_eq!(
        (row["type"].as_str(), row["subject"].as_str(), row["seq"].as_u64()),
        (Some("dossier.status_changed"), Some(DOSSIER), Some(1))
    );
    assert!(row["first_failed_at"].is_string() && row["last_failed_at"] == row["dead_at"], "{row:#}");
    assert_eq!(row["envelope"], message, "the envelope a replay publishes");
    assert!(row["accepted_at"].is_string());

    let (status, list) = bus.operator.get("/v1/dead-letters").await;
    assert_eq!((status, ids(&list), list["total"].as_u64()), (200, vec![id.as_str()], Some(1)));
    assert_eq!(list["dead_letters"][0]["last_error"], "portal refused: error_code 03");
    assert!(list["dead_letters"][0].get("envelope").is_none(), "a list leaves bodies out");

    // The engine acked it once archived: with the bus stopped (its channels closed, anything
    // unacked back in the queue) the adapter's queue is empty.
    bus.halt().await;
    assert_eq!(bus.queue_depth("scripted").await, 0);
    bus.stop().await;
}

#[tokio::test]
async fn filters_narrow_the_list_and_a_bad_filter_is_named() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Permanent(Failure::new("refused")));
    let (first, _) = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let (second, _) = dead(&bus, &status_changed(OTHER, 1, 4)).await;

    let list = |query: &'static str| {
        let bus = &bus;
        async move {
            let (status, body) = bus.operator.get(&format!("/v1/dead-letters{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let all = list("?adapter=scripted&type=dossier.status_changed&since=2020-01-01T00:00:00Z").await;
    assert_eq!(ids(&all), [second.as_str(), first.as_str()], "newest first");
    for query in [
        "?adapter=dvc",
        "?type=dossier.submitted",
        "?since=2999-01-01T00:00:00%2B07:00",
        "?until=2020-01-01T00:00:00Z",
        "?state=replayed",
    ] {
        assert_eq!(list(query).await["total"], 0, "{query}");
    }
    let one = list("?limit=1&state=all").await;
    assert_eq!((ids(&one).len(), one["total"].as_u64()), (1, Some(2)));

    let (status, problem) = bus.operator.get("/v1/dead-letters?since=yesterday&state=zombie&limit=0").await;
    assert_eq!(status, 400, "{problem}");
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().map(|v| v["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/since", "/state", "/limit"], "{problem:#}");
    assert_eq!(bus.operator.get("/v1/dead-letters?until=2020-01-01T00:00").await.0, 400, "no offset: not RFC 3339");
    bus.stop().await;
}

#[tokio::test]
async fn a_replay_after_the_peer_is_healed_is_delivered_exactly_once() {
    let bus = TestBus::start().await;
    refuse_the_dossier(&bus);
    let (id, _) = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let path = format!("/v1/dead-letters/{id}/replay");
    // Not until the peer is healed; then twice at once, as two operators might.
    bus.adapter.answer(|d| if d.stale { Outcome::Superseded } else { Outcome::Delivered });
    let (a, b) = tokio::join!(bus.operator.call(Method::POST, &path), bus.operator.call(Method::POST, &path));
    assert!(a.0 == 202 || b.0 == 202, "{a:?} {b:?}");
    let accepted = if a.0 == 202 { &a.1 } else { &b.1 };
    assert_eq!(accepted["replayed"], serde_json::json!(["scripted"]));

    let view = bus.wait_state(&id, "delivered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 1, "a replay starts its attempts afresh");
    let row = bus.operator.wait_dead_letter(&id, "scripted", "replayed").await;
    assert!(row["replays"].as_u64() >= Some(1) && row["replayed_at"].is_string(), "{row:#}");
    // A marker on the same subject comes after whatever copies were replayed, in the same lane.
    let marker = status_changed(DOSSIER, 2, 5);
    bus.post(&marker).await;
    let seen = bus.adapter.wait_until(|s| s.iter().any(|x| x.id == marker["id"])).await;
    let sent: Vec<u32> = seen.iter().filter(|s| s.id == id).map(|s| s.attempt).collect();
    assert_eq!(sent, [1, 1], "refused once, then delivered once: {seen:#?}");

    let (status, problem) = bus.operator.call(Method::POST, &path).await;
    assert_eq!(status, 409, "replayed already: {problem}");
    bus.stop().await;
}

#[tokio::test]
async fn a_replayed_message_older_than_one_delivered_is_superseded_not_delivered() {
    let bus = TestBus::start().await;
    refuse_the_dossier(&bus);
    let (old, _) = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    // The peer takes the dossier again, and a newer state of it is delivered.
    bus.adapter.answer(|d| if d.stale { Outcome::Superseded } else { Outcome::Delivered });
    let newer = status_changed(DOSSIER, 2, 5);
    bus.post(&newer).await;
    bus.wait_state(newer["id"].as_str().unwrap(), "delivered").await;

    let (status, body) = bus.operator.call(Method::POST, &format!("/v1/dead-letters/{old}/replay")).await;
    assert_eq!(status, 202, "{body}");
    bus.wait_state(&old, "superseded").await;
    let replayed = bus.adapter.seen().into_iter().rfind(|s| s.id == old).unwrap();
    assert!(replayed.stale, "handed over as stale, so the adapter sends nothing");
    let (_, dossier) = bus.get(&format!("/v1/dossiers/{DOSSIER}")).await;
    assert_eq!(dossier["seq"], 2, "the newest state stays");
    bus.stop().await;
}

#[tokio::test]
async fn a_purged_dead_letter_is_kept_for_the_audit_and_never_replayed() {
    let bus = TestBus::start().await;
    refuse_the_dossier(&bus);
    let (id, _) = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let path = format!("/v1/dead-letters/{id}");
    let (status, body) = bus.operator.call(Method::DELETE, &path).await;
    assert_eq!((status, &body["purged"]), (200, &serde_json::json!(["scripted"])), "{body}");

    assert_eq!(bus.operator.get("/v1/dead-letters").await.1["total"], 0, "no longer waiting");
    let (_, purged) = bus.operator.get("/v1/dead-letters?state=purged").await;
    assert_eq!(ids(&purged), [id.as_str()]);
    assert!(purged["dead_letters"][0]["purged_at"].is_string());
    assert_eq!(bus.operator.call(Method::POST, &format!("{path}/replay")).await.0, 409);
    assert_eq!(bus.operator.call(Method::DELETE, &path).await.0, 409, "purged already");
    assert_eq!(bus.operator.get(&path).await.1["dead_letters"][0]["state"], "purged");

    let unknown = uuid::Uuid::now_v7();
    assert_eq!(bus.operator.get(&format!("/v1/dead-letters/{unknown}")).await.0, 404);
    assert_eq!(bus.operator.call(Method::POST, &format!("/v1/dead-letters/{unknown}/replay")).await.0, 404);
    assert_eq!(bus.operator.get("/v1/dead-letters/not-an-id").await.0, 400);
    assert_eq!(bus.operator.get(&format!("{path}?adapter=dvc")).await.0, 404);
    bus.stop().await;
}

/// A body that is not an envelope is dead-lettered as it came, archived under an id of its own,
/// and can be purged but not replayed.
#[tokio::test]
async fn an_unreadable_body_is_archived_and_can_only_be_purged() {
    let bus = TestBus::start().await;
    let connection = lapin::Connection::connect(&amqp_url(), Default::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let queue = format!("{}.scripted", bus.namespace);
    let confirm = channel
        .basic_publish("".into(), queue.as_str().into(), Default::default(), b"not json", Default::default())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    let _ = connection.close(200, "done".into()).await;

    let list = bus.operator.wait_get("/v1/dead-letters", |_, body| body["total"] == 1).await;
    let row = &list["dead_letters"][0];
    assert!(row["type"].is_null() && row["attempts"] == 0, "{row:#}");
    assert!(row["last_error"].as_str().unwrap().starts_with("not a valid envelope"), "{row:#}");
    let id = row["id"].as_str().unwrap();
    let (_, shown) = bus.operator.get(&format!("/v1/dead-letters/{id}")).await;
    assert_eq!(shown["dead_letters"][0]["body"], "not json");
    assert_eq!(bus.operator.call(Method::POST, &format!("/v1/dead-letters/{id}/replay")).await.0, 422);
    assert_eq!(bus.operator.call(Method::DELETE, &format!("/v1/dead-letters/{id}")).await.0, 200);
    assert!(bus.adapter.seen().is_empty());
    bus.stop().await;
}
