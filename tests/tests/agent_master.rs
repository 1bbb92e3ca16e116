//! The proof of the master: Debian's real `puppet agent` (Puppet 7) bootstraps, pluginsyncs,
//! gets a static catalog, applies it and reports against our master started from nothing;
//! and the master refuses what Puppetserver refuses, with Puppet's error bodies, while it
//! keeps serving.
//!
//! When `puppet` is not installed the agent test skips with one line, unless
//! `PUPPET_RS_REQUIRE_REAL=1` (`.ci/run` sets it and installs `puppet-agent`).

#![allow(clippy::unwrap_used)]

use crate::support::show;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use puppet_master::confdir::MasterSetup;
use puppet_protocol::server::RunningMaster;
use rustls_pki_types::pem::PemObject;

const AGENT: &str = "agent1.example.test";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/master/demo")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A confdir from the demo fixture with small keys and extra settings, and a master on a
/// free loopback port.
async fn start_master(dir: &Path, extra_conf: &str) -> (MasterSetup, RunningMaster) {
    let confdir = dir.join("master");
    copy_dir(&fixture_dir(), &confdir);
    let conf = confdir.join("puppet.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("keylength = 2048\n");
    text.push_str(extra_conf);
    std::fs::write(&conf, text).unwrap();
    let setup = MasterSetup::from_confdir(&confdir).unwrap();
    let running = setup
        .master
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (setup, running)
}

struct Agent {
    puppet: PathBuf,
    root: PathBuf,
    target: PathBuf,
    port: u16,
}

impl Agent {
    async fn run(&self, extra: &[&str]) -> Output {
        let mut cmd = crate::support::agent_command(&self.puppet, &self.root, self.port, AGENT);
        cmd.args(extra).env("FACTER_puppet_rs_target", &self.target);
        crate::support::finish(cmd).await
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_bootstraps_applies_reports_and_is_refused_once_revoked() {
    let Some(puppet) = crate::support::real_puppet("real_agent_bootstraps_applies_reports") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (setup, running) = start_master(dir.path(), "").await;
    let agent = Agent {
        puppet,
        root: dir.path().join("agent"),
        target: dir.path().join("target"),
        port: running.local_addr().port(),
    };
    let t = &agent.target;

    // Run 1: CSR, autosign, CA + CRL, pluginsync, facts, static catalog, apply, report.
    let run1 = agent.run(&[]).await;
    assert_eq!(
        run1.status.code(),
        Some(2),
        "first run must change things\n{}",
        show(&run1)
    );
    let stdout = String::from_utf8_lossy(&run1.stdout);
    assert!(
        stdout.contains("Hello from puppet-rs, agent1.example.test"),
        "{}",
        show(&run1)
    );
    assert!(stdout.contains("Triggered 'refresh'"), "{}", show(&run1));

    // Files and modes as the catalog says.
    assert_eq!(mode(t), 0o755);
    let content = std::fs::read_to_string(t.join("content.txt")).unwrap();
    assert!(
        content.starts_with("hello agent1.example.test on "),
        "{content}"
    );
    // The fact came from the module's lib/ by pluginsync.
    assert!(content.ends_with("(pluginsynced)\n"), "{content}");
    assert_eq!(mode(&t.join("content.txt")), 0o640);
    let module = fixture_dir().join("code/environments/production/modules/demo/files");
    assert_eq!(
        std::fs::read(t.join("sourced.txt")).unwrap(),
        std::fs::read(module.join("sourced.txt")).unwrap()
    );
    assert_eq!(mode(&t.join("sourced.txt")), 0o600);
    assert_eq!(
        std::fs::read(t.join("tree/a.txt")).unwrap(),
        std::fs::read(module.join("tree/a.txt")).unwrap()
    );
    assert_eq!(
        std::fs::read(t.join("tree/sub/b.txt")).unwrap(),
        std::fs::read(module.join("tree/sub/b.txt")).unwrap()
    );
    assert_eq!(
        std::fs::read_link(t.join("link")).unwrap(),
        t.join("content.txt")
    );
    assert!(t.join("flag").is_file());
    assert_eq!(
        std::fs::read_to_string(t.join("conditional")).unwrap(),
        "ran\n"
    );
    assert_eq!(
        std::fs::read_to_string(t.join("refreshed")).unwrap(),
        "refreshed\n"
    );

    // Stored: facts, the catalog (static, with inlined metadata and a code_id), the report.
    let facts = {
        use puppet_protocol::server::FactStore;
        setup
            .storage
            .facts(AGENT)
            .await
            .unwrap()
            .expect("facts stored")
    };
    assert_eq!(facts.get("clientcert"), Some(&serde_json::json!(AGENT)));
    let catalog = setup
        .storage
        .last_catalog(AGENT)
        .unwrap()
        .expect("catalog stored");
    assert!(catalog.code_id.as_ref().is_some_and(|c| c.is_string()));
    let metadata = catalog.metadata.as_ref().expect("static catalog metadata");
    let sourced = &metadata[t.join("sourced.txt").to_str().unwrap()];
    assert_eq!(
        sourced["content_uri"],
        "puppet:///modules/demo/files/sourced.txt"
    );
    assert!(
        catalog
            .recursive_metadata
            .as_ref()
            .unwrap()
            .contains_key(t.join("tree").to_str().unwrap())
    );
    let reports = setup.storage.reports(AGENT).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].host, AGENT);
    assert_eq!(reports[0].status.as_str(), "changed");

    // Run 2: nothing changes and no file content is fetched (static catalog metadata).
    let run2 = agent.run(&["--http_debug"]).await;
    assert_eq!(
        run2.status.code(),
        Some(0),
        "second run must change nothing\n{}",
        show(&run2)
    );
    let debug = String::from_utf8_lossy(&run2.stderr);
    assert!(
        debug.contains("POST /puppet/v3/catalog/agent1.example.test"),
        "{}",
        show(&run2)
    );
    assert!(
        !debug.contains("file_content"),
        "second run fetched file content\n{}",
        show(&run2)
    );
    assert_eq!(
        std::fs::read_to_string(t.join("refreshed")).unwrap(),
        "refreshed\n"
    );
    let reports = setup.storage.reports(AGENT).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].status.as_str(), "unchanged");

    // Revoked: the next run is refused in the TLS handshake, without a restart.
    setup.ca.as_ref().unwrap().revoke(AGENT).unwrap();
    let run3 = agent.run(&[]).await;
    assert_eq!(
        run3.status.code(),
        Some(1),
        "a revoked agent must be refused\n{}",
        show(&run3)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&run3.stdout),
        String::from_utf8_lossy(&run3.stderr)
    );
    assert!(
        all.contains("SSL") || all.contains("ssl"),
        "{}",
        show(&run3)
    );
    assert_eq!(setup.storage.reports(AGENT).unwrap().len(), 2);
    running.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// A small HTTPS client (hyper + rustls) for the refusal checks.

struct Identity {
    cert_pem: String,
    key_pem: String,
}

struct Client {
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Client {
    fn new(ca_pem: &str, identity: Option<&Identity>, addr: std::net::SocketAddr) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            Some(id) => {
                let certs: Vec<_> =
                    rustls_pki_types::CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                        .map(|c| c.unwrap())
                        .collect();
                let key =
                    rustls_pki_types::PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Client {
            config: Arc::new(config),
            addr,
        }
    }

    /// One request on a new connection; `Err` when the connection or handshake fails.
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header(
                "accept",
                "application/vnd.puppet.rich+json, application/json, text/pson",
            )
            .header("accept-encoding", "gzip;q=1.0,deflate;q=0.6,identity;q=0.3")
            .header("x-puppet-version", "7.23.0");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        assert_eq!(
            headers
                .get("x-puppet-version")
                .and_then(|v| v.to_str().ok()),
            Some("7.23.0"),
            "every response carries X-Puppet-Version"
        );
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| e.to_string())?;
            out
        } else {
            raw.to_vec()
        };
        Ok(Answer {
            status,
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
            body,
        })
    }

    /// A PUT announcing `len` bytes of which only the first KiB is sent; the answer is read
    /// from the raw stream (hyper's client gives up when the server answers early).
    async fn raw_oversized(&self, path: &str, len: usize) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len}\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(&[b' '; 1024]).await.unwrap();
        tls.flush().await.unwrap();
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut raw)).await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-type: ")
                    .or_else(|| l.strip_prefix("Content-Type: "))
            })
            .map(String::from);
        Answer {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

fn issue(setup: &MasterSetup, name: &str) -> Identity {
    let (key_pem, cert_pem) = setup.ca.as_ref().unwrap().generate(name, &[]).unwrap();
    Identity { cert_pem, key_pem }
}

fn assert_puppet_error(answer: &Answer, status: u16, what: &str) {
    assert_eq!(
        answer.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json;charset=utf-8"),
        "{what}"
    );
    let body = answer.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(body["issue_kind"].as_str().is_some(), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_refuses_other_nodes_bad_input_and_revoked_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (setup, running) = start_master(dir.path(), "max_request_bytes = 1048576\n").await;
    let addr = running.local_addr();
    let ca_pem = setup.ca.as_ref().unwrap().ca_certificate_pem().unwrap();
    let a = Client::new(&ca_pem, Some(&issue(&setup, "a.example.test")), addr);
    let b_identity = issue(&setup, "b.example.test");
    let b = Client::new(&ca_pem, Some(&b_identity), addr);
    let anonymous = Client::new(&ca_pem, None, addr);

    // CA bootstrap endpoints are open without a certificate; the rest is not.
    let ca = anonymous.get("/puppet-ca/v1/certificate/ca").await;
    assert_eq!(ca.status, 200);
    assert_eq!(ca.content_type.as_deref(), Some("text/plain"));
    assert_eq!(String::from_utf8(ca.body).unwrap(), ca_pem);
    assert_eq!(
        anonymous
            .get("/puppet/v3/catalog/a.example.test?environment=production")
            .await
            .status,
        403
    );
    assert_eq!(anonymous.get("/status/v1/simple").await.status, 200);

    // A node reads only its own catalog and puts only its own report (403, no Content-Type).
    let own = a
        .get("/puppet/v3/catalog/a.example.test?environment=production")
        .await;
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    assert_eq!(
        own.content_type.as_deref(),
        Some("application/vnd.puppet.rich+json; charset=utf-8")
    );
    assert_eq!(own.json()["name"], "a.example.test");
    let other = a
        .get("/puppet/v3/catalog/b.example.test?environment=production")
        .await;
    assert_eq!(other.status, 403);
    assert_eq!(other.content_type, None);
    assert!(
        String::from_utf8_lossy(&other.body)
            .starts_with("Forbidden request: /puppet/v3/catalog/b.example.test")
    );
    let put_b = a
        .send(
            "PUT",
            "/puppet/v3/report/b.example.test?environment=production",
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(put_b.status, 403);
    // Admin endpoints: not for agents; for the master's own certificate.
    assert_eq!(
        a.get("/puppet-ca/v1/certificate_statuses/any").await.status,
        403
    );
    let master_id = Identity {
        cert_pem: std::fs::read_to_string(
            setup.ssldir.join(format!("certs/{}.pem", setup.certname)),
        )
        .unwrap(),
        key_pem: std::fs::read_to_string(
            setup
                .ssldir
                .join(format!("private_keys/{}.pem", setup.certname)),
        )
        .unwrap(),
    };
    let admin = Client::new(&ca_pem, Some(&master_id), addr);
    let statuses = admin.get("/puppet-ca/v1/certificate_statuses/any").await;
    assert_eq!(statuses.status, 200);
    assert!(
        statuses
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "b.example.test")
    );

    // Malformed catalog request: facts that are not JSON.
    let bad = a
        .send(
            "POST",
            "/puppet/v3/catalog/a.example.test?environment=production",
            Some("application/x-www-form-urlencoded"),
            b"facts_format=application%2Fjson&facts=%257Bnot-json&environment=production".to_vec(),
        )
        .await
        .unwrap();
    assert_puppet_error(&bad, 400, "malformed catalog request");
    // A report that is not a report.
    let not_report = a
        .send(
            "PUT",
            "/puppet/v3/report/a.example.test?environment=production",
            Some("application/json"),
            br#"{"not": "a report"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_puppet_error(&not_report, 400, "not a report");
    // `..` in a file mount, plain and percent-encoded.
    for path in [
        "/puppet/v3/file_content/modules/demo/../../../../puppet.conf?environment=production",
        "/puppet/v3/file_metadata/modules/demo/%2e%2e/%2e%2e/x?environment=production",
    ] {
        let traversal = a.get(path).await;
        assert_puppet_error(&traversal, 400, path);
    }
    let missing = a
        .get("/puppet/v3/file_metadata/modules/demo/nope.txt?environment=production")
        .await;
    assert_puppet_error(&missing, 404, "missing file");
    assert_eq!(missing.json()["issue_kind"], "RESOURCE_NOT_FOUND");
    // Oversized body: refused from its Content-Length, before it is read.
    let big = a
        .raw_oversized(
            "/puppet/v3/facts/a.example.test?environment=production",
            2 * 1024 * 1024,
        )
        .await;
    assert_puppet_error(&big, 413, "oversized body");

    // The server still serves, and file metadata comes out as Puppetserver prints it.
    let meta = a.get("/puppet/v3/file_metadata/modules/demo/sourced.txt?environment=production&checksum_type=sha256").await;
    assert_eq!(meta.status, 200);
    let meta = meta.json();
    assert_eq!(meta["relative_path"], serde_json::Value::Null);
    assert_eq!(meta["type"], "file");
    assert!(meta["mode"].is_u64(), "mode is decimal: {meta}");
    assert!(
        meta["checksum"]["value"]
            .as_str()
            .unwrap()
            .starts_with("{sha256}")
    );

    // A complete catalog document for a node wins over the data format, gets a code_id.
    let doc = setup
        .environments
        .join("production/catalogs/a.example.test.json");
    std::fs::create_dir_all(doc.parent().unwrap()).unwrap();
    std::fs::write(
        &doc,
        r#"{"tags":["settings"],"name":"a.example.test","version":1795369760,"code_id":null,"catalog_uuid":"x","catalog_format":2,"environment":"production","resources":[{"type":"Stage","title":"main","tags":["stage"],"exported":false,"kind":"compilable_type","parameters":{"name":"main"}},{"type":"Notify","title":"from-document","tags":["notify"],"exported":false,"kind":"compilable_type","parameters":{"message":"hi"}}],"edges":[{"source":"Stage[main]","target":"Notify[from-document]"}],"classes":["settings"]}"#,
    )
    .unwrap();
    let from_doc = a
        .get("/puppet/v3/catalog/a.example.test?environment=production")
        .await;
    assert_eq!(from_doc.status, 200);
    let from_doc = from_doc.json();
    assert_eq!(from_doc["resources"][1]["title"], "from-document");
    assert_eq!(from_doc["version"], 1795369760);
    assert!(
        from_doc["code_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("sha256:"))
    );
    assert_ne!(from_doc["catalog_uuid"], "x");

    // The file bucket: contents by digest, checked on the way in.
    let content = b"backed up\n".to_vec();
    let digest = puppet_protocol::files::digest(&content, "sha256");
    let bucket = format!("/puppet/v3/file_bucket_file/sha256/{digest}?environment=production");
    let put = a
        .send(
            "PUT",
            &bucket,
            Some("application/octet-stream"),
            content.clone(),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200);
    assert_eq!(a.get(&bucket).await.body, content);
    let wrong = a
        .send(
            "PUT",
            &bucket,
            Some("application/octet-stream"),
            b"other".to_vec(),
        )
        .await
        .unwrap();
    assert_puppet_error(&wrong, 400, "file bucket digest mismatch");

    // Node: the stored facts come back as parameters (none stored yet for b).
    let node = b
        .get("/puppet/v3/node/b.example.test?environment=production")
        .await;
    assert_eq!(node.status, 200);
    assert_eq!(
        node.content_type.as_deref(),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(
        node.json(),
        serde_json::json!({"name": "b.example.test", "environment": "production"})
    );

    // Revocation takes effect in the TLS handshake without a restart; others keep working.
    assert_eq!(b.get("/puppet/v3/environments").await.status, 200);
    setup.ca.as_ref().unwrap().revoke("b.example.test").unwrap();
    let refused = b
        .send("GET", "/puppet/v3/environments", None, Vec::new())
        .await;
    assert!(
        refused.is_err(),
        "a revoked certificate must be refused in the handshake"
    );
    assert_eq!(a.get("/puppet/v3/environments").await.status, 200);
    running.shutdown().await;
}
