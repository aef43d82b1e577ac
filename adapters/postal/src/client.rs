//! I/O with the postal service: one HTTP client, the token, and what each answer means.
//!
//! Bodies are never logged here (an order names and locates a citizen); order numbers are.
//! What goes into errors is masked with [`redact`], since errors end up in logs.

use std::time::{Duration, Instant};

use lgsp_bus::Secret;
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::config::PostalConfig;
use crate::events;
use crate::mapping::{self, Verdict, wire};

pub use lgsp_bus::peer::ClientError;

/// A token with less than this left is renewed before the next call, so that it does not expire
/// on its way. A gateway whose tokens live shorter than this gets a renewal before every call.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// A client of the postal service for one account; shared by deliveries, polling and webhooks.
pub struct PostalClient {
    http: reqwest::Client,
    token_url: Url,
    order_url: Url,
    cancel_url: Url,
    tracking_url: Url,
    consumer_key: String,
    consumer_secret: Secret,
    customer_code: String,
    timeout: Duration,
    /// Behind an async lock so that concurrent calls wait for one renewal instead of each doing one.
    token: Mutex<Option<Token>>,
}

struct Token {
    /// `Authorization` as the gateway wants it: `{token_type} {access_token}`.
    header: String,
    /// None when the gateway did not say: used until it is refused.
    expires_at: Option<Instant>,
}

/// What the postal service did, and its answer's body as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered<T> {
    pub what: T,
    pub text: String,
}

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Created,
    /// An order with this number exists already: ours, from an attempt whose answer was lost.
    AlreadyExists,
}

/// What became of a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    Cancelled,
    /// It was cancelled before: ours, from an attempt whose answer was lost.
    AlreadyCancelled,
}

/// Why a call did not go through, and whether retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection, or no answer in time. Transient.
    #[error("{0}")]
    Unreachable(String),
    /// The postal service's refusal `{code, message}`; [`wire::ANSWER_CODES`] says what it means.
    #[error("postal service answered code {code}: {message}")]
    Refused { status: StatusCode, code: String, message: String, transient: bool, body: String },
    /// A status without the postal service's answer: transient for 5xx, 429 and (after a fresh
    /// token) 401/403, since those need the postal service or the operator to act; permanent for
    /// the other 4xx.
    #[error("postal service answered HTTP {status}")]
    Status { status: StatusCode, body: String },
    /// The token call was refused (wrong consumer key or secret): transient, the operator has to act.
    #[error("postal service refused the token for consumer key `{consumer_key}`: HTTP {status}")]
    TokenRefused { consumer_key: String, status: StatusCode, body: String },
    /// A 2xx answer that is not what the contract says (not JSON, no code, no token): transient.
    #[error("postal service answered something that is not its JSON ({0})")]
    Unreadable(String, String),
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Refused { transient, .. } => *transient,
            CallError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS || is_auth_status(*status)
            }
            CallError::Unreachable(_) | CallError::TokenRefused { .. } | CallError::Unreadable(..) => true,
        }
    }

    /// The postal service's verdict, when it gave one.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            CallError::Refused { code, message, .. } => Verdict::of(code, message),
            _ => None,
        }
    }

    /// The postal service's own words, when it said something.
    pub fn message(&self) -> Option<&str> {
        match self {
            CallError::Refused { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The failure's code, as `delivery.permanent` and `delivery.transient` name it.
    pub fn code(&self) -> String {
        match self {
            CallError::Unreachable(_) => "unreachable".into(),
            CallError::Refused { code, .. } => format!("answer:{code}"),
            CallError::Status { status, .. } => format!("http:{}", status.as_u16()),
            CallError::TokenRefused { status, .. } => format!("token:{}", status.as_u16()),
            CallError::Unreadable(..) => "unreadable".into(),
        }
    }

    /// The answer as received (status and body, masked), for the operator reading a dead letter.
    pub fn peer_answer(&self) -> Option<String> {
        match self {
            CallError::Unreachable(_) => None,
            CallError::Refused { status, body, .. }
            | CallError::Status { status, body }
            | CallError::TokenRefused { status, body, .. } => Some(format!("HTTP {status}: {body}")),
            CallError::Unreadable(_, body) => Some(body.clone()),
        }
    }
}

fn is_auth_status(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// An answer the postal service accepted: its verdict and `data`.
struct Accepted {
    verdict: Verdict,
    data: Value,
    /// The answer as received.
    text: String,
}

impl PostalClient {
    pub fn new(config: &PostalConfig) -> Result<PostalClient, ClientError> {
        let agent = concat!("lgsp-postal/", env!("CARGO_PKG_VERSION"));
        Ok(PostalClient {
            http: peer::http_client(agent, config.timeout, config.tls())?,
            token_url: config.endpoint(&config.token_endpoint),
            order_url: config.endpoint(&config.order_endpoint),
            cancel_url: config.endpoint(&config.cancel_endpoint),
            tracking_url: config.endpoint(&config.tracking_endpoint),
            consumer_key: config.consumer_key.clone(),
            consumer_secret: config.consumer_secret.clone().unwrap_or_else(|| Secret::new("")),
            customer_code: config.customer_code.clone(),
            timeout: config.timeout,
            token: Mutex::new(None),
        })
    }

    pub fn customer_code(&self) -> &str {
        &self.customer_code
    }

    /// Creates an order (`body` from [`mapping::order_body`]).
    pub async fn post_order(&self, body: &Value) -> Result<Answered<Posted>, CallError> {
        let answer = self.call(&self.order_url, body).await?;
        let what = if answer.verdict == Verdict::AlreadyExists { Posted::AlreadyExists } else { Posted::Created };
        Ok(Answered { what, text: answer.text })
    }

    /// Cancels an order.
    pub async fn cancel(&self, order_number: &str) -> Result<Answered<Cancelled>, CallError> {
        let body = mapping::cancel_body(&self.customer_code, order_number);
        let answer = self.call(&self.cancel_url, &body).await?;
        let what = if answer.verdict == Verdict::AlreadyCancelled {
            Cancelled::AlreadyCancelled
        } else {
            Cancelled::Cancelled
        };
        Ok(Answered { what, text: answer.text })
    }

    /// The tracking items after `last_id`, at most `page_size`, as the postal service wrote them.
    pub async fn tracking(&self, last_id: u64, page_size: usize) -> Result<Vec<Value>, CallError> {
        let body = mapping::tracking_body(&self.customer_code, last_id, page_size);
        let answer = self.call(&self.tracking_url, &body).await?;
        match answer.data {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            other => {
                Err(CallError::Unreadable(format!("tracking {} is not a list", wire::DATA), redact(&other.to_string())))
            }
        }
    }

    /// One call with the current token, renewing it once if the postal service no longer takes it.
    async fn call(&self, url: &Url, body: &Value) -> Result<Accepted, CallError> {
        let token = self.token(None).await?;
        match self.post(url, &token, body).await {
            Err(CallError::Status { status: StatusCode::UNAUTHORIZED, .. }) => {
                events::token_refused(url.path());
                let token = self.token(Some(&token)).await?;
                self.post(url, &token, body).await
            }
            answer => answer,
        }
    }

    /// The `Authorization` to use: the kept token unless it was `refused` or is about to expire,
    /// else a new one.
    async fn token(&self, refused: Option<&str>) -> Result<String, CallError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && refused != Some(token.header.as_str())
            && token.expires_at.is_none_or(|at| at > Instant::now() + RENEW_BEFORE)
        {
            return Ok(token.header.clone());
        }
        *slot = None;
        let token = self.issue().await?;
        let header = token.header.clone();
        *slot = Some(token);
        Ok(header)
    }

    async fn issue(&self) -> Result<Token, CallError> {
        let url = &self.token_url;
        let request = self
            .http
            .post(url.clone())
            .basic_auth(&self.consumer_key, Some(self.consumer_secret.expose()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(wire::GRANT);
        let response = request.send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error(url, &e))?;
        if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let consumer_key = self.consumer_key.clone();
            return Err(CallError::TokenRefused { consumer_key, status, body: redact(&text) });
        }
        if !status.is_success() {
            return Err(CallError::Status { status, body: redact(&text) });
        }
        // A token answer is a credential: an error never carries it, only that it was unreadable.
        let unreadable = |why: &str| CallError::Unreadable(format!("token: {why}"), String::new());
        let answer: Value = serde_json::from_str(&text).map_err(|_| unreadable("not JSON"))?;
        let access_token = answer.get(wire::ACCESS_TOKEN).and_then(Value::as_str).filter(|t| !t.is_empty());
        let Some(access_token) = access_token else {
            return Err(unreadable(&format!("no {}", wire::ACCESS_TOKEN)));
        };
        let token_type = answer
            .get(wire::TOKEN_TYPE)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .unwrap_or(wire::DEFAULT_TOKEN_TYPE);
        let expires_at =
            answer.get(wire::EXPIRES_IN).and_then(Value::as_u64).map(|s| Instant::now() + Duration::from_secs(s));
        events::token_issued(&self.consumer_key, answer.get(wire::EXPIRES_IN));
        Ok(Token { header: format!("{token_type} {access_token}"), expires_at })
    }

    async fn post(&self, url: &Url, authorization: &str, body: &Value) -> Result<Accepted, CallError> {
        let request = self.http.post(url.clone()).header(AUTHORIZATION, authorization).json(body);
        let response = request.send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error(url, &e))?;
        // The postal service may echo what it refuses: errors carry it with citizen IDs masked.
        let masked = redact(&text);
        if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
            return Err(CallError::Status { status, body: masked });
        }
        let answer = serde_json::from_str::<Value>(&text).ok().filter(Value::is_object);
        let code = answer.as_ref().and_then(|a| match a.get(wire::CODE) {
            Some(Value::String(code)) => Some(code.clone()),
            Some(Value::Number(code)) => Some(format!("{:0>2}", code.to_string())),
            _ => None,
        });
        let (Some(answer), Some(code)) = (answer, code) else {
            return Err(if status.is_success() {
                CallError::Unreadable(format!("no {}", wire::CODE), masked)
            } else {
                CallError::Status { status, body: masked }
            });
        };
        let message = redact(answer.get(wire::MESSAGE).and_then(Value::as_str).unwrap_or_default().trim());
        match Verdict::of(&code, &message) {
            Some(verdict) if verdict.is_success() => {
                let data = answer.get(wire::DATA).cloned().unwrap_or(Value::Null);
                Ok(Accepted { verdict, data, text })
            }
            verdict => {
                // A code the table does not know is judged by the status: a 2xx that is not a
                // success is the postal service's trouble, a 4xx is a refusal of the request.
                let transient = verdict.map_or(status.is_success() || is_auth_status(status), Verdict::is_transient);
                Err(CallError::Refused { status, code, message, transient, body: masked })
            }
        }
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> CallError {
        CallError::Unreachable(peer::unreachable("the postal service", url, self.timeout, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> CallError {
        CallError::Status { status: StatusCode::from_u16(code).unwrap(), body: String::new() }
    }

    #[test]
    fn what_retrying_may_help() {
        for transient in [500, 502, 503, 504, 429, 401, 403] {
            assert!(status(transient).is_transient(), "{transient}");
        }
        for permanent in [400, 404, 405, 409, 413, 415, 422] {
            assert!(!status(permanent).is_transient(), "{permanent}");
        }
        assert!(CallError::Unreachable("refused".into()).is_transient());
        let refused = CallError::Refused {
            status: StatusCode::CONFLICT,
            code: "04".into(),
            message: "đã thu gom".into(),
            transient: false,
            body: String::new(),
        };
        assert!(!refused.is_transient());
        assert_eq!(refused.verdict(), Some(Verdict::NotCancellable));
        assert_eq!(refused.to_string(), "postal service answered code 04: đã thu gom");
        assert_eq!(refused.peer_answer().as_deref(), Some("HTTP 409 Conflict: "));
    }
}
