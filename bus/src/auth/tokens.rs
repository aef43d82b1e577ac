//! The tokens the bus issues (`POST /oauth2/token`): short-lived JWTs signed with Ed25519
//! (EdDSA), their public key at `GET /.well-known/jwks.json`. A token only says who is calling;
//! what they may do is read from the directory at each call, so a right revoked is gone at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keys::SigningKey;

/// Who issues the tokens, and whom they are for.
pub const ISSUER: &str = "lgsp";
pub const AUDIENCE: &str = "lgsp";

/// A member (an agency's system) or an operator (a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    Member,
    Operator,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The member's id or the operator's name.
    pub sub: String,
    pub kind: PrincipalKind,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// Why a token is refused, as the caller reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired; ask POST /oauth2/token for a new one")]
    Expired,
    #[error("the token's signature is not the bus's")]
    BadSignature,
    #[error("the token is for another audience than `{AUDIENCE}`")]
    WrongAudience,
    #[error("the token was issued by another issuer than `{ISSUER}`")]
    WrongIssuer,
    #[error("the token's algorithm `{0}` is not accepted: only EdDSA")]
    Algorithm(String),
    #[error("the token was signed with a key the bus does not know ({0})")]
    UnknownKey(String),
    #[error("not a token the bus issued: {0}")]
    Malformed(String),
}

/// A token just issued.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

pub struct Tokens {
    kid: String,
    x: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
    validation: Validation,
    /// Tokens whose signature was checked already, with what they say: a member sends its
    /// token with every request, and checking a signature costs more than the rest of a
    /// request's trust. Bounded: emptied when full. Expiry is checked at every use.
    verified: Mutex<HashMap<String, Claims>>,
}

/// Most tokens whose check is remembered.
const VERIFIED_CAP: usize = 10_000;

impl Tokens {
    pub fn new(key: &SigningKey, ttl: Duration) -> Tokens {
        let public = key.public();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Tokens {
            kid: public.id(),
            x: public.base64url(),
            encoding: EncodingKey::from_ed_der(key.pkcs8_der()),
            decoding: DecodingKey::from_ed_der(public.as_bytes()),
            ttl,
            validation,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, subject: &str, kind: PrincipalKind) -> Issued {
        self.issue_for(subject, kind, self.ttl)
    }

    /// A token valid `ttl` (a console session's, say) instead of the configured lifetime.
    pub fn issue_for(&self, subject: &str, kind: PrincipalKind, ttl: Duration) -> Issued {
        let now = crate::now_ms() as u64 / 1000;
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: subject.into(),
            kind,
            iat: now,
            exp: now + ttl.as_secs(),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.encoding).expect("an Ed25519 key signs");
        Issued { access_token, token_type: "Bearer", expires_in: ttl.as_secs() }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let now = crate::now_ms() as u64 / 1000;
        if let Some(claims) = self.verified.lock().expect("not poisoned").get(token) {
            // The same leeway as the first check's.
            return if claims.exp + self.validation.leeway > now {
                Ok(claims.clone())
            } else {
                Err(TokenError::Expired)
            };
        }
        let claims = self.check(token)?;
        let mut verified = self.verified.lock().expect("not poisoned");
        if verified.len() >= VERIFIED_CAP {
            verified.clear();
        }
        verified.insert(token.to_string(), claims.clone());
        Ok(claims)
    }

    /// Checks the token's header, signature and claims.
    fn check(&self, token: &str) -> Result<Claims, TokenError> {
        // The header is read first, by hand, so that `alg: none` (or any other) is named.
        let header = token.split('.').next().unwrap_or_default();
        let header: Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| TokenError::Malformed("its header is not base64url JSON".into()))?;
        match header["alg"].as_str() {
            Some("EdDSA") => {}
            other => return Err(TokenError::Algorithm(other.unwrap_or("missing").to_string())),
        }
        match header["kid"].as_str() {
            Some(kid) if kid == self.kid => {}
            other => return Err(TokenError::UnknownKey(other.unwrap_or("no kid").to_string())),
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm("EdDSA with a key of another kind".into()),
                other => TokenError::Malformed(format!("{other:?}")),
            }
        })
    }

    /// The public keys tokens are verified with (RFC 7517).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid, "x": self.x }] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&SigningKey::generate(), Duration::from_secs(300))
    }

    /// A token with `header` and `claims` as given, signed (or not) with `key`.
    fn forged(header: Value, claims: Value, key: Option<&SigningKey>) -> String {
        let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let signed = format!("{}.{}", part(&header), part(&claims));
        let signature = key.map(|k| URL_SAFE_NO_PAD.encode(k.sign(signed.as_bytes()))).unwrap_or_default();
        format!("{signed}.{signature}")
    }

    #[test]
    fn a_token_names_its_subject_until_it_expires() {
        let tokens = tokens();
        let issued = tokens.issue("onestop.sandbox", PrincipalKind::Member);
        assert_eq!((issued.token_type, issued.expires_in), ("Bearer", 300));
        let claims = tokens.verify(&issued.access_token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.kind), ("onestop.sandbox", PrincipalKind::Member));
        assert!(tokens.jwks()["keys"][0]["x"].as_str().is_some());

        let expired = Tokens { ttl: Duration::ZERO, ..tokens };
        let stale = expired.issue("onestop.sandbox", PrincipalKind::Member);
        // Past the leeway: expired.
        let mut claims: Value = serde_json::to_value(expired.verify(&stale.access_token).unwrap()).unwrap();
        claims["exp"] = json!(1);
        let key = SigningKey::generate();
        let other = Tokens::new(&key, Duration::from_secs(300));
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": other.kid});
        assert_eq!(other.verify(&forged(header, claims, Some(&key))), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_checked_before_is_taken_from_memory_until_it_expires() {
        let tokens = tokens();
        let issued = tokens.issue("onestop.sandbox", PrincipalKind::Member);
        let first = tokens.verify(&issued.access_token).unwrap();
        assert_eq!(tokens.verify(&issued.access_token).unwrap(), first);
        // Remembered, then past its expiry (and the leeway): refused without a new check.
        let mut expired = first.clone();
        expired.exp = crate::now_ms() as u64 / 1000 - 6;
        tokens.verified.lock().unwrap().insert(issued.access_token.clone(), expired);
        assert_eq!(tokens.verify(&issued.access_token), Err(TokenError::Expired));
    }

    #[test]
    fn forged_tokens_are_refused_each_for_its_reason() {
        let key = SigningKey::generate();
        let tokens = Tokens::new(&key, Duration::from_secs(300));
        let good = tokens.verify(&tokens.issue("onestop.sandbox", PrincipalKind::Member).access_token).unwrap();
        let claims = serde_json::to_value(&good).unwrap();
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": tokens.kid});

        let none = forged(json!({"alg": "none", "typ": "JWT"}), claims.clone(), None);
        assert_eq!(tokens.verify(&none), Err(TokenError::Algorithm("none".into())));
        let hs256 = forged(json!({"alg": "HS256", "kid": tokens.kid}), claims.clone(), Some(&key));
        assert_eq!(tokens.verify(&hs256), Err(TokenError::Algorithm("HS256".into())));

        // The same claims signed by another key, claiming the bus's key id.
        let other = SigningKey::generate();
        assert_eq!(tokens.verify(&forged(header.clone(), claims.clone(), Some(&other))), Err(TokenError::BadSignature));
        let other_kid = json!({"alg": "EdDSA", "kid": other.public().id()});
        assert!(matches!(
            tokens.verify(&forged(other_kid, claims.clone(), Some(&other))),
            Err(TokenError::UnknownKey(_))
        ));

        let mut audience = claims.clone();
        audience["aud"] = json!("another-bus");
        assert_eq!(tokens.verify(&forged(header.clone(), audience, Some(&key))), Err(TokenError::WrongAudience));
        let mut issuer = claims.clone();
        issuer["iss"] = json!("someone");
        assert_eq!(tokens.verify(&forged(header.clone(), issuer, Some(&key))), Err(TokenError::WrongIssuer));
        let mut tampered = claims.clone();
        tampered["sub"] = json!("portal.national");
        let mut token = forged(header.clone(), claims, Some(&key));
        let signature = token.rsplit('.').next().unwrap().to_string();
        token = format!("{}.{signature}", forged(header, tampered, None).trim_end_matches('.'));
        assert_eq!(tokens.verify(&token), Err(TokenError::BadSignature));
        assert!(matches!(tokens.verify("not.a.token"), Err(TokenError::Malformed(_))));
    }
}
