//! `puppet-agent` as a daemon, a real process against our own `puppet-master` binary: it
//! forks into the background (the command exits 0 at once), writes `$rundir/agent.pid`, logs
//! to `--logdest`, runs, runs again on `SIGUSR1`, re-executes itself on `SIGHUP`, exits on
//! `SIGTERM` and removes the pidfile; a second daemon is refused (`Could not create PID
//! file`). And `--splay` of a one-time run, `--http_debug` in the foreground.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Running, agent_command, start_agents_master};

fn start_master(confdir: &Path) -> Running {
    let greet = serde_json::json!([{"type": "Notify", "title": "greeting", "parameters": {"message": "hello"}}]);
    start_agents_master(confdir, true, Some(("greet", greet)))
}

fn agent(root: &Path, port: u16) -> Command {
    let mut cmd = agent_command(root, port);
    cmd.arg("--rundir")
        .arg(root.join("run"))
        .stdin(Stdio::null());
    cmd
}

/// Waits (at most 120 s) until `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(log: &Path, line: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(line))
        .count()
}

/// A process that has ended (gone, or a zombie nobody reaps: the daemon's parent exited).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Kills the daemon if the test ends (fails) before it stopped.
struct Reaper(String);

impl Drop for Reaper {
    fn drop(&mut self) {
        if !ended(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &self.0]).status();
        }
    }
}

fn signal(pid: &str, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn daemon_forks_runs_on_usr1_and_exits_on_term() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(&dir.path().join("master"));
    let root = dir.path().join("agent");
    let log = dir.path().join("agent.log");
    let pidfile = root.join("run/agent.pid");

    // No --onetime, no --no-daemonize: a daemon in the background.
    let out = agent(&root, master.port)
        .args(["--logdest", log.to_str().unwrap(), "--runinterval", "1h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    wait_for("the pidfile", || pidfile.is_file());
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(pid.parse::<u32>().is_ok(), "{pid:?}");
    let _reaper = Reaper(pid.clone());
    assert!(!ended(&pid));

    // The first run (no splay), logged to the file in Puppet's file format.
    wait_for("the first run", || count(&log, "Applied catalog in ") == 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.ends_with(" Puppet (notice): Starting Puppet client version 7.23.0")),
        "{text}"
    );
    assert!(
        text.contains(
            " /Stage[main]/Greet/Notify[greeting]/message (notice): defined 'message' as 'hello'"
        ),
        "{text}"
    );

    // A second daemon is refused while the first holds the pidfile.
    let second = dir.path().join("second.log");
    let out = agent(&root, master.port)
        .args(["--logdest", second.to_str().unwrap(), "--no-daemonize"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&second).unwrap();
    assert!(
        text.contains(&format!(
            "Puppet (err): Could not create PID file: {}",
            pidfile.display()
        )),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid);

    // SIGUSR1: a run now, not an hour later.
    signal(&pid, "USR1");
    wait_for("the run USR1 asks for", || {
        count(&log, "Applied catalog in ") == 2
    });
    assert_eq!(count(&log, "Caught USR1; storing reload"), 1);
    assert_eq!(count(&log, "Processing reload"), 1);

    // SIGHUP: a restart, re-executing the agent with the same arguments: a new daemon (a
    // new PID in the pidfile) that starts and runs again.
    signal(&pid, "HUP");
    wait_for("the restarted daemon", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|p| !p.is_empty() && p != pid)
    });
    let new_pid = std::fs::read_to_string(&pidfile).unwrap();
    let _reaper2 = Reaper(new_pid.clone());
    wait_for("the restarted daemon's run", || {
        count(&log, "Applied catalog in ") == 3
    });
    assert_eq!(count(&log, "Caught HUP; storing restart"), 1);
    assert_eq!(count(&log, "Processing restart"), 1);
    assert_eq!(count(&log, "Restarting with '"), 1);
    assert_eq!(count(&log, "Starting Puppet client version 7.23.0"), 2);

    // SIGTERM: Puppet's notice, the process ends, the pidfile is removed.
    signal(&new_pid, "TERM");
    wait_for("the daemon to exit", || ended(&new_pid));
    assert!(ended(&pid));
    assert_eq!(count(&log, "Caught TERM; exiting"), 1);
    assert!(!pidfile.exists());
    assert!(!root.join("var/state/agent_catalog_run.lock").exists());
}

#[test]
fn onetime_splay_sleeps_once_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(&dir.path().join("master"));
    let root = dir.path().join("agent");
    let out = agent(&root, master.port)
        .args(["--onetime", "--no-daemonize", "--verbose"])
        .args(["--splay", "--splaylimit", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first == "Info: Sleeping for 0 seconds (splay is enabled)"
            || first == "Info: Sleeping for 1 seconds (splay is enabled)",
        "{stdout}"
    );
    assert_eq!(stdout.matches("(splay is enabled)").count(), 1);
    // --test turns splay off.
    let out = agent(&root, master.port)
        .args(["--test", "--splay"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("splay is enabled"));
}

#[test]
fn http_debug_prints_requests_and_answers_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(&dir.path().join("master"));
    let root = dir.path().join("agent");
    let out = agent(&root, master.port)
        .args(["--test", "--http_debug"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    for want in [
        format!("opening connection to 127.0.0.1:{}...", master.port),
        r#"-> "HTTP/1.1 200 OK\r\n""#.to_string(),
    ] {
        assert!(
            stderr.lines().any(|l| l == want),
            "{want:?} not in\n{stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(r#"<- "GET /puppet-ca/v1/certificate/ca HTTP/1.1\r\n"#)),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(r#"<- "PUT /puppet/v3/report/agent1.example.test?"#)),
        "{stderr}"
    );
    // Headers only: no key, certificate, CSR or catalog on stderr.
    assert!(!stderr.contains("-----BEGIN"), "{stderr}");
    assert!(!stderr.contains("\"resources\""), "{stderr}");
    // The run's console lines are unchanged on stdout.
    assert!(stdout.contains("Notice: Applied catalog in "), "{stdout}");
}
