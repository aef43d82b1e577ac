//! The province's dossier reports: `GET /v1/reports/monthly|quarterly|yearly` (received,
//! resolved early, in time and late, pending and already late, per agency and for the
//! province, with the indicators the plans set targets for) and `GET /v1/reports/late` (the
//! published late list). Each as JSON, CSV or XLSX. Computed by `crate::monitoring` from the
//! dossier messages the bus carried.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::exports::{Cell, ReportFormat, Table, download};
use super::problem::{Problem, ProblemDocument};
use super::request::ApiQuery;
use crate::auth::Caller;
use crate::config::Role;
use crate::monitoring::{Grouping, LateDossier, Period, PeriodReport, ReportRow, period_report, tally, upward};
use crate::schema::Violation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(monthly))
        .routes(routes!(quarterly))
        .routes(routes!(yearly))
        .routes(routes!(late))
        .routes(routes!(send_monthly))
}

/// The query of a period report: its period parameter, then what every report takes.
macro_rules! period_query {
    ($query:ident, $period:ident, $doc:literal, $pattern:literal) => {
        #[derive(Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        struct $query {
            #[doc = $doc]
            #[param(required = true, pattern = $pattern)]
            $period: Option<String>,
            /// Only this agency's dossiers.
            agency: Option<String>,
            /// What the rows are per: `agency` (the default), `procedure`, `unit` or `sector`.
            #[param(inline)]
            by: Option<Grouping>,
            /// `json` (the default), `csv` or `xlsx`.
            #[param(inline)]
            format: Option<ReportFormat>,
        }

        impl From<$query> for ReportQuery {
            fn from(query: $query) -> ReportQuery {
                ReportQuery { period: query.$period, agency: query.agency, by: query.by, format: query.format }
            }
        }
    };
}

// The years 2000 to 2100.
period_query!(MonthQuery, month, "The month, YYYY-MM.", "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$");
period_query!(QuarterQuery, quarter, "The quarter, YYYY-Qn such as 2026-Q4.", "^(20[0-9]{2}|2100)-Q[1-4]$");
period_query!(YearQuery, year, "The year, YYYY.", "^(20[0-9]{2}|2100)$");

/// What a period report was asked, whatever its period.
struct ReportQuery {
    period: Option<String>,
    agency: Option<String>,
    by: Option<Grouping>,
    format: Option<ReportFormat>,
}

/// Which period a route reads.
#[derive(Clone, Copy)]
enum Span {
    Month,
    Quarter,
    Year,
}

impl Span {
    /// The period `text` names, or the problem with it.
    fn read(self, text: Option<&str>) -> Result<Period, Problem> {
        let (name, shape, example, read): (_, _, _, fn(&str) -> Option<Period>) = match self {
            Span::Month => ("month", "YYYY-MM", "?month=2026-11", Period::month),
            Span::Quarter => ("quarter", "YYYY-Qn", "?quarter=2026-Q4", Period::quarter),
            Span::Year => ("year", "YYYY", "?year=2026", Period::year),
        };
        let violation = match text {
            Some(text) => match read(text) {
                Some(period) => return Ok(period),
                None => Violation::new(format!("/{name}"), format!("`{text}` is not {shape}")),
            },
            None => Violation::new(format!("/{name}"), format!("is required: {shape}")),
        };
        Err(Problem::invalid_query(example, vec![violation]))
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
    params(MonthQuery),
    responses(
        (status = 200, description = "The counts, or the file `format` asks for", content(
            (PeriodReport = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "The month missing or not YYYY-MM, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn monthly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<MonthQuery>) -> Response {
    report(&app, &caller, Span::Month, query.into()).await
}

/// The report of one quarter, as the plans report to the chairman every quarter.
#[utoipa::path(
    get,
    path = "/v1/reports/quarterly",
    tag = "reports",
    params(QuarterQuery),
    responses(
        (status = 200, description = "The counts, or the file `format` asks for", content(
            (PeriodReport = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "The quarter missing or not YYYY-Qn, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn quarterly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<QuarterQuery>) -> Response {
    report(&app, &caller, Span::Quarter, query.into()).await
}

/// The report of one year.
#[utoipa::path(
    get,
    path = "/v1/reports/yearly",
    tag = "reports",
    params(YearQuery),
    responses(
        (status = 200, description = "The counts, or the file `format` asks for", content(
            (PeriodReport = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "The year missing or not YYYY, or an unknown `by` or `format`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn yearly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<YearQuery>) -> Response {
    report(&app, &caller, Span::Year, query.into()).await
}

async fn report(app: &AppState, caller: &Caller, span: Span, query: ReportQuery) -> Response {
    if let Err(denied) = caller.may_read_reports() {
        return Problem::from(denied).into_response();
    }
    let period = match span.read(query.period.as_deref()) {
        Ok(period) => period,
        Err(problem) => return problem.into_response(),
    };
    let by = query.by.unwrap_or_default();
    let tally = match tally(&app.store, &app.ingress.procedures, period, query.agency.as_deref(), by).await {
        Ok(tally) => tally,
        Err(e) => return Problem::from(e).into_response(),
    };
    let report = period_report(period, by, &tally);
    match query.format.unwrap_or_default() {
        ReportFormat::Json => Json(report).into_response(),
        format => download(&report_table(&report), format, &format!("bao-cao-{}", report.period)),
    }
}

/// The report as the platforms' columns; the province's row last, named `Toàn tỉnh`.
pub(crate) fn report_table(report: &PeriodReport) -> Table {
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
struct SendQuery {
    /// The month, YYYY-MM; last month when absent.
    #[param(pattern = "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
    month: Option<String>,
}

/// A monthly report handed to the bus.
#[derive(Serialize, ToSchema)]
pub struct SentReport {
    /// The `report.monthly` message's id: `GET /v1/messages/{id}` follows its delivery.
    pub id: uuid::Uuid,
    pub period: String,
}

/// Sends a month's report upward now.
///
/// As a `report.monthly` message from the bus (`lgsp.bus`), delivered by the adapters routed for
/// it (the national portal's statistics service); one sent later for the same month replaces
/// it. Needs the `operator` role.
#[utoipa::path(
    post,
    path = "/v1/reports/monthly/send",
    tag = "reports",
    params(SendQuery),
    responses(
        (status = 202, description = "Accepted: the broker confirmed it", body = SentReport),
        (status = 400, description = "The month not YYYY-MM", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "No adapter takes report.monthly", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store cannot take it now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn send_monthly(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<SendQuery>) -> Response {
    if let Err(denied) = caller.need(Role::Operator) {
        return Problem::from(denied).into_response();
    }
    let period = match query.month.as_deref() {
        None => upward::last_month(time::OffsetDateTime::now_utc()),
        Some(text) => match Period::month(text) {
            Some(period) => period,
            None => {
                let violations = vec![Violation::new("/month", format!("`{text}` is not YYYY-MM"))];
                return Problem::invalid_query("?month=2026-11", violations).into_response();
            }
        },
    };
    let sent = upward::send_monthly(&app.ingress, period).await;
    let detail = json!({"period": period.label(), "result": if sent.is_ok() { "done" } else { "refused" }});
    app.log.operator_action("operator.action", caller.name(), "reports.send_monthly", detail);
    match sent {
        Ok((_, id)) => (StatusCode::ACCEPTED, Json(SentReport { id, period: period.label() })).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LateQuery {
    /// The month, YYYY-MM.
    #[param(required = true, pattern = "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
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
        (status = 200, description = "The late dossiers, or the file `format` asks for", content(
            (LateList = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
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
    let tally =
        match tally(&app.store, &app.ingress.procedures, period, query.agency.as_deref(), Grouping::Agency).await {
            Ok(tally) => tally,
            Err(e) => return Problem::from(e).into_response(),
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

pub(crate) fn late_table(list: &LateList) -> Table {
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
