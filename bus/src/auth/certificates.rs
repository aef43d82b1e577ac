//! Client certificates: which member (or operator) a certificate is. The TLS handshake already
//! checked that it chains to `[http.tls] client_ca` and is within its validity; here it is only
//! named, by its public key's SHA-256 or by its subject and issuer.

use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use crate::config::CertificateBinding;
use crate::envelope::sha256_hex;

/// What identifies a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// SHA-256 of its SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
    /// Its subject and issuer, as RFC 4514 writes them.
    pub subject: String,
    pub issuer: String,
}

impl ClientCertificate {
    /// Reads a DER certificate; `None` if it is not one.
    pub fn from_der(der: &[u8]) -> Option<ClientCertificate> {
        let certificate = Certificate::from_der(der).ok()?;
        let tbs = &certificate.tbs_certificate;
        let spki = tbs.subject_public_key_info.to_der().ok()?;
        Some(ClientCertificate {
            spki_sha256: sha256_hex(&spki),
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
        })
    }

    pub fn is(&self, binding: &CertificateBinding) -> bool {
        match binding {
            CertificateBinding::Pin { spki_sha256 } => spki_sha256.eq_ignore_ascii_case(&self.spki_sha256),
            CertificateBinding::Names { subject, issuer } => *subject == self.subject && *issuer == self.issuer,
        }
    }
}
