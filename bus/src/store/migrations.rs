//! Schema migrations, run at start. Each step runs once, in order; `user_version` records how
//! far a file has come, so an old file is brought up to date and a new one built from scratch.

use rusqlite::Connection;

const STEPS: &[&str] = &[
    // 1: messages, deliveries, newest seq per subject, dossier projection.
    "CREATE TABLE messages (
         id          TEXT PRIMARY KEY,
         type        TEXT NOT NULL,
         source      TEXT NOT NULL,
         subject     TEXT NOT NULL,
         seq         INTEGER NOT NULL,
         occurred_at TEXT NOT NULL,
         digest      TEXT NOT NULL,
         routing_key TEXT NOT NULL,
         accepted_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE deliveries (
         message_id TEXT NOT NULL,
         adapter    TEXT NOT NULL,
         state      TEXT NOT NULL,
         attempts   INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (message_id, adapter)
     ) WITHOUT ROWID;
     CREATE INDEX deliveries_by_state ON deliveries (adapter, state);
     CREATE TABLE subject_seq (
         adapter TEXT NOT NULL,
         type    TEXT NOT NULL,
         subject TEXT NOT NULL,
         seq     INTEGER NOT NULL,
         PRIMARY KEY (adapter, type, subject)
     ) WITHOUT ROWID;
     CREATE TABLE dossiers (
         code           TEXT PRIMARY KEY,
         status         INTEGER,
         seq            INTEGER,
         message_type   TEXT NOT NULL,
         procedure_code TEXT,
         agency_code    TEXT,
         received_at    TEXT,
         due_at         TEXT,
         completed_at   TEXT,
         message_id     TEXT NOT NULL,
         updated_at     INTEGER NOT NULL
     ) WITHOUT ROWID;",
    // 2: the lookup audit, the index of issued documents, and what each dossier could reuse.
    "CREATE TABLE lookups (
         id             TEXT PRIMARY KEY,
         at             INTEGER NOT NULL,
         member         TEXT NOT NULL,
         service        TEXT NOT NULL,
         dossier_code   TEXT NOT NULL,
         subject        TEXT NOT NULL,
         fields         TEXT NOT NULL,
         returned       TEXT NOT NULL,
         outcome        TEXT NOT NULL
     );
     CREATE INDEX lookups_by_subject ON lookups (subject, at);
     CREATE INDEX lookups_by_dossier ON lookups (dossier_code, at);
     CREATE TABLE documents (
         holder_kind  TEXT NOT NULL,
         holder_id    TEXT NOT NULL,
         type         TEXT NOT NULL,
         number       TEXT NOT NULL,
         issuer       TEXT NOT NULL,
         name         TEXT,
         issued_on    TEXT NOT NULL,
         valid_until  TEXT,
         file_url     TEXT NOT NULL,
         sha256       TEXT NOT NULL,
         dossier_code TEXT NOT NULL,
         message_id   TEXT NOT NULL,
         PRIMARY KEY (holder_kind, holder_id, type, number, issuer)
     ) WITHOUT ROWID;
     CREATE TABLE dossier_reuse (
         dossier_code   TEXT PRIMARY KEY,
         procedure_code TEXT NOT NULL,
         received_on    TEXT NOT NULL,
         required       TEXT NOT NULL,
         reusable       TEXT NOT NULL,
         reusable_count INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX dossier_reuse_by_day ON dossier_reuse (received_on);",
    // 3: routing by competence, payment and postal state of dossiers, adapters' own memory.
    "ALTER TABLE messages ADD COLUMN routing TEXT;
     ALTER TABLE dossiers ADD COLUMN competent_agency TEXT;
     ALTER TABLE dossiers ADD COLUMN payment TEXT;
     ALTER TABLE dossiers ADD COLUMN postal TEXT;
     CREATE TABLE adapter_memory (
         adapter TEXT NOT NULL,
         key     TEXT NOT NULL,
         value   TEXT NOT NULL,
         PRIMARY KEY (adapter, key)
     ) WITHOUT ROWID;",
    // 4: the dead-letter archive, which operators list, show, replay and purge; the broker's
    // dead-letter queues only hand messages over to it. `type` is NULL for a body that was not an
    // envelope (kept as text). `replayed_at` is when the last replay began: a death after it is
    // a new one, an older copy is not. A purged row is kept, for the audit.
    "CREATE TABLE dead_letters (
         message_id      TEXT NOT NULL,
         adapter         TEXT NOT NULL,
         type            TEXT,
         subject         TEXT,
         source          TEXT,
         seq             INTEGER,
         body            TEXT NOT NULL,
         attempts        INTEGER NOT NULL,
         first_failed_at INTEGER,
         last_failed_at  INTEGER,
         dead_at         INTEGER NOT NULL,
         last_error      TEXT,
         peer_answer     TEXT,
         accepted_at     INTEGER,
         annotations     TEXT,
         state           TEXT NOT NULL CHECK (state IN ('dead', 'replaying', 'replayed', 'purged')),
         replayed_at     INTEGER,
         replays         INTEGER NOT NULL DEFAULT 0,
         purged_at       INTEGER,
         PRIMARY KEY (message_id, adapter)
     ) WITHOUT ROWID;
     CREATE INDEX dead_letters_by_adapter ON dead_letters (adapter, state, dead_at);
     CREATE INDEX dead_letters_by_type ON dead_letters (type, state, dead_at);
     CREATE INDEX dead_letters_by_time ON dead_letters (state, dead_at);",
    // 5: the newest accepted seq of a subject, asked when a state comes back for another try.
    "CREATE INDEX messages_by_subject ON messages (type, subject, seq);",
    // 6: the directory: members and operators, how each proves who it is, and its rights (JSON).
    // `origin` says who last set an entry: the config file (which sets it again at each start)
    // or an admin through the API (whose change the file no longer overrides).
    "CREATE TABLE members (
         id          TEXT PRIMARY KEY,
         name        TEXT NOT NULL,
         secret_hash TEXT,
         certificate TEXT,
         rights      TEXT NOT NULL,
         origin      TEXT NOT NULL CHECK (origin IN ('config', 'api')),
         updated_at  INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE operators (
         name          TEXT PRIMARY KEY,
         roles         TEXT NOT NULL,
         password_hash TEXT,
         certificate   TEXT,
         origin        TEXT NOT NULL CHECK (origin IN ('config', 'api')),
         updated_at    INTEGER NOT NULL
     ) WITHOUT ROWID;",
    // 7: messages by the time they were accepted: what the message log may have missed when the
    // bus was killed is looked for from there.
    "CREATE INDEX messages_by_time ON messages (accepted_at);",
    // 8: adapters registered over the API: the registration as sent (JSON, its secrets
    // included: this file is as private as the data it indexes), whose it is, and where it stands.
    "CREATE TABLE registrations (
         id         TEXT PRIMARY KEY,
         owner      TEXT NOT NULL,
         state      TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
         reason     TEXT,
         body       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL
     ) WITHOUT ROWID;",
    // 9: where a dead letter's last replay went, when to another adapter than the one that gave
    // it up (a removed adapter's, say).
    "ALTER TABLE dead_letters ADD COLUMN replayed_to TEXT;",
    // 10: what dossier monitoring counts: how a dossier came in and goes back, its unit and
    // field, whether it has a fee, its late explanation, and when it was received and closed
    // (Unix ms, so a month's window is an index range whatever offset the times were sent with).
    "ALTER TABLE dossiers ADD COLUMN channel TEXT;
     ALTER TABLE dossiers ADD COLUMN return_method TEXT;
     ALTER TABLE dossiers ADD COLUMN unit_code TEXT;
     ALTER TABLE dossiers ADD COLUMN sector_code TEXT;
     ALTER TABLE dossiers ADD COLUMN has_fee INTEGER;
     ALTER TABLE dossiers ADD COLUMN late TEXT;
     ALTER TABLE dossiers ADD COLUMN received_ms INTEGER;
     ALTER TABLE dossiers ADD COLUMN closed_ms INTEGER;
     UPDATE dossiers SET received_ms = unixepoch(received_at) * 1000,
         closed_ms = CASE WHEN status IN (3, 7, 8, 9, 10) THEN coalesce(unixepoch(completed_at) * 1000, updated_at) END;
     CREATE INDEX dossiers_by_closing ON dossiers (closed_ms);
     CREATE INDEX dossiers_by_received ON dossiers (received_ms);",
];

pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, step) in STEPS.iter().enumerate().skip(done as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
