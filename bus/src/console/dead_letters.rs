//! The dead-letters page: messages an adapter gave up on, filtered by adapter, type, state and
//! time (the newest `SHOWN`); one message's rows with the peer's answer, the last error and the
//! envelope; and, for operators, replay and purge: one at a time, or every row ticked on the
//! page at once (at most `SHOWN`, one after another, the page then listing each outcome).
//!
//! Each action is the API's own (`POST /v1/dead-letters/{id}/replay`, `DELETE
//! /v1/dead-letters/{id}`: the same role check, the same record in the message log); the page
//! shows the buttons only to the roles that may use them, and the bus checks again. Citizen IDs
//! are masked as the logs mask them.

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::page::{self, Notice, field, form_time, masked, vietnam_at};
use super::session::{Operator, same_origin};
use crate::auth::Caller;
use crate::config::Role;
use crate::http::dead_letters::{
    Acted, Action, DeadLetterSummary, ListQuery, act_on, dead_letter_rows, find_dead_letters,
};
use crate::http::evidence::Refused;
use crate::privacy::redact;
use crate::rfc3339_ms;
use crate::store::DeadLetterState;

/// Dead letters listed at most, and acted on at most by one post.
pub const SHOWN: u32 = 100;
/// The largest bulk form taken: `SHOWN` rows of an id and an adapter, whatever
/// `[http] max_body_bytes` (a message's size) says.
pub const BULK_BYTES: usize = 32 * 1024;

/// The list's filters, as the form sends them.
#[derive(Deserialize, Default)]
pub struct ListForm {
    adapter: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    /// `dead` when absent, as the API's; `all` for every state.
    state: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /console/dead-letters`: the filters and the dead letters that match.
pub async fn list(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let form = query.map(|Query(form)| form).unwrap_or_default();
    render_list(&console, &operator, &form, None).await
}

async fn render_list(console: &ConsoleState, operator: &Caller, form: &ListForm, before: Option<Markup>) -> Response {
    let app = &console.app;
    let mut problems = Vec::new();
    // The API reads RFC 3339; the form sends Vietnam's local time.
    let mut time = |text: &Option<String>| match form_time(text.as_deref()) {
        Ok(at) => at.map(rfc3339_ms),
        Err(why) => {
            problems.push(why);
            None
        }
    };
    let (since, until) = (time(&form.from), time(&form.to));
    let query = ListQuery {
        adapter: field(&form.adapter),
        message_type: field(&form.message_type),
        since,
        until,
        state: field(&form.state),
        limit: Some(SHOWN.to_string()),
    };
    let found = if problems.is_empty() {
        find_dead_letters(app, operator, query).await.map_err(|problem| {
            let mut why = vec![page::refusal(&problem).0];
            why.extend(problem.violations.iter().map(|v| format!("{}: {}", v.pointer, v.reason)));
            (problem.kind.status(), why.join("; "))
        })
    } else {
        Err((StatusCode::BAD_REQUEST, problems.join("; ")))
    };
    let operates = operator.need(Role::Operator).is_ok();
    let roster = app.fleet.adapters().current();
    let adapters: Vec<&str> = roster.adapters().map(|r| r.id.as_str()).collect();
    let types: Vec<&str> = app.catalogue.message_types().collect();
    let state = form.state.as_deref().unwrap_or("dead");
    let states = [
        ("dead", "chờ xử lý"),
        ("replaying", "đang chuyển lại"),
        ("replayed", "đã chuyển lại"),
        ("purged", "đã hủy bỏ"),
        ("all", "tất cả"),
    ];
    let body = html! {
        @if let Some(before) = before { (before) }
        form.search method="get" action="/console/dead-letters" {
            label { "Bộ kết nối"
                select #adapter name="adapter" {
                    option value="" { "Tất cả" }
                    @for a in &adapters { option value=(a) selected[form.adapter.as_deref() == Some(*a)] { (a) } }
                }
            }
            label { "Loại"
                select #type name="type" {
                    option value="" { "Tất cả" }
                    @for t in &types { option value=(t) selected[form.message_type.as_deref() == Some(*t)] { (t) } }
                }
            }
            label { "Trạng thái"
                select #state name="state" {
                    @for (value, word) in states { option value=(value) selected[state == value] { (word) } }
                }
            }
            label { "Từ" input #from name="from" type="datetime-local" step="1" value=(form.from.as_deref().unwrap_or("")); }
            label { "Đến" input #to name="to" type="datetime-local" step="1" value=(form.to.as_deref().unwrap_or("")); }
            button type="submit" { "Lọc" }
        }
        @match &found {
            Err((_, why)) => p.notice role="alert" { "Không liệt kê được: " (why) },
            Ok(found) => (table(&found.dead_letters, found.total, operates)),
        }
    };
    let mut response = page::frame(operator, "Thư chết", body);
    if let Err((status, _)) = found {
        *response.status_mut() = status;
    }
    response
}

/// The dead letters listed, with the bulk form for operators.
fn table(rows: &[DeadLetterSummary], total: u64, operates: bool) -> Markup {
    html! {
        section {
            @if rows.is_empty() {
                p.count { "Không có thư chết nào khớp bộ lọc." }
            } @else {
                p.count {
                    "Hiện " (rows.len()) " trên " (total) " thư chết, mới nhất trước"
                    @if total > rows.len() as u64 { " (tối đa " (SHOWN) "; hãy thu hẹp bộ lọc để xem các thư cũ hơn)" }
                    "."
                }
                @if operates {
                    form #bulk.bulk method="post" action="/console/dead-letters/bulk" {
                        span { "Với các thư đã đánh dấu bên dưới:" }
                        button type="submit" name="action" value="replay" data-action="replay-all" { "Chuyển lại tất cả" }
                        button.secondary type="submit" name="action" value="purge" data-action="purge-all" { "Hủy bỏ tất cả" }
                    }
                }
                table.dead-letters {
                    thead { tr {
                        @if operates { th { "Chọn" } }
                        th { "Mã thông điệp" } th { "Bộ kết nối" } th { "Loại / mã hồ sơ" }
                        th { "Lần thử" } th { "Thành thư chết lúc" } th { "Lỗi gần nhất" } th { "Trạng thái" } th {}
                    } }
                    tbody {
                        @for row in rows {
                            tr data-dead-letter=(row.id) data-adapter=(row.adapter) {
                                @if operates {
                                    td { input type="checkbox" form="bulk" name="row" value={ (row.id) ":" (row.adapter) } checked aria-label="Chọn"; }
                                }
                                td.id { a href={ "/console/dead-letters/" (row.id) } { (row.id) } }
                                td { (row.adapter) }
                                td {
                                    (row.message_type.as_deref().unwrap_or("-"))
                                    @if let Some(subject) = &row.subject { br; span.subject { (redact(subject)) } }
                                }
                                td { (row.attempts) }
                                td { (vietnam_at(&row.dead_at)) }
                                td.error { (row.last_error.as_deref().map(redact).map(|e| crate::shortened(e, 200)).unwrap_or_default()) }
                                td { (state_word(row.state)) }
                                td.actions { @if operates { (buttons(&row.id, &row.adapter, row.state, row.message_type.is_some())) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Replay and purge, for the row's state.
fn buttons(id: &str, adapter: &str, state: DeadLetterState, readable: bool) -> Markup {
    let replayable = readable && matches!(state, DeadLetterState::Dead | DeadLetterState::Replaying);
    html! {
        @if replayable {
            form method="post" action={ "/console/dead-letters/" (id) "/replay" } {
                input type="hidden" name="adapter" value=(adapter);
                button type="submit" data-action="replay" { "Chuyển lại" }
            }
        }
        @if state == DeadLetterState::Dead {
            form method="post" action={ "/console/dead-letters/" (id) "/purge" } {
                input type="hidden" name="adapter" value=(adapter);
                button.secondary type="submit" data-action="purge" { "Hủy bỏ" }
            }
        }
    }
}

/// `GET /console/dead-letters/{id}`: every adapter's row of one message.
pub async fn show(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    Path(id): Path<String>,
) -> Response {
    render_one(&console, &operator, &id, None).await
}

async fn render_one(console: &ConsoleState, operator: &Caller, id: &str, notice: Option<Notice>) -> Response {
    let found = dead_letter_rows(&console.app, operator, id, None).await;
    let operates = operator.need(Role::Operator).is_ok();
    let body = html! {
        (Notice::show(&notice))
        p { a href="/console/dead-letters" { "← Danh sách thư chết" } }
        @match &found {
            Err(problem) => p.notice role="alert" { (page::refusal(problem).0) },
            Ok(found) => {
                p { a href={ "/console/messages/" (found.id) } { "Xem đường đi của thông điệp" } }
                @for row in &found.dead_letters {
                    @let r = &row.summary;
                    section.dead-letter data-adapter=(r.adapter) {
                        h2 { "Bộ kết nối " (r.adapter) ": " span.state { (state_word(r.state)) } }
                        dl {
                            dt { "Mã thông điệp" } dd.id { (r.id) }
                            dt { "Loại" } dd { (r.message_type.as_deref().unwrap_or("- (không phải phong bì hợp lệ)")) }
                            dt { "Mã hồ sơ" } dd { (r.subject.as_deref().map(redact).unwrap_or_default()) }
                            dt { "Thành viên gửi" } dd { (r.source.as_deref().unwrap_or("-")) }
                            dt { "Seq" } dd { (r.seq.map(|s| s.to_string()).unwrap_or_default()) }
                            dt { "Tiếp nhận lúc" } dd { (row.accepted_at.as_deref().map(vietnam_at).unwrap_or_default()) }
                            dt { "Số lần thử" } dd { (r.attempts) }
                            dt { "Lỗi lần đầu lúc" } dd { (r.first_failed_at.as_deref().map(vietnam_at).unwrap_or_default()) }
                            dt { "Thành thư chết lúc" } dd { (vietnam_at(&r.dead_at)) }
                            dt { "Lỗi gần nhất" } dd.error { (r.last_error.as_deref().map(redact).unwrap_or_default()) }
                            dt { "Đối tác trả lời" } dd { pre.answer { (r.peer_answer.as_deref().map(redact).unwrap_or_default()) } }
                            dt { "Số lần chuyển lại" } dd { (r.replays) }
                            @if let Some(at) = &r.replayed_at { dt { "Chuyển lại lúc" } dd { (vietnam_at(at)) } }
                            @if let Some(to) = &r.replayed_to { dt { "Chuyển lại đến" } dd { (to) } }
                            @if let Some(at) = &r.purged_at { dt { "Hủy bỏ lúc" } dd { (vietnam_at(at)) } }
                        }
                        @if operates { div.actions { (buttons(&r.id, &r.adapter, r.state, r.message_type.is_some())) } }
                        @if let Some(envelope) = &row.envelope {
                            h3 { "Phong bì thông điệp (số định danh công dân đã được che)" }
                            pre.envelope { (serde_json::to_string_pretty(&masked(envelope)).unwrap_or_default()) }
                        }
                        @if let Some(body) = &row.body {
                            h3 { "Nội dung nhận được (không phải phong bì hợp lệ)" }
                            pre.envelope { (redact(body)) }
                        }
                    }
                }
            }
        }
    };
    let mut response = page::frame(operator, "Thư chết", body);
    if let Err(problem) = found {
        *response.status_mut() = problem.kind.status();
    }
    response
}

/// One row to act on: the form names its adapter when the page showed one.
#[derive(Deserialize)]
pub struct Which {
    #[serde(default)]
    adapter: Option<String>,
}

/// `POST /console/dead-letters/{id}/{action}`: replay or purge one message's row (its
/// adapter's, or every row the action applies to).
pub async fn act(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<Which>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ bảng điều khiển.");
    }
    let Some(action) = action_of(&action) else { return StatusCode::NOT_FOUND.into_response() };
    let adapter = form.ok().and_then(|Form(which)| field(&which.adapter));
    let (status, notice, refused) = match act_on(&console.app, &operator, &id, adapter.as_deref(), action).await {
        Ok(acted) => (StatusCode::OK, Notice::Done(done(&acted)), None),
        Err(problem) => {
            let (why, refused) = page::refusal(&problem);
            (problem.kind.status(), Notice::Refused(why), Some(refused))
        }
    };
    let mut response = render_one(&console, &operator, &id, Some(notice)).await;
    *response.status_mut() = status;
    if let Some(refused) = refused {
        response.extensions_mut().insert(refused);
    }
    response
}

fn action_of(word: &str) -> Option<Action> {
    match word {
        "replay" => Some(Action::Replay(None)),
        "purge" => Some(Action::Purge),
        _ => None,
    }
}

fn done(acted: &Acted) -> String {
    match (&acted.replayed, &acted.purged) {
        (Some(adapters), _) => {
            format!("Đã chuyển lại {} cho {}: bộ kết nối gửi lại như mọi thông điệp.", acted.id, adapters.join(", "))
        }
        (_, Some(adapters)) => {
            format!("Đã hủy bỏ {} ({}); thư vẫn được giữ để kiểm toán.", acted.id, adapters.join(", "))
        }
        _ => format!("Xong: {}.", acted.id),
    }
}

/// What became of one row of a bulk action.
struct Outcome {
    id: String,
    adapter: String,
    result: Result<(), String>,
}

/// `POST /console/dead-letters/bulk`: `action` (replay or purge) on every `row` ticked
/// (`<id>:<adapter>`), at most `SHOWN`, one after another; the page lists each outcome.
pub async fn bulk(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ bảng điều khiển.");
    }
    let mut action = None;
    let mut rows: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "action" => action = action_of(&value),
            "row" => {
                let (id, adapter) = value.split_once(':').unwrap_or((value.as_ref(), ""));
                let row = (id.to_string(), adapter.to_string());
                if !rows.contains(&row) {
                    rows.push(row);
                }
            }
            _ => {}
        }
    }
    let refuse = |why: String| (StatusCode::BAD_REQUEST, Notice::Refused(why), None);
    let checked = match (action, rows.len()) {
        (None, _) => Err(refuse("hãy chọn chuyển lại hoặc hủy bỏ.".into())),
        (_, 0) => Err(refuse("chưa đánh dấu thư chết nào.".into())),
        (_, n) if n > SHOWN as usize => Err(refuse(format!("{n} thư được đánh dấu; mỗi lần tối đa {SHOWN}."))),
        (Some(action), _) => Ok(action),
    };
    let action = match checked {
        Ok(action) => action,
        Err((status, notice, refused)) => return list_saying(&console, &operator, status, notice, refused).await,
    };
    let total = rows.len();
    let mut outcomes = Vec::with_capacity(total);
    for (id, adapter) in rows {
        let which = Some(adapter.as_str()).filter(|a| !a.is_empty());
        let result = match act_on(&console.app, &operator, &id, which, action.clone()).await {
            Ok(_) => Ok(()),
            Err(problem) if problem.kind.status() == StatusCode::FORBIDDEN => {
                // A missing role is missing for every row: nothing was done, and none will be.
                let (why, refused) = page::refusal(&problem);
                let notice = Notice::Refused(why);
                return list_saying(&console, &operator, StatusCode::FORBIDDEN, notice, Some(refused)).await;
            }
            Err(problem) => Err(page::refusal(&problem).0),
        };
        outcomes.push(Outcome { id, adapter, result });
    }
    let succeeded = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let verb = if matches!(action, Action::Purge) { "hủy bỏ" } else { "chuyển lại" };
    let report = html! {
        section.bulk-result {
            h2 { "Kết quả" }
            p.done role="status" data-done=(succeeded) data-total=(total) {
                "Đã " (verb) " " (succeeded) " trên " (total) " thư."
                @if succeeded < total { " " (total - succeeded) " thư không thực hiện được (xem bên dưới)." }
            }
            table {
                thead { tr { th { "Mã thông điệp" } th { "Bộ kết nối" } th { "Kết quả" } } }
                tbody {
                    @for outcome in &outcomes {
                        tr data-outcome=(if outcome.result.is_ok() { "done" } else { "failed" }) {
                            td.id { a href={ "/console/dead-letters/" (outcome.id) } { (outcome.id) } }
                            td { (outcome.adapter) }
                            @match &outcome.result {
                                Ok(()) => td { "xong" },
                                Err(why) => td.error { "không thực hiện: " (why) },
                            }
                        }
                    }
                }
            }
        }
    };
    render_list(&console, &operator, &ListForm::default(), Some(report)).await
}

/// The list (unfiltered) under a notice, answered with `status`.
async fn list_saying(
    console: &ConsoleState,
    operator: &Caller,
    status: StatusCode,
    notice: Notice,
    refused: Option<Refused>,
) -> Response {
    let notice = Notice::show(&Some(notice));
    let mut response = render_list(console, operator, &ListForm::default(), Some(notice)).await;
    *response.status_mut() = status;
    if let Some(refused) = refused {
        response.extensions_mut().insert(refused);
    }
    response
}

pub(super) fn state_word(state: DeadLetterState) -> &'static str {
    match state {
        DeadLetterState::Dead => "chờ xử lý",
        DeadLetterState::Replaying => "đang chuyển lại",
        DeadLetterState::Replayed => "đã chuyển lại",
        DeadLetterState::Purged => "đã hủy bỏ",
    }
}
