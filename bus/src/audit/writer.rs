//! The log's writer thread: appends what is waiting as one transaction, links each entry to
//! the one before, and seals the head at least every `sign_every` and when the log closes.
//! It never makes a caller wait: a full queue loses entries, and the next entry written says
//! how many (`log.gap`). Another thread moves old entries to archive files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::chain::{Anchor, Entry, Seal};
use super::file::{self, LogFile};
use super::{Command, Record, Shared};
use crate::auth::keys::SigningKey;
use crate::{events, now_ms};

/// Most entries committed in one transaction.
const MAX_GROUP: usize = 4096;
/// How long the writer waits, once a first entry came, for more before it commits: long enough
/// that a busy bus commits hundreds of entries at once (each index page written to the WAL once
/// per commit, not per entry: 250 ms measured cheaper than 50 ms); what a crash loses of it, the
/// next start finds by comparing with the store.
const LINGER: Duration = Duration::from_millis(250);
/// How long to wait before trying a failed write again.
const RETRY_WRITE: Duration = Duration::from_secs(1);
/// How often old entries are looked for to archive.
const ARCHIVE_EVERY: Duration = Duration::from_secs(3600);

pub(super) struct Writer {
    pub conn: Connection,
    pub path: PathBuf,
    pub key: SigningKey,
    pub sign_every: Duration,
    pub keep: Duration,
    pub archive: PathBuf,
    /// The last entry written.
    pub head: Anchor,
    /// The last entry a seal covers.
    pub sealed: u64,
    /// The bus before closed the log.
    pub clean: bool,
}

pub(super) fn spawn(writer: Writer, commands: Receiver<Command>, shared: Arc<Shared>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("lgsp-audit-writer".into())
        .spawn(move || writer.run(commands, &shared))
        .expect("spawn the message log's writer")
}

impl Writer {
    fn run(mut self, commands: Receiver<Command>, shared: &Shared) {
        let (archive_stop, archive_stopped) = std::sync::mpsc::channel::<()>();
        spawn_archiver(self.path.clone(), self.archive.clone(), self.keep, archive_stopped);
        let unsealed = self.head.seq.saturating_sub(self.sealed);
        events::audit_opened(&self.path, self.head.seq, unsealed, self.clean);
        let opened = serde_json::json!({ "unsealed_before": unsealed, "closed_before": self.clean });
        let mut group = vec![Record::new("log.opened", "lgsp", opened)];
        let mut closing = Vec::new();
        let mut last_seal = Instant::now();
        let mut open = true;
        // Whether the last entry written is `log.closed`: a clean stop, as the next start reads it.
        let mut closed = false;
        while open || !group.is_empty() {
            if group.is_empty() {
                let wait = if self.head.seq > self.sealed {
                    self.sign_every.saturating_sub(last_seal.elapsed())
                } else {
                    Duration::from_secs(3600)
                };
                match commands.recv_timeout(wait) {
                    Ok(command) => take(command, &mut group, &mut closing, shared),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
            }
            // Under load, wait a moment for company: fewer commits, and senders rarely have to
            // wake this thread. Nobody waits for the log, so the moment costs no one anything.
            if !group.is_empty() && closing.is_empty() && open {
                std::thread::sleep(LINGER);
            }
            while group.len() < MAX_GROUP {
                match commands.try_recv() {
                    Ok(command) => take(command, &mut group, &mut closing, shared),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            let lost = shared.dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                events::audit_gap(lost);
                group.insert(0, Record::new("log.gap", "lgsp", serde_json::json!({ "lost": lost })));
            }
            events::audit_behind(shared.pending.load(Ordering::Relaxed));
            let must_seal = !closing.is_empty() || !open;
            if must_seal && !closed {
                group.push(Record::new("log.closed", "lgsp", serde_json::json!({})));
            }
            if !group.is_empty() {
                let appended = self.append(&group);
                shared.failing.store(appended.is_err(), Ordering::Relaxed);
                shared.attempts.send_modify(|n| *n += 1);
                if let Err(e) = appended {
                    events::audit_write_failed(group.len(), &e);
                    std::thread::sleep(RETRY_WRITE);
                    continue;
                }
                events::audit_committed(group.len());
                closed = group.last().is_some_and(|r| r.kind == "log.closed");
                group.clear();
            }
            if self.head.seq > self.sealed && (must_seal || last_seal.elapsed() >= self.sign_every) {
                match self.seal(must_seal) {
                    Ok(()) => last_seal = Instant::now(),
                    Err(e) => events::audit_write_failed(0, &e),
                }
            }
            for done in closing.drain(..) {
                let _ = done.send(());
            }
        }
        drop(archive_stop);
    }

    fn append(&mut self, group: &[Record]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let mut head = self.head;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO entries (seq, at, kind, actor, message, dossier, subject, detail, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for record in group {
                let mut entry = Entry {
                    seq: head.seq + 1,
                    at: record.at,
                    kind: record.kind.to_string(),
                    actor: record.actor.clone(),
                    message: record.message.clone(),
                    dossier: record.dossier.clone(),
                    subject: record.subject.clone(),
                    detail: record.detail.to_string(),
                    hash: String::new(),
                };
                let hash = entry.link(&head.hash);
                entry.hash = hex::encode(hash);
                insert.execute(params![
                    entry.seq as i64,
                    entry.at,
                    entry.kind,
                    entry.actor,
                    entry.message,
                    entry.dossier,
                    entry.subject,
                    entry.detail,
                    entry.hash
                ])?;
                head = Anchor { seq: entry.seq, hash };
            }
        }
        tx.commit()?;
        self.head = head;
        Ok(())
    }

    fn seal(&mut self, closing: bool) -> rusqlite::Result<()> {
        let seal = Seal::sign(&self.key, self.head.seq, &self.head.hash, now_ms());
        self.conn.execute(
            "INSERT INTO seals (seq, hash, signed_at, key, signature) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (seq) DO NOTHING",
            params![seal.seq as i64, seal.hash, seal.signed_at, seal.key, seal.signature],
        )?;
        self.sealed = self.head.seq;
        events::audit_sealed(seal.seq, &seal.hash, closing);
        Ok(())
    }
}

fn take(
    command: Command,
    group: &mut Vec<Record>,
    closing: &mut Vec<tokio::sync::oneshot::Sender<()>>,
    shared: &Shared,
) {
    match command {
        Command::Record(record) => {
            shared.pending.fetch_sub(1, Ordering::Relaxed);
            group.push(*record);
        }
        Command::Close(done) => closing.push(done),
    }
}

/// Every hour, moves entries older than `keep` to an archive file, until the writer stops.
fn spawn_archiver(path: PathBuf, folder: PathBuf, keep: Duration, stopped: Receiver<()>) {
    let archive = move || -> Result<(), file::LogFileError> {
        let mut log: LogFile = file::open(&path)?;
        if let Some((written, first, last)) = log.archive(now_ms() - keep.as_millis() as i64, &folder)? {
            events::audit_archived(&written, first, last);
        }
        Ok(())
    };
    std::thread::Builder::new()
        .name("lgsp-audit-archiver".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(ARCHIVE_EVERY) {
                if let Err(e) = archive() {
                    events::audit_archive_failed(&e);
                }
            }
        })
        .expect("spawn the message log's archiver");
}
