//! The typed hooks as a custom master uses them: the classifier's environment decides where
//! a node's catalog is compiled, and static catalogs get their file metadata from the
//! compiler (over the file server), not from the router.

use std::sync::Arc;

use async_trait::async_trait;
use puppet_facts::Facts;
use puppet_master::testing::TestMaster;
use puppet_protocol::ProtocolError;
use puppet_protocol::server::{NodeClassifier, NodeInfo};

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Puts every node whose `role` fact is `canary` in `staging`, whatever it asks for.
struct RoleClassifier;

#[async_trait]
impl NodeClassifier for RoleClassifier {
    async fn classify(
        &self,
        certname: &str,
        environment: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError> {
        let canary = facts.and_then(|f| f.get("role")).and_then(|v| v.as_str()) == Some("canary");
        Ok(NodeInfo {
            name: certname.to_string(),
            environment: if canary {
                "staging".into()
            } else {
                environment.unwrap_or("production").into()
            },
            classes: Vec::new(),
            parameters: None,
        })
    }
}

fn form(facts: &serde_json::Value, env: &str, static_catalog: bool) -> Vec<u8> {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "facts_format=application%2Fjson&facts={}&environment={env}&static_catalog={static_catalog}&checksum_type=sha256",
        enc(&enc(&facts.to_string()))
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classifiers_environment_is_where_the_catalog_is_compiled() {
    let f = TestMaster::builder()
        .services(|s| s.classifier = Arc::new(RoleClassifier))
        .start()
        .await
        .unwrap();
    let data = |title: &str| {
        format!(
            r#"{{"classes": {{"c": [{{"type": "Notify", "title": "{title}"}}]}}, "nodes": [{{"classes": ["c"]}}]}}"#
        )
    };
    write(
        &f.environments().join("production/resources.json"),
        &data("from production"),
    );
    write(
        &f.environments().join("staging/resources.json"),
        &data("from staging"),
    );
    let node = "canary1.example.test";
    let mut conn = f.client_for(node).unwrap().connect().await.unwrap();
    let facts = serde_json::json!({"name": node, "values": {"role": "canary"}});
    let answer = conn
        .request(
            "POST",
            &format!("/puppet/v3/catalog/{node}?environment=production"),
            Some("application/x-www-form-urlencoded"),
            form(&facts, "production", false),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let catalog = puppet_catalog::Catalog::from_json(&answer.body).unwrap();
    assert_eq!(catalog.environment.as_deref(), Some("staging"));
    let titles: Vec<&str> = catalog.resources.iter().map(|r| r.title.as_str()).collect();
    assert!(titles.contains(&"from staging"), "{titles:?}");
    assert!(!titles.contains(&"from production"), "{titles:?}");

    // The node endpoint says the same (from the stored facts).
    let node_doc = conn
        .request(
            "GET",
            &format!("/puppet/v3/node/{node}?environment=production"),
            None,
            vec![],
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&node_doc.body).unwrap();
    assert_eq!(v["environment"], "staging");

    // Another node stays where it asked to be.
    let other = "web1.example.test";
    let mut conn = f.client_for(other).unwrap().connect().await.unwrap();
    let facts = serde_json::json!({"name": other, "values": {"role": "web"}});
    let answer = conn
        .request(
            "POST",
            &format!("/puppet/v3/catalog/{other}"),
            Some("application/x-www-form-urlencoded"),
            form(&facts, "production", false),
        )
        .await
        .unwrap();
    let catalog = puppet_catalog::Catalog::from_json(&answer.body).unwrap();
    assert_eq!(catalog.environment.as_deref(), Some("production"));
    assert!(
        catalog
            .resources
            .iter()
            .any(|r| r.title == "from production")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_catalogs_carry_metadata_from_the_compiler() {
    let f = TestMaster::start().await.unwrap();
    write(
        &f.environments().join("production/modules/m/files/a.txt"),
        "alpha\n",
    );
    write(
        &f.environments()
            .join("production/modules/m/files/tree/b.txt"),
        "b\n",
    );
    write(
        &f.environments().join("production/resources.json"),
        r#"{"classes": {"c": [
            {"type": "File", "title": "/tmp/a", "parameters": {"source": "puppet:///modules/m/a.txt"}},
            {"type": "File", "title": "/tmp/tree", "parameters": {"source": "puppet:///modules/m/tree", "recurse": true}}
        ]}, "nodes": [{"classes": ["c"]}]}"#,
    );
    let node = "n1.example.test";
    let mut conn = f.client_for(node).unwrap().connect().await.unwrap();
    let facts = serde_json::json!({"name": node, "values": {}});
    let ask = |static_catalog| {
        (
            format!("/puppet/v3/catalog/{node}"),
            form(&facts, "production", static_catalog),
        )
    };
    let (path, body) = ask(true);
    let answer = conn
        .request(
            "POST",
            &path,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let catalog = puppet_catalog::Catalog::from_json(&answer.body).unwrap();
    let one = catalog.file_metadata("/tmp/a").unwrap().unwrap();
    assert_eq!(
        one.content_uri.as_deref(),
        Some("puppet:///modules/m/files/a.txt")
    );
    assert_eq!(one.source.as_deref(), Some("puppet:///modules/m/a.txt"));
    assert_eq!(
        one.checksum.unwrap().value,
        format!(
            "{{sha256}}{}",
            puppet_protocol::files::digest(b"alpha\n", "sha256")
        )
    );
    let tree = catalog.recursive_file_metadata("/tmp/tree").unwrap();
    let uris: Vec<_> = tree[0]
        .1
        .iter()
        .map(|m| m.content_uri.clone().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "puppet:///modules/m/files/tree",
            "puppet:///modules/m/files/tree/b.txt"
        ]
    );

    // Not asked for a static catalog: no metadata.
    let (path, body) = ask(false);
    let answer = conn
        .request(
            "POST",
            &path,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
        .unwrap();
    let catalog = puppet_catalog::Catalog::from_json(&answer.body).unwrap();
    assert!(catalog.metadata.is_none() && catalog.recursive_metadata.is_none());
}
