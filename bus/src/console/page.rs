//! The console's pages, in Vietnamese: the frame every page shares, and the sign-in page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::auth::Caller;
use crate::config::Role;
use crate::http::evidence::Refused;
use crate::http::problem::Problem;
use crate::privacy::redact;

/// A page of the console for `operator`, with the menu of what their roles open.
pub fn frame(operator: &Caller, title: &str, body: Markup) -> Response {
    let roles = match operator {
        Caller::Operator { roles, .. } => roles.iter().map(|r| role_name(*r)).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="vi" {
            (head(title))
            body {
                header {
                    a.brand href="/console" { "LGSP · Bảng điều khiển" }
                    nav {
                        a href="/console" { "Tổng quan" }
                        a href="/console/dossiers" { "Hồ sơ" }
                        a href="/console/adapters" { "Bộ kết nối" }
                        a href="/console/messages" { "Thông điệp" }
                        a href="/console/dead-letters" { "Thư chết" }
                        a href="/console/routing" { "Định tuyến" }
                        // Only what the operator's roles open (the bus checks again).
                        @if operator.need(Role::Admin).is_ok() { a href="/console/members" { "Thành viên" } }
                        @if operator.need(Role::Auditor).is_ok() { a href="/console/lookups" { "Tra cứu dữ liệu cá nhân" } }
                    }
                    form.signout method="post" action="/console/sign-out" {
                        span.who { (operator.name()) " (" (roles) ")" }
                        button type="submit" { "Đăng xuất" }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

/// The sign-in form, saying why if there is something to say.
pub fn sign_in(status: StatusCode, why: Option<&str>, name: Option<&str>) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="vi" {
            (head("Đăng nhập"))
            body.signin {
                main {
                    h1 { "LGSP · Bảng điều khiển" }
                    p { "Nền tảng tích hợp, chia sẻ dữ liệu cấp tỉnh. Dành cho cán bộ vận hành." }
                    @if let Some(why) = why { p.notice role="alert" { (why) } }
                    form method="post" action="/console/sign-in" {
                        label for="name" { "Tên đăng nhập" }
                        input #name name="name" type="text" autocomplete="username" required value=(name.unwrap_or(""));
                        label for="password" { "Mật khẩu" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                        button type="submit" { "Đăng nhập" }
                    }
                }
            }
        }
    };
    let mut response = respond(status, markup);
    if let (true, Some(why)) = (status.is_client_error(), why) {
        // What the message log's `request.refused` entry says.
        response.extensions_mut().insert(Refused::new("console-sign-in", why.to_string()));
    }
    response
}

/// A refused form post (not from the console's own pages): nothing was done.
pub fn refused(why: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="vi" {
            (head("Từ chối"))
            body.signin { main { h1 { "Từ chối" } p.notice role="alert" { (why) " Không có gì thay đổi." } a href="/console" { "Về bảng điều khiển" } } }
        }
    };
    let mut response = respond(StatusCode::FORBIDDEN, markup);
    response.extensions_mut().insert(Refused::new("console-cross-site", why.to_string()));
    response
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · LGSP" }
            link rel="stylesheet" href="/console/static/console.css";
        }
    }
}

/// A console page: never cached, never framed, nothing loaded from elsewhere.
fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "xem",
        Role::Operator => "vận hành",
        Role::Admin => "quản trị",
        Role::Auditor => "kiểm toán",
    }
}

/// What a page says after an action: done, or why not.
pub enum Notice {
    Done(String),
    Refused(String),
}

impl Notice {
    pub fn show(notice: &Option<Notice>) -> Markup {
        html! {
            @match notice {
                Some(Notice::Done(text)) => p.done role="status" { (text) },
                Some(Notice::Refused(text)) => p.notice role="alert" { "Không thực hiện: " (text) },
                None => {},
            }
        }
    }
}

/// Why the bus refused an action, as the page says it (the right missing first), and what the
/// message log's `request.refused` entry says.
pub fn refusal(problem: &Problem) -> (String, Refused) {
    let mut why = problem.detail.clone().unwrap_or_else(|| problem.kind.title().to_string());
    if let Some(right) = &problem.missing_right {
        why = format!("thiếu quyền: {right}. {why}");
    }
    let refused = Refused::new(problem.kind.slug(), why.clone());
    (why, refused)
}

/// UTC+7: the time people in Vietnam read.
fn vietnam() -> time::UtcOffset {
    time::UtcOffset::from_hms(7, 0, 0).expect("a valid offset")
}

/// Unix milliseconds as people in Vietnam read them: `20:10:48 30/11/2026`.
pub fn vietnam_time(ms: i64) -> String {
    let format = time::macros::format_description!("[hour]:[minute]:[second] [day]/[month]/[year]");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map(|t| t.to_offset(vietnam()).format(&format).unwrap_or_default())
        .unwrap_or_default()
}

/// A time a form sent, in Unix milliseconds: as a `datetime-local` field sends it
/// (`2026-11-20T09:00`, seconds optional, read as Vietnam's time) or RFC 3339. `Err` when it is
/// neither; `None` when empty.
pub fn form_time(text: Option<&str>) -> Result<Option<i64>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    let rfc3339 = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    let local = || {
        let seconds = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        time::PrimitiveDateTime::parse(text, &seconds)
            .or_else(|_| time::PrimitiveDateTime::parse(text, &minutes))
            .map(|t| t.assume_offset(vietnam()))
    };
    match rfc3339.or_else(|_| local()) {
        Ok(at) => Ok(Some((at.unix_timestamp_nanos() / 1_000_000) as i64)),
        Err(_) => Err(format!("`{text}` không phải thời điểm (ví dụ 2026-11-20T09:00)")),
    }
}

/// A form's text field: `None` when empty.
pub fn field(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(String::from)
}

/// JSON to show, with every citizen ID in its strings masked as the logs mask them (numbers
/// and keys as they are).
pub fn masked(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        // An id is not a citizen's, even when its last group is all digits.
        Value::String(text) if uuid::Uuid::parse_str(text).is_ok() => value.clone(),
        Value::String(text) => Value::String(redact(text)),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), masked(v))).collect()),
        other => other.clone(),
    }
}

/// An RFC 3339 time (as the API gives them) as people in Vietnam read it; as it came if it is
/// not one.
pub fn vietnam_at(rfc3339: &str) -> String {
    match time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(at) => vietnam_time((at.unix_timestamp_nanos() / 1_000_000) as i64),
        Err(_) => rfc3339.to_string(),
    }
}

/// The word for where a message stands at an adapter.
pub fn delivery_word(state: crate::store::DeliveryState) -> &'static str {
    use crate::store::DeliveryState;
    match state {
        DeliveryState::Accepted => "chờ chuyển",
        DeliveryState::Delivered => "đã chuyển",
        DeliveryState::Retrying => "đang thử lại",
        DeliveryState::Superseded => "bỏ qua (đã có bản mới hơn)",
        DeliveryState::DeadLettered => "thư chết",
    }
}
