//! Real TLS in tests: private CAs that sign server certificates for 127.0.0.1 and client
//! certificates, and listeners serving them (asking callers for a certificate, or not).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore};

use crate::simulator::SimListener;

/// A certificate and its key, as PEM and as the DER the bus reads from a handshake.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Issued {
    /// Certificate then key, as `reqwest::Identity::from_pem` reads them.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

/// A CA of its own, as a province's or a test's.
pub struct PrivateCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl PrivateCa {
    pub fn new(name: &str) -> PrivateCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("valid params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key")).expect("self-signed");
        PrivateCa { issuer }
    }

    /// Its certificate, PEM: what `ca_file` or `client_ca` holds to trust it.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self) -> Issued {
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        self.issue(CertificateParams::new(names).expect("valid names"))
    }

    /// A client certificate for `common_name` (organisation `lgsp test`), valid now or, when
    /// `expired`, only in 2020.
    pub fn client(&self, common_name: &str, expired: bool) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("valid params");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationName, "lgsp test");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

/// A listener on 127.0.0.1 serving a certificate `ca` signed; when `clients` is given, a caller
/// must present a certificate that CA signed.
pub async fn listener(ca: &PrivateCa, clients: Option<&PrivateCa>) -> SimListener {
    let server = ca.server();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = match clients {
        Some(clients) => {
            let mut roots = RootCertStore::empty();
            roots.add(clients.issuer.der().clone()).expect("a CA certificate");
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().expect("a verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(vec![server.der.clone()], PrivateKeyDer::Pkcs8(server.key_der.clone().into()))
        .expect("a certificate and its key");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    SimListener::tls(TcpListener::bind("127.0.0.1:0").await.expect("a port"), Arc::new(config))
}

/// A listener on 127.0.0.1 serving a certificate from a fresh private CA, and that CA's PEM
/// (what an adapter's `ca_file` holds to trust it).
pub async fn private_ca_listener() -> (SimListener, String) {
    let ca = PrivateCa::new("lgsp test CA");
    (listener(&ca, None).await, ca.pem())
}
