//! lgsp adapter for the national public-service portal (Cổng Dịch vụ công quốc gia).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: canonical payloads to the portal's JSON, and the portal's names and codes.

pub mod config;
pub mod mapping;

pub use config::DvcConfig;
