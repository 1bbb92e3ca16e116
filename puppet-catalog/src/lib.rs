#![doc = include_str!("../README.md")]

mod builder;
mod catalog;
mod check;
mod diff;
mod error;
mod graph;
pub mod reference;

pub use builder::{CatalogBuilder, Declaration};
pub use catalog::{Catalog, CatalogVersion, Checksum, Edge, FileMetadata, Resource};
pub use check::{Checked, check};
pub use diff::{CatalogDiff, ParameterChange, ResourceChange, diff};
pub use error::CatalogError;
pub use graph::{Cycle, Graph, UnresolvedReference, cycles_message};
pub use reference::ResourceRef;
