//! The integration tests of `puppet-ca`, one test binary (one module per concern).

#![allow(clippy::unwrap_used)]

mod support;

mod bad_input;
mod builder;
mod extensions;
mod group_commit;
mod import;
mod inventory;
mod openssl;
mod policy;
mod puppetserver_dir;
mod revocation;
