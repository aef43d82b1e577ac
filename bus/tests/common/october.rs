//! October 2026's dossiers, sent through a real bus, for the tests of the reports and of the
//! console's monitoring page: agency A received 5 (1 early, 1 in time, 1 late with its reason
//! and apology, 1 open, 1 open past its date) and 1 in November; agency B carried 1 over (open
//! past its date, explained but with no apology), had 1 withdrawn, and 1 resolved in September.
//! Resolved in time: 2 of 3.

use serde_json::{Value, json};

use super::TestBus;
use lgsp_bus::Outcome;

pub const A: &str = "000.00.01.H42";
pub const B: &str = "000.00.02.H42";
/// In the test catalogue, with 5 working days.
pub const RESIDENCE: &str = "1.001234";
/// Not in it: the one-stop system's due date stands.
pub const LICENCE: &str = "2.000123";
/// October's dossiers: agency A's, agency B's.
pub const A1: &str = "000.00.01.H42-261001-0001";
pub const A2: &str = "000.00.01.H42-261001-0002";
pub const A3: &str = "000.00.01.H42-261001-0003";
pub const A4: &str = "000.00.01.H42-261001-0004";
pub const A5: &str = "000.00.01.H42-261001-0005";
pub const A6: &str = "000.00.01.H42-261001-0006";
pub const B1: &str = "000.00.02.H42-261001-0001";
pub const B2: &str = "000.00.02.H42-261001-0002";
pub const B3: &str = "000.00.02.H42-261001-0003";

pub struct Dossier {
    pub code: &'static str,
    pub agency: &'static str,
    pub procedure: &'static str,
    pub channel: &'static str,
    pub received: &'static str,
    pub due: &'static str,
    pub fee: bool,
}

pub fn envelope(message_type: &str, code: &str, seq: u64, occurred_at: &str, payload: Value) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "type": message_type, "source": "onestop.sandbox", "subject": code,
        "seq": seq, "occurred_at": occurred_at, "payload": payload,
    })
}

pub fn state(d: &Dossier) -> Value {
    let mut payload = json!({
        "dossier_code": d.code, "procedure_code": d.procedure, "agency_code": d.agency, "channel": d.channel,
        "received_at": d.received, "due_at": d.due, "unit_code": "18073",
        "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"},
    });
    if d.fee {
        payload["fees"] = json!([{"name": "Lệ phí", "amount": 20000}]);
    }
    payload
}

pub async fn send(bus: &TestBus, envelope: Value) {
    let (status, body) = bus.post(&envelope).await;
    assert_eq!(status, 202, "{body}");
}

/// Moves the dossier to `status` at `at` (its completion time when resolved), with `extra`.
pub async fn change(bus: &TestBus, d: &Dossier, status: u8, at: &str, extra: Value) {
    let mut payload = state(d);
    payload["status"] = json!(status);
    if status == 10 {
        payload["completed_at"] = json!(at);
    }
    for (key, value) in extra.as_object().unwrap() {
        payload[key] = value.clone();
    }
    send(bus, envelope("dossier.status_changed", d.code, 2, at, payload)).await;
}

/// A bus with a viewer and an adapter for the payment platform's messages, and October 2026's
/// dossiers: agency A received 5 (1 early, 1 in time, 1 late with its reason and apology, 1 open,
/// 1 open past its date), agency B carried 1 over (open past its date, explained but with no
/// apology) and had 1 withdrawn. As `reports.rs`: in time 2 of 3 resolved.
pub async fn october() -> TestBus {
    let bus = TestBus::start_with(|_| {
        r#"
        [adapters.other]
        kind = "scripted_other"
        routes = ["payment.status.#"]
        [adapters.other.delivery]
        retry_tiers = ["100ms", "200ms"]
        [operators.viewer]
        roles = ["viewer"]
        "#
        .into()
    })
    .await;
    bus.adapter.answer(|_| Outcome::Delivered);
    bus.other.answer(|_| Outcome::Delivered);
    let d = |code, agency, procedure, channel, received, due, fee| Dossier {
        code,
        agency,
        procedure,
        channel,
        received,
        due,
        fee,
    };
    let early = d(A1, A, RESIDENCE, "online", "2026-10-05T08:00:00+07:00", "2026-10-20T17:00:00+07:00", true);
    let on_time = d(A2, A, RESIDENCE, "post", "2026-10-05T09:00:00+07:00", "2026-10-12T17:00:00+07:00", false);
    let late = d(A3, A, RESIDENCE, "counter", "2026-10-05T10:00:00+07:00", "2026-10-30T17:00:00+07:00", true);
    let open = d(A4, A, RESIDENCE, "online", "2026-10-26T08:00:00+07:00", "2026-11-02T17:00:00+07:00", false);
    let overdue = d(A5, A, RESIDENCE, "counter", "2026-10-01T08:00:00+07:00", "2026-10-08T17:00:00+07:00", false);
    let november = d(A6, A, RESIDENCE, "online", "2026-11-02T08:00:00+07:00", "2026-11-09T17:00:00+07:00", false);
    let carried = d(B1, B, LICENCE, "counter", "2026-09-20T08:00:00+07:00", "2026-09-25T17:00:00+07:00", false);
    let withdrawn = d(B2, B, LICENCE, "online", "2026-10-10T08:00:00+07:00", "2026-10-15T17:00:00+07:00", false);
    let september = d(B3, B, LICENCE, "counter", "2026-09-01T08:00:00+07:00", "2026-09-04T17:00:00+07:00", false);
    for d in [&early, &on_time, &late, &open, &overdue, &november, &carried, &withdrawn, &september] {
        send(&bus, envelope("dossier.submitted", d.code, 1, d.received, state(d))).await;
    }
    change(&bus, &early, 10, "2026-10-08T15:00:00+07:00", json!({})).await;
    change(&bus, &on_time, 10, "2026-10-12T16:00:00+07:00", json!({})).await;
    let explained = json!({"late": {"reason": "Chờ xác minh nơi cư trú", "apology_issued_at": "2026-10-12T16:30:00+07:00", "apology_reference": "12/TXL"}});
    change(&bus, &late, 10, "2026-10-14T10:00:00+07:00", explained).await;
    // Still being handled: explained, but no apology sent.
    change(&bus, &carried, 4, "2026-10-20T08:00:00+07:00", json!({"late": {"reason": "Chờ ý kiến Sở Tài chính"}}))
        .await;
    change(&bus, &withdrawn, 7, "2026-10-11T08:00:00+07:00", json!({})).await;
    change(&bus, &september, 10, "2026-09-03T08:00:00+07:00", json!({})).await;
    let paid = json!({"dossier_code": A1, "status": "paid", "amount": 20000, "transaction_id": "T-1", "at": "2026-10-05T08:10:00+07:00"});
    send(&bus, envelope("payment.status", A1, 3, "2026-10-05T08:10:00+07:00", paid)).await;
    bus
}
