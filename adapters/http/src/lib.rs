//! lgsp's generic adapter: an agency's own HTTP service, declared in `[adapters.<id>]` with
//! `kind = "http"` instead of written as code. Messages are posted to it (as the canonical
//! envelope, or as the JSON a mapping template makes of it), and the request/reply services it
//! offers are called on it.
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: the mapping template (minijinja): compiled, checked against samples, rendered.
//! - [`auth`]: how each call proves who sends it: none, bearer, OAuth2 client credentials, mutual
//!   TLS, or an HMAC-SHA256 signature of the body.
//! - [`client`]: HTTP with the agency's service: one call, its auth, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: deliveries into calls, answers into outcomes; services.
//! - [`events`]: what the adapter logs and counts, one function per event.
//! - [`sim`]: a recording stand-in for the agency's service, for tests and `lgsp sandbox`.

pub mod adapter;
pub mod auth;
pub mod client;
pub mod config;
pub mod events;
pub mod mapping;
pub mod sim;

use std::sync::Arc;

use lgsp_bus::config::Settings;
use lgsp_bus::peer::ClientError;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, ConfigProblem, Simulator};

pub use adapter::HttpAdapter;
pub use config::HttpConfig;
pub use mapping::{Mapping, check_mapping, sample_envelope};
pub use sim::{Behaviour, HttpSim, HttpSimulator, SimOptions};

/// The `http` kind: `kind = "http"` in `[adapters.<id>]`.
pub struct HttpKind;

impl AdapterKind for HttpKind {
    fn name(&self) -> &'static str {
        "http"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        _: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = HttpConfig::from_settings(id, settings)?;
        let adapter = HttpAdapter::new(id, &config).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(HttpSimulator))
    }
}
