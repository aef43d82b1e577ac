//! lgsp adapter for agencies' one-stop systems (Hệ thống thông tin một cửa điện tử).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: the system's contract in one table; deliveries to request bodies, answers to verdicts.
//! - [`client`]: HTTP with the system: the OAuth2 token and its renewal, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: one call per message, answers into outcomes.
//! - [`events`]: what the adapter logs and counts, one function per event.
//! - [`sim`]: a simulator of a one-stop system, receiving (for tests and `lgsp sandbox`) and
//!   sending to a bus as an agency's system does (for end-to-end tests).

pub mod adapter;
pub mod client;
pub mod config;
pub mod events;
pub mod mapping;
pub mod sim;

use lgsp_bus::config::Settings;
use std::sync::Arc;

use lgsp_bus::peer::ClientError;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, ConfigProblem, Simulator};

pub use adapter::OnestopAdapter;
pub use config::OnestopConfig;
pub use sim::{Behaviour, BusAnswer, OnestopSender, OnestopSim, OnestopSimulator, SenderError, SimOptions};

/// The `onestop` kind: `kind = "onestop"` in `[adapters.<id>]`, once per system.
pub struct OnestopKind;

impl AdapterKind for OnestopKind {
    fn name(&self) -> &'static str {
        "onestop"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        _: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = OnestopConfig::from_settings(id, settings)?;
        let adapter = OnestopAdapter::new(id, &config).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(OnestopSimulator))
    }
}
