use super::*;
use serde_json::json;

fn envelope(message_type: &str, code: &str, seq: u64, status: i64) -> Arc<Envelope> {
    Arc::new(
        serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(), "type": message_type, "source": "onestop.sandbox", "subject": code,
            "seq": seq, "occurred_at": "2026-11-20T09:15:00+07:00",
            "payload": {"dossier_code": code, "status": status, "procedure_code": "1.001234",
                        "due_at": "2026-11-27T17:00:00+07:00"}
        }))
        .unwrap(),
    )
}

fn accepted(envelope: &Arc<Envelope>, adapters: &[&str]) -> Accepted {
    Accepted {
        envelope: envelope.clone(),
        digest: envelope.digest(),
        routing_key: format!("{}.42", envelope.message_type),
        accepted_at: 1_000,
        adapters: adapters.iter().map(|a| a.to_string()).collect(),
    }
}

fn outcome(envelope: &Envelope, state: DeliveryState, attempts: u32) -> OutcomeRecord {
    OutcomeRecord {
        message_id: envelope.id.to_string(),
        adapter: "dvc".into(),
        state,
        attempts,
        last_error: (state == DeliveryState::Retrying).then(|| "portal answered 503".into()),
        at: 2_000,
        newest_seq: (state == DeliveryState::Delivered)
            .then(|| (envelope.message_type.clone(), envelope.subject.clone(), envelope.seq)),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/lgsp.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_message_is_recorded_with_one_pending_delivery_per_adapter() {
    let (_dir, store) = open();
    let m = envelope("dossier.status_changed", "000.00.01.H42-261120-0001", 1, 4);
    store.record_accepted(vec![accepted(&m, &["dvc", "onestop"])]).await.unwrap();

    assert_eq!(store.known_digests(&[m.id, uuid::Uuid::now_v7()]).await.unwrap(), [Some(m.digest()), None]);
    let view = store.message(m.id).await.unwrap().unwrap();
    assert_eq!(view.subject, "000.00.01.H42-261120-0001");
    let states: Vec<_> = view.deliveries.iter().map(|d| (d.adapter.as_str(), d.state)).collect();
    assert_eq!(states, [("dvc", DeliveryState::Accepted), ("onestop", DeliveryState::Accepted)]);

    store.record_outcomes(vec![outcome(&m, DeliveryState::Retrying, 1)]).await.unwrap();
    let dvc = store.message(m.id).await.unwrap().unwrap().deliveries.remove(0);
    assert_eq!(
        (dvc.state, dvc.attempts, dvc.last_error.as_deref()),
        (DeliveryState::Retrying, 1, Some("portal answered 503"))
    );
}

#[tokio::test]
async fn an_outcome_recorded_before_the_acceptance_is_kept() {
    let (_dir, store) = open();
    let m = envelope("dossier.status_changed", "000.00.01.H42-261120-0001", 1, 4);
    store.record_outcomes(vec![outcome(&m, DeliveryState::Delivered, 1)]).await.unwrap();
    store.record_accepted(vec![accepted(&m, &["dvc"])]).await.unwrap();
    let view = store.message(m.id).await.unwrap().unwrap();
    assert_eq!(view.deliveries[0].state, DeliveryState::Delivered);
}

#[tokio::test]
async fn checks_report_the_state_and_the_newest_delivered_seq() {
    let (_dir, store) = open();
    let code = "000.00.01.H42-261120-0001";
    let (s3, s5, s4) = (
        envelope("dossier.status_changed", code, 3, 4),
        envelope("dossier.status_changed", code, 5, 9),
        envelope("dossier.status_changed", code, 4, 5),
    );
    store
        .record_outcomes(vec![outcome(&s5, DeliveryState::Delivered, 1), outcome(&s3, DeliveryState::Delivered, 1)])
        .await
        .unwrap();
    let checks = store.delivery_checks("dvc", vec![s3.clone(), s4.clone()]).await.unwrap();
    assert_eq!(checks[0], DeliveryCheck { state: Some(DeliveryState::Delivered), last_seq: Some(5) });
    assert_eq!(checks[1], DeliveryCheck { state: None, last_seq: Some(5) });
    // Another adapter has seen nothing.
    let other = store.delivery_checks("onestop", vec![s4]).await.unwrap();
    assert_eq!(other[0], DeliveryCheck { state: None, last_seq: None });
}

#[tokio::test]
async fn the_dossier_projection_keeps_the_newest_seq() {
    let (_dir, store) = open();
    let code = "000.00.01.H42-261120-0001";
    for (message_type, seq, status) in [
        ("dossier.submitted", 1, 1),
        ("dossier.status_changed", 2, 2),
        ("dossier.status_changed", 4, 9),
        ("dossier.status_changed", 3, 4),
        ("dossier.submitted", 7, 1),
    ] {
        store.record_accepted(vec![accepted(&envelope(message_type, code, seq, status), &["dvc"])]).await.unwrap();
    }
    let dossier = store.dossier(code.into()).await.unwrap().unwrap();
    assert_eq!((dossier.status, dossier.seq), (Some(9), Some(4)));
    assert_eq!(dossier.due_at.as_deref(), Some("2026-11-27T17:00:00+07:00"));
    assert!(store.dossier("000.00.01.H42-261120-0002".into()).await.unwrap().is_none());
}

#[tokio::test]
async fn reopening_keeps_the_data_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lgsp.db");
    let m = envelope("dossier.status_changed", "000.00.01.H42-261120-0001", 1, 4);
    {
        let store = Store::open(&path).unwrap();
        store.record_accepted(vec![accepted(&m, &["dvc"])]).await.unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert!(store.message(m.id).await.unwrap().is_some());
    store.ping().await.unwrap();
}
