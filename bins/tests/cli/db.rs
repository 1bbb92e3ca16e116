//! `puppet-db` as an operator runs it: certificates from a Puppet CA (made with our
//! `puppet-ca`), mTLS on loopback, PuppetDB's command and query API, error bodies, and a
//! command answered 200 survives `kill -9` the moment after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use puppet_protocol::client::{Client, Identity};
use puppet_protocol::form::encode_query_value;
use serde_json::{Value, json};

use crate::support::{Running, spawn_listening};

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn puppet_ca(cadir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-ca"))
        .arg("--cadir")
        .arg(cadir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, the service's certificate (`localhost`, IP 127.0.0.1) and an agent's.
fn pki() -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let cadir = dir.join("ca");
    puppet_ca(
        &cadir,
        &[
            "setup",
            "--ca-name",
            "Puppet CA: db.test",
            "--keylength",
            "2048",
        ],
    );
    for (name, alt) in [
        ("localhost", Some("IP:127.0.0.1")),
        ("agent1.example.test", None),
    ] {
        let ssldir = dir.join("ssl");
        let mut args = vec![
            "generate",
            "--certname",
            name,
            "--ssldir",
            ssldir.to_str().unwrap(),
        ];
        if let Some(a) = alt {
            args.extend(["--subject-alt-names", a]);
        }
        puppet_ca(&cadir, &args);
    }
    Pki { _tmp: tmp, dir }
}

impl Pki {
    fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("ssl/certs/{name}.pem"))
    }
    fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("ssl/private_keys/{name}.pem"))
    }
    fn ca(&self) -> PathBuf {
        self.dir.join("ca/ca_crt.pem")
    }
    fn start(&self, extra: &[&str]) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_puppet-db"));
        command
            .arg("--ssl-cert")
            .arg(self.cert("localhost"))
            .arg("--ssl-key")
            .arg(self.key("localhost"))
            .arg("--ssl-ca-cert")
            .arg(self.ca())
            .arg("--ssl-crl")
            .arg(self.dir.join("ca/ca_crl.pem"))
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .arg("--database")
            .arg(format!("sqlite:{}", self.dir.join("pdb.sqlite").display()))
            .args(extra);
        spawn_listening(command, Stdio::null())
    }
    fn client(&self, port: u16, with_cert: bool) -> Client {
        let mut b = Client::builder("localhost", port)
            .ca_pem(&std::fs::read_to_string(self.ca()).unwrap())
            .resolve_to(format!("127.0.0.1:{port}").parse().unwrap());
        if with_cert {
            b = b.identity(Identity {
                cert_pem: std::fs::read_to_string(self.cert("agent1.example.test")).unwrap(),
                key_pem: std::fs::read_to_string(self.key("agent1.example.test")).unwrap(),
            });
        }
        b.build().unwrap()
    }
}

fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Option<String>, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = rt
        .block_on(client.request(method, path, &[("content-type", "application/json")], body))
        .unwrap();
    (a.status, a.content_type, a.body)
}

fn facts(certname: &str) -> Vec<u8> {
    let body = json!({"certname": certname, "environment": "production",
        "producer_timestamp": "2026-12-02T10:00:00.000Z", "producer": "localhost",
        "values": {"os": {"family": "Debian"}, "kernel": "Linux"}});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn cmd_path(command: &str, version: u32, certname: &str) -> String {
    format!(
        "/pdb/cmd/v1?checksum=x&version={version}&certname={certname}&command={command}&producer-timestamp=2026-12-02T10%3A00%3A00.000Z"
    )
}

#[test]
fn commands_and_queries_over_mtls_and_a_200_survives_kill_9() {
    let pki = pki();
    let db = pki.start(&[]);
    let c = pki.client(db.port, true);

    let (status, _, body) = call(&c, "GET", "/pdb/meta/v1/version", vec![]);
    assert_eq!(
        (status, serde_json::from_slice::<Value>(&body).unwrap()),
        (200, json!({"version": "7.12.1"}))
    );
    let (status, _, body) = call(&c, "GET", "/status/v1/services/puppetdb-status", vec![]);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["state"],
        json!("running")
    );

    let (status, ct, body) = call(
        &c,
        "POST",
        &cmd_path("replace_facts", 5, "web1.example.test"),
        facts("web1.example.test"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.unwrap().starts_with("application/json"));
    let uuid: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(uuid["uuid"].as_str().map(str::len), Some(36));

    // Answered 200: the command is on disk. Kill -9 at once, restart, it is there.
    let port = db.port;
    drop(db);
    let db = pki.start(&[]);
    assert_ne!(db.port, 0, "{port}");
    let c = pki.client(db.port, true);
    let pql = encode_query_value(r#"inventory[certname] { facts.os.family = "Debian" }"#);
    let (status, _, body) = call(&c, "GET", &format!("/pdb/query/v4?query={pql}"), vec![]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!([{"certname": "web1.example.test"}])
    );

    // POST queries, endpoints, single objects.
    let (status, _, body) = call(
        &c,
        "POST",
        "/pdb/query/v4/nodes",
        json!({"query": ["=", "certname", "web1.example.test"]})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()[0]["facts_environment"],
        json!("production")
    );
    let (status, _, body) = call(&c, "GET", "/pdb/query/v4/nodes/web1.example.test", vec![]);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["certname"],
        json!("web1.example.test")
    );
    let (status, _, body) = call(&c, "GET", "/pdb/query/v4/nodes/nobody", vec![]);
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"error": "No information is known about node nobody"})
    );

    // Refusals: PuppetDB's codes and bodies.
    let (status, _, body) = call(
        &c,
        "POST",
        &cmd_path("replace_stuff", 5, "web1.example.test"),
        facts("web1.example.test"),
    );
    assert_eq!(status, 400);
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        e["error"].as_str().unwrap().starts_with(
            "Command \"replace stuff\" for certname \"web1.example.test\" is invalid."
        ),
        "{e}"
    );
    let (status, _, body) = call(
        &c,
        "POST",
        &cmd_path("replace_facts", 5, "web1.example.test"),
        b"{\"certname\": 3}".to_vec(),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let bad = encode_query_value("nodes { certname = }");
    let (status, ct, body) = call(&c, "GET", &format!("/pdb/query/v4?query={bad}"), vec![]);
    assert_eq!(status, 400);
    assert!(ct.unwrap().starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&body).starts_with("PQL parse error at line 1, column 20:"));
    let q = encode_query_value(r#"["=", "nosuch", 1]"#);
    let (status, _, body) = call(&c, "GET", &format!("/pdb/query/v4/nodes?query={q}"), vec![]);
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).starts_with("'nosuch' is not a queryable object for nodes.")
    );
    let (status, _, _) = call(&c, "GET", "/pdb/query/v4/nosuch", vec![]);
    assert_eq!(status, 404);
    // Still one node: nothing refused was stored.
    let (_, _, body) = call(&c, "GET", "/pdb/query/v4/nodes", vec![]);
    assert_eq!(
        serde_json::from_slice::<Value>(&body)
            .unwrap()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Without a client certificate: no commands, no queries.
    let anon = pki.client(db.port, false);
    let (status, _, _) = call(&anon, "GET", "/pdb/query/v4/nodes", vec![]);
    assert_eq!(status, 403);
    let (status, _, _) = call(
        &anon,
        "POST",
        &cmd_path("replace_facts", 5, "x"),
        facts("x"),
    );
    assert_eq!(status, 403);
}

#[test]
fn config_dir_settings_are_used_and_bad_ones_refused() {
    let pki = pki();
    let confd = pki.dir.join("conf.d");
    std::fs::create_dir_all(&confd).unwrap();
    std::fs::write(
        confd.join("jetty.ini"),
        format!(
            "[jetty]\nssl-host = 127.0.0.1\nssl-port = 0\nssl-cert = {}\nssl-key = {}\nssl-ca-cert = {}\n",
            pki.cert("localhost").display(),
            pki.key("localhost").display(),
            pki.ca().display()
        ),
    )
    .unwrap();
    std::fs::write(
        confd.join("config.ini"),
        format!("[global]\nvardir = {}\n", pki.dir.display()),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_puppet-db"));
    command.arg("--config").arg(&confd);
    let db = spawn_listening(command, Stdio::null());
    let c = pki.client(db.port, true);
    let (status, _, _) = call(
        &c,
        "POST",
        &cmd_path("replace facts", 5, "web1.example.test").replace(' ', "%20"),
        facts("web1.example.test"),
    );
    assert_eq!(status, 200);
    assert!(pki.dir.join("puppetdb.sqlite").exists());
    drop(db);

    // A PostgreSQL that is not there: a one-line error, without the password.
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-db"))
        .args([
            "--config",
            confd.to_str().unwrap(),
            "--database",
            "postgres://pdb:s3cret-pw@127.0.0.1:1/puppetdb",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_puppet-db"))
        .args(["--database", "sqlite:/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--ssl-cert, --ssl-key and --ssl-ca-cert are required")
    );
}

#[path = "../../../puppet-db/tests/pg_cluster.rs"]
mod pg_cluster;

/// `percent-encoded` for a URL's host: a Unix socket directory.
fn url_host(path: &Path) -> String {
    path.to_str().unwrap().replace('/', "%2F")
}

fn start_with(args: &[&std::ffi::OsStr], stderr: &Path) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_puppet-db"));
    command.args(args);
    spawn_listening(command, Stdio::from(std::fs::File::create(stderr).unwrap()))
}

/// Two `puppet-db` processes on one PostgreSQL database, one from `--database postgres://`,
/// the other from a PuppetDB `conf.d` (`database.ini`'s subname, username, password): what
/// one stores, the other answers; the password never reaches the logs.
#[test]
fn two_services_share_one_postgresql_database() {
    let Some(cluster) = pg_cluster::cluster() else {
        return;
    };
    let conn = cluster.database();
    let dbname = conn.rsplit("dbname=").next().unwrap().to_string();
    let pki = pki();
    let tls = |name: &str| -> Vec<std::ffi::OsString> {
        vec![
            "--ssl-cert".into(),
            pki.cert(name).into(),
            "--ssl-key".into(),
            pki.key(name).into(),
            "--ssl-ca-cert".into(),
            pki.ca().into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
        ]
    };
    let url = format!(
        "postgres://postgres:url-s3cret@{}/{dbname}",
        url_host(cluster.socket())
    );
    let mut a_args = tls("localhost");
    a_args.extend(["--database".into(), url.into()]);
    let a_log = pki.dir.join("a.log");
    let a = start_with(
        &a_args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
        &a_log,
    );
    let confd = pki.dir.join("conf.d");
    std::fs::create_dir_all(&confd).unwrap();
    std::fs::write(
        confd.join("database.ini"),
        format!(
            "[database]\nsubname = //{}/{dbname}\nusername = postgres\npassword = ini-s3cret\n",
            url_host(cluster.socket())
        ),
    )
    .unwrap();
    let mut b_args = tls("localhost");
    b_args.extend(["--config".into(), confd.into()]);
    let b_log = pki.dir.join("b.log");
    let b = start_with(
        &b_args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
        &b_log,
    );
    let ca = pki.client(a.port, true);
    let (status, _, _) = call(
        &ca,
        "POST",
        &cmd_path("replace facts", 5, "web1.example.test").replace(' ', "%20"),
        facts("web1.example.test"),
    );
    assert_eq!(status, 200);
    let cb = pki.client(b.port, true);
    let (status, _, body) = call(
        &cb,
        "GET",
        &format!(
            "/pdb/query/v4?query={}",
            encode_query_value(r#"inventory[certname] { facts.os.family = "Debian" }"#)
        ),
        Vec::new(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!([{"certname": "web1.example.test"}]));
    drop(a);
    drop(b);
    for log in [&a_log, &b_log] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("s3cret"), "{text}");
    }
}

/// `[database] node-ttl` in conf.d: the service collects garbage at start (then every
/// `gc-interval`), so a node whose data is older than the TTL is expired after a restart.
#[test]
fn node_ttl_from_conf_d_expires_stale_nodes() {
    let pki = pki();
    let confd = pki.dir.join("conf.d");
    std::fs::create_dir_all(&confd).unwrap();
    std::fs::write(
        confd.join("jetty.ini"),
        format!(
            "[jetty]\nssl-host = 127.0.0.1\nssl-port = 0\nssl-cert = {}\nssl-key = {}\nssl-ca-cert = {}\n",
            pki.cert("localhost").display(),
            pki.key("localhost").display(),
            pki.ca().display()
        ),
    )
    .unwrap();
    std::fs::write(
        confd.join("config.ini"),
        format!("[global]\nvardir = {}\n", pki.dir.display()),
    )
    .unwrap();
    std::fs::write(
        confd.join("database.ini"),
        format!(
            "[database]\nsubname = sqlite:{}\nnode-ttl = 1h\ngc-interval = 60\n",
            pki.dir.join("gc.sqlite").display()
        ),
    )
    .unwrap();
    let args = [std::ffi::OsStr::new("--config"), confd.as_os_str()];
    let log = pki.dir.join("gc.log");
    let db = start_with(&args, &log);
    let c = pki.client(db.port, true);
    // Facts produced at 2026-12-02T10:00Z: older than an hour by the time this runs.
    let (status, _, _) = call(
        &c,
        "POST",
        &cmd_path("replace facts", 5, "web1.example.test").replace(' ', "%20"),
        facts("web1.example.test"),
    );
    assert_eq!(status, 200);
    let nodes = |c: &Client| -> Value {
        let (status, _, body) = call(c, "GET", "/pdb/query/v4/nodes", Vec::new());
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    };
    // (The collection at start may run before or after this command: either way the node
    // is stored, and expired by the collection of the next start at the latest.)
    drop(db);
    let db = start_with(&args, &log);
    let c = pki.client(db.port, true);
    let mut left = nodes(&c);
    for _ in 0..50 {
        if left == json!([]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = nodes(&c);
    }
    assert_eq!(left, json!([]), "the stale node is expired");
    let (_, _, body) = call(
        &c,
        "GET",
        &format!(
            "/pdb/query/v4/nodes?query={}",
            encode_query_value(r#"["=", "node_state", "any"]"#)
        ),
        Vec::new(),
    );
    let all: Value = serde_json::from_slice(&body).unwrap();
    assert!(all[0]["expired"].is_string(), "{all}");
}
