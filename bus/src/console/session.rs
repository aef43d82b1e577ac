//! Signing in to the console: an operator's name and password, checked as the token endpoint
//! checks them, become a session cookie holding a token of the bus's own, valid `SESSION_TTL`.
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends
//! it) and `Secure` when the bus serves TLS; every form the console posts must also come from
//! the console's own origin (`Origin`, or `Sec-Fetch-Site: same-origin`), so a page elsewhere
//! cannot act in an operator's name.

use std::time::Duration;

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{ConsoleState, page};
use crate::auth::{Caller, PrincipalKind};
use crate::events;

/// Why the sign-in page shows again: the only words it takes from a link.
const EXPIRED: &str = "Phiên làm việc đã hết hạn.";
const NOT_AN_OPERATOR: &str = "Tài khoản không còn là cán bộ vận hành của hệ thống.";
const SIGNED_OUT: &str = "Đã đăng xuất.";

/// The session cookie's name.
pub const COOKIE: &str = "lgsp_session";
/// How long a session lasts: a working day. Removing the operator ends it at once.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The operator a console page is for: read from the session cookie, or the sign-in page.
pub struct Operator(pub Caller);

impl FromRequestParts<ConsoleState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &ConsoleState) -> Result<Operator, Response> {
        let token = session_token(&parts.headers).ok_or_else(|| to_sign_in(None))?;
        let claims = console.app.auth.tokens.verify(&token).map_err(|_| to_sign_in(Some(EXPIRED)))?;
        match console.app.auth.caller(claims.kind, &claims.sub) {
            Some(caller @ Caller::Operator { .. }) => Ok(Operator(caller)),
            _ => Err(to_sign_in(Some(NOT_AN_OPERATOR))),
        }
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty())
}

fn to_sign_in(why: Option<&str>) -> Response {
    let target = match why {
        Some(why) => {
            format!("/console/sign-in?why={}", url::form_urlencoded::byte_serialize(why.as_bytes()).collect::<String>())
        }
        None => "/console/sign-in".to_string(),
    };
    Redirect::to(&target).into_response()
}

/// Whether a form post comes from the console itself: its `Origin` is this bus (the `Host` it
/// was sent to), or the browser says it is same-origin.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site == "same-origin") {
        return true;
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        _ => false,
    }
}

/// What the sign-in page may say: why the operator is there again.
#[derive(Deserialize)]
pub struct SignInQuery {
    why: Option<String>,
}

pub async fn sign_in_page(axum::extract::Query(query): axum::extract::Query<SignInQuery>) -> Response {
    // Only the console's own words: a link elsewhere cannot make the page say anything.
    let why = query.why.filter(|why| [EXPIRED, NOT_AN_OPERATOR, SIGNED_OUT].contains(&why.as_str()));
    page::sign_in(StatusCode::OK, why.as_deref(), None)
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

pub async fn sign_in(
    State(console): State<ConsoleState>,
    headers: HeaderMap,
    form: Result<Form<Credentials>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ trang đăng nhập của bảng điều khiển.");
    }
    let Ok(Form(credentials)) = form else {
        return page::sign_in(StatusCode::BAD_REQUEST, Some("Hãy nhập tên đăng nhập và mật khẩu."), None);
    };
    let name = credentials.name.trim().to_string();
    match crate::http::check_secret(&console.app, &name, credentials.password).await {
        Some(PrincipalKind::Operator) => {}
        Some(PrincipalKind::Member) => {
            let why = format!(
                "`{name}` là thành viên kết nối, không phải cán bộ vận hành: bảng điều khiển dành cho cán bộ vận hành."
            );
            return page::sign_in(StatusCode::FORBIDDEN, Some(&why), Some(&name));
        }
        None => {
            events::token_refused(&name);
            return page::sign_in(StatusCode::UNAUTHORIZED, Some("Sai tên đăng nhập hoặc mật khẩu."), Some(&name));
        }
    }
    let issued = console.app.auth.tokens.issue_for(&name, PrincipalKind::Operator, SESSION_TTL);
    events::console_signed_in(&name);
    console.app.log.operator_action("operator.action", &name, "console.sign_in", serde_json::json!({}));
    let mut response = Redirect::to("/console").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&console, &issued.access_token, SESSION_TTL));
    response
}

pub async fn sign_out(State(console): State<ConsoleState>, headers: HeaderMap, operator: Operator) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ bảng điều khiển.");
    }
    console.app.log.operator_action("operator.action", operator.0.name(), "console.sign_out", serde_json::json!({}));
    let mut response = to_sign_in(Some(SIGNED_OUT));
    response.headers_mut().insert(header::SET_COOKIE, cookie(&console, "", Duration::ZERO));
    response
}

/// The session cookie holding `token` for `max_age` (none: it is cleared).
fn cookie(console: &ConsoleState, token: &str, max_age: Duration) -> HeaderValue {
    let secure = if console.secure { "; Secure" } else { "" };
    let max_age = max_age.as_secs();
    let cookie = format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).expect("a token is ASCII")
}
