//! The store: message states, dedup keys, the newest `seq` per subject and adapter, and the
//! dossier projection, in one SQLite file (WAL).
//!
//! Every write goes through one writer thread that commits whatever is waiting as one
//! transaction (group commit), so the store keeps up with the broker; callers await their own
//! write's commit. Reads use a small pool of their own connections and never wait on writes.

mod dead_letters;
mod messages;
mod migrations;
mod monitoring;
mod registrations;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::config::{MemberConfig, OperatorConfig};
use crate::envelope::Envelope;
pub use dead_letters::{DeadLetterFilter, DeadLetterRecord, DeadLetterState, DeadLetterView};
pub use messages::{MessageFilter, MessageRow};
pub use registrations::{Registration, RegistrationState};

// The write vocabulary: what callers hand the writer, and how they hear it was committed.

/// A message the broker confirmed.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub envelope: Arc<Envelope>,
    pub digest: String,
    pub routing_key: String,
    /// Unix milliseconds.
    pub accepted_at: i64,
    /// The adapters whose routes match: each gets a pending delivery.
    pub adapters: Vec<String>,
    /// Where it was routed, and why.
    pub routing: serde_json::Value,
    /// For a dossier.submitted: the agency competent for it.
    pub competent_agency: Option<String>,
    /// For a dossier.submitted: `{required, reusable}`, the papers its procedure needs and those
    /// already on file.
    pub documents_reuse: Option<serde_json::Value>,
}

/// One lookup of a registry or of documents on file: who asked, whose data, for which dossier.
#[derive(Debug, Clone)]
pub struct LookupRecord {
    /// The lookup's id, also given to the peer (its request id) where it takes one.
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    pub member: String,
    pub service: String,
    pub dossier_code: String,
    /// Whose data: a CCCD or an MST.
    pub subject: String,
    /// The parts asked for.
    pub fields: Vec<String>,
    /// The parts the answer held.
    pub returned: Vec<String>,
    /// How it ended: the reply's result, or refused / unavailable / timeout.
    pub outcome: String,
}

/// What became of one delivery.
#[derive(Debug, Clone)]
pub struct OutcomeRecord {
    pub message_id: String,
    pub adapter: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
    /// (type, subject, seq) this delivery brought the adapter to, when it delivered state.
    pub newest_seq: Option<(String, String, u64)>,
}

/// One write, committed with whatever else is waiting.
pub(super) enum Write {
    Accepted(Vec<Accepted>),
    Outcomes(Vec<OutcomeRecord>),
    Lookup(LookupRecord),
    /// The dead-letter archive.
    DeadLetters(DeadLetterChange),
    /// A member or an operator added, changed or removed.
    Directory(DirectoryChange),
    Registration(registrations::Change),
    /// One key of an adapter's memory.
    Remember {
        adapter: String,
        key: String,
        value: String,
    },
}

/// A write and who waits for its commit.
pub(super) struct Command {
    pub write: Write,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

/// A write to the archive, committed by the store's writer with everything else. `changed`
/// says, once committed, whether a claim or a purge took.
pub(super) enum DeadLetterChange {
    Archive(Vec<DeadLetterRecord>),
    /// `adapter`'s row, to be delivered to `to` (itself, or another adapter).
    ClaimReplay {
        message_id: String,
        adapter: String,
        to: String,
        at: i64,
        changed: Arc<AtomicBool>,
    },
    Replayed {
        message_id: String,
        adapter: String,
    },
    Purge {
        message_id: String,
        adapter: String,
        at: i64,
        changed: Arc<AtomicBool>,
    },
}

/// A change of the directory: `Seed` from the config (it replaces only what the config set
/// before), `Put` and `Remove` by an admin.
#[derive(Debug, Clone)]
pub enum DirectoryChange {
    SeedMember(String, MemberConfig),
    PutMember(String, MemberConfig),
    RemoveMember(String),
    SeedOperator(String, OperatorConfig),
    PutOperator(String, OperatorConfig),
    RemoveOperator(String),
    /// Removes the members and operators the config once set and no longer names (those an
    /// admin set through the API stay).
    ForgetUnconfigured {
        members: Vec<String>,
        operators: Vec<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: cannot create {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("store: the writer has stopped")]
    WriterGone,
}

/// Where a message stands for one adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Published; the adapter has not handled it yet.
    Accepted,
    Delivered,
    /// Failed transiently; waiting in a retry tier.
    Retrying,
    /// A newer `seq` of the same (type, subject) was delivered first, or was accepted while this
    /// one waited for another try; not sent.
    Superseded,
    DeadLettered,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Superseded => "superseded",
            Self::DeadLettered => "dead_lettered",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "delivered" => Self::Delivered,
            "retrying" => Self::Retrying,
            "superseded" => Self::Superseded,
            "dead_lettered" => Self::DeadLettered,
            _ => Self::Accepted,
        }
    }

    /// Nothing more will be done for this delivery: a redelivered copy is a duplicate.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Superseded | Self::DeadLettered)
    }
}

/// What the engine needs to know about one message before handing it to an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCheck {
    pub state: Option<DeliveryState>,
    /// The newest seq of this (type, subject) this adapter has received.
    pub last_seq: Option<u64>,
    /// For a second try: the newest seq of this (type, subject) accepted for this adapter and
    /// not dead-lettered (delivered, or on its way).
    pub newest_accepted: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub source: String,
    pub subject: String,
    pub seq: u64,
    pub accepted_at: i64,
    pub routing_key: String,
    /// Where it was routed, and why.
    pub routing: serde_json::Value,
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub adapter: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DossierView {
    pub dossier_code: String,
    pub status: Option<i64>,
    pub seq: Option<u64>,
    pub procedure_code: Option<String>,
    pub agency_code: Option<String>,
    pub received_at: Option<String>,
    pub due_at: Option<String>,
    pub completed_at: Option<String>,
    pub message_id: String,
    pub updated_at: i64,
    /// The agency competent for it (where the bus routed it).
    pub competent_agency: Option<String>,
    /// The latest payment.status.
    pub payment: Option<serde_json::Value>,
    /// The latest postal.shipment_status.
    pub postal: Option<serde_json::Value>,
}

#[derive(Clone)]
pub struct Store {
    writes: mpsc::Sender<Command>,
    /// Bumped after every commit, for whoever waits for a state to be recorded.
    commits: tokio::sync::watch::Receiver<u64>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<PathBuf>,
}

impl Store {
    /// Opens (or creates) the SQLite file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::Folder { path: parent.to_path_buf(), source })?;
        }
        let mut conn = connect(path)?;
        migrations::run(&mut conn)?;
        let (writes, commits) = writer::spawn(conn, connect(path)?);
        Ok(Store { writes, commits, readers: Arc::default(), path: Arc::new(path.to_path_buf()) })
    }

    /// Changes after every commit: wait on it, then read, instead of polling.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.clone()
    }

    /// Records messages the broker confirmed, the adapters each is for, and their projection.
    pub async fn record_accepted(&self, accepted: Vec<Accepted>) -> Result<(), StoreError> {
        if accepted.is_empty() {
            return Ok(());
        }
        self.write(Write::Accepted(accepted)).await
    }

    /// Records what became of a batch of deliveries, in one transaction.
    pub async fn record_outcomes(&self, outcomes: Vec<OutcomeRecord>) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.write(Write::Outcomes(outcomes)).await
    }

    /// Records a lookup for the audit: who asked, whose data, for which dossier, which parts.
    pub async fn record_lookup(&self, lookup: LookupRecord) -> Result<(), StoreError> {
        self.write(Write::Lookup(lookup)).await
    }

    /// Remembers one key of an adapter's own memory.
    pub async fn remember(&self, adapter: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let write = Write::Remember { adapter: adapter.into(), key: key.into(), value: value.into() };
        self.write(write).await
    }

    pub async fn recall(&self, adapter: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT value FROM adapter_memory WHERE adapter = ?1 AND key = ?2")?
                .query_row([adapter, key], |row| row.get(0))
                .optional()
        })
        .await
    }

    /// Whether the store itself keeps messages of this type (so they are worth accepting even
    /// when no adapter receives them).
    pub fn indexes(message_type: &str) -> bool {
        writer::INDEXED.contains(&message_type)
    }

    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.writes.send(Command { write, done }).await.map_err(|_| StoreError::WriterGone)?;
        committed.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs a read on a pooled connection of its own, on the calling thread: every read here
    /// is a lookup by primary key (microseconds), cheaper than a hand-off to another thread.
    /// WAL readers never wait for the writer.
    async fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().expect("reader pool").pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        // One read transaction for all the lookups: one snapshot, one lock.
        let result = conn.unchecked_transaction().and_then(|tx| {
            let found = query(&tx)?;
            tx.commit()?;
            Ok(found)
        });
        self.readers.lock().expect("reader pool").push(conn);
        Ok(result?)
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    /// The digest of each message already accepted under these ids (`None` for a new id).
    pub async fn known_digests(&self, ids: &[uuid::Uuid]) -> Result<Vec<Option<String>>, StoreError> {
        self.read(|conn| {
            let mut select = conn.prepare_cached("SELECT digest FROM messages WHERE id = ?1")?;
            ids.iter().map(|id| select.query_row([id.to_string()], |row| row.get(0)).optional()).collect()
        })
        .await
    }

    /// For each envelope: where it stands for `adapter`, the newest seq of its (type, subject)
    /// delivered, and for those marked as a second try, the newest accepted.
    pub async fn delivery_checks(
        &self,
        adapter: &str,
        envelopes: Vec<(Arc<Envelope>, bool)>,
    ) -> Result<Vec<DeliveryCheck>, StoreError> {
        let adapter = adapter.to_string();
        self.read(move |conn| {
            let mut state =
                conn.prepare_cached("SELECT state FROM deliveries WHERE message_id = ?1 AND adapter = ?2")?;
            let mut seq =
                conn.prepare_cached("SELECT seq FROM subject_seq WHERE adapter = ?1 AND type = ?2 AND subject = ?3")?;
            let mut accepted = conn.prepare_cached(
                "SELECT max(m.seq) FROM messages m JOIN deliveries d ON d.message_id = m.id AND d.adapter = ?1
                 WHERE m.type = ?2 AND m.subject = ?3 AND d.state != 'dead_lettered'",
            )?;
            let mut seqs: HashMap<(&str, &str), Option<u64>> = HashMap::new();
            let mut newest: HashMap<(&str, &str), Option<u64>> = HashMap::new();
            let mut checks = Vec::with_capacity(envelopes.len());
            for (envelope, second_try) in &envelopes {
                let state = state
                    .query_row(params![envelope.id.to_string(), adapter], |row| row.get::<_, String>(0))
                    .optional()?
                    .map(|s| DeliveryState::parse(&s));
                let key = (envelope.message_type.as_str(), envelope.subject.as_str());
                let last_seq = match seqs.get(&key) {
                    Some(known) => *known,
                    None => {
                        let found = seq
                            .query_row(params![adapter, key.0, key.1], |row| row.get::<_, i64>(0))
                            .optional()?
                            .map(|s| s as u64);
                        seqs.insert(key, found);
                        found
                    }
                };
                let newest_accepted = match (second_try, newest.get(&key)) {
                    (false, _) => None,
                    (true, Some(known)) => *known,
                    (true, None) => {
                        let found = accepted
                            .query_row(params![adapter, key.0, key.1], |row| row.get::<_, Option<i64>>(0))?
                            .map(|s| s as u64);
                        newest.insert(key, found);
                        found
                    }
                };
                checks.push(DeliveryCheck { state, last_seq, newest_accepted });
            }
            Ok(checks)
        })
        .await
    }

    pub async fn message(&self, id: uuid::Uuid) -> Result<Option<MessageView>, StoreError> {
        self.read(move |conn| {
            let id = id.to_string();
            let Some(mut message) = conn
                .prepare_cached(
                    "SELECT id, type, source, subject, seq, accepted_at, routing_key, routing FROM messages WHERE id = ?1",
                )?
                .query_row([&id], |row| {
                    Ok(MessageView {
                        id: row.get(0)?,
                        message_type: row.get(1)?,
                        source: row.get(2)?,
                        subject: row.get(3)?,
                        seq: row.get::<_, i64>(4)? as u64,
                        accepted_at: row.get(5)?,
                        routing_key: row.get(6)?,
                        routing: row
                            .get::<_, Option<String>>(7)?
                            .and_then(|text| serde_json::from_str(&text).ok())
                            .unwrap_or_default(),
                        deliveries: Vec::new(),
                    })
                })
                .optional()?
            else {
                return Ok(None);
            };
            message.deliveries = conn
                .prepare_cached(
                    "SELECT adapter, state, attempts, last_error, updated_at FROM deliveries
                     WHERE message_id = ?1 ORDER BY adapter",
                )?
                .query_map([&id], |row| {
                    Ok(DeliveryView {
                        adapter: row.get(0)?,
                        state: DeliveryState::parse(&row.get::<_, String>(1)?),
                        attempts: row.get(2)?,
                        last_error: row.get(3)?,
                        updated_at: row.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(message))
        })
        .await
    }

    pub async fn dossier(&self, code: String) -> Result<Option<DossierView>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT code, status, seq, procedure_code, agency_code, received_at, due_at, completed_at,
                        message_id, updated_at, competent_agency, payment, postal
                 FROM dossiers WHERE code = ?1",
            )?
            .query_row([code], |row| {
                Ok(DossierView {
                    dossier_code: row.get(0)?,
                    status: row.get(1)?,
                    seq: row.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                    procedure_code: row.get(3)?,
                    agency_code: row.get(4)?,
                    received_at: row.get(5)?,
                    due_at: row.get(6)?,
                    completed_at: row.get(7)?,
                    message_id: row.get(8)?,
                    updated_at: row.get(9)?,
                    competent_agency: row.get(10)?,
                    payment: json_column::<serde_json::Value>(row.get(11)?).map(|p| p["status"].clone()),
                    postal: json_column::<serde_json::Value>(row.get(12)?).map(|p| p["status"].clone()),
                })
            })
            .optional()
        })
        .await
    }
}

/// See [`Store::dossier_brief`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierBrief {
    pub competent_agency: Option<String>,
    pub status: Option<i64>,
    /// The agency handling it, as its messages say.
    pub agency_code: Option<String>,
    pub procedure_code: Option<String>,
}

/// A document on file, as `documents.lookup` answers it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DocumentView {
    #[serde(rename = "type")]
    pub document_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub number: String,
    pub issuer: String,
    pub issued_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub file_url: String,
    pub sha256: String,
    pub dossier_code: String,
}

/// What a submitted dossier could have reused.
#[derive(Debug, Clone, Serialize)]
pub struct ReuseView {
    /// The document types its procedure needs.
    pub required: Vec<String>,
    /// The ones on file when it was received: `{type, number, issuer, dossier_code}`.
    pub reusable: Vec<serde_json::Value>,
}

/// Reuse over a period, overall and per procedure.
#[derive(Debug, Clone, Serialize)]
pub struct ReuseCount {
    pub procedure_code: Option<String>,
    pub dossiers: u64,
    pub with_reusable_documents: u64,
}

/// One lookup, as the audit shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LookupView {
    pub id: String,
    pub at: i64,
    pub member: String,
    pub service: String,
    pub dossier_code: String,
    pub subject: String,
    pub fields: Vec<String>,
    pub returned: Vec<String>,
    pub outcome: String,
}

fn json_column<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
    text.and_then(|text| serde_json::from_str(&text).ok())
}

/// A message as accepted, for the message log to recover what it missed.
#[derive(Debug, Clone)]
pub struct AcceptedBrief {
    pub id: String,
    pub message_type: String,
    pub source: String,
    pub subject: String,
    pub seq: u64,
    pub digest: String,
    pub routing_key: String,
    pub accepted_at: i64,
}

impl Store {
    /// Messages accepted at or after `since` (Unix ms), oldest first, at most `limit`.
    pub async fn accepted_since(&self, since: i64, limit: usize) -> Result<Vec<AcceptedBrief>, StoreError> {
        self.read(move |conn| {
            let mut select = conn.prepare_cached(
                "SELECT id, type, source, subject, seq, digest, routing_key, accepted_at FROM messages
                 WHERE accepted_at >= ?1 ORDER BY accepted_at LIMIT ?2",
            )?;
            let rows = select.query_map(params![since, limit as i64], |row| {
                Ok(AcceptedBrief {
                    id: row.get(0)?,
                    message_type: row.get(1)?,
                    source: row.get(2)?,
                    subject: row.get(3)?,
                    seq: row.get::<_, i64>(4)? as u64,
                    digest: row.get(5)?,
                    routing_key: row.get(6)?,
                    accepted_at: row.get(7)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// What ingress needs to know of a dossier: the agency the bus routed it to, and its
    /// latest status. `None` for a dossier the bus has not seen.
    pub async fn dossier_brief(&self, dossier_code: &str) -> Result<Option<DossierBrief>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT competent_agency, status, agency_code, procedure_code FROM dossiers WHERE code = ?1",
            )?
            .query_row([dossier_code], |row| {
                Ok(DossierBrief {
                    competent_agency: row.get(0)?,
                    status: row.get(1)?,
                    agency_code: row.get(2)?,
                    procedure_code: row.get(3)?,
                })
            })
            .optional()
        })
        .await
    }

    /// Of the document `types`, the newest on file for a holder valid on `valid_on`: `{type,
    /// number, issuer, dossier_code}` each.
    pub async fn reusable(
        &self,
        holder_kind: &str,
        holder_id: &str,
        types: &[String],
        valid_on: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.documents(holder_kind, holder_id, types, valid_on).await?;
        let mut newest: Vec<serde_json::Value> = Vec::new();
        for kind in types {
            // Documents come newest first.
            if let Some(d) = found.iter().find(|d| &d.document_type == kind) {
                newest.push(serde_json::json!({"type": kind, "number": d.number, "issuer": d.issuer,
                                               "dossier_code": d.dossier_code}));
            }
        }
        Ok(newest)
    }

    /// Documents on file for a holder, valid on `valid_on` (YYYY-MM-DD), of the given types (all
    /// when empty), newest first.
    pub async fn documents(
        &self,
        holder_kind: &str,
        holder_id: &str,
        types: &[String],
        valid_on: &str,
    ) -> Result<Vec<DocumentView>, StoreError> {
        self.read(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT type, name, number, issuer, issued_on, valid_until, file_url, sha256, dossier_code
                 FROM documents WHERE holder_kind = ?1 AND holder_id = ?2 AND issued_on <= ?3
                   AND (valid_until IS NULL OR valid_until >= ?3)
                 ORDER BY issued_on DESC, type",
            )?;
            let rows = select.query_map(params![holder_kind, holder_id, valid_on], |row| {
                Ok(DocumentView {
                    document_type: row.get(0)?,
                    name: row.get(1)?,
                    number: row.get(2)?,
                    issuer: row.get(3)?,
                    issued_on: row.get(4)?,
                    valid_until: row.get(5)?,
                    file_url: row.get(6)?,
                    sha256: row.get(7)?,
                    dossier_code: row.get(8)?,
                })
            })?;
            let all: Vec<DocumentView> = rows.collect::<rusqlite::Result<_>>()?;
            Ok(all.into_iter().filter(|d| types.is_empty() || types.contains(&d.document_type)).collect())
        })
        .await
    }

    pub async fn reuse(&self, dossier_code: &str) -> Result<Option<ReuseView>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT required, reusable FROM dossier_reuse WHERE dossier_code = ?1")?
                .query_row([dossier_code], |row| {
                    let (required, reusable): (String, String) = (row.get(0)?, row.get(1)?);
                    Ok(ReuseView {
                        required: serde_json::from_str(&required).unwrap_or_default(),
                        reusable: serde_json::from_str(&reusable).unwrap_or_default(),
                    })
                })
                .optional()
        })
        .await
    }

    /// Dossiers received from `from` to `to` (YYYY-MM-DD, both included): in all (first) and
    /// per procedure, and how many of them had at least one reusable document.
    pub async fn reuse_report(&self, from: &str, to: &str) -> Result<Vec<ReuseCount>, StoreError> {
        self.read(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT procedure_code, COUNT(*), SUM(reusable_count > 0) FROM dossier_reuse
                 WHERE received_on BETWEEN ?1 AND ?2 GROUP BY procedure_code ORDER BY procedure_code",
            )?;
            let rows = select.query_map(params![from, to], |row| {
                Ok(ReuseCount {
                    procedure_code: row.get(0)?,
                    dossiers: row.get::<_, i64>(1)? as u64,
                    with_reusable_documents: row.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                })
            })?;
            let per_procedure: Vec<ReuseCount> = rows.collect::<rusqlite::Result<_>>()?;
            let total = ReuseCount {
                procedure_code: None,
                dossiers: per_procedure.iter().map(|c| c.dossiers).sum(),
                with_reusable_documents: per_procedure.iter().map(|c| c.with_reusable_documents).sum(),
            };
            Ok(std::iter::once(total).chain(per_procedure).collect())
        })
        .await
    }

    /// Lookups made for a dossier, or of a subject's data, newest first.
    /// Lookups, newest first: of a dossier, about a subject, by a member (each when given).
    pub async fn lookups(
        &self,
        dossier_code: Option<&str>,
        subject: Option<&str>,
        member: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LookupView>, StoreError> {
        self.read(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT id, at, member, service, dossier_code, subject, fields, returned, outcome FROM lookups
                 WHERE (?1 IS NULL OR dossier_code = ?1) AND (?2 IS NULL OR subject = ?2) AND (?3 IS NULL OR member = ?3)
                 ORDER BY at DESC, id DESC LIMIT ?4",
            )?;
            let rows = select.query_map(params![dossier_code, subject, member, limit], |row| {
                let list = |text: String| serde_json::from_str(&text).unwrap_or_default();
                Ok(LookupView {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    member: row.get(2)?,
                    service: row.get(3)?,
                    dossier_code: row.get(4)?,
                    subject: row.get(5)?,
                    fields: list(row.get(6)?),
                    returned: list(row.get(7)?),
                    outcome: row.get(8)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

impl Store {
    /// Every member and operator.
    pub async fn directory(&self) -> Result<Directory, StoreError> {
        fn json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
            text.and_then(|t| serde_json::from_str(&t).ok())
        }
        self.read(|conn| {
            let mut members = Vec::new();
            let mut select = conn.prepare_cached("SELECT id, name, secret_hash, certificate, rights FROM members")?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let member = MemberConfig {
                    name: row.get(1)?,
                    secret_hash: row.get(2)?,
                    certificate: json(row.get(3)?),
                    rights: json(row.get(4)?).unwrap_or_default(),
                };
                members.push((row.get(0)?, member));
            }
            let mut operators = Vec::new();
            let mut select = conn.prepare_cached("SELECT name, roles, password_hash, certificate FROM operators")?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let operator = OperatorConfig {
                    roles: json(row.get(1)?).unwrap_or_default(),
                    password_hash: row.get(2)?,
                    certificate: json(row.get(3)?),
                };
                operators.push((row.get(0)?, operator));
            }
            Ok(Directory { members, operators })
        })
        .await
    }

    pub async fn change_directory(&self, change: DirectoryChange) -> Result<(), StoreError> {
        self.write(Write::Directory(change)).await
    }
}

/// The directory as stored.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub members: Vec<(String, MemberConfig)>,
    pub operators: Vec<(String, OperatorConfig)>,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL lets readers work while the writer commits; NORMAL syncs at checkpoints, which survives
    // a crash of the bus (the broker, not this index, is the durable record of messages).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Pages read through a memory map rather than a read() call each.
    conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

#[cfg(test)]
mod tests;
