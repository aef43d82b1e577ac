//! OAuth2 client credentials (RFC 6749 §4.4) as an adapter's client uses them with its peer: the
//! token answer read leniently where servers differ, and the token kept until it is refused or
//! due for renewal.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A token with less than this left is renewed before the next call, so that it does not expire
/// on its way. A peer whose tokens live shorter than this gets a new token for every call.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// An access token as the token endpoint issued it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    /// `expires_in`; None when the answer has none (the token is then kept until refused).
    pub expires_in: Option<Duration>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("access_token", &"***").field("expires_in", &self.expires_in).finish()
    }
}

/// Reads a token answer (RFC 6749 §5.1). The error says what is wrong, never what the answer
/// held (it is a credential).
pub fn read_token(text: &str) -> Result<IssuedToken, String> {
    let answer: Value = serde_json::from_str(text).map_err(|_| "the answer is not JSON".to_string())?;
    let access_token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "the answer has no access_token".to_string())?;
    // RFC 6749 requires token_type; a missing one is taken as Bearer, another type is refused.
    match answer.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(other) => return Err(format!("the token is of type {other}; only Bearer tokens are supported")),
    }
    // Some servers write the lifetime as a string.
    let not_whole = || "expires_in is not a whole number of seconds".to_string();
    let expires_in = match answer.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(not_whole)?),
        Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| not_whole())?),
        Some(_) => return Err(not_whole()),
    };
    Ok(IssuedToken { access_token: access_token.to_string(), expires_in: expires_in.map(Duration::from_secs) })
}

/// The token a client uses, behind an async lock so that concurrent calls wait for one token
/// instead of each asking.
#[derive(Default)]
pub struct KeptToken(tokio::sync::Mutex<Option<Kept>>);

struct Kept {
    value: String,
    /// When to get a new one (on our clock); None: keep it until the peer refuses it.
    renew_at: Option<Instant>,
}

impl KeptToken {
    /// The token to use: the kept one unless it was `refused` or is due for renewal, else the one
    /// `issue` gets.
    pub async fn get<E>(
        &self,
        refused: Option<&str>,
        issue: impl Future<Output = Result<IssuedToken, E>>,
    ) -> Result<String, E> {
        let mut slot = self.0.lock().await;
        if let Some(kept) = slot.as_ref()
            && refused != Some(kept.value.as_str())
            && kept.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(kept.value.clone());
        }
        *slot = None;
        let asked = Instant::now();
        let issued = issue.await?;
        // Counted from when we asked: the token may have been issued a little before it arrived.
        let renew_at = issued.expires_in.map(|lifetime| asked + lifetime.saturating_sub(RENEW_BEFORE));
        *slot = Some(Kept { value: issued.access_token.clone(), renew_at });
        Ok(issued.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_leniently_where_servers_differ() {
        let token = read_token(r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#).unwrap();
        assert_eq!((token.access_token.as_str(), token.expires_in), ("abc", Some(Duration::from_secs(3600))));
        assert_eq!(format!("{token:?}"), "IssuedToken { access_token: \"***\", expires_in: Some(3600s) }");
        let token = read_token(r#"{"access_token":"abc","token_type":"bearer","expires_in":"300"}"#).unwrap();
        assert_eq!(token.expires_in, Some(Duration::from_secs(300)));
        assert_eq!(read_token(r#"{"access_token":"abc"}"#).unwrap().expires_in, None);

        assert!(read_token("<html>").unwrap_err().contains("not JSON"));
        assert!(read_token(r#"{"access_token":""}"#).unwrap_err().contains("no access_token"));
        assert!(read_token(r#"{"access_token":"abc","token_type":"mac"}"#).unwrap_err().contains("Bearer"));
        let negative = read_token(r#"{"access_token":"abc","expires_in":-5}"#).unwrap_err();
        assert!(negative.contains("expires_in") && !negative.contains("abc"), "{negative}");
        for refused in ["", "{}", r#"{"access_token":"s3cret","token_type":"mac"}"#, r#"{"access_token":""}"#] {
            let error = read_token(refused).unwrap_err();
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
