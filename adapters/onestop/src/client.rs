//! I/O with a one-stop system: one HTTP client, the OAuth2 token, and what each answer means.
//!
//! Bodies are never logged here (they name citizens); message ids and dossier codes are. What
//! goes into errors is masked with [`redact`], since errors end up in logs and dead letters.

use std::time::Duration;

use lgsp_bus::Secret;
use lgsp_bus::client_credentials::{IssuedToken, KeptToken, read_token};
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use url::Url;

use crate::config::OnestopConfig;
use crate::events;
use crate::mapping::{self, Verdict, wire};

pub use lgsp_bus::peer::ClientError;

/// A client of one one-stop system; shared by every lane of its adapter.
pub struct OnestopClient {
    http: reqwest::Client,
    token_url: Url,
    messages_url: Url,
    client_id: String,
    client_secret: Secret,
    timeout: Duration,
    token: KeptToken,
}

/// How the system took a message, and its answer's body as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: taken now.
    Accepted { status: StatusCode, text: String },
    /// 409: taken before, under the same Idempotency-Key.
    AlreadyReceived { text: String },
}

impl Answer {
    pub fn text(&self) -> &str {
        match self {
            Answer::Accepted { text, .. } | Answer::AlreadyReceived { text } => text,
        }
    }
}

/// Why a message did not go through. Only [`SendError::Refused`] blames the message; every other
/// one is the system's (or the link's, or our account's) trouble, and retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// A 4xx that refuses the message itself (422 with the system's reason, say).
    #[error("HTTP {status}: {explanation}")]
    Refused { status: StatusCode, explanation: String, body: String },
    /// 5xx, 403, 408, 429 or anything unexpected.
    #[error("one-stop system answered HTTP {status}: {explanation}")]
    Status { status: StatusCode, explanation: String, body: String },
    /// 401 to a token just issued: the system does not take this client's tokens.
    #[error("one-stop system refused a freshly issued token: HTTP {status}: {explanation}")]
    Unauthorized { status: StatusCode, explanation: String, body: String },
    /// The token endpoint refused the client (wrong id or secret, grant not allowed).
    #[error("token endpoint refused client `{client_id}`: HTTP {status}: {explanation}")]
    TokenRefused { client_id: String, status: StatusCode, explanation: String, body: String },
    /// The token endpoint failed (5xx, say).
    #[error("token endpoint answered HTTP {status}: {explanation}")]
    TokenStatus { status: StatusCode, explanation: String, body: String },
    /// A 2xx token answer without a usable token.
    #[error("token endpoint answered without a usable token: {0}")]
    TokenUnreadable(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        !matches!(self, SendError::Refused { .. })
    }

    /// The failure's code, as `delivery.permanent` and `delivery.transient` name it.
    pub fn code(&self) -> String {
        match self {
            SendError::Unreachable(_) => "unreachable".into(),
            SendError::Refused { status, .. } | SendError::Status { status, .. } => format!("http:{}", status.as_u16()),
            SendError::Unauthorized { status, .. } => format!("http:{}", status.as_u16()),
            SendError::TokenRefused { status, .. } | SendError::TokenStatus { status, .. } => {
                format!("token:{}", status.as_u16())
            }
            SendError::TokenUnreadable(_) => "unreadable".into(),
        }
    }

    /// The answer as received (status and body, masked), for the operator reading a dead letter.
    pub fn peer_answer(&self) -> Option<String> {
        match self {
            SendError::Unreachable(_) | SendError::TokenUnreadable(_) => None,
            SendError::Refused { status, body, .. }
            | SendError::Status { status, body, .. }
            | SendError::Unauthorized { status, body, .. }
            | SendError::TokenRefused { status, body, .. }
            | SendError::TokenStatus { status, body, .. } => Some(format!("HTTP {status}: {body}")),
        }
    }
}

impl OnestopClient {
    pub fn new(config: &OnestopConfig) -> Result<OnestopClient, ClientError> {
        let agent = concat!("lgsp-onestop/", env!("CARGO_PKG_VERSION"));
        Ok(OnestopClient {
            http: peer::http_client(agent, config.timeout, config.tls())?,
            token_url: config.token_url(),
            messages_url: config.messages_url(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone().unwrap_or_else(|| Secret::new("")),
            timeout: config.timeout,
            token: KeptToken::default(),
        })
    }

    /// Sends one message (`body`, whose envelope id is `message_id`), renewing the token once if
    /// the system no longer takes it.
    pub async fn send(&self, message_id: &str, body: &Value) -> Result<Answer, SendError> {
        let body = serde_json::to_vec(body).expect("a JSON value always serialises");
        let token = self.token(None).await?;
        match self.post(&token, message_id, &body).await {
            Err(SendError::Unauthorized { status, .. }) => {
                events::token_refused(&status, message_id);
                let token = self.token(Some(&token)).await?;
                self.post(&token, message_id, &body).await
            }
            answer => answer,
        }
    }

    /// The token to use: the kept one unless it was `refused` or is due for renewal, else a new one.
    async fn token(&self, refused: Option<&str>) -> Result<String, SendError> {
        let issue = async {
            let issued = self.issue().await?;
            events::token_issued(&self.client_id, issued.expires_in);
            Ok(issued)
        };
        self.token.get(refused, issue).await
    }

    /// The token call: client credentials (RFC 6749 §4.4).
    async fn issue(&self) -> Result<IssuedToken, SendError> {
        let url = &self.token_url;
        let form = mapping::token_form(&self.client_id, self.client_secret.expose());
        let response = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, wire::FORM_CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| self.transport_error("token endpoint", url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport_error("token endpoint", url, &e))?;
        if status.is_success() {
            // A token answer is a credential: an error never carries it, only what is wrong.
            return read_token(&text).map_err(SendError::TokenUnreadable);
        }
        let (explanation, body) = (mapping::explanation(&text), redact(&text));
        if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            Err(SendError::TokenRefused { client_id: self.client_id.clone(), status, explanation, body })
        } else {
            Err(SendError::TokenStatus { status, explanation, body })
        }
    }

    async fn post(&self, token: &str, message_id: &str, body: &[u8]) -> Result<Answer, SendError> {
        let url = &self.messages_url;
        let response = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, format!("{} {token}", wire::BEARER))
            .header(wire::IDEMPOTENCY_KEY, message_id)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_error("one-stop system", url, &e))?;
        let status = response.status();
        let verdict = Verdict::of(status.as_u16());
        if matches!(verdict, Verdict::Accepted | Verdict::AlreadyReceived) {
            // Taken either way: a body cut short does not undo that.
            let text = response.text().await.unwrap_or_default();
            return Ok(if verdict == Verdict::Accepted {
                Answer::Accepted { status, text }
            } else {
                Answer::AlreadyReceived { text }
            });
        }
        // The system may echo what it refuses: errors carry it with citizen IDs masked.
        let text = response.text().await.unwrap_or_default();
        let (explanation, body) = (mapping::explanation(&text), redact(&text));
        Err(match verdict {
            Verdict::RenewToken => SendError::Unauthorized { status, explanation, body },
            Verdict::Refused => SendError::Refused { status, explanation, body },
            _ => SendError::Status { status, explanation, body },
        })
    }

    fn transport_error(&self, what: &str, url: &Url, error: &reqwest::Error) -> SendError {
        SendError::Unreachable(peer::unreachable(&format!("the {what}"), url, self.timeout, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16) -> SendError {
        let status = StatusCode::from_u16(status).unwrap();
        match Verdict::of(status.as_u16()) {
            Verdict::Refused => SendError::Refused { status, explanation: String::new(), body: String::new() },
            Verdict::RenewToken => SendError::Unauthorized { status, explanation: String::new(), body: String::new() },
            _ => SendError::Status { status, explanation: String::new(), body: String::new() },
        }
    }

    #[test]
    fn only_a_refusal_of_the_message_is_permanent() {
        for permanent in [400, 404, 405, 413, 415, 422] {
            assert!(!failure(permanent).is_transient(), "{permanent}");
        }
        for transient in [401, 403, 408, 429, 500, 502, 503, 504] {
            assert!(failure(transient).is_transient(), "{transient}");
        }
        assert!(SendError::Unreachable("refused".into()).is_transient());
        assert!(SendError::TokenUnreadable("no access_token".into()).is_transient());
    }
}
