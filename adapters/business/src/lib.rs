//! lgsp adapter for the national business registration database (CSDL quốc gia về đăng ký doanh nghiệp).
//!
//! - [`config`]: the `[adapters.<id>]` settings and their checks.
//! - [`mapping`]: the registry's record to the `business.lookup` reply; its names and codes, in one table.

pub mod config;
pub mod mapping;

pub use config::BusinessConfig;
