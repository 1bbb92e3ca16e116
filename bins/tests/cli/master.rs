//! `puppet-master` as an operator runs it: first start creates the CA and the master's own
//! certificate in the confdir, serves HTTPS on the given port, and a restart reuses them.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{MASTER, Running, master_client, start_master, write_puppet_conf};

/// Starts the binary on a free loopback port and waits for its "listening on" line.
fn start(confdir: &Path) -> Running {
    start_master(confdir, Stdio::null())
}

/// As [`start`], with the master's stderr (its log) going to `stderr`.
fn start_with_stderr(confdir: &Path, stderr: Stdio) -> Running {
    start_master(confdir, stderr)
}

fn status(confdir: &Path, port: u16) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = master_client(confdir, port, None).build().unwrap();
        let answer = client
            .connect()
            .await
            .unwrap()
            .request("GET", "/status/v1/simple", None, vec![])
            .await
            .unwrap();
        (answer.status, answer.body)
    })
}

#[test]
fn first_start_creates_the_ca_and_serves_then_restart_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path();
    write_puppet_conf(confdir, MASTER, "autosign = true\n");
    let first = start(confdir);
    for file in [
        "ca/ca_crt.pem",
        "ca/ca_key.pem",
        "ca/ca_crl.pem",
        "ca/serial",
        "ca/inventory.txt",
    ] {
        assert!(confdir.join(file).is_file(), "{file} missing");
    }
    let cert = confdir.join("ssl/certs/master.example.test.pem");
    let key = confdir.join("ssl/private_keys/master.example.test.pem");
    assert!(cert.is_file() && key.is_file());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the master's private key is 0600");
    }
    assert!(
        confdir
            .join("code/environments/production/modules")
            .is_dir()
    );
    assert_eq!(status(confdir, first.port), (200, b"running".to_vec()));
    let ca_before = std::fs::read(confdir.join("ca/ca_crt.pem")).unwrap();
    let cert_before = std::fs::read(&cert).unwrap();
    drop(first);

    let second = start(confdir);
    assert_eq!(status(confdir, second.port), (200, b"running".to_vec()));
    assert_eq!(
        std::fs::read(confdir.join("ca/ca_crt.pem")).unwrap(),
        ca_before
    );
    assert_eq!(std::fs::read(&cert).unwrap(), cert_before);
}

#[test]
fn bad_configuration_is_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("puppet.conf"), "[server]\nca_ttl = soon\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-master"))
        .arg("--confdir")
        .arg(dir.path())
        .args(["--bind", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ca_ttl"), "{stderr}");
}

#[test]
fn log_lines_carry_no_colour_codes_when_stderr_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path();
    write_puppet_conf(confdir, MASTER, "");
    let log_path = confdir.join("master.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let master = start_with_stderr(confdir, Stdio::from(log));
    assert_eq!(status(confdir, master.port), (200, b"running".to_vec()));
    // The request's log line is written after the answer: wait for it (bounded).
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&log_path).unwrap();
        if text.contains("/status/v1/simple") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(master);
    assert!(
        text.contains("/status/v1/simple"),
        "no request line in {text:?}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape in a log file: {text:?}"
    );
}

/// A mistyped `--confdir` creates nothing (no directory, no CA) and says so; `--init`
/// creates it.
#[test]
fn missing_confdir_is_refused_unless_init() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-master"))
        .arg("--confdir")
        .arg(&missing)
        .args(["--bind", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no such directory"), "{stderr}");
    assert!(!missing.exists(), "nothing created");
}

/// The first start says what it created (the CA with its fingerprint, the master's
/// certificate), and `puppet.conf` lines it ignores are warned about with file and line.
#[test]
fn first_start_logs_what_it_created_and_puppet_conf_typos() {
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path();
    write_puppet_conf(confdir, MASTER, "autosing = true\n");
    let log_path = confdir.join("master.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // The listening line is printed after setup, so the setup lines are in the log.
    let master = start_with_stderr(confdir, Stdio::from(log));
    drop(master);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("created a new CA in"), "{text}");
    assert!(text.contains("fingerprint (SHA256)"), "{text}");
    assert!(
        text.contains("puppet.conf:4: unknown setting \"autosing\""),
        "{text}"
    );
}

/// SIGTERM ends the master cleanly: exit status 0 (it was 143).
#[test]
fn sigterm_stops_the_master_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    write_puppet_conf(dir.path(), MASTER, "");
    let mut master = start(dir.path());
    let pid = master.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = master.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
