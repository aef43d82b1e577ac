//! The figures of a chaos run, from the portal simulator's record (what the portal holds) and
//! the bus's store (what the bus says became of each message).
//!
//! - `delivered`: accepted messages the portal took at least once;
//! - `lost`: accepted messages the portal never took and the bus did not set aside on purpose
//!   (superseded by a newer `seq`, or dead-lettered);
//! - `duplicated`: messages the portal took more than once (the same id in two accepted calls
//!   of the same service);
//! - `wrong_final`: dossiers whose state at the portal is not their newest accepted change
//!   (the newest that was not dead-lettered);
//! - `dead_lettered`: accepted messages in the dead-letter archive.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use lgsp_bus::audit;
use lgsp_dvc::mapping::wire;
use lgsp_dvc::sim::PortalSim;
use rusqlite::{Connection, OpenFlags};

use super::load::{Messages, Sent, summary};

pub struct Report {
    pub sent: usize,
    pub accepted: usize,
    pub delivered: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub wrong_final: usize,
    pub dead_lettered: usize,
    pub superseded: usize,
    pub refused: Vec<String>,
    pub unavailable: usize,
    pub unanswered: usize,
    pub portal_calls: usize,
    pub elapsed: Duration,
    /// The message log's chain, checked entry by entry and seal by seal after the run.
    pub log_chain: Result<audit::Report, String>,
    /// Accepted messages with no `message.accepted` entry in the log.
    pub unlogged: usize,
    /// A few of the lost, duplicated and wrong ones, to start looking from.
    pub examples: Vec<String>,
}

/// The log's chain checked with its key, and the ids it records accepted.
fn message_log(log: &Path) -> anyhow::Result<(Result<audit::Report, String>, HashSet<String>)> {
    let key = lgsp_bus::auth::keys::SigningKey::from_file(&audit::key_beside(log))?;
    let file = audit::file::open(log)?;
    let chain = file.verify(&[key.public()], None)?.map_err(|finding| finding.to_string());
    let search = audit::Search { kind: Some("message.accepted".into()), ..audit::Search::default() };
    let logged = file.search(&search, usize::MAX >> 1)?.into_iter().filter_map(|e| e.message).collect();
    Ok((chain, logged))
}

/// Deliveries to the portal not yet settled (accepted or waiting for a retry).
pub fn pending_deliveries(store: &Path) -> anyhow::Result<i64> {
    let db = open(store)?;
    Ok(db.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE adapter = 'dvc' AND state IN ('accepted', 'retrying')",
        [],
        |row| row.get(0),
    )?)
}

fn open(store: &Path) -> anyhow::Result<Connection> {
    let db = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    db.busy_timeout(Duration::from_secs(5))?;
    Ok(db)
}

/// What the bus recorded of each message's delivery to the portal.
fn delivery_states(store: &Path) -> anyhow::Result<HashMap<String, String>> {
    let db = open(store)?;
    let mut query = db.prepare("SELECT message_id, state FROM deliveries WHERE adapter = 'dvc'")?;
    let rows = query.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Report {
    pub fn build(
        messages: &Messages,
        sent: &Sent,
        portal: &PortalSim,
        store: &Path,
        log: &Path,
        elapsed: Duration,
    ) -> anyhow::Result<Report> {
        let states = delivery_states(store)?;
        let (log_chain, logged) = message_log(log)?;
        let calls = portal.calls();
        let mut taken: HashMap<(&str, &str), usize> = HashMap::new();
        for call in &calls {
            for id in &call.message_ids {
                *taken.entry((call.service.as_str(), id.as_str())).or_default() += 1;
            }
        }
        let mut times_taken: HashMap<&str, usize> = HashMap::new();
        let mut twice: HashMap<&str, bool> = HashMap::new();
        for ((_, id), count) in &taken {
            *times_taken.entry(id).or_default() += count;
            *twice.entry(id).or_default() |= *count > 1;
        }

        let mut report = Report {
            sent: messages.ids.len(),
            accepted: 0,
            delivered: 0,
            lost: 0,
            duplicated: 0,
            wrong_final: 0,
            dead_lettered: 0,
            superseded: 0,
            refused: sent.refused.clone(),
            unavailable: sent.unavailable,
            unanswered: sent.unanswered,
            portal_calls: calls.len(),
            elapsed,
            log_chain,
            unlogged: 0,
            examples: Vec::new(),
        };
        for (code, range) in &messages.dossiers {
            let mut expected_final = None;
            for (seq, index) in range.clone().enumerate().map(|(i, index)| (i + 1, index)) {
                if !sent.accepted[index] {
                    continue;
                }
                report.accepted += 1;
                let id = messages.ids[index].to_string();
                if !logged.contains(&id) {
                    report.unlogged += 1;
                    report.example(format!("unlogged: {id} ({code} seq {seq}) has no message.accepted entry"));
                }
                let state = states.get(&id).map(String::as_str);
                let taken = times_taken.contains_key(id.as_str());
                report.delivered += usize::from(taken);
                if twice.get(id.as_str()).copied().unwrap_or(false) {
                    report.duplicated += 1;
                    report.example(format!(
                        "duplicated: {id} ({code} seq {seq}) taken {} times",
                        times_taken[id.as_str()]
                    ));
                }
                match state {
                    Some("dead_lettered") => report.dead_lettered += 1,
                    Some("superseded") => report.superseded += usize::from(!taken),
                    _ if !taken => {
                        report.lost += 1;
                        report.example(format!("lost: {id} ({code} seq {seq}), the bus says {state:?}"));
                    }
                    _ => {}
                }
                if state != Some("dead_lettered") {
                    expected_final = Some(seq);
                }
            }
            if let Some(seq) = expected_final {
                let held =
                    portal.dossier(code).and_then(|d| d.latest[wire::sync::TRICH_YEU].as_str().map(String::from));
                if held.as_deref() != Some(summary(seq).as_str()) {
                    report.wrong_final += 1;
                    report.example(format!("wrong_final: {code} holds {held:?}, newest is seq {seq}"));
                }
            }
        }
        Ok(report)
    }

    fn example(&mut self, line: String) {
        if self.examples.len() < 10 {
            self.examples.push(line);
        }
    }

    pub fn kept_promises(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.wrong_final == 0
            && self.accepted == self.sent
            && self.unlogged == 0
            && self.log_chain.as_ref().is_ok_and(|chain| chain.unsealed() == 0)
    }

    /// One figure a line; the first seven are what scripts read.
    pub fn print(&self) {
        println!("sent: {}", self.sent);
        println!("accepted: {}", self.accepted);
        println!("delivered: {}", self.delivered);
        println!("lost: {}", self.lost);
        println!("duplicated: {}", self.duplicated);
        println!("wrong_final: {}", self.wrong_final);
        println!("dead_lettered: {}", self.dead_lettered);
        println!("superseded: {}", self.superseded);
        println!("refused: {}", self.refused.len());
        println!("answered_503: {}", self.unavailable);
        println!("unanswered_requests: {}", self.unanswered);
        println!("portal_calls: {}", self.portal_calls);
        println!("elapsed: {:.1} s", self.elapsed.as_secs_f64());
        match &self.log_chain {
            Ok(chain) => println!(
                "message_log: intact, {} entries, {} seals, {} unsealed",
                chain.entries,
                chain.seals,
                chain.unsealed()
            ),
            Err(finding) => println!("message_log: BROKEN at {finding}"),
        }
        println!("unlogged: {}", self.unlogged);
        for line in self.examples.iter().chain(self.refused.iter().take(5)) {
            println!("  {line}");
        }
    }
}
