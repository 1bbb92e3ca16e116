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

/// `puppet agent --test --detailed-exitcodes` against `localhost:port` as `certname`, with
/// every directory of its own under `root` (conf, var, ssl, public, log, run), a 2048-bit key,
/// no colour, no stdin. Callers add their own flags and environment, then [`finish`] it.
pub fn agent_command(
    puppet: &std::path::Path,
    root: &std::path::Path,
    port: u16,
    certname: &str,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(puppet);
    cmd.arg("agent")
        .args(["--test", "--detailed-exitcodes", "--server", "localhost"])
        .args(["--masterport", &port.to_string(), "--certname", certname])
        .args(["--keylength", "2048", "--color", "false"]);
    for (flag, sub) in [
        ("--confdir", "conf"),
        ("--vardir", "var"),
        ("--ssldir", "ssl"),
        ("--publicdir", "public"),
        ("--logdir", "log"),
        ("--rundir", "run"),
    ] {
        cmd.arg(flag).arg(root.join(sub));
    }
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    cmd
}

/// Runs an agent command to its end (at most 300 s).
pub async fn finish(mut cmd: tokio::process::Command) -> std::process::Output {
    match tokio::time::timeout(std::time::Duration::from_secs(300), cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run puppet agent: {e}"),
        Err(_) => panic!("puppet agent did not finish within 300 s"),
    }
}

/// An agent's exit status and output, for assertion messages.
pub fn show(out: &std::process::Output) -> String {
    format!(
        "exit status {:?}\n--- agent stdout ---\n{}\n--- agent stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
