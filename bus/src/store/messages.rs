//! Finding accepted messages, for the console: by id, by subject (a dossier's code: the subject
//! of every dossier message is its code), by source, by type and by when they were accepted;
//! newest first, and never more than asked.
//!
//! Each search leads with the index that fits it, so that it reads a few rows, not the table:
//! an id is the primary key; a subject is `messages_by_subject (type, subject, seq)`, probed
//! once per type (the types themselves found by a skip through the same index); anything else
//! walks `messages_by_time (accepted_at)` from the newest and stops at the limit. The other
//! conditions are written `+column`, which tells SQLite not to lead with them.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{DeliveryState, Store, StoreError};

/// Which messages to find: each condition that is set must match. Times are Unix
/// milliseconds, both included.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub id: Option<String>,
    /// The envelope's subject: a dossier's code.
    pub subject: Option<String>,
    /// The member that sent it.
    pub source: Option<String>,
    pub message_type: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// One message found, and where it stands at each adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: String,
    pub message_type: String,
    pub source: String,
    pub subject: String,
    pub seq: u64,
    /// Unix milliseconds.
    pub accepted_at: i64,
    /// Each adapter's delivery, by adapter.
    pub deliveries: Vec<(String, DeliveryState)>,
}

/// The distinct types of the messages held, each found by one seek in `messages_by_subject`
/// (a loose index scan: SQLite does not skip through an index by itself without statistics).
const TYPES: &str = "WITH RECURSIVE types(type) AS (
         SELECT min(type) FROM messages
         UNION ALL
         SELECT (SELECT min(type) FROM messages WHERE type > types.type) FROM types WHERE types.type IS NOT NULL
     ) ";

/// What a search leads with.
#[derive(PartialEq)]
enum Lead {
    Id,
    Subject,
    Time,
}

/// The query for `filter`, and its values.
fn query(filter: &MessageFilter) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut add = |condition: &str, value: Value| {
        values.push(value);
        conditions.push(format!("{condition} ?{}", values.len()));
    };
    let mut with = "";
    let lead = match (&filter.id, &filter.subject) {
        (Some(id), _) => {
            add("id =", id.clone().into());
            Lead::Id
        }
        (None, Some(subject)) => {
            match &filter.message_type {
                Some(message_type) => add("type =", message_type.clone().into()),
                // Every type, each probed in the index.
                None => with = TYPES,
            }
            add("subject =", subject.clone().into());
            Lead::Subject
        }
        (None, None) => Lead::Time,
    };
    if let Some(message_type) = filter.message_type.as_ref().filter(|_| lead != Lead::Subject) {
        add("+type =", message_type.clone().into());
    }
    if let Some(subject) = filter.subject.as_ref().filter(|_| lead == Lead::Id) {
        add("+subject =", subject.clone().into());
    }
    if let Some(source) = &filter.source {
        add("+source =", source.clone().into());
    }
    let time = if lead == Lead::Time { "accepted_at" } else { "+accepted_at" };
    if let Some(from) = filter.from {
        add(&format!("{time} >="), from.into());
    }
    if let Some(to) = filter.to {
        add(&format!("{time} <="), to.into());
    }
    if !with.is_empty() {
        conditions.push("type IN (SELECT type FROM types WHERE type IS NOT NULL)".into());
    }
    let matching = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "{with}SELECT id, type, source, subject, seq, accepted_at FROM messages {matching}
         ORDER BY accepted_at DESC, id DESC LIMIT {}",
        filter.limit
    );
    (sql, values)
}

/// The messages `filter` finds, with their deliveries.
fn find(conn: &Connection, filter: &MessageFilter) -> rusqlite::Result<Vec<MessageRow>> {
    let (sql, values) = query(filter);
    let mut rows: Vec<MessageRow> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(&values), |row| {
            Ok(MessageRow {
                id: row.get(0)?,
                message_type: row.get(1)?,
                source: row.get(2)?,
                subject: row.get(3)?,
                seq: row.get::<_, i64>(4)? as u64,
                accepted_at: row.get(5)?,
                deliveries: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut deliveries =
        conn.prepare_cached("SELECT adapter, state FROM deliveries WHERE message_id = ?1 ORDER BY adapter")?;
    for row in &mut rows {
        row.deliveries = deliveries
            .query_map([&row.id], |d| Ok((d.get(0)?, DeliveryState::parse(&d.get::<_, String>(1)?))))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(rows)
}

impl Store {
    /// Messages matching `filter`, newest first, at most `filter.limit`, each with where it
    /// stands at each adapter.
    pub async fn find_messages(&self, filter: &MessageFilter) -> Result<Vec<MessageRow>, StoreError> {
        self.read(|conn| find(conn, filter)).await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::run(&mut conn).unwrap();
        let insert = "INSERT INTO messages (id, type, source, subject, seq, occurred_at, digest, routing_key,
                                            accepted_at)
                      VALUES (?1, ?2, ?3, ?4, ?5, '2026-11-20T09:00:00+07:00', 'd', 'k', ?6)";
        let rows = [
            ("a", "dossier.submitted", "onestop.a", "D1", 1, 1_000),
            ("b", "dossier.status_changed", "onestop.a", "D1", 2, 2_000),
            ("c", "dossier.status_changed", "onestop.b", "D2", 1, 3_000),
            ("d", "payment.status", "onestop.b", "D1", 1, 4_000),
        ];
        for (id, message_type, source, subject, seq, at) in rows {
            conn.execute(insert, params![id, message_type, source, subject, seq, at]).unwrap();
        }
        conn.execute(
            "INSERT INTO deliveries (message_id, adapter, state, updated_at)
             VALUES ('b', 'dvc', 'delivered', 2), ('b', 'buu_dien', 'dead_lettered', 2)",
            [],
        )
        .unwrap();
        conn
    }

    fn ids(conn: &Connection, filter: MessageFilter) -> Vec<String> {
        find(conn, &MessageFilter { limit: 100, ..filter }).unwrap().into_iter().map(|m| m.id).collect()
    }

    fn plan(conn: &Connection, filter: MessageFilter) -> String {
        let (sql, values) = query(&MessageFilter { limit: 100, ..filter });
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let steps = explain.query_map(params_from_iter(&values), |row| row.get::<_, String>(3)).unwrap();
        steps.collect::<rusqlite::Result<Vec<_>>>().unwrap().join("; ")
    }

    #[test]
    fn each_filter_finds_its_messages_newest_first() {
        let conn = store();
        let some = |text: &str| Some(text.to_string());
        assert_eq!(ids(&conn, MessageFilter::default()), ["d", "c", "b", "a"]);
        assert_eq!(ids(&conn, MessageFilter { subject: some("D1"), ..Default::default() }), ["d", "b", "a"]);
        let both =
            MessageFilter { subject: some("D1"), message_type: some("dossier.status_changed"), ..Default::default() };
        assert_eq!(ids(&conn, both), ["b"]);
        assert_eq!(ids(&conn, MessageFilter { source: some("onestop.b"), ..Default::default() }), ["d", "c"]);
        assert_eq!(ids(&conn, MessageFilter { from: Some(2_000), to: Some(3_000), ..Default::default() }), ["c", "b"]);
        assert_eq!(ids(&conn, MessageFilter { id: some("c"), ..Default::default() }), ["c"]);
        assert!(ids(&conn, MessageFilter { id: some("c"), subject: some("D1"), ..Default::default() }).is_empty());
        let found = find(&conn, &MessageFilter { id: some("b"), limit: 1, ..Default::default() }).unwrap();
        let deliveries =
            [("buu_dien".to_string(), DeliveryState::DeadLettered), ("dvc".into(), DeliveryState::Delivered)];
        assert_eq!(found[0].deliveries, deliveries);
        let newest = find(&conn, &MessageFilter { limit: 2, ..Default::default() }).unwrap();
        assert_eq!(newest.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["d", "c"], "at most the limit");
    }

    #[test]
    fn each_search_leads_with_an_index_and_never_reads_the_whole_table() {
        let conn = store();
        let some = |text: &str| Some(text.to_string());
        let by_subject = plan(&conn, MessageFilter { subject: some("D1"), from: Some(1), ..Default::default() });
        assert!(by_subject.contains("messages_by_subject (type=? AND subject=?)"), "{by_subject}");
        assert!(!by_subject.contains("SCAN messages"), "the types too come from the index: {by_subject}");
        let typed = MessageFilter { subject: some("D1"), message_type: some("payment.status"), ..Default::default() };
        let typed = plan(&conn, typed);
        assert!(typed.contains("messages_by_subject (type=? AND subject=?)"), "{typed}");
        let by_id = plan(&conn, MessageFilter { id: some("b"), source: some("onestop.a"), ..Default::default() });
        assert!(by_id.contains("PRIMARY KEY (id=?)"), "{by_id}");
        for filter in [
            MessageFilter::default(),
            MessageFilter { source: some("onestop.a"), message_type: some("payment.status"), ..Default::default() },
            MessageFilter { from: Some(1), to: Some(2), ..Default::default() },
        ] {
            let newest = plan(&conn, filter.clone());
            assert!(newest.contains("USING INDEX messages_by_time"), "{filter:?}: {newest}");
            assert!(!newest.contains("TEMP B-TREE"), "{filter:?} is read in the index's order: {newest}");
        }
    }
}
