pub mod config;
pub mod mapping;
