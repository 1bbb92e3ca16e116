//! The real Puppetserver 7 with Debian's PuppetDB terminus pointed at our service: real
//! agents run, the terminus's commands are stored, its own queries (exported resources
//! collection) are answered, and nothing Sensitive is stored.
//!
//! Skips with one line when `puppetserver` or `puppet` is absent, unless
//! `PUPPET_RS_REQUIRE_REAL=1`. With `PUPPET_DB_CAPTURE=DIR`, the command bodies received
//! (gunzipped) are saved there (how `tests/fixtures/real/` was captured).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use puppet_db::server::{Api, tls_source};
use puppet_db::{Paging, PuppetDb};
use puppet_protocol::server::Limits;
use puppet_protocol::server::generic::{GenericServer, Handler, HttpRequest, HttpResponse};
use serde_json::{Value, json};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/puppetserver-with-terminus.sh")
}

fn available() -> bool {
    let have = |cmd: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have("puppetserver") && have("puppet") {
        return true;
    }
    if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("puppetserver and puppet are required (PUPPET_RS_REQUIRE_REAL=1)");
    }
    eprintln!(
        "skipped: puppetserver or puppet not installed (set PUPPET_RS_REQUIRE_REAL=1 to fail instead)"
    );
    false
}

fn run(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("run the script");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?} failed:\n{text}");
    text
}

/// Stops the Puppetserver when the test ends, however it ends.
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

/// Saves each command body (gunzipped) when asked to, then lets the API answer.
struct Capture {
    api: Api,
    dir: Option<PathBuf>,
    seen: AtomicUsize,
    queries: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Capture {
    fn body_limit(&self, method: &http::Method, path: &str) -> u64 {
        self.api.body_limit(method, path)
    }

    async fn handle(&self, request: HttpRequest) -> HttpResponse {
        if request.path == "/pdb/cmd/v1" {
            let n = self.seen.fetch_add(1, Ordering::SeqCst);
            if let Some(dir) = &self.dir {
                let mut body = Vec::new();
                if request.body.starts_with(&[0x1f, 0x8b]) {
                    let _ = flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut body);
                } else {
                    body = request.body.to_vec();
                }
                let name = request
                    .query
                    .get("command")
                    .unwrap_or("x")
                    .replace(' ', "_");
                let certname = request.query.get("certname").unwrap_or("x");
                let _ = std::fs::write(dir.join(format!("{n:02}-{name}-{certname}.json")), body);
            }
        } else if request.path.starts_with("/pdb/query") {
            let q = request
                .query
                .get("query")
                .map(String::from)
                .unwrap_or_else(|| String::from_utf8_lossy(&request.body).into_owned());
            if let Ok(mut v) = self.queries.lock() {
                v.push(format!("{} {}", request.path, q));
            }
        }
        let response = self.api.handle(request).await;
        if response.status != 200 {
            eprintln!(
                "puppet-db answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        response
    }
}

fn q(db: &PuppetDb, path: &str, query: &str) -> Vec<Value> {
    db.query(path, Some(query), &Paging::default())
        .unwrap_or_else(|e| panic!("{path} {query}: {e}"))
        .rows
}

#[test]
fn real_puppetserver_and_agents_through_the_puppetdb_terminus() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ps");
    let d = dir.to_str().expect("utf-8 path");
    let _stop = Stop(dir.clone());
    run(&["start", d, "puppet.example.test"]);

    // Our service, with the Puppetserver's own certificate (its SANs include localhost).
    let ssl = dir.join("ssl");
    let tls = tls_source(
        &ssl.join("certs/puppet.example.test.pem"),
        &ssl.join("private_keys/puppet.example.test.pem"),
        &ssl.join("certs/ca.pem"),
        Some(&ssl.join("crl.pem")),
    )
    .expect("tls");
    let db_path = tmp.path().join("pdb.sqlite");
    let db = PuppetDb::open_sqlite(&db_path).expect("db");
    let capture = Arc::new(Capture {
        api: Api::new(db.clone()),
        dir: std::env::var_os("PUPPET_DB_CAPTURE").map(PathBuf::from),
        seen: AtomicUsize::new(0),
        queries: std::sync::Mutex::new(Vec::new()),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let running = rt
        .block_on(
            GenericServer::new(tls, capture.clone(), Limits::default())
                .bind("127.0.0.1:0".parse().expect("addr")),
        )
        .expect("bind");
    let url = format!("https://localhost:{}", running.local_addr().port());
    run(&["point", d, &url]);

    run(&["agent", d, "exporter.example.test"]);
    let out = run(&["agent", d, "agent2.example.test"]);
    assert!(out.contains("kernel Linux"), "{out}");

    // Facts, catalogs and reports of both nodes (3 commands each).
    assert!(capture.seen.load(Ordering::SeqCst) >= 6);
    let nodes = q(&db, "nodes", "");
    let mut names: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["certname"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["agent2.example.test", "exporter.example.test"]);
    for n in &nodes {
        assert_eq!(n["facts_environment"], json!("production"), "{n}");
        assert_eq!(n["catalog_environment"], json!("production"), "{n}");
        assert!(n["latest_report_status"].is_string(), "{n}");
    }
    let inv = q(
        &db,
        "",
        r#"inventory[certname, trusted.certname] { facts.kernel = "Linux" }"#,
    );
    assert_eq!(inv.len(), 2, "{inv:?}");
    for row in &inv {
        assert_eq!(row["certname"], row["trusted.certname"]);
    }

    // The exported resource: stored exported on the exporter, collected by the other node.
    let exported = q(
        &db,
        "resources",
        r#"["and", ["=", "type", "Host"], ["=", "title", "exported.example.test"]]"#,
    );
    let by: Vec<(String, bool)> = exported
        .iter()
        .map(|r| {
            (
                r["certname"].as_str().unwrap_or("").to_string(),
                r["exported"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert!(
        by.contains(&("exporter.example.test".into(), true)),
        "{by:?}"
    );
    assert!(
        by.contains(&("agent2.example.test".into(), false)),
        "collected: {by:?}"
    );
    let queries = capture
        .queries
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    assert!(
        queries.iter().any(|q| q.contains("exported")),
        "terminus queries: {queries:?}"
    );

    // The Sensitive notify: stored without its message, and nowhere in the files.
    let secret = q(&db, "resources", r#"["=", "title", "secret"]"#);
    assert_eq!(secret.len(), 1);
    assert!(
        secret[0]["parameters"].get("message").is_none(),
        "{}",
        secret[0]
    );
    for f in [db_path.clone(), db_path.with_extension("sqlite-wal")] {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bytes.windows(9).any(|w| w == b"s3cret-va"),
            "{} holds the secret",
            f.display()
        );
    }

    // Reports and their events.
    let reports = q(
        &db,
        "",
        r#"reports[certname, status, puppet_version] { certname = "agent2.example.test" }"#,
    );
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["status"], json!("changed"));
    let events = q(
        &db,
        "events",
        r#"["and", ["=", "resource_type", "Notify"], ["=", "resource_title", "plain"]]"#,
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["new_value"], json!("kernel Linux"));

    // `puppet node deactivate` (deactivate node v3): hidden from nodes, still known.
    run(&["deactivate", d, "agent2.example.test"]);
    let active = q(&db, "", "nodes[certname] {}");
    assert_eq!(active, vec![json!({"certname": "exporter.example.test"})]);
    let all = q(
        &db,
        "",
        r#"nodes[certname, deactivated] { node_state = "inactive" }"#,
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0]["deactivated"].is_string(), "{all:?}");

    rt.block_on(running.shutdown());
}
