//! lgsp adapter for the national population database (CSDL quốc gia về dân cư).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: `citizen.verify` to the registry's SOAP request and its answer to a reply; the
//!   registry's tags, codes and formats, in one table; a strict XML reader.
//! - [`client`]: HTTP with the registry: one POST per lookup, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: requests into lookups, answers into replies.
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

pub use adapter::PopulationAdapter;
pub use config::PopulationConfig;
pub use sim::{Behaviour, PopulationSim, PopulationSimulator, SimOptions};

/// The `population` kind: `kind = "population"` in `[adapters.<id>]`.
pub struct PopulationKind;

impl AdapterKind for PopulationKind {
    fn name(&self) -> &'static str {
        "population"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        _: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = PopulationConfig::from_settings(id, settings)?;
        let adapter = PopulationAdapter::new(&config).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(PopulationSimulator))
    }
}
