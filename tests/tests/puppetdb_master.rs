//! A site with no JVM: our master, configured as a Puppet user configures Puppetserver for
//! PuppetDB (`puppetdb.conf`, `storeconfigs`, `reports = store,puppetdb`), and our
//! `puppet-db` on loopback, both with certificates of our CA. Debian's real `puppet agent`
//! runs twice against the master; `puppet-db` then answers its query API with the node's
//! facts, catalog resources and reports, refuses a certificate its allowlist does not name,
//! and no Sensitive value is anywhere in its database files.

#![allow(clippy::unwrap_used)]

use crate::support::show;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
use puppet_db::PuppetDb;
use puppet_db::server::{Api, CertificateAllowlist};
use puppet_master::confdir::MasterSetup;
use puppet_protocol::client::{Client, Identity};
use puppet_protocol::server::generic::GenericServer;
use puppet_protocol::server::{Limits, TlsFiles, TlsSource};
use serde_json::{Value, json};

const MASTER: &str = "puppet.example.test";
const AGENT: &str = "agent1.example.test";
const SECRETS: [&str; 2] = ["s3cret-pdb-message", "s3cret-pdb-content"];

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

/// The node's catalog, as Puppetserver would compile it: a plain and a Sensitive notify, a
/// file whose content is Sensitive, a relationship.
fn catalog(target: &Path) -> Value {
    let t = target.display().to_string();
    let secret_file = format!("{t}/secret.txt");
    let tags = |extra: &str| json!([extra, "class"]);
    json!({
        "tags": ["settings", "class"],
        "name": AGENT,
        "version": 1796265858,
        "code_id": null,
        "catalog_format": 2,
        "environment": "production",
        "resources": [
            {"type": "Stage", "title": "main", "tags": ["stage"], "exported": false,
             "kind": "compilable_type", "parameters": {"name": "main"}},
            {"type": "Class", "title": "Settings", "tags": ["class", "settings"], "exported": false, "kind": "unknown"},
            {"type": "Class", "title": "main", "tags": ["class"], "exported": false, "kind": "unknown",
             "parameters": {"name": "main"}},
            {"type": "File", "title": t, "tags": tags("file"), "exported": false, "kind": "compilable_type",
             "parameters": {"ensure": "directory"}},
            {"type": "File", "title": secret_file, "tags": tags("file"), "exported": false,
             "kind": "compilable_type",
             "parameters": {"ensure": "file", "mode": "0600", "content": "s3cret-pdb-content\n",
                            "require": format!("File[{t}]")},
             "sensitive_parameters": ["content"]},
            {"type": "Notify", "title": "plain", "tags": tags("notify"), "exported": false,
             "kind": "compilable_type", "parameters": {"message": "hello from puppet-rs"}},
            {"type": "Notify", "title": "secret", "tags": tags("notify"), "exported": false,
             "kind": "compilable_type", "parameters": {"message": "s3cret-pdb-message"},
             "sensitive_parameters": ["message"]}
        ],
        "edges": [
            {"source": "Stage[main]", "target": "Class[Settings]"},
            {"source": "Stage[main]", "target": "Class[main]"},
            {"source": "Class[main]", "target": format!("File[{t}]")},
            {"source": "Class[main]", "target": format!("File[{secret_file}]")},
            {"source": "Class[main]", "target": "Notify[plain]"},
            {"source": "Class[main]", "target": "Notify[secret]"}
        ],
        "classes": ["settings"]
    })
}

async fn agent_run(puppet: &Path, root: &Path, port: u16) -> Output {
    crate::support::finish(crate::support::agent_command(puppet, root, port, AGENT)).await
}

async fn query(client: &Client, path: &str) -> Value {
    let answer = client.request("GET", path, &[], Vec::new()).await.unwrap();
    assert_eq!(
        answer.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    serde_json::from_slice(&answer.body).unwrap()
}

fn encode(q: &str) -> String {
    puppet_protocol::form::encode(q)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_through_our_master_into_our_puppet_db() {
    let Some(puppet) = crate::support::real_puppet("real_agent_through_our_master_into_puppet_db")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path().join("master");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/master/demo"),
        &confdir,
    );
    let target = dir.path().join("target");
    let catalogs = confdir.join("code/environments/production/catalogs");
    std::fs::create_dir_all(&catalogs).unwrap();
    std::fs::write(
        catalogs.join(format!("{AGENT}.json")),
        catalog(&target).to_string(),
    )
    .unwrap();

    // The CA the master will open, and puppet-db's certificate from it (`localhost`, the
    // host of `server_urls`), as PuppetDB gets one from the Puppetserver CA.
    let settings = CaSettings {
        key: KeyType::Rsa(2048),
        ..CaSettings::new(format!("Puppet CA: {MASTER}"))
    };
    let ca = CertificateAuthority::open_or_setup(&confdir.join("ca"), settings).unwrap();
    let ca_pem = ca.ca_certificate_pem().unwrap();
    let (db_key, db_cert) = ca.generate("localhost", &["IP:127.0.0.1".into()]).unwrap();
    let pdb_dir = dir.path().join("pdb");
    std::fs::create_dir_all(&pdb_dir).unwrap();
    let db = PuppetDb::open_sqlite(pdb_dir.join("puppetdb.sqlite")).unwrap();
    let api = Api::new(db.clone())
        .with_certificate_allowlist(CertificateAllowlist::parse(&format!("{MASTER}\n")));
    let tls = TlsSource::new(TlsFiles {
        cert_pem: db_cert,
        key_pem: db_key,
        ca_pem: ca_pem.clone(),
        crl_path: confdir.join("ca/ca_crl.pem"),
    })
    .unwrap();
    let pdb = GenericServer::new(tls, Arc::new(api), Limits::default())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let pdb_port = pdb.local_addr().port();

    // The master's side, as for Puppetserver's PuppetDB terminus.
    std::fs::write(
        confdir.join("puppetdb.conf"),
        format!("[main]\nserver_urls = https://localhost:{pdb_port}\nsoft_write_failure = false\n"),
    )
    .unwrap();
    let conf = confdir.join("puppet.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("keylength = 2048\nstoreconfigs = true\nstoreconfigs_backend = puppetdb\nreports = store,puppetdb\n");
    std::fs::write(&conf, text).unwrap();
    let setup = MasterSetup::from_confdir(&confdir).unwrap();
    let master = setup
        .master
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = master.local_addr().port();
    let agent_root = dir.path().join("agent");

    // Run 1 applies the catalog; run 2 gets the same catalog from the master's cache.
    let run1 = agent_run(&puppet, &agent_root, port).await;
    assert_eq!(run1.status.code(), Some(2), "{}", show(&run1));
    assert_eq!(
        std::fs::read_to_string(target.join("secret.txt")).unwrap(),
        "s3cret-pdb-content\n"
    );
    let run2 = agent_run(&puppet, &agent_root, port).await;
    assert!(
        matches!(run2.status.code(), Some(0) | Some(2)),
        "{}",
        show(&run2)
    );

    // Ask puppet-db as the master (the certname its allowlist names).
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    let ssl = setup.ssldir.display().to_string();
    let client = Client::builder("localhost", pdb_port)
        .ca_pem(&ca_pem)
        .identity(Identity {
            cert_pem: read(&format!("{ssl}/certs/{MASTER}.pem")),
            key_pem: read(&format!("{ssl}/private_keys/{MASTER}.pem")),
        })
        .build()
        .unwrap();

    let nodes = query(&client, "/pdb/query/v4/nodes").await;
    let node = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["certname"] == AGENT)
        .unwrap_or_else(|| panic!("{AGENT} not in {nodes}"));
    for stamp in ["facts_timestamp", "catalog_timestamp", "report_timestamp"] {
        assert!(node[stamp].is_string(), "{stamp} in {node}");
    }
    assert_eq!(node["catalog_environment"], "production");

    // Facts as the agent sent them, with `trusted` from the master.
    let facts = query(
        &client,
        &format!(
            "/pdb/query/v4/facts?query={}",
            encode(r#"["in", "name", ["array", ["clientcert", "kernel", "trusted"]]]"#)
        ),
    )
    .await;
    let fact = |name: &str| {
        facts
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name && f["certname"] == AGENT)
            .map(|f| f["value"].clone())
            .unwrap_or_else(|| panic!("fact {name} not in {facts}"))
    };
    assert_eq!(fact("clientcert"), AGENT);
    assert_eq!(fact("kernel"), "Linux");
    assert_eq!(fact("trusted")["authenticated"], "remote");
    assert_eq!(fact("trusted")["certname"], AGENT);

    // The catalog's resources, the Sensitive parameters taken out, the relationship an edge.
    let resources = query(
        &client,
        &format!(
            "/pdb/query/v4/resources?query={}",
            encode(&format!(r#"["=", "certname", "{AGENT}"]"#))
        ),
    )
    .await;
    let resource = |t: &str, title: &str| {
        resources
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == t && r["title"] == title)
            .cloned()
            .unwrap_or_else(|| panic!("{t}[{title}] not in {resources}"))
    };
    assert_eq!(
        resource("Notify", "plain")["parameters"],
        json!({"message": "hello from puppet-rs"})
    );
    assert_eq!(resource("Notify", "secret")["parameters"], json!({}));
    let secret_file = format!("{}/secret.txt", target.display());
    let file = resource("File", &secret_file);
    assert_eq!(file["parameters"]["mode"], "0600");
    assert!(file["parameters"].get("content").is_none(), "{file}");
    assert_eq!(
        resource("Stage", "main")["parameters"]["alias"],
        json!(["main"])
    );
    let edges = query(
        &client,
        &format!(
            "/pdb/query/v4/edges?query={}",
            encode(r#"["=", "relationship", "required-by"]"#)
        ),
    )
    .await;
    assert_eq!(edges.as_array().unwrap().len(), 1, "{edges}");
    assert_eq!(edges[0]["target_title"], secret_file.as_str());

    // Two reports; the last catalog is the second run's (sent again from the cache).
    let reports = query(
        &client,
        &format!(
            "/pdb/query/v4/reports?query={}&order_by={}",
            encode(&format!(r#"["=", "certname", "{AGENT}"]"#)),
            encode(r#"[{"field": "producer_timestamp"}]"#)
        ),
    )
    .await;
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(reports[0]["status"], "changed");
    assert_eq!(reports[0]["producer"], MASTER);
    let catalogs = query(&client, &format!("/pdb/query/v4/catalogs/{AGENT}")).await;
    assert_eq!(catalogs["transaction_uuid"], reports[1]["transaction_uuid"]);
    assert_eq!(catalogs["producer"], MASTER);
    let events = query(
        &client,
        &format!(
            "/pdb/query/v4/events?query={}",
            encode(r#"["=", "resource_title", "secret"]"#)
        ),
    )
    .await;
    assert_eq!(events[0]["new_value"], "[redacted]", "{events}");

    // The agent's certificate is of the same CA, but not in puppet-db's allowlist.
    let agent_ssl = agent_root.join("ssl");
    let agent = Client::builder("localhost", pdb_port)
        .ca_pem(&ca_pem)
        .identity(Identity {
            cert_pem: std::fs::read_to_string(agent_ssl.join(format!("certs/{AGENT}.pem")))
                .unwrap(),
            key_pem: std::fs::read_to_string(agent_ssl.join(format!("private_keys/{AGENT}.pem")))
                .unwrap(),
        })
        .build()
        .unwrap();
    let refused = agent
        .request("GET", "/pdb/query/v4/nodes", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(refused.status, 403);

    master.shutdown().await;
    pdb.shutdown().await;
    drop(db);
    // Nothing Sensitive in any of puppet-db's files (database, WAL).
    let files: Vec<PathBuf> = std::fs::read_dir(&pdb_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {}",
                path.display()
            );
        }
    }
}
