//! Dossier monitoring: what the provincial plans count, computed from the dossier messages the
//! bus carries. For a period (a month, a quarter, a year, in Vietnam's time) every dossier
//! received before its end and not closed before its start is counted once, per agency (or
//! procedure, unit, field) and for the province:
//!
//! - received in the period (`new_reception`, and by channel), or carried over (`pre_existing`);
//! - resolved in it (status 9 or 10): early (before its due day), in time (by its due time,
//!   the early ones included) or late; closed otherwise (not accepted, withdrawn, stopped);
//! - still pending at its end, and of those already past their due time.
//!
//! So `new_reception + pre_existing = total_solved + closed_without_result + total_pending`.
//! A dossier's due time follows the procedure catalogue (its processing time in working days)
//! where the catalogue gives one, else the one-stop system's `due_at`.

mod report;
pub mod upward;

use std::collections::BTreeMap;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};
use utoipa::ToSchema;

use crate::calendar::VIETNAM;
use crate::procedures::Procedures;
pub use report::{PeriodReport, Received, ReportRow, period_report, tally};

/// Statuses after which a dossier no longer waits on the agency: not accepted (3), withdrawn
/// (7), stopped (8), resolved (9), result returned (10).
pub const CLOSED: [i64; 5] = [3, 7, 8, 9, 10];
/// Statuses of a resolved dossier.
pub const RESOLVED: [i64; 2] = [9, 10];
/// Most dossiers a late list names; a longer one says it was cut.
pub const MAX_LATE_LISTED: usize = 10_000;

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month { year: i32, month: u8 },
    Quarter { year: i32, quarter: u8 },
    Year { year: i32 },
}

impl Period {
    /// `YYYY-MM`.
    pub fn month(text: &str) -> Option<Period> {
        let (year, month) = text.split_once('-')?;
        let (year, month) =
            (year_of(year)?, month.parse::<u8>().ok().filter(|m| (1..=12).contains(m) && month.len() == 2)?);
        Some(Period::Month { year, month })
    }

    /// `YYYY-Qn`.
    pub fn quarter(text: &str) -> Option<Period> {
        let (year, quarter) = text.split_once("-Q")?;
        let quarter = quarter.parse::<u8>().ok().filter(|q| (1..=4).contains(q) && quarter.len() == 1)?;
        Some(Period::Quarter { year: year_of(year)?, quarter })
    }

    /// `YYYY`.
    pub fn year(text: &str) -> Option<Period> {
        Some(Period::Year { year: year_of(text)? })
    }

    /// Its first month and how many months it spans.
    fn months(self) -> (i32, u8, u8) {
        match self {
            Period::Month { year, month } => (year, month, 1),
            Period::Quarter { year, quarter } => (year, 3 * quarter - 2, 3),
            Period::Year { year } => (year, 1, 12),
        }
    }

    /// Its start and end (exclusive), midnight in Vietnam.
    pub fn bounds(self) -> (OffsetDateTime, OffsetDateTime) {
        let (year, first, span) = self.months();
        let start_of = |year: i32, month: u8| {
            let month = Month::try_from(month).unwrap_or(Month::January);
            let day = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
            PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_offset(VIETNAM)
        };
        let next = first as i32 - 1 + span as i32;
        (start_of(year, first), start_of(year + next / 12, (next % 12) as u8 + 1))
    }

    pub fn year_number(self) -> i32 {
        self.months().0
    }

    /// The month, for a monthly report.
    pub fn month_number(self) -> Option<u8> {
        if let Period::Month { month, .. } = self { Some(month) } else { None }
    }

    pub fn quarter_number(self) -> Option<u8> {
        if let Period::Quarter { quarter, .. } = self { Some(quarter) } else { None }
    }

    /// As the query gave it: `2026-11`, `2026-Q4`, `2026`.
    pub fn label(self) -> String {
        match self {
            Period::Month { year, month } => format!("{year}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year}-Q{quarter}"),
            Period::Year { year } => year.to_string(),
        }
    }
}

fn year_of(text: &str) -> Option<i32> {
    text.parse().ok().filter(|y| (2000..=2100).contains(y) && text.len() == 4)
}

/// What counts are kept apart by, besides the province's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    #[default]
    Agency,
    Procedure,
    Unit,
    Sector,
}

/// One dossier as the store knows it, for counting.
#[derive(Debug, Clone, Default)]
pub struct DossierFacts {
    pub code: String,
    pub status: Option<i64>,
    pub procedure_code: Option<String>,
    pub agency_code: Option<String>,
    pub unit_code: Option<String>,
    pub sector_code: Option<String>,
    pub channel: Option<String>,
    pub return_method: Option<String>,
    pub has_fee: bool,
    /// A `paid` payment.status came through the national portal's payment platform.
    pub paid_online: bool,
    /// At least one paper its procedure needs was on file when it was received.
    pub reused: bool,
    pub received_ms: i64,
    pub due_at: Option<String>,
    pub closed_ms: Option<i64>,
    /// `late` as the one-stop system sent it.
    pub late: Option<String>,
}

/// The counts of one agency (procedure, unit, field) or of the province.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub new_reception: u64,
    pub pre_existing: u64,
    pub total_solved: u64,
    pub solved_early: u64,
    pub solved_in_time: u64,
    pub solved_late: u64,
    pub closed_without_result: u64,
    pub total_pending: u64,
    pub pending_late: u64,
    pub received_at_counter: u64,
    pub received_online: u64,
    pub received_by_post: u64,
    /// Received in the period, and received or returned through the public postal service.
    pub through_post: u64,
    /// Received online in the period and, if it has a fee, paid online.
    pub fully_online: u64,
    pub with_fee: u64,
    pub paid_online: u64,
    pub reused: u64,
}

impl std::ops::AddAssign<&Counts> for Counts {
    fn add_assign(&mut self, other: &Counts) {
        self.new_reception += other.new_reception;
        self.pre_existing += other.pre_existing;
        self.total_solved += other.total_solved;
        self.solved_early += other.solved_early;
        self.solved_in_time += other.solved_in_time;
        self.solved_late += other.solved_late;
        self.closed_without_result += other.closed_without_result;
        self.total_pending += other.total_pending;
        self.pending_late += other.pending_late;
        self.received_at_counter += other.received_at_counter;
        self.received_online += other.received_online;
        self.received_by_post += other.received_by_post;
        self.through_post += other.through_post;
        self.fully_online += other.fully_online;
        self.with_fee += other.with_fee;
        self.paid_online += other.paid_online;
        self.reused += other.reused;
    }
}

/// A late dossier, as the published list names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LateDossier {
    pub dossier_code: String,
    pub agency_code: Option<String>,
    pub procedure_code: Option<String>,
    /// From the procedure catalogue.
    pub procedure_name: Option<String>,
    pub unit_code: Option<String>,
    /// RFC 3339, Vietnam's time.
    pub received_at: String,
    /// When it was due (the catalogue's reckoning where it has one), RFC 3339.
    pub due_at: String,
    /// When it was resolved; absent while it is pending.
    pub completed_at: Option<String>,
    /// `resolved_late` in the period, or `pending_late` at its end.
    pub state: &'static str,
    /// Working days past the due date (at the period's end, for a pending one).
    pub working_days_late: u32,
    /// The explanation the agency gave; absent when it gave none.
    pub reason: Option<String>,
    pub apology_issued: bool,
    pub apology_issued_at: Option<String>,
    pub apology_reference: Option<String>,
}

/// Everything a period's counting produced.
#[derive(Debug, Default)]
pub struct Tally {
    pub province: Counts,
    pub groups: BTreeMap<String, Counts>,
    pub late: Vec<LateDossier>,
    /// More late dossiers than `MAX_LATE_LISTED` were found.
    pub late_cut: bool,
}

/// Counts dossiers one by one (the store streams them), in bounded memory: one `Counts` per
/// group and at most `MAX_LATE_LISTED` late dossiers.
pub struct Monitor<'a> {
    start_ms: i64,
    end_ms: i64,
    /// The period's end, or now if it has not ended: what "already late" is measured at.
    as_of: OffsetDateTime,
    by: Grouping,
    procedures: &'a Procedures,
    tally: Tally,
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn at_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(VIETNAM)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(VIETNAM).format(&Rfc3339).unwrap_or_default()
}

impl<'a> Monitor<'a> {
    pub fn new(period: Period, now: OffsetDateTime, by: Grouping, procedures: &'a Procedures) -> Self {
        let (start, end) = period.bounds();
        Monitor {
            start_ms: epoch_ms(start),
            end_ms: epoch_ms(end),
            as_of: end.min(now),
            by,
            procedures,
            tally: Tally::default(),
        }
    }

    /// The window the store must read: dossiers received before `end` and not closed before
    /// `start` (Unix ms).
    pub fn window(&self) -> (i64, i64) {
        (self.start_ms, self.end_ms)
    }

    /// When the dossier is due: the catalogue's reckoning, else the one-stop system's date.
    pub fn due(&self, dossier: &DossierFacts) -> Option<OffsetDateTime> {
        due(
            self.procedures,
            dossier.procedure_code.as_deref(),
            Some(at_ms(dossier.received_ms)),
            dossier.due_at.as_deref(),
        )
    }

    pub fn add(&mut self, dossier: &DossierFacts) {
        if dossier.received_ms >= self.end_ms || dossier.closed_ms.is_some_and(|closed| closed < self.start_ms) {
            return;
        }
        let mut counts = Counts::default();
        let due = self.due(dossier);
        if dossier.received_ms >= self.start_ms {
            counts.new_reception = 1;
            match dossier.channel.as_deref() {
                Some("counter") => counts.received_at_counter = 1,
                Some("online") => counts.received_online = 1,
                Some("post") => counts.received_by_post = 1,
                _ => {}
            }
            let by_post =
                dossier.channel.as_deref() == Some("post") || dossier.return_method.as_deref() == Some("post");
            counts.through_post = u64::from(by_post);
            counts.with_fee = u64::from(dossier.has_fee);
            counts.paid_online = u64::from(dossier.has_fee && dossier.paid_online);
            let online = dossier.channel.as_deref() == Some("online");
            counts.fully_online = u64::from(online && (!dossier.has_fee || dossier.paid_online));
            counts.reused = u64::from(dossier.reused);
        } else {
            counts.pre_existing = 1;
        }
        let closed_in_period = dossier.closed_ms.filter(|closed| *closed < self.end_ms);
        let resolved = dossier.status.is_some_and(|s| RESOLVED.contains(&s));
        match closed_in_period {
            Some(closed) if resolved => {
                let closed = at_ms(closed);
                counts.total_solved = 1;
                match due {
                    Some(due) if closed > due => {
                        counts.solved_late = 1;
                        self.list_late(dossier, due, Some(closed));
                    }
                    Some(due) => {
                        counts.solved_in_time = 1;
                        counts.solved_early =
                            u64::from(closed.to_offset(VIETNAM).date() < due.to_offset(VIETNAM).date());
                    }
                    // Without a due date a dossier cannot be late.
                    None => counts.solved_in_time = 1,
                }
            }
            Some(_) => counts.closed_without_result = 1,
            None => {
                counts.total_pending = 1;
                if let Some(due) = due.filter(|due| *due < self.as_of) {
                    counts.pending_late = 1;
                    self.list_late(dossier, due, None);
                }
            }
        }
        let key = match self.by {
            Grouping::Agency => &dossier.agency_code,
            Grouping::Procedure => &dossier.procedure_code,
            Grouping::Unit => &dossier.unit_code,
            Grouping::Sector => &dossier.sector_code,
        };
        self.tally.province += &counts;
        *self.tally.groups.entry(key.clone().unwrap_or_default()).or_default() += &counts;
    }

    fn list_late(&mut self, dossier: &DossierFacts, due: OffsetDateTime, resolved: Option<OffsetDateTime>) {
        if self.tally.late.len() >= MAX_LATE_LISTED {
            self.tally.late_cut = true;
            return;
        }
        let late: serde_json::Value =
            dossier.late.as_deref().and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default();
        let text = |key: &str| late.get(key).and_then(|v| v.as_str()).map(String::from);
        let calendar = &self.procedures.calendar;
        self.tally.late.push(LateDossier {
            dossier_code: dossier.code.clone(),
            agency_code: dossier.agency_code.clone(),
            procedure_code: dossier.procedure_code.clone(),
            procedure_name: dossier
                .procedure_code
                .as_deref()
                .and_then(|code| self.procedures.get(code))
                .map(|p| p.name.clone()),
            unit_code: dossier.unit_code.clone(),
            received_at: rfc3339(at_ms(dossier.received_ms)),
            due_at: rfc3339(due),
            completed_at: resolved.map(rfc3339),
            state: if resolved.is_some() { "resolved_late" } else { "pending_late" },
            working_days_late: calendar.working_days_late(due, resolved.unwrap_or(self.as_of)),
            reason: text("reason"),
            apology_issued: text("apology_issued_at").is_some(),
            apology_issued_at: text("apology_issued_at"),
            apology_reference: text("apology_reference"),
        });
    }

    pub fn finish(mut self) -> Tally {
        self.tally.late.sort_by(|a, b| {
            (&a.agency_code, &a.due_at, &a.dossier_code).cmp(&(&b.agency_code, &b.due_at, &b.dossier_code))
        });
        self.tally
    }
}

/// When a dossier is due: the catalogue's reckoning from when it was received, where the
/// catalogue gives its procedure a processing time, else the one-stop system's `due_at`.
pub fn due(
    procedures: &Procedures,
    procedure: Option<&str>,
    received: Option<OffsetDateTime>,
    due_at: Option<&str>,
) -> Option<OffsetDateTime> {
    let catalogue = procedure.zip(received).and_then(|(code, received)| procedures.due(code, received));
    catalogue.or_else(|| OffsetDateTime::parse(due_at?, &Rfc3339).ok())
}

/// `part / whole` in percent, to two decimals; 0 of nothing.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn periods_are_read_strictly_and_bounded_in_vietnam() {
        assert_eq!(Period::month("2026-11"), Some(Period::Month { year: 2026, month: 11 }));
        for bad in ["2026-13", "2026-1", "26-11", "2026-11-01", "1999-11", ""] {
            assert_eq!(Period::month(bad), None, "{bad}");
        }
        assert_eq!(Period::quarter("2026-Q4"), Some(Period::Quarter { year: 2026, quarter: 4 }));
        assert_eq!(Period::quarter("2026-Q5"), None);
        assert_eq!(Period::year("2026"), Some(Period::Year { year: 2026 }));
        let (start, end) = Period::Month { year: 2026, month: 12 }.bounds();
        assert_eq!((start, end), (datetime!(2026-12-01 00:00 +07:00), datetime!(2027-01-01 00:00 +07:00)));
        let (start, end) = Period::Quarter { year: 2026, quarter: 4 }.bounds();
        assert_eq!((start, end), (datetime!(2026-10-01 00:00 +07:00), datetime!(2027-01-01 00:00 +07:00)));
        assert_eq!(Period::Year { year: 2026 }.bounds().1, datetime!(2027-01-01 00:00 +07:00));
    }

    #[test]
    fn every_dossier_of_the_window_is_counted_once() {
        let procedures = Procedures::default();
        let period = Period::Month { year: 2026, month: 10 };
        let mut monitor = Monitor::new(period, datetime!(2026-12-01 00:00 UTC), Grouping::Agency, &procedures);
        let ms = |at: OffsetDateTime| epoch_ms(at);
        let dossier =
            |code: &str, received: OffsetDateTime, closed: Option<OffsetDateTime>, status: i64| DossierFacts {
                code: code.into(),
                status: Some(status),
                agency_code: Some("000.00.01.H42".into()),
                received_ms: ms(received),
                due_at: Some("2026-10-12T17:00:00+07:00".into()),
                closed_ms: closed.map(ms),
                ..Default::default()
            };
        // Carried over and resolved late; received and resolved early; received and still open
        // past its date; closed before the month (not counted); received after it (not counted).
        monitor.add(&dossier("a", datetime!(2026-09-30 08:00 +07:00), Some(datetime!(2026-10-13 08:00 +07:00)), 10));
        monitor.add(&dossier("b", datetime!(2026-10-05 08:00 +07:00), Some(datetime!(2026-10-09 08:00 +07:00)), 10));
        monitor.add(&dossier("c", datetime!(2026-10-05 08:00 +07:00), None, 4));
        monitor.add(&dossier("d", datetime!(2026-09-01 08:00 +07:00), Some(datetime!(2026-09-30 08:00 +07:00)), 10));
        monitor.add(&dossier("e", datetime!(2026-11-01 00:00 +07:00), None, 1));
        let tally = monitor.finish();
        let c = &tally.province;
        assert_eq!((c.new_reception, c.pre_existing), (2, 1));
        assert_eq!((c.total_solved, c.solved_in_time, c.solved_early, c.solved_late), (2, 1, 1, 1));
        assert_eq!((c.total_pending, c.pending_late), (1, 1));
        let late: Vec<(&str, &str)> = tally.late.iter().map(|d| (d.dossier_code.as_str(), d.state)).collect();
        assert_eq!(late, [("a", "resolved_late"), ("c", "pending_late")]);
        assert_eq!(percent(2, 3), 66.67);
        assert_eq!(percent(1, 0), 0.0);
    }
}
