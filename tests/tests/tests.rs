//! Cross-crate and conformance tests: one test binary, one module per subject.
//!
//! Tests that need the real Puppet agent skip with one line when it is absent, unless
//! `PUPPET_RS_REQUIRE_REAL=1` (see [`support::real_puppet`]).

mod agent_master;
mod catalog_order;
mod custom_master;
mod filesync_agent;
mod fixtures_sanity;
mod pluginsync_real_modules;
mod puppetdb_master;
mod support;
