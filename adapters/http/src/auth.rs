//! How each call to the agency's service proves who sends it, one of:
//!
//! - `none`: nothing (a service on loopback only);
//! - `bearer`: `Authorization: Bearer <token>`, a static token;
//! - `oauth2`: a token from the identity server by client credentials (RFC 6749 §4.4), kept until
//!   shortly before it expires and renewed once when the service answers 401;
//! - `mtls`: the client certificate, presented during the TLS handshake (see [`HttpConfig::tls`]);
//! - `hmac`: `<header>: sha256=<lower-case hex HMAC-SHA256 of the exact body bytes>`.
//!
//! Secrets never reach an error or a log line; a token answer is a credential, so only what is
//! wrong with it is ever said.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use lgsp_bus::Secret;
use lgsp_bus::client_credentials::{IssuedToken, KeptToken, read_token};
use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName};
use reqwest::{RequestBuilder, StatusCode};
use sha2::Sha256;
use url::Url;

use crate::client::explanation;
use crate::config::{AuthKind, HttpConfig};
use crate::events;

type HmacSha256 = hmac::Hmac<Sha256>;

/// What prefixes the hex digest in a signature header.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// The auth of one adapter's calls.
pub enum Auth {
    None,
    Bearer(Secret),
    OAuth2(Box<OAuth2>),
    /// The certificate is in the HTTP client; nothing to add to a call.
    Mtls,
    Hmac {
        secret: Secret,
        header: HeaderName,
    },
}

/// An OAuth2 client (client credentials) and the token it holds.
pub struct OAuth2 {
    /// The adapter's id, for its events.
    adapter: String,
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: Option<String>,
    timeout: Duration,
    token: KeptToken,
}

/// Why no token could be had. Every one is the identity server's (or the link's, or the
/// account's) trouble: retrying may help once someone acts.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No connection, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The token endpoint refused the client (wrong id or secret, grant not allowed).
    #[error("token endpoint refused client `{client_id}`: HTTP {status}: {explanation}")]
    Refused { client_id: String, status: StatusCode, explanation: String, body: String },
    /// The token endpoint failed (5xx, say).
    #[error("token endpoint answered HTTP {status}: {explanation}")]
    Status { status: StatusCode, explanation: String, body: String },
    /// A 2xx answer without a usable token.
    #[error("token endpoint answered without a usable token: {0}")]
    Unreadable(String),
}

impl TokenError {
    /// The failure's code, as `delivery.permanent` and `delivery.transient` name it.
    pub fn code(&self) -> String {
        match self {
            TokenError::Unreachable(_) => "unreachable".into(),
            TokenError::Refused { status, .. } | TokenError::Status { status, .. } => {
                format!("token:{}", status.as_u16())
            }
            TokenError::Unreadable(_) => "unreadable".into(),
        }
    }

    /// The answer as received (status and body, masked), for the operator.
    pub fn peer_answer(&self) -> Option<String> {
        match self {
            TokenError::Refused { status, body, .. } | TokenError::Status { status, body, .. } => {
                Some(format!("HTTP {status}: {body}"))
            }
            TokenError::Unreachable(_) | TokenError::Unreadable(_) => None,
        }
    }
}

impl Auth {
    /// The auth `config` describes, its calls made with `http`. The config was checked: a missing
    /// secret is an empty one, which the service refuses.
    pub fn new(adapter: &str, config: &HttpConfig, http: &reqwest::Client) -> Auth {
        let auth = &config.auth;
        let secret = |secret: &Option<Secret>| secret.clone().unwrap_or_else(|| Secret::new(""));
        match auth.kind {
            AuthKind::None => Auth::None,
            AuthKind::Mtls => Auth::Mtls,
            AuthKind::Bearer => Auth::Bearer(secret(&auth.token)),
            AuthKind::Hmac => Auth::Hmac {
                secret: secret(&auth.secret),
                header: HeaderName::from_bytes(config.signature_header().as_bytes())
                    .unwrap_or(HeaderName::from_static("x-lgsp-signature")),
            },
            AuthKind::Oauth2 => Auth::OAuth2(Box::new(OAuth2 {
                adapter: adapter.to_string(),
                http: http.clone(),
                token_url: config.token_url().unwrap_or_else(|| config.url.clone()),
                client_id: auth.client_id.clone().unwrap_or_default(),
                client_secret: secret(&auth.client_secret),
                scope: auth.scope.clone(),
                timeout: config.timeout,
                token: KeptToken::default(),
            })),
        }
    }

    /// The token to send, for an auth that uses one: the kept one unless it was `refused`.
    pub async fn token(&self, refused: Option<&str>) -> Result<Option<String>, TokenError> {
        match self {
            Auth::OAuth2(oauth2) => oauth2.token(refused).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Whether a 401 may be cured by a new token.
    pub fn renews(&self) -> bool {
        matches!(self, Auth::OAuth2(_))
    }

    /// `request` with what proves who sends `body`; `token` from [`Self::token`].
    pub fn apply(&self, request: RequestBuilder, body: &[u8], token: Option<&str>) -> RequestBuilder {
        match self {
            Auth::None | Auth::Mtls => request,
            Auth::Bearer(secret) => request.bearer_auth(secret.expose()),
            Auth::OAuth2(_) => request.bearer_auth(token.unwrap_or_default()),
            Auth::Hmac { secret, header } => request.header(header.clone(), sign(secret.expose(), body)),
        }
    }
}

impl OAuth2 {
    async fn token(&self, refused: Option<&str>) -> Result<String, TokenError> {
        let issue = async {
            let issued = self.issue().await?;
            events::token_issued(&self.adapter, &self.client_id, issued.expires_in);
            Ok(issued)
        };
        self.token.get(refused, issue).await
    }

    /// The token call: client credentials (RFC 6749 §4.4), the client authenticated with HTTP
    /// Basic, id and secret form-encoded first (§2.3.1).
    async fn issue(&self) -> Result<IssuedToken, TokenError> {
        let url = &self.token_url;
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let form = token_form(self.scope.as_deref());
        let unreachable =
            |e: &reqwest::Error| TokenError::Unreachable(peer::unreachable("the token endpoint", url, self.timeout, e));
        let response = self
            .http
            .post(url.clone())
            .basic_auth(encode(&self.client_id), Some(encode(self.client_secret.expose())))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| unreachable(&e))?;
        if status.is_success() {
            return read_token(&text).map_err(TokenError::Unreadable);
        }
        let (explanation, body) = (explanation(text.as_bytes()), redact(&text));
        if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            Err(TokenError::Refused { client_id: self.client_id.clone(), status, explanation, body })
        } else {
            Err(TokenError::Status { status, explanation, body })
        }
    }
}

/// The form of a token request; the client itself is in the `Authorization` header.
fn token_form(scope: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    form.finish()
}

/// Why a signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("the signature is not sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Wrong,
}

/// The header value that signs `body` with `secret`: `sha256=<lower-case hex>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("{SIGNATURE_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `header` against `body`, in constant time over the digest.
pub fn verify(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
    let hex = header
        .get(..SIGNATURE_PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(SIGNATURE_PREFIX))
        .and_then(|_| header.get(SIGNATURE_PREFIX.len()..))
        .ok_or(SignatureError::Malformed)?;
    let digest = hex::decode(hex).ok().filter(|d| d.len() == 32).ok_or(SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| SignatureError::Wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_the_body_in_lower_case_hex() {
        // RFC 4231, test case 2.
        let signed = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(signed, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(verify("Jefe", b"what do ya want for nothing?", Some(&signed)), Ok(()));
        assert_eq!(verify("Jefe", b"what do ya want for nothing!", Some(&signed)), Err(SignatureError::Wrong));
        assert_eq!(verify("Jeff", b"what do ya want for nothing?", Some(&signed)), Err(SignatureError::Wrong));
        assert_eq!(verify("Jefe", b"", None), Err(SignatureError::Missing));
        for malformed in ["sha1=abcd", &signed[7..], "sha256=zz", "sha256=ồồ", "sha2"] {
            assert_eq!(verify("Jefe", b"", Some(malformed)), Err(SignatureError::Malformed), "{malformed}");
        }
    }
}
