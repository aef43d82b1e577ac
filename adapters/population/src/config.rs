//! `[adapters.<id>]` settings of a `population` adapter: how to reach the national population
//! database through the national integration platform.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`url`, `ma_dvc`, …).

use std::path::PathBuf;
use std::time::Duration;

use lgsp_bus::config::{Settings, duration, env_var_for};
use lgsp_bus::peer;
use lgsp_bus::{ConfigProblem, Secret};
use serde::Deserialize;
use url::Url;

use crate::mapping::wire;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// The registry's SOAP endpoint, as the national integration platform publishes it.
    pub url: Url,
    /// The `SOAPAction` header of every lookup.
    #[serde(default = "default_soap_action")]
    pub soap_action: String,
    /// The code of the public service the lookups are made for (`MaDVC`), issued with the access.
    pub ma_dvc: String,
    /// The code of this integration (`MaTichHop`), issued with the access.
    pub ma_tich_hop: String,
    /// Sent as `Authorization: Bearer …` when set; from the environment only
    /// (`LGSP__ADAPTERS__<ID>__TOKEN`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// Longest one lookup may take, connecting included.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// PEM file of a private CA to trust besides the system's, for endpoints (or tests) with their own CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM) presented to a peer that asks for mutual TLS, with
    /// `client_key`, its private key (PKCS#8 PEM).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_soap_action() -> String {
    wire::OPERATION.into()
}
const fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Longer than any code the platform issues that we know of; a longer value is a pasting mistake.
const MAX_CODE_LEN: usize = 64;

impl PopulationConfig {
    /// Its peer's TLS files.
    pub fn tls(&self) -> peer::PeerTls<'_> {
        peer::PeerTls {
            ca_file: self.ca_file.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
        }
    }
}

impl Settings for PopulationConfig {
    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        // The SOAP endpoint is the url itself: it may carry a query.
        let mut problems = peer::url_problems(&self.url, false);
        let action = self.soap_action.trim();
        if action.is_empty()
            || action.len() > 200
            || !action.is_ascii()
            || action.contains(['"', '\\'])
            || action.chars().any(|c| c.is_ascii_control())
        {
            problems.push(ConfigProblem::new(
                "soap_action",
                "must be 1 to 200 ASCII characters, without quotes, such as TraCuuThongTinCongDan",
            ));
        }
        for (key, code) in [("ma_dvc", &self.ma_dvc), ("ma_tich_hop", &self.ma_tich_hop)] {
            if let Err(reason) = check_code(code) {
                problems.push(ConfigProblem::new(key, reason));
            }
        }
        if let Some(token) = &self.token
            && (token.expose().trim().is_empty() || token.expose().chars().any(|c| c.is_control() || c == ' '))
        {
            problems.push(ConfigProblem::new(
                "token",
                format!(
                    "is empty or holds spaces: set {} to the bearer token, or unset it",
                    env_var_for(&format!("adapters.{id}.token"))
                ),
            ));
        }
        problems.extend(peer::timeout_problem(self.timeout, Duration::from_secs(300)));
        problems.extend(self.tls().problems());
        problems
    }
}

/// `MaDVC` and `MaTichHop`: whatever the platform issued, but one visible word of sane length.
fn check_code(code: &str) -> Result<(), String> {
    if code.trim().is_empty() {
        return Err("cannot be empty: use the code issued with the access to the registry".into());
    }
    if code.chars().count() > MAX_CODE_LEN || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{code}` is not a code: at most {MAX_CODE_LEN} characters, no spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const VALID: &str = r#"
        url = "https://lgsp.example/csdl-dan-cu/soap"
        ma_dvc = "DVC-H42"
        ma_tich_hop = "TH-H42-0001"
    "#;

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = PopulationConfig::from_settings("population", &settings(VALID)).unwrap();
        assert_eq!(config.soap_action, "TraCuuThongTinCongDan");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert!(config.token.is_none() && config.ca_file.is_none());

        let mut with_token = settings(VALID);
        with_token.insert("token".into(), "from the environment".into());
        let config = PopulationConfig::parse(&with_token).unwrap();
        assert_eq!(format!("{:?}", config.token), "Some(***)");
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "ftp://registry.example/#top"
            soap_action = "\"quoted\""
            ma_dvc = " "
            ma_tich_hop = "has spaces in it"
            token = ""
            timeout = "0s"
            ca_file = "/nonexistent/ca.pem"
        "#;
        let config = PopulationConfig::parse(&settings(text)).unwrap();
        let problems = config.problems("dan_cu");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["url", "url", "soap_action", "ma_dvc", "ma_tich_hop", "token", "timeout", "ca_file"]);
        assert!(problems[4].reason.contains("`has spaces in it`"), "{}", problems[4]);
        assert!(problems[5].reason.contains("LGSP__ADAPTERS__DAN_CU__TOKEN"), "{}", problems[5]);
    }

    #[test]
    fn parse_problems_name_the_key() {
        let missing = PopulationConfig::parse(&settings("url = \"https://r.example\"\nma_dvc = \"x\"")).unwrap_err();
        assert_eq!(missing, ConfigProblem::new("ma_tich_hop", "is required"));

        let bad_url =
            PopulationConfig::parse(&settings(&VALID.replace("https://lgsp.example/csdl-dan-cu/soap", "nope")));
        assert_eq!(bad_url.unwrap_err().key, "url");

        let unknown = PopulationConfig::parse(&settings(&format!("{VALID}\nma_dv = \"x\""))).unwrap_err();
        assert!(unknown.reason.contains("ma_dv"), "{unknown}");

        let duration = PopulationConfig::parse(&settings(&format!("{VALID}\ntimeout = \"soon\""))).unwrap_err();
        assert_eq!(duration.key, "timeout");
    }
}
