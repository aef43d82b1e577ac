//! The dead-letter archive: every message an adapter gave up on, with why, kept for operators
//! to list, show, replay and purge.
//!
//! The broker's dead-letter queue of each adapter is only a hand-off: a keeper moves each
//! message from it into this table (see `engine::dead_letters`). One row per (message, adapter),
//! so a message that dies twice (after a replay, or a copy delivered twice) is one row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{DeadLetterChange as Change, Store, StoreError, Write};

/// Where an archived message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterState {
    /// Waiting for an operator.
    Dead,
    /// A replay began and the broker has not confirmed its copy (yet, or ever: replay it again).
    Replaying,
    /// Handed back to the adapter's queue; what became of it is the message's own state.
    Replayed,
    /// An operator gave up on it; kept for the audit, never replayed.
    Purged,
}

impl DeadLetterState {
    /// The word the store, the API and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dead => "dead",
            Self::Replaying => "replaying",
            Self::Replayed => "replayed",
            Self::Purged => "purged",
        }
    }

    /// The state a word names, if any.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Dead, Self::Replaying, Self::Replayed, Self::Purged].into_iter().find(|s| s.as_str() == text)
    }
}

/// One message taken off an adapter's dead-letter queue, as the archive records it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterRecord {
    pub message_id: String,
    pub adapter: String,
    /// `None` for a body that was not an envelope.
    pub message_type: Option<String>,
    pub subject: Option<String>,
    pub source: Option<String>,
    pub seq: Option<u64>,
    /// The envelope's JSON as it was published, or the unreadable body as text.
    pub body: String,
    /// Attempts made before it was given up.
    pub attempts: u32,
    /// Unix milliseconds, as are all times here.
    pub first_failed_at: Option<i64>,
    pub last_failed_at: Option<i64>,
    /// When it was dead-lettered.
    pub dead_at: i64,
    pub last_error: Option<String>,
    pub peer_answer: Option<String>,
    /// When the bus first accepted it, and its annotations (JSON): what a replay carries again.
    pub accepted_at: Option<i64>,
    pub annotations: Option<String>,
}

/// One archived message, as operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterView {
    pub record: DeadLetterRecord,
    pub state: DeadLetterState,
    /// When the last replay began.
    pub replayed_at: Option<i64>,
    pub replays: u32,
    pub purged_at: Option<i64>,
    /// Where the last replay went, when to another adapter.
    pub replayed_to: Option<String>,
}

impl DeadLetterView {
    /// Whether the body is an envelope, which can be replayed.
    pub fn readable(&self) -> bool {
        self.record.message_type.is_some()
    }
}

/// Which archived messages to list: each condition that is set. `since` is included, `until`
/// excluded (of `dead_at`).
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    pub adapter: Option<String>,
    pub message_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub state: Option<DeadLetterState>,
    pub limit: u32,
}

pub(super) fn write(tx: &Transaction, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::Archive(records) => {
            for record in records {
                archive(tx, record)?;
            }
        }
        Change::ClaimReplay { message_id, adapter, to, at, changed } => {
            // A dead row is replayed once its delivery is recorded dead: the keeper may archive
            // the copy a moment before the engine records the outcome. A row left `replaying` (its
            // copy never confirmed) may be claimed again while its delivery waits, pending. To
            // another adapter, only if that one has not had it delivered already.
            let state_of = |adapter: &str| {
                tx.prepare_cached("SELECT state FROM deliveries WHERE message_id = ?1 AND adapter = ?2")?
                    .query_row(params![message_id, adapter], |row| row.get::<_, String>(0))
                    .optional()
            };
            let delivery = state_of(adapter)?.unwrap_or_else(|| "dead_lettered".into());
            let elsewhere = to != adapter;
            let pending = if elsewhere { "dead_lettered" } else { "accepted" };
            let taken = elsewhere && state_of(to)?.is_some_and(|s| s == "delivered" || s == "superseded");
            let claimed = !taken
                && tx
                    .prepare_cached(
                        "UPDATE dead_letters SET state = 'replaying', replayed_at = ?3,
                             replayed_to = CASE WHEN ?5 = adapter THEN NULL ELSE ?5 END
                         WHERE message_id = ?1 AND adapter = ?2 AND type IS NOT NULL
                           AND (state = 'dead' AND ?4 = 'dead_lettered'
                                OR state = 'replaying' AND ?4 IN ('dead_lettered', ?6))",
                    )?
                    .execute(params![message_id, adapter, at, delivery, to, pending])?
                    == 1;
            if claimed {
                // A delivery recorded final makes the engine take the replayed copy for a
                // duplicate: it must find it pending again.
                tx.prepare_cached(
                    "INSERT INTO deliveries (message_id, adapter, state, attempts, updated_at)
                     VALUES (?1, ?2, 'accepted', 0, ?3)
                     ON CONFLICT (message_id, adapter) DO UPDATE SET state = 'accepted', updated_at = ?3",
                )?
                .execute(params![message_id, to, at])?;
            }
            changed.store(claimed, Ordering::Release);
        }
        Change::Replayed { message_id, adapter } => {
            // It may have died again already (and be `dead`): the replay still counts.
            tx.prepare_cached(
                "UPDATE dead_letters SET replays = replays + 1,
                     state = CASE state WHEN 'replaying' THEN 'replayed' ELSE state END
                 WHERE message_id = ?1 AND adapter = ?2",
            )?
            .execute(params![message_id, adapter])?;
        }
        Change::Purge { message_id, adapter, at, changed } => {
            let purged = tx
                .prepare_cached(
                    "UPDATE dead_letters SET state = 'purged', purged_at = ?3
                     WHERE message_id = ?1 AND adapter = ?2 AND state = 'dead'",
                )?
                .execute(params![message_id, adapter, at])?
                == 1;
            changed.store(purged, Ordering::Release);
        }
    }
    Ok(())
}

/// Records one dead message. A message that dies again after a replay is `dead` again; a copy
/// of a death older than the last replay (delivered twice) changes nothing, and a purged row
/// stays purged.
fn archive(tx: &Transaction, r: &DeadLetterRecord) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO dead_letters (message_id, adapter, type, subject, source, seq, body, attempts, first_failed_at,
                                   last_failed_at, dead_at, last_error, peer_answer, accepted_at, annotations, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'dead')
         ON CONFLICT (message_id, adapter) DO UPDATE SET
             type = excluded.type, subject = excluded.subject, source = excluded.source, seq = excluded.seq,
             body = excluded.body, attempts = excluded.attempts, first_failed_at = excluded.first_failed_at,
             last_failed_at = excluded.last_failed_at, dead_at = excluded.dead_at, last_error = excluded.last_error,
             peer_answer = excluded.peer_answer, accepted_at = excluded.accepted_at,
             annotations = excluded.annotations, state = 'dead'
         WHERE dead_letters.state <> 'purged'
           AND (dead_letters.replayed_at IS NULL OR excluded.dead_at > dead_letters.replayed_at)",
    )?
    .execute(params![
        r.message_id,
        r.adapter,
        r.message_type,
        r.subject,
        r.source,
        r.seq.map(|s| s as i64),
        r.body,
        r.attempts,
        r.first_failed_at,
        r.last_failed_at,
        r.dead_at,
        r.last_error,
        r.peer_answer,
        r.accepted_at,
        r.annotations
    ])?;
    Ok(())
}

const COLUMNS: &str = "message_id, adapter, type, subject, source, seq, body, attempts, first_failed_at,
     last_failed_at, dead_at, last_error, peer_answer, accepted_at, annotations, state, replayed_at, replays,
     purged_at, replayed_to";

fn view(row: &Row) -> rusqlite::Result<DeadLetterView> {
    Ok(DeadLetterView {
        record: DeadLetterRecord {
            message_id: row.get(0)?,
            adapter: row.get(1)?,
            message_type: row.get(2)?,
            subject: row.get(3)?,
            source: row.get(4)?,
            seq: row.get::<_, Option<i64>>(5)?.map(|s| s as u64),
            body: row.get(6)?,
            attempts: row.get(7)?,
            first_failed_at: row.get(8)?,
            last_failed_at: row.get(9)?,
            dead_at: row.get(10)?,
            last_error: row.get(11)?,
            peer_answer: row.get(12)?,
            accepted_at: row.get(13)?,
            annotations: row.get(14)?,
        },
        // The table's CHECK keeps the word one of the states.
        state: DeadLetterState::parse(&row.get::<_, String>(15)?).unwrap_or(DeadLetterState::Dead),
        replayed_at: row.get(16)?,
        replays: row.get(17)?,
        purged_at: row.get(18)?,
        replayed_to: row.get(19)?,
    })
}

impl Store {
    /// Records messages taken off a dead-letter queue, in one transaction.
    pub async fn archive_dead_letters(&self, records: Vec<DeadLetterRecord>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(Write::DeadLetters(Change::Archive(records))).await
    }

    /// Archived messages matching `filter`, newest first, at most `filter.limit` (their bodies
    /// left empty), and how many match in all.
    pub async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<(Vec<DeadLetterView>, u64), StoreError> {
        // Only the conditions asked for, so that SQLite picks the index that fits.
        let mut conditions = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        let mut add = |condition: &str, value: rusqlite::types::Value| {
            values.push(value);
            conditions.push(format!("{condition} ?{}", values.len()));
        };
        if let Some(adapter) = &filter.adapter {
            add("adapter =", adapter.clone().into());
        }
        if let Some(message_type) = &filter.message_type {
            add("type =", message_type.clone().into());
        }
        if let Some(state) = filter.state {
            add("state =", state.as_str().to_string().into());
        }
        if let Some(since) = filter.since {
            add("dead_at >=", since.into());
        }
        if let Some(until) = filter.until {
            add("dead_at <", until.into());
        }
        let matching =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let columns = COLUMNS.replace("body", "'' AS body");
        let limit = filter.limit;
        self.read(move |conn| {
            let total: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM dead_letters {matching}"))?
                .query_row(rusqlite::params_from_iter(&values), |row| row.get(0))?;
            let mut select = conn.prepare_cached(&format!(
                "SELECT {columns} FROM dead_letters {matching} ORDER BY dead_at DESC, message_id DESC LIMIT {limit}"
            ))?;
            let rows = select.query_map(rusqlite::params_from_iter(&values), view)?;
            Ok((rows.collect::<rusqlite::Result<_>>()?, total as u64))
        })
        .await
    }

    /// Every archived row of one message (one per adapter that gave it up), by adapter.
    pub async fn dead_letters_of(&self, message_id: &str) -> Result<Vec<DeadLetterView>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM dead_letters WHERE message_id = ?1 ORDER BY adapter"))?
                .query_map([message_id], view)?
                .collect()
        })
        .await
    }

    /// The archived row of one message for one adapter.
    pub async fn dead_letter(&self, message_id: &str, adapter: &str) -> Result<Option<DeadLetterView>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM dead_letters WHERE message_id = ?1 AND adapter = ?2"))?
                .query_row([message_id, adapter], view)
                .optional()
        })
        .await
    }

    /// How many messages the adapter has yet to settle: accepted for it and not handled, or
    /// waiting in a retry tier.
    pub async fn unsettled(&self, adapter: &str) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT COUNT(*) FROM deliveries WHERE adapter = ?1 AND state IN ('accepted', 'retrying')",
            )?
            .query_row([adapter], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
        })
        .await
    }

    /// How many messages wait for an operator in the adapter's archive.
    pub async fn dead_letter_count(&self, adapter: &str) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT COUNT(*) FROM dead_letters WHERE adapter = ?1 AND state = 'dead'")?
                .query_row([adapter], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }

    /// Claims the replay of one archived message, in one commit: its row becomes `replaying` and
    /// its delivery pending again. `false` when it is not (or not now) replayable: not an
    /// envelope, not `dead`, or its delivery not recorded dead (yet).
    pub async fn claim_replay(&self, message_id: &str, adapter: &str, to: &str, at: i64) -> Result<bool, StoreError> {
        let (message_id, adapter, to) = (message_id.into(), adapter.into(), to.into());
        self.write_if(|changed| Change::ClaimReplay { message_id, adapter, to, at, changed }).await
    }

    /// Records that the broker confirmed a replayed copy.
    pub async fn mark_replayed(&self, message_id: &str, adapter: &str) -> Result<(), StoreError> {
        let change = Change::Replayed { message_id: message_id.into(), adapter: adapter.into() };
        self.write(Write::DeadLetters(change)).await
    }

    /// Marks one archived message purged (kept for the audit). `false` unless it was `dead`.
    pub async fn purge_dead_letter(&self, message_id: &str, adapter: &str, at: i64) -> Result<bool, StoreError> {
        let (message_id, adapter) = (message_id.into(), adapter.into());
        self.write_if(|changed| Change::Purge { message_id, adapter, at, changed }).await
    }

    /// Writes a change that applies only if its row is in the right state; whether it did.
    async fn write_if(&self, change: impl FnOnce(Arc<AtomicBool>) -> Change) -> Result<bool, StoreError> {
        let changed = Arc::new(AtomicBool::new(false));
        self.write(Write::DeadLetters(change(changed.clone()))).await?;
        Ok(changed.load(Ordering::Acquire))
    }
}
