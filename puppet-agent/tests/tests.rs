//! Integration tests of puppet-agent (one test binary, as ripgrep does).

#![allow(clippy::unwrap_used)]

mod accounts;
mod common;
mod file;
mod file_params;
mod file_real;
mod master;
mod real;
mod schedule;
mod ssl_refresh;
mod types;
