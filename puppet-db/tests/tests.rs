//! puppet-db's integration tests: one binary, one module per subject.

#![allow(clippy::unwrap_used)]

#[cfg(feature = "server")]
mod allowlist;
#[cfg(feature = "server")]
mod api;
#[cfg(feature = "postgres")]
mod backends;
mod catalog_inputs;
mod commands;
mod common;
mod coverage;
mod errors;
mod pql;
mod queries;
mod real_fixtures;
#[cfg(feature = "server")]
mod real_terminus;
mod replace;
mod side_by_side;
mod sqlite_plans;
#[cfg(feature = "server")]
mod streaming;
mod subqueries;
