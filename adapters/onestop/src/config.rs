//! `[adapters.<id>]` settings of a `onestop` adapter: how to reach one agency's one-stop system
//! and which agencies it serves.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`agencies`, `client_secret`, …).

use std::path::PathBuf;
use std::time::Duration;

use lgsp_bus::config::{Settings, duration};
use lgsp_bus::peer;
use lgsp_bus::{ConfigProblem, Secret};
use serde::Deserialize;
use url::Url;

use crate::mapping::wire;
use lgsp_bus::identifiers::Identifier;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnestopConfig {
    /// Base URL of the one-stop system's API: `messages_endpoint` (and a `token_endpoint` path)
    /// is appended to it.
    pub url: Url,
    /// Codes of the agencies this system handles dossiers for, such as `000.00.01.H42`: it
    /// receives their dossiers, payments and shipments.
    pub agencies: Vec<String>,
    /// The OAuth2 token endpoint (client credentials): a path appended to `url`, such as
    /// `/oauth2/token`, or a full URL when the system's identity server is elsewhere.
    pub token_endpoint: String,
    /// The client id the system's identity server issued to the bus.
    pub client_id: String,
    /// Its secret, from the environment only (`LGSP__ADAPTERS__<ID>__CLIENT_SECRET`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Path of the call that takes one message, appended to `url`.
    #[serde(default = "default_messages_endpoint")]
    pub messages_endpoint: String,
    /// Longest one HTTP call to the system (or its token endpoint) may take.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// PEM file of a private CA to trust besides the system's, for systems (or tests) with their own CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM) presented to a peer that asks for mutual TLS, with
    /// `client_key`, its private key (PKCS#8 PEM).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_messages_endpoint() -> String {
    wire::DEFAULT_MESSAGES_ENDPOINT.into()
}
const fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A system that takes longer than this to answer one message is better retried later.
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

impl Settings for OnestopConfig {
    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let mut problems = peer::url_problems(&self.url, true);
        problems.extend(self.agency_problems());
        problems.extend(token_endpoint_problem(&self.token_endpoint));
        if self.client_id.trim().is_empty() {
            problems.push(ConfigProblem::new("client_id", "cannot be empty"));
        }
        problems.extend(peer::required_secret(id, "client_secret", self.client_secret.as_ref()));
        problems.extend(peer::endpoint_problem("messages_endpoint", &self.messages_endpoint, "/lgsp/messages"));
        problems.extend(peer::timeout_problem(self.timeout, MAX_TIMEOUT));
        problems.extend(self.tls().problems());
        problems
    }
}

impl OnestopConfig {
    /// Its peer's TLS files.
    pub fn tls(&self) -> peer::PeerTls<'_> {
        peer::PeerTls {
            ca_file: self.ca_file.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
        }
    }

    fn agency_problems(&self) -> Vec<ConfigProblem> {
        if self.agencies.is_empty() {
            return vec![ConfigProblem::new("agencies", "needs at least one agency code, such as 000.00.01.H42")];
        }
        let mut problems = Vec::new();
        for (index, agency) in self.agencies.iter().enumerate() {
            if let Err(invalid) = Identifier::AgencyCode.check(agency) {
                problems.push(ConfigProblem::new("agencies", invalid.to_string()));
            } else if self.agencies[..index].contains(agency) {
                problems.push(ConfigProblem::new("agencies", format!("`{agency}` is listed twice")));
            }
        }
        problems
    }

    /// `{url}{endpoint}`: the endpoints hang below the base URL, which may have a path.
    pub fn endpoint(&self, endpoint: &str) -> Url {
        peer::endpoint_url(&self.url, endpoint)
    }

    /// Where tokens come from: `token_endpoint` below `url`, or as written when it is a URL.
    pub fn token_url(&self) -> Url {
        if self.token_endpoint.starts_with('/') {
            self.endpoint(&self.token_endpoint)
        } else {
            Url::parse(&self.token_endpoint).unwrap_or_else(|_| self.endpoint(&self.token_endpoint))
        }
    }

    pub fn messages_url(&self) -> Url {
        self.endpoint(&self.messages_endpoint)
    }
}

fn token_endpoint_problem(endpoint: &str) -> Option<ConfigProblem> {
    const EXAMPLES: &str = "a path such as /oauth2/token, or a URL such as https://sso.example/oauth2/token";
    if endpoint.starts_with('/') {
        return peer::endpoint_problem("token_endpoint", endpoint, "/oauth2/token");
    }
    let valid = Url::parse(endpoint)
        .is_ok_and(|url| ["http", "https"].contains(&url.scheme()) && url.host().is_some() && url.fragment().is_none());
    (!valid).then(|| ConfigProblem::new("token_endpoint", format!("must be {EXAMPLES}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const VALID: &str = r#"
        url = "https://motcua.sotuphap.example/api"
        agencies = ["000.00.01.H42"]
        token_endpoint = "/oauth2/token"
        client_id = "lgsp-h42"
        client_secret = "from the environment"
    "#;

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = OnestopConfig::from_settings("onestop_sotuphap", &settings(VALID)).unwrap();
        assert_eq!(config.messages_endpoint, "/lgsp/messages");
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.ca_file, None);
        assert_eq!(config.messages_url().as_str(), "https://motcua.sotuphap.example/api/lgsp/messages");
        assert_eq!(config.token_url().as_str(), "https://motcua.sotuphap.example/api/oauth2/token");
        assert_eq!(format!("{:?}", config.client_secret), "Some(***)");
    }

    #[test]
    fn the_token_endpoint_may_be_elsewhere() {
        let text = VALID.replace("\"/oauth2/token\"", "\"https://sso.hatinh.example/realms/lgsp/token\"");
        let config = OnestopConfig::from_settings("onestop", &settings(&text)).unwrap();
        assert_eq!(config.token_url().as_str(), "https://sso.hatinh.example/realms/lgsp/token");
        for bad in ["oauth2/token", "ftp://sso.example/token", "https://sso.example/token#x", "/"] {
            let text = VALID.replace("/oauth2/token", bad);
            let problems = OnestopConfig::from_settings("onestop", &settings(&text)).unwrap_err();
            assert_eq!(problems.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["token_endpoint"], "{bad}");
        }
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "ftp://motcua.example/?x=1"
            agencies = ["000.00.01.H42", "H42", "000.00.01.H42"]
            token_endpoint = "token"
            client_id = " "
            messages_endpoint = "messages"
            timeout = "0s"
            ca_file = "/nonexistent/ca.pem"
        "#;
        let config = OnestopConfig::parse(&settings(text)).unwrap();
        let problems = config.problems("onestop_thachha");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "url",
                "url",
                "agencies",
                "agencies",
                "token_endpoint",
                "client_id",
                "client_secret",
                "messages_endpoint",
                "timeout",
                "ca_file"
            ]
        );
        assert_eq!(problems[2].reason, "`H42` is not an agency identifier code such as 000.00.01.H42");
        assert_eq!(problems[3].reason, "`000.00.01.H42` is listed twice");
        assert!(problems[6].reason.contains("LGSP__ADAPTERS__ONESTOP_THACHHA__CLIENT_SECRET"), "{}", problems[6]);
    }

    #[test]
    fn agencies_cannot_be_empty_or_missing() {
        let empty = OnestopConfig::from_settings("onestop", &settings(&VALID.replace("\"000.00.01.H42\"", "")));
        assert_eq!(
            empty.unwrap_err(),
            [ConfigProblem::new("agencies", "needs at least one agency code, such as 000.00.01.H42")]
        );
        let missing = OnestopConfig::parse(&settings(&VALID.replace("agencies = [\"000.00.01.H42\"]", "")));
        assert_eq!(missing.unwrap_err(), ConfigProblem::new("agencies", "is required"));
        let not_a_list = OnestopConfig::parse(&settings(&VALID.replace("[\"000.00.01.H42\"]", "\"000.00.01.H42\"")));
        assert_eq!(not_a_list.unwrap_err().key, "agencies");
    }

    #[test]
    fn a_missing_secret_names_its_environment_variable() {
        let text = VALID.replace("client_secret = \"from the environment\"", "");
        let problems = OnestopConfig::from_settings("onestop_sotuphap", &settings(&text)).unwrap_err();
        assert_eq!(
            problems,
            [ConfigProblem::new("client_secret", "is required: set LGSP__ADAPTERS__ONESTOP_SOTUPHAP__CLIENT_SECRET")]
        );
        let blank = VALID.replace("from the environment", "");
        assert_eq!(OnestopConfig::from_settings("onestop", &settings(&blank)).unwrap_err()[0].key, "client_secret");
    }

    #[test]
    fn parse_problems_name_the_key() {
        let unknown = OnestopConfig::parse(&settings(&format!("{VALID}\nclient_secrte = \"x\""))).unwrap_err();
        assert!(unknown.reason.contains("client_secrte"), "{unknown}");
        let duration = OnestopConfig::parse(&settings(&format!("{VALID}\ntimeout = \"soon\""))).unwrap_err();
        assert_eq!(duration.key, "timeout");
        let no_url =
            OnestopConfig::parse(&settings(&VALID.replace("url = \"https://motcua.sotuphap.example/api\"", "")));
        assert_eq!(no_url.unwrap_err(), ConfigProblem::new("url", "is required"));
    }
}
