//! A dossier handled regardless of administrative boundary, end to end: a citizen of one commune
//! submits online for a procedure another agency is competent for; the bus routes it there; that
//! agency's one-stop system moves it on; the result goes back by post; the national portal ends
//! up holding every status in order, and the postal service's news.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::{Value, json};

const PORTAL: &str = "portal.national";
const PROVINCE: &str = "onestop.province";
/// Sở Tư pháp tỉnh Hà Tĩnh: competent for 1.001234 (Đăng ký thường trú) province-wide.
const COMPETENT: &str = "000.00.01.H42";

fn submitted(code: &str, procedure: &str, unit: &str) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": PORTAL, "subject": code, "seq": 1,
        "occurred_at": "2026-11-20T08:30:00+07:00",
        "payload": {
            "dossier_code": code, "procedure_code": procedure, "procedure_name": "Đăng ký thường trú",
            "agency_code": "000.00.31.H42", "status": 1, "unit_code": unit,
            "received_at": "2026-11-20T08:30:00+07:00", "due_at": "2026-11-27T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình", "phone": "0912345678",
                          "address": "Thôn 3, xã Thạch Hà, Hà Tĩnh"},
            "channel": "online", "return_method": "post",
            "return_address": {"province_code": "42", "commune_code": "18073", "detail": "Thôn 3, xã Thạch Hà, Hà Tĩnh"}
        }
    })
}

fn step(note: &str) -> Value {
    json!({"handler": "Lê Thị Hoa", "department": "Phòng Hành chính tư pháp", "note": note,
           "at": "2026-11-21T09:00:00+07:00"})
}

async fn wait(what: &str, done: impl std::future::Future<Output = bool>) {
    assert!(tokio::time::timeout(Duration::from_secs(30), done).await.unwrap_or(false), "never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_from_one_commune_is_handled_by_the_competent_agency_and_its_result_returned_by_post() {
    let h = Harness::start().await;
    let code = "000.00.31.H42-261120-0042";

    // Handed in online by a citizen of Xã Thạch Hà (18073).
    let dossier = submitted(code, "1.001234", "18073");
    let (status, body) = h.api.post_from(&dossier).await;
    assert_eq!(status, 202, "{body}");
    let (_, message) = h.api.get(&format!("/v1/messages/{}", dossier["id"].as_str().unwrap())).await;
    assert_eq!(message["routing"]["agency"], COMPETENT);
    assert!(message["routing"]["reason"].as_str().unwrap().contains("Hà Tĩnh (42)"), "{message}");

    // It reaches the competent agency's one-stop system, with the routing explained, and not
    // the commune's, where it was not competent.
    wait(
        "the competent agency has the dossier",
        h.province.wait_until(Duration::from_secs(30), |s| s.dossiers.contains_key(code)),
    )
    .await;
    let received = h.province.dossier(code).unwrap();
    assert_eq!(received.messages[0].message_type, "dossier.submitted");
    assert_eq!(received.messages[0].annotations["routing"]["agency"], COMPETENT);
    assert!(received.messages[0].annotations["documents_reuse"]["required"].is_array());
    assert!(h.thachha.dossier(code).is_none());

    // The fee is paid on the national portal.
    let payment = json!({
        "id": uuid::Uuid::now_v7(), "type": "payment.status", "source": PORTAL, "subject": code, "seq": 1,
        "occurred_at": "2026-11-20T09:00:00+07:00",
        "payload": {"dossier_code": code, "status": "paid", "amount": 20000, "transaction_id": "PAY-42",
                    "at": "2026-11-20T09:00:00+07:00"}
    });
    assert_eq!(h.api.post_from(&payment).await.0, 202);

    // The agency moves it on, issues the result and sends it back by post.
    let agency = h.province.sender(PROVINCE, lgsp_bus::testing::SECRET, &url(&h));
    for (status, note) in [(2, "Tiếp nhận hồ sơ"), (4, "Thẩm định hồ sơ"), (9, "Phê duyệt kết quả")]
    {
        let answer = agency.advance(code, status, Some(step(note))).await.unwrap();
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    let paper = json!({"type": "XNCT", "name": "Xác nhận thông tin về cư trú", "number": "77/2026",
                       "issuer": "Sở Tư pháp tỉnh Hà Tĩnh", "issued_on": "2026-11-25",
                       "file_url": "https://motcua.example/files/77-2026.pdf",
                       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"});
    assert_eq!(agency.result_ready(code, vec![paper]).await.unwrap().status, 202);
    let answer = agency.request_delivery(code, "DL-0042", 0).await.unwrap();
    assert_eq!(answer.status, 202, "{}", answer.body);

    // The postal service takes the order and carries it: registered, collecting, delivered.
    wait(
        "the postal service has the order",
        h.post.wait_until(Duration::from_secs(30), |s| s.orders.contains_key("DL-0042")),
    )
    .await;
    assert_eq!(h.post.advance("DL-0042"), Some(2));
    assert_eq!(h.post.advance("DL-0042"), Some(3));
    let delivered_at_portal = |s: &lgsp_dvc::sim::SimState| {
        s.dossiers.get(code).is_some_and(|d| {
            d.progress.iter().any(|p| p["NoiDungXuLy"].as_str().is_some_and(|n| n.contains("đã phát")))
        })
    };
    wait("the portal hears it was delivered", h.portal.wait_until(Duration::from_secs(30), delivered_at_portal)).await;
    let answer = agency.advance(code, 10, Some(step("Trả kết quả qua bưu chính"))).await.unwrap();
    assert_eq!(answer.status, 202, "{}", answer.body);
    let last_status = answer.envelope["id"].as_str().unwrap().to_string();
    h.api.wait_state(&last_status, "delivered").await;

    // The national portal holds every status, in order, and the postal news.
    assert_eq!(h.portal.statuses(code), ["1", "2", "4", "9", "10"]);
    let record = h.portal.dossier(code).unwrap();
    let notes: Vec<&str> = record.progress.iter().filter_map(|p| p["NoiDungXuLy"].as_str()).collect();
    for expected in ["Tiếp nhận hồ sơ", "Thẩm định hồ sơ", "Phê duyệt kết quả", "đã đăng ký", "đang thu gom", "đã phát"]
    {
        assert!(notes.iter().any(|n| n.contains(expected)), "{expected} missing from {notes:?}");
    }

    // The agency's system heard of the payment and of each postal move too.
    let kinds: Vec<String> =
        h.province.dossier(code).unwrap().messages.iter().map(|m| m.message_type.clone()).collect();
    assert!(kinds.contains(&"payment.status".to_string()), "{kinds:?}");
    assert!(kinds.iter().filter(|k| *k == "postal.shipment_status").count() >= 3, "{kinds:?}");

    // And the province sees where the dossier stands.
    let (_, view) = h.api.get(&format!("/v1/dossiers/{code}")).await;
    assert_eq!((view["status"].as_i64(), view["competent_agency"].as_str()), (Some(10), Some(COMPETENT)));
    assert_eq!(view["payment"]["status"], "paid");
    assert_eq!(view["postal"]["status"], "delivered");
    h.stop().await;
}

#[tokio::test]
async fn the_same_procedure_from_anywhere_reaches_the_same_agency_and_a_gap_is_refused() {
    let h = Harness::start().await;
    // Handed in at a ward, at a commune, and with the district code of an older dossier.
    let codes = ["000.00.32.H42-261120-0001", "000.00.31.H42-261120-0002", "000.00.31.H42-261120-0003"];
    for (code, unit) in codes.iter().zip(["18100", "18073", "436"]) {
        let (status, body) = h.api.post_from(&submitted(code, "1.001234", unit)).await;
        assert_eq!(status, 202, "{unit}: {body}");
    }
    wait(
        "the competent agency has all three",
        h.province.wait_until(Duration::from_secs(30), |s| codes.iter().all(|c| s.dossiers.contains_key(*c))),
    )
    .await;
    let (_, old) = h.api.get("/v1/dossiers/000.00.31.H42-261120-0003").await;
    assert_eq!(old["competent_agency"], COMPETENT);

    // A procedure that is the commune's: Thạch Hà's own system gets its own citizens' dossiers.
    let birth = "000.00.31.H42-261120-0009";
    assert_eq!(h.api.post_from(&submitted(birth, "1.001193", "18073")).await.0, 202);
    wait(
        "the commune has its dossier",
        h.thachha.wait_until(Duration::from_secs(30), |s| s.dossiers.contains_key(birth)),
    )
    .await;

    // No rule for the procedure in that commune nor its province: refused, saying which.
    let (status, problem) = h.api.post_from(&submitted("000.00.31.H42-261120-0010", "1.001193", "18118")).await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("1.001193") && detail.contains("Xã Cẩm Xuyên (18118)") && detail.contains("Hà Tĩnh (42)"),
        "{detail}"
    );
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().map(|v| v["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/payload/procedure_code", "/payload/unit_code"]);
    h.stop().await;
}

fn url(h: &Harness) -> url::Url {
    url::Url::parse(&h.api.base).unwrap()
}
