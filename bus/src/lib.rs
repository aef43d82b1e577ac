//! lgsp core: everything that is not about one external system.
//!
//! - [`envelope`]: the canonical envelope every message travels in.
//! - [`config`]: the config file, environment overrides and their checks.
//! - [`adapter`]: the contract an adapter implements; the engine does the rest.
//! - [`routing`]: routing keys and topic patterns.

pub mod adapter;
pub mod competence;
pub mod config;
pub mod engine;
pub mod envelope;
pub mod events;
pub mod http;
pub mod ingress;
pub mod memory;
pub mod outbox;
pub mod peer;
pub mod privacy;
pub mod problem;
pub mod procedures;
pub mod registry;
pub mod routing;
pub mod schema;
pub mod server;
pub mod simulator;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use adapter::{
    Adapter, AdapterKind, BuildContext, Delivery, Failure, Outcome, ServiceError, ServiceRequest, Simulator,
    WebhookRequest, WebhookResponse,
};
pub use config::{ConfigProblem, Secret};
pub use envelope::Envelope;
pub use memory::Memory;
pub use outbox::{Outbox, Refusal, Submitted};

/// Now, in Unix milliseconds: how the store and headers keep time.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
