//! The real adapter against the real simulator on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::*;
use lgsp_bus::{Adapter, Delivery, Outcome};
use lgsp_dvc::{Behaviour, DvcAdapter};
use serde_json::json;

#[tokio::test]
async fn a_mixed_batch_reaches_the_portal_in_order_with_its_message_ids() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let batch = [
        delivery(SUBMITTED, example(SUBMITTED, 0)),
        delivery(STATUS_CHANGED, example(STATUS_CHANGED, 0)),
        delivery(SUBMITTED, example(SUBMITTED, 1)),
        delivery(STATUS_CHANGED, example(STATUS_CHANGED, 1)),
    ];
    let (first, second) = (code(&batch[0]).to_string(), code(&batch[2]).to_string());

    let outcomes = adapter.deliver(&batch).await;

    assert_eq!(outcomes, vec![Outcome::Delivered; 4]);
    let calls = sim.calls();
    let summary: Vec<(&str, Option<&str>, Vec<String>)> =
        calls.iter().map(|c| (c.service.as_str(), c.is_updating.as_deref(), c.message_ids.clone())).collect();
    assert_eq!(
        summary,
        vec![
            ("DongBoHoSoMC", Some("False"), vec![id(&batch[0]), id(&batch[2])]),
            ("DongBoHoSoMC", Some("True"), vec![id(&batch[1]), id(&batch[3])]),
            // Only the first status change carries a progress step.
            ("CapNhatTienDoHoSoMC", None, vec![id(&batch[1])]),
        ]
    );
    let codes: Vec<&str> = calls[0].items.iter().map(|item| item["MaHoSo"].as_str().unwrap()).collect();
    assert_eq!(codes, [first.as_str(), second.as_str()]);
    assert_eq!(sim.statuses(&first), ["1", "4"]);
    assert_eq!(sim.statuses(&second), ["1", "10"]);
    let record = sim.dossier(&first).unwrap();
    assert_eq!(record.progress.len(), 1);
    assert_eq!(record.progress[0]["NguoiXuLy"], "Lê Thị Hoa");
    assert_eq!(sim.dossier(&second).unwrap().latest["NgayTra"], "20261124153000");
    assert_eq!(sim.delivered_message_ids().len(), 5);
    assert_eq!(sim.logins(), 1, "one session serves every call");
}

#[tokio::test]
async fn successive_states_of_one_dossier_keep_their_order() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut batch = vec![delivery(SUBMITTED, example(SUBMITTED, 0))];
    for status in [2, 4, 9, 10] {
        let mut payload = example(STATUS_CHANGED, 0);
        payload["status"] = status.into();
        payload["completed_at"] = "2026-11-24T15:30:00+07:00".into();
        batch.push(delivery(STATUS_CHANGED, payload));
    }
    assert_eq!(adapter.deliver(&batch).await, vec![Outcome::Delivered; 5]);
    assert_eq!(sim.statuses(code(&batch[0])), ["1", "2", "4", "9", "10"]);
    let record = sim.dossier(code(&batch[0])).unwrap();
    let progress: Vec<&str> = record.progress.iter().map(|p| p["TrangThai"].as_str().unwrap()).collect();
    assert_eq!(progress, ["2", "4", "9", "10"]);
}

#[tokio::test]
async fn a_stale_delivery_sends_only_its_progress_step_and_is_superseded() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = delivery(SUBMITTED, example(SUBMITTED, 0));
    let mut newer = example(STATUS_CHANGED, 0);
    newer["status"] = 5.into();
    newer.as_object_mut().unwrap().remove("progress");
    let newer = delivery(STATUS_CHANGED, newer);
    assert_eq!(adapter.deliver(&[submitted.clone(), newer]).await, vec![Outcome::Delivered; 2]);
    let calls_before = sim.calls().len();

    // An older status (4) arrives late, with its step; and a replayed submission, without one.
    let older = stale(delivery(STATUS_CHANGED, example(STATUS_CHANGED, 0)));
    let replayed = stale(delivery(SUBMITTED, example(SUBMITTED, 0)));
    let outcomes = adapter.deliver(&[older.clone(), replayed]).await;

    assert_eq!(outcomes, vec![Outcome::Superseded, Outcome::Superseded]);
    let calls = sim.calls();
    assert_eq!(calls.len(), calls_before + 1, "only the progress step is sent");
    assert_eq!(calls.last().unwrap().service, "CapNhatTienDoHoSoMC");
    assert_eq!(calls.last().unwrap().message_ids, [id(&older)]);
    let record = sim.dossier(code(&submitted)).unwrap();
    assert_eq!(record.statuses, ["1", "5"], "the newer state stays");
    assert_eq!(record.latest["TrangThaiHoSo"], "5");
    assert_eq!(record.progress.len(), 1);
}

#[tokio::test]
async fn an_expired_session_is_renewed_transparently() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.deliver(&[delivery(SUBMITTED, example(SUBMITTED, 0))]).await, [Outcome::Delivered]);

    // The portal forgets the session (its TTL passes) while the adapter still holds it.
    sim.advance_clock(sim.options().session_ttl + Duration::from_secs(1));
    let next = delivery(SUBMITTED, example(SUBMITTED, 1));
    assert_eq!(adapter.deliver(std::slice::from_ref(&next)).await, [Outcome::Delivered]);

    assert_eq!(sim.logins(), 2);
    assert_eq!(sim.delivered_message_ids().last(), Some(&id(&next)));
}

#[tokio::test]
async fn an_old_session_is_renewed_before_the_portal_expires_it() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("session_max_age".into(), "1ns".into());
    let adapter = DvcAdapter::new(&config(&settings)).unwrap();
    for index in 0..2 {
        assert_eq!(adapter.deliver(&[delivery(SUBMITTED, example(SUBMITTED, index))]).await, [Outcome::Delivered]);
    }
    assert_eq!(sim.logins(), 2);
}

#[tokio::test]
async fn one_refused_dossier_fails_alone_and_the_rest_are_delivered() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut bad = fixture("submitted_full");
    // Passes the adapter's view but not the portal: DonViXuLy must be a unit code.
    bad["agency_code"] = "H42".into();
    let batch = [
        delivery(SUBMITTED, example(SUBMITTED, 0)),
        delivery(SUBMITTED, bad),
        delivery(SUBMITTED, example(SUBMITTED, 1)),
    ];

    let outcomes = adapter.deliver(&batch).await;

    assert_eq!(outcomes[0], Outcome::Delivered);
    assert_eq!(outcomes[2], Outcome::Delivered);
    let failure = permanent(&outcomes[1]);
    assert!(failure.reason.starts_with(&format!("portal refused {}: error_code 03: ", code(&batch[1]))), "{failure:?}");
    assert!(failure.reason.contains("DonViXuLy"), "{failure:?}");
    assert!(!failure.reason.contains("042203000007"), "no citizen ID in {failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.contains("\"03\"")), "{failure:?}");
    assert!(sim.dossier(code(&batch[1])).is_none());
    // Each good one was delivered exactly once, alone, after the whole batch was refused.
    let mut delivered = sim.delivered_message_ids();
    delivered.sort();
    let mut expected = vec![id(&batch[0]), id(&batch[2])];
    expected.sort();
    assert_eq!(delivered, expected);
}

#[tokio::test]
async fn a_dossier_the_portal_refuses_is_permanent_and_its_progress_is_not_sent() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let refused = delivery(STATUS_CHANGED, example(STATUS_CHANGED, 0));
    sim.set_behaviour(Behaviour { refuse_dossiers: vec![code(&refused).into()], ..Behaviour::default() });
    let accepted = delivery(STATUS_CHANGED, example(STATUS_CHANGED, 1));

    let outcomes = adapter.deliver(&[refused.clone(), accepted]).await;

    assert!(permanent(&outcomes[0]).reason.contains(code(&refused)), "{outcomes:?}");
    assert_eq!(outcomes[1], Outcome::Delivered);
    assert!(sim.calls().iter().all(|call| call.service == "DongBoHoSoMC"), "no progress call");
}

#[tokio::test]
async fn progress_for_a_dossier_the_portal_does_not_know_is_transient() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let outcomes = adapter.deliver(&[stale(delivery(STATUS_CHANGED, example(STATUS_CHANGED, 0)))]).await;
    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("does not know dossier 000.00.01.H42-261120-0001"), "{failure:?}");
    assert!(failure.reason.contains("error_code 04"), "{failure:?}");
}

#[tokio::test]
async fn portal_trouble_is_transient_for_every_message_of_the_call() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = DvcAdapter::new(&config(&settings)).unwrap();
    let cases = [
        (Behaviour { down: true, ..Behaviour::default() }, "HTTP 503"),
        (Behaviour { error_rate: 1.0, ..Behaviour::default() }, "HTTP 500"),
        (
            Behaviour { timeout_rate: 1.0, ..Behaviour::default() },
            "no answer from the portal at 127.0.0.1 within 300ms",
        ),
    ];
    for (behaviour, expected) in cases {
        sim.set_behaviour(behaviour.clone());
        let batch = [delivery(SUBMITTED, example(SUBMITTED, 0)), delivery(SUBMITTED, example(SUBMITTED, 1))];
        let outcomes = adapter.deliver(&batch).await;
        for outcome in &outcomes {
            let failure = transient(outcome);
            assert!(failure.reason.contains(expected), "{behaviour:?}: {failure:?}");
        }
    }
    assert!(sim.calls().is_empty());

    // And once the portal is back, the same adapter delivers.
    sim.set_behaviour(Behaviour::default());
    assert_eq!(adapter.deliver(&[delivery(SUBMITTED, example(SUBMITTED, 0))]).await, [Outcome::Delivered]);
}

#[tokio::test]
async fn a_client_error_status_is_permanent_with_the_peers_answer() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("integration_endpoint".into(), "/no-such-endpoint".into());
    let adapter = DvcAdapter::new(&config(&settings)).unwrap();
    let outcomes = adapter.deliver(&[delivery(SUBMITTED, example(SUBMITTED, 0))]).await;
    let failure = permanent(&outcomes[0]);
    assert!(failure.reason.ends_with("failed: portal answered HTTP 404 Not Found"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 404")), "{failure:?}");
}

#[tokio::test]
async fn wrong_credentials_are_transient_with_a_clear_reason() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("password".into(), "not the password".into());
    let adapter = DvcAdapter::new(&config(&settings)).unwrap();
    let outcomes = adapter.deliver(&[delivery(SUBMITTED, example(SUBMITTED, 0))]).await;
    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("portal refused the login of `lgsp`: error_code 01"), "{failure:?}");
    assert!(!failure.reason.contains("not the password"));
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn a_payload_the_adapter_cannot_read_is_permanent_and_spares_the_rest() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut unreadable = example(SUBMITTED, 0);
    unreadable["applicant"] = json!({"kind": "robot", "id": "001203000001", "name": "R2"});
    let batch = [
        delivery(SUBMITTED, unreadable),
        delivery("dossier.archived", example(SUBMITTED, 1)),
        delivery(SUBMITTED, example(SUBMITTED, 1)),
    ];
    let outcomes = adapter.deliver(&batch).await;
    let failure = permanent(&outcomes[0]);
    assert!(failure.reason.contains("does not fit the dvc view"), "{failure:?}");
    assert!(!failure.reason.contains("001203000001"), "{failure:?}");
    assert!(permanent(&outcomes[1]).reason.contains("dossier.archived"));
    assert_eq!(outcomes[2], Outcome::Delivered);
}

#[tokio::test]
async fn batches_larger_than_max_batch_are_split_into_calls() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("max_batch".into(), 2.into());
    let adapter = DvcAdapter::new(&config(&settings)).unwrap();
    assert_eq!(adapter.max_batch(), 2);
    let batch: Vec<_> = (0..5).map(|i| delivery(SUBMITTED, example(SUBMITTED, i % 2))).collect();
    assert_eq!(adapter.deliver(&batch).await, vec![Outcome::Delivered; 5]);
    let sizes: Vec<usize> = sim.calls().iter().map(|c| c.items.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

/// A postal shipment's move reaches the portal as a step of the dossier's history, with the
/// dossier's status as the bus knows it, even when a newer move overtook it.
#[tokio::test]
async fn a_postal_move_becomes_a_progress_step() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = delivery(SUBMITTED, example(SUBMITTED, 0));
    assert_eq!(adapter.deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);
    let code = submitted.envelope.subject.clone();
    let shipment = serde_json::json!({
        "dossier_code": code, "order_number": "DL-261120-0001", "kind": "delivery", "status": "delivered",
        "status_code": 3, "at": "2026-11-26T03:05:00Z"
    });
    let mut moved = delivery("postal.shipment_status", shipment);
    moved.annotations = std::sync::Arc::new(serde_json::json!({"dossier": {"status": 10}}));
    moved.stale = true;
    assert_eq!(adapter.deliver(&[moved]).await, [Outcome::Delivered]);
    let step = sim.dossier(&code).unwrap().progress.last().cloned().unwrap();
    assert_eq!(step["ThoiDiemXuLy"], "20261126100500");
    assert_eq!(step["TrangThai"], "10");
    let note = step["NoiDungXuLy"].as_str().unwrap();
    assert!(note.contains("Trả kết quả qua bưu chính") && note.contains("DL-261120-0001"), "{note}");
}

#[tokio::test]
async fn an_uncertain_state_the_portal_already_holds_is_not_sent_again() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let mut status = example(STATUS_CHANGED, 0);
    status.as_object_mut().unwrap().remove("progress");
    let submitted = delivery(SUBMITTED, example(SUBMITTED, 0));
    let changed = delivery(STATUS_CHANGED, status.clone());
    assert_eq!(adapter.deliver(&[submitted, changed.clone()]).await, vec![Outcome::Delivered; 2]);
    let calls = sim.calls().len();

    // The bus stopped after the portal took it, before it could record so: it comes again.
    let again = Delivery { uncertain: true, ..changed.clone() };
    assert_eq!(adapter.deliver(std::slice::from_ref(&again)).await, [Outcome::Delivered]);
    assert_eq!(sim.calls().len(), calls, "not sent twice: {:#?}", sim.calls());

    // A state the portal does not hold yet goes, uncertain or not.
    status["status"] = 9.into();
    status["completed_at"] = "2026-11-24T15:30:00+07:00".into();
    let newer = Delivery { uncertain: true, ..delivery(STATUS_CHANGED, status) };
    assert_eq!(adapter.deliver(std::slice::from_ref(&newer)).await, [Outcome::Delivered]);
    assert_eq!(sim.calls().last().unwrap().message_ids, [id(&newer)]);
    assert_eq!(sim.statuses(code(&newer)).last().map(String::as_str), Some("9"));
}

#[tokio::test]
async fn an_uncertain_delivery_waits_when_the_portal_cannot_be_asked() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let submitted = Delivery { uncertain: true, ..delivery(SUBMITTED, example(SUBMITTED, 0)) };
    sim.set_behaviour(Behaviour { error_rate: 1.0, ..Behaviour::default() });
    let outcomes = adapter.deliver(std::slice::from_ref(&submitted)).await;
    let Outcome::Transient(failure) = &outcomes[0] else { panic!("{outcomes:?}") };
    assert!(failure.reason.contains("cannot check whether the portal already has"), "{}", failure.reason);
    assert_eq!(failure.code.as_deref(), Some("http:500"));
    assert!(sim.calls().is_empty());
}
