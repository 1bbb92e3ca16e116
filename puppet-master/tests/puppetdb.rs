//! PuppetDB as the master's storage: the commands have the shapes the real terminus sends
//! (compared with bodies captured from Puppetserver 7 + terminus 7.12.1 in puppet-db's
//! tests), nothing Sensitive leaves, failures are handled as `soft_write_failure` says, and
//! a master configured from a confdir (`puppetdb.conf`, `storeconfigs`, `reports`) sends
//! to a `puppet-db` server over mTLS.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use puppet_master::FsStorage;
use puppet_master::puppetdb::{
    CommandSink, PuppetDbStorage, catalog_command, facts_command, report_command,
};
use puppet_protocol::client::PdbCommand;
use puppet_protocol::server::{CatalogArchive, CompileRequest, FactStore, NodeInfo, ReportSink};
use serde_json::{Value, json};

const REAL_FACTS: &str = include_str!("../../puppet-db/tests/fixtures/real/replace_facts-v5.json");
const REAL_CATALOG: &str =
    include_str!("../../puppet-db/tests/fixtures/real/replace_catalog-v9.json");
const REAL_REPORT: &str = include_str!("../../puppet-db/tests/fixtures/real/store_report-v8.json");
/// A catalog and a report of the real Puppetserver and agent with Sensitive values.
const SENSITIVE_CATALOG: &str = include_str!("../../fixtures/catalogs/sensitive.json");
const SENSITIVE_REPORT: &str = include_str!("../../fixtures/reports/sensitive.json");
/// The secrets of the two documents above.
const SECRETS: [&str; 3] = ["top secret message", "s3cr3t", "hidden-command"];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-12-03 02:44:17.701 UTC)
}

#[test]
fn facts_command_is_what_the_terminus_sends() {
    let real: Value = serde_json::from_str(REAL_FACTS).unwrap();
    let mut values = real["values"].as_object().unwrap().clone();
    values.shift_remove("trusted");
    let facts = puppet_facts::Facts::from_value(json!({
        "name": real["certname"], "values": values,
        "timestamp": "2026-12-03T02:44:17.123456789+00:00", "expiration": "2026-12-03T03:14:17.123456789+00:00"
    }))
    .unwrap();
    let ours = facts_command(
        &facts,
        "agent2.example.test",
        "production",
        "puppet.example.test",
        now(),
    );
    // Field for field, `trusted` included (as Puppetserver computes it for the node).
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(ours["values"], real["values"]);
    assert_eq!(ours["producer_timestamp"], "2026-12-03T02:44:17.701+00:00");
    assert_eq!(ours["producer"], real["producer"]);
    assert_eq!(ours["environment"], real["environment"]);
}

#[test]
fn catalog_command_has_the_terminus_shape_and_no_sensitive_value() {
    let real: Value = serde_json::from_str(REAL_CATALOG).unwrap();
    let catalog = puppet_catalog::Catalog::from_json(SENSITIVE_CATALOG.as_bytes()).unwrap();
    let ours = catalog_command(
        &catalog,
        "production",
        Some("9049b387-bc01-4cf6-a1dc-f5d559c60a69"),
        None,
        "puppet.example.test",
        now(),
    )
    .unwrap();
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(ours["version"], "1795425637");
    assert_eq!(ours["catalog_uuid"], "5091d337-7a33-4ef4-8665-7dcf6a483e63");
    assert_eq!(ours["certname"], "sensitive.fixtures.test");
    assert_eq!(ours["job_id"], Value::Null);
    // Resources: the terminus's fields in its order; `main` aliased as the terminus does.
    let resources = ours["resources"].as_array().unwrap();
    assert_eq!(resources[0], real["resources"][0]);
    assert_eq!(resources[2], real["resources"][2]);
    assert_eq!(
        resources[1],
        json!({"type": "Class", "title": "Settings", "tags": ["class", "settings"],
               "exported": false, "kind": "unknown", "parameters": {}})
    );
    for r in resources {
        assert!(r.get("sensitive_parameters").is_none(), "{r}");
        assert!(r["parameters"].is_object(), "{r}");
    }
    let notify = resources
        .iter()
        .find(|r| r["title"] == "sensitive-notify")
        .unwrap();
    assert_eq!(notify["parameters"], json!({}));
    // Edges: `{type, title}` pairs with their relationship.
    let real_edge_keys = keys(&real["edges"][0]);
    for e in ours["edges"].as_array().unwrap() {
        assert_eq!(keys(e), real_edge_keys, "{e}");
    }
    assert_eq!(
        ours["edges"][0],
        json!({"source": {"type": "Stage", "title": "main"}, "target": {"type": "Class", "title": "Settings"}, "relationship": "contains"})
    );
    // Rich values stringified, as the terminus's `stringify_rich`.
    let rich = resources
        .iter()
        .find(|r| r["title"] == "rich-values")
        .unwrap();
    assert_eq!(
        rich["parameters"]["message"]["when"],
        "2024-01-02T03:04:05.000000006 UTC"
    );
    assert_eq!(rich["parameters"]["message"]["type"], "Integer[1, 10]");
    assert_eq!(rich["parameters"]["message"]["pattern"], "/^a+b?$/");
    assert!(!rich.to_string().contains("__ptype"), "{rich}");
    let text = ours.to_string();
    for s in SECRETS {
        assert!(!text.contains(s), "{s} left in {text}");
    }
}

#[test]
fn relationship_metaparameters_become_edges_and_aliases_resolve() {
    let catalog = puppet_catalog::Catalog::from_json(
        br#"{"name": "n1", "version": 1, "resources": [
          {"type": "File", "title": "motd", "tags": ["file"], "exported": false,
           "parameters": {"path": "/etc/motd", "before": ["Service[b]", "Service[a]"]}},
          {"type": "Service", "title": "a", "tags": ["service"], "exported": false,
           "parameters": {"subscribe": "File[/etc/motd]"}},
          {"type": "Service", "title": "b", "tags": ["service"], "exported": false}],
          "edges": [{"source": "Stage[main]", "target": "File[motd]"}]}"#,
    )
    .unwrap();
    let doc = catalog_command(&catalog, "production", None, None, "p", now()).unwrap();
    // The namevar differs from the title: an alias; set-like metaparameters sorted.
    assert_eq!(
        doc["resources"][0]["parameters"],
        json!({"path": "/etc/motd", "before": ["Service[a]", "Service[b]"], "alias": ["/etc/motd"]})
    );
    let edges: Vec<(String, String, String)> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{}[{}]",
                    e["source"]["type"].as_str().unwrap(),
                    e["source"]["title"].as_str().unwrap()
                ),
                e["relationship"].as_str().unwrap().to_string(),
                format!(
                    "{}[{}]",
                    e["target"]["type"].as_str().unwrap(),
                    e["target"]["title"].as_str().unwrap()
                ),
            )
        })
        .collect();
    let has = |s: &str, r: &str, t: &str| edges.iter().any(|(a, b, c)| a == s && b == r && c == t);
    assert!(has("Stage[main]", "contains", "File[motd]"), "{edges:?}");
    assert!(has("File[motd]", "before", "Service[a]"), "{edges:?}");
    assert!(has("File[motd]", "before", "Service[b]"), "{edges:?}");
    // `subscribe` to the alias: the edge names the resource by its title.
    assert!(
        has("File[motd]", "subscription-of", "Service[a]"),
        "{edges:?}"
    );
    // A relationship to nothing is refused, as the terminus refuses it.
    let bad = puppet_catalog::Catalog::from_json(
        br#"{"name": "n1", "resources": [{"type": "Notify", "title": "x", "parameters": {"require": "Notify[nope]"}}], "edges": []}"#,
    )
    .unwrap();
    let err = catalog_command(&bad, "production", None, None, "p", now()).unwrap_err();
    assert!(err.contains("doesn't seem to be in the catalog"), "{err}");
}

#[test]
fn report_command_has_the_terminus_shape_and_no_sensitive_value() {
    let real: Value = serde_json::from_str(REAL_REPORT).unwrap();
    let report = puppet_report::Report::from_json(SENSITIVE_REPORT.as_bytes()).unwrap();
    let ours = report_command(&report, "puppet.example.test", now()).unwrap();
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(keys(&ours["resources"][0]), keys(&real["resources"][0]));
    assert_eq!(
        keys(&ours["resources"][0]["events"][0]),
        keys(&real["resources"][0]["events"][0])
    );
    assert_eq!(keys(&ours["logs"][0]), keys(&real["logs"][0]));
    assert_eq!(keys(&ours["metrics"][0]), keys(&real["metrics"][0]));
    assert_eq!(ours["producer_timestamp"], "2026-12-03T02:44:17.701Z");
    // Milliseconds, the agent's offset kept; the end is the start + `time.total`.
    assert_eq!(ours["start_time"], "2026-11-23T09:20:38.134+00:00");
    assert_eq!(ours["end_time"], "2026-11-23T09:20:38.314+00:00");
    // Values as the terminus's `to_s` writes them.
    let exec = ours["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource_type"] == "Exec")
        .unwrap();
    assert_eq!(exec["events"][0]["new_value"], r#"["0"]"#);
    assert_eq!(exec["events"][0]["old_value"], "notrun");
    let text = ours.to_string();
    for s in SECRETS {
        assert!(!text.contains(s), "{s} left in the report command");
    }
    assert!(text.contains("changed [redacted] to [redacted]"));
}

/// Keeps every command, or fails them all.
#[derive(Default)]
struct Recorder {
    commands: Mutex<Vec<(String, u32, String, Value)>>,
    fail: bool,
}

#[async_trait]
impl CommandSink for Recorder {
    async fn submit(&self, c: &PdbCommand<'_>) -> Result<String, String> {
        if self.fail {
            return Err("https://puppetdb:8081: connection refused".into());
        }
        self.commands.lock().unwrap().push((
            c.command.to_string(),
            c.version,
            c.certname.to_string(),
            c.payload.clone(),
        ));
        Ok("6f0b2b4e-0000-4000-8000-000000000000".into())
    }
}

fn compile_request(certname: &str) -> CompileRequest {
    CompileRequest {
        certname: certname.into(),
        environment: "production".into(),
        facts: None,
        node: NodeInfo::new(certname, "production"),
        transaction_uuid: Some("f00dfeed-0000-4000-8000-000000000001".into()),
        static_catalog: false,
        checksum_types: Vec::new(),
    }
}

#[tokio::test]
async fn failures_are_logged_or_answered_500_as_soft_write_failure_says() {
    let dir = tempfile::tempdir().unwrap();
    let facts = puppet_facts::Facts::from_json(br#"{"name": "n1", "values": {"kernel": "Linux"}}"#)
        .unwrap();
    let catalog = puppet_catalog::Catalog::from_json(SENSITIVE_CATALOG.as_bytes()).unwrap();
    let report = puppet_report::Report::from_json(SENSITIVE_REPORT.as_bytes()).unwrap();
    let reports = vec!["store".to_string(), "puppetdb".to_string()];
    for soft in [true, false] {
        let failing = Arc::new(Recorder {
            fail: true,
            ..Recorder::default()
        });
        let storage = PuppetDbStorage::new(
            FsStorage::new(dir.path()),
            failing,
            "puppet.example.test",
            true,
            reports.clone(),
            soft,
        );
        let f = storage.save_facts_for("n1", &facts, "production").await;
        let c = storage
            .save_compiled(&compile_request("n1"), &catalog, b"{}")
            .await;
        if soft {
            f.unwrap();
            c.unwrap();
        } else {
            let e = f.unwrap_err();
            assert_eq!(e.status(), 500);
            assert!(
                e.to_string()
                    .contains("Failed to submit 'replace facts' command for n1 to PuppetDB"),
                "{e}"
            );
            assert_eq!(c.unwrap_err().status(), 500);
        }
        // A report processor's failure is only logged; `store` still stored it.
        let processors = storage
            .store_report(&report.host, &report, SENSITIVE_REPORT.as_bytes())
            .await
            .unwrap();
        assert_eq!(processors, reports);
    }
    let stored = FsStorage::new(dir.path()).reports(&report.host).unwrap();
    assert_eq!(stored.len(), 2);
    // The master still keeps the facts on disk whatever PuppetDB did.
    assert_eq!(
        FsStorage::new(dir.path()).facts("n1").await.unwrap(),
        Some(facts)
    );
}

#[tokio::test]
async fn commands_follow_storeconfigs_and_reports_and_a_resent_catalog_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let facts = puppet_facts::Facts::from_json(br#"{"name": "n1", "values": {"kernel": "Linux"}}"#)
        .unwrap();
    let catalog = puppet_catalog::Catalog::from_json(SENSITIVE_CATALOG.as_bytes()).unwrap();
    let report = puppet_report::Report::from_json(SENSITIVE_REPORT.as_bytes()).unwrap();

    // `reports = puppetdb` without `storeconfigs`: only the report, no report file.
    let rec = Arc::new(Recorder::default());
    let storage = PuppetDbStorage::new(
        FsStorage::new(dir.path()),
        rec.clone(),
        "puppet.example.test",
        false,
        vec!["puppetdb".into()],
        false,
    );
    storage
        .save_facts_for("n1", &facts, "production")
        .await
        .unwrap();
    storage
        .save_compiled(&compile_request("n1"), &catalog, b"{}")
        .await
        .unwrap();
    let processors = storage
        .store_report(&report.host, &report, SENSITIVE_REPORT.as_bytes())
        .await
        .unwrap();
    assert_eq!(processors, ["puppetdb"]);
    let names: Vec<String> = rec
        .commands
        .lock()
        .unwrap()
        .iter()
        .map(|c| format!("{} v{} {}", c.0, c.1, c.2))
        .collect();
    assert_eq!(names, ["store report v8 sensitive.fixtures.test"]);
    assert!(
        FsStorage::new(dir.path())
            .reports(&report.host)
            .unwrap()
            .is_empty()
    );

    // `storeconfigs`: facts with the run's environment, the catalog with the run's
    // transaction_uuid, and again when the master resends its cached catalog.
    let rec = Arc::new(Recorder::default());
    let storage = PuppetDbStorage::new(
        FsStorage::new(dir.path()),
        rec.clone(),
        "puppet.example.test",
        true,
        vec!["store".into()],
        false,
    );
    storage
        .save_facts_for("n1", &facts, "staging")
        .await
        .unwrap();
    let json = catalog.to_json().unwrap();
    storage
        .save_compiled(&compile_request("n1"), &catalog, json.as_bytes())
        .await
        .unwrap();
    let mut second = compile_request("n1");
    second.transaction_uuid = Some("f00dfeed-0000-4000-8000-000000000002".into());
    storage
        .catalog_resent(&second, json.as_bytes())
        .await
        .unwrap();
    let commands = rec.commands.lock().unwrap().clone();
    assert_eq!(commands.len(), 3);
    assert_eq!(commands[0].0, "replace facts");
    assert_eq!(commands[0].3["environment"], "staging");
    assert_eq!(commands[1].0, "replace catalog");
    assert_eq!(
        commands[1].3["transaction_uuid"],
        "f00dfeed-0000-4000-8000-000000000001"
    );
    assert_eq!(
        commands[2].3["transaction_uuid"],
        "f00dfeed-0000-4000-8000-000000000002"
    );
    assert_eq!(commands[2].3["resources"], commands[1].3["resources"]);
}

/// The in-process sink: a `puppet_db::PuppetDb` takes the master's commands as they are,
/// and nothing Sensitive reaches its file.
#[cfg(feature = "puppet-db")]
#[tokio::test]
async fn an_in_process_puppet_db_stores_what_the_master_sends() {
    let dir = tempfile::tempdir().unwrap();
    let db = puppet_db::PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    let storage = PuppetDbStorage::new(
        FsStorage::new(dir.path().join("fs")),
        Arc::new(db.clone()),
        "puppet.example.test",
        true,
        vec!["puppetdb".into()],
        false,
    );
    let certname = "sensitive.fixtures.test";
    let facts = puppet_facts::Facts::from_json(
        br#"{"name": "sensitive.fixtures.test", "values": {"kernel": "Linux", "os": {"family": "Debian"}}}"#,
    )
    .unwrap();
    storage
        .save_facts_for(certname, &facts, "production")
        .await
        .unwrap();
    let catalog = puppet_catalog::Catalog::from_json(SENSITIVE_CATALOG.as_bytes()).unwrap();
    storage
        .save_compiled(&compile_request(certname), &catalog, b"{}")
        .await
        .unwrap();
    let report = puppet_report::Report::from_json(SENSITIVE_REPORT.as_bytes()).unwrap();
    storage
        .store_report(certname, &report, SENSITIVE_REPORT.as_bytes())
        .await
        .unwrap();
    let q = |endpoint: &str, query: &str| {
        db.query(endpoint, Some(query), &puppet_db::Paging::default())
            .unwrap()
            .rows
    };
    assert_eq!(
        q(
            "",
            "inventory[certname, facts.os.family, trusted.hostname] {}"
        ),
        vec![
            json!({"certname": certname, "facts.os.family": "Debian", "trusted.hostname": "sensitive"})
        ]
    );
    let notify = q(
        "",
        r#"resources[parameters] { title = "sensitive-notify" }"#,
    );
    assert_eq!(notify, vec![json!({"parameters": {}})]);
    let reports = q("", "reports[certname, status] {}");
    assert_eq!(
        reports,
        vec![json!({"certname": certname, "status": "changed"})]
    );
    let events = q(
        "",
        r#"events[new_value] { resource_title = "sensitive-notify" }"#,
    );
    assert_eq!(events, vec![json!({"new_value": "[redacted]"})]);
    drop(db);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
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
}

/// `storeconfigs` without `storeconfigs_backend = puppetdb` is refused at start (there is no
/// other backend), and a `puppetdb.conf` that is not `https://` names its file.
#[test]
fn confdir_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("puppet.conf");
    std::fs::write(
        &conf,
        "[server]\ncertname = puppet.example.test\nkeylength = 2048\nstoreconfigs = true\n",
    )
    .unwrap();
    let err = puppet_master::confdir::MasterSetup::from_confdir(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("storeconfigs_backend = puppetdb"),
        "{err}"
    );
    std::fs::write(
        &conf,
        "[server]\ncertname = puppet.example.test\nkeylength = 2048\nstoreconfigs = true\nstoreconfigs_backend = puppetdb\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("puppetdb.conf"),
        "[main]\nserver_urls = http://localhost:8080\n",
    )
    .unwrap();
    let err = puppet_master::confdir::MasterSetup::from_confdir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("puppetdb.conf"), "{err}");
    assert!(err.to_string().contains("https://HOST:PORT"), "{err}");
    std::fs::write(
        dir.path().join("puppetdb.conf"),
        "[main]\nserver_urls = https://localhost:8081\nsoft_write_failure = true\n",
    )
    .unwrap();
    puppet_master::confdir::MasterSetup::from_confdir(dir.path()).unwrap();
}

/// A node whose certificate carries Puppet extensions (asked for in its CSR, signed by the
/// master's CA over HTTP): the facts the master sends to puppet-db (with its catalog request,
/// and by `PUT /facts`) have `trusted` as Puppetserver makes it from the client's
/// certificate, the extensions by Puppet's short names (and private ones by OID).
#[cfg(feature = "puppet-db")]
#[tokio::test]
async fn trusted_extensions_of_the_client_certificate_reach_puppet_db() {
    use puppet_master::testing::TestMaster;
    use puppet_protocol::client::{CatalogOptions, Identity};

    let dir = tempfile::tempdir().unwrap();
    let db = puppet_db::PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    let storage = Arc::new(PuppetDbStorage::new(
        FsStorage::new(dir.path().join("fs")),
        Arc::new(db.clone()),
        "puppet.example.test",
        true,
        Vec::new(),
        false,
    ));
    let master = TestMaster::builder()
        .ca_settings(|s| s.autosign = puppet_ca::Autosign::On)
        .services(move |s| {
            s.facts = storage.clone();
            s.catalogs = storage;
        })
        .start()
        .await
        .unwrap();
    let name = "web7.example.test";
    // As in the oracle's csr_attributes.yaml (fixtures/csr-attributes).
    let attributes = puppet_ca::CsrAttributes::parse(
        "---\nextension_requests:\n  pp_role: webserver\n  pp_environment: production\n  \
         pp_uuid: ED803750-E3C7-44F5-BB08-41A04433FE2E\n  pp_datacenter: lab1\n  \
         1.3.6.1.4.1.34380.1.2.1: my-private-extension\n",
    )
    .unwrap();
    let csr = puppet_ca::CsrBuilder::new(name)
        .unwrap()
        .key_type(puppet_ca::KeyType::EcP256)
        .attributes(attributes)
        .build()
        .unwrap();
    let anonymous = master.client(None).unwrap();
    anonymous.submit_csr(name, &csr.csr_pem).await.unwrap();
    let cert_pem = anonymous.certificate(name).await.unwrap().unwrap();
    let agent = master
        .client(Some(&Identity {
            cert_pem,
            key_pem: csr.key_pem,
        }))
        .unwrap();
    let expected = json!({
        "authenticated": "remote", "certname": name, "hostname": "web7", "domain": "example.test",
        "extensions": {"pp_role": "webserver", "pp_environment": "production",
            "pp_uuid": "ED803750-E3C7-44F5-BB08-41A04433FE2E", "pp_datacenter": "lab1",
            "1.3.6.1.4.1.34380.1.2.1": "my-private-extension"},
        "external": {}
    });
    let q = |query: &str| {
        db.query("", Some(query), &puppet_db::Paging::default())
            .unwrap()
            .rows
    };

    let facts = puppet_facts::Facts::from_json(
        br#"{"name": "web7.example.test", "values": {"kernel": "Linux"}}"#,
    )
    .unwrap();
    let answer = agent
        .request(
            "PUT",
            "/puppet/v3/facts/web7.example.test?environment=production",
            &[("content-type", "application/json")],
            serde_json::to_vec(&facts).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        q(r#"facts[value] { name = "trusted" }"#),
        vec![json!({ "value": expected })]
    );

    let facts = puppet_facts::Facts::from_json(
        br#"{"name": "web7.example.test", "values": {"kernel": "Linux", "role": "new"}}"#,
    )
    .unwrap();
    std::fs::write(
        master.environments().join("production/resources.json"),
        r#"{"classes": {"base": [{"type": "Notify", "title": "hello"}]},
            "nodes": [{"certname": "*", "classes": ["base"]}]}"#,
    )
    .unwrap();
    agent
        .catalog(name, "production", &facts, &CatalogOptions::default())
        .await
        .unwrap();
    assert_eq!(
        q("inventory[facts.role, trusted.extensions.pp_role, trusted.extensions.pp_datacenter] {}"),
        vec![
            json!({"facts.role": "new", "trusted.extensions.pp_role": "webserver",
            "trusted.extensions.pp_datacenter": "lab1"})
        ]
    );
    assert_eq!(
        // Dotted facts are inventory's (PuppetDB 7.12 refuses them on nodes).
        q(r#"inventory[certname] { trusted.extensions.pp_role = "webserver" }"#),
        vec![json!({ "certname": name })]
    );
    assert_eq!(
        q(
            r#"resources[certname] { title = "hello" and certname in inventory[certname] { trusted.extensions.pp_datacenter = "lab1" } }"#
        ),
        vec![json!({ "certname": name })]
    );
    master.shutdown().await;
}
