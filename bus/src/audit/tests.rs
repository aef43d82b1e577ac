//! The log written by its writer, then tampered with as an intruder would, and checked.

use rusqlite::{Connection, params};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::BufReader;

use super::file::{self, LogFile};
use super::*;
use crate::auth::keys::PublicKey;

struct Log {
    _dir: tempfile::TempDir,
    path: PathBuf,
    config: AuditConfig,
    store: StoreConfig,
}

impl Log {
    fn new(queue: usize) -> Log {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreConfig { url: format!("sqlite://{}", dir.path().join("lgsp.db").display()) };
        let config = AuditConfig { queue, ..AuditConfig::default() };
        let path = config.path(&store).unwrap();
        Log { _dir: dir, path, config, store }
    }

    fn open(&self) -> MessageLog {
        MessageLog::open(&self.config, &self.store).unwrap()
    }

    /// `n` entries of every kind of field, written and sealed.
    async fn write(&self, n: usize) {
        let log = self.open();
        for i in 0..n {
            log.record(Record {
                message: Some(format!("019a9e4c-7b1e-7c3a-9f7e-{i:012}")),
                dossier: (i % 3 == 0).then(|| "000.00.01.H42-261120-0001".to_string()),
                subject: (i % 2 == 0).then(|| "001203000001".to_string()),
                ..Record::new("message.accepted", "onestop.sandbox", json!({ "i": i, "digest": "ab".repeat(32) }))
            });
        }
        log.close().await;
    }

    fn keys(&self) -> Vec<PublicKey> {
        vec![signing_key(&self.config, &self.path, false).unwrap().public()]
    }

    fn file(&self) -> LogFile {
        file::open(&self.path).unwrap()
    }

    fn verify(&self) -> Result<Report, Finding> {
        self.file().verify(&self.keys(), None).unwrap()
    }

    fn sql(&self) -> Connection {
        Connection::open(&self.path).unwrap()
    }
}

const COLUMNS: [&str; 8] = ["at", "kind", "actor", "message", "dossier", "subject", "detail", "hash"];

#[tokio::test]
async fn a_closed_log_verifies_with_every_entry_sealed_and_opening_again_continues_the_chain() {
    let log = Log::new(1000);
    log.write(10).await;
    let report = log.verify().unwrap();
    // The opening entry, ten, the closing one.
    assert_eq!((report.entries, report.last, report.sealed, report.unsealed()), (12, 12, 12, 0));
    log.write(5).await;
    let report = log.verify().unwrap();
    assert_eq!((report.entries, report.sealed), (19, 19));
    let opened = log.file().search(&Search { kind: Some("log.opened".into()), ..Search::default() }, 10).unwrap();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0].detail, r#"{"closed_before":true,"unsealed_before":0}"#);
}

#[tokio::test]
async fn a_one_byte_change_anywhere_in_any_entry_is_found_at_that_entry() {
    let log = Log::new(1000);
    log.write(200).await;
    let original: Vec<Entry> = {
        let conn = log.sql();
        let mut rows =
            conn.prepare("SELECT seq, at, kind, actor, message, dossier, subject, detail, hash FROM entries").unwrap();
        rows.query_map([], file::read_entry).unwrap().map(Result::unwrap).collect()
    };
    let mut checked = 0;
    let mut rng = fastrand::Rng::with_seed(7);
    while checked < 1000 {
        let entry = &original[rng.usize(..original.len())];
        let column = COLUMNS[rng.usize(..COLUMNS.len())];
        let conn = log.sql();
        if column == "at" {
            let changed = entry.at ^ (1 << rng.u32(..40));
            conn.execute("UPDATE entries SET at = ?1 WHERE seq = ?2", params![changed, entry.seq as i64]).unwrap();
        } else {
            let text: Option<String> = conn
                .query_row(&format!("SELECT {column} FROM entries WHERE seq = ?1"), [entry.seq as i64], |r| r.get(0))
                .unwrap();
            let Some(text) = text.filter(|t| !t.is_empty()) else { continue };
            let mut bytes = text.into_bytes();
            let position = rng.usize(..bytes.len());
            // Another printable ASCII byte: the text stays a text, as an editor would leave it.
            let replaced = bytes[position];
            bytes[position] = loop {
                let b = rng.u8(b' '..=b'~');
                if b != replaced {
                    break b;
                }
            };
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            conn.execute(
                &format!("UPDATE entries SET {column} = ?1 WHERE seq = ?2"),
                params![changed, entry.seq as i64],
            )
            .unwrap();
        }
        let finding = log.verify().expect_err(&format!("a change to {column} of entry {} went unseen", entry.seq));
        assert_eq!(finding.seq, entry.seq, "{column}: {finding}");
        // Put it back.
        conn.execute(
            "UPDATE entries SET at = ?1, kind = ?2, actor = ?3, message = ?4, dossier = ?5, subject = ?6, detail = ?7, hash = ?8
             WHERE seq = ?9",
            params![
                entry.at,
                entry.kind,
                entry.actor,
                entry.message,
                entry.dossier,
                entry.subject,
                entry.detail,
                entry.hash,
                entry.seq as i64
            ],
        )
        .unwrap();
        checked += 1;
    }
    log.verify().unwrap();
}

#[tokio::test]
async fn a_deleted_entry_a_swapped_pair_and_a_truncated_tail_are_each_named() {
    let log = Log::new(1000);
    log.write(50).await;
    let conn = log.sql();

    conn.execute("DELETE FROM entries WHERE seq = 20", []).unwrap();
    let finding = log.verify().unwrap_err();
    assert_eq!(finding.seq, 20, "{finding}");
    assert!(finding.what.contains("removed"), "{finding}");
    let log = Log::new(1000);
    log.write(50).await;
    let conn = log.sql();

    // Swap the contents of two entries, keeping their places.
    let swap = "UPDATE entries SET kind = o.kind, actor = o.actor, message = o.message, dossier = o.dossier,
                subject = o.subject, detail = o.detail, hash = o.hash, at = o.at
                FROM (SELECT * FROM entries_copy) AS o WHERE entries.seq = ?1 AND o.seq = ?2";
    conn.execute_batch("CREATE TABLE entries_copy AS SELECT * FROM entries").unwrap();
    conn.execute(swap, [30, 31]).unwrap();
    conn.execute(swap, [31, 30]).unwrap();
    let finding = log.verify().unwrap_err();
    assert_eq!(finding.seq, 30, "{finding}");

    let log = Log::new(1000);
    log.write(50).await;
    let conn = log.sql();
    conn.execute("DELETE FROM entries WHERE seq > 45", []).unwrap();
    let finding = log.verify().unwrap_err();
    assert!(finding.what.contains("removed"), "{finding}");
    assert_eq!(finding.seq, 52, "the seal at shutdown covers the last entry: {finding}");
}

#[tokio::test]
async fn an_export_verifies_with_the_public_key_alone_and_any_changed_byte_of_it_fails() {
    let log = Log::new(1000);
    log.write(40).await;
    let mut export = Vec::new();
    let last = log.file().export(5, 20, &mut export, "export").unwrap();
    assert_eq!(last, 42, "carried on to the seal");
    let check = |bytes: &[u8]| file::verify_export(BufReader::new(bytes), "export", &log.keys());
    let (report, anchor, head) = check(&export).unwrap();
    let report = report.unwrap();
    assert_eq!((anchor.seq, head.seq, report.entries, report.sealed), (4, 42, 38, 42));
    assert!(check(&export).is_ok_and(|(r, ..)| r.is_ok()));
    let other = [SigningKey::generate().public()];
    assert!(file::verify_export(BufReader::new(&export[..]), "export", &other).unwrap().0.is_err());

    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..1000 {
        let mut changed = export.clone();
        let position = rng.usize(..changed.len());
        let replaced = changed[position];
        changed[position] = loop {
            let b = rng.u8(b' '..=b'~');
            if b != replaced {
                break b;
            }
        };
        let failed = match check(&changed) {
            Ok((report, ..)) => report.is_err(),
            Err(_) => true, // no longer a valid line
        };
        assert!(failed, "a change at byte {position} went unseen");
    }
}

#[tokio::test]
async fn archiving_keeps_the_chain_verifiable_across_the_archive_and_the_log() {
    let log = Log::new(1000);
    log.write(30).await;
    log.write(30).await;
    let folder = log.config.archive_folder(&log.path);
    let (archive, first, last) = log.file().archive(i64::MAX, &folder).unwrap().unwrap();
    assert_eq!((first, last), (1, 64));
    assert_eq!(log.file().archive(i64::MAX, &folder).unwrap(), None, "nothing more is sealed");
    let (report, anchor, head) =
        file::verify_export(BufReader::new(std::fs::File::open(&archive).unwrap()), "archive", &log.keys()).unwrap();
    assert_eq!((anchor, report.unwrap().entries), (Anchor::GENESIS, 64));
    assert_eq!(log.file().anchor().unwrap(), head);
    log.write(10).await;
    let report = log.verify().unwrap();
    assert_eq!((report.entries, report.last), (12, 76));
    // The anchor is checked by the entries that follow it.
    log.sql().execute("UPDATE anchor SET hash = ?1", [hex::encode([7u8; 32])]).unwrap();
    assert_eq!(log.verify().unwrap_err().seq, 65);
}

#[tokio::test]
async fn a_full_queue_loses_entries_without_waiting_and_the_chain_says_how_many() {
    let log = Log::new(8);
    let writer = log.open();
    for i in 0..20_000 {
        writer.record(Record::new("message.accepted", "onestop.sandbox", json!({ "i": i })));
    }
    writer.close().await;
    let gaps = log.file().search(&Search { kind: Some("log.gap".into()), ..Search::default() }, 1000).unwrap();
    let lost: u64 =
        gaps.iter().map(|g| serde_json::from_str::<Value>(&g.detail).unwrap()["lost"].as_u64().unwrap()).sum();
    let kept =
        log.file().search(&Search { kind: Some("message.accepted".into()), ..Search::default() }, 100_000).unwrap();
    // Had recording waited for room, nothing would have been lost.
    assert!(lost > 0, "a queue of 8 cannot take 20,000 at once");
    assert_eq!(kept.len() as u64 + lost, 20_000, "every record is written or counted as lost");
    log.verify().unwrap();
}

#[tokio::test]
async fn a_log_whose_bus_was_killed_is_sealed_when_it_opens_again_and_says_so() {
    let log = Log::new(1000);
    log.write(3).await;
    // What a kill leaves: no closing entry, entries after the last seal.
    log.sql().execute_batch("DELETE FROM entries WHERE kind = 'log.closed'; DELETE FROM seals").unwrap();
    let report = log.verify().unwrap();
    assert_eq!(report.unsealed(), 4);
    log.write(0).await;
    let report = log.verify().unwrap();
    assert_eq!(report.unsealed(), 0);
    let opened = log.file().search(&Search { kind: Some("log.opened".into()), ..Search::default() }, 1).unwrap();
    assert_eq!(opened[0].detail, r#"{"closed_before":false,"unsealed_before":4}"#);
}

#[tokio::test]
async fn after_a_kill_the_accepted_messages_the_log_had_not_written_are_recovered_from_the_store() {
    use crate::store::{Accepted, Store};
    let log = Log::new(1000);
    let store = Store::open(&log.store.sqlite_path().unwrap()).unwrap();
    let envelopes: Vec<Arc<Envelope>> = (1..=5)
        .map(|seq| {
            let value = crate::testing::status_changed("000.00.01.H42-261120-0001", seq, 2);
            Arc::new(serde_json::from_value::<Envelope>(value).unwrap())
        })
        .collect();
    let now = crate::now_ms();
    let accepted = envelopes.iter().map(|envelope| Accepted {
        envelope: envelope.clone(),
        digest: envelope.digest(),
        routing_key: "dossier.status_changed.42".into(),
        accepted_at: now,
        adapters: vec![],
        routing: json!({}),
        competent_agency: None,
        documents_reuse: None,
    });
    store.record_accepted(accepted.collect()).await.unwrap();
    // The bus wrote the first two before it was killed; the other three were still queued.
    let writer = log.open();
    for envelope in &envelopes[..2] {
        writer.accepted(envelope, &envelope.digest(), "dossier.status_changed.42");
    }
    writer.close().await;
    drop(writer);
    log.sql().execute_batch("DELETE FROM entries WHERE kind = 'log.closed'; DELETE FROM seals").unwrap();

    let reopened = log.open();
    reopened.recover(&store).await;
    reopened.close().await;
    let search = Search { kind: Some("message.accepted".into()), ..Search::default() };
    let found = log.file().search(&search, 100).unwrap();
    let recovered: Vec<&Entry> = found.iter().filter(|e| e.detail.contains(r#""recovered":true"#)).collect();
    assert_eq!((found.len(), recovered.len()), (5, 3));
    let ids: BTreeSet<_> = found.iter().filter_map(|e| e.message.clone()).collect();
    assert_eq!(ids, envelopes.iter().map(|e| e.id.to_string()).collect::<BTreeSet<_>>());
    log.verify().unwrap();

    // A log closed cleanly recovers nothing.
    let again = log.open();
    again.recover(&store).await;
    again.close().await;
    assert_eq!(log.file().search(&search, 100).unwrap().len(), 5);
}
