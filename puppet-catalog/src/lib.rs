//! Puppet's catalog document, as Puppetserver 7 sends it to an agent.
//!
//! (Crate docs, with a runnable example, to be completed.)

mod catalog;
mod error;
mod graph;
mod reference;

pub use catalog::{Catalog, CatalogVersion, Edge, Resource};
pub use error::CatalogError;
pub use graph::{Cycle, Graph, UnresolvedReference, cycles_message};
pub use reference::ResourceRef;
