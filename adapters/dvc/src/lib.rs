//! lgsp adapter for the national public-service portal (Cổng Dịch vụ công quốc gia).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: canonical payloads to the portal's JSON; the portal's names and codes, in one table.
//! - [`client`]: HTTP with the portal: login, session renewal, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: batches into calls, answers into outcomes.
//! - [`events`]: what the adapter logs and counts, one function per event.
//! - [`sim`]: a simulator of the portal, for tests and `lgsp sandbox`.

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

pub use adapter::DvcAdapter;
pub use config::DvcConfig;
pub use sim::{Behaviour, PortalSim, PortalSimulator, SimOptions};

/// The `dvc` kind: `kind = "dvc"` in `[adapters.<id>]`.
pub struct DvcKind;

impl AdapterKind for DvcKind {
    fn name(&self) -> &'static str {
        "dvc"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        _: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = DvcConfig::from_settings(id, settings)?;
        let adapter = DvcAdapter::new(&config).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(PortalSimulator))
    }
}
