//! The webhook's signature: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with
//! the secret the postal service and the province share. Pure; the simulator signs with it and
//! the adapter checks with it.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::mapping::wire;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why a webhook call's signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Signature header")]
    Missing,
    #[error("X-Signature is not sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Signature does not match the body")]
    Wrong,
}

/// The header value that signs `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", wire::SIGNATURE_PREFIX)
}

/// Checks `header` against `body`, in constant time over the digest.
pub fn verify(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
    let hex = header
        .get(..wire::SIGNATURE_PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(wire::SIGNATURE_PREFIX))
        .map(|_| &header[wire::SIGNATURE_PREFIX.len()..])
        .ok_or(SignatureError::Malformed)?;
    let digest = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| SignatureError::Wrong)
}

/// 64 hex digits (either case) into 32 bytes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        let signed = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(signed, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(verify("Jefe", b"what do ya want for nothing?", Some(&signed)), Ok(()));
        assert_eq!(verify("Jefe", b"what do ya want for nothing?", Some(&signed.to_uppercase())), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let body = br#"{"id":1}"#;
        let signed = sign("s3cret-shared-with-the-post", body);
        assert_eq!(verify("another secret", body, Some(&signed)), Err(SignatureError::Wrong));
        assert_eq!(verify("s3cret-shared-with-the-post", br#"{"id":2}"#, Some(&signed)), Err(SignatureError::Wrong));
        assert_eq!(verify("s3cret-shared-with-the-post", body, None), Err(SignatureError::Missing));
        assert_eq!(verify("s3cret-shared-with-the-post", body, Some(" ")), Err(SignatureError::Missing));
        for malformed in [&signed[7..], "sha1=abcd", "sha256=zz", &format!("{signed}00"), "sha256=ồồ"] {
            assert_eq!(verify("s3cret-shared-with-the-post", body, Some(malformed)), Err(SignatureError::Malformed));
        }
    }
}
