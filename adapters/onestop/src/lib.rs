//! lgsp adapter for agencies' one-stop systems (Hệ thống thông tin một cửa điện tử).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: the system's contract in one table; deliveries to request bodies, answers to verdicts.
//! - [`client`]: HTTP with the system: the OAuth2 token and its renewal, what each answer means.
//! - [`adapter`]: the bus's `Adapter`: one call per message, answers into outcomes.

pub mod adapter;
pub mod client;
pub mod config;
pub mod mapping;

pub use adapter::OnestopAdapter;
pub use config::OnestopConfig;
