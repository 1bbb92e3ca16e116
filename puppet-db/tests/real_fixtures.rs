//! Command bodies captured from the real Puppetserver 7.9.5 + PuppetDB terminus 7.12.1
//! (`PUPPET_DB_CAPTURE=DIR cargo test -p puppet-db --all-features real_terminus`), parsed
//! and stored, then queried.

use puppet_db::{Command, Paging};
use serde_json::{Value, json};

use crate::common::*;

const FACTS: &str = include_str!("fixtures/real/replace_facts-v5.json");
const CATALOG: &str = include_str!("fixtures/real/replace_catalog-v9.json");
const REPORT: &str = include_str!("fixtures/real/store_report-v8.json");
const DEACTIVATE: &str = include_str!("fixtures/real/deactivate_node-v3.json");

fn params<'a>(command: &'a str, version: &'a str, certname: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("command", command),
        ("version", version),
        ("certname", certname),
    ]
}

fn real_command_bodies_parse_and_are_stored(b: Backend) {
    let d = db(b);
    for (command, version, body) in [
        ("replace_facts", "5", FACTS),
        ("replace_catalog", "9", CATALOG),
        ("store_report", "8", REPORT),
    ] {
        let v: Value = serde_json::from_str(body).expect("fixture");
        let certname = v["certname"].as_str().expect("certname");
        let parsed = Command::from_request(&params(command, version, certname), body.as_bytes())
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(parsed.certname(), certname);
        d.db.submit(&params(command, version, certname), body.as_bytes())
            .unwrap_or_else(|e| panic!("{command}: {e}"));
    }
    // The facts are agent2's, the catalog the exporter's, the report agent2's.
    let nodes = q(&d.db, "nodes", "");
    assert_eq!(
        certnames(&nodes),
        ["agent2.example.test", "exporter.example.test"]
    );
    let inv = q(
        &d.db,
        "",
        "inventory[certname, facts.kernel, trusted.authenticated] {}",
    );
    assert_eq!(
        inv,
        vec![
            json!({"certname": "agent2.example.test", "facts.kernel": "Linux", "trusted.authenticated": "remote"})
        ]
    );
    let resources = q(
        &d.db,
        "",
        r#"resources[type, title, exported, tags, parameters] { type in ["Host", "Notify"] order by title }"#,
    );
    insta::assert_json_snapshot!("real_catalog_host_and_notify", resources);
    let events = q(
        &d.db,
        "",
        "events[resource_type, resource_title, property, new_value, old_value, status, containing_class] {}",
    );
    insta::assert_json_snapshot!("real_report_events", events);
    let paths =
        d.db.query(
            "fact-paths",
            Some(r#"["=", "path", ["os", "family"]]"#),
            &Paging::default(),
        )
        .expect("fact-paths");
    assert_eq!(
        paths.rows,
        vec![json!({"path": ["os", "family"], "type": "string", "name": "os"})]
    );

    // `puppet node deactivate agent2.example.test`, as the terminus sent it (later than the
    // node's data): hidden, still known.
    d.db.submit(
        &params("deactivate_node", "3", "agent2.example.test"),
        DEACTIVATE.as_bytes(),
    )
    .expect("deactivate");
    assert_eq!(certnames(&q(&d.db, "nodes", "")), ["exporter.example.test"]);
    let gone = q(
        &d.db,
        "",
        r#"nodes[certname, deactivated] { node_state = "inactive" }"#,
    );
    assert_eq!(
        gone,
        vec![json!({"certname": "agent2.example.test", "deactivated": "2026-12-03T03:10:57.377Z"})]
    );
}

crate::both!(real_command_bodies_parse_and_are_stored,);
