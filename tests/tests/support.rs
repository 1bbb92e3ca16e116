//! What several conformance tests share: finding the real Puppet agent.

use std::path::PathBuf;

/// The real Puppet agent's `puppet` command, when installed. When it is not, the caller skips:
/// this prints one line saying why, or panics when `PUPPET_RS_REQUIRE_REAL=1` (as `.ci/run`
/// sets it), so CI cannot pass without running the test.
pub fn real_puppet(test: &str) -> Option<PathBuf> {
    let found = ["/usr/bin/puppet", "/opt/puppetlabs/bin/puppet"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        skip_or_fail(test, "the real Puppet agent (apt-get install puppet-agent)");
    }
    found
}

/// Skips the calling test with one line naming what is missing, unless
/// `PUPPET_RS_REQUIRE_REAL=1`, which makes it fail.
pub fn skip_or_fail(test: &str, what: &str) {
    if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("{test}: {what} is required (PUPPET_RS_REQUIRE_REAL=1)");
    }
    eprintln!("{test}: skipped: {what} is not installed");
}
