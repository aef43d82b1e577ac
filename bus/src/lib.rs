//! lgsp core: everything that is not about one external system.
//!
//! - [`envelope`]: the canonical envelope every message travels in.
//! - [`config`]: the config file, environment overrides and their checks.
//! - [`adapter`]: the contract an adapter implements; the engine does the rest.
//! - [`routing`]: routing keys and topic patterns.

pub mod adapter;
pub mod config;
pub mod envelope;
pub mod routing;

pub use adapter::{Adapter, AdapterKind, Delivery, Failure, Outcome, Simulator};
pub use config::{ConfigProblem, Secret};
pub use envelope::Envelope;
