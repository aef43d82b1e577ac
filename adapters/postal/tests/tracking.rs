//! The tracking feed into the bus: polling rounds, the cursor across restarts, and `run`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, Memory, Outbox, Outcome};
use lgsp_postal::PostalKind;
use lgsp_postal::mapping::{Kind, OrderRecord};
use lgsp_postal::sim::Endpoint;
use lgsp_postal::tracking::Round;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// `lastId` of every tracking call the simulator received, in order.
fn last_ids(sim: &lgsp_postal::PostalSim) -> Vec<u64> {
    sim.calls().iter().filter(|c| c.endpoint == Endpoint::Tracking).map(|c| c.last_id.unwrap()).collect()
}

fn round(accepted: usize, known: usize, skipped: usize, cursor: u64) -> Round {
    Round { accepted, known, skipped, cursor, stopped: None }
}

/// A pickup and a delivery placed, then moved on to delivered: six items.
async fn two_orders_delivered(
    sim: &lgsp_postal::PostalSim,
    adapter: &lgsp_postal::PostalAdapter,
) -> [lgsp_bus::Delivery; 2] {
    let requests = [pickup(), result_delivery()];
    assert_eq!(adapter.deliver(&requests).await, [Outcome::Delivered, Outcome::Delivered]);
    assert_eq!(sim.advance_all(), 2);
    assert_eq!(sim.deliver_all(), 2);
    assert_eq!(sim.tracking().len(), 6);
    requests
}

#[tokio::test]
async fn moved_orders_become_shipment_statuses_in_order_and_polling_again_adds_nothing() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("page_size".into(), 2.into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    let [pickup, delivery] = two_orders_delivered(&sim, &adapter).await;
    let (outbox, collected) = Outbox::collecting(ID);

    assert_eq!(adapter.poll(&outbox).await, round(6, 0, 0, 6));

    // Each envelope passed the schemas (the collecting outbox checks as the bus does), in the
    // feed's order: placed one after the other, then moved in order-number order (DL < PU).
    let envelopes = collected.envelopes();
    let (pu, dl) = ("PU-261120-0003".to_string(), "DL-261120-0004".to_string());
    assert_eq!(
        statuses(&envelopes),
        [(pu.clone(), 1, 1), (dl.clone(), 1, 2), (dl.clone(), 2, 3), (pu.clone(), 2, 4), (dl, 3, 5), (pu, 3, 6)]
    );
    let first = &envelopes[0];
    assert_eq!(first["source"], ID);
    assert_eq!(first["subject"], dossier(&pickup));
    assert_eq!(first["correlation_id"], pickup.envelope.id.to_string());
    assert_eq!(first["occurred_at"], first["payload"]["at"]);
    assert_eq!(
        first["payload"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "at")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>(),
        json!({
            "dossier_code": "000.00.01.H42-261120-0003",
            "order_number": "PU-261120-0003",
            "kind": "pickup",
            "status": "registered",
            "status_code": 1,
            "agency_code": "000.00.01.H42",
        })
        .as_object()
        .unwrap()
        .clone()
    );
    let last = &envelopes[4];
    assert_eq!(
        (last["subject"].as_str(), last["payload"]["kind"].as_str()),
        (Some(dossier(&delivery).as_str()), Some("delivery"))
    );
    assert_eq!(last["payload"]["status"], "delivered");
    assert_eq!(last["payload"]["agency_code"], "000.21.07.H42");
    // Pages of two, then the empty page that ends the feed.
    assert_eq!(last_ids(&sim), [0, 2, 4, 6]);

    // Polling again finds nothing new, and emits nothing.
    assert_eq!(adapter.poll(&outbox).await, round(0, 0, 0, 6));
    assert_eq!(collected.envelopes().len(), 6);
    assert_eq!(last_ids(&sim).last(), Some(&6));
}

#[tokio::test]
async fn a_restarted_adapter_resumes_after_the_last_item_without_repeats() {
    let sim = start_sim().await;
    let memory = Memory::in_memory(ID);
    let mut settings = settings(&sim);
    settings.insert("poll_every".into(), "1h".into());
    let first = adapter_with(&settings, memory.clone());
    let requests = [pickup(), result_delivery()];
    assert_eq!(first.deliver(&requests).await, [Outcome::Delivered, Outcome::Delivered]);
    sim.advance("PU-261120-0003");
    let (outbox, collected) = Outbox::collecting(ID);
    assert_eq!(first.poll(&outbox).await, round(3, 0, 0, 3));
    drop(first);

    // More happens while the adapter is down.
    sim.deliver_all();
    assert_eq!(sim.tracking().len(), 6);

    // A new adapter, built as the bus builds it, with the same memory, and a fresh outbox: any
    // repeat would be accepted again there, so none may come.
    let restarted = PostalKind.build(ID, &settings, &BuildContext { memory: memory.clone() }).unwrap();
    let (outbox, resumed) = Outbox::collecting(ID);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { restarted.run(outbox, shutdown).await }
    });
    assert!(resumed.wait_until(PATIENCE, |envelopes| envelopes.len() >= 3).await, "{:?}", resumed.envelopes());
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), running).await.expect("run stops at shutdown").unwrap();

    let seqs: Vec<u64> = statuses(&resumed.envelopes()).into_iter().map(|(_, _, seq)| seq).collect();
    assert_eq!(seqs, [4, 5, 6]);
    assert_eq!(last_ids(&sim), [0, 3]);
    assert_eq!(collected.envelopes().len(), 3);
    assert_eq!(lgsp_postal::book::OrderBook::new(memory).cursor().await, Ok(6));
}

#[tokio::test]
async fn an_order_this_adapter_did_not_place_is_skipped() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    // Another system of the province places an order with the same account.
    let elsewhere = adapter_with(&settings(&sim), Memory::in_memory("elsewhere"));
    let theirs = delivery(PICKUP, fixture("pickup_old_address.in.json"));
    assert_eq!(elsewhere.deliver(&[theirs]).await, [Outcome::Delivered]);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    sim.advance_all();
    let (outbox, collected) = Outbox::collecting(ID);

    assert_eq!(adapter.poll(&outbox).await, round(2, 0, 2, 4));
    let ours: Vec<(String, u64, u64)> = statuses(&collected.envelopes());
    assert_eq!(ours, [("PU-261120-0003".to_string(), 1, 2), ("PU-261120-0003".to_string(), 2, 4)]);
}

#[tokio::test]
async fn a_message_the_bus_refuses_is_skipped_and_the_rest_go_on() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let elsewhere = adapter_with(&settings(&sim), Memory::in_memory("elsewhere"));
    assert_eq!(elsewhere.deliver(&[pickup()]).await, [Outcome::Delivered]);
    // The order is remembered for a dossier code the schema refuses (by an older version, say):
    // its statuses can never be valid messages.
    let record =
        OrderRecord { dossier_code: "H42-0003".into(), kind: Kind::Pickup, agency_code: None, request_id: None };
    adapter.book().book("PU-261120-0003", &record).await.unwrap();
    assert_eq!(adapter.deliver(&[result_delivery()]).await, [Outcome::Delivered]);
    let (outbox, collected) = Outbox::collecting(ID);

    assert_eq!(adapter.poll(&outbox).await, round(1, 0, 1, 2));
    assert_eq!(statuses(&collected.envelopes()), [("DL-261120-0004".to_string(), 1, 2)]);
}

#[tokio::test]
async fn a_bus_that_cannot_take_messages_stops_the_round_and_the_next_one_resumes() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    two_orders_delivered(&sim, &adapter).await;
    let (outbox, collected) = Outbox::collecting(ID);
    collected.outage_after(3, 1);

    let stopped = adapter.poll(&outbox).await;
    assert_eq!((stopped.accepted, stopped.cursor), (3, 3));
    let reason = stopped.stopped.unwrap();
    assert!(reason.contains("tracking item 4") && reason.contains("the broker is unreachable"), "{reason}");

    assert_eq!(adapter.poll(&outbox).await, round(3, 0, 0, 6));
    let seqs: Vec<u64> = statuses(&collected.envelopes()).into_iter().map(|(_, _, seq)| seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(last_ids(&sim), [0, 3], "one short page each");
}

#[tokio::test]
async fn a_postal_service_in_trouble_stops_the_round_without_moving_the_cursor() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    two_orders_delivered(&sim, &adapter).await;
    let (outbox, collected) = Outbox::collecting(ID);
    sim.set_behaviour(lgsp_postal::Behaviour { down: true, ..Default::default() });

    let stopped = adapter.poll(&outbox).await;
    assert_eq!(stopped.cursor, 0);
    assert!(stopped.stopped.as_deref().is_some_and(|r| r.contains("HTTP 503")), "{stopped:?}");
    assert!(collected.envelopes().is_empty());

    sim.set_behaviour(Default::default());
    assert_eq!(adapter.poll(&outbox).await, round(6, 0, 0, 6));
}

#[tokio::test]
async fn run_stops_promptly_at_shutdown_even_in_the_middle_of_a_call() {
    let sim = start_sim().await;
    let adapter = Arc::new(adapter(&sim));
    sim.set_behaviour(lgsp_postal::Behaviour { timeout_rate: 1.0, ..Default::default() });
    let (outbox, _) = Outbox::collecting(ID);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (adapter, shutdown) = (adapter.clone(), shutdown.clone());
        async move { adapter.run(outbox, shutdown).await }
    });
    // The token call hangs: the round is in the middle of a call.
    assert!(sim.wait_until(PATIENCE, |state| state.withheld >= 1).await);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(1), running).await.expect("run stops at once").unwrap();
}
