//! The message log of a real bus: every exchange on the record, its chain sealed at shutdown,
//! and traffic going on when the log cannot write.

mod common;

use std::path::PathBuf;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::audit::{Entry, Search, file, key_beside};
use lgsp_bus::auth::keys::SigningKey;
use lgsp_bus::testing::dossier;
use serde_json::{Value, json};

fn log_path(bus: &TestBus) -> PathBuf {
    bus.bus.as_ref().unwrap().log.path().unwrap().to_path_buf()
}

fn entries(path: &std::path::Path, kind: &str) -> Vec<(Entry, Value)> {
    let search = Search { kind: Some(kind.into()), ..Search::default() };
    let found = file::open(path).unwrap().search(&search, 1000).unwrap();
    found
        .into_iter()
        .map(|entry| {
            let detail = serde_json::from_str(&entry.detail).unwrap();
            (entry, detail)
        })
        .collect()
}

#[tokio::test]
async fn every_exchange_and_every_refusal_is_on_the_sealed_record() {
    let mut bus = TestBus::start().await;
    let path = log_path(&bus);

    let message = status_changed(DOSSIER, 1, 2);
    let id = message["id"].as_str().unwrap().to_string();
    assert_eq!(bus.post(&message).await.0, 202);
    bus.wait_state(&id, "delivered").await;

    // Refused: no credentials, a forged source, an invalid message.
    let anonymous = reqwest::Client::new().get(format!("{}/v1/dossiers/{DOSSIER}", bus.api.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut forged = status_changed(DOSSIER, 2, 3);
    forged["source"] = json!("onestop.thachha");
    assert_eq!(bus.post(&forged).await.0, 403);
    let mut invalid = status_changed(DOSSIER, 3, 3);
    invalid["payload"]["status"] = json!(99);
    assert_eq!(bus.post(&invalid).await.0, 422);

    // A lookup of a citizen's data.
    let lookup = json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                        "dossier_code": DOSSIER, "fields": ["permanent_address"]});
    let asked = bus.api.http.post(format!("{}/v1/services/citizen.verify", bus.api.base)).json(&lookup).send().await;
    assert_eq!(asked.unwrap().status(), 200);

    // The log is for auditors only.
    let (status, problem) = bus.operator.get(&format!("/v1/audit?message={id}")).await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("role auditor")), "{problem}");

    bus.halt().await;

    let accepted = entries(&path, "message.accepted");
    assert_eq!(accepted.len(), 1, "only the message accepted");
    let (entry, detail) = &accepted[0];
    assert_eq!((entry.actor.as_str(), entry.message.as_deref()), ("onestop.sandbox", Some(id.as_str())));
    assert_eq!((entry.dossier.as_deref(), detail["type"].as_str()), (Some(DOSSIER), Some("dossier.status_changed")));
    assert_eq!(detail["digest"].as_str().map(str::len), Some(64), "a digest, not the payload");
    assert!(detail.get("payload").is_none());

    let delivered = entries(&path, "message.delivery");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0.actor, "scripted");
    assert_eq!((delivered[0].1["result"].as_str(), delivered[0].1["attempt"].as_u64()), (Some("delivered"), Some(1)));
    let answer_digest = lgsp_bus::envelope::sha256_hex(common::scripted_answer(&id));
    assert_eq!(
        delivered[0].1["answer_digest"].as_str(),
        Some(answer_digest.as_str()),
        "the peer's answer, as evidence"
    );

    let refused = entries(&path, "request.refused");
    let refusal = |status: u64, path: &str| {
        refused
            .iter()
            .find(|(_, d)| d["status"] == status && d["path"] == path)
            .unwrap_or_else(|| panic!("no {status} of {path} on the record: {refused:#?}"))
    };
    let (who, why) = refusal(401, &format!("/v1/dossiers/{DOSSIER}"));
    assert_eq!((who.actor.as_str(), why["problem"].as_str()), ("anonymous", Some("unauthenticated")));
    let (who, why) = refusal(403, "/v1/messages");
    assert_eq!(who.actor, "onestop.sandbox");
    assert!(why["detail"].as_str().unwrap().contains("onestop.thachha"), "{why}");
    let (who, why) = refusal(422, "/v1/messages");
    assert_eq!((who.actor.as_str(), why["problem"].as_str()), ("onestop.sandbox", Some("invalid-message")));
    assert!(why["detail"].as_str().unwrap().contains("/payload/status"), "{why}");
    let (who, why) = refusal(403, "/v1/audit");
    assert_eq!((who.actor.as_str(), why["problem"].as_str()), ("operator", Some("forbidden")));

    let lookups = entries(&path, "lookup");
    assert_eq!(lookups.len(), 1);
    let (entry, detail) = &lookups[0];
    assert_eq!((entry.actor.as_str(), entry.subject.as_deref()), ("onestop.sandbox", Some("001203000001")));
    assert_eq!(detail["fields"], json!(["permanent_address"]));

    // Sealed at shutdown, to the last entry.
    let key = SigningKey::from_file(&key_beside(&path)).unwrap();
    let report = file::open(&path).unwrap().verify(&[key.public()], None).unwrap().unwrap();
    assert_eq!(report.unsealed(), 0);
    assert!(report.entries >= 7, "{report:?}");
    bus.stop().await;
}

#[tokio::test]
async fn auditors_search_the_log_by_message_and_subject() {
    let bus = TestBus::start().await;
    let message = status_changed(DOSSIER, 1, 2);
    let id = message["id"].as_str().unwrap().to_string();
    assert_eq!(bus.post(&message).await.0, 202);
    bus.wait_state(&id, "delivered").await;
    let auditor = bus.api.as_("auditor").await;
    // The log's writer commits on its own thread, moments after.
    let found = bus
        .wait_log(&auditor, &format!("/v1/audit?message={id}"), |status, body| {
            status == 200 && body["entries"].as_array().is_some_and(|e| e.len() == 2)
        })
        .await;
    // In the order the bus saw them: a fast consumer may deliver before the publisher heard
    // the broker's confirm.
    let mut kinds: Vec<&str> =
        found["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["message.accepted", "message.delivery"]);
    let (_, by_subject) = auditor.get(&format!("/v1/audit?subject={DOSSIER}&kind=message.accepted")).await;
    assert_eq!(by_subject["entries"][0]["message"], id.as_str());
    let (status, problem) = auditor.get("/v1/audit?from=yesterday").await;
    assert_eq!(status, 400, "{problem}");
    bus.stop().await;
}

#[tokio::test]
async fn a_log_that_cannot_write_does_not_stop_a_single_message() {
    let bus = TestBus::start().await;
    let path = log_path(&bus);
    // Another process holds the log's write lock: every write of the log fails.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let mut ids = Vec::new();
    for seq in 1..=5 {
        let message = status_changed(&dossier(seq), 1, 2);
        assert_eq!(bus.post(&message).await.0, 202);
        ids.push(message["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        bus.wait_state(id, "delivered").await;
    }
    let ready = bus.wait_log(&bus.api, "/readyz", |_, body| body["message_log"] == "failing").await;
    assert_eq!(ready["ready"], true, "the log never makes the bus unready: {ready}");

    blocker.execute_batch("ROLLBACK").unwrap();
    bus.wait_log(&bus.api, "/readyz", |_, body| body["message_log"] == "ok").await;
    let mut bus = bus;
    bus.halt().await;
    let accepted = entries(&path, "message.accepted");
    assert_eq!(accepted.len(), 5, "written once the lock went: nothing lost");
    let key = SigningKey::from_file(&key_beside(&path)).unwrap();
    file::open(&path).unwrap().verify(&[key.public()], None).unwrap().unwrap();
    bus.stop().await;
}
