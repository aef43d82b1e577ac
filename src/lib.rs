//! The `lgsp` binary: registers the built-in adapters with the core and runs the CLI.
//!
//! This is the only crate that names adapters; the core (`lgsp-bus`) knows them only through
//! the `AdapterKind` trait.

mod adapters;
mod audit;
pub mod bench;
pub mod chaos;
pub mod cli;
mod client;
mod dead_letters;
mod members;
pub mod process;
pub mod rabbitmq;
mod reports;

use std::sync::Arc;

use lgsp_bus::AdapterKind;

/// Every built-in adapter kind. Adding an adapter is its folder plus one line here.
pub fn adapter_kinds() -> Vec<Arc<dyn AdapterKind>> {
    vec![
        Arc::new(lgsp_dvc::DvcKind),
        Arc::new(lgsp_population::PopulationKind),
        Arc::new(lgsp_business::BusinessKind),
        Arc::new(lgsp_onestop::OnestopKind),
        Arc::new(lgsp_postal::PostalKind),
        Arc::new(lgsp_http::HttpKind),
    ]
}
