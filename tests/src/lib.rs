//! Cross-crate and conformance tests for the puppet-* crates.
//!
//! The tests live in `tests/`; the fixtures they read are in `fixtures/` at the repository root,
//! captured from real Puppet by `fixtures/capture.sh`.
