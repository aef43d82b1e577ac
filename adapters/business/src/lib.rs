//! lgsp adapter for the national business registration database (CSDL quốc gia về đăng ký doanh nghiệp).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: the registry's record to the `business.lookup` reply; its names and codes, in one table.
//! - [`client`]: HTTP with the registry: the token and its renewal, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: requests into lookups, answers into replies and failures.
//! - [`events`]: what the adapter logs and counts, one function per event.
//! - [`sim`]: a simulator of the registry, for tests and `lgsp sandbox`.

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

pub use adapter::BusinessAdapter;
pub use config::BusinessConfig;
pub use sim::{Behaviour, BusinessSim, BusinessSimulator, SimOptions};

/// The `business` kind: `kind = "business"` in `[adapters.<id>]`.
pub struct BusinessKind;

impl AdapterKind for BusinessKind {
    fn name(&self) -> &'static str {
        "business"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        _: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = BusinessConfig::from_settings(id, settings)?;
        let adapter = BusinessAdapter::new(&config).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(BusinessSimulator))
    }
}
