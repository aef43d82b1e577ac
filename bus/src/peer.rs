//! What every adapter's client needs to reach its peer: one HTTP client, kept alive, that trusts
//! the public CAs and, where the peer uses one, a private CA from a PEM file.

use std::path::Path;
use std::time::Duration;

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
