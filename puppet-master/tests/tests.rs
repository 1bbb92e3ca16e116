//! Integration tests of puppet-master, one binary (as ripgrep's): the default services
//! through a real TLS connection ([`puppet_master::testing::TestMaster`]), the data
//! compiler's output and caches, the storage.

#![allow(clippy::unwrap_used)]

mod ca_http;
mod compiler;
mod compiler_cache;
mod filesync;
mod harness;
mod http_server;
mod puppetdb;
mod served_catalog_cache;
mod services;
mod storage;
