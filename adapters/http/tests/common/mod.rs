//! Shared by the integration tests: the simulator serving the settings a test writes, on
//! 127.0.0.1:0 (plain or TLS), an adapter pointed at it, and deliveries made from the schemas'
//! examples.

#![allow(dead_code)] // each test file uses its own share of these

use lgsp_bus::config::Settings;
use lgsp_bus::simulator::SimListener;
use lgsp_http::{HttpAdapter, HttpConfig, HttpSim, SimOptions};
use std::time::Duration;

#[allow(unused_imports)] // each test file uses its own share of these
pub use lgsp_bus::testing::adapter::{delivery, example, permanent, refused, transient, unavailable};

/// The adapter's id in these tests.
pub const ID: &str = "land";
pub const SUBMITTED: &str = "dossier.submitted";
pub const STATUS_CHANGED: &str = "dossier.status_changed";
/// The secrets the tests set, as the environment would.
pub const TOKEN: &str = "token-of-the-land-office";
pub const HMAC_SECRET: &str = "hmac-key-shared-with-the-land-office";
pub const CLIENT_SECRET: &str = "client-secret-of-lgsp-at-the-land-office";
/// Long enough for any healthy call on a loaded 2-core machine; waits end earlier when met.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A simulator serving `settings` (TOML without `url`) and the settings that point at it:
/// `url = "<scheme>://127.0.0.1:PORT/land"`.
pub struct Peer {
    pub sim: HttpSim,
    pub settings: toml::Table,
}

impl Peer {
    /// Serves plain http on loopback.
    pub async fn start(settings: &str) -> Peer {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Peer::serve(settings, SimListener::plain(tcp)).await
    }

    /// Serves on `listener` (such as a TLS one from `lgsp_bus::testing::tls`).
    pub async fn serve(settings: &str, listener: SimListener) -> Peer {
        let port = axum::serve::Listener::local_addr(&listener).unwrap().port();
        let scheme = listener.scheme();
        let mut settings: toml::Table = settings.parse().unwrap();
        settings.insert("url".into(), format!("{scheme}://127.0.0.1:{port}/land").into());
        let options = SimOptions::from_settings(&settings).unwrap();
        let sim = HttpSim::serve_on(listener, scheme, options).unwrap();
        Peer { sim, settings }
    }

    pub fn adapter(&self) -> HttpAdapter {
        adapter(&self.settings)
    }

    /// An adapter with `key` set to `value` too.
    pub fn adapter_with(&self, key: &str, value: impl Into<toml::Value>) -> HttpAdapter {
        let mut settings = self.settings.clone();
        settings.insert(key.into(), value.into());
        adapter(&settings)
    }
}

pub fn adapter(settings: &toml::Table) -> HttpAdapter {
    let config = HttpConfig::from_settings(ID, settings).unwrap_or_else(|problems| panic!("{problems:#?}"));
    HttpAdapter::new(ID, &config).unwrap()
}

/// `[auth]` of each type, with its secret as the environment sets it.
pub fn bearer() -> String {
    format!("[auth]\ntype = \"bearer\"\ntoken = \"{TOKEN}\"\n")
}

pub fn hmac() -> String {
    format!("[auth]\ntype = \"hmac\"\nsecret = \"{HMAC_SECRET}\"\n")
}

pub fn oauth2() -> String {
    let keys = "type = \"oauth2\"\ntoken_url = \"/oauth2/token\"\nclient_id = \"lgsp-h42\"";
    format!("[auth]\n{keys}\nclient_secret = \"{CLIENT_SECRET}\"\n")
}

/// The schema's first example of a submitted dossier, as the bus hands it over.
pub fn submitted() -> lgsp_bus::Delivery {
    delivery(SUBMITTED, example(SUBMITTED, 0))
}

/// The mapping of the example config.
pub fn example_mapping() -> String {
    let example: toml::Table = include_str!("../../example.toml").parse().unwrap();
    example["adapters"]["land"]["mapping"].as_str().unwrap().to_string()
}
