//! The single writer: commits whatever writes are waiting as one transaction.

use rusqlite::{Connection, Transaction, params};
use tokio::sync::{mpsc, watch};

use super::{Accepted, Command, DirectoryChange, LookupRecord, OutcomeRecord, StoreError, Write};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::envelope::Envelope;
use crate::{events, monitoring};

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 1024;
/// Under load a commit costs about the same for 5 writes as for 500, so a small group waits
/// this long, once, for more to arrive — only when the previous group showed that writes come
/// in together; an isolated write commits at once.
const LINGER: std::time::Duration = std::time::Duration::from_micros(500);
/// A group this big commits at once.
const ENOUGH: usize = 64;

/// The projection of a dossier message: the dossier's latest known status.
#[derive(Debug, Clone)]
struct DossierUpdate {
    code: String,
    status: Option<i64>,
    seq: u64,
    message_type: String,
    procedure_code: Option<String>,
    agency_code: Option<String>,
    received_at: Option<String>,
    due_at: Option<String>,
    completed_at: Option<String>,
    message_id: String,
    channel: Option<String>,
    return_method: Option<String>,
    unit_code: Option<String>,
    sector_code: Option<String>,
    /// Whether it carries fees, when the message lists them.
    has_fee: Option<bool>,
    /// `late` as sent (JSON).
    late: Option<String>,
    received_ms: Option<i64>,
    /// When it was resolved or otherwise closed, if it is.
    closed_ms: Option<i64>,
}

impl DossierUpdate {
    /// Dossier messages project onto the dossier they name; other messages onto nothing.
    fn from_envelope(envelope: &Envelope) -> Option<Self> {
        let payload = &envelope.payload;
        let text = |key: &str| payload.get(key).and_then(|v| v.as_str()).map(String::from);
        let status = payload.get("status").and_then(|v| v.as_i64());
        let status = match envelope.message_type.as_str() {
            "dossier.submitted" => status.or(Some(1)),
            "dossier.status_changed" => status,
            _ => return None,
        };
        let epoch_ms = |at: OffsetDateTime| (at.unix_timestamp_nanos() / 1_000_000) as i64;
        let instant =
            |key: &str| payload.get(key).and_then(|v| v.as_str()).and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        // A dossier closed without its completion time closed when the message says it changed.
        let closed_ms = status
            .filter(|s| monitoring::CLOSED.contains(s))
            .map(|_| epoch_ms(instant("completed_at").unwrap_or(envelope.occurred_at)));
        Some(DossierUpdate {
            channel: text("channel"),
            return_method: text("return_method"),
            unit_code: text("unit_code"),
            sector_code: text("sector_code"),
            has_fee: payload.get("fees").and_then(|f| f.as_array()).map(|fees| !fees.is_empty()),
            late: payload.get("late").filter(|l| l.is_object()).map(|l| l.to_string()),
            received_ms: instant("received_at").map(epoch_ms),
            closed_ms,
            code: text("dossier_code")?,
            status,
            seq: envelope.seq,
            message_type: envelope.message_type.clone(),
            procedure_code: text("procedure_code"),
            agency_code: text("agency_code"),
            received_at: text("received_at"),
            due_at: text("due_at"),
            completed_at: text("completed_at"),
            message_id: envelope.id.to_string(),
        })
    }
}

/// What a committed group changed, for the metrics.
#[derive(Default)]
struct Tally {
    dossiers: u64,
    with_reusable: u64,
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn spawn(conn: Connection, checkpoints: Connection) -> (mpsc::Sender<Command>, watch::Receiver<u64>) {
    let (sender, receiver) = mpsc::channel(4 * MAX_GROUP);
    let (commits, watcher) = watch::channel(0);
    // Checkpoints run beside the writer, never inside a commit: the commit that crossed SQLite's
    // threshold would otherwise wait for the copy and its sync, and so would its callers.
    let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
    let (running, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("lgsp-store-writer".into())
        .spawn(move || {
            run(conn, receiver, commits);
            drop(running);
        })
        .expect("spawn the store writer");
    std::thread::Builder::new()
        .name("lgsp-store-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(e) = checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    events::store_checkpoint_failed(&e);
                }
            }
        })
        .expect("spawn the store checkpointer");
    (sender, watcher)
}

fn run(mut conn: Connection, mut commands: mpsc::Receiver<Command>, commits: watch::Sender<u64>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let drain = |commands: &mut mpsc::Receiver<Command>, group: &mut Vec<Command>| {
        while group.len() < MAX_GROUP {
            match commands.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
    };
    let mut previous = 0;
    while let Some(first) = commands.blocking_recv() {
        group.push(first);
        drain(&mut commands, &mut group);
        // A lookup's answer waits for its audit record, and an officer at a counter waits for
        // the answer: a group holding one commits at once.
        let waited_on = group.iter().any(|c| matches!(c.write, Write::Lookup(_)));
        if group.len() < ENOUGH && previous > 1 && !waited_on {
            std::thread::sleep(LINGER);
            drain(&mut commands, &mut group);
        }
        previous = group.len();
        let result = commit(&mut conn, &group);
        commits.send_modify(|n| *n += 1);
        match &result {
            Ok(tally) => events::store_committed(group.len(), tally.dossiers, tally.with_reusable),
            Err(e) => events::store_commit_failed(group.len(), e),
        }
        for command in group.drain(..) {
            let answer = match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(StoreError::Sqlite(clone_error(e))),
            };
            let _ = command.done.send(answer);
        }
    }
}

fn commit(conn: &mut Connection, group: &[Command]) -> rusqlite::Result<Tally> {
    let tx = conn.transaction()?;
    let mut tally = Tally::default();
    for command in group {
        match &command.write {
            Write::Accepted(messages) => {
                for accepted in messages {
                    write_accepted(&tx, accepted, &mut tally)?;
                }
            }
            Write::Outcomes(outcomes) => {
                for outcome in outcomes {
                    write_outcome(&tx, outcome)?;
                }
            }
            Write::Lookup(lookup) => write_lookup(&tx, lookup)?,
            Write::Directory(change) => write_directory(&tx, change)?,
            Write::Registration(change) => super::registrations::write(&tx, change)?,
            Write::DeadLetters(change) => super::dead_letters::write(&tx, change)?,
            Write::Remember { adapter, key, value } => {
                tx.prepare_cached(
                    "INSERT INTO adapter_memory (adapter, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (adapter, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![adapter, key, value])?;
            }
        }
    }
    tx.commit()?;
    Ok(tally)
}

fn write_accepted(tx: &Transaction, accepted: &Accepted, tally: &mut Tally) -> rusqlite::Result<()> {
    let envelope = &accepted.envelope;
    let id = envelope.id.to_string();
    let occurred_at = envelope.occurred_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO messages (id, type, source, subject, seq, occurred_at, digest, routing_key, accepted_at, routing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        id,
        envelope.message_type,
        envelope.source,
        envelope.subject,
        envelope.seq as i64,
        occurred_at,
        accepted.digest,
        accepted.routing_key,
        accepted.accepted_at,
        accepted.routing.to_string()
    ])?;
    // A fast consumer may have recorded its outcome already: never overwrite it.
    let mut pending = tx.prepare_cached(
        "INSERT INTO deliveries (message_id, adapter, state, attempts, updated_at) VALUES (?1, ?2, 'accepted', 0, ?3)
         ON CONFLICT (message_id, adapter) DO NOTHING",
    )?;
    for adapter in &accepted.adapters {
        pending.execute(params![id, adapter, accepted.accepted_at])?;
    }
    if let Some(dossier) = DossierUpdate::from_envelope(envelope) {
        write_dossier(tx, &dossier, accepted.accepted_at)?;
    }
    let code = envelope.payload.get("dossier_code").and_then(|v| v.as_str()).unwrap_or(&envelope.subject);
    match envelope.message_type.as_str() {
        "dossier.result_ready" => index_documents(tx, envelope)?,
        "dossier.submitted" => {
            if let Some(agency) = &accepted.competent_agency {
                tx.prepare_cached("UPDATE dossiers SET competent_agency = ?2 WHERE code = ?1")?
                    .execute(params![code, agency])?;
            }
            if let Some(reuse) = &accepted.documents_reuse
                && let Some(reusable) = record_reuse(tx, envelope, reuse)?
            {
                tally.dossiers += 1;
                tally.with_reusable += u64::from(reusable > 0);
            }
        }
        // The latest payment and postal state of a dossier the bus knows; one that arrives
        // after a newer one (a retried delivery, say) does not undo it.
        "payment.status" | "postal.shipment_status" => {
            let column = if envelope.message_type == "payment.status" { "payment" } else { "postal" };
            tx.prepare_cached(&format!(
                "UPDATE dossiers SET {column} = ?2
                 WHERE code = ?1 AND ({column} IS NULL OR json_extract({column}, '$.seq') <= ?3)"
            ))?
            .execute(params![
                code,
                serde_json::json!({"seq": envelope.seq, "status": envelope.payload}).to_string(),
                envelope.seq as i64
            ])?;
        }
        _ => {}
    }
    Ok(())
}

/// Message types the store keeps for itself (beyond every message's state): a message of one of
/// them is worth accepting even when no adapter receives it.
pub(super) const INDEXED: [&str; 1] = ["dossier.result_ready"];

/// Indexes a result's documents under their holder, for reuse.
fn index_documents(tx: &Transaction, envelope: &Envelope) -> rusqlite::Result<()> {
    let payload = &envelope.payload;
    let text = |value: &serde_json::Value, key: &str| value.get(key).and_then(|v| v.as_str()).map(String::from);
    let holder = &payload["holder"];
    let (Some(kind), Some(holder_id), Some(dossier)) =
        (text(holder, "kind"), text(holder, "id"), text(payload, "dossier_code"))
    else {
        return Ok(());
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO documents (holder_kind, holder_id, type, number, issuer, name, issued_on, valid_until,
                                file_url, sha256, dossier_code, message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (holder_kind, holder_id, type, number, issuer) DO UPDATE SET
             name = excluded.name, issued_on = excluded.issued_on, valid_until = excluded.valid_until,
             file_url = excluded.file_url, sha256 = excluded.sha256, dossier_code = excluded.dossier_code,
             message_id = excluded.message_id",
    )?;
    for document in payload["documents"].as_array().into_iter().flatten() {
        insert.execute(params![
            kind,
            holder_id,
            text(document, "type"),
            text(document, "number"),
            text(document, "issuer"),
            text(document, "name"),
            text(document, "issued_on"),
            text(document, "valid_until"),
            text(document, "file_url"),
            text(document, "sha256"),
            dossier,
            envelope.id.to_string()
        ])?;
    }
    Ok(())
}

/// Records which of the papers a submitted dossier's procedure needs were already on file (as
/// ingress found them). The first submission of a dossier counts. Returns how many were (None
/// when the dossier was already recorded).
fn record_reuse(tx: &Transaction, envelope: &Envelope, reuse: &serde_json::Value) -> rusqlite::Result<Option<usize>> {
    let payload = &envelope.payload;
    let text = |key: &str| payload.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let received_on = text("received_at").get(..10).unwrap_or_default();
    let reusable = reuse["reusable"].as_array().map_or(0, Vec::len);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO dossier_reuse (dossier_code, procedure_code, received_on, required, reusable, reusable_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dossier_code) DO NOTHING",
        )?
        .execute(params![
            text("dossier_code"),
            text("procedure_code"),
            received_on,
            reuse["required"].to_string(),
            reuse["reusable"].to_string(),
            reusable as i64
        ])?;
    Ok((inserted == 1).then_some(reusable))
}

fn write_directory(tx: &Transaction, change: &DirectoryChange) -> rusqlite::Result<()> {
    let now = crate::now_ms();
    fn json<T: serde::Serialize>(value: &T) -> Option<String> {
        serde_json::to_value(value).ok().filter(|v| !v.is_null()).map(|v| v.to_string())
    }
    // A seed from the config replaces only what the config set; an admin's change replaces all.
    let (origin, guard) = match change {
        DirectoryChange::SeedMember(..) | DirectoryChange::SeedOperator(..) => ("config", "WHERE origin = 'config'"),
        _ => ("api", ""),
    };
    match change {
        DirectoryChange::SeedMember(id, m) | DirectoryChange::PutMember(id, m) => {
            tx.prepare_cached(&format!(
                "INSERT INTO members (id, name, secret_hash, certificate, rights, origin, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
                     certificate = excluded.certificate, rights = excluded.rights, origin = excluded.origin,
                     updated_at = excluded.updated_at {guard}"
            ))?
            .execute(params![
                id,
                m.name,
                m.secret_hash,
                json(&m.certificate),
                json(&m.rights),
                origin,
                now
            ])?;
        }
        DirectoryChange::RemoveMember(id) => {
            tx.prepare_cached("DELETE FROM members WHERE id = ?1")?.execute([id])?;
        }
        DirectoryChange::SeedOperator(name, o) | DirectoryChange::PutOperator(name, o) => {
            tx.prepare_cached(&format!(
                "INSERT INTO operators (name, roles, password_hash, certificate, origin, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET roles = excluded.roles, password_hash = excluded.password_hash,
                     certificate = excluded.certificate, origin = excluded.origin, updated_at = excluded.updated_at
                     {guard}"
            ))?
            .execute(params![
                name,
                json(&o.roles),
                o.password_hash,
                json(&o.certificate),
                origin,
                now
            ])?;
        }
        DirectoryChange::ForgetUnconfigured { members, operators } => {
            let (members, operators) = (json(members), json(operators));
            tx.prepare_cached(
                "DELETE FROM members WHERE origin = 'config' AND id NOT IN (SELECT value FROM json_each(?1))",
            )?
            .execute([members])?;
            tx.prepare_cached(
                "DELETE FROM operators WHERE origin = 'config' AND name NOT IN (SELECT value FROM json_each(?1))",
            )?
            .execute([operators])?;
        }
        DirectoryChange::RemoveOperator(name) => {
            tx.prepare_cached("DELETE FROM operators WHERE name = ?1")?.execute([name])?;
        }
    }
    Ok(())
}

fn write_lookup(tx: &Transaction, lookup: &LookupRecord) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO lookups (id, at, member, service, dossier_code, subject, fields, returned, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        lookup.id,
        lookup.at,
        lookup.member,
        lookup.service,
        lookup.dossier_code,
        lookup.subject,
        serde_json::to_string(&lookup.fields).unwrap_or_default(),
        serde_json::to_string(&lookup.returned).unwrap_or_default(),
        lookup.outcome
    ])?;
    Ok(())
}

/// The first message about a dossier creates it; a state update replaces it only if its seq is
/// newer (a submission never overwrites a status change).
/// What a submission tells about the dossier that its status changes may leave out (how it came
/// in, its fees) is kept even when a status change arrived first.
fn write_dossier(tx: &Transaction, d: &DossierUpdate, at: i64) -> rusqlite::Result<()> {
    let on_conflict = if d.message_type == "dossier.submitted" {
        "DO UPDATE SET channel = coalesce(dossiers.channel, excluded.channel),
            return_method = coalesce(dossiers.return_method, excluded.return_method),
            unit_code = coalesce(dossiers.unit_code, excluded.unit_code),
            sector_code = coalesce(dossiers.sector_code, excluded.sector_code),
            has_fee = coalesce(dossiers.has_fee, excluded.has_fee)"
    } else {
        "DO UPDATE SET status = excluded.status, seq = excluded.seq, message_type = excluded.message_type,
            procedure_code = excluded.procedure_code, agency_code = excluded.agency_code,
            received_at = excluded.received_at, due_at = excluded.due_at, completed_at = excluded.completed_at,
            message_id = excluded.message_id, updated_at = excluded.updated_at,
            channel = coalesce(excluded.channel, dossiers.channel),
            return_method = coalesce(excluded.return_method, dossiers.return_method),
            unit_code = coalesce(excluded.unit_code, dossiers.unit_code),
            sector_code = coalesce(excluded.sector_code, dossiers.sector_code),
            has_fee = coalesce(excluded.has_fee, dossiers.has_fee),
            late = coalesce(excluded.late, dossiers.late),
            received_ms = coalesce(excluded.received_ms, dossiers.received_ms),
            closed_ms = excluded.closed_ms
         WHERE dossiers.message_type <> excluded.message_type OR excluded.seq > dossiers.seq"
    };
    tx.prepare_cached(&format!(
        "INSERT INTO dossiers (code, status, seq, message_type, procedure_code, agency_code, received_at, due_at,
                               completed_at, message_id, updated_at, channel, return_method, unit_code,
                               sector_code, has_fee, late, received_ms, closed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (code) {on_conflict}"
    ))?
    .execute(params![
        d.code,
        d.status,
        d.seq as i64,
        d.message_type,
        d.procedure_code,
        d.agency_code,
        d.received_at,
        d.due_at,
        d.completed_at,
        d.message_id,
        at,
        d.channel,
        d.return_method,
        d.unit_code,
        d.sector_code,
        d.has_fee,
        d.late,
        d.received_ms,
        d.closed_ms
    ])?;
    Ok(())
}

fn write_outcome(tx: &Transaction, o: &OutcomeRecord) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO deliveries (message_id, adapter, state, attempts, last_error, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (message_id, adapter) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
             last_error = excluded.last_error, updated_at = excluded.updated_at",
    )?
    .execute(params![o.message_id, o.adapter, o.state.as_str(), o.attempts, o.last_error, o.at])?;
    if let Some((message_type, subject, seq)) = &o.newest_seq {
        tx.prepare_cached(
            "INSERT INTO subject_seq (adapter, type, subject, seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (adapter, type, subject) DO UPDATE SET seq = max(seq, excluded.seq)",
        )?
        .execute(params![o.adapter, message_type, subject, *seq as i64])?;
    }
    Ok(())
}

/// rusqlite errors are not Clone; every caller in a failed group gets the same description.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.to_string().into())
}
