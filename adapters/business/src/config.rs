//! `[adapters.<id>]` settings of a `business` adapter: how to reach the business registry.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`url`, `password`, …).

use std::path::PathBuf;
use std::time::Duration;

use lgsp_bus::config::{Settings, duration};
use lgsp_bus::peer;
use lgsp_bus::{ConfigProblem, Secret};
use serde::Deserialize;
use url::Url;

use crate::mapping::wire;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessConfig {
    /// Base URL of the registry's API (through the national integration platform): every
    /// endpoint below is appended to it.
    pub url: Url,
    /// Path of the token call (`{username, password}` → `{token, refreshToken, expiryDate}`).
    #[serde(default = "default_token_endpoint")]
    pub token_endpoint: String,
    /// Path of the token renewal call (`{refreshToken}` → a new token).
    #[serde(default = "default_refresh_endpoint")]
    pub refresh_endpoint: String,
    /// Path of the lookup; the enterprise code is appended as one more segment: `…/0101234567`.
    #[serde(default = "default_lookup_endpoint")]
    pub lookup_endpoint: String,
    /// The account the platform issued to this province.
    pub username: String,
    /// Its password, from the environment only (`LGSP__ADAPTERS__<ID>__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Longest one HTTP call to the registry may take.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// PEM file of a private CA to trust besides the system's, for a platform (or test) with its own CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM) presented to a peer that asks for mutual TLS, with
    /// `client_key`, its private key (PKCS#8 PEM).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_token_endpoint() -> String {
    wire::DEFAULT_TOKEN_ENDPOINT.into()
}
fn default_refresh_endpoint() -> String {
    wire::DEFAULT_REFRESH_ENDPOINT.into()
}
fn default_lookup_endpoint() -> String {
    wire::DEFAULT_LOOKUP_ENDPOINT.into()
}
const fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// A lookup answers a person waiting at a counter: more than this is a misconfiguration.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

impl Settings for BusinessConfig {
    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let mut problems = peer::url_problems(&self.url, true);
        for (key, endpoint) in [
            ("token_endpoint", &self.token_endpoint),
            ("refresh_endpoint", &self.refresh_endpoint),
            ("lookup_endpoint", &self.lookup_endpoint),
        ] {
            problems.extend(peer::endpoint_problem(key, endpoint, "/api/token"));
        }
        if self.username.trim().is_empty() {
            problems.push(ConfigProblem::new("username", "cannot be empty"));
        }
        problems.extend(peer::required_secret(id, "password", self.password.as_ref()));
        problems.extend(peer::timeout_problem(self.timeout, MAX_TIMEOUT));
        problems.extend(self.tls().problems());
        problems
    }
}

impl BusinessConfig {
    /// Its peer's TLS files.
    pub fn tls(&self) -> peer::PeerTls<'_> {
        peer::PeerTls {
            ca_file: self.ca_file.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
        }
    }

    /// `{url}{endpoint}` without a trailing `/`: the endpoints hang below the base URL, which may
    /// have a path.
    pub fn endpoint(&self, endpoint: &str) -> Url {
        peer::endpoint_url(&self.url, endpoint.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const VALID: &str = r#"
        url = "https://lgsp.example/dkkd"
        username = "lgsp-h42"
        password = "from the environment"
    "#;

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = BusinessConfig::from_settings("business", &settings(VALID)).unwrap();
        assert_eq!(config.token_endpoint, "/api/token");
        assert_eq!(config.refresh_endpoint, "/api/token/refresh");
        assert_eq!(config.lookup_endpoint, "/api/doanhnghiep");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.ca_file, None);
        assert_eq!(config.endpoint(&config.token_endpoint).as_str(), "https://lgsp.example/dkkd/api/token");
        assert_eq!(config.endpoint("/api/doanhnghiep/").as_str(), "https://lgsp.example/dkkd/api/doanhnghiep");
        assert_eq!(format!("{:?}", config.password), "Some(***)");
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "ftp://lgsp.example/?x=1"
            token_endpoint = "api/token"
            refresh_endpoint = "/"
            lookup_endpoint = "/api/doanhnghiep/{mst}"
            username = " "
            timeout = "0s"
            ca_file = "/nonexistent/ca.pem"
        "#;
        let config = BusinessConfig::parse(&settings(text)).unwrap();
        let problems = config.problems("registry");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "url",
                "url",
                "token_endpoint",
                "refresh_endpoint",
                "lookup_endpoint",
                "username",
                "password",
                "timeout",
                "ca_file"
            ]
        );
        assert!(problems[6].reason.contains("LGSP__ADAPTERS__REGISTRY__PASSWORD"), "{}", problems[6]);
        assert!(problems[8].reason.contains("/nonexistent/ca.pem"), "{}", problems[8]);
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_a_problem_of_ca_file() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a certificate").unwrap();
        let text = format!("{VALID}\nca_file = {:?}", file.path().to_str().unwrap());
        let problems = BusinessConfig::from_settings("business", &settings(&text)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "ca_file");
        assert!(problems[0].reason.contains("no PEM certificate"), "{}", problems[0]);
    }

    #[test]
    fn parse_problems_name_the_key() {
        let missing = BusinessConfig::parse(&settings("username = \"u\"")).unwrap_err();
        assert_eq!(missing, ConfigProblem::new("url", "is required"));

        let no_user = BusinessConfig::parse(&settings("url = \"https://lgsp.example\"")).unwrap_err();
        assert_eq!(no_user, ConfigProblem::new("username", "is required"));

        let bad_url = BusinessConfig::parse(&settings(&VALID.replace("https://lgsp.example/dkkd", "not a url")));
        assert_eq!(bad_url.unwrap_err().key, "url");

        let unknown = BusinessConfig::parse(&settings(&format!("{VALID}\nlookup_endpoit = \"/x\""))).unwrap_err();
        assert!(unknown.reason.contains("lookup_endpoit"), "{unknown}");

        let duration = BusinessConfig::parse(&settings(&format!("{VALID}\ntimeout = \"soon\""))).unwrap_err();
        assert_eq!(duration.key, "timeout");
    }
}
