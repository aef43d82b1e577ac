//! The dossier monitoring page: what the head of a public-administration centre opens every
//! morning. A month's counts for the province (received, by channel; resolved, early, in time;
//! pending, already late; the shares the plans set targets for), shown against those targets;
//! the same counts per agency (or procedure, unit, field); and the month's late list, the
//! dossiers without an explanation or an apology marked. The counts, the files and the role
//! check are the API's own (`GET /v1/reports/monthly`, `GET /v1/reports/late`): the page asks
//! the same functions, and its downloads are the same tables as XLSX or CSV, served here because
//! the API takes no session cookie.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;

use super::ConsoleState;
use super::page::{self, field, vietnam_at};
use super::session::Operator;
use crate::auth::Caller;
use crate::calendar::VIETNAM;
use crate::http::dossier_reports::{LateList, late_table, report_table};
use crate::http::evidence::Refused;
use crate::http::exports::{ReportFormat, download};
use crate::http::problem::Problem;
use crate::monitoring::{Counts, Grouping, LateDossier, Period, PeriodReport, ReportRow, Tally, period_report, tally};
use crate::privacy::redact;

/// Late dossiers listed on the page at most; the downloads hold them all.
pub const LATE_SHOWN: usize = 500;

/// The plans' targets, in percent: resolved in time (at least), resolved early (more than),
/// received or returned by post (at least), fees paid online (more than).
const IN_TIME_TARGET: u64 = 90;
const EARLY_TARGET: u64 = 60;
const POSTAL_TARGET: u64 = 20;
const ONLINE_PAYMENT_TARGET: u64 = 60;

/// Each grouping: its word in the query, and what its rows are called.
const GROUPINGS: [(Grouping, &str, &str); 4] = [
    (Grouping::Agency, "agency", "Cơ quan"),
    (Grouping::Procedure, "procedure", "Thủ tục"),
    (Grouping::Unit, "unit", "Đơn vị hành chính"),
    (Grouping::Sector, "sector", "Lĩnh vực"),
];

/// What the form sends, as text.
#[derive(Deserialize, Default)]
pub struct MonitorForm {
    /// YYYY-MM; this month (in Vietnam) when absent.
    month: Option<String>,
    /// Only this agency's dossiers.
    agency: Option<String>,
    /// `agency` (the default), `procedure`, `unit` or `sector`.
    by: Option<String>,
}

/// The form read: a month, an agency maybe, a grouping.
#[derive(Debug)]
struct Asked {
    period: Period,
    agency: Option<String>,
    by: Grouping,
}

impl Asked {
    /// The query string that asks for this again, for links.
    fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("month", &self.period.label());
        if let Some(agency) = &self.agency {
            query.append_pair("agency", agency);
        }
        if self.by != Grouping::Agency {
            query.append_pair("by", by_word(self.by));
        }
        query.finish()
    }
}

fn read(form: &MonitorForm) -> Result<Asked, String> {
    let mut problems = Vec::new();
    let period = match field(&form.month) {
        None => Some(this_month(OffsetDateTime::now_utc())),
        Some(text) => Period::month(&text).or_else(|| {
            problems.push(format!("`{text}` không phải một tháng: hãy nhập theo dạng YYYY-MM, ví dụ 2026-10"));
            None
        }),
    };
    let by = match field(&form.by) {
        None => Some(Grouping::Agency),
        Some(word) => GROUPINGS.iter().find(|(_, w, _)| *w == word).map(|(g, _, _)| *g).or_else(|| {
            problems.push(format!("`{word}` không phải cách nhóm (agency, procedure, unit hoặc sector)"));
            None
        }),
    };
    match (period, by) {
        (Some(period), Some(by)) => Ok(Asked { period, agency: field(&form.agency), by }),
        _ => Err(problems.join("; ")),
    }
}

/// The month `now` is in, in Vietnam.
fn this_month(now: OffsetDateTime) -> Period {
    let today = now.to_offset(VIETNAM).date();
    Period::Month { year: today.year(), month: today.month().into() }
}

/// The month before (`-1`) or after (`1`) a month.
fn next_month(period: Period, step: i32) -> Option<Period> {
    let Period::Month { year, month } = period else { return None };
    let index = year * 12 + i32::from(month) - 1 + step;
    let next = Period::Month { year: index.div_euclid(12), month: (index.rem_euclid(12) + 1) as u8 };
    // Only the years a query may name.
    Period::month(&next.label())
}

fn by_word(by: Grouping) -> &'static str {
    GROUPINGS.iter().find(|(g, _, _)| *g == by).map_or("agency", |(_, word, _)| word)
}

fn by_heading(by: Grouping) -> &'static str {
    GROUPINGS.iter().find(|(g, _, _)| *g == by).map_or("Cơ quan", |(_, _, heading)| heading)
}

/// Why the page has no counts: the status it is answered with, what it says, and what the
/// message log's `request.refused` entry says when the bus refused.
struct Failed {
    status: StatusCode,
    why: String,
    refused: Option<Refused>,
}

/// The month's counts, as the API counts them, if `operator` may read them.
async fn counted(console: &ConsoleState, operator: &Caller, form: &MonitorForm) -> Result<(Asked, Tally), Failed> {
    if let Err(denied) = operator.may_read_reports() {
        let (why, refused) = page::refusal(&Problem::from(denied));
        return Err(Failed { status: StatusCode::FORBIDDEN, why, refused: Some(refused) });
    }
    let asked = read(form).map_err(|why| Failed { status: StatusCode::BAD_REQUEST, why, refused: None })?;
    let app = &console.app;
    match tally(&app.store, &app.ingress.procedures, asked.period, asked.agency.as_deref(), asked.by).await {
        Ok(tally) => Ok((asked, tally)),
        Err(e) => Err(Failed {
            status: StatusCode::SERVICE_UNAVAILABLE,
            why: format!("kho dữ liệu không trả lời: {e}"),
            refused: None,
        }),
    }
}

/// `GET /console/dossiers`: the month's counts, per group, and its late list.
pub async fn page(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<MonitorForm>, QueryRejection>,
) -> Response {
    let form = query.map(|Query(form)| form).unwrap_or_default();
    match counted(&console, &operator, &form).await {
        Ok((asked, tally)) => {
            let source = format!("/console/dossiers/live?{}", asked.query());
            let body = html! {
                (filters(&form, Some(&asked)))
                (downloads(&asked))
                div #live data-live=(source) data-event="dossiers" { (counts(&console, &asked, &tally)) }
                script src="/console/static/console.js" {}
            };
            page::frame(&operator, "Theo dõi hồ sơ", body)
        }
        Err(failed) => failed_page(&operator, &form, failed),
    }
}

/// The part of the page that changes as dossiers move: the summary, the groups, the late list.
fn counts(console: &ConsoleState, asked: &Asked, tally: &Tally) -> Markup {
    let report = period_report(asked.period, asked.by, tally);
    html! {
        (summary(asked, &report, &tally.province))
        (groups(console, asked, &report, tally))
        (late_list(&tally.late, tally.late_cut))
        p.updated { "Cập nhật lúc " (page::vietnam_time(crate::now_ms())) }
    }
}

/// How often the counts are sent again: each is a reading of the month's dossiers.
const EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /console/dossiers/live?month=…`: the counts as server-sent events (`dossiers`) every
/// `EVERY`, so that the page follows the dossiers without a reload.
pub async fn live(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<MonitorForm>, QueryRejection>,
) -> Response {
    let form = query.map(|Query(form)| form).unwrap_or_default();
    if let Err(failed) = counted(&console, &operator, &form).await {
        return failed_page(&operator, &form, failed);
    }
    let (operator_now, form) = (operator.clone(), std::sync::Arc::new(form));
    super::live::stream(console, &operator, "dossiers", EVERY, move |console| {
        let (operator, form) = (operator_now.clone(), form.clone());
        async move {
            match counted(&console, &operator, &form).await {
                Ok((asked, tally)) => counts(&console, &asked, &tally),
                Err(failed) => html! { p.notice role="alert" { "Không xem được số liệu: " (failed.why) } },
            }
        }
    })
}

/// The page saying why it has no counts, with the form to ask again.
fn failed_page(operator: &Caller, form: &MonitorForm, failed: Failed) -> Response {
    let body = html! {
        (filters(form, None))
        p.notice role="alert" { "Không xem được số liệu: " (failed.why) }
    };
    let mut response = page::frame(operator, "Theo dõi hồ sơ", body);
    *response.status_mut() = failed.status;
    if let Some(refused) = failed.refused {
        response.extensions_mut().insert(refused);
    }
    response
}

/// `GET /console/dossiers/{file}`: `report.xlsx`, `report.csv`, `late.xlsx` or `late.csv`, the
/// tables `GET /v1/reports/monthly` and `GET /v1/reports/late` give as files.
pub async fn file(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    Path(file): Path<String>,
    query: Result<Query<MonitorForm>, QueryRejection>,
) -> Response {
    let (late, format) = match file.as_str() {
        "report.xlsx" => (false, ReportFormat::Xlsx),
        "report.csv" => (false, ReportFormat::Csv),
        "late.xlsx" => (true, ReportFormat::Xlsx),
        "late.csv" => (true, ReportFormat::Csv),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let form = query.map(|Query(form)| form).unwrap_or_default();
    let (asked, tally) = match counted(&console, &operator, &form).await {
        Ok(counted) => counted,
        Err(failed) => return failed_page(&operator, &form, failed),
    };
    let report = period_report(asked.period, asked.by, &tally);
    let mut response = if late {
        let list = LateList { period: report.period, as_of: report.as_of, late: tally.late, truncated: tally.late_cut };
        download(&late_table(&list), format, &format!("ho-so-tre-han-{}", list.period))
    } else {
        download(&report_table(&report), format, &format!("bao-cao-{}", report.period))
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The month, agency and grouping to show, and the dossier search that leads to a dossier's
/// messages.
fn filters(form: &MonitorForm, asked: Option<&Asked>) -> Markup {
    let month = match asked {
        Some(asked) => asked.period.label(),
        None => form.month.clone().unwrap_or_default(),
    };
    let by = asked.map(|a| a.by);
    let around = |step| {
        let asked = asked?;
        Some(Asked { period: next_month(asked.period, step)?, agency: asked.agency.clone(), by: asked.by })
    };
    html! {
        form.search.monitor method="get" action="/console/dossiers" {
            label { "Tháng" input #month name="month" type="month" value=(month) placeholder="2026-10"; }
            label { "Cơ quan (mã)" input #agency name="agency" type="text" value=(form.agency.as_deref().unwrap_or("")) placeholder="Tất cả"; }
            label { "Nhóm theo"
                select #by name="by" {
                    @for (grouping, word, heading) in GROUPINGS {
                        option value=(word) selected[by == Some(grouping)] { (heading) }
                    }
                }
            }
            button type="submit" { "Xem" }
            @if let Some(before) = around(-1) { a.step href={ "/console/dossiers?" (before.query()) } { "← Tháng trước" } }
            @if let Some(after) = around(1) { a.step href={ "/console/dossiers?" (after.query()) } { "Tháng sau →" } }
        }
        form.search.find method="get" action="/console/messages" {
            label { "Tìm đường đi của một hồ sơ" input #dossier name="dossier" type="text" placeholder="000.00.01.H42-261001-0001"; }
            button type="submit" { "Tìm" }
        }
    }
}

/// Links to the month's report and late list as files.
fn downloads(asked: &Asked) -> Markup {
    let query = asked.query();
    html! {
        div.downloads {
            span { "Tải báo cáo: " }
            a data-download="report-xlsx" href={ "/console/dossiers/report.xlsx?" (query) } { "Excel (XLSX)" }
            a data-download="report-csv" href={ "/console/dossiers/report.csv?" (query) } { "CSV" }
            span { " · Danh sách trễ hạn: " }
            a data-download="late-xlsx" href={ "/console/dossiers/late.xlsx?" (query) } { "Excel (XLSX)" }
            a data-download="late-csv" href={ "/console/dossiers/late.csv?" (query) } { "CSV" }
        }
    }
}

/// `part / whole` as a page says it: `66,67%`, `90%`; `-` of nothing.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let text = format!("{:.2}", crate::monitoring::percent(part, whole));
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.').replace('.', ","))
}

/// A percentage the report gave, as a page says it (of nothing: `-`).
fn shown(value: f64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let text = format!("{value:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.').replace('.', ","))
}

/// Whether `part / whole` meets a target: `at_least` or more, or more than it. `None` of nothing.
fn meets(part: u64, whole: u64, target: u64, at_least: bool) -> Option<bool> {
    (whole > 0).then(|| if at_least { part * 100 >= target * whole } else { part * 100 > target * whole })
}

/// One indicator of the summary, with its target if the plans set one.
fn indicator(
    key: &str,
    label: &str,
    value: String,
    detail: Option<Markup>,
    target: Option<(&str, Option<bool>)>,
) -> Markup {
    let met = match target {
        Some((_, Some(true))) => "yes",
        Some((_, Some(false))) => "no",
        _ => "none",
    };
    html! {
        li data-indicator=(key) data-met=(met) {
            span.label { (label) }
            strong.value { (value) }
            @if let Some(detail) = detail { span.detail { (detail) } }
            @if let Some((words, verdict)) = target {
                span.target {
                    "Chỉ tiêu " (words)
                    @match verdict {
                        Some(true) => { ": " b.met { "đạt" } },
                        Some(false) => { ": " b.unmet { "chưa đạt" } },
                        None => {},
                    }
                }
            }
        }
    }
}

/// The province's month (or the agency's, when one was asked for), against the plans' targets.
fn summary(asked: &Asked, report: &PeriodReport, c: &Counts) -> Markup {
    let (year, month) = match asked.period {
        Period::Month { year, month } => (year, month),
        _ => (report.province.year, 0),
    };
    let whose = match &asked.agency {
        Some(agency) => format!("Cơ quan {agency}"),
        None => "Toàn tỉnh".into(),
    };
    html! {
        section.dossier-summary {
            h2 { (whose) ", tháng " (month) "/" (year) }
            p.updated { "Từ " (day(&report.from)) " đến " (day(&report.to)) "; hồ sơ quá hạn tính đến " (vietnam_at(&report.as_of)) "." }
            ul.indicators {
                (indicator("received", "Tiếp nhận mới", c.new_reception.to_string(), Some(html! {
                    "Trực tiếp " (c.received_at_counter) " · trực tuyến " (c.received_online) " · bưu chính " (c.received_by_post)
                    br; "Kỳ trước chuyển sang: " (c.pre_existing)
                }), None))
                (indicator("solved", "Đã giải quyết", c.total_solved.to_string(), Some(html! {
                    "Trễ hạn " (c.solved_late) " · không giải quyết, rút, dừng: " (c.closed_without_result)
                }), None))
                (indicator("in-time", "Giải quyết đúng hạn", percent(c.solved_in_time, c.total_solved),
                    Some(html! { (c.solved_in_time) " / " (c.total_solved) " hồ sơ" }),
                    Some(("≥ 90%", meets(c.solved_in_time, c.total_solved, IN_TIME_TARGET, true)))))
                (indicator("early", "Giải quyết trước hạn", percent(c.solved_early, c.total_solved),
                    Some(html! { (c.solved_early) " / " (c.total_solved) " hồ sơ" }),
                    Some(("> 60%", meets(c.solved_early, c.total_solved, EARLY_TARGET, false)))))
                (indicator("pending", "Đang giải quyết", c.total_pending.to_string(), None, None))
                (indicator("pending-late", "Đang giải quyết, đã quá hạn", c.pending_late.to_string(),
                    Some(html! { (percent(c.pending_late, c.total_pending)) " số đang giải quyết" }), None))
                (indicator("postal", "Qua bưu chính công ích", percent(c.through_post, c.new_reception),
                    Some(html! { "Nộp hoặc nhận kết quả qua bưu chính: " (c.through_post) " / " (c.new_reception) }),
                    Some(("≥ 20%", meets(c.through_post, c.new_reception, POSTAL_TARGET, true)))))
                (indicator("fully-online", "Trực tuyến toàn trình", percent(c.fully_online, c.new_reception),
                    Some(html! { (c.fully_online) " / " (c.new_reception) " hồ sơ" }), None))
                (indicator("online-payment", "Thanh toán trực tuyến", percent(c.paid_online, c.with_fee),
                    Some(html! { (c.paid_online) " / " (c.with_fee) " hồ sơ có phí, lệ phí" }),
                    Some(("> 60%", meets(c.paid_online, c.with_fee, ONLINE_PAYMENT_TARGET, false)))))
                (indicator("reuse", "Tái sử dụng dữ liệu", percent(c.reused, c.new_reception),
                    Some(html! { (c.reused) " / " (c.new_reception) " hồ sơ có giấy tờ đã số hóa" }), None))
            }
        }
    }
}

/// `2026-10-31` as `31/10/2026`.
fn day(iso: &str) -> String {
    let mut parts = iso.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(year), Some(month), Some(day)) => format!("{day}/{month}/{year}"),
        _ => iso.to_string(),
    }
}

/// The report's rows: one per agency (procedure, unit, field), then the province's.
fn groups(console: &ConsoleState, asked: &Asked, report: &PeriodReport, tally: &Tally) -> Markup {
    let procedures = &console.app.ingress.procedures;
    // `period_report` made a row of each group, in the same order.
    let rows: Vec<(&String, &Counts, &ReportRow)> =
        tally.groups.iter().zip(&report.rows).map(|((code, counts), row)| (code, counts, row)).collect();
    html! {
        section.dossier-groups {
            h2 { "Theo " (by_heading(asked.by).to_lowercase()) }
            @if rows.is_empty() {
                p.count { "Không có hồ sơ nào trong tháng." }
            } @else {
                table {
                    thead { tr {
                        th { (by_heading(asked.by)) }
                        th.num { "Tiếp nhận mới" } th.num.minor { "Kỳ trước chuyển sang" } th.num { "Đã giải quyết" }
                        th.num { "Đúng hạn" } th.num { "Trước hạn" } th.num { "Trễ hạn" }
                        th.num { "Đang giải quyết" } th.num { "Đã quá hạn" } th.num.minor { "Không giải quyết" }
                        th.num { "Bưu chính" } th.num.minor { "Toàn trình" } th.num { "Thanh toán trực tuyến" } th.num.minor { "Tái sử dụng" }
                        th.bar { "Đúng hạn · trễ hạn · quá hạn" }
                    } }
                    tbody {
                        @for (code, counts, row) in &rows {
                            @let name = (asked.by == Grouping::Procedure).then(|| procedures.get(code).map(|p| p.name.as_str())).flatten();
                            tr data-group=(code) {
                                th scope="row" {
                                    @if code.is_empty() { "(không rõ)" } @else { span.id { (code) } }
                                    @if let Some(name) = name { br; span.subject { (name) } }
                                }
                                (cells(counts, row))
                            }
                        }
                    }
                    tfoot {
                        tr data-province {
                            th scope="row" { @if asked.agency.is_some() { "Tổng" } @else { "Toàn tỉnh" } }
                            (cells(&tally.province, &report.province))
                        }
                    }
                }
                p.legend {
                    span.key.in-time {} "đúng hạn " span.key.late {} "trễ hạn " span.key.overdue {} "đang giải quyết, đã quá hạn "
                    span.key.pending {} "đang giải quyết, trong hạn"
                }
            }
        }
    }
}

/// A row's counts and shares; the ones below their target marked.
fn cells(c: &Counts, r: &ReportRow) -> Markup {
    let mark = |verdict: Option<bool>| match verdict {
        Some(false) => "num unmet",
        _ => "num",
    };
    html! {
        td.num data-field="new_reception" { (r.new_reception) }
        td.num.minor data-field="pre_existing" { (r.pre_existing) }
        td.num data-field="total_solved" { (r.total_solved) }
        td class=(mark(meets(c.solved_in_time, c.total_solved, IN_TIME_TARGET, true))) data-field="solved_in_time" {
            (r.solved_in_time) " " span.share { "(" (shown(r.solved_in_time_percent, c.total_solved)) ")" }
        }
        td class=(mark(meets(c.solved_early, c.total_solved, EARLY_TARGET, false))) data-field="solved_early" {
            (r.solved_early) " " span.share { "(" (shown(r.solved_early_percent, c.total_solved)) ")" }
        }
        td.num data-field="solved_late" { (r.solved_late) }
        td.num data-field="total_pending" { (r.total_pending) }
        td class=(if r.pending_late > 0 { "num unmet" } else { "num" }) data-field="pending_late" { (r.pending_late) }
        td.num.minor data-field="closed_without_result" { (r.closed_without_result) }
        td class=(mark(meets(c.through_post, c.new_reception, POSTAL_TARGET, true))) data-field="postal_percent" {
            (shown(r.postal_percent, c.new_reception))
        }
        td.num.minor data-field="fully_online_percent" { (shown(r.fully_online_percent, c.new_reception)) }
        td class=(mark(meets(c.paid_online, c.with_fee, ONLINE_PAYMENT_TARGET, false))) data-field="online_payment_percent" {
            (shown(r.online_payment_percent, c.with_fee))
        }
        td.num.minor data-field="reuse_percent" { (shown(r.reuse_percent, c.new_reception)) }
        td.bar { (bar(c)) }
    }
}

/// The resolved and the pending as one bar: in time, late, pending past due, pending in time.
/// Inline SVG: the page's policy allows no inline style, and needs no script for this.
fn bar(c: &Counts) -> Markup {
    let whole = c.total_solved + c.total_pending;
    if whole == 0 {
        return html! {};
    }
    let parts = [
        ("in-time", c.solved_in_time),
        ("late", c.solved_late),
        ("overdue", c.pending_late),
        ("pending", c.total_pending - c.pending_late),
    ];
    let label = format!(
        "Đúng hạn {}, trễ hạn {}, đang giải quyết đã quá hạn {}, đang giải quyết trong hạn {}",
        c.solved_in_time,
        c.solved_late,
        c.pending_late,
        c.total_pending - c.pending_late
    );
    let mut x = 0.0;
    let mut segments = Vec::new();
    for (class, count) in parts.into_iter().filter(|(_, count)| *count > 0) {
        let width = count as f64 * 100.0 / whole as f64;
        segments.push((class, format!("{x:.2}"), format!("{width:.2}")));
        x += width;
    }
    html! {
        svg.bar viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label=(label) {
            title { (label) }
            @for (class, x, width) in &segments {
                rect class=(class) x=(x) y="0" width=(width) height="10" {}
            }
        }
    }
}

/// The month's late dossiers: each links to its messages; those without an explanation or an
/// apology are marked.
fn late_list(late: &[LateDossier], cut: bool) -> Markup {
    let missing = late.iter().filter(|d| d.reason.is_none() || !d.apology_issued).count();
    html! {
        section.dossier-late {
            h2 { "Hồ sơ trễ hạn trong tháng (" (late.len()) @if cut { "+" } ")" }
            @if late.is_empty() {
                p.count { "Không có hồ sơ nào trễ hạn." }
            } @else {
                p.count {
                    "Giải quyết trễ hạn trong tháng, hoặc đến cuối tháng vẫn đang giải quyết mà đã quá hạn; theo cơ quan, rồi hạn giải quyết."
                    @if missing > 0 {
                        " " strong.unmet data-missing=(missing) { (missing) " hồ sơ chưa có lý do trễ hạn hoặc chưa có thư xin lỗi" } " (tô đỏ)."
                    }
                    @if late.len() > LATE_SHOWN { " Chỉ hiện " (LATE_SHOWN) " hồ sơ đầu; tải danh sách để xem đủ." }
                    @if cut { " Danh sách dài hơn 10.000 hồ sơ: hãy xem theo từng cơ quan." }
                }
                table {
                    thead { tr {
                        th { "Mã hồ sơ" } th { "Cơ quan" } th { "Thủ tục" } th { "Hạn giải quyết" } th { "Tình trạng" }
                        th.num { "Số ngày làm việc trễ" } th { "Lý do trễ hạn" } th { "Thư xin lỗi" }
                    } }
                    tbody {
                        @for d in late.iter().take(LATE_SHOWN) {
                            @let unexplained = d.reason.is_none() || !d.apology_issued;
                            tr.unexplained[unexplained] data-late=(d.dossier_code) data-state=(d.state) {
                                td.id { a href={ "/console/messages?" (dossier_query(&d.dossier_code)) } { (d.dossier_code) } }
                                td.id { (d.agency_code.as_deref().unwrap_or("-")) }
                                td {
                                    span.id { (d.procedure_code.as_deref().unwrap_or("-")) }
                                    @if let Some(name) = &d.procedure_name { br; span.subject { (name) } }
                                }
                                td { (vietnam_at(&d.due_at)) }
                                td {
                                    @match &d.completed_at {
                                        Some(at) => { "Đã giải quyết lúc " (vietnam_at(at)) },
                                        None => span.unmet { "Chưa giải quyết" },
                                    }
                                }
                                td.num data-field="working_days_late" { (d.working_days_late) }
                                @match &d.reason {
                                    Some(reason) => td data-field="reason" { (redact(reason)) },
                                    None => td.missing data-field="reason" { "Chưa có lý do" },
                                }
                                @if d.apology_issued {
                                    td data-field="apology" data-apology="yes" {
                                        "Đã gửi"
                                        @if let Some(at) = &d.apology_issued_at { " lúc " (vietnam_at(at)) }
                                        @if let Some(reference) = &d.apology_reference { br; span.subject { "Số " (redact(reference)) } }
                                    }
                                } @else {
                                    td.missing data-field="apology" data-apology="no" { "Chưa gửi" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn dossier_query(code: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new()).append_pair("dossier", code).finish()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_month_is_vietnams_and_its_neighbours_cross_years() {
        // 20:00 UTC on 30 November is already 1 December in Hà Nội.
        assert_eq!(this_month(datetime!(2026-11-30 20:00 UTC)), Period::Month { year: 2026, month: 12 });
        let december = Period::Month { year: 2026, month: 12 };
        assert_eq!(next_month(december, 1), Some(Period::Month { year: 2027, month: 1 }));
        assert_eq!(next_month(Period::Month { year: 2027, month: 1 }, -1), Some(december));
        assert_eq!(next_month(Period::Month { year: 2100, month: 12 }, 1), None);
    }

    #[test]
    fn shares_read_as_vietnamese_and_targets_are_met_exactly() {
        assert_eq!(
            (percent(2, 3), percent(1, 2), percent(3, 3), percent(0, 0)),
            ("66,67%".to_string(), "50%".to_string(), "100%".to_string(), "-".to_string())
        );
        // 9 of 10 is 90 %: "at least 90" is met, "more than 60" needs more than 6 of 10.
        assert_eq!(meets(9, 10, 90, true), Some(true));
        assert_eq!(meets(6, 10, 60, false), Some(false));
        assert_eq!(meets(0, 0, 90, true), None);
    }

    #[test]
    fn a_month_that_is_not_one_is_said_so() {
        let form = MonitorForm { month: Some("2026-13".into()), ..Default::default() };
        assert!(read(&form).unwrap_err().contains("`2026-13` không phải một tháng"));
        let form = MonitorForm { month: Some("2026-10".into()), by: Some("district".into()), agency: None };
        assert!(read(&form).unwrap_err().contains("`district`"));
    }
}
