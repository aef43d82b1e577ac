//! I/O with the registry: one HTTP client, the token, and what each answer means.
//!
//! Bodies are never logged here (a record names people); enterprise codes are, being public.
//! What goes into errors is masked with [`redact`], since errors end up in logs.

use std::time::{Duration, Instant};

use lgsp_bus::Secret;
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use url::Url;

use crate::config::BusinessConfig;
use crate::events;
use crate::mapping::{self, wire};

pub use lgsp_bus::peer::ClientError;

/// A token with less than this left is renewed before the next call, so that it does not expire
/// on its way. A registry whose tokens live shorter than this gets a renewal before every call.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// A client of the registry for one account; shared by every concurrent lookup.
pub struct RegistryClient {
    http: reqwest::Client,
    token_url: Url,
    refresh_url: Url,
    lookup_url: Url,
    username: String,
    password: Secret,
    timeout: Duration,
    /// Behind an async lock so that concurrent lookups wait for one renewal instead of each doing one.
    tokens: Mutex<Option<Tokens>>,
}

struct Tokens {
    token: String,
    refresh_token: Option<String>,
    /// On our clock: the registry's `expiryDate` as a time from when it answered.
    expires_at: Instant,
}

/// What the registry answered about an enterprise code.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// 200: the enterprise record.
    Found(Value),
    /// 404 with the registry's answer: no enterprise or branch has this code.
    NotFound,
}

/// Why a lookup got no answer. Only [`LookupError::Refused`] blames the request; every other one
/// is the registry's (or the link's, or our account's) trouble.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No connection, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// 400 or 422: the registry refused the request itself (a malformed code, say).
    #[error("registry refused the request: HTTP {status}: {message}")]
    Refused { status: StatusCode, message: String, body: String },
    /// 401 to a lookup: the token is not (or no longer) taken. Renewed once; this is the second.
    #[error("registry refused a freshly issued token: HTTP {status}: {message}")]
    Unauthorized { status: StatusCode, message: String, body: String },
    /// The token or renewal call was refused (wrong account, expired refresh token).
    #[error("registry refused the {what}: HTTP {status}: {message}")]
    AuthRefused { what: String, status: StatusCode, message: String, body: String },
    /// Any other status: 5xx, 429, 403, a 404 without the registry's answer (a wrong path).
    #[error("registry answered HTTP {status}{hint}")]
    Status { status: StatusCode, hint: &'static str, body: String },
    /// A 2xx answer that is not what the contract says (not JSON, no token).
    #[error("registry answered something that is not its JSON ({0})")]
    Unreadable(String, String),
}

impl LookupError {
    /// The answer as received (status and body, masked), for the operator.
    pub fn peer_answer(&self) -> Option<String> {
        match self {
            LookupError::Unreachable(_) => None,
            LookupError::Refused { status, body, .. }
            | LookupError::Unauthorized { status, body, .. }
            | LookupError::AuthRefused { status, body, .. }
            | LookupError::Status { status, body, .. } => Some(format!("HTTP {status}: {body}")),
            LookupError::Unreadable(_, body) => Some(body.clone()),
        }
    }
}

impl RegistryClient {
    pub fn new(config: &BusinessConfig) -> Result<RegistryClient, ClientError> {
        let agent = concat!("lgsp-business/", env!("CARGO_PKG_VERSION"));
        Ok(RegistryClient {
            http: peer::http_client(agent, config.timeout, config.tls())?,
            token_url: config.endpoint(&config.token_endpoint),
            refresh_url: config.endpoint(&config.refresh_endpoint),
            lookup_url: config.endpoint(&config.lookup_endpoint),
            username: config.username.clone(),
            password: config.password.clone().unwrap_or_else(|| Secret::new("")),
            timeout: config.timeout,
            tokens: Mutex::new(None),
        })
    }

    /// Looks up one enterprise code, renewing the token once if the registry no longer takes it.
    pub async fn lookup(&self, mst: &str) -> Result<Lookup, LookupError> {
        let token = self.token(None).await?;
        match self.get(&token, mst).await {
            Err(LookupError::Unauthorized { status, .. }) => {
                events::token_refused(&status, mst);
                let token = self.token(Some(&token)).await?;
                self.get(&token, mst).await
            }
            answer => answer,
        }
    }

    /// The token to use: the kept one unless it was `refused` or is about to expire, else a renewed one.
    async fn token(&self, refused: Option<&str>) -> Result<String, LookupError> {
        let mut slot = self.tokens.lock().await;
        if let Some(tokens) = slot.as_ref()
            && refused != Some(tokens.token.as_str())
            && tokens.expires_at > Instant::now() + RENEW_BEFORE
        {
            return Ok(tokens.token.clone());
        }
        // The old tokens stay until new ones come: after a failed renewal the next lookup tries again.
        let refresh_token = slot.as_ref().and_then(|t| t.refresh_token.clone());
        let tokens = match refresh_token {
            Some(refresh_token) => match self.refresh(&refresh_token).await {
                Err(LookupError::AuthRefused { status, .. }) => {
                    events::refresh_refused(&status);
                    self.login().await?
                }
                renewed => renewed?,
            },
            None => self.login().await?,
        };
        let token = tokens.token.clone();
        *slot = Some(tokens);
        Ok(token)
    }

    async fn login(&self) -> Result<Tokens, LookupError> {
        let body = mapping::login_body(&self.username, self.password.expose());
        let tokens = self.issue(&self.token_url, &body, None, &format!("login of `{}`", self.username)).await?;
        events::logged_in(&self.username);
        Ok(tokens)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, LookupError> {
        let body = mapping::refresh_body(refresh_token);
        let tokens = self.issue(&self.refresh_url, &body, Some(refresh_token), "token refresh").await?;
        events::token_refreshed(&self.username);
        Ok(tokens)
    }

    /// A token or renewal call: `{token, refreshToken, expiryDate}` on success.
    async fn issue(
        &self,
        url: &Url,
        body: &Value,
        old_refresh: Option<&str>,
        what: &str,
    ) -> Result<Tokens, LookupError> {
        let response =
            self.http.post(url.clone()).json(body).send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error(url, &e))?;
        // A token answer is a credential: an error never carries it, only that it was unreadable.
        if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let (message, body) = refusal(&text);
            return Err(LookupError::AuthRefused { what: what.to_string(), status, message, body });
        }
        if !status.is_success() {
            return Err(LookupError::Status { status, hint: "", body: redact(&text) });
        }
        let unreadable = |why: &str| LookupError::Unreadable(format!("{what}: {why}"), String::new());
        let answer: Value = serde_json::from_str(&text).map_err(|_| unreadable("not JSON"))?;
        let token = answer.get(wire::TOKEN).and_then(Value::as_str).filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(unreadable(&format!("no {}", wire::TOKEN)));
        };
        let refresh_token = answer.get(wire::REFRESH_TOKEN).and_then(Value::as_str).filter(|t| !t.is_empty());
        let lifetime = match answer.get(wire::EXPIRY_DATE).and_then(mapping::token_expiry) {
            Some(expiry) => (expiry - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO),
            None => {
                events::token_expiry_unreadable(wire::ASSUMED_TOKEN_LIFETIME);
                wire::ASSUMED_TOKEN_LIFETIME
            }
        };
        Ok(Tokens {
            token: token.to_string(),
            refresh_token: refresh_token.or(old_refresh).map(String::from),
            expires_at: Instant::now() + lifetime,
        })
    }

    /// One lookup with `token`.
    async fn get(&self, token: &str, mst: &str) -> Result<Lookup, LookupError> {
        let mut url = self.lookup_url.clone();
        // One segment, escaped: whatever the code holds, it cannot reach another path.
        url.path_segments_mut().expect("an http(s) url has a path").push(mst);
        let request =
            self.http.get(url.clone()).header(reqwest::header::AUTHORIZATION, format!("{} {token}", wire::BEARER));
        let response = request.send().await.map_err(|e| self.transport_error(&url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error(&url, &e))?;
        match status {
            StatusCode::OK => match serde_json::from_str::<Value>(&text) {
                Ok(record) if record.is_object() => Ok(Lookup::Found(record)),
                _ => Err(LookupError::Unreadable("the record is not a JSON object".into(), redact(&text))),
            },
            StatusCode::NOT_FOUND if is_json_object(&text) => Ok(Lookup::NotFound),
            StatusCode::NOT_FOUND => Err(LookupError::Status {
                status,
                hint: " without its JSON answer: is lookup_endpoint right?",
                body: redact(&text),
            }),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                let (message, body) = refusal(&text);
                Err(LookupError::Refused { status, message, body })
            }
            StatusCode::UNAUTHORIZED => {
                let (message, body) = refusal(&text);
                Err(LookupError::Unauthorized { status, message, body })
            }
            _ => Err(LookupError::Status { status, hint: "", body: redact(&text) }),
        }
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> LookupError {
        LookupError::Unreachable(peer::unreachable("the registry", url, self.timeout, error))
    }
}

/// The `message` of a refusal (or its text, if it has none) and the whole body, both masked.
fn refusal(text: &str) -> (String, String) {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|answer| answer.get(wire::MESSAGE).and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| text.chars().take(200).collect());
    (redact(message.trim()), redact(text))
}

fn is_json_object(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|answer| answer.is_object())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_the_message_masked() {
        let (message, body) = refusal(r#"{"message": "Giấy tờ 001075000123 không hợp lệ"}"#);
        assert_eq!(message, "Giấy tờ 0010******23 không hợp lệ");
        assert!(body.contains("0010******23") && !body.contains("001075000123"));
        let (message, _) = refusal("Bad Request");
        assert_eq!(message, "Bad Request");
    }

    #[test]
    fn peer_answers_carry_the_status() {
        let error = LookupError::Status { status: StatusCode::BAD_GATEWAY, hint: "", body: "proxy".into() };
        assert_eq!(error.peer_answer().as_deref(), Some("HTTP 502 Bad Gateway: proxy"));
        assert_eq!(error.to_string(), "registry answered HTTP 502 Bad Gateway");
        assert_eq!(LookupError::Unreachable("x".into()).peer_answer(), None);
    }
}
