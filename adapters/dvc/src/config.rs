//! `[adapters.<id>]` settings of a `dvc` adapter: how to reach the national portal.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`madonvi`, `url`, …).

use std::path::PathBuf;
use std::time::Duration;

use lgsp_bus::config::{Settings, duration};
use lgsp_bus::peer;
use lgsp_bus::{ConfigProblem, Secret};
use serde::Deserialize;
use url::Url;

use lgsp_bus::identifiers::Identifier;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DvcConfig {
    /// The portal's adapter_url: every endpoint below is appended to it.
    pub url: Url,
    /// Path of the login call, appended to `url`.
    #[serde(default = "default_auth_endpoint")]
    pub auth_endpoint: String,
    /// Path of every service call (`DongBoHoSoMC`, `CapNhatTienDoHoSoMC`, …), appended to `url`.
    #[serde(default = "default_integration_endpoint")]
    pub integration_endpoint: String,
    /// The account the portal issued to this province.
    pub username: String,
    /// Its password, from the environment only (`LGSP__ADAPTERS__<ID>__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// The province's unit code sent with every call, shaped like `000.00.00.H42`.
    pub madonvi: String,
    /// Longest one HTTP call to the portal may take.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// A session older than this is renewed before the next call, before the portal expires it.
    #[serde(default = "default_session_max_age", with = "duration")]
    pub session_max_age: Duration,
    /// Most dossiers sent in one `DongBoHoSoMC` call.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// PEM file of a private CA to trust besides the system's, for portals (or tests) with their own CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM) presented to a peer that asks for mutual TLS, with
    /// `client_key`, its private key (PKCS#8 PEM).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_auth_endpoint() -> String {
    "/auth".into()
}
fn default_integration_endpoint() -> String {
    "/integration".into()
}
const fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
const fn default_session_max_age() -> Duration {
    Duration::from_secs(20 * 60)
}
const fn default_max_batch() -> usize {
    50
}

/// More items than this in one call is more than any portal deployment we know of accepts.
const MAX_BATCH_LIMIT: usize = 500;

impl Settings for DvcConfig {
    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let mut problems = peer::url_problems(&self.url, true);
        problems.extend(peer::endpoint_problem("auth_endpoint", &self.auth_endpoint, "/auth"));
        problems.extend(peer::endpoint_problem("integration_endpoint", &self.integration_endpoint, "/integration"));
        if self.username.trim().is_empty() {
            problems.push(ConfigProblem::new("username", "cannot be empty"));
        }
        problems.extend(peer::required_secret(id, "password", self.password.as_ref()));
        if let Err(invalid) = Identifier::AgencyCode.check(&self.madonvi) {
            problems.push(ConfigProblem::new("madonvi", invalid.to_string()));
        }
        problems.extend(peer::timeout_problem(self.timeout, Duration::from_secs(300)));
        if self.session_max_age.is_zero() {
            problems.push(ConfigProblem::new("session_max_age", "must be more than 0"));
        }
        if self.max_batch == 0 || self.max_batch > MAX_BATCH_LIMIT {
            problems.push(ConfigProblem::new("max_batch", format!("must be between 1 and {MAX_BATCH_LIMIT}")));
        }
        problems.extend(self.tls().problems());
        problems
    }
}

impl DvcConfig {
    /// Its peer's TLS files.
    pub fn tls(&self) -> peer::PeerTls<'_> {
        peer::PeerTls {
            ca_file: self.ca_file.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
        }
    }

    /// `{url}{endpoint}`: the portal's endpoints hang below its adapter_url, which may have a path.
    pub fn endpoint(&self, endpoint: &str) -> Url {
        peer::endpoint_url(&self.url, endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const VALID: &str = r#"
        url = "https://portal.example/adapter"
        username = "lgsp-h42"
        password = "from the environment"
        madonvi = "000.00.00.H42"
    "#;

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = DvcConfig::from_settings("dvc", &settings(VALID)).unwrap();
        assert_eq!(config.auth_endpoint, "/auth");
        assert_eq!(config.integration_endpoint, "/integration");
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.session_max_age, Duration::from_secs(1200));
        assert_eq!(config.max_batch, 50);
        assert_eq!(config.endpoint(&config.auth_endpoint).as_str(), "https://portal.example/adapter/auth");
        assert_eq!(format!("{:?}", config.password), "Some(***)");
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "ftp://portal.example/?x=1"
            auth_endpoint = "auth"
            username = " "
            madonvi = "H42"
            timeout = "0s"
            max_batch = 0
            ca_file = "/nonexistent/ca.pem"
        "#;
        let config = DvcConfig::parse(&settings(text)).unwrap();
        let problems = config.problems("portal");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["url", "url", "auth_endpoint", "username", "password", "madonvi", "timeout", "max_batch", "ca_file"]
        );
        let password = &problems[4];
        assert!(password.reason.contains("LGSP__ADAPTERS__PORTAL__PASSWORD"), "{password}");
        assert!(problems[5].reason.contains("`H42`"), "{}", problems[5]);
    }

    #[test]
    fn parse_problems_name_the_key() {
        let missing = DvcConfig::parse(&settings("username = \"u\"\nmadonvi = \"000.00.00.H42\"")).unwrap_err();
        assert_eq!(missing, ConfigProblem::new("url", "is required"));

        let bad_url = DvcConfig::parse(&settings(&VALID.replace("https://portal.example/adapter", "not a url")));
        assert_eq!(bad_url.unwrap_err().key, "url");

        let unknown = DvcConfig::parse(&settings(&format!("{VALID}\nmadonvii = \"x\""))).unwrap_err();
        assert!(unknown.reason.contains("madonvii"), "{unknown}");

        let duration = DvcConfig::parse(&settings(&format!("{VALID}\ntimeout = \"soon\""))).unwrap_err();
        assert_eq!(duration.key, "timeout");
    }
}
