//! The console's pages, in Vietnamese: the frame every page shares, and the sign-in page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::auth::Caller;
use crate::config::Role;
use crate::http::evidence::Refused;

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
                    nav { a href="/console" { "Tổng quan" } a href="/console/adapters" { "Bộ kết nối" } }
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
