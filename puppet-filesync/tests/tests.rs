//! Integration tests of puppet-filesync: one test binary, one module per concern.

#![allow(clippy::unwrap_used)]

mod bad_input;
mod concurrency;
mod properties;
mod publish;
mod replica;
mod retention;
mod util;
