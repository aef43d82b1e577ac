//! Orders and cancellations: the real adapter against the real simulator on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::*;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, Memory, Outcome};
use lgsp_postal::mapping::{Kind, OrderRecord};
use lgsp_postal::sim::Endpoint;
use lgsp_postal::{Behaviour, PostalKind};
use serde_json::json;

#[tokio::test]
async fn a_pickup_becomes_an_order_with_the_right_fields() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let pickup = pickup();

    assert_eq!(adapter.deliver(std::slice::from_ref(&pickup)).await, [Outcome::Delivered]);

    let order = sim.order("PU-261120-0003").expect("the order is placed");
    assert_eq!(order.fields, fixture("pickup.out.json"));
    assert_eq!(order.status, 1);
    // The adapter remembers whose order it is, for the tracking feed.
    let record = adapter.book().order("PU-261120-0003").await.unwrap().unwrap();
    assert_eq!(
        record,
        OrderRecord {
            dossier_code: "000.00.01.H42-261120-0003".into(),
            kind: Kind::Pickup,
            agency_code: Some("000.00.01.H42".into()),
            request_id: Some(pickup.envelope.id.to_string()),
        }
    );
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn a_delivery_becomes_an_order_for_the_sending_agency() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[result_delivery()]).await, [Outcome::Delivered]);
    assert_eq!(sim.order("DL-261120-0004").unwrap().fields, fixture("delivery.out.json"));
    let record = adapter.book().order("DL-261120-0004").await.unwrap().unwrap();
    assert_eq!((record.kind, record.agency_code.as_deref()), (Kind::Delivery, Some("000.21.07.H42")));
}

#[tokio::test]
async fn the_schemas_examples_are_placed() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let batch = [delivery(PICKUP, example(PICKUP, 0)), delivery(DELIVERY, example(DELIVERY, 0))];
    assert_eq!(adapter.deliver(&batch).await, [Outcome::Delivered, Outcome::Delivered]);
    assert_eq!(sim.orders().len(), 2);
}

#[tokio::test]
async fn the_same_order_again_is_one_order_and_delivered() {
    let sim = start_sim().await;
    let memory = Memory::in_memory(ID);
    let adapter = adapter_with(&settings(&sim), memory.clone());
    let pickup = pickup();
    assert_eq!(adapter.deliver(std::slice::from_ref(&pickup)).await, [Outcome::Delivered]);

    // The answer was lost: the bus delivers again, to this adapter or to one restarted.
    let mut retry = pickup.clone();
    retry.attempt = 2;
    assert_eq!(adapter.deliver(std::slice::from_ref(&retry)).await, [Outcome::Delivered]);
    let restarted = adapter_with(&settings(&sim), memory);
    assert_eq!(restarted.deliver(&[retry]).await, [Outcome::Delivered]);

    assert_eq!(sim.orders().len(), 1);
    let about: Vec<(Endpoint, u16, Option<String>)> = sim
        .calls()
        .into_iter()
        .filter(|c| c.order_number.as_deref() == Some("PU-261120-0003"))
        .map(|c| (c.endpoint, c.status, c.code))
        .collect();
    assert_eq!(
        about,
        [
            (Endpoint::Order, 200, Some("00".into())),
            (Endpoint::Order, 409, Some("02".into())),
            (Endpoint::Order, 409, Some("02".into()))
        ]
    );
    assert_eq!(sim.tracking().len(), 1, "one order, one registration");
}

#[tokio::test]
async fn an_order_number_of_another_dossier_is_refused_before_sending() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    let mut other = fixture("pickup.in.json");
    other["dossier_code"] = "000.00.01.H42-261120-0009".into();

    let outcomes = adapter.deliver(&[delivery(PICKUP, other)]).await;

    let failure = permanent(&outcomes[0]);
    assert_eq!(
        failure.reason,
        "order PU-261120-0003 already belongs to the pickup of dossier 000.00.01.H42-261120-0003"
    );
    assert_eq!(sim.calls().len(), 1, "never sent");
}

#[tokio::test]
async fn a_stale_request_is_still_placed_since_it_is_another_order() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut stale = pickup();
    stale.stale = true;
    assert_eq!(adapter.deliver(&[stale]).await, [Outcome::Delivered]);
    assert!(sim.order("PU-261120-0003").is_some());
}

#[tokio::test]
async fn a_cancel_cancels_and_a_repeated_cancel_is_delivered() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let pickup = pickup();
    let (dossier, number) = (dossier(&pickup), order_number(&pickup));
    assert_eq!(adapter.deliver(&[pickup]).await, [Outcome::Delivered]);

    assert_eq!(adapter.deliver(&[cancel(&dossier, &number)]).await, [Outcome::Delivered]);
    assert_eq!(sim.order(&number).unwrap().status, 4);
    let statuses: Vec<u64> = sim.tracking().iter().map(|item| item["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [1, 4]);

    // A retry after a lost answer.
    assert_eq!(adapter.deliver(&[cancel(&dossier, &number)]).await, [Outcome::Delivered]);
    let codes: Vec<Option<String>> =
        sim.calls().into_iter().filter(|c| c.endpoint == Endpoint::Cancel).map(|c| c.code).collect();
    assert_eq!(codes, [Some("00".into()), Some("05".into())]);
}

#[tokio::test]
async fn a_cancel_after_collection_is_permanent_with_the_postal_services_reason() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let pickup = pickup();
    let (dossier, number) = (dossier(&pickup), order_number(&pickup));
    assert_eq!(adapter.deliver(&[pickup]).await, [Outcome::Delivered]);
    assert_eq!(sim.advance(&number), Some(2));

    let outcomes = adapter.deliver(&[cancel(&dossier, &number)]).await;

    let failure = permanent(&outcomes[0]);
    assert_eq!(
        failure.reason,
        "postal service refused to cancel order PU-261120-0003 of dossier 000.00.01.H42-261120-0003: \
         Đơn hàng PU-261120-0003 đã được bưu tá thu gom, không thể hủy"
    );
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 409") && a.contains("\"04\"")));
    assert_eq!(sim.order(&number).unwrap().status, 2);

    assert_eq!(sim.advance(&number), Some(3));
    let failure = permanent(&adapter.deliver(&[cancel(&dossier, &number)]).await[0]).clone();
    assert!(failure.reason.ends_with("đã được giao, không thể hủy"), "{failure:?}");
}

#[tokio::test]
async fn a_cancel_of_an_order_not_yet_at_the_postal_service_is_transient() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let outcomes = adapter.deliver(&[cancel("000.00.01.H42-261120-0003", "PU-261120-0003")]).await;
    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("answered code 03"), "{failure:?}");
    assert_eq!(failure.code.as_deref(), Some("answer:03"), "the code a delivery policy can name");
}

#[tokio::test]
async fn a_cancel_for_another_dossiers_order_is_refused() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    let outcomes = adapter.deliver(&[cancel("000.00.01.H42-261120-0009", "PU-261120-0003")]).await;
    let failure = permanent(&outcomes[0]);
    assert!(failure.reason.contains("belongs to dossier 000.00.01.H42-261120-0003"), "{failure:?}");
    assert_eq!(sim.order("PU-261120-0003").unwrap().status, 1);
}

#[tokio::test]
async fn an_expired_token_is_renewed_transparently() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);

    // The gateway forgets the token (its lifetime passes) while the adapter still holds it.
    sim.advance_clock(sim.options().token_ttl + Duration::from_secs(1));
    assert_eq!(adapter.deliver(&[result_delivery()]).await, [Outcome::Delivered]);

    assert_eq!(sim.logins(), 2);
    let tokens: Vec<(Endpoint, bool, u16)> =
        sim.calls().iter().map(|c| (c.endpoint, c.token_fresh, c.status)).collect();
    assert_eq!(tokens, [(Endpoint::Order, true, 200), (Endpoint::Order, false, 401), (Endpoint::Order, true, 200)]);

    // A revoked token is renewed the same way.
    sim.revoke_tokens();
    let cancel = cancel("000.00.01.H42-261120-0004", "DL-261120-0004");
    assert_eq!(adapter.deliver(&[cancel]).await, [Outcome::Delivered]);
    assert_eq!(sim.logins(), 3);
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    let sim = start_sim().await;
    sim.set_behaviour(Behaviour { token_ttl: Some(Duration::from_secs(10)), ..Behaviour::default() });
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    assert_eq!(adapter.deliver(&[result_delivery()]).await, [Outcome::Delivered]);
    assert_eq!(sim.logins(), 2, "less than 30 s left: renewed before the call");
    assert!(sim.calls().iter().all(|c| c.token_fresh && c.status == 200));
}

#[tokio::test]
async fn postal_service_trouble_is_transient() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    let cases = [
        (Behaviour { down: true, ..Behaviour::default() }, "HTTP 503"),
        (Behaviour { error_rate: 1.0, ..Behaviour::default() }, "HTTP 500"),
        (
            Behaviour { timeout_rate: 1.0, ..Behaviour::default() },
            "no answer from the postal service at 127.0.0.1 within 300ms",
        ),
    ];
    for (behaviour, expected) in cases {
        sim.set_behaviour(behaviour.clone());
        let pickup = pickup();
        let cancel = cancel(&dossier(&pickup), &order_number(&pickup));
        for outcome in adapter.deliver(&[pickup, cancel]).await {
            let failure = transient(&outcome);
            assert!(failure.reason.contains(expected), "{behaviour:?}: {failure:?}");
        }
    }
    assert!(sim.orders().is_empty());

    // Once the postal service is back, the same adapter places the order.
    sim.set_behaviour(Behaviour::default());
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
}

#[tokio::test]
async fn a_refused_consumer_secret_is_transient_with_a_clear_reason() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("consumer_secret".into(), "not the secret".into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    let failure = transient(&adapter.deliver(&[pickup()]).await[0]).clone();
    assert!(
        failure.reason.contains("postal service refused the token for consumer key `lgsp`: HTTP 401"),
        "{failure:?}"
    );
    assert!(!failure.reason.contains("not the secret") && !format!("{failure:?}").contains("not the secret"));
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn a_refusal_of_the_order_itself_is_permanent_with_the_answer() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("customer_code".into(), "SOMEONE_ELSE".into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    let failure = permanent(&adapter.deliver(&[pickup()]).await[0]).clone();
    assert_eq!(
        failure.reason,
        "pickup order PU-261120-0003 of dossier 000.00.01.H42-261120-0003 failed: postal service answered code 01: \
         Mã khách hàng `SOMEONE_ELSE` không đúng"
    );
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 400")), "{failure:?}");
}

#[tokio::test]
async fn a_request_missing_what_the_postal_service_needs_is_refused_before_sending() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut payload = fixture("pickup.in.json");
    payload["receiver"]["address"].as_object_mut().unwrap().remove("province_code");
    let failure = permanent(&adapter.deliver(&[delivery(PICKUP, payload)]).await[0]).clone();
    assert!(failure.reason.contains("receiverProvince is required"), "{failure:?}");
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn a_client_error_status_is_permanent_with_the_peers_answer() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("order_endpoint".into(), "/no-such-endpoint".into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    let failure = permanent(&adapter.deliver(&[pickup()]).await[0]).clone();
    assert!(failure.reason.ends_with("failed: postal service answered HTTP 404 Not Found"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 404")), "{failure:?}");
}

#[tokio::test]
async fn a_payload_the_adapter_cannot_read_is_permanent_and_spares_the_rest() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut unreadable = fixture("pickup.in.json");
    unreadable["sender"] = json!({"name": "Nguyễn Văn An", "id": "001203000001"});
    let batch =
        [delivery(PICKUP, unreadable), delivery("postal.document_requested", fixture("pickup.in.json")), pickup()];
    let outcomes = adapter.deliver(&batch).await;
    let failure = permanent(&outcomes[0]);
    assert!(failure.reason.contains("does not fit the postal view"), "{failure:?}");
    assert!(!failure.reason.contains("001203000001"), "{failure:?}");
    assert!(permanent(&outcomes[1]).reason.contains("postal.document_requested"));
    assert_eq!(outcomes[2], Outcome::Delivered);
}

#[tokio::test]
async fn the_sandbox_simulator_moves_orders_on() {
    let simulator = PostalKind.simulator().unwrap();
    let port = lgsp_bus::simulator::free_port().unwrap();
    let mut settings = toml::Table::new();
    settings.insert("url".into(), format!("http://127.0.0.1:{port}/vnpost").into());
    settings.insert("consumer_key".into(), "operator".into());
    settings.insert("customer_code".into(), "SANDBOX42".into());
    // What sandbox mode does when the operator set no consumer secret.
    for (key, value) in simulator.sandbox_settings() {
        settings.entry(key).or_insert(value);
    }
    assert_eq!(simulator.serve(&settings).await.unwrap().port(), port);

    settings.insert("poll_every".into(), "1s".into());
    let adapter = PostalKind.build(ID, &settings, &BuildContext::ephemeral(ID)).unwrap();
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);

    // Orders move on by themselves: the feed shows the order collecting within a few steps.
    let (outbox, collected) = lgsp_bus::Outbox::collecting(ID);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { adapter.run(outbox, shutdown).await }
    });
    let moved = collected
        .wait_until(lgsp_postal::sim::SANDBOX_STEP * 3, |envelopes| {
            envelopes.iter().any(|e| e["payload"]["status"] == "collecting")
        })
        .await;
    shutdown.cancel();
    running.await.unwrap();
    assert!(moved, "{:?}", collected.envelopes());
}
