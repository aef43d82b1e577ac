//! What the bus (and every simulator) serves HTTP on: plain TCP, or TLS with, when a client CA is
//! given, the client's certificate checked against it and handed to the handlers.
//!
//! TLS handshakes run apart from the accept loop, each bounded in time, so a client that opens a
//! connection and says nothing holds up no one else.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_util::either::Either;

use crate::auth::ClientCertificate;
use crate::config::TlsConfig;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections handshaken and not yet taken by the server, at most.
const READY: usize = 256;

/// Why TLS cannot be set up from `[http.tls]`.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{key}: cannot read {path}: {reason}")]
    Read { key: &'static str, path: String, reason: String },
    #[error("{key}: {path} holds no {what}")]
    Empty { key: &'static str, path: String, what: &'static str },
    #[error("http.tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("http.tls.client_ca: {0}")]
    ClientCa(String),
}

/// A listener, plain or TLS.
pub struct Listener {
    addr: SocketAddr,
    scheme: &'static str,
    ready: mpsc::Receiver<(Io, SocketAddr)>,
}

pub type Io = Either<TcpStream, tokio_rustls::server::TlsStream<TcpStream>>;

impl Listener {
    pub fn plain(tcp: TcpListener) -> Listener {
        Listener::start(tcp, None)
    }

    /// Completes a TLS handshake with `config` before handing each connection over.
    pub fn tls(tcp: TcpListener, config: Arc<ServerConfig>) -> Listener {
        Listener::start(tcp, Some(TlsAcceptor::from(config)))
    }

    fn start(tcp: TcpListener, tls: Option<TlsAcceptor>) -> Listener {
        let addr = tcp.local_addr().expect("a bound listener has an address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (sender, ready) = mpsc::channel(READY);
        tokio::spawn(async move {
            loop {
                // Once the server is gone, so is the port.
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    _ = sender.closed() => return,
                };
                let Ok((stream, peer)) = accepted else {
                    // Out of file descriptors, say: a moment for some to close.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Some(acceptor) = tls.clone() else {
                    let _ = sender.send((Either::Left(stream), peer)).await;
                    continue;
                };
                let sender = sender.clone();
                tokio::spawn(async move {
                    // A client that does not trust us, or that we do not trust, fails its
                    // handshake; that drops only its connection.
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        let _ = sender.send((Either::Right(tls), peer)).await;
                    }
                });
            }
        });
        Listener { addr, scheme, ready }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }
}

impl axum::serve::Listener for Listener {
    type Io = Io;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended: nothing comes any more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// Who is at the other end of a connection: its address and, over mutual TLS, its certificate.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub certificate: Option<Arc<ClientCertificate>>,
}

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        let certificate = match stream.io() {
            Either::Right(tls) => tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| ClientCertificate::from_der(leaf))
                .map(Arc::new),
            Either::Left(_) => None,
        };
        Peer { addr: *stream.remote_addr(), certificate }
    }
}

/// The bus's TLS: its certificate and key, and when `client_ca` is set, client certificates
/// from that CA accepted (not required: a caller may prove who it is with a token instead).
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates("http.tls.cert", &tls.cert)?;
    let read = |e: &dyn std::fmt::Display| TlsSetupError::Read {
        key: "http.tls.key",
        path: tls.key.display().to_string(),
        reason: e.to_string(),
    };
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| read(&e))?;
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates("http.tls.client_ca", path)? {
                roots.add(certificate)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsSetupError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let read = |reason: String| TlsSetupError::Read { key, path: path.display().to_string(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| read(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsSetupError::Empty { key, path: path.display().to_string(), what: "PEM certificate" });
    }
    Ok(chain)
}
