//! Helpers shared by the test modules.

use std::path::PathBuf;
use std::process::Command;

/// A file of the repository's `fixtures/` directory (documents captured from real Puppet).
pub fn repo_fixture(relative: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(relative)
}

/// A file of this crate's `tests/fixtures/` directory.
pub fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(relative)
}

/// Reads a fixture, failing the test with its path.
pub fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether Ruby with the Puppet library (Debian's `puppet-agent`) can run. When it cannot, the
/// calling test skips with one line, unless `PUPPET_RS_REQUIRE_REAL=1`, which makes it fail.
pub fn real_puppet(test: &str) -> bool {
    let ok = Command::new("ruby")
        .args(["-rpuppet", "-e", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() != Ok("1"),
            "{test}: PUPPET_RS_REQUIRE_REAL=1 but ruby with the puppet library cannot run"
        );
        eprintln!("{test}: skipped, Puppet is not installed (ruby -rpuppet fails)");
    }
    ok
}
