//! The province's dossier reports: `GET /v1/reports/monthly|quarterly|yearly` (received,
//! resolved early, in time and late, pending and already late, per agency and for the
//! province, with the indicators the plans set targets for) and `GET /v1/reports/late` (the
//! published late list). Each as JSON, CSV or XLSX. Computed by `crate::monitoring` from the
//! dossier messages the bus carried.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::exports::{Cell, ReportFormat, Table, download};
use super::problem::{Problem, ProblemDocument};
use super::request::ApiQuery;
use crate::auth::Caller;
use crate::calendar::VIETNAM;
use crate::monitoring::{Counts, Grouping, LateDossier, Monitor, Period, Tally, percent};
use crate::schema::Violation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(monthly))
        .routes(routes!(quarterly))
        .routes(routes!(yearly))
        .routes(routes!(late))
}

/// The query of the period reports; each route takes its own period parameter and refuses the
/// others'.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportQuery {
    /// The month, YYYY-MM: for `/v1/reports/monthly`.
    month: Option<String>,
    /// The quarter, YYYY-Qn such as 2026-Q4: for `/v1/reports/quarterly`.
    quarter: Option<String>,
    /// The year, YYYY: for `/v1/reports/yearly`.
    year: Option<String>,
    /// Only this agency's dossiers.
    agency: Option<String>,
    /// What the rows are per: `agency` (the default), `procedure`, `unit` or `sector`.
    #[param(inline)]
    by: Option<Grouping>,
    /// `json` (the default), `csv` or `xlsx`.
    #[param(inline)]
    format: Option<ReportFormat>,
}

/// Which period parameter a route reads.
#[derive(Clone, Copy)]
enum Span {
    Month,
    Quarter,
    Year,
}

impl ReportQuery {
    /// The route's period, or every problem with the query named.
    fn period(&self, span: Span) -> Result<Period, Problem> {
        let given = [("month", &self.month), ("quarter", &self.quarter), ("year", &self.year)];
        let (name, shape, example, read): (_, _, _, fn(&str) -> Option<Period>) = match span {
            Span::Month => ("month", "YYYY-MM", "?month=2026-11", Period::month),
            Span::Quarter => ("quarter", "YYYY-Qn", "?quarter=2026-Q4", Period::quarter),
            Span::Year => ("year", "YYYY", "?year=2026", Period::year),
        };
        let mut violations: Vec<Violation> = given
            .iter()
            .filter(|(other, value)| *other != name && value.is_some())
            .map(|(other, _)| {
                Violation::new(format!("/{other}"), format!("does not apply here: this report is per {name}"))
            })
            .collect();
        let text = given.iter().find(|(other, _)| *other == name).and_then(|(_, value)| value.as_deref());
        let period = match text {
            Some(text) => {
                read(text).ok_or_else(|| Violation::new(format!("/{name}"), format!("`{text}` is not {shape}")))
            }
            None => Err(Violation::new(format!("/{name}"), format!("is required: {shape}"))),
        };
        match period {
            Ok(period) if violations.is_empty() => Ok(period),
            Ok(_) => Err(Problem::invalid_query(example, violations)),
            Err(violation) => {
                violations.insert(0, violation);
                Err(Problem::invalid_query(example, violations))
            }
        }
    }
}

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

/// The report of one month.
///
/// Per agency (or `by` procedure, unit or field) and for the province. `format=csv|xlsx` gives
/// a file with the columns `Month, Year, NewReception, PreExisting, TotalSolved, SolvedInTime,
/// SolvedInTimePercent, SolvedLate, SolvedLatePercent, TotalPending, PendingLate,
/// PendingLatePercent`, then the rest.
#[utoipa::path(
    get,
    path = "/v1/reports/monthly",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The counts (or the file asked for)", body = PeriodReport),
        (status = 400, description = "The month missing or not YYYY-MM, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn monthly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<ReportQuery>) -> Response {
    report(&app, &caller, Span::Month, query).await
}

/// The report of one quarter, as the plans report to the chairman every quarter.
#[utoipa::path(
    get,
    path = "/v1/reports/quarterly",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The counts (or the file asked for)", body = PeriodReport),
        (status = 400, description = "The quarter missing or not YYYY-Qn, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn quarterly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<ReportQuery>) -> Response {
    report(&app, &caller, Span::Quarter, query).await
}

/// The report of one year.
#[utoipa::path(
    get,
    path = "/v1/reports/yearly",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The counts (or the file asked for)", body = PeriodReport),
        (status = 400, description = "The year missing or not YYYY, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn yearly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<ReportQuery>) -> Response {
    report(&app, &caller, Span::Year, query).await
}

/// Counts the period's dossiers (of one agency, when asked).
pub async fn tally(app: &AppState, period: Period, agency: Option<&str>, by: Grouping) -> Result<Tally, Problem> {
    let procedures = app.ingress.procedures.clone();
    let mut monitor = Monitor::new(period, OffsetDateTime::now_utc(), by, &procedures);
    let (start, end) = monitor.window();
    app.store.each_dossier_in(start, end, agency, |dossier| monitor.add(&dossier)).await?;
    Ok(monitor.finish())
}

async fn report(app: &AppState, caller: &Caller, span: Span, query: ReportQuery) -> Response {
    if let Err(denied) = caller.may_read_reports() {
        return Problem::from(denied).into_response();
    }
    let period = match query.period(span) {
        Ok(period) => period,
        Err(problem) => return problem.into_response(),
    };
    let by = query.by.unwrap_or_default();
    let tally = match tally(app, period, query.agency.as_deref(), by).await {
        Ok(tally) => tally,
        Err(problem) => return problem.into_response(),
    };
    let report = period_report(period, by, &tally);
    match query.format.unwrap_or_default() {
        ReportFormat::Json => Json(report).into_response(),
        format => download(&report_table(&report), format, &format!("bao-cao-{}", report.period)),
    }
}

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

/// The report as the platforms' columns; the province's row last, named `Toàn tỉnh`.
fn report_table(report: &PeriodReport) -> Table {
    let group_column = match report.by {
        Grouping::Agency => "AgencyCode",
        Grouping::Procedure => "ProcedureCode",
        Grouping::Unit => "UnitCode",
        Grouping::Sector => "SectorCode",
    };
    let mut columns = vec![group_column, "Month"];
    let quarterly = report.province.quarter.is_some();
    if quarterly {
        columns.push("Quarter");
    }
    columns.extend([
        "Year",
        "NewReception",
        "PreExisting",
        "TotalSolved",
        "SolvedInTime",
        "SolvedInTimePercent",
        "SolvedLate",
        "SolvedLatePercent",
        "TotalPending",
        "PendingLate",
        "PendingLatePercent",
        "SolvedEarly",
        "SolvedEarlyPercent",
        "ClosedWithoutResult",
        "ReceivedAtCounter",
        "ReceivedOnline",
        "ReceivedByPost",
        "PostalPercent",
        "FullyOnlinePercent",
        "OnlinePaymentPercent",
        "ReusePercent",
    ]);
    let row = |name: String, r: &ReportRow| {
        let mut cells = vec![Cell::Text(name), r.month.map_or(Cell::Empty, |m| Cell::Count(m.into()))];
        if quarterly {
            cells.push(r.quarter.map_or(Cell::Empty, |q| Cell::Count(q.into())));
        }
        cells.extend([
            Cell::Count(r.year as u64),
            Cell::Count(r.new_reception),
            Cell::Count(r.pre_existing),
            Cell::Count(r.total_solved),
            Cell::Count(r.solved_in_time),
            Cell::Percent(r.solved_in_time_percent),
            Cell::Count(r.solved_late),
            Cell::Percent(r.solved_late_percent),
            Cell::Count(r.total_pending),
            Cell::Count(r.pending_late),
            Cell::Percent(r.pending_late_percent),
            Cell::Count(r.solved_early),
            Cell::Percent(r.solved_early_percent),
            Cell::Count(r.closed_without_result),
            Cell::Count(r.received.counter),
            Cell::Count(r.received.online),
            Cell::Count(r.received.post),
            Cell::Percent(r.postal_percent),
            Cell::Percent(r.fully_online_percent),
            Cell::Percent(r.online_payment_percent),
            Cell::Percent(r.reuse_percent),
        ]);
        cells
    };
    let mut rows: Vec<Vec<Cell>> = report
        .rows
        .iter()
        .map(|r| {
            let code = r
                .agency_code
                .as_ref()
                .or(r.procedure_code.as_ref())
                .or(r.unit_code.as_ref())
                .or(r.sector_code.as_ref());
            row(code.cloned().unwrap_or_default(), r)
        })
        .collect();
    rows.push(row("Toàn tỉnh".into(), &report.province));
    Table { sheet: format!("Báo cáo {}", report.period), columns, rows }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LateQuery {
    /// YYYY-MM.
    #[param(required = true)]
    month: Option<String>,
    /// Only this agency's dossiers.
    agency: Option<String>,
    /// `json` (the default), `csv` or `xlsx`.
    #[param(inline)]
    format: Option<ReportFormat>,
}

/// The late list of a month.
#[derive(Serialize, ToSchema)]
pub struct LateList {
    pub period: String,
    /// When pending dossiers were judged late: the month's end, or now while it runs.
    pub as_of: String,
    /// Resolved late in the month, and still open past their due time at its end; by agency,
    /// then due date.
    pub late: Vec<LateDossier>,
    /// More were late than one list names (10,000): ask per agency.
    pub truncated: bool,
}

/// The published late list of a month.
///
/// Every dossier resolved late in the month or still open past its due time at its end, with
/// the agency's explanation and whether the apology letter was sent. No applicant's name or
/// number: the list is published.
#[utoipa::path(
    get,
    path = "/v1/reports/late",
    tag = "reports",
    params(LateQuery),
    responses(
        (status = 200, description = "The late dossiers (or the file asked for)", body = LateList),
        (status = 400, description = "The month missing or not YYYY-MM, or an unknown `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn late(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<LateQuery>) -> Response {
    if let Err(denied) = caller.may_read_reports() {
        return Problem::from(denied).into_response();
    }
    let Some(period) = query.month.as_deref().and_then(Period::month) else {
        let reason =
            query.month.as_ref().map_or("is required: YYYY-MM".into(), |text| format!("`{text}` is not YYYY-MM"));
        return Problem::invalid_query("?month=2026-11", vec![Violation::new("/month", reason)]).into_response();
    };
    let tally = match tally(&app, period, query.agency.as_deref(), Grouping::Agency).await {
        Ok(tally) => tally,
        Err(problem) => return problem.into_response(),
    };
    let list = LateList {
        period: period.label(),
        as_of: period_report(period, Grouping::Agency, &tally).as_of,
        late: tally.late,
        truncated: tally.late_cut,
    };
    match query.format.unwrap_or_default() {
        ReportFormat::Json => Json(list).into_response(),
        format => download(&late_table(&list), format, &format!("ho-so-tre-han-{}", list.period)),
    }
}

fn late_table(list: &LateList) -> Table {
    let columns = vec![
        "DossierCode",
        "AgencyCode",
        "ProcedureCode",
        "ProcedureName",
        "UnitCode",
        "ReceivedAt",
        "DueAt",
        "CompletedAt",
        "State",
        "WorkingDaysLate",
        "Reason",
        "ApologyIssued",
        "ApologyIssuedAt",
        "ApologyReference",
    ];
    let rows = list
        .late
        .iter()
        .map(|d| {
            vec![
                Cell::Text(d.dossier_code.clone()),
                d.agency_code.clone().into(),
                d.procedure_code.clone().into(),
                d.procedure_name.clone().into(),
                d.unit_code.clone().into(),
                Cell::Text(d.received_at.clone()),
                Cell::Text(d.due_at.clone()),
                d.completed_at.clone().into(),
                Cell::Text(d.state.to_string()),
                Cell::Count(d.working_days_late.into()),
                d.reason.clone().into(),
                Cell::Text(if d.apology_issued { "yes" } else { "no" }.to_string()),
                d.apology_issued_at.clone().into(),
                d.apology_reference.clone().into(),
            ]
        })
        .collect();
    Table { sheet: format!("Trễ hạn {}", list.period), columns, rows }
}
