//! Over real TLS: the simulator serves a certificate from a private CA, which the adapter trusts
//! only through `ca_file`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use lgsp_bus::Adapter;
use lgsp_population::{PopulationAdapter, PopulationSim, SimOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// Accepts TCP connections and completes the TLS handshake before handing them to the server.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            // A client that does not trust us fails its handshake; that drops only its connection.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A simulator behind TLS, and the PEM of the CA that signed its certificate.
async fn tls_sim() -> (PopulationSim, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "lgsp test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()))
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let listener = TlsListener {
        tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor: TlsAcceptor::from(Arc::new(server)),
    };
    (PopulationSim::serve_on(listener, "https", SimOptions::default()).unwrap(), ca.pem())
}

#[tokio::test]
async fn the_adapter_trusts_a_private_ca_through_ca_file() {
    let (sim, ca_pem) = tls_sim().await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca_pem).unwrap();
    let mut settings = settings(&sim);
    assert!(sim.url().as_str().starts_with("https://127.0.0.1:"));
    settings.insert("ca_file".into(), ca_file.path().to_str().unwrap().into());
    let adapter = PopulationAdapter::new(&config(&settings)).unwrap();

    let reply = adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &["gender"])).await;
    assert_eq!(checked(reply), json!({"result": "match", "citizen": {"gender": "male"}}));
    assert_eq!(sim.calls().len(), 1);
}

#[tokio::test]
async fn without_ca_file_the_private_certificate_is_refused() {
    let (sim, _) = tls_sim().await;
    let adapter = adapter(&sim);
    let failure = unavailable(adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &[])).await);
    assert!(failure.reason.contains("certificate"), "{failure:?}");
    assert!(sim.calls().is_empty());
}
