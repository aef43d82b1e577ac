//! Request/reply through RabbitMQ (direct reply-to), the audit of lookups, and document reuse.

mod common;

use std::time::Duration;

use common::TestBus;
use lgsp_bus::{Failure, ServiceError};
use serde_json::{Value, json};

const DOSSIER: &str = "000.00.01.H42-261120-0001";

fn verify(cccd: &str) -> Value {
    json!({"cccd": cccd, "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
           "dossier_code": DOSSIER, "fields": ["permanent_address"]})
}

/// Asks `service` as `member` (with its token), or as no one.
async fn ask(bus: &TestBus, service: &str, member: Option<&str>, body: &Value) -> (u16, Value) {
    let http = match member {
        Some(member) if member == bus.api.who => bus.api.http.clone(),
        Some(member) => bus.api.as_(member).await.http,
        None => reqwest::Client::new(),
    };
    let response = http.post(format!("{}/v1/services/{service}", bus.api.base)).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_lookup_goes_to_the_adapter_and_back_and_is_recorded() {
    let bus = TestBus::start().await;
    bus.adapter.answer_requests(|request| {
        assert_eq!(request.member, "onestop.thachha");
        let address = json!({"province_code": "01", "detail": "Số 12 phố Hàng Bài, Hà Nội"});
        Ok(json!({"result": "match", "citizen": {"permanent_address": address}}))
    });
    let (status, reply) = ask(&bus, "citizen.verify", Some("onestop.thachha"), &verify("001203000001")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"], "match");
    assert_eq!(reply["citizen"]["permanent_address"]["province_code"], "01");

    // Recorded before the answer left: who asked, whose data, for which dossier, which parts.
    let (_, audit) = bus.get("/v1/lookups?subject=001203000001").await;
    let lookup = &audit["lookups"][0];
    assert_eq!(lookup["member"], "onestop.thachha");
    assert_eq!(lookup["dossier_code"], DOSSIER);
    assert_eq!(lookup["fields"], json!(["permanent_address"]));
    assert_eq!(lookup["outcome"], "match");
    bus.stop().await;
}

#[tokio::test]
async fn who_asks_what_and_how_is_checked_before_anything_is_sent() {
    let bus = TestBus::start().await;
    let (status, problem) = ask(&bus, "citizen.verify", None, &verify("001203000001")).await;
    assert_eq!((status, problem["type"].as_str()), (401, Some("https://lgsp.local/problems/unauthenticated")));
    // A member may ask only what its rights name, and the refusal says which right is missing.
    let lookup = json!({"mst": "0101234567", "dossier_code": DOSSIER});
    let (status, problem) = ask(&bus, "business.lookup", Some("onestop.thachha"), &lookup).await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("ask business.lookup")), "{problem}");
    assert!(bus.adapter.seen().is_empty());
    let (status, problem) = ask(&bus, "citizen.teleport", Some("onestop.sandbox"), &verify("001203000001")).await;
    assert_eq!(status, 404);
    assert!(problem["detail"].as_str().unwrap().contains("citizen.verify"));
    let bad = json!({"cccd": "12345", "full_name": "An", "date_of_birth": "2003-15-01"});
    let (status, problem) = ask(&bus, "citizen.verify", Some("onestop.sandbox"), &bad).await;
    assert_eq!(status, 422);
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().map(|v| v["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/cccd", "/date_of_birth", "/dossier_code"]);
    // No adapter answers business.lookup in this bus.
    let (status, problem) =
        ask(&bus, "business.lookup", Some("onestop.sandbox"), &json!({"mst": "0101234567", "dossier_code": DOSSIER}))
            .await;
    assert_eq!(status, 503, "{problem}");
    bus.stop().await;
}

#[tokio::test]
async fn refusals_failures_timeouts_and_broken_replies_are_clear_problems() {
    let bus = TestBus::start().await;
    let member = Some("onestop.sandbox");

    bus.adapter.answer_requests(|_| {
        Err(ServiceError::Refused(Failure::new("registry fault: MaHoSo không hợp lệ for 001203000001")))
    });
    let (status, problem) = ask(&bus, "citizen.verify", member, &verify("001203000001")).await;
    assert_eq!(status, 422);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("MaHoSo không hợp lệ") && detail.contains("0012******01"), "masked: {detail}");

    bus.adapter.answer_requests(|_| Err(ServiceError::Unavailable(Failure::new("registry answered 503"))));
    assert_eq!(ask(&bus, "citizen.verify", member, &verify("001203000001")).await.0, 502);

    // A reply that would leak the registry's values on a mismatch never leaves the bus.
    bus.adapter.answer_requests(|_| {
        Ok(json!({"result": "mismatch", "mismatched": ["full_name"], "citizen": {"gender": "male"}}))
    });
    let (status, problem) = ask(&bus, "citizen.verify", member, &verify("001203000001")).await;
    assert_eq!(status, 502);
    assert!(!problem.to_string().contains("male"), "{problem}");

    bus.adapter.answer_requests(|_| Ok(json!({"result": "not_found"})));
    bus.adapter.delay_requests(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let (status, problem) = ask(&bus, "citizen.verify", member, &verify("079300000099")).await;
    assert_eq!(status, 504, "{problem}");
    assert!(started.elapsed() < Duration::from_millis(1500), "a timeout is an answer, not a hang");

    let (_, audit) = bus.get(&format!("/v1/lookups?dossier_code={DOSSIER}")).await;
    let outcomes: Vec<&str> =
        audit["lookups"].as_array().unwrap().iter().map(|l| l["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["timeout", "invalid_reply", "unavailable", "refused"]);
    bus.stop().await;
}

#[tokio::test]
async fn a_hundred_concurrent_lookups_each_get_their_own_answer() {
    let bus = TestBus::start().await;
    // The answer depends on the question: even CCCDs match, odd ones are not found.
    bus.adapter.answer_requests(|request| {
        let even = request.body["cccd"].as_str().unwrap().ends_with(['0', '2', '4', '6', '8']);
        Ok(if even { json!({"result": "match", "citizen": {}}) } else { json!({"result": "not_found"}) })
    });
    bus.adapter.delay_requests(Duration::from_millis(20));
    let asks = (0..100).map(|n| {
        let bus = &bus;
        async move {
            let cccd = format!("0012030{n:05}");
            let (status, reply) = ask(bus, "citizen.verify", Some("onestop.sandbox"), &verify(&cccd)).await;
            assert_eq!(status, 200, "{reply}");
            let expected = if n % 2 == 0 { "match" } else { "not_found" };
            assert_eq!(reply["result"], expected, "{cccd}");
        }
    });
    futures::future::join_all(asks).await;
    let (_, audit) = bus.get(&format!("/v1/lookups?dossier_code={DOSSIER}&limit=1000")).await;
    assert_eq!(audit["lookups"].as_array().unwrap().len(), 100);
    bus.stop().await;
}

fn result_ready(dossier: &str, holder: &str, kind: &str, number: &str) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.result_ready", "source": "onestop.sandbox", "subject": dossier,
        "seq": 1, "occurred_at": "2026-11-24T15:30:00+07:00",
        "payload": {
            "dossier_code": dossier, "procedure_code": "1.001193", "agency_code": "000.00.01.H42",
            "holder": {"kind": "citizen", "id": holder, "name": "Nguyễn Văn An"},
            "documents": [{"type": kind, "name": "Giấy khai sinh", "number": number, "issuer": "UBND xã Thạch Hà",
                           "issued_on": "2026-11-24", "file_url": format!("https://onestop.example/files/{number}.pdf"),
                           "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],
            "completed_at": "2026-11-24T15:30:00+07:00"
        }
    })
}

#[tokio::test]
async fn a_result_issued_in_one_dossier_is_offered_for_the_next() {
    let bus = TestBus::start().await;
    // The result is indexed by the bus itself: accepted although no adapter receives it.
    let result = result_ready(DOSSIER, "001203000001", "GKS", "123/2026");
    let (status, body) = bus.post(&result).await;
    assert_eq!(status, 202, "{body}");
    let view = bus.wait_state(result["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(view["deliveries"], json!([]));

    let lookup = json!({"holder": {"kind": "citizen", "id": "001203000001"}, "dossier_code": "000.00.01.H42-261201-0001",
                        "types": ["GKS"], "valid_on": "2026-12-01"});
    let (status, reply) = ask(&bus, "documents.lookup", Some("onestop.sandbox"), &lookup).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["documents"][0]["number"], "123/2026");
    assert_eq!(reply["documents"][0]["dossier_code"], DOSSIER);
    let other =
        json!({"holder": {"kind": "citizen", "id": "042198000002"}, "dossier_code": "000.00.01.H42-261201-0001"});
    assert_eq!(ask(&bus, "documents.lookup", Some("onestop.sandbox"), &other).await.1["documents"], json!([]));

    // The same citizen's next dossier, for a procedure that needs a birth certificate: the bus
    // records that the one on file could have been reused, and the report counts it.
    let next = "000.00.01.H42-261201-0001";
    for (code, applicant) in [(next, "001203000001"), ("000.00.01.H42-261201-0002", "042198000002")] {
        let submitted = json!({
            "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": "onestop.sandbox", "subject": code,
            "seq": 1, "occurred_at": "2026-12-01T08:00:00+07:00",
            "payload": {"dossier_code": code, "procedure_code": "1.001234", "agency_code": "000.00.01.H42",
                        "received_at": "2026-12-01T08:00:00+07:00", "due_at": "2026-12-08T17:00:00+07:00",
                        "channel": "online", "applicant": {"kind": "citizen", "id": applicant, "name": "X"}}
        });
        assert_eq!(bus.post(&submitted).await.0, 202);
    }
    let (_, dossier) = bus.get(&format!("/v1/dossiers/{next}")).await;
    let reuse = &dossier["documents_reuse"];
    assert_eq!(reuse["required"], json!(["GKS", "XNCT"]));
    assert_eq!(
        reuse["reusable"],
        json!([{"type": "GKS", "number": "123/2026", "issuer": "UBND xã Thạch Hà", "dossier_code": DOSSIER}])
    );
    let (status, report) = bus.get("/v1/reports/reuse?from=2026-12-01&to=2026-12-31").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["dossiers"].as_u64(), report["with_reusable_documents"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["rate"], 0.5);
    let (status, reversed) = bus.get("/v1/reports/reuse?from=2026-12-31&to=2026-12-01").await;
    assert_eq!((status, reversed["type"].as_str()), (422, Some("https://lgsp.local/problems/invalid-range")));
    let metrics = bus.api.http.get(format!("{}/metrics", bus.api.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("lgsp_dossiers_with_reusable_documents_total"), "{metrics}");
    bus.stop().await;
}
