//! Integration tests of `puppet-catalog`, one test binary (as ripgrep does): each module is
//! one concern, with its snapshots in `snapshots/`.

mod builder_and_diff;
mod capitalize_vs_puppet;
mod redaction;
mod util;
