//! The messages page: messages found by id, dossier, member, type and time, newest first (at
//! most `SHOWN`), and each message's path: when and from whom the bus accepted it, what became
//! of it at each adapter, its dead letters, and (for auditors) its entries in the message log.
//! What the page shows is what the API's `GET /v1/messages/{id}`, `GET /v1/dead-letters/{id}`
//! and `GET /v1/audit` answer, asked through the same functions (the same role checks); citizen
//! IDs are masked as the logs mask them.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::page::{self, Notice, delivery_word, field, form_time, masked, vietnam_at, vietnam_time};
use super::session::Operator;
use crate::auth::Caller;
use crate::config::Role;
use crate::http::audit::{AuditQuery, search_log};
use crate::http::dead_letters::dead_letter_rows;
use crate::http::messages::{MessageStatus, message_status};
use crate::privacy::redact;
use crate::store::{MessageFilter, MessageRow};

/// Messages shown at most: the newest that match.
pub const SHOWN: u32 = 100;
/// Entries of the message log shown for one message at most.
const LOG_ENTRIES: usize = 100;

/// What to look for: each field the form sent, as text.
#[derive(Deserialize, Default)]
pub struct SearchForm {
    id: Option<String>,
    dossier: Option<String>,
    member: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /console/messages`: the search form, and the newest messages that match it.
pub async fn search(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<SearchForm>, QueryRejection>,
) -> Response {
    let form = query.map(|Query(form)| form).unwrap_or_default();
    let mut problems = Vec::new();
    let id = field(&form.id).and_then(|id| match uuid::Uuid::parse_str(&id) {
        Ok(uuid) => Some(uuid.to_string()),
        Err(_) => {
            problems.push(format!("`{id}` không phải mã thông điệp (UUID)"));
            None
        }
    });
    let mut time = |text: &Option<String>| {
        form_time(text.as_deref()).unwrap_or_else(|why| {
            problems.push(why);
            None
        })
    };
    let (from, to) = (time(&form.from), time(&form.to));
    let filter = MessageFilter {
        id,
        subject: field(&form.dossier),
        source: field(&form.member),
        message_type: field(&form.message_type),
        from,
        to,
        // One more than shown: whether there are more.
        limit: SHOWN + 1,
    };
    let (status, found) = if !problems.is_empty() {
        (StatusCode::BAD_REQUEST, Err(problems.join("; ")))
    } else {
        match console.app.store.find_messages(&filter).await {
            Ok(rows) => (StatusCode::OK, Ok(rows)),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Err(format!("kho dữ liệu không trả lời: {e}"))),
        }
    };
    let types: Vec<&str> = console.app.catalogue.message_types().collect();
    let body = html! {
        form.search method="get" action="/console/messages" {
            label { "Mã thông điệp" input #id name="id" type="text" value=(text(&form.id)) placeholder="UUID"; }
            label { "Mã hồ sơ" input #dossier name="dossier" type="text" value=(text(&form.dossier)) placeholder="000.00.01.H42-261120-0001"; }
            label { "Thành viên gửi" input #member name="member" type="text" value=(text(&form.member)); }
            label { "Loại"
                select #type name="type" {
                    option value="" { "Tất cả" }
                    @for t in &types { option value=(t) selected[form.message_type.as_deref() == Some(*t)] { (t) } }
                }
            }
            label { "Từ" input #from name="from" type="datetime-local" step="1" value=(text(&form.from)); }
            label { "Đến" input #to name="to" type="datetime-local" step="1" value=(text(&form.to)); }
            button type="submit" { "Tìm" }
        }
        @match &found {
            Err(why) => p.notice role="alert" { "Không tìm được: " (why) },
            Ok(rows) => (results(rows)),
        }
    };
    let mut response = page::frame(&operator, "Thông điệp", body);
    *response.status_mut() = status;
    response
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

fn results(rows: &[MessageRow]) -> Markup {
    let shown = &rows[..rows.len().min(SHOWN as usize)];
    html! {
        section {
            @if rows.is_empty() {
                p.count { "Không có thông điệp nào khớp điều kiện tìm." }
            } @else if rows.len() > SHOWN as usize {
                p.count { "Chỉ hiện " (SHOWN) " thông điệp mới nhất khớp điều kiện tìm; hãy thu hẹp điều kiện để xem các thông điệp cũ hơn." }
            } @else {
                p.count { "Tìm thấy " (rows.len()) " thông điệp, mới nhất trước." }
            }
            @if !shown.is_empty() {
                table.messages {
                    thead { tr {
                        th { "Tiếp nhận lúc" } th { "Mã thông điệp" } th { "Loại" } th { "Mã hồ sơ" }
                        th { "Thành viên gửi" } th { "Seq" } th { "Chuyển đến" }
                    } }
                    tbody {
                        @for row in shown {
                            tr data-message=(row.id) {
                                td { (vietnam_time(row.accepted_at)) }
                                td.id { a href={ "/console/messages/" (row.id) } { (row.id) } }
                                td { (row.message_type) }
                                td { (redact(&row.subject)) }
                                td { (row.source) }
                                td { (row.seq) }
                                td {
                                    @if row.deliveries.is_empty() { "-" }
                                    @for (adapter, state) in &row.deliveries {
                                        span.delivery { (adapter) ": " (delivery_word(*state)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/messages/{id}`: the message's path.
pub async fn path(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    Path(id): Path<String>,
) -> Response {
    let app = &console.app;
    let message = match message_status(app, &operator, &id).await {
        Ok(message) => message,
        Err(problem) => {
            let (why, refused) = page::refusal(&problem);
            let body = html! {
                (Notice::show(&Some(Notice::Refused(why))))
                p { a href="/console/messages" { "Về tìm thông điệp" } }
            };
            let mut response = page::frame(&operator, "Đường đi của thông điệp", body);
            *response.status_mut() = problem.kind.status();
            response.extensions_mut().insert(refused);
            return response;
        }
    };
    let digest = match uuid::Uuid::parse_str(&message.id) {
        Ok(uuid) => app.store.known_digests(&[uuid]).await.ok().and_then(|mut d| d.pop().flatten()),
        Err(_) => None,
    };
    // None archived is not a failure here: most messages never die.
    let dead = dead_letter_rows(app, &operator, &message.id, None).await.map(|r| r.dead_letters).unwrap_or_default();
    let body = html! {
        p { a href="/console/messages" { "← Tìm thông điệp khác" } }
        (accepted(&message, digest.as_deref()))
        section.deliveries {
            h2 { "Chuyển đến từng bộ kết nối" }
            @if message.deliveries.is_empty() {
                p { "Không bộ kết nối nào nhận thông điệp này: bus chỉ lưu lại nó." }
            } @else {
                table {
                    thead { tr { th { "Bộ kết nối" } th { "Trạng thái" } th { "Số lần thử" } th { "Lỗi gần nhất" } th { "Cập nhật lúc" } } }
                    tbody {
                        @for delivery in &message.deliveries {
                            tr data-delivery=(delivery.adapter) {
                                td { (delivery.adapter) }
                                td { (delivery_word(delivery.state)) }
                                td { (delivery.attempts) }
                                td.error { (delivery.last_error.as_deref().map(redact).unwrap_or_default()) }
                                td { (vietnam_at(&delivery.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
        @if !dead.is_empty() {
            section.dead-letters {
                h2 { "Thư chết" }
                table {
                    thead { tr { th { "Bộ kết nối" } th { "Trạng thái" } th { "Thành thư chết lúc" } th { "Lỗi gần nhất" } th {} } }
                    tbody {
                        @for row in &dead {
                            @let row = &row.summary;
                            tr data-dead-letter=(row.adapter) {
                                td { (row.adapter) }
                                td { (super::dead_letters::state_word(row.state)) }
                                td { (vietnam_at(&row.dead_at)) }
                                td.error { (row.last_error.as_deref().map(redact).unwrap_or_default()) }
                                td { a href={ "/console/dead-letters/" (row.id) } { "Xem thư chết" } }
                            }
                        }
                    }
                }
            }
        }
        (log(&console, &operator, &message.id).await)
    };
    page::frame(&operator, "Đường đi của thông điệp", body)
}

/// When and from whom the bus accepted the message, and what it is.
fn accepted(message: &MessageStatus, digest: Option<&str>) -> Markup {
    let routing = serde_json::to_string(&masked(&message.routing)).unwrap_or_default();
    html! {
        section.accepted {
            h2 { "Tiếp nhận" }
            dl {
                dt { "Mã thông điệp" } dd.id { (message.id) }
                dt { "Tiếp nhận lúc" } dd { (vietnam_at(&message.accepted_at)) }
                dt { "Thành viên gửi" } dd { (message.source) }
                dt { "Loại" } dd { (message.message_type) }
                dt { "Mã hồ sơ" } dd { (redact(&message.subject)) }
                dt { "Seq" } dd { (message.seq) }
                dt { "Mã băm nội dung (SHA-256)" } dd.id { (digest.unwrap_or("-")) }
                dt { "Khóa định tuyến" } dd { (message.routing_key) }
                dt { "Định tuyến" } dd.id { (routing) }
                dt { "Tình trạng chung" } dd.overall { (delivery_word(message.state)) }
            }
        }
    }
}

/// The message's entries in the message log, for auditors; a note for anyone else.
async fn log(console: &ConsoleState, operator: &Caller, id: &str) -> Markup {
    if operator.need(Role::Auditor).is_err() {
        return html! {
            section.log {
                h2 { "Nhật ký thông điệp" }
                p.note { "Nhật ký thông điệp chỉ dành cho cán bộ kiểm toán (vai trò kiểm toán)." }
            }
        };
    }
    let query = AuditQuery { message: Some(id.to_string()), limit: Some(LOG_ENTRIES), ..Default::default() };
    let found = search_log(&console.app, operator, query).await;
    html! {
        section.log {
            h2 { "Nhật ký thông điệp" }
            @match found {
                Err(problem) => p.notice role="alert" { "Không đọc được nhật ký: " (page::refusal(&problem).0) },
                Ok(entries) if entries.is_empty() => p { "Nhật ký chưa có mục nào về thông điệp này." },
                Ok(entries) => table {
                    thead { tr { th { "Số thứ tự" } th { "Lúc" } th { "Loại" } th { "Người thực hiện" } th { "Chi tiết" } } }
                    tbody {
                        @for entry in &entries {
                            tr data-entry=(entry.kind) {
                                td { (entry.seq) }
                                td { (vietnam_at(&entry.at)) }
                                td { (entry.kind) }
                                td { (entry.actor) }
                                td.id { (serde_json::to_string(&masked(&entry.detail)).unwrap_or_default()) }
                            }
                        }
                    }
                },
            }
        }
    }
}
