//! The log's SQLite file: its tables, and reading it back — to search, export, check and
//! archive. Only the writer thread appends to it.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::chain::{Anchor, Entry, Finding, Report, Seal, Verifier, decode_hash};
use crate::auth::keys::PublicKey;

/// Why the log's file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("message log {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} line {line}: {why}")]
    Format { path: String, line: usize, why: String },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    message TEXT,
    dossier TEXT,
    subject TEXT,
    detail TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_at ON entries (at);
CREATE INDEX IF NOT EXISTS entries_message ON entries (message) WHERE message IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_dossier ON entries (dossier) WHERE dossier IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_actor ON entries (actor);
CREATE INDEX IF NOT EXISTS entries_subject ON entries (subject) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS seals (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    key TEXT NOT NULL,
    signature TEXT NOT NULL
);
-- The last entry moved to an archive: the first entry kept links to it.
CREATE TABLE IF NOT EXISTS anchor (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
";

/// The log file, for the writer: created if missing.
pub fn open_for_writing(path: &Path) -> Result<Connection, LogFileError> {
    let sqlite = |source| LogFileError::Sqlite { path: path.display().to_string(), source };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|source| LogFileError::Io { path: folder.display().to_string(), source })?;
    }
    let conn = Connection::open(path).map_err(sqlite)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
    )
    .map_err(sqlite)?;
    conn.execute_batch(SCHEMA).map_err(sqlite)?;
    Ok(conn)
}

/// The log file, for reading (and for archiving, which also deletes what it archived).
pub fn open(path: &Path) -> Result<LogFile, LogFileError> {
    let sqlite = |source| LogFileError::Sqlite { path: path.display().to_string(), source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;").map_err(sqlite)?;
    Ok(LogFile { conn, path: path.to_path_buf() })
}

pub struct LogFile {
    conn: Connection,
    path: PathBuf,
}

/// Which entries a search wants; every filter given must match.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Search {
    pub message: Option<String>,
    pub dossier: Option<String>,
    /// The member, operator or adapter that acted.
    pub actor: Option<String>,
    /// Whose data: a CCCD, an MST, a message's subject.
    pub subject: Option<String>,
    pub kind: Option<String>,
    /// Unix milliseconds, inclusive.
    pub from: Option<i64>,
    /// Unix milliseconds, inclusive.
    pub to: Option<i64>,
}

/// The first line of an export or archive file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    /// The entry before the first one in the file.
    anchor_seq: u64,
    anchor_hash: String,
}

const FORMAT: &str = "lgsp-audit/1";

/// Every other line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Line {
    Entry(Entry),
    Seal(Seal),
}

pub(super) fn read_entry(row: &rusqlite::Row) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: row.get::<_, i64>(0)? as u64,
        at: row.get(1)?,
        kind: row.get(2)?,
        actor: row.get(3)?,
        message: row.get(4)?,
        dossier: row.get(5)?,
        subject: row.get(6)?,
        detail: row.get(7)?,
        hash: row.get(8)?,
    })
}

const ENTRY_COLUMNS: &str = "seq, at, kind, actor, message, dossier, subject, detail, hash";

fn read_seal(row: &rusqlite::Row) -> rusqlite::Result<Seal> {
    Ok(Seal {
        seq: row.get::<_, i64>(0)? as u64,
        hash: row.get(1)?,
        signed_at: row.get(2)?,
        key: row.get(3)?,
        signature: row.get(4)?,
    })
}

/// The entry the log's first kept entry links to (genesis until something was archived).
pub(super) fn anchor(conn: &Connection) -> rusqlite::Result<Result<Anchor, Finding>> {
    let stored: Option<(i64, String)> =
        conn.query_row("SELECT seq, hash FROM anchor WHERE one = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(match stored {
        None => Ok(Anchor::GENESIS),
        Some((seq, hash)) => match decode_hash(&hash) {
            Some(hash) => Ok(Anchor { seq: seq as u64, hash }),
            None => Err(Finding { seq: seq as u64, what: "the archive anchor's hash is damaged".into() }),
        },
    })
}

/// Where the log stands when it opens.
pub(super) struct Opening {
    /// The last entry written, or the anchor.
    pub head: Anchor,
    /// The last entry a seal covers.
    pub sealed: u64,
    /// The last bus closed the log (its last entry is `log.closed`), or the log is new.
    pub clean: bool,
}

pub(super) fn opening(conn: &Connection) -> rusqlite::Result<Opening> {
    let last: Option<(i64, String, String)> = conn
        .query_row("SELECT seq, hash, kind FROM entries ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let sealed: Option<i64> = conn.query_row("SELECT max(seq) FROM seals", [], |r| r.get(0))?;
    let clean = last.as_ref().is_none_or(|(_, _, kind)| kind == "log.closed");
    let head = match last.and_then(|(seq, hash, _)| Some(Anchor { seq: seq as u64, hash: decode_hash(&hash)? })) {
        Some(head) => head,
        None => anchor(conn)?.unwrap_or(Anchor::GENESIS),
    };
    Ok(Opening { head, sealed: sealed.unwrap_or(0) as u64, clean })
}

impl LogFile {
    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> LogFileError + '_ {
        |source| LogFileError::Sqlite { path: self.path.display().to_string(), source }
    }

    /// The entry the first one kept links to.
    pub fn anchor(&self) -> Result<Anchor, LogFileError> {
        anchor(&self.conn).map_err(self.sqlite())?.map_err(|finding| LogFileError::Format {
            path: self.path.display().to_string(),
            line: 0,
            why: finding.to_string(),
        })
    }

    /// When the last entry of the bus's own (not `log.*`) was written, and the ids of the
    /// messages recorded accepted in the `window` before it.
    pub fn recent_accepted(&self, window: i64) -> Result<Option<(i64, HashSet<String>)>, LogFileError> {
        let last: Option<i64> = self
            .conn
            .query_row("SELECT max(at) FROM entries WHERE kind NOT LIKE 'log.%'", [], |r| r.get(0))
            .map_err(self.sqlite())?;
        let Some(last) = last else { return Ok(None) };
        let mut select = self
            .conn
            .prepare("SELECT message FROM entries WHERE kind = 'message.accepted' AND at >= ?1 AND message IS NOT NULL")
            .map_err(self.sqlite())?;
        let ids = select.query_map([last - window], |r| r.get(0)).map_err(self.sqlite())?;
        Ok(Some((last, ids.collect::<Result<_, _>>().map_err(self.sqlite())?)))
    }

    /// Entries matching `search`, newest first, at most `limit`.
    pub fn search(&self, search: &Search, limit: usize) -> Result<Vec<Entry>, LogFileError> {
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE 1 = 1");
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        for (column, value) in [
            ("message", &search.message),
            ("dossier", &search.dossier),
            ("actor", &search.actor),
            ("subject", &search.subject),
            ("kind", &search.kind),
        ] {
            if let Some(value) = value {
                values.push(value.clone().into());
                sql.push_str(&format!(" AND {column} = ?{}", values.len()));
            }
        }
        for (bound, value) in [(">=", search.from), ("<=", search.to)] {
            if let Some(value) = value {
                values.push(value.into());
                sql.push_str(&format!(" AND at {bound} ?{}", values.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {limit}"));
        let mut statement = self.conn.prepare(&sql).map_err(self.sqlite())?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), read_entry).map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
    }

    /// The first and last seq of the entries written between two times (Unix ms), if any.
    pub fn seq_range(&self, from: Option<i64>, to: Option<i64>) -> Result<Option<(u64, u64)>, LogFileError> {
        let range: (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(seq), max(seq) FROM entries WHERE at >= ?1 AND at <= ?2",
                params![from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.sqlite())?;
        Ok(match range {
            (Some(first), Some(last)) => Some((first as u64, last as u64)),
            _ => None,
        })
    }

    /// Checks the entries `first..=last` (all when `None`) and the seals among them, carrying
    /// on past `last` to the next seal so that the last entry asked for is covered by one.
    pub fn verify(
        &self,
        keys: &[PublicKey],
        range: Option<(u64, u64)>,
    ) -> Result<Result<Report, Finding>, LogFileError> {
        let anchor = match anchor(&self.conn).map_err(self.sqlite())? {
            Ok(anchor) => anchor,
            Err(finding) => return Ok(Err(finding)),
        };
        let (first, last) = range.unwrap_or((anchor.seq + 1, u64::MAX));
        let start = if first <= anchor.seq + 1 {
            anchor
        } else {
            let before: Option<String> = self
                .conn
                .query_row("SELECT hash FROM entries WHERE seq = ?1", [first as i64 - 1], |r| r.get(0))
                .optional()
                .map_err(self.sqlite())?;
            match before.as_deref().and_then(decode_hash) {
                Some(hash) => Anchor { seq: first - 1, hash },
                None => return Ok(Err(Finding { seq: first - 1, what: "missing or damaged".into() })),
            }
        };
        let until: Option<i64> = self
            .conn
            .query_row("SELECT min(seq) FROM seals WHERE seq >= ?1", [last.min(i64::MAX as u64) as i64], |r| r.get(0))
            .map_err(self.sqlite())?;
        let until = until.map_or(i64::MAX, |seq| seq);
        let mut seals = self
            .conn
            .prepare("SELECT seq, hash, signed_at, key, signature FROM seals WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
            .map_err(self.sqlite())?;
        let mut seals = seals.query_map(params![start.seq as i64, until], read_seal).map_err(self.sqlite())?.peekable();
        let mut entries = self
            .conn
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"))
            .map_err(self.sqlite())?;
        let entries = entries.query_map(params![start.seq as i64, until], read_entry).map_err(self.sqlite())?;
        let mut verifier = Verifier::new(start, keys);
        for entry in entries {
            let entry = entry.map_err(self.sqlite())?;
            // A seal is checked once the entries it covers were.
            while let Some(seal) = seals.next_if(|s| s.as_ref().is_ok_and(|s| s.seq < entry.seq)) {
                if let Err(finding) = verifier.seal(&seal.map_err(self.sqlite())?) {
                    return Ok(Err(finding));
                }
            }
            if let Err(finding) = verifier.entry(&entry) {
                return Ok(Err(finding));
            }
        }
        for seal in seals {
            if let Err(finding) = verifier.seal(&seal.map_err(self.sqlite())?) {
                return Ok(Err(finding));
            }
        }
        Ok(Ok(verifier.report().clone()))
    }

    /// Writes the entries `first..=last`, carried on to the next seal, with their seals, as
    /// lines that [`verify_export`] checks with the public key alone. Returns the last seq.
    pub fn export(&self, first: u64, last: u64, out: &mut impl Write, path: &str) -> Result<u64, LogFileError> {
        let io = |source| LogFileError::Io { path: path.to_string(), source };
        let anchor = anchor(&self.conn).map_err(self.sqlite())?.unwrap_or(Anchor::GENESIS);
        let first = first.max(anchor.seq + 1);
        let before = if first == anchor.seq + 1 {
            hex::encode(anchor.hash)
        } else {
            self.conn
                .query_row("SELECT hash FROM entries WHERE seq = ?1", [first as i64 - 1], |r| r.get(0))
                .map_err(self.sqlite())?
        };
        let until: Option<i64> = self
            .conn
            .query_row("SELECT min(seq) FROM seals WHERE seq >= ?1", [last as i64], |r| r.get(0))
            .map_err(self.sqlite())?;
        let until = until.unwrap_or(last as i64);
        let header = Header { format: FORMAT.into(), anchor_seq: first - 1, anchor_hash: before };
        writeln!(out, "{}", serde_json::to_string(&header).expect("a header serializes")).map_err(io)?;
        let mut entries = self
            .conn
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"))
            .map_err(self.sqlite())?;
        let mut seals = self
            .conn
            .prepare("SELECT seq, hash, signed_at, key, signature FROM seals WHERE seq >= ?1 AND seq <= ?2")
            .map_err(self.sqlite())?;
        let mut seals: std::collections::HashMap<u64, Seal> = seals
            .query_map(params![first as i64, until], read_seal)
            .map_err(self.sqlite())?
            .map(|s| s.map(|s| (s.seq, s)))
            .collect::<Result<_, _>>()
            .map_err(self.sqlite())?;
        let mut written = first - 1;
        for entry in entries.query_map(params![first as i64, until], read_entry).map_err(self.sqlite())? {
            let entry = entry.map_err(self.sqlite())?;
            let seq = entry.seq;
            writeln!(out, "{}", serde_json::to_string(&Line::Entry(entry)).expect("an entry serializes"))
                .map_err(io)?;
            if let Some(seal) = seals.remove(&seq) {
                writeln!(out, "{}", serde_json::to_string(&Line::Seal(seal)).expect("a seal serializes"))
                    .map_err(io)?;
            }
            written = seq;
        }
        Ok(written)
    }

    /// Moves entries older than `before` (Unix ms), up to the last seal among them, into one
    /// archive file in `folder`; the first entry kept then links to the anchor the archive
    /// ends with. Returns the file written, if there was anything to archive.
    pub fn archive(&mut self, before: i64, folder: &Path) -> Result<Option<(PathBuf, u64, u64)>, LogFileError> {
        let sealed: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(seals.seq) FROM seals JOIN entries ON entries.seq = seals.seq WHERE entries.at < ?1",
                [before],
                |r| r.get(0),
            )
            .map_err(self.sqlite())?;
        let anchor = anchor(&self.conn).map_err(self.sqlite())?.unwrap_or(Anchor::GENESIS);
        let Some(last) = sealed.map(|s| s as u64).filter(|&s| s > anchor.seq) else {
            return Ok(None);
        };
        let first = anchor.seq + 1;
        std::fs::create_dir_all(folder)
            .map_err(|source| LogFileError::Io { path: folder.display().to_string(), source })?;
        let path = folder.join(format!("audit-{first:012}-{last:012}.jsonl"));
        let partial = path.with_extension("jsonl.partial");
        let shown = partial.display().to_string();
        let io = |source| LogFileError::Io { path: shown.clone(), source };
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
        self.export(first, last, &mut file, &shown)?;
        let file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
        // In steps, so that the writer never waits long for the file.
        const STEP: u64 = 10_000;
        let mut from = first;
        while from <= last {
            let to = (from + STEP - 1).min(last);
            let step = |conn: &mut Connection| -> rusqlite::Result<()> {
                let tx = conn.transaction()?;
                let hash: String =
                    tx.query_row("SELECT hash FROM entries WHERE seq = ?1", [to as i64], |r| r.get(0))?;
                tx.execute("DELETE FROM entries WHERE seq >= ?1 AND seq <= ?2", params![from as i64, to as i64])?;
                tx.execute("DELETE FROM seals WHERE seq <= ?1", [to as i64])?;
                tx.execute(
                    "INSERT INTO anchor (one, seq, hash) VALUES (1, ?1, ?2)
                     ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    params![to as i64, hash],
                )?;
                tx.commit()
            };
            step(&mut self.conn)
                .map_err(|source| LogFileError::Sqlite { path: self.path.display().to_string(), source })?;
            from = to + 1;
        }
        Ok(Some((path, first, last)))
    }
}

/// Checks an export or archive file with the given public keys alone. Returns its report and
/// the anchor it starts from and the head it ends at (to check archives follow each other).
pub fn verify_export(
    reader: impl BufRead,
    path: &str,
    keys: &[PublicKey],
) -> Result<(Result<Report, Finding>, Anchor, Anchor), LogFileError> {
    let format = |line: usize, why: String| LogFileError::Format { path: path.to_string(), line, why };
    let mut lines = reader.lines().enumerate();
    let (_, first) = lines.next().ok_or_else(|| format(1, "empty".into()))?;
    let first = first.map_err(|source| LogFileError::Io { path: path.to_string(), source })?;
    let header: Header = serde_json::from_str(&first).map_err(|e| format(1, format!("not a header: {e}")))?;
    if header.format != FORMAT {
        return Err(format(1, format!("format {} is not {FORMAT}", header.format)));
    }
    let hash =
        decode_hash(&header.anchor_hash).ok_or_else(|| format(1, "the anchor's hash is not 64 hex digits".into()))?;
    let anchor = Anchor { seq: header.anchor_seq, hash };
    let mut verifier = Verifier::new(anchor, keys);
    for (index, line) in lines {
        let line = line.map_err(|source| LogFileError::Io { path: path.to_string(), source })?;
        let checked = match serde_json::from_str::<Line>(&line).map_err(|e| format(index + 1, e.to_string()))? {
            Line::Entry(entry) => verifier.entry(&entry),
            Line::Seal(seal) => verifier.seal(&seal),
        };
        if let Err(finding) = checked {
            return Ok((Err(finding), anchor, verifier.head()));
        }
    }
    Ok((Ok(verifier.report().clone()), anchor, verifier.head()))
}
