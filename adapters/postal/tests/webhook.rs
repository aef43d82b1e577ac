//! Tracking items pushed by the postal service to `POST /v1/adapters/{id}/webhook`.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::*;
use lgsp_bus::{Adapter, Memory, Outbox, Outcome, WebhookRequest, WebhookResponse};
use lgsp_postal::PostalAdapter;
use lgsp_postal::signature::sign;
use lgsp_postal::tracking::Round;
use serde_json::{Value, json};
use url::Url;

/// A call as the bus hands it over: header names in lower case, the raw body.
fn call(body: &[u8], signature: Option<String>) -> WebhookRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(signature) = signature {
        headers.push(("x-signature".into(), signature));
    }
    WebhookRequest { headers, body: bytes::Bytes::copy_from_slice(body) }
}

fn signed(body: &[u8]) -> WebhookRequest {
    call(body, Some(sign(WEBHOOK_SECRET, body)))
}

fn accepted() -> WebhookResponse {
    WebhookResponse::new(200, "accepted")
}

#[tokio::test]
async fn a_signed_item_is_submitted_and_polling_it_again_finds_it_known() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    let item = serde_json::to_vec(&sim.tracking()[0]).unwrap();
    let (outbox, collected) = Outbox::collecting(ID);

    assert_eq!(adapter.webhook(signed(&item), &outbox).await, accepted());
    assert_eq!(statuses(&collected.envelopes()), [("PU-261120-0003".to_string(), 1, 1)]);

    // The same item again, pushed or polled: the same message, known.
    assert_eq!(adapter.webhook(signed(&item), &outbox).await, accepted());
    assert_eq!(adapter.poll(&outbox).await, Round { known: 1, cursor: 1, ..Round::default() });
    assert_eq!(collected.envelopes().len(), 1);
}

#[tokio::test]
async fn a_call_without_the_right_signature_is_401_and_submits_nothing() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    let item = serde_json::to_vec(&sim.tracking()[0]).unwrap();
    let (outbox, collected) = Outbox::collecting(ID);
    let mut altered = sim.tracking()[0].clone();
    altered["status"] = 3.into();
    let altered = serde_json::to_vec(&altered).unwrap();

    let cases = [
        (call(&item, None), "no X-Signature header"),
        (call(&item, Some(sign("not the shared secret", &item))), "X-Signature does not match the body"),
        (call(&altered, Some(sign(WEBHOOK_SECRET, &item))), "X-Signature does not match the body"),
        (call(&item, Some(sign(WEBHOOK_SECRET, &item).replace("sha256=", "sha1="))), "X-Signature is not sha256="),
    ];
    for (request, expected) in cases {
        let response = adapter.webhook(request, &outbox).await;
        assert_eq!(response.status, 401, "{response:?}");
        assert!(response.body.starts_with(expected), "{response:?}");
    }
    assert!(collected.envelopes().is_empty());
}

#[tokio::test]
async fn without_a_webhook_secret_every_call_is_refused() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.remove("webhook_secret");
    let adapter = adapter_with(&settings, Memory::in_memory(ID));
    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    let item = serde_json::to_vec(&sim.tracking()[0]).unwrap();
    let (outbox, collected) = Outbox::collecting(ID);

    let response = adapter.webhook(signed(&item), &outbox).await;

    assert_eq!(response.status, 404, "{response:?}");
    assert!(response.body.contains("webhook_secret is not set"), "{response:?}");
    assert!(collected.envelopes().is_empty());
}

#[tokio::test]
async fn what_cannot_be_read_is_400_and_an_unknown_order_is_ignored() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[pickup(), result_delivery()]).await, [Outcome::Delivered, Outcome::Delivered]);
    let (outbox, collected) = Outbox::collecting(ID);

    for body in [&b"not json"[..], b"42", br#"{"id": 9, "orderNumber": "PU-261120-0003", "status": 7}"#] {
        let response = adapter.webhook(signed(body), &outbox).await;
        assert_eq!(response.status, 400, "{response:?}");
    }
    let unknown = json!({"id": 9, "orderNumber": "PU-999999-0001", "status": 1, "time": "2026-11-26 10:05:00"});
    assert_eq!(adapter.webhook(signed(unknown.to_string().as_bytes()), &outbox).await, accepted());
    assert!(collected.envelopes().is_empty());

    // A list of items is taken whole.
    let list = serde_json::to_vec(&sim.tracking()).unwrap();
    assert_eq!(adapter.webhook(signed(&list), &outbox).await, accepted());
    assert_eq!(collected.envelopes().len(), 2);
}

/// Plays the bus's `POST /v1/adapters/postal/webhook`: hands each call to the adapter as the bus
/// does, and answers what it answers. The URL to give the simulator.
async fn bus_route(adapter: Arc<PostalAdapter>, outbox: Outbox) -> Url {
    let handler = move |headers: HeaderMap, body: bytes::Bytes| {
        let (adapter, outbox) = (adapter.clone(), outbox.clone());
        async move {
            let headers = headers
                .iter()
                .map(|(name, value)| (name.as_str().to_lowercase(), value.to_str().unwrap_or_default().to_string()))
                .collect();
            let response = adapter.webhook(WebhookRequest { headers, body }, &outbox).await;
            (StatusCode::from_u16(response.status).unwrap(), response.body)
        }
    };
    let app = Router::new().route("/v1/adapters/postal/webhook", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Url::parse(&format!("http://{addr}/v1/adapters/postal/webhook")).unwrap()
}

#[tokio::test]
async fn items_pushed_by_the_postal_service_and_polled_are_one_message_each() {
    let sim = start_sim().await;
    let adapter = Arc::new(adapter(&sim));
    let (outbox, collected) = Outbox::collecting(ID);
    sim.set_webhook(bus_route(adapter.clone(), outbox.clone()).await, WEBHOOK_SECRET);

    assert_eq!(adapter.deliver(&[pickup(), result_delivery()]).await, [Outcome::Delivered, Outcome::Delivered]);
    sim.deliver_all();
    let pushed = sim.wait_until(PATIENCE, |state| state.webhook_calls.len() == 6).await;
    assert!(pushed, "{:?}", sim.webhook_calls());
    let answers: Vec<(u64, Option<u16>)> = sim.webhook_calls().iter().map(|c| (c.tracking_id, c.status)).collect();
    assert_eq!(answers, (1..=6).map(|id| (id, Some(200))).collect::<Vec<_>>());
    let seqs: Vec<u64> = statuses(&collected.envelopes()).into_iter().map(|(_, _, seq)| seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);

    // Polling reads the same items: every one known, none submitted twice.
    assert_eq!(adapter.poll(&outbox).await, Round { known: 6, cursor: 6, ..Round::default() });
    assert_eq!(collected.envelopes().len(), 6);
}

#[tokio::test]
async fn pushes_signed_with_another_key_are_refused_and_polling_brings_the_items() {
    let sim = start_sim().await;
    let adapter = Arc::new(adapter(&sim));
    let (outbox, collected) = Outbox::collecting(ID);
    sim.set_webhook(bus_route(adapter.clone(), outbox.clone()).await, "a key the adapter does not share");

    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    assert!(sim.wait_until(PATIENCE, |state| state.webhook_calls.len() == 1).await);
    let refused = &sim.webhook_calls()[0];
    assert_eq!((refused.status, refused.body.as_deref()), (Some(401), Some("X-Signature does not match the body")));
    assert!(collected.envelopes().is_empty());

    assert_eq!(adapter.poll(&outbox).await, Round { accepted: 1, cursor: 1, ..Round::default() });
    let envelope: &Value = &collected.envelopes()[0];
    assert_eq!(envelope["payload"]["status"], "registered");
}
