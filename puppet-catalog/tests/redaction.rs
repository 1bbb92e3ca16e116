//! `Catalog::redact_sensitive` against what Puppet's PuppetDB terminus sends PuppetDB, on
//! catalogs captured from real Puppet 7.

use puppet_catalog::Catalog;
use serde_json::Value;

use crate::util::{fixture, read, repo_fixture};

/// Puppet writes a Ruby object id after the redacted marker; we write a sequence number.
fn without_ids(value: &mut Value, ids: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with("#<Sensitive [value redacted]:") => {
            ids.push(s.clone());
            *s = "#<Sensitive [value redacted]:ID>".to_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(|v| without_ids(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| without_ids(v, ids)),
        _ => {}
    }
}

#[test]
fn redaction_matches_what_puppetdb_receives() {
    let catalog = Catalog::from_json(&read(&fixture("sensitive.catalog.json"))).expect("parse");
    assert!(catalog.has_sensitive());
    let redacted = catalog.redacted();
    assert!(!redacted.has_sensitive());

    let mut ours: Value = serde_json::from_str(&redacted.to_json().expect("JSON")).expect("JSON");
    let mut puppets: Value =
        serde_json::from_slice(&read(&fixture("sensitive.puppetdb.json"))).expect("JSON");
    let (mut our_ids, mut puppet_ids) = (Vec::new(), Vec::new());
    without_ids(&mut ours, &mut our_ids);
    without_ids(&mut puppets, &mut puppet_ids);
    assert_eq!(ours, puppets);
    assert_eq!(
        our_ids,
        [
            "#<Sensitive [value redacted]:1>",
            "#<Sensitive [value redacted]:2>"
        ]
    );
    assert_eq!(puppet_ids.len(), 2);

    let text = redacted.to_json().expect("JSON");
    for secret in ["hunter2", "s3cr3t", "r1-token", "dbpass"] {
        assert!(catalog.to_json().expect("JSON").contains(secret));
        assert!(!text.contains(secret), "{secret} left in {text}");
    }
}

#[test]
fn redacting_the_captured_agent_catalog() {
    let mut catalog =
        Catalog::from_json(&read(&repo_fixture("catalogs/sensitive.json"))).expect("parse");
    let before = catalog.clone();
    catalog.redact_sensitive();
    // Only the resources with Sensitive parameters change.
    let changed: Vec<String> = before
        .resources
        .iter()
        .zip(&catalog.resources)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.reference().to_string())
        .collect();
    assert_eq!(
        changed,
        [
            "File[/tmp/puppet-rs-fixtures/target/sensitive/secret.txt]",
            "Exec[sensitive-exec]",
            "Notify[sensitive-notify]",
        ]
    );
    let text = catalog.to_json().expect("JSON");
    for secret in ["s3cr3t", "hidden-command", "top secret message"] {
        assert!(!text.contains(secret), "{secret} left");
    }
    // Redacting again changes nothing.
    let again = catalog.redacted();
    assert_eq!(again, catalog);
    insta::assert_snapshot!(
        "redacted_agent_catalog",
        catalog.to_json_pretty().expect("JSON")
    );
}
