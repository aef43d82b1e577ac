//! lgsp adapter for the public postal service (bưu chính công ích): pickup and delivery orders,
//! cancellations, and the orders' progress back into the bus.
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: canonical payloads to orders, tracking items to `postal.shipment_status`; the
//!   postal service's names and codes, in one table.
//! - [`signature`]: the webhook's HMAC-SHA256 signature.
//! - [`client`]: HTTP with the postal service: the token and its renewal, what each answer means.
//! - [`book`]: what the adapter remembers: whose each order is, how far the feed was read.
//! - [`tracking`]: tracking items into the bus, and one polling round over the feed.
//! - [`adapter`]: the bus's `Adapter`: deliveries into orders, `run` polling, `webhook`.
//! - [`events`]: what the adapter logs and counts, one function per event.
//! - [`sim`]: a simulator of the postal service, for tests and `lgsp sandbox`.

pub mod adapter;
pub mod book;
pub mod client;
pub mod config;
pub mod events;
pub mod mapping;
pub mod signature;
pub mod sim;
pub mod tracking;

use lgsp_bus::config::Settings;
use std::sync::Arc;

use lgsp_bus::peer::ClientError;
use lgsp_bus::{Adapter, AdapterKind, BuildContext, ConfigProblem, Simulator};

pub use adapter::PostalAdapter;
pub use config::PostalConfig;
pub use sim::{Behaviour, PostalSim, PostalSimulator, SimOptions};

/// The `postal` kind: `kind = "postal"` in `[adapters.<id>]`.
pub struct PostalKind;

impl AdapterKind for PostalKind {
    fn name(&self) -> &'static str {
        "postal"
    }

    fn build(
        &self,
        id: &str,
        settings: &toml::Table,
        context: &BuildContext,
    ) -> Result<Arc<dyn Adapter>, Vec<ConfigProblem>> {
        let config = PostalConfig::from_settings(id, settings)?;
        let adapter = PostalAdapter::new(&config, context.memory.clone()).map_err(ClientError::into_problems)?;
        Ok(Arc::new(adapter))
    }

    fn simulator(&self) -> Option<Arc<dyn Simulator>> {
        Some(Arc::new(PostalSimulator))
    }
}
