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
        routing: json!({"agency": null, "reason": "test"}),
        competent_agency: None,
        documents_reuse: None,
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
    let checks = store.delivery_checks("dvc", vec![(s3.clone(), false), (s4.clone(), false)]).await.unwrap();
    assert_eq!(
        checks[0],
        DeliveryCheck { state: Some(DeliveryState::Delivered), last_seq: Some(5), newest_accepted: None }
    );
    assert_eq!(checks[1], DeliveryCheck { state: None, last_seq: Some(5), newest_accepted: None });
    // Another adapter has seen nothing.
    let other = store.delivery_checks("onestop", vec![(s4, false)]).await.unwrap();
    assert_eq!(other[0], DeliveryCheck { state: None, last_seq: None, newest_accepted: None });
}

#[tokio::test]
async fn a_second_try_learns_the_newest_seq_accepted_and_not_dead_lettered() {
    let (_dir, store) = open();
    let code = "000.00.01.H42-261120-0001";
    let [s3, s4, s6] =
        [(3, 4), (4, 5), (6, 9)].map(|(seq, status)| envelope("dossier.status_changed", code, seq, status));
    store
        .record_accepted(vec![accepted(&s3, &["dvc"]), accepted(&s4, &["dvc"]), accepted(&s6, &["onestop"])])
        .await
        .unwrap();
    let check = |adapter: &'static str, envelope: &Arc<Envelope>, second_try: bool| {
        let store = store.clone();
        let envelope = envelope.clone();
        async move { store.delivery_checks(adapter, vec![(envelope, second_try)]).await.unwrap()[0].newest_accepted }
    };
    // Asked only for a second try; only this adapter's deliveries count.
    assert_eq!(check("dvc", &s3, false).await, None);
    assert_eq!(check("dvc", &s3, true).await, Some(4));
    assert_eq!(check("onestop", &s3, true).await, Some(6));
    // A newer one that was dead-lettered will not come: it does not count.
    store.record_outcomes(vec![outcome(&s4, DeliveryState::DeadLettered, 3)]).await.unwrap();
    assert_eq!(check("dvc", &s3, true).await, Some(3));
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
async fn payment_and_postal_news_keep_the_newest_and_name_the_competent_agency() {
    let (_dir, store) = open();
    let code = "000.00.01.H42-261120-0001";
    let mut submitted = accepted(&envelope("dossier.submitted", code, 1, 1), &["onestop"]);
    submitted.competent_agency = Some("000.00.31.H42".into());
    store.record_accepted(vec![submitted]).await.unwrap();
    let news = |message_type: &str, seq: u64, payload: serde_json::Value| {
        let envelope: Envelope = serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(), "type": message_type, "source": "portal.national", "subject": code,
            "seq": seq, "occurred_at": "2026-11-20T09:15:00+07:00", "payload": payload
        }))
        .unwrap();
        accepted(&Arc::new(envelope), &["onestop"])
    };
    // Refunded (seq 3) arrives before the payment it refunds (seq 2): refunded stays.
    let refunded = json!({"dossier_code": code, "status": "refunded", "transaction_id": "PAY-2"});
    let paid = json!({"dossier_code": code, "status": "paid", "transaction_id": "PAY-1"});
    store.record_accepted(vec![news("payment.status", 3, refunded)]).await.unwrap();
    store.record_accepted(vec![news("payment.status", 2, paid)]).await.unwrap();
    let delivered = json!({"dossier_code": code, "order_number": "DL-1", "status": "delivered"});
    let collecting = json!({"dossier_code": code, "order_number": "DL-1", "status": "collecting"});
    store.record_accepted(vec![news("postal.shipment_status", 5, delivered)]).await.unwrap();
    store.record_accepted(vec![news("postal.shipment_status", 4, collecting)]).await.unwrap();

    let dossier = store.dossier(code.into()).await.unwrap().unwrap();
    assert_eq!(dossier.competent_agency.as_deref(), Some("000.00.31.H42"));
    assert_eq!(dossier.payment.unwrap()["status"], "refunded");
    assert_eq!(dossier.postal.unwrap()["status"], "delivered");
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

fn result_ready(code: &str, holder: &str, documents: serde_json::Value) -> Arc<Envelope> {
    Arc::new(
        serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(), "type": "dossier.result_ready", "source": "onestop.sandbox", "subject": code,
            "seq": 1, "occurred_at": "2026-11-24T15:30:00+07:00",
            "payload": {"dossier_code": code, "procedure_code": "1.001193", "agency_code": "000.00.01.H42",
                        "holder": {"kind": "citizen", "id": holder}, "documents": documents,
                        "completed_at": "2026-11-24T15:30:00+07:00"}
        }))
        .unwrap(),
    )
}

fn paper(kind: &str, number: &str, issued_on: &str, valid_until: Option<&str>) -> serde_json::Value {
    let mut paper = json!({"type": kind, "number": number, "issuer": "UBND xã Thạch Hà", "issued_on": issued_on,
                           "file_url": format!("https://onestop.example/files/{number}.pdf"), "sha256": "ab".repeat(32)});
    if let Some(until) = valid_until {
        paper["valid_until"] = json!(until);
    }
    paper
}

fn submitted(code: &str, applicant: &str, received_at: &str) -> Arc<Envelope> {
    Arc::new(
        serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": "onestop.sandbox", "subject": code,
            "seq": 1, "occurred_at": received_at,
            "payload": {"dossier_code": code, "procedure_code": "1.001234", "agency_code": "000.00.01.H42",
                        "received_at": received_at, "due_at": "2026-12-30T17:00:00+07:00", "channel": "online",
                        "applicant": {"kind": "citizen", "id": applicant, "name": "Nguyễn Văn An"}}
        }))
        .unwrap(),
    )
}

#[tokio::test]
async fn results_are_indexed_and_found_while_valid() {
    let (_dir, store) = open();
    let citizen = "001203000001";
    let result = result_ready(
        "000.00.01.H42-261120-0001",
        citizen,
        json!([
            paper("GKS", "123/2026", "2026-11-24", None),
            paper("XNCT", "9/2026", "2026-11-24", Some("2026-12-24"))
        ]),
    );
    store.record_accepted(vec![accepted(&result, &[])]).await.unwrap();

    let all = store.documents("citizen", citizen, &[], "2026-12-01").await.unwrap();
    assert_eq!(all.iter().map(|d| d.document_type.as_str()).collect::<Vec<_>>(), ["GKS", "XNCT"]);
    assert_eq!(all[0].dossier_code, "000.00.01.H42-261120-0001");
    let births = store.documents("citizen", citizen, &["GKS".into()], "2026-12-01").await.unwrap();
    assert_eq!(births.len(), 1);
    // Expired, not yet issued, or someone else's: not offered.
    assert_eq!(store.documents("citizen", citizen, &[], "2027-01-01").await.unwrap().len(), 1);
    assert!(store.documents("citizen", citizen, &[], "2026-11-23").await.unwrap().is_empty());
    assert!(store.documents("citizen", "042198000002", &[], "2026-12-01").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_submitted_dossier_records_which_papers_were_already_on_file() {
    let (_dir, store) = open();
    let citizen = "001203000001";
    let result =
        result_ready("000.00.01.H42-261120-0001", citizen, json!([paper("GKS", "123/2026", "2026-11-24", None)]));
    store.record_accepted(vec![accepted(&result, &[])]).await.unwrap();

    // What ingress looks up for a dossier whose procedure needs a birth certificate and a
    // residence confirmation, then records with it.
    let required = vec!["GKS".to_string(), "XNCT".to_string()];
    let on_file = store.reusable("citizen", citizen, &required, "2026-12-01").await.unwrap();
    let expected = json!({"type": "GKS", "number": "123/2026", "issuer": "UBND xã Thạch Hà",
                          "dossier_code": "000.00.01.H42-261120-0001"});
    assert_eq!(on_file, [expected]);
    assert!(store.reusable("citizen", "042198000002", &required, "2026-12-01").await.unwrap().is_empty());
    let mut later = accepted(&submitted("000.00.01.H42-261201-0001", citizen, "2026-12-01T08:00:00+07:00"), &["dvc"]);
    later.documents_reuse = Some(json!({"required": required, "reusable": on_file}));
    let mut stranger =
        accepted(&submitted("000.00.01.H42-261201-0002", "042198000002", "2026-12-01T09:00:00+07:00"), &["dvc"]);
    stranger.documents_reuse = Some(json!({"required": ["GKS"], "reusable": []}));
    store.record_accepted(vec![later, stranger]).await.unwrap();

    let reuse = store.reuse("000.00.01.H42-261201-0001").await.unwrap().unwrap();
    assert_eq!(reuse.required, ["GKS", "XNCT"]);
    assert_eq!(reuse.reusable.len(), 1);
    assert_eq!(reuse.reusable[0]["number"], "123/2026");
    assert_eq!(reuse.reusable[0]["dossier_code"], "000.00.01.H42-261120-0001");
    assert!(store.reuse("000.00.01.H42-261201-0002").await.unwrap().unwrap().reusable.is_empty());

    let report = store.reuse_report("2026-12-01", "2026-12-01").await.unwrap();
    assert_eq!((report[0].dossiers, report[0].with_reusable_documents), (2, 1));
    assert_eq!(report[1].procedure_code.as_deref(), Some("1.001234"));
    assert_eq!(store.reuse_report("2026-11-01", "2026-11-30").await.unwrap()[0].dossiers, 0);
}

#[tokio::test]
async fn lookups_are_kept_for_the_audit() {
    let (_dir, store) = open();
    for (member, subject, outcome) in
        [("onestop.a", "001203000001", "match"), ("onestop.b", "042198000002", "not_found")]
    {
        store
            .record_lookup(LookupRecord {
                id: uuid::Uuid::now_v7().to_string(),
                at: 5_000,
                member: member.into(),
                service: "citizen.verify".into(),
                dossier_code: "000.00.01.H42-261120-0001".into(),
                subject: subject.into(),
                fields: vec!["permanent_address".into()],
                returned: if outcome == "match" { vec!["permanent_address".into()] } else { Vec::new() },
                outcome: outcome.into(),
            })
            .await
            .unwrap();
    }
    let of_an = store.lookups(None, Some("001203000001"), None, 10).await.unwrap();
    assert_eq!(of_an.len(), 1);
    assert_eq!((of_an[0].member.as_str(), of_an[0].outcome.as_str()), ("onestop.a", "match"));
    assert_eq!(of_an[0].fields, ["permanent_address"]);
    assert_eq!(of_an[0].returned, ["permanent_address"]);
    assert_eq!(store.lookups(Some("000.00.01.H42-261120-0001"), None, None, 10).await.unwrap().len(), 2);
}

fn dead_letter(envelope: &Envelope, dead_at: i64) -> DeadLetterRecord {
    DeadLetterRecord {
        message_id: envelope.id.to_string(),
        adapter: "dvc".into(),
        message_type: Some(envelope.message_type.clone()),
        subject: Some(envelope.subject.clone()),
        source: Some(envelope.source.clone()),
        seq: Some(envelope.seq),
        body: serde_json::to_string(envelope).unwrap(),
        attempts: 1,
        first_failed_at: Some(dead_at),
        last_failed_at: Some(dead_at),
        dead_at,
        last_error: Some("portal refused: error_code 03".into()),
        peer_answer: Some("{\"error_code\":\"03\"}".into()),
        accepted_at: Some(1_000),
        annotations: None,
    }
}

async fn state_of(store: &Store, envelope: &Envelope) -> (DeadLetterState, DeliveryState) {
    let row = store.dead_letter(&envelope.id.to_string(), "dvc").await.unwrap().unwrap();
    let delivery = store.message(envelope.id).await.unwrap().unwrap().deliveries[0].state;
    (row.state, delivery)
}

#[tokio::test]
async fn a_dead_letter_is_archived_once_listed_by_filter_and_replayed_only_when_dead() {
    let (_dir, store) = open();
    let m = envelope("dossier.status_changed", "000.00.01.H42-261120-0001", 1, 4);
    let id = m.id.to_string();
    store.record_accepted(vec![accepted(&m, &["dvc"])]).await.unwrap();
    // The keeper may archive the copy before the engine records the outcome: no replay yet.
    store.archive_dead_letters(vec![dead_letter(&m, 3_000), dead_letter(&m, 3_000)]).await.unwrap();
    assert!(!store.claim_replay(&id, "dvc", "dvc", 4_000).await.unwrap());
    store.record_outcomes(vec![outcome(&m, DeliveryState::DeadLettered, 1)]).await.unwrap();

    let filter = |f: DeadLetterFilter| DeadLetterFilter { limit: 10, ..f };
    let (rows, total) = store.dead_letters(&filter(DeadLetterFilter::default())).await.unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!(rows[0].record.last_error.as_deref(), Some("portal refused: error_code 03"));
    assert!(rows[0].record.body.is_empty(), "a list leaves bodies out");
    for (f, expected) in [
        (DeadLetterFilter { adapter: Some("postal".into()), ..Default::default() }, 0),
        (DeadLetterFilter { message_type: Some("dossier.status_changed".into()), ..Default::default() }, 1),
        (DeadLetterFilter { since: Some(3_000), until: Some(3_001), ..Default::default() }, 1),
        (DeadLetterFilter { since: Some(3_001), ..Default::default() }, 0),
        (DeadLetterFilter { state: Some(DeadLetterState::Replayed), ..Default::default() }, 0),
    ] {
        assert_eq!(store.dead_letters(&filter(f.clone())).await.unwrap().1, expected, "{f:?}");
    }
    assert_eq!(store.dead_letter_count("dvc").await.unwrap(), 1);

    // Claimed: replaying, and the delivery pending again; then replayed, once.
    assert!(store.claim_replay(&id, "dvc", "dvc", 4_000).await.unwrap());
    assert_eq!(state_of(&store, &m).await, (DeadLetterState::Replaying, DeliveryState::Accepted));
    store.mark_replayed(&id, "dvc").await.unwrap();
    assert_eq!(state_of(&store, &m).await.0, DeadLetterState::Replayed);
    assert!(!store.claim_replay(&id, "dvc", "dvc", 4_500).await.unwrap(), "replayed already");
    assert!(!store.purge_dead_letter(&id, "dvc", 4_500).await.unwrap(), "only a dead one is purged");

    // A copy of the old death changes nothing; a death after the replay is a new one.
    store.archive_dead_letters(vec![dead_letter(&m, 3_000)]).await.unwrap();
    assert_eq!(state_of(&store, &m).await.0, DeadLetterState::Replayed);
    store.archive_dead_letters(vec![DeadLetterRecord { attempts: 3, ..dead_letter(&m, 5_000) }]).await.unwrap();
    let row = store.dead_letter(&id, "dvc").await.unwrap().unwrap();
    assert_eq!((row.state, row.record.attempts, row.replays), (DeadLetterState::Dead, 3, 1));

    // Purged: kept, with when; never replayed, and a late copy does not revive it.
    assert!(store.purge_dead_letter(&id, "dvc", 6_000).await.unwrap());
    store.archive_dead_letters(vec![dead_letter(&m, 7_000)]).await.unwrap();
    let row = store.dead_letter(&id, "dvc").await.unwrap().unwrap();
    assert_eq!((row.state, row.purged_at), (DeadLetterState::Purged, Some(6_000)));
    assert!(!store.claim_replay(&id, "dvc", "dvc", 8_000).await.unwrap());
    assert_eq!(store.dead_letter_count("dvc").await.unwrap(), 0);
}
