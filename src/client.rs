//! How the CLI speaks to a running bus: its HTTP API, as an operator who proved who they are
//! (`--operator NAME` and `LGSP_OPERATOR_PASSWORD`, or a token in `LGSP_TOKEN`, or a client
//! certificate the bus binds to the operator; the password is never a flag, so it never shows in
//! the process list).

use std::process::ExitCode;

use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Where the bus is, and who speaks to it.
#[derive(Args)]
pub struct Connection {
    /// The bus's HTTP API (default: http.listen of the config).
    #[arg(long, global = true, env = "LGSP_BUS")]
    bus: Option<String>,
    /// The operator acting (their password in LGSP_OPERATOR_PASSWORD), or the member (its id
    /// as --member, its client secret there too); every action is recorded with their name.
    #[arg(long, alias = "member", global = true, env = "LGSP_OPERATOR")]
    operator: Option<String>,
    /// A private CA to trust for the bus's HTTPS (PEM), such as the province's.
    #[arg(long, global = true, env = "LGSP_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// The operator's client certificate (PEM, with its chain), for a bus that takes them
    /// (`[http.tls] client_ca`): it proves who calls, no password or token needed.
    #[arg(long, global = true, env = "LGSP_CLIENT_CERT", requires = "client_key")]
    client_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PKCS#8 PEM).
    #[arg(long, global = true, env = "LGSP_CLIENT_KEY", requires = "client_cert")]
    client_key: Option<std::path::PathBuf>,
}

/// Longest the CLI waits for one answer of the bus.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The bus as the CLI speaks to it.
pub struct Bus {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A refusal or a failure, as printed.
pub struct Failed(pub String);

impl Bus {
    /// Connects as `--operator` (or with `LGSP_TOKEN`), to `--bus` or else `default_bus`.
    pub async fn connect(
        connection: Connection,
        default_bus: impl FnOnce() -> Result<String, ExitCode>,
    ) -> Result<Bus, ExitCode> {
        let base = match connection.bus {
            Some(bus) => bus,
            None => default_bus()?,
        };
        let tls = lgsp_bus::peer::PeerTls {
            ca_file: connection.ca_file.as_deref(),
            client_cert: connection.client_cert.as_deref(),
            client_key: connection.client_key.as_deref(),
        };
        let http = lgsp_bus::peer::http_client("lgsp-cli", CALL_TIMEOUT, tls)
            .map_err(|e| fail(Failed(format!("--ca-file, --client-cert, --client-key: {e}"))))?;
        let mut bus = Bus { http, base: base.trim_end_matches('/').to_string(), token: None };
        let certified = connection.client_cert.is_some();
        bus.token = match (std::env::var("LGSP_TOKEN"), connection.operator, std::env::var("LGSP_OPERATOR_PASSWORD")) {
            (Ok(token), _, _) => Some(token),
            (Err(_), Some(operator), Ok(password)) => Some(bus.token(&operator, &password).await.map_err(fail)?),
            // The certificate says who calls.
            (Err(_), _, Err(_)) if certified => None,
            (Err(_), Some(operator), Err(_)) => {
                return Err(fail(Failed(format!("set LGSP_OPERATOR_PASSWORD, the password of {operator}"))));
            }
            // A bus on loopback may not ask who calls; one that does says so.
            (Err(_), None, _) => None,
        };
        Ok(bus)
    }

    async fn token(&self, client_id: &str, secret: &str) -> Result<String, Failed> {
        let form = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)];
        let url = format!("{}/oauth2/token", self.base);
        let response = self.http.post(&url).form(&form).send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["access_token"].as_str() {
            Some(token) => Ok(token.to_string()),
            None => Err(Failed(format!(
                "{status}: no token for {client_id}: {}",
                body["error_description"].as_str().unwrap_or_default()
            ))),
        }
    }

    pub async fn call(&self, method: Method, path: &str, query: &[(&str, String)]) -> Result<Value, Failed> {
        self.send(method, path, query, None).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Failed> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Failed(format!("{}{path} is not a URL: {e}", self.base)))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() { Ok(body) } else { Err(Failed(problem(status, &body))) }
    }
}

fn unreachable(base: &str, error: &reqwest::Error) -> Failed {
    Failed(format!("cannot reach the bus at {base}: {error}"))
}

/// Prints a failure; the command fails.
pub fn fail(Failed(message): Failed) -> ExitCode {
    eprintln!("lgsp: {message}");
    ExitCode::FAILURE
}

/// A problem document on one line per violation, and the right that is missing.
fn problem(status: StatusCode, body: &Value) -> String {
    let mut text = format!("{status}");
    for key in ["title", "detail"] {
        if let Some(part) = body[key].as_str() {
            text.push_str(": ");
            text.push_str(part);
        }
    }
    if let Some(right) = body["missing_right"].as_str() {
        text.push_str(&format!(" (missing right: {right})"));
    }
    for violation in body["violations"].as_array().into_iter().flatten() {
        let pointer = violation["pointer"].as_str().unwrap_or("");
        let field = pointer.trim_start_matches('/');
        text.push_str(&format!("\n  --{field}: {}", violation["reason"].as_str().unwrap_or("")));
    }
    text
}
