//! puppet-db's integration tests: one binary, one module per subject.

mod commands;
mod common;
mod pql;
mod queries;
