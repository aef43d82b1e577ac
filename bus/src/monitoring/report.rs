//! A period's report: the counts of [`super::Monitor`] with their percentages, as the API, the
//! exports and the `report.monthly` message give them.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::{Counts, Grouping, Monitor, Period, Tally, percent};
use crate::calendar::VIETNAM;
use crate::procedures::Procedures;
use crate::store::{Store, StoreError};

/// A period's counts: the province's, and per agency (or procedure, unit, field).
#[derive(Serialize, ToSchema)]
pub struct PeriodReport {
    /// `2026-11`, `2026-Q4` or `2026`.
    pub period: String,
    /// Its first and last day, YYYY-MM-DD (Vietnam's time).
    pub from: String,
    pub to: String,
    /// When pending dossiers were judged late: the period's end, or now while it runs. RFC 3339.
    pub as_of: String,
    pub by: Grouping,
    pub province: ReportRow,
    pub rows: Vec<ReportRow>,
}

/// The fields integration platforms send upward (`NewReception`, `PreExisting`, `TotalSolved`,
/// …, in snake_case here), then what else the plans count.
#[derive(Serialize, ToSchema)]
pub struct ReportRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_code: Option<String>,
    /// The month, in a monthly report.
    pub month: Option<u8>,
    /// The quarter, in a quarterly report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarter: Option<u8>,
    pub year: i32,
    /// Received in the period.
    pub new_reception: u64,
    /// Received before it and still open at its start.
    pub pre_existing: u64,
    /// Resolved in it (status 9 or 10).
    pub total_solved: u64,
    /// Resolved by their due time (the early ones included).
    pub solved_in_time: u64,
    pub solved_in_time_percent: f64,
    pub solved_late: u64,
    pub solved_late_percent: f64,
    /// Open at its end.
    pub total_pending: u64,
    /// Open at its end and already past their due time.
    pub pending_late: u64,
    pub pending_late_percent: f64,
    /// Resolved before their due day (part of `solved_in_time`).
    pub solved_early: u64,
    pub solved_early_percent: f64,
    /// Closed in it without a result: not accepted, withdrawn, stopped.
    pub closed_without_result: u64,
    /// Received in the period, by channel.
    pub received: Received,
    /// Of those received: handed in or returned through the public postal service.
    pub postal_percent: f64,
    /// Of those received: handed in online and, where there is a fee, paid online.
    pub fully_online_percent: f64,
    /// Of those received with a fee: paid through the national portal.
    pub online_payment_percent: f64,
    /// Of those received: at least one paper their procedure needs was already on file.
    pub reuse_percent: f64,
}

#[derive(Serialize, ToSchema)]
pub struct Received {
    pub counter: u64,
    pub online: u64,
    pub post: u64,
}

impl ReportRow {
    fn new(period: Period, by: Option<(Grouping, &str)>, c: &Counts) -> ReportRow {
        let code = |grouping: Grouping| by.filter(|(g, _)| *g == grouping).map(|(_, code)| code.to_string());
        ReportRow {
            agency_code: code(Grouping::Agency),
            procedure_code: code(Grouping::Procedure),
            unit_code: code(Grouping::Unit),
            sector_code: code(Grouping::Sector),
            month: period.month_number(),
            quarter: period.quarter_number(),
            year: period.year_number(),
            new_reception: c.new_reception,
            pre_existing: c.pre_existing,
            total_solved: c.total_solved,
            solved_in_time: c.solved_in_time,
            solved_in_time_percent: percent(c.solved_in_time, c.total_solved),
            solved_late: c.solved_late,
            solved_late_percent: percent(c.solved_late, c.total_solved),
            total_pending: c.total_pending,
            pending_late: c.pending_late,
            pending_late_percent: percent(c.pending_late, c.total_pending),
            solved_early: c.solved_early,
            solved_early_percent: percent(c.solved_early, c.total_solved),
            closed_without_result: c.closed_without_result,
            received: Received { counter: c.received_at_counter, online: c.received_online, post: c.received_by_post },
            postal_percent: percent(c.through_post, c.new_reception),
            fully_online_percent: percent(c.fully_online, c.new_reception),
            online_payment_percent: percent(c.paid_online, c.with_fee),
            reuse_percent: percent(c.reused, c.new_reception),
        }
    }
}

/// Counts the period's dossiers (of one agency, when asked), as of now.
pub async fn tally(
    store: &Store,
    procedures: &Procedures,
    period: Period,
    agency: Option<&str>,
    by: Grouping,
) -> Result<Tally, StoreError> {
    let mut monitor = Monitor::new(period, OffsetDateTime::now_utc(), by, procedures);
    let (start, end) = monitor.window();
    store.each_dossier_in(start, end, agency, |dossier| monitor.add(&dossier)).await?;
    Ok(monitor.finish())
}

/// The counts as reports give them: percentages, and a row per group.
pub fn period_report(period: Period, by: Grouping, tally: &Tally) -> PeriodReport {
    let (start, end) = period.bounds();
    let last_day = end.date().previous_day().unwrap_or(end.date());
    let as_of = end.min(OffsetDateTime::now_utc().to_offset(VIETNAM));
    PeriodReport {
        period: period.label(),
        from: start.date().to_string(),
        to: last_day.to_string(),
        as_of: as_of.format(&Rfc3339).unwrap_or_default(),
        by,
        province: ReportRow::new(period, None, &tally.province),
        rows: tally.groups.iter().map(|(code, counts)| ReportRow::new(period, Some((by, code)), counts)).collect(),
    }
}
