//! Ed25519 keys: the bus signs its tokens and the message log's head with them. Kept as PKCS#8
//! (PEM on disk or in the environment); the public half is what others verify with.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::envelope::sha256_hex;

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")]
    NotPem,
    #[error("not an Ed25519 key: {0}")]
    NotEd25519(String),
}

/// An Ed25519 key pair.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// A new key, from the system's randomness.
    pub fn generate() -> SigningKey {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("the system has randomness");
        SigningKey::from_pkcs8(document.as_ref()).expect("a key just made is valid")
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        Ok(SigningKey { pair, pkcs8: der.to_vec() })
    }

    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.trim().as_bytes()).map_err(|_| KeyError::NotPem)?;
        SigningKey::from_pkcs8(der.secret_pkcs8_der())
    }

    pub fn from_file(path: &Path) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        SigningKey::from_pem(&text)
    }

    /// The key of `file`, made and written there (readable by its owner only) if it is missing.
    pub fn from_file_or_new(path: &Path) -> Result<SigningKey, KeyError> {
        if path.exists() {
            return SigningKey::from_file(path);
        }
        let key = SigningKey::generate();
        let write = |source| KeyError::Write { path: path.display().to_string(), source };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(write)?;
        }
        write_private(path, key.to_pem().as_bytes()).map_err(write)?;
        Ok(key)
    }

    /// PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        let body = STANDARD.encode(&self.pkcs8);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64")).collect();
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.pair.public_key().as_ref().to_vec())
    }
}

/// The public half: 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(Vec<u8>);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<PublicKey> {
        (bytes.len() == 32).then(|| PublicKey(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its base64url, as a JWK's `x`.
    pub fn base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// A short id: the first 16 hex digits of its SHA-256 (a JWK's `kid`).
    pub fn id(&self) -> String {
        sha256_hex(&self.0)[..16].to_string()
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(message, signature).is_ok()
    }
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_signs_and_its_public_half_verifies_through_pem() {
        let key = SigningKey::generate();
        let again = SigningKey::from_pem(&key.to_pem()).unwrap();
        let signature = again.sign(b"head");
        assert!(key.public().verify(b"head", &signature));
        assert!(!key.public().verify(b"heat", &signature));
        assert!(!SigningKey::generate().public().verify(b"head", &signature));
        assert!(matches!(SigningKey::from_pem("not a key"), Err(KeyError::NotPem)));
    }
}
