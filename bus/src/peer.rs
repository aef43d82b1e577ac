//! What every adapter's client needs to reach its peer: one HTTP client, kept alive, that trusts
//! the public CAs and, where the peer uses one, a private CA from a PEM file.

use std::path::Path;
use std::time::Duration;

use crate::config::{ConfigProblem, Secret, env_var_for};

/// The certificates of a CA file; an error says why it cannot be used.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// An HTTP client for one peer: `timeout` per call (connecting included), connections kept
/// alive, `agent` (such as `lgsp-dvc/0.1.0`) as its user agent, and the CAs of `ca_file` trusted
/// besides the public ones.
pub fn http_client(agent: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(60))
        .user_agent(agent);
    if let Some(path) = ca_file {
        builder = builder.tls_certs_merge(read_ca_file(path)?);
    }
    Ok(builder)
}

/// Problems with a peer's base `url`. When `appended`, endpoint paths are appended to it, so it
/// cannot carry a query either.
pub fn url_problems(url: &url::Url, appended: bool) -> Vec<ConfigProblem> {
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
pub fn ca_file_problem(ca_file: Option<&Path>) -> Option<ConfigProblem> {
    let reason = read_ca_file(ca_file?).err()?;
    Some(ConfigProblem::new("ca_file", reason))
}
