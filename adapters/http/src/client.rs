//! I/O with the agency's service: one HTTP client, a call with its auth, and what each answer
//! means. Pure readers of answers ([`verdict`], [`read_answer_code`], [`explanation`]) sit beside
//! it so that they can be tested (and fuzzed) without a peer.
//!
//! Bodies are never logged here (they name citizens). What goes into errors is masked with
//! [`redact`], since errors end up in logs and dead letters.

use std::time::Duration;

use bytes::Bytes;
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::auth::{Auth, TokenError};
use crate::config::HttpConfig;
use crate::events;

pub use lgsp_bus::peer::ClientError;

/// A client of one agency's service; shared by every lane and every request of its adapter.
pub struct HttpClient {
    /// The adapter's id, for its events.
    adapter: String,
    /// How errors name the peer: "the land service".
    peer: String,
    http: reqwest::Client,
    auth: Auth,
    timeout: Duration,
}

/// The service's answer: any status, and its body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The answer as an operator reads it in a dead letter: status and body, masked.
    pub fn as_received(&self) -> String {
        format!("HTTP {}: {}", self.status, redact(&String::from_utf8_lossy(&self.body)))
    }

    /// What the answer says about itself, for a failure's reason.
    pub fn explanation(&self) -> String {
        explanation(&self.body)
    }
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection: the call never reached the service.
    #[error("{0}")]
    Unreachable(String),
    /// Sent, and no answer in time: the service may have taken it.
    #[error("{0}")]
    TimedOut(String),
    /// Sent, and the connection failed before the answer: the service may have taken it.
    #[error("{0}")]
    Broken(String),
    /// No token to call with.
    #[error("{0}")]
    Token(#[from] TokenError),
}

impl CallError {
    /// The failure's code, as `delivery.permanent` and `delivery.transient` name it.
    pub fn code(&self) -> String {
        match self {
            CallError::Unreachable(_) | CallError::Broken(_) => "unreachable".into(),
            CallError::TimedOut(_) => "timeout".into(),
            CallError::Token(error) => error.code(),
        }
    }

    /// Whether the service may have taken the call.
    pub fn uncertain(&self) -> bool {
        matches!(self, CallError::TimedOut(_) | CallError::Broken(_))
    }

    pub fn peer_answer(&self) -> Option<String> {
        match self {
            CallError::Token(error) => error.peer_answer(),
            _ => None,
        }
    }
}

/// What an answer's status means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: taken (unless its answer code says otherwise).
    Accepted,
    /// 408, 425, 429, 5xx, or anything that is neither a success nor a refusal: try again later.
    Retry,
    /// Any other 4xx: the service refused the message itself.
    Refused,
}

pub fn verdict(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Accepted,
        408 | 425 | 429 => Verdict::Retry,
        400..=499 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// Whether a service's 4xx refuses the request itself, as the caller can act on. Not 401, 403 or
/// 407 (the bus's credentials, which the caller cannot mend), nor what [`verdict`] retries.
pub fn refuses_request(status: StatusCode) -> bool {
    verdict(status) == Verdict::Refused && !matches!(status.as_u16(), 401 | 403 | 407)
}

/// The code at a JSON pointer of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerCode {
    /// A string as it is, a number or boolean as JSON writes it.
    Code(String),
    /// The answer is JSON without a code there.
    Missing,
    NotJson,
}

/// Longest code kept: a code is a short word; anything longer is cut, on a character boundary.
const MAX_CODE_CHARS: usize = 64;

/// The code at `pointer` (such as `/code`) in `body`.
pub fn read_answer_code(body: &[u8], pointer: &str) -> AnswerCode {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else { return AnswerCode::NotJson };
    match answer.pointer(pointer) {
        Some(Value::String(code)) => AnswerCode::Code(code.chars().take(MAX_CODE_CHARS).collect()),
        Some(Value::Number(code)) => AnswerCode::Code(code.to_string()),
        Some(Value::Bool(code)) => AnswerCode::Code(code.to_string()),
        _ => AnswerCode::Missing,
    }
}

/// Longest explanation kept from an answer in a failure's reason (the whole answer goes to the
/// failure's `peer_answer`).
const MAX_EXPLANATION: usize = 300;

/// What an answer says about itself, for a failure's reason: the message of a JSON answer
/// (`message`, `error_description`, `detail`, `title` or `error`), else its text; citizen IDs
/// masked.
pub fn explanation(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let said = serde_json::from_str::<Value>(&text).ok().and_then(|answer| {
        ["message", "error_description", "detail", "title", "error"]
            .iter()
            .find_map(|key| answer.get(*key).and_then(Value::as_str).map(str::to_string))
    });
    let said = said.unwrap_or_else(|| text.into_owned());
    let said: String = said.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_EXPLANATION).collect();
    redact(&said)
}

impl HttpClient {
    pub fn new(adapter: &str, config: &HttpConfig) -> Result<HttpClient, ClientError> {
        let agent = concat!("lgsp-http/", env!("CARGO_PKG_VERSION"));
        let http = peer::http_client(agent, config.timeout, config.tls())?;
        let auth = Auth::new(adapter, config, &http);
        Ok(HttpClient {
            adapter: adapter.to_string(),
            peer: format!("the {adapter} service"),
            http,
            auth,
            timeout: config.timeout,
        })
    }

    /// How errors name the service.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// One call: `body` sent with `headers` and the auth, once more with a new token if the
    /// service refused the one it got.
    pub async fn call(&self, method: Method, url: &Url, headers: HeaderMap, body: Bytes) -> Result<Answer, CallError> {
        let token = self.auth.token(None).await?;
        let answer = self.send(method.clone(), url, headers.clone(), body.clone(), token.as_deref()).await?;
        if answer.status != StatusCode::UNAUTHORIZED || !self.auth.renews() {
            return Ok(answer);
        }
        events::token_refused(&self.adapter, url.path());
        let token = self.auth.token(token.as_deref()).await?;
        self.send(method, url, headers, body, token.as_deref()).await
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
        token: Option<&str>,
    ) -> Result<Answer, CallError> {
        let request = self.http.request(method, url.clone()).headers(headers);
        let request = self.auth.apply(request, &body, token).body(body);
        let response = request.send().await.map_err(|e| self.call_error(url, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.call_error(url, &e))?;
        Ok(Answer { status, body })
    }

    fn call_error(&self, url: &Url, error: &reqwest::Error) -> CallError {
        let reason = peer::unreachable(&self.peer, url, self.timeout, error);
        // A connection that never opened carried nothing; once it did, the service may have
        // taken the call.
        if error.is_connect() {
            CallError::Unreachable(reason)
        } else if error.is_timeout() {
            CallError::TimedOut(reason)
        } else {
            CallError::Broken(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn what_each_status_means() {
        for accepted in [200, 201, 202, 204] {
            assert_eq!(verdict(status(accepted)), Verdict::Accepted, "{accepted}");
        }
        for retry in [408, 425, 429, 500, 502, 503, 504, 304] {
            assert_eq!(verdict(status(retry)), Verdict::Retry, "{retry}");
        }
        for refused in [400, 401, 403, 404, 409, 413, 415, 422] {
            assert_eq!(verdict(status(refused)), Verdict::Refused, "{refused}");
        }
        assert!(refuses_request(status(422)) && refuses_request(status(404)));
        for not_the_callers in [401, 403, 407, 408, 429, 500] {
            assert!(!refuses_request(status(not_the_callers)), "{not_the_callers}");
        }
    }

    #[test]
    fn answer_codes_are_read_at_their_pointer() {
        assert_eq!(read_answer_code(br#"{"code": "E42"}"#, "/code"), AnswerCode::Code("E42".into()));
        assert_eq!(read_answer_code(br#"{"result": {"code": 0}}"#, "/result/code"), AnswerCode::Code("0".into()));
        assert_eq!(read_answer_code(br#"{"ok": true}"#, "/ok"), AnswerCode::Code("true".into()));
        assert_eq!(read_answer_code(br#"{"items": [{"code": "1"}]}"#, "/items/0/code"), AnswerCode::Code("1".into()));
        assert_eq!(read_answer_code(br#"{"code": null}"#, "/code"), AnswerCode::Missing);
        assert_eq!(read_answer_code(br#"{"code": {"a": 1}}"#, "/code"), AnswerCode::Missing);
        assert_eq!(read_answer_code(b"OK", "/code"), AnswerCode::NotJson);
        assert_eq!(read_answer_code(b"", "/code"), AnswerCode::NotJson);
        let long = format!(r#"{{"code": "{}"}}"#, "ồ".repeat(100));
        assert_eq!(read_answer_code(long.as_bytes(), "/code"), AnswerCode::Code("ồ".repeat(64)));
    }

    #[test]
    fn explanations_quote_the_message_masked() {
        assert_eq!(explanation(br#"{"message": "CCCD 001203000001 sai"}"#), "CCCD 0012******01 sai");
        assert_eq!(explanation(br#"{"error": "invalid_client", "error_description": "bad secret"}"#), "bad secret");
        assert_eq!(explanation(b"Bad\n  Gateway"), "Bad Gateway");
        assert_eq!(explanation(&[b'x'; 1000]).len(), MAX_EXPLANATION);
    }
}
