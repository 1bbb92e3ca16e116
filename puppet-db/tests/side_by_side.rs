//! Differences found by `scripts/puppetdb-side-by-side.sh` (the real PuppetDB 7.12 and ours fed
//! the same commands by the Puppetserver terminus), fixed: the command bodies are the
//! terminus's own (`fixtures/real/`), the expected answers are what the real PuppetDB
//! answered for such data in that comparison.

use puppet_db::Paging;
use serde_json::{Value, json};

use crate::common::*;

const FACTS: &str = include_str!("fixtures/real/replace_facts-v5.json");
const REPORT: &str = include_str!("fixtures/real/store_report-v8.json");

fn store(b: Backend, command: &str, version: u32, body: &str) -> Db {
    let d = db(b);
    let v: Value = serde_json::from_str(body).expect("fixture");
    let certname = v["certname"].as_str().expect("certname").to_string();
    submit(&d.db, command, version, &certname, &v);
    d
}

/// PuppetDB's factsets answer a boolean fact as `true`/`false` (SQLite's `json_each` gave 1/0).
fn factsets_answer_boolean_facts_as_booleans(b: Backend) {
    let d = store(b, "replace facts", 5, FACTS);
    let rows = q(&d.db, "factsets", "");
    assert_eq!(rows.len(), 1);
    let data = rows[0]["facts"]["data"].as_array().expect("facts.data");
    let value = |name: &str| {
        data.iter()
            .find(|f| f["name"] == json!(name))
            .map(|f| f["value"].clone())
    };
    // As the real PuppetDB answered for the same facts of its agents.
    assert_eq!(value("apt_has_updates"), Some(json!(true)));
    assert_eq!(value("selinux"), Some(json!(false)));
    assert_eq!(value("fips_enabled"), Some(json!(false)));
    // Other kinds unchanged.
    assert!(value("os").is_some_and(|v| v.is_object()));
    assert!(value("kernel").is_some_and(|v| v == json!("Linux")));
    // The same through /factsets/<certname>/facts (PuppetDB 7.12 answers the factset there).
    let certname = rows[0]["certname"].as_str().expect("certname");
    let set =
        d.db.query(
            &format!("factsets/{certname}/facts"),
            None,
            &Paging::default(),
        )
        .expect("factsets/<certname>/facts")
        .rows;
    let facts = set[0]["facts"]["data"].as_array().expect("facts.data");
    let selinux: Vec<&Value> = facts
        .iter()
        .filter(|f| f["name"] == json!("selinux"))
        .collect();
    assert_eq!(selinux.len(), 1, "{set:?}");
    assert_eq!(selinux[0]["value"], json!(false));
}

/// Open-source PuppetDB keeps no `corrective_change` (a Puppet Enterprise field): the agent
/// sends `false`, PuppetDB answers null for the report, its events and the node.
fn corrective_change_is_null_as_in_open_source_puppetdb(b: Backend) {
    let report: Value = serde_json::from_str(REPORT).expect("fixture");
    assert_eq!(
        report["corrective_change"],
        json!(false),
        "the agent sent false"
    );
    let d = store(b, "store report", 8, REPORT);
    let reports = q(&d.db, "reports", "");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["corrective_change"], Value::Null);
    let nested = reports[0]["resource_events"]["data"]
        .as_array()
        .expect("resource_events.data");
    assert!(!nested.is_empty());
    for e in nested {
        assert_eq!(e["corrective_change"], Value::Null, "{e}");
    }
    let events = q(&d.db, "events", "");
    assert_eq!(events.len(), nested.len());
    for e in &events {
        assert_eq!(e["corrective_change"], Value::Null, "{e}");
    }
    let nodes = q(&d.db, "nodes", r#"["=", "node_state", "any"]"#);
    assert_eq!(nodes[0]["latest_report_corrective_change"], Value::Null);
}

/// A report's `resource_events.data` is built by PostgreSQL in PuppetDB (`json_agg` of a
/// `timestamptz`): `+00:00` and the fraction without trailing zeros, unlike `/events`
/// (`...Z`, milliseconds).
fn nested_event_timestamps_are_written_as_postgresql_writes_them(b: Backend) {
    let mut report: Value = serde_json::from_str(REPORT).expect("fixture");
    let certname = report["certname"].as_str().expect("certname").to_string();
    // Three events whose fractions need every form (as PuppetDB answered them).
    let template = report["resources"][0].clone();
    let mut resources = Vec::new();
    for (i, t) in [
        "2026-12-03T12:26:15.595+00:00",
        "2026-12-03T12:26:15.590+00:00",
        "2026-12-03T12:26:15.500+00:00",
        "2026-12-03T12:26:15.000+00:00",
    ]
    .iter()
    .enumerate()
    {
        let mut r = template.clone();
        r["resource_title"] = json!(format!("t{i}"));
        r["timestamp"] = json!(t);
        for e in r["events"].as_array_mut().expect("events") {
            e["timestamp"] = json!(t);
        }
        resources.push(r);
    }
    report["resources"] = Value::Array(resources);
    let d = db(b);
    submit(&d.db, "store report", 8, &certname, &report);
    let reports = q(&d.db, "reports", "");
    let mut nested: Vec<(String, String)> = reports[0]["resource_events"]["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| {
            (
                e["resource_title"].as_str().unwrap_or("").to_string(),
                e["timestamp"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    nested.sort();
    nested.dedup();
    assert_eq!(
        nested,
        [
            (
                "t0".to_string(),
                "2026-12-03T12:26:15.595+00:00".to_string()
            ),
            ("t1".to_string(), "2026-12-03T12:26:15.59+00:00".to_string()),
            ("t2".to_string(), "2026-12-03T12:26:15.5+00:00".to_string()),
            ("t3".to_string(), "2026-12-03T12:26:15+00:00".to_string()),
        ]
    );
    // /events keeps PuppetDB's own format.
    let events = q(&d.db, "events", r#"["=", "resource_title", "t1"]"#);
    assert!(!events.is_empty());
    assert_eq!(events[0]["timestamp"], json!("2026-12-03T12:26:15.590Z"));
}

crate::both!(
    factsets_answer_boolean_facts_as_booleans,
    corrective_change_is_null_as_in_open_source_puppetdb,
    nested_event_timestamps_are_written_as_postgresql_writes_them,
);

/// Fact paths: leaves only (no `map`/`array` rows for containers), each with its fact's name,
/// as the real PuppetDB 7.12 lists them.
fn fact_paths_are_leaves_with_their_fact_name(b: Backend) {
    let d = store(b, "replace facts", 5, FACTS);
    let rows = q(&d.db, "fact-paths", r#"["~>", "path", ["os", ".*"]]"#);
    assert!(!rows.is_empty());
    for r in &rows {
        assert_ne!(r["type"], json!("map"), "{r}");
        assert_ne!(r["type"], json!("array"), "{r}");
        assert_eq!(r["name"], json!("os"), "{r}");
    }
    assert!(rows.contains(&json!({"path": ["os", "family"], "type": "string", "name": "os"})));
    assert!(q(&d.db, "fact-paths", r#"["=", "path", ["os"]]"#).is_empty());
}

/// PuppetDB's texts for a missing node or catalog, and for a `limit` that is not a number.
fn missing_objects_and_bad_limits_as_puppetdb_words_them(b: Backend) {
    let d = store(b, "replace facts", 5, FACTS);
    for (path, text) in [
        (
            "nodes/nosuchnode.example.test",
            "No information is known about node nosuchnode.example.test",
        ),
        (
            "catalogs/nosuchnode.example.test",
            "No information is known about catalog nosuchnode.example.test",
        ),
    ] {
        match d.db.query(path, None, &Paging::default()) {
            Err(e) => assert_eq!(e.to_string(), text),
            Ok(a) => panic!("{path}: {:?}", a.rows),
        }
    }
    match Paging::from_params(&[("limit", "abc")]) {
        Err(e) => assert_eq!(
            e.to_string(),
            "Illegal value 'abc' for :limit; expected a positive non-zero integer."
        ),
        Ok(p) => panic!("{p:?}"),
    }
}

crate::both!(
    fact_paths_are_leaves_with_their_fact_name,
    missing_objects_and_bad_limits_as_puppetdb_words_them,
);

/// `min`/`max` of JSON values answer numbers (the real PuppetDB answered `3` for a fact
/// `level: 3`, not `"3"`), and a comparison without its value has PuppetDB's text.
fn json_min_max_are_numbers_and_short_comparisons_are_refused(b: Backend) {
    let mut facts: Value = serde_json::from_str(FACTS).expect("fixture");
    facts["values"]["sbs_struct"] = json!({"level": 3, "list": ["a", "b"]});
    let certname = facts["certname"].as_str().expect("certname").to_string();
    let d = db(b);
    submit(&d.db, "replace facts", 5, &certname, &facts);
    let rows = q(
        &d.db,
        "fact-contents",
        r#"["extract", [["function", "min", "value"], ["function", "max", "value"]], ["=", "path", ["sbs_struct", "level"]]]"#,
    );
    assert_eq!(rows, vec![json!({"min": 3, "max": 3})]);
    match d
        .db
        .query("nodes", Some(r#"["=", "certname"]"#), &Paging::default())
    {
        Err(e) => assert_eq!(e.to_string(), "= requires exactly two arguments"),
        Ok(a) => panic!("{:?}", a.rows),
    }
}

crate::both!(json_min_max_are_numbers_and_short_comparisons_are_refused,);

/// PuppetDB 7.12 refuses dotted fact fields on nodes (they are inventory's), with its text.
fn dotted_facts_on_nodes_are_refused(b: Backend) {
    let d = store(b, "replace facts", 5, FACTS);
    match d.db.query("nodes", Some(r#"["=", "facts.kernel", "Linux"]"#), &Paging::default()) {
        Err(e) => assert!(
            e.to_string().starts_with(
                "'facts.kernel' is not a queryable object for nodes. Known queryable objects are 'cached_catalog_status', "
            ),
            "{e}"
        ),
        Ok(a) => panic!("{:?}", a.rows),
    }
    assert_eq!(
        q(&d.db, "inventory", r#"["=", "facts.kernel", "Linux"]"#).len(),
        1
    );
}

crate::both!(dotted_facts_on_nodes_are_refused,);
