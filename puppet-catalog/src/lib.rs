//! Puppet's catalog document, as Puppetserver 7 sends it to an agent, and what the agent makes
//! of it.
//!
//! - [`Catalog`]: the document (`catalog_format` 1 and 2, rich data included), read with
//!   [`Catalog::from_json`] (errors name the JSON path) and written back with
//!   [`Catalog::to_json`]; keys this model does not name are kept, so reading then writing
//!   gives the same JSON value. Static catalogs' inlined file metadata:
//!   [`Catalog::file_metadata`], [`Catalog::recursive_file_metadata`].
//! - [`ResourceRef`]: `File[/etc/motd]`, `Foo::Bar[x]`, `Class[Foo::Bar]`, parsed and
//!   written with Puppet's capitalization and quoting rules.
//! - [`Graph`]: the relationship graph a Puppet 7 agent builds (containment, `require`,
//!   `before`, `notify`, `subscribe`, autorequires) and the order it applies the resources
//!   in ([`Graph::apply_order`]), what a change refreshes ([`Graph::refreshed_by`]), what a
//!   failure skips ([`Graph::skipped_if_failed`]), and dependency cycles reported with
//!   Puppet's own message ([`cycles_message`]).
//! - [`CatalogBuilder`]: catalogs made in code, laid out as Puppetserver would compile them
//!   (`Stage[main]`, `Class[Settings]`, `Class[main]`, containment edges, tags, classes).
//! - [`diff()`]: what differs between two catalogs, resource by resource and parameter by
//!   parameter; [`check()`]: what `puppet-catalog check` verifies.
//!
//! ```
//! use puppet_catalog::{Catalog, Graph, ResourceRef};
//!
//! let text = br#"{
//!   "tags": ["settings", "class"], "name": "web1.example.com", "version": 1700000000,
//!   "code_id": null, "catalog_uuid": "2c7f6e8a-4c57-4f2f-9d0e-3b8f0e1c9a11",
//!   "catalog_format": 2, "environment": "production",
//!   "resources": [
//!     {"type": "Stage", "title": "main", "tags": ["stage"], "exported": false,
//!      "kind": "compilable_type", "parameters": {"name": "main"}},
//!     {"type": "Class", "title": "main", "tags": ["class"], "exported": false, "kind": "unknown",
//!      "parameters": {"name": "main"}},
//!     {"type": "Service", "title": "nginx", "tags": ["service", "nginx", "class"],
//!      "exported": false, "kind": "compilable_type", "parameters": {"ensure": "running"}},
//!     {"type": "File", "title": "/etc/nginx/nginx.conf", "tags": ["file", "class"],
//!      "exported": false, "kind": "compilable_type",
//!      "parameters": {"content": "worker_processes 4;\n", "notify": "Service[nginx]"}},
//!     {"type": "File", "title": "/etc/nginx", "tags": ["file", "class"], "exported": false,
//!      "kind": "compilable_type", "parameters": {"ensure": "directory"}}
//!   ],
//!   "edges": [
//!     {"source": "Stage[main]", "target": "Class[main]"},
//!     {"source": "Class[main]", "target": "Service[nginx]"},
//!     {"source": "Class[main]", "target": "File[/etc/nginx/nginx.conf]"},
//!     {"source": "Class[main]", "target": "File[/etc/nginx]"}
//!   ],
//!   "classes": ["settings"]
//! }"#;
//! let catalog = Catalog::from_json(text)?;
//!
//! // Lossless: the same JSON value comes back.
//! let again: serde_json::Value = serde_json::from_str(&catalog.to_json()?).unwrap();
//! assert_eq!(again, serde_json::from_slice::<serde_json::Value>(text).unwrap());
//!
//! // The agent's order: the config file autorequires its directory and notifies the service.
//! let graph = Graph::new(&catalog)?;
//! let order: Vec<String> = graph.apply_order()?.iter().map(|r| r.to_string()).collect();
//! assert_eq!(order, ["File[/etc/nginx]", "File[/etc/nginx/nginx.conf]", "Service[nginx]"]);
//!
//! let conf: ResourceRef = "file['/etc/nginx/nginx.conf']".parse()?;
//! assert_eq!(graph.refreshed_by(&conf), [ResourceRef::new("Service", "nginx")]);
//! # Ok::<(), puppet_catalog::CatalogError>(())
//! ```

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
