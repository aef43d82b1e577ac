//! Pure conversion between `citizen.verify` and the registry's SOAP messages. No I/O.
//!
//! Every tag, namespace, code and format of the registry's wire format lives in [`wire`], so that
//! a wrong guess is corrected in one place; the simulator reads and writes with the same table.
//! XML is only ever written with quick-xml's writer (user data is escaped, never formatted in)
//! and read with [`xml::parse`], which refuses DOCTYPEs and expands no entity.

mod canonical;
mod decide;
mod read;
mod registry;
pub mod wire;
mod write;
pub mod xml;

pub use canonical::*;
pub use decide::*;
pub use read::*;
pub use registry::*;
pub use write::*;

#[cfg(test)]
mod tests;
