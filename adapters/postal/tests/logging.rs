//! What the adapter logs, in a test binary of its own: a thread's own subscriber sees every
//! event only when no other test registers the same call sites at the same time.

mod common;

use common::*;
use lgsp_bus::{Adapter, Outbox, Outcome};

#[tokio::test]
async fn orders_and_statuses_are_logged_by_number_and_dossier_never_with_the_people_in_them() {
    let captured = lgsp_bus::testing::logs::capture("lgsp_postal=trace");

    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let pickup = pickup();
    let (dossier, number) = (dossier(&pickup), order_number(&pickup));
    assert_eq!(adapter.deliver(std::slice::from_ref(&pickup)).await, [Outcome::Delivered]);
    assert_eq!(adapter.deliver(&[pickup]).await, [Outcome::Delivered]);
    sim.advance(&number);
    let refused = adapter.deliver(&[cancel(&dossier, &number)]).await;
    assert!(matches!(refused[0], Outcome::Permanent(_)));
    let (outbox, _) = Outbox::collecting(ID);
    adapter.poll(&outbox).await;
    let unsigned = lgsp_bus::WebhookRequest { headers: Vec::new(), body: bytes::Bytes::from_static(b"{}") };
    assert_eq!(adapter.webhook(unsigned, &outbox).await.status, 401);

    let logs = captured.text();
    for event in [
        "postal_token_issued",
        "postal_order_placed",
        "postal_order_exists",
        "postal_cancel_refused",
        "postal_shipment_status",
        "postal_webhook_unsigned",
    ] {
        let line = logs
            .lines()
            .find(|l| l.contains(&format!("event=\"{event}\"")))
            .unwrap_or_else(|| panic!("{event}: {logs}"));
        if event != "postal_token_issued" && event != "postal_webhook_unsigned" {
            assert!(line.contains(&number) && line.contains(&dossier), "{line}");
        }
    }
    for personal in ["Nguyễn Văn An", "0912345678", "an.nguyen@example.vn", "Thôn 3", "sandbox", WEBHOOK_SECRET] {
        assert!(!logs.contains(personal), "{personal} logged: {logs}");
    }
}
