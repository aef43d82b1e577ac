//! I/O with the registry: one HTTP client, one POST per lookup, and what each answer means.
//!
//! Request and answer bodies are never logged: they hold personal data.

use std::time::Duration;

use lgsp_bus::peer;
use lgsp_bus::privacy::redact;
use lgsp_bus::{ConfigProblem, Failure, Secret, ServiceError};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

use crate::config::PopulationConfig;
use crate::mapping::{self, AnswerError, CongDan};

pub use lgsp_bus::peer::ClientError;

/// SOAP 1.1 over HTTP. [S]
pub const SOAP_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
pub const SOAP_ACTION_HEADER: &str = "SOAPAction";

/// More than any answer about one citizen; a larger one is not read.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A client of the registry, shared by every lookup (it keeps connections alive between them).
pub struct RegistryClient {
    http: reqwest::Client,
    url: Url,
    /// The `SOAPAction` header, quoted as SOAP 1.1 writes it.
    soap_action: HeaderValue,
    token: Option<Secret>,
    timeout: Duration,
}

/// Why a lookup gave no citizens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No connection, no answer in time, or an answer too large to read: the registry is unavailable.
    Unreachable(String),
    /// An answer that says no (a fault, a status) or that cannot be used; with the answer as
    /// received, citizen IDs masked.
    Answer { error: AnswerError, answer: String },
}

impl CallError {
    /// What the caller is told about the lookup for `dossier`.
    pub fn service_error(&self, dossier: &str) -> ServiceError {
        match self {
            CallError::Unreachable(reason) => {
                ServiceError::Unavailable(Failure::new(redact(&format!("lookup for {dossier} failed: {reason}"))))
            }
            CallError::Answer { error, answer } => error.service_error(dossier, Some(answer)),
        }
    }
}

impl RegistryClient {
    pub fn new(config: &PopulationConfig) -> Result<RegistryClient, ClientError> {
        let agent = concat!("lgsp-population/", env!("CARGO_PKG_VERSION"));
        let soap_action = HeaderValue::from_str(&format!("\"{}\"", config.soap_action.trim())).map_err(|_| {
            ClientError::Setting(ConfigProblem::new("soap_action", "soap_action cannot be sent as a header"))
        })?;
        Ok(RegistryClient {
            http: peer::http_client(agent, config.timeout, config.tls())?,
            url: config.url.clone(),
            soap_action,
            token: config.token.clone(),
            timeout: config.timeout,
        })
    }

    /// Posts one request envelope; the citizens the registry found, or why there are none to go by.
    pub async fn lookup(&self, envelope: String) -> Result<Vec<CongDan>, CallError> {
        let (status, body) = self.post(envelope).await?;
        mapping::judge(status, &body).map_err(|error| CallError::Answer {
            error,
            // The registry may echo the data it refuses: what errors carry is masked.
            answer: redact(&format!("HTTP {status}: {body}")),
        })
    }

    /// The status and body of the answer, whatever the status.
    async fn post(&self, envelope: String) -> Result<(u16, String), CallError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, SOAP_CONTENT_TYPE)
            .header(ACCEPT, "text/xml")
            .header(SOAP_ACTION_HEADER, self.soap_action.clone())
            .body(envelope);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        let mut response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        if response.content_length().is_some_and(|length| length > MAX_ANSWER_BYTES as u64) {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        // Answers are UTF-8 [A]; anything else makes the XML unreadable, which is reported as such.
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    fn too_large(&self) -> CallError {
        CallError::Unreachable(format!(
            "the population registry at {} answered more than {MAX_ANSWER_BYTES} bytes; not read",
            self.host()
        ))
    }

    fn transport_error(&self, error: &reqwest::Error) -> CallError {
        CallError::Unreachable(peer::unreachable("the population registry", &self.url, self.timeout, error))
    }
}
