//! The message log: the signed record of every exchange, as evidence.
//!
//! One entry for every accepted message, every delivery outcome, every refusal (401, 403,
//! 422: who and why), every lookup of personal data, every operator action and every change
//! of members and rights. Entries are hash-chained and the chain's head is signed (see
//! [`chain`]); `lgsp audit verify` names the first entry altered, removed, inserted or moved.
//!
//! It never halts traffic: recording only queues (bounded); its own thread writes to its own
//! SQLite file. If it falls behind or its disk fails, `/readyz`, `lgsp_audit_*` metrics and the
//! log say so, the chain records how many entries were lost, and messages flow on.

pub mod chain;
pub mod file;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

pub use chain::{Anchor, Entry, Finding, Report, Seal};
pub use file::{LogFile, LogFileError, Search, verify_export};

use crate::auth::keys::{KeyError, SigningKey};
use crate::config::{AuditConfig, ConfigProblem, StoreConfig};
use crate::envelope::Envelope;
use crate::store::{LookupRecord, Store};
use crate::{events, now_ms};

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Config(ConfigProblem),
    #[error(transparent)]
    File(#[from] LogFileError),
    #[error("{0}: {1}")]
    Key(&'static str, KeyError),
    #[error(
        "no message-log key: set audit.signing_key_file or LGSP__AUDIT__SIGNING_KEY (the bus makes {0} at its first start)"
    )]
    NoKey(PathBuf),
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct Record {
    pub at: i64,
    pub kind: &'static str,
    pub actor: String,
    pub message: Option<String>,
    pub dossier: Option<String>,
    pub subject: Option<String>,
    pub detail: Value,
}

impl Record {
    pub fn new(kind: &'static str, actor: &str, detail: Value) -> Record {
        Record { at: now_ms(), kind, actor: actor.to_string(), message: None, dossier: None, subject: None, detail }
    }
}

enum Command {
    Record(Box<Record>),
    Close(tokio::sync::oneshot::Sender<()>),
}

struct Shared {
    sender: SyncSender<Command>,
    capacity: usize,
    /// Taken from the queue not yet.
    pending: AtomicUsize,
    /// Lost since the last gap entry.
    dropped: AtomicU64,
    /// The last write failed.
    failing: AtomicBool,
    keep_payloads: bool,
    /// The bus before did not stop cleanly: entries it had queued may be missing.
    unclean: bool,
    path: PathBuf,
    /// Counts the writer's attempts, committed or failed: something to wait on.
    attempts: tokio::sync::watch::Sender<u64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The log's state, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogHealth {
    /// Keeping up.
    Ok,
    /// More than half its queue waits, or entries were lost: the chain will say how many.
    Behind,
    /// Its last write failed; it tries again while entries wait (bounded).
    Failing,
    /// Not kept (`audit.enabled = false`).
    Off,
}

/// The handle every part of the bus records through; cheap to clone.
#[derive(Clone)]
pub struct MessageLog(Option<Arc<Shared>>);

impl MessageLog {
    /// Opens (or creates) the log of `config` and starts its writer.
    pub fn open(config: &AuditConfig, store: &StoreConfig) -> Result<MessageLog, AuditError> {
        if !config.enabled {
            return Ok(MessageLog::off());
        }
        let path = config.path(store).map_err(AuditError::Config)?;
        let key = signing_key(config, &path, true)?;
        let conn = file::open_for_writing(&path)?;
        let opening =
            file::opening(&conn).map_err(|source| LogFileError::Sqlite { path: path.display().to_string(), source })?;
        let (sender, commands) = std::sync::mpsc::sync_channel(config.queue);
        let shared = Arc::new(Shared {
            sender,
            capacity: config.queue,
            pending: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            keep_payloads: config.keep_payloads,
            unclean: !opening.clean,
            path: path.clone(),
            attempts: tokio::sync::watch::channel(0).0,
            writer: Mutex::new(None),
        });
        let writer = writer::Writer {
            conn,
            archive: config.archive_folder(&path),
            path,
            key,
            sign_every: config.sign_every,
            keep: config.keep,
            head: opening.head,
            sealed: opening.sealed,
            clean: opening.clean,
        };
        *shared.writer.lock().expect("not poisoned") = Some(writer::spawn(writer, commands, shared.clone()));
        Ok(MessageLog(Some(shared)))
    }

    /// A log that keeps nothing.
    pub fn off() -> MessageLog {
        MessageLog(None)
    }

    /// Queues `record`; never waits. A full queue loses it, and the chain says so.
    pub fn record(&self, record: Record) {
        let Some(shared) = &self.0 else { return };
        shared.pending.fetch_add(1, Ordering::Relaxed);
        match shared.sender.try_send(Command::Record(Box::new(record))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                shared.pending.fetch_sub(1, Ordering::Relaxed);
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                events::audit_dropped();
            }
        }
    }

    /// The log's file, unless it is off.
    pub fn path(&self) -> Option<&Path> {
        self.0.as_ref().map(|shared| shared.path.as_path())
    }

    /// Changes after each write the writer tried, whether it committed or failed.
    pub fn attempts(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.0.as_ref().map(|shared| shared.attempts.subscribe())
    }

    pub fn health(&self) -> LogHealth {
        let Some(shared) = &self.0 else { return LogHealth::Off };
        if shared.failing.load(Ordering::Relaxed) {
            LogHealth::Failing
        } else if shared.pending.load(Ordering::Relaxed) > shared.capacity / 2
            || shared.dropped.load(Ordering::Relaxed) > 0
        {
            LogHealth::Behind
        } else {
            LogHealth::Ok
        }
    }

    /// Writes what waits and seals the head; the bus calls it when it stops.
    pub async fn close(&self) {
        let Some(shared) = &self.0 else { return };
        let (done, closed) = tokio::sync::oneshot::channel();
        // Blocks only if the queue is full, and then only until the writer takes one.
        let sender = shared.sender.clone();
        let sent = tokio::task::spawn_blocking(move || sender.send(Command::Close(done)).is_ok()).await;
        if matches!(sent, Ok(true)) {
            let _ = closed.await;
        }
    }

    /// After a bus that did not close the log (it was killed): records, from the store, the messages it accepted whose
    /// entries were still queued when it died (`"recovered": true`). Delivery outcomes queued
    /// then are not recovered: the store keeps each delivery's final state.
    pub async fn recover(&self, store: &Store) {
        let Some(shared) = self.0.as_ref().filter(|shared| shared.unclean) else { return };
        let path = shared.path.clone();
        let recent = tokio::task::spawn_blocking(move || file::open(&path)?.recent_accepted(RECOVERY_WINDOW_MS))
            .await
            .map_err(|e| e.to_string())
            .and_then(|recent| recent.map_err(|e| e.to_string()));
        let (last, logged) = match recent {
            Ok(Some(recent)) => recent,
            Ok(None) => return,
            Err(e) => return events::audit_recovery_failed(&e),
        };
        let accepted = match store.accepted_since(last - RECOVERY_WINDOW_MS, RECOVERY_LIMIT).await {
            Ok(accepted) => accepted,
            Err(e) => return events::audit_recovery_failed(&e),
        };
        let mut recovered = 0;
        for message in accepted.into_iter().filter(|m| !logged.contains(&m.id)) {
            let detail = json!({
                "type": message.message_type, "seq": message.seq, "digest": message.digest,
                "routing_key": message.routing_key, "recovered": true,
            });
            self.record(Record {
                at: message.accepted_at,
                message: Some(message.id),
                subject: Some(message.subject),
                ..Record::new("message.accepted", &message.source, detail)
            });
            recovered += 1;
        }
        events::audit_recovered(recovered);
    }

    // What the bus records, one function per kind of entry.

    /// A message the broker confirmed.
    pub fn accepted(&self, envelope: &Envelope, digest: &str, routing_key: &str) {
        let mut detail = json!({
            "type": envelope.message_type, "seq": envelope.seq, "digest": digest, "routing_key": routing_key,
        });
        if self.0.as_ref().is_some_and(|s| s.keep_payloads) {
            detail["payload"] = envelope.payload.clone();
        }
        self.record(Record {
            message: Some(envelope.id.to_string()),
            ..about(envelope, Record::new("message.accepted", &envelope.source, detail))
        });
    }

    /// What became of one delivery to an adapter's peer, with the digest of the peer's answer.
    pub fn delivery(
        &self,
        adapter: &str,
        envelope: &Envelope,
        attempt: u32,
        result: &str,
        answer_digest: Option<String>,
    ) {
        let detail =
            json!({ "adapter": adapter, "attempt": attempt, "result": result, "answer_digest": answer_digest });
        self.record(Record {
            message: Some(envelope.id.to_string()),
            ..about(envelope, Record::new("message.delivery", adapter, detail))
        });
    }

    /// A request refused: who (or `anonymous` and from where), what, and why.
    pub fn refused(&self, refusal: Refusal<'_>) {
        let detail = json!({
            "status": refusal.status, "method": refusal.method, "path": refusal.path,
            "problem": refusal.problem, "detail": refusal.detail, "peer": refusal.peer,
        });
        self.record(Record {
            message: refusal.message.map(String::from),
            ..Record::new("request.refused", refusal.actor, detail)
        });
    }

    /// A lookup of personal data: who, whose data, for which dossier, which fields asked and
    /// returned.
    pub fn lookup(&self, lookup: &LookupRecord) {
        let detail = json!({
            "lookup": lookup.id, "service": lookup.service, "fields": lookup.fields,
            "returned": lookup.returned, "outcome": lookup.outcome,
        });
        self.record(Record {
            dossier: Some(lookup.dossier_code.clone()),
            subject: Some(lookup.subject.clone()),
            ..Record::new("lookup", &lookup.member, detail)
        });
    }

    /// Something an operator did, or a change of members and rights (`directory.change`).
    pub fn operator_action(&self, kind: &'static str, operator: &str, action: &str, detail: Value) {
        self.record(Record::new(kind, operator, json!({ "action": action, "detail": detail })));
    }
}

/// How far before the last entry a killed bus's missing entries are looked for: the writer
/// commits within milliseconds, so what it lost is seconds old at most.
const RECOVERY_WINDOW_MS: i64 = 60_000;
/// Most messages recovered at one start.
const RECOVERY_LIMIT: usize = 100_000;

/// The facts of a refused request.
pub struct Refusal<'a> {
    pub actor: &'a str,
    pub status: u16,
    pub method: &'a str,
    pub path: &'a str,
    /// The problem's type slug.
    pub problem: &'a str,
    pub detail: &'a str,
    pub peer: Option<String>,
    pub message: Option<&'a str>,
}

/// A record about `envelope`'s dossier and subject.
fn about(envelope: &Envelope, record: Record) -> Record {
    let dossier = envelope.payload.get("dossier_code").and_then(Value::as_str).map(String::from);
    Record { dossier, subject: Some(envelope.subject.clone()), ..record }
}

/// The log's key: from the environment, from `signing_key_file`, or kept beside the log
/// (made there when `create` and missing).
pub fn signing_key(config: &AuditConfig, log: &Path, create: bool) -> Result<SigningKey, AuditError> {
    if let Some(pem) = &config.signing_key {
        return SigningKey::from_pem(pem.expose()).map_err(|e| AuditError::Key("audit.signing_key", e));
    }
    if let Some(file) = &config.signing_key_file {
        return SigningKey::from_file(file).map_err(|e| AuditError::Key("audit.signing_key_file", e));
    }
    let beside = key_beside(log);
    if beside.exists() || !create {
        return if beside.exists() {
            SigningKey::from_file(&beside).map_err(|e| AuditError::Key("the message log's key", e))
        } else {
            Err(AuditError::NoKey(beside))
        };
    }
    events::audit_key_made(&beside);
    SigningKey::from_file_or_new(&beside).map_err(|e| AuditError::Key("the message log's key", e))
}

/// `<log>.key`.
pub fn key_beside(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}
