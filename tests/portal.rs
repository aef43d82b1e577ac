//! A dossier's status travels from the one-stop system through the bus to the national portal:
//! the default config, the dvc adapter, the portal simulator and a real RabbitMQ broker.

mod common;

use common::{Harness, dossier, status_changed};
use lgsp_dvc::sim::Behaviour;
use serde_json::json;

#[tokio::test]
async fn a_status_change_reaches_the_portal_with_its_fields_and_dates() {
    let h = Harness::start().await;
    let code = dossier(1);
    let mut message = status_changed(&code, 3, 4);
    message["payload"]["progress"] = json!({
        "handler": "Lê Thị Hoa", "position": "Chuyên viên", "department": "Phòng Quản lý hành chính",
        "note": "Thẩm định hồ sơ", "at": "2026-11-21T02:00:00Z"
    });
    let (status, body) = h.api.post(&message).await;
    assert_eq!(status, 202, "{body}");
    let id = message["id"].as_str().unwrap();
    // Delivered means both calls (the state, then the progress step) were accepted.
    let view = h.api.wait_state(id, "delivered").await;
    assert_eq!(view["deliveries"][0]["adapter"], "dvc");

    let record = h.portal.dossier(&code).unwrap();
    let item = &record.latest;
    assert_eq!(item["MaHoSo"], code);
    assert_eq!(item["MaTTHC"], "1.001234");
    assert_eq!(item["TrangThaiHoSo"], "4");
    assert_eq!(item["LoaiDoiTuong"], "1");
    assert_eq!(item["MaDoiTuong"], "001203000001");
    assert_eq!(item["DonViXuLy"], "000.00.01.H42");
    // Dates in yyyyMMddHHmmss, Asia/Ho_Chi_Minh: 08:30+07:00 stays 08:30, 02:00Z becomes 09:00.
    assert_eq!(item["NgayTiepNhan"], "20261120083000");
    assert_eq!(item["NgayHenTra"], "20261127170000");
    assert_eq!(record.progress.len(), 1);
    assert_eq!(record.progress[0]["ThoiDiemXuLy"], "20261121090000");
    assert_eq!(record.progress[0]["NguoiXuLy"], "Lê Thị Hoa");
    assert!(h.portal.delivered_message_ids().iter().all(|m| m == id));

    let (_, projected) = h.api.get(&format!("/v1/dossiers/{code}")).await;
    assert_eq!((projected["status"].as_i64(), projected["seq"].as_u64()), (Some(4), Some(3)));
    h.stop().await;
}

#[tokio::test]
async fn a_bad_envelope_is_refused_with_every_violation_and_nothing_reaches_the_portal() {
    let h = Harness::start().await;
    let mut message = status_changed(&dossier(2), 1, 4);
    message["occurred_at"] = json!("21/11/2026");
    message["payload"]["applicant"] = json!({"kind": "business", "id": "12345", "name": "Công ty TNHH Minh Phát"});
    message["payload"]["procedure_code"] = json!("TTHC-1");
    let (status, problem) = h.api.post(&message).await;
    assert_eq!(status, 422);
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().map(|v| v["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/occurred_at", "/payload/applicant/id", "/payload/procedure_code"], "{problem:#}");
    assert_eq!(h.queue_depth("dvc").await, 0);
    assert!(h.portal.calls().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_portal_outage_is_retried_and_delivered_once_when_it_returns() {
    let h = Harness::start().await;
    h.portal.set_behaviour(Behaviour { down: true, ..Default::default() });
    let code = dossier(3);
    let message = status_changed(&code, 1, 2);
    let id = message["id"].as_str().unwrap();
    assert_eq!(h.api.post(&message).await.0, 202);

    let retrying = h.api.wait_state(id, "retrying").await;
    let error = retrying["deliveries"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("503"), "{error}");
    h.portal.set_behaviour(Behaviour::default());
    let delivered = h.api.wait_state(id, "delivered").await;
    assert!(delivered["deliveries"][0]["attempts"].as_u64().unwrap() >= 2);
    assert_eq!(h.portal.statuses(&code), ["2"]);
    assert_eq!(h.portal.delivered_message_ids().iter().filter(|m| *m == id).count(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_portal_refusal_is_dead_lettered_with_its_reason_and_others_flow() {
    let h = Harness::start().await;
    let refused = dossier(4);
    h.portal.set_behaviour(Behaviour { refuse_dossiers: vec![refused.clone()], ..Default::default() });
    let poison = status_changed(&refused, 1, 4);
    let fine = status_changed(&dossier(5), 1, 4);
    assert_eq!(h.api.post(&poison).await.0, 202);
    assert_eq!(h.api.post(&fine).await.0, 202);

    let view = h.api.wait_state(poison["id"].as_str().unwrap(), "dead_lettered").await;
    let error = view["deliveries"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("03") && error.contains(&refused), "{error}");
    assert_eq!(view["deliveries"][0]["attempts"], 1, "a refusal is not retried");
    h.api.wait_state(fine["id"].as_str().unwrap(), "delivered").await;
    let archived = h.operator.wait_dead_letter(poison["id"].as_str().unwrap(), "dvc", "dead").await;
    assert!(archived["peer_answer"].as_str().is_some_and(|answer| answer.contains("03")), "{archived:#}");
    assert!(h.portal.dossier(&refused).is_none());
    h.stop().await;
}

#[tokio::test]
async fn a_stale_state_is_superseded_but_its_progress_step_is_delivered() {
    let h = Harness::start().await;
    let code = dossier(6);
    let newer = status_changed(&code, 2, 5);
    assert_eq!(h.api.post(&newer).await.0, 202);
    h.api.wait_state(newer["id"].as_str().unwrap(), "delivered").await;

    // The older state arrives late (a retry, a slow sender): its state must not overwrite the
    // newer one at the portal, but its progress step is history and still goes.
    let mut older = status_changed(&code, 1, 4);
    older["payload"]["progress"] = json!({
        "handler": "Trần Văn Bình", "department": "Bộ phận một cửa", "note": "Tiếp nhận hồ sơ",
        "at": "2026-11-20T08:30:00+07:00"
    });
    assert_eq!(h.api.post(&older).await.0, 202);
    let view = h.api.wait_state(older["id"].as_str().unwrap(), "superseded").await;
    assert_eq!(view["deliveries"][0]["state"], "superseded");

    assert_eq!(h.portal.statuses(&code), ["5"], "the stale state was not sent");
    let record = h.portal.dossier(&code).unwrap();
    assert_eq!(record.latest["TrangThaiHoSo"], "5");
    assert_eq!(record.progress.len(), 1);
    assert_eq!(record.progress[0]["NoiDungXuLy"], "Tiếp nhận hồ sơ");
    h.stop().await;
}

#[tokio::test]
async fn the_same_id_twice_reaches_the_portal_once() {
    let h = Harness::start().await;
    let message = status_changed(&dossier(7), 1, 4);
    let id = message["id"].as_str().unwrap();
    let (first, second) = tokio::join!(h.api.post(&message), h.api.post(&message));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [200, 202]);
    h.api.wait_state(id, "delivered").await;
    assert_eq!(h.api.post(&message).await.0, 200);

    // Once a later message has reached the portal, the first has had every chance to repeat.
    let marker = status_changed(&dossier(8), 1, 4);
    h.api.post(&marker).await;
    h.wait_portal_has(marker["id"].as_str().unwrap()).await;
    assert_eq!(h.portal.delivered_message_ids().iter().filter(|m| *m == id).count(), 1);
    h.stop().await;
}
