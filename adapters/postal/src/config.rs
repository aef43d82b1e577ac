//! `[adapters.<id>]` settings of a `postal` adapter: how to reach the public postal service.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`url`, `customer_code`, …).

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
pub struct PostalConfig {
    /// Base URL of the postal service's API (through the national integration platform): every
    /// endpoint below is appended to it.
    pub url: Url,
    /// Path of the token call (consumer key and secret → `{access_token, token_type}`).
    #[serde(default = "default_token_endpoint")]
    pub token_endpoint: String,
    /// Path of the call that creates a pickup or delivery order.
    #[serde(default = "default_order_endpoint")]
    pub order_endpoint: String,
    /// Path of the call that cancels an order (`customerCode`, `orderNumber`).
    #[serde(default = "default_cancel_endpoint")]
    pub cancel_endpoint: String,
    /// Path of the tracking feed (`pagesize`, `lastId`).
    #[serde(default = "default_tracking_endpoint")]
    pub tracking_endpoint: String,
    /// The consumer key the platform issued to this province.
    pub consumer_key: String,
    /// Its consumer secret, from the environment only (`LGSP__ADAPTERS__<ID>__CONSUMER_SECRET`).
    #[serde(default)]
    pub consumer_secret: Option<Secret>,
    /// The province's customer code at the postal service, sent with every order.
    pub customer_code: String,
    /// How often the tracking feed is read.
    #[serde(default = "default_poll_every", with = "duration")]
    pub poll_every: Duration,
    /// Most tracking items asked for in one call (`pagesize`).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Key of the HMAC-SHA256 that signs the postal service's webhook calls, from the environment
    /// only (`LGSP__ADAPTERS__<ID>__WEBHOOK_SECRET`). Unset: every webhook call is refused.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    /// Longest one HTTP call to the postal service may take.
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
fn default_order_endpoint() -> String {
    wire::DEFAULT_ORDER_ENDPOINT.into()
}
fn default_cancel_endpoint() -> String {
    wire::DEFAULT_CANCEL_ENDPOINT.into()
}
fn default_tracking_endpoint() -> String {
    wire::DEFAULT_TRACKING_ENDPOINT.into()
}
const fn default_poll_every() -> Duration {
    Duration::from_secs(30)
}
const fn default_page_size() -> usize {
    100
}
const fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// More items than this in one page is more than a platform answers in reasonable time.
const MAX_PAGE_SIZE: usize = 1000;
/// Reading the feed less often than this leaves citizens without news for too long.
const MAX_POLL_EVERY: Duration = Duration::from_secs(3600);
/// A shorter webhook key can be guessed.
const MIN_WEBHOOK_SECRET_CHARS: usize = 16;

impl Settings for PostalConfig {
    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let mut problems = peer::url_problems(&self.url, true);
        for (key, endpoint, example) in [
            ("token_endpoint", &self.token_endpoint, wire::DEFAULT_TOKEN_ENDPOINT),
            ("order_endpoint", &self.order_endpoint, wire::DEFAULT_ORDER_ENDPOINT),
            ("cancel_endpoint", &self.cancel_endpoint, wire::DEFAULT_CANCEL_ENDPOINT),
            ("tracking_endpoint", &self.tracking_endpoint, wire::DEFAULT_TRACKING_ENDPOINT),
        ] {
            problems.extend(peer::endpoint_problem(key, endpoint, example));
        }
        if self.consumer_key.trim().is_empty() {
            problems.push(ConfigProblem::new("consumer_key", "cannot be empty"));
        }
        problems.extend(peer::required_secret(id, "consumer_secret", self.consumer_secret.as_ref()));
        if self.customer_code.trim().is_empty() || self.customer_code.chars().any(char::is_whitespace) {
            problems.push(ConfigProblem::new("customer_code", "must be the customer code, without spaces"));
        }
        if self.poll_every.is_zero() || self.poll_every > MAX_POLL_EVERY {
            problems.push(ConfigProblem::new("poll_every", "must be more than 0 and at most 1h"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            problems.push(ConfigProblem::new("page_size", format!("must be between 1 and {MAX_PAGE_SIZE}")));
        }
        if let Some(secret) = &self.webhook_secret
            && secret.expose().chars().count() < MIN_WEBHOOK_SECRET_CHARS
        {
            problems.push(ConfigProblem::new(
                "webhook_secret",
                format!(
                    "must be at least {MIN_WEBHOOK_SECRET_CHARS} characters; unset {} to refuse webhooks",
                    lgsp_bus::config::env_var_for(&format!("adapters.{id}.webhook_secret"))
                ),
            ));
        }
        problems.extend(peer::timeout_problem(self.timeout, Duration::from_secs(300)));
        problems.extend(self.tls().problems());
        problems
    }
}

impl PostalConfig {
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
        url = "https://lgsp.example/vnpost"
        consumer_key = "h42-consumer"
        consumer_secret = "from the environment"
        customer_code = "LGSP42"
    "#;

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = PostalConfig::from_settings("postal", &settings(VALID)).unwrap();
        assert_eq!(config.token_endpoint, "/token");
        assert_eq!(config.order_endpoint, "/order/post");
        assert_eq!(config.cancel_endpoint, "/order/cancel");
        assert_eq!(config.tracking_endpoint, "/order/tracking");
        assert_eq!(config.poll_every, Duration::from_secs(30));
        assert_eq!(config.page_size, 100);
        assert_eq!(config.webhook_secret, None);
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.endpoint(&config.order_endpoint).as_str(), "https://lgsp.example/vnpost/order/post");
        assert_eq!(format!("{:?}", config.consumer_secret), "Some(***)");
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "ftp://lgsp.example/?x=1"
            token_endpoint = "token"
            order_endpoint = "/"
            cancel_endpoint = "/order/cancel?now"
            tracking_endpoint = "/order/{tracking}"
            consumer_key = " "
            customer_code = "LGSP 42"
            poll_every = "0s"
            page_size = 0
            webhook_secret = "short"
            timeout = "10m"
            ca_file = "/nonexistent/ca.pem"
        "#;
        let config = PostalConfig::parse(&settings(text)).unwrap();
        let problems = config.problems("post");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "url",
                "url",
                "token_endpoint",
                "order_endpoint",
                "cancel_endpoint",
                "tracking_endpoint",
                "consumer_key",
                "consumer_secret",
                "customer_code",
                "poll_every",
                "page_size",
                "webhook_secret",
                "timeout",
                "ca_file"
            ]
        );
        assert!(problems[7].reason.contains("LGSP__ADAPTERS__POST__CONSUMER_SECRET"), "{}", problems[7]);
        assert!(problems[11].reason.contains("LGSP__ADAPTERS__POST__WEBHOOK_SECRET"), "{}", problems[11]);
        assert!(!problems[11].reason.contains("short"), "{}", problems[11]);
    }

    #[test]
    fn parse_problems_name_the_key() {
        let missing = PostalConfig::parse(&settings("consumer_key = \"k\"\ncustomer_code = \"C\"")).unwrap_err();
        assert_eq!(missing, ConfigProblem::new("url", "is required"));

        let no_customer =
            PostalConfig::parse(&settings("url = \"https://x.example\"\nconsumer_key = \"k\"")).unwrap_err();
        assert_eq!(no_customer, ConfigProblem::new("customer_code", "is required"));

        let unknown = PostalConfig::parse(&settings(&format!("{VALID}\npagesize = 10"))).unwrap_err();
        assert!(unknown.reason.contains("pagesize"), "{unknown}");

        let duration = PostalConfig::parse(&settings(&format!("{VALID}\npoll_every = \"often\""))).unwrap_err();
        assert_eq!(duration.key, "poll_every");
    }
}
