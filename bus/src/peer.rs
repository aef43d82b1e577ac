//! What every adapter's client needs to reach its peer: one HTTP client, kept alive, that trusts
//! the public CAs and, where the peer uses one, a private CA from a PEM file; the checks of the
//! settings saying where the peer is; and words for a call that got no answer.

use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::config::{ConfigProblem, Secret, env_var_for};

/// Why an adapter's client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting it cannot use, such as a `ca_file` without a certificate.
    #[error("{}", .0.reason)]
    Setting(ConfigProblem),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl ClientError {
    /// As `lgsp check-config` lists it: keyed by the setting, if one is to blame.
    pub fn into_problems(self) -> Vec<ConfigProblem> {
        match self {
            ClientError::Setting(problem) => vec![problem],
            other => vec![ConfigProblem::new("", other.to_string())],
        }
    }
}

/// The certificates of a CA file; a problem with `ca_file` says why it cannot be used.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigProblem> {
    let problem = |reason: String| ConfigProblem::new("ca_file", reason);
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| problem(format!("{} is not a PEM certificate file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(problem(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(certs)
}

/// The files of a peer's TLS, as an adapter's config names them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerTls<'a> {
    /// A private CA to trust besides the public ones (`ca_file`).
    pub ca_file: Option<&'a Path>,
    /// The certificate (PEM, with its chain) and private key (PKCS#8 PEM) presented to a peer
    /// that asks for mutual TLS (`client_cert`, `client_key`), as the national integration
    /// platform's security servers do.
    pub client_cert: Option<&'a Path>,
    pub client_key: Option<&'a Path>,
}

impl PeerTls<'_> {
    /// Problems with these files, keyed by their settings.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems: Vec<ConfigProblem> = ca_file_problem(self.ca_file).into_iter().collect();
        if let Err(problem) = self.identity() {
            problems.push(problem);
        }
        problems
    }

    /// The client identity to present, if one is configured.
    fn identity(&self) -> Result<Option<reqwest::Identity>, ConfigProblem> {
        let (cert, key) = match (self.client_cert, self.client_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => return Err(ConfigProblem::new("client_key", "is required with client_cert")),
            (None, Some(_)) => return Err(ConfigProblem::new("client_cert", "is required with client_key")),
        };
        let read = |key: &str, path: &Path| {
            std::fs::read(path).map_err(|e| ConfigProblem::new(key, format!("cannot read {}: {e}", path.display())))
        };
        let mut pem = read("client_cert", cert)?;
        pem.push(b'\n');
        pem.extend(read("client_key", key)?);
        reqwest::Identity::from_pem(&pem).map(Some).map_err(|e| {
            ConfigProblem::new(
                "client_cert",
                format!("{} and {} are not a PEM certificate and its private key: {e}", cert.display(), key.display()),
            )
        })
    }
}

/// An HTTP client for one peer: `timeout` per call (connecting included), connections kept
/// alive, `agent` (such as `lgsp-dvc/0.1.0`) as its user agent, the CAs of `tls.ca_file` trusted
/// besides the public ones, and `tls`'s client certificate presented when the peer asks.
pub fn http_client(agent: &str, timeout: Duration, tls: PeerTls<'_>) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(60))
        .user_agent(agent);
    if let Some(path) = tls.ca_file {
        let certs = read_ca_file(path).map_err(ClientError::Setting)?;
        builder = builder.tls_certs_merge(certs);
    }
    if let Some(identity) = tls.identity().map_err(ClientError::Setting)? {
        builder = builder.identity(identity);
    }
    Ok(builder.build()?)
}

/// Why a call to `peer` (such as "the portal") at `url` got no answer: none within `timeout`, no
/// connection, or another failure, each with its innermost cause.
pub fn unreachable(peer: &str, url: &Url, timeout: Duration, error: &reqwest::Error) -> String {
    let host = url.host_str().unwrap_or_default();
    if error.is_timeout() {
        format!("no answer from {peer} at {host} within {timeout:?}")
    } else if error.is_connect() {
        format!("cannot connect to {peer} at {host}: {}", root_cause(error))
    } else {
        format!("call to {peer} at {host} failed: {}", root_cause(error))
    }
}

/// The innermost error says what happened ("Connection refused"); the outer ones only where.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `{url}{endpoint}`: a peer's endpoint below its base URL, which may have a path of its own.
pub fn endpoint_url(url: &Url, endpoint: &str) -> Url {
    let joined = format!("{}{endpoint}", url.as_str().trim_end_matches('/'));
    Url::parse(&joined).unwrap_or_else(|_| url.clone())
}

/// Problems with a peer's base `url`. When `appended`, endpoint paths are appended to it, so it
/// cannot carry a query either.
pub fn url_problems(url: &Url, appended: bool) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if !["http", "https"].contains(&url.scheme()) {
        problems.push(ConfigProblem::new("url", "must start with http:// or https://"));
    }
    if url.host().is_none() {
        problems.push(ConfigProblem::new("url", "needs a host"));
    }
    if appended && (url.query().is_some() || url.fragment().is_some()) {
        problems.push(ConfigProblem::new("url", "cannot carry a query or fragment: endpoints are appended to it"));
    } else if url.fragment().is_some() {
        problems.push(ConfigProblem::new("url", "cannot carry a fragment"));
    }
    problems
}

/// A path appended to the peer's url, such as `/auth`.
pub fn endpoint_problem(key: &str, path: &str, example: &str) -> Option<ConfigProblem> {
    let valid = path.starts_with('/') && path.len() > 1 && !path.contains(['?', '#', ' ', '{', '}']);
    (!valid).then(|| ConfigProblem::new(key, format!("must be a path starting with /, such as {example}")))
}

/// A secret the adapter cannot work without, which comes from the environment.
pub fn required_secret(id: &str, key: &str, secret: Option<&Secret>) -> Option<ConfigProblem> {
    match secret {
        Some(secret) if !secret.expose().is_empty() => None,
        _ => {
            Some(ConfigProblem::new(key, format!("is required: set {}", env_var_for(&format!("adapters.{id}.{key}")))))
        }
    }
}

/// A per-call `timeout`: more than 0, at most `max`.
pub fn timeout_problem(timeout: Duration, max: Duration) -> Option<ConfigProblem> {
    (timeout.is_zero() || timeout > max).then(|| {
        ConfigProblem::new("timeout", format!("must be more than 0 and at most {}", humantime::format_duration(max)))
    })
}

/// A `ca_file` that cannot be used.
fn ca_file_problem(ca_file: Option<&Path>) -> Option<ConfigProblem> {
    read_ca_file(ca_file?).err()
}
