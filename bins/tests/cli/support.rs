//! What the modules share: a server binary started on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A server process on loopback, killed when dropped.
pub struct Running {
    /// The process.
    pub child: Child,
    /// The port it printed in its "listening on ADDR" line.
    pub port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` (which must be told to bind port 0) with stdout piped, and waits for
/// its first line, "... listening on ADDR:PORT ...".
pub fn spawn_listening(mut command: Command, stderr: Stdio) -> Running {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no listening line: {line:?}"));
    Running { child, port }
}

/// `puppet-master --confdir CONFDIR` on a free loopback port, its log going to `stderr`.
pub fn start_master(confdir: &Path, stderr: Stdio) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_puppet-master"));
    command
        .arg("--confdir")
        .arg(confdir)
        .args(["--bind", "127.0.0.1", "--port", "0"]);
    spawn_listening(command, stderr)
}
