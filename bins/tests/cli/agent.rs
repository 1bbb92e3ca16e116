//! `puppet-agent` against our own `puppet-master` binary (no Ruby at all): `--test` bootstraps
//! with autosign, applies, prints Puppet's console lines and exits 2; a second agent while the
//! run lock is held exits 1 with Puppet's notice; `--waitforcert 0` without signing exits 1; a
//! certificate the CA revoked since stops the agent once its CRL is refreshed.

use std::path::Path;
use std::process::Command;

use crate::support::{agent_command, start_agents_master};

fn agent(root: &Path, port: u16, extra: &[&str]) -> (i32, String, String) {
    let out = agent_command(root, port).args(extra).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn test_run_against_our_master() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("motd");
    let motd = serde_json::json!([{"type": "File", "title": target, "parameters": {"content": "hi ${certname}\n"}}]);
    let master = start_agents_master(&dir.path().join("master"), true, Some(("motd", motd)));
    let agent_root = dir.path().join("agent");

    let (code, stdout, stderr) = agent(&agent_root, master.port, &["--test"]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "hi agent1.example.test\n"
    );
    let t = target.display();
    for line in [
        "Info: Creating a new RSA SSL key for agent1.example.test",
        "Info: Using environment 'production'",
        "Info: Caching catalog for agent1.example.test",
        &format!("Notice: /Stage[main]/Motd/File[{t}]/ensure: defined content as '{{sha256}}"),
        "Notice: Applied catalog in ",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in\n{stdout}"
        );
    }

    // Second run: nothing to change, exit 0 with --detailed-exitcodes.
    let (code, stdout, _) = agent(
        &agent_root,
        master.port,
        &["--onetime", "--no-daemonize", "--detailed-exitcodes"],
    );
    assert_eq!(code, 0, "{stdout}");

    // The run lock held by a live process: Puppet's notice, exit 1.
    std::fs::write(agent_root.join("var/state/agent_catalog_run.lock"), "1").unwrap();
    let (code, stdout, _) = agent(&agent_root, master.port, &["--test"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "Notice: Run of Puppet configuration client already in progress; skipping  ("
        ),
        "{stdout}"
    );
}

#[test]
fn waitforcert_zero_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_agents_master(&dir.path().join("master"), false, None);
    let (code, stdout, _) = agent(
        &dir.path().join("agent"),
        master.port,
        &["--test", "--waitforcert", "0"],
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("Couldn't fetch certificate from CA server; you might still need to sign this agent's certificate (agent1.example.test)."), "{stdout}");
    assert!(
        stdout.contains("Exiting now because the waitforcert setting is set to 0."),
        "{stdout}"
    );
}

#[test]
fn a_certificate_revoked_since_stops_the_agent_after_the_crl_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path().join("master");
    let greet = serde_json::json!([{"type": "Notify", "title": "greeting", "parameters": {}}]);
    let master = start_agents_master(&confdir, true, Some(("greet", greet)));
    let root = dir.path().join("agent");
    let (code, stdout, stderr) = agent(&root, master.port, &["--test"]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");

    // The CA revokes the agent (puppet-ca on the running master's CA directory).
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-ca"))
        .arg("--cadir")
        .arg(confdir.join("ca"))
        .args(["revoke", "--certname", "agent1.example.test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // Its CRL is a day old, the refresh interval an hour: refreshed, and the agent stops
    // with Puppet's message (the real 7.23 agent prints the same two lines).
    let crl = root.join("ssl/crl.pem");
    std::fs::File::options()
        .append(true)
        .open(&crl)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(86_400))
        .unwrap();
    let (code, stdout, stderr) = agent(
        &root,
        master.port,
        &["--test", "--crl_refresh_interval", "1h"],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "Info: Refreshing CRL\n", "{stderr}");
    assert_eq!(
        stderr,
        "Error: Certificate 'CN=agent1.example.test' is revoked\n"
    );
}
