//! Integration tests of `puppet-report`, one test binary (as ripgrep does): each module is one
//! concern, sharing `common`; fixtures in `fixtures/` (captured from real Puppet by
//! `fixtures/capture.sh`) and the repository's `fixtures/reports/`.

mod apply_pairs;
mod common;
mod fixtures;
mod parsing;
mod real_puppet;
mod redaction;
mod snapshots;
mod writing;
