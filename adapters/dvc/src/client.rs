//! I/O with the portal: one HTTP client, the session, and what each answer means.
//!
//! Payloads and citizen IDs are never logged here; dossier codes and message ids are.

use std::time::{Duration, Instant};

use lgsp_bus::Secret;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;
use uuid::Uuid;

use crate::config::DvcConfig;
use crate::events;
use crate::mapping::{self, Call, Verdict, wire};
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;

pub use lgsp_bus::peer::ClientError;

/// Carries the envelope ids of a call's items, in item order. The portal ignores it; the
/// simulator records it so tests can count deliveries per message.
pub const MESSAGE_ID_HEADER: &str = "X-Lgsp-Message-Id";

/// A client of the portal for one account; shared by every lane of the adapter.
pub struct PortalClient {
    http: reqwest::Client,
    auth_url: Url,
    integration_url: Url,
    username: String,
    password: Secret,
    madonvi: String,
    timeout: Duration,
    session_max_age: Duration,
    /// Behind an async lock so that concurrent calls wait for one login instead of each doing one.
    session: Mutex<Option<Session>>,
}

struct Session {
    token: String,
    since: Instant,
}

/// An accepted answer (`error_code` `00`).
#[derive(Debug, Clone)]
pub struct PortalAnswer {
    pub message: String,
    /// The whole answer, for the lookups that return data.
    pub body: Value,
    /// The answer as received, for the evidence the message log keeps.
    pub text: String,
}

/// Why a call did not go through, and whether retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection, or no answer in time. Transient.
    #[error("{0}")]
    Unreachable(String),
    /// No answer in time: transient, and the portal may have taken the call all the same.
    #[error("{0}")]
    TimedOut(String),
    /// A status other than 2xx: transient for 5xx, 429 and (after a fresh login) 401/403, since
    /// those need the portal or the operator to act; permanent for the other 4xx.
    #[error("portal answered HTTP {status}")]
    Status { status: reqwest::StatusCode, body: String },
    /// A 2xx answer without the portal's `{error_code}`: transient (a proxy's page, say).
    #[error("portal answered something that is not its JSON ({0})")]
    Unreadable(String, String),
    /// The login was refused: transient, the operator has to fix the account.
    #[error("portal refused the login of `{username}`: error_code {code}: {message}")]
    LoginRefused { username: String, code: String, message: String, body: String },
    /// An `error_code` other than `00`; what it means is in [`wire::ANSWER_CODES`].
    #[error("error_code {code}: {message}")]
    Refused { code: String, message: String, verdict: Verdict, body: String },
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Status { status, .. } => {
                status.is_server_error()
                    || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || Self::is_auth_status(*status)
            }
            CallError::Refused { verdict, .. } => *verdict != Verdict::RefusedData,
            CallError::Unreachable(_)
            | CallError::TimedOut(_)
            | CallError::Unreadable(..)
            | CallError::LoginRefused { .. } => true,
        }
    }

    /// The failure's code, as `delivery.permanent` and `delivery.transient` name it.
    pub fn code(&self) -> String {
        match self {
            CallError::Unreachable(_) => "unreachable".into(),
            CallError::TimedOut(_) => "timeout".into(),
            CallError::Status { status, .. } => format!("http:{}", status.as_u16()),
            CallError::Unreadable(..) => "unreadable".into(),
            CallError::LoginRefused { code, .. } => format!("login:{code}"),
            CallError::Refused { code, .. } => format!("answer:{code}"),
        }
    }

    /// The portal's verdict, when it gave one.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            CallError::Refused { verdict, .. } => Some(*verdict),
            _ => None,
        }
    }

    /// The answer as received, for the operator reading a dead letter.
    pub fn peer_answer(&self) -> Option<String> {
        match self {
            CallError::Unreachable(_) | CallError::TimedOut(_) => None,
            CallError::Status { status, body } => Some(format!("HTTP {status}: {body}")),
            CallError::Unreadable(_, body) | CallError::LoginRefused { body, .. } | CallError::Refused { body, .. } => {
                Some(body.clone())
            }
        }
    }

    fn needs_new_session(&self) -> bool {
        match self {
            CallError::Status { status, .. } => Self::is_auth_status(*status),
            CallError::Refused { verdict, .. } => *verdict == Verdict::RenewSession,
            _ => false,
        }
    }

    fn is_auth_status(status: reqwest::StatusCode) -> bool {
        status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN
    }
}

impl PortalClient {
    pub fn new(config: &DvcConfig) -> Result<PortalClient, ClientError> {
        let agent = concat!("lgsp-dvc/", env!("CARGO_PKG_VERSION"));
        Ok(PortalClient {
            http: peer::http_client(agent, config.timeout, config.tls())?,
            auth_url: config.endpoint(&config.auth_endpoint),
            integration_url: config.endpoint(&config.integration_endpoint),
            username: config.username.clone(),
            password: config.password.clone().unwrap_or_else(|| Secret::new("")),
            madonvi: config.madonvi.clone(),
            timeout: config.timeout,
            session_max_age: config.session_max_age,
            session: Mutex::new(None),
        })
    }

    /// Logs in now and keeps the new session.
    pub async fn login(&self) -> Result<(), CallError> {
        let mut slot = self.session.lock().await;
        *slot = Some(self.new_session().await?);
        Ok(())
    }

    /// Sends one call with the current session, renewing it once if the portal no longer takes
    /// it. `message_ids` are the envelope ids of the call's items, in item order.
    pub async fn call(&self, call: &Call, message_ids: &[Uuid]) -> Result<PortalAnswer, CallError> {
        let ids = message_ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",");
        self.with_session(|session| mapping::request_body(session, &self.madonvi, call), Some(&ids)).await
    }

    /// `TraCuuHoSo`: the portal's copy of dossier `code`, `None` when it does not know it.
    pub async fn lookup_dossier(&self, code: &str) -> Result<Option<Value>, CallError> {
        let body = |session: &str| mapping::lookup_dossier_body(session, &self.madonvi, code);
        match self.with_session(body, None).await {
            Ok(answer) => Ok(Some(answer.body.get(wire::DATA).cloned().unwrap_or(Value::Null))),
            Err(CallError::Refused { verdict: Verdict::UnknownDossier, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn with_session(
        &self,
        body: impl Fn(&str) -> Value,
        message_ids: Option<&str>,
    ) -> Result<PortalAnswer, CallError> {
        let session = self.session(None).await?;
        match self.send(&body(&session), message_ids).await {
            Err(e) if e.needs_new_session() => {
                events::session_refused(&e);
                let session = self.session(Some(&session)).await?;
                self.send(&body(&session), message_ids).await
            }
            answer => answer,
        }
    }

    /// The session to use: the kept one unless it is `refused` or too old, else a new one.
    async fn session(&self, refused: Option<&str>) -> Result<String, CallError> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref()
            && session.since.elapsed() < self.session_max_age
            && refused != Some(session.token.as_str())
        {
            return Ok(session.token.clone());
        }
        *slot = None;
        let session = self.new_session().await?;
        let token = session.token.clone();
        *slot = Some(session);
        Ok(token)
    }

    async fn new_session(&self) -> Result<Session, CallError> {
        let body = mapping::login_body(&self.username, self.password.expose());
        let answer = self.post(&self.auth_url, &body, None).await?;
        let token = answer.body.get(wire::SESSION).and_then(Value::as_str).filter(|t| !t.is_empty());
        match (answer.error_code.as_str(), token) {
            (wire::OK, Some(token)) => {
                events::logged_in(&self.username);
                Ok(Session { token: token.to_string(), since: Instant::now() })
            }
            (code, _) => Err(CallError::LoginRefused {
                username: self.username.clone(),
                code: code.to_string(),
                message: if code == wire::OK { "no session in the answer".into() } else { answer.message },
                body: answer.masked,
            }),
        }
    }

    async fn send(&self, body: &Value, message_ids: Option<&str>) -> Result<PortalAnswer, CallError> {
        let answer = self.post(&self.integration_url, body, message_ids).await?;
        if answer.error_code == wire::OK {
            return Ok(PortalAnswer { message: answer.message, body: answer.body, text: answer.text });
        }
        Err(CallError::Refused {
            verdict: Verdict::of(&answer.error_code),
            code: answer.error_code,
            message: answer.message,
            body: answer.masked,
        })
    }

    async fn post(&self, url: &Url, body: &Value, message_ids: Option<&str>) -> Result<RawAnswer, CallError> {
        let mut request = self.http.post(url.clone()).json(body);
        if let Some(ids) = message_ids {
            request = request.header(MESSAGE_ID_HEADER, ids);
        }
        let response = request.send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error(url, &e))?;
        read_answer(status, &text)
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> CallError {
        let reason = peer::unreachable("the portal", url, self.timeout, error);
        if error.is_timeout() { CallError::TimedOut(reason) } else { CallError::Unreachable(reason) }
    }
}

/// Reads the portal's answer to a call: its `error_code` and message, or why it cannot be read.
pub fn read_answer(status: reqwest::StatusCode, text: &str) -> Result<RawAnswer, CallError> {
    // The portal may echo the data it refuses: what goes into errors (and so into logs and
    // dead letters) has its citizen IDs masked.
    let masked = redact(text);
    if !status.is_success() {
        return Err(CallError::Status { status, body: masked });
    }
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return Err(CallError::Unreadable("not JSON".into(), masked));
    };
    let error_code = match body.get(wire::ERROR_CODE) {
        Some(Value::String(code)) => code.clone(),
        Some(Value::Number(code)) => format!("{:0>2}", code.to_string()),
        _ => return Err(CallError::Unreadable(format!("no {}", wire::ERROR_CODE), masked)),
    };
    let message = body.get(wire::MESSAGE).and_then(Value::as_str).map(redact).unwrap_or_default();
    Ok(RawAnswer { error_code, message, body, masked, text: text.to_string() })
}

/// Any 2xx answer, before its `error_code` is judged.
pub struct RawAnswer {
    error_code: String,
    /// With citizen IDs masked, like `masked`.
    message: String,
    body: Value,
    /// The answer as text, citizen IDs masked: what an error carries.
    masked: String,
    /// The answer as received.
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> CallError {
        CallError::Status { status: reqwest::StatusCode::from_u16(code).unwrap(), body: String::new() }
    }

    fn refused(code: &str) -> CallError {
        CallError::Refused {
            code: code.into(),
            message: String::new(),
            verdict: Verdict::of(code),
            body: String::new(),
        }
    }

    #[test]
    fn what_retrying_may_help() {
        for transient in [500, 502, 503, 504, 429, 401, 403] {
            assert!(status(transient).is_transient(), "{transient}");
        }
        for permanent in [400, 404, 405, 413, 415, 422] {
            assert!(!status(permanent).is_transient(), "{permanent}");
        }
        assert!(!refused(wire::INVALID_DATA).is_transient());
        for transient in [wire::WRONG_CREDENTIALS, wire::SESSION_INVALID, wire::NOT_FOUND, wire::WRONG_UNIT, "99", "77"]
        {
            assert!(refused(transient).is_transient(), "{transient}");
        }
        assert!(CallError::Unreachable("refused".into()).is_transient());
    }

    #[test]
    fn what_calls_for_a_new_session() {
        assert!(status(401).needs_new_session() && status(403).needs_new_session());
        assert!(refused(wire::SESSION_INVALID).needs_new_session());
        assert!(!status(500).needs_new_session() && !refused(wire::INVALID_DATA).needs_new_session());
    }
}
