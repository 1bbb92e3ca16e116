//! What the modules share: a server binary started on a free loopback port, a master's
//! `puppet.conf` (the master makes its CA and its own certificate from it at first start),
//! an agent against it, and a client that trusts the master's CA.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use puppet_protocol::client::{ClientBuilder, Identity};
use serde_json::Value;

/// The certname of the masters the agent tests start.
pub const MASTER: &str = "master.example.test";
/// The certname of the agents.
pub const AGENT: &str = "agent1.example.test";

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

/// Writes `confdir/puppet.conf`: a `[server]` section naming the master `certname`, with
/// 2048-bit keys, then the lines `settings`.
pub fn write_puppet_conf(confdir: &Path, certname: &str, settings: &str) {
    std::fs::write(
        confdir.join("puppet.conf"),
        format!("[server]\ncertname = {certname}\nkeylength = 2048\n{settings}"),
    )
    .unwrap();
}

/// [`start_master`] for agents: [`MASTER`], `autosign` as given, and with `class` (a class
/// name and its resources) that class for every node in `production`'s `resources.json`.
pub fn start_agents_master(
    confdir: &Path,
    autosign: bool,
    class: Option<(&str, Value)>,
) -> Running {
    std::fs::create_dir_all(confdir).unwrap();
    write_puppet_conf(confdir, MASTER, &format!("autosign = {autosign}\n"));
    if let Some((name, resources)) = class {
        let env = confdir.join("code/environments/production");
        std::fs::create_dir_all(&env).unwrap();
        let code = serde_json::json!({
            "classes": {name: resources},
            "nodes": [{"certname": "*", "classes": [name]}]
        });
        std::fs::write(env.join("resources.json"), code.to_string()).unwrap();
    }
    start_master(confdir, Stdio::null())
}

/// `puppet-agent` as [`AGENT`] against the master on 127.0.0.1:`port`, with its confdir,
/// vardir, ssldir and publicdir under `root`, 2048-bit keys and no colour.
pub fn agent_command(root: &Path, port: u16) -> Command {
    let d = |x: &str| root.join(x).to_str().unwrap().to_string();
    std::fs::create_dir_all(root.join("conf")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_puppet-agent"));
    command
        .args(["--confdir", &d("conf"), "--vardir", &d("var")])
        .args(["--ssldir", &d("ssl"), "--publicdir", &d("public")])
        .args(["--server", "127.0.0.1", "--masterport", &port.to_string()])
        .args(["--certname", AGENT, "--keylength", "2048"])
        .args(["--color", "false"]);
    command
}

/// A client of the master whose confdir is `confdir`, on 127.0.0.1:`port`, trusting its CA;
/// with `certname`, holding that certificate and key from the master's ssldir.
pub fn master_client(confdir: &Path, port: u16, certname: Option<&str>) -> ClientBuilder {
    let read = |p: &str| std::fs::read_to_string(confdir.join(p)).unwrap();
    let builder = puppet_protocol::client::Client::builder("localhost", port)
        .resolve_to(format!("127.0.0.1:{port}").parse().unwrap())
        .ca_pem(&read("ca/ca_crt.pem"));
    match certname {
        Some(name) => builder.identity(Identity {
            cert_pem: read(&format!("ssl/certs/{name}.pem")),
            key_pem: read(&format!("ssl/private_keys/{name}.pem")),
        }),
        None => builder,
    }
}
