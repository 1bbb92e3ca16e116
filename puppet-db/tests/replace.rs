//! A replaced factset or catalog is written as a diff against the stored one (only changed
//! facts, resources and edges): what the queries answer afterwards must be exactly what they
//! answer for a node that received the new document alone.
//!
//! Each test sends node `old` a first document and then the new one, node `new` the new one
//! only, and compares every endpoint's answer for the two (certnames and what is generated,
//! receive times and hashes of documents naming the certname, set aside).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::common::*;

const OLD: &str = "old.example.test";
const NEW: &str = "new.example.test";

/// The rows of `endpoint` for `certname`, the certname replaced by `node`, receive times
/// and hashes dropped, sorted (the order of rows within a node is not part of the answer).
fn state(db: &puppet_db::PuppetDb, endpoint: &str, certname: &str) -> Vec<String> {
    let query = json!(["=", "certname", certname]).to_string();
    let mut rows: Vec<String> = q(db, endpoint, &query)
        .into_iter()
        .map(|mut row| {
            let text = normalize(&mut row, certname);
            text.replace(certname, "node")
        })
        .collect();
    rows.sort();
    rows
}

fn normalize(row: &mut Value, certname: &str) -> String {
    if let Some(m) = row.as_object_mut() {
        for k in ["timestamp", "hash", "catalog_uuid", "transaction_uuid"] {
            m.remove(k);
        }
        // Nested lists (a catalog's resources and edges, a factset's facts): as sets.
        for (_, v) in m.iter_mut() {
            if let Some(data) = v.get_mut("data").and_then(Value::as_array_mut) {
                data.sort_by_key(|x| x.to_string());
            }
        }
    }
    let _ = certname;
    row.to_string()
}

const FACT_ENDPOINTS: &[&str] = &["facts", "fact-contents", "factsets", "inventory"];
const CATALOG_ENDPOINTS: &[&str] = &["resources", "edges", "catalogs"];

fn assert_same(db: &puppet_db::PuppetDb, endpoints: &[&str]) {
    for endpoint in endpoints {
        let (old, new) = (state(db, endpoint, OLD), state(db, endpoint, NEW));
        assert!(!new.is_empty(), "{endpoint}: nothing stored");
        assert_eq!(old, new, "{endpoint}");
    }
}

fn facts_doc(certname: &str, ts: &str, values: Value) -> Value {
    json!({"certname": certname, "environment": "production", "producer_timestamp": ts,
           "producer": "puppet.example.test", "values": values})
}

fn first_facts() -> Value {
    json!({
        "kernel": "Linux",
        "uptime_seconds": 100,
        "gone": "soon",
        "gone_map": {"a": 1, "b": [1, 2]},
        "os": {"family": "Debian", "release": {"major": "12", "full": "12.7"}},
        "mounts": ["/", "/boot"],
        "flag": true,
    })
}

fn second_facts() -> Value {
    json!({
        "kernel": "Linux",
        "uptime_seconds": 200,
        "os": {"family": "Debian", "release": {"major": "13", "full": "13.0"}},
        "mounts": ["/"],
        "flag": false,
        "added": {"x": null, "y": [true, 1.5]},
    })
}

/// Changed, removed, added and unchanged facts.
fn a_replaced_factset_stores_exactly_the_new_facts(b: Backend) {
    let d = db(b);
    let first = facts_doc(OLD, "2026-12-02T10:00:00.000Z", first_facts());
    submit(&d.db, "replace facts", 5, OLD, &first);
    for (certname, ts) in [
        (OLD, "2026-12-02T11:00:00.000Z"),
        (NEW, "2026-12-02T11:00:00.000Z"),
    ] {
        submit(
            &d.db,
            "replace facts",
            5,
            certname,
            &facts_doc(certname, ts, second_facts()),
        );
    }
    assert_same(&d.db, FACT_ENDPOINTS);
    // What is gone is gone everywhere, and the changed value is the new one.
    let gone = json!(["and", ["=", "certname", OLD], ["~", "name", "^gone"]]).to_string();
    assert_eq!(q(&d.db, "facts", &gone), Vec::<Value>::new());
    assert_eq!(q(&d.db, "fact-contents", &gone), Vec::<Value>::new());
    let release = q(
        &d.db,
        "fact-contents",
        &json!([
            "and",
            ["=", "certname", OLD],
            ["=", "path", ["os", "release", "major"]]
        ])
        .to_string(),
    );
    assert_eq!(release.len(), 1);
    assert_eq!(release[0]["value"], json!("13"));
    let inv = q(
        &d.db,
        "inventory",
        &json!(["=", "facts.uptime_seconds", 200]).to_string(),
    );
    assert_eq!(certnames(&inv), vec![NEW.to_string(), OLD.to_string()]);
    // The factset's hash is the one the new facts have, not the first one's.
    let hash =
        |c: &str| q(&d.db, "factsets", &json!(["=", "certname", c]).to_string())[0]["hash"].clone();
    let fresh = db(b);
    submit(
        &fresh.db,
        "replace facts",
        5,
        OLD,
        &facts_doc(OLD, "2026-12-02T11:00:00.000Z", second_facts()),
    );
    assert_eq!(
        hash(OLD),
        q(
            &fresh.db,
            "factsets",
            &json!(["=", "certname", OLD]).to_string()
        )[0]["hash"]
    );
}

/// The same facts again: nothing but the timestamps changes.
fn the_same_factset_again_changes_only_its_timestamps(b: Backend) {
    let d = db(b);
    for certname in [OLD, NEW] {
        submit(
            &d.db,
            "replace facts",
            5,
            certname,
            &facts_doc(certname, "2026-12-02T10:00:00.000Z", first_facts()),
        );
    }
    let before = q(
        &d.db,
        "factsets",
        &json!(["=", "certname", OLD]).to_string(),
    );
    for certname in [OLD, NEW] {
        submit(
            &d.db,
            "replace facts",
            5,
            certname,
            &facts_doc(certname, "2026-12-02T12:00:00.000Z", first_facts()),
        );
    }
    let after = q(
        &d.db,
        "factsets",
        &json!(["=", "certname", OLD]).to_string(),
    );
    assert_eq!(
        after[0]["producer_timestamp"],
        json!("2026-12-02T12:00:00.000Z")
    );
    assert_eq!(after[0]["hash"], before[0]["hash"]);
    assert_eq!(after[0]["facts"], before[0]["facts"]);
    assert_same(&d.db, FACT_ENDPOINTS);
    // Everything removed: an empty factset leaves no facts.
    submit(
        &d.db,
        "replace facts",
        5,
        OLD,
        &facts_doc(OLD, "2026-12-02T13:00:00.000Z", json!({})),
    );
    let mine = json!(["=", "certname", OLD]).to_string();
    assert_eq!(q(&d.db, "facts", &mine), Vec::<Value>::new());
    assert_eq!(q(&d.db, "fact-contents", &mine), Vec::<Value>::new());
}

fn resource(ty: &str, title: &str, params: Value) -> Value {
    json!({"type": ty, "title": title, "tags": [ty.to_lowercase(), "class"], "exported": false,
           "file": "/site.pp", "line": 1, "parameters": params})
}

fn edge(st: &str, sti: &str, tt: &str, tti: &str, rel: &str) -> Value {
    json!({"source": {"type": st, "title": sti}, "target": {"type": tt, "title": tti},
           "relationship": rel})
}

fn catalog_doc(certname: &str, ts: &str, resources: Vec<Value>, edges: Vec<Value>) -> Value {
    json!({"certname": certname, "version": "1", "environment": "production",
           "transaction_uuid": "5b1a7d36-0d3c-4c8b-9c3e-000000000001",
           "catalog_uuid": "0d3c4c8b-5b1a-4d36-9c3e-000000000001", "code_id": null, "job_id": null,
           "producer_timestamp": ts, "producer": "puppet.example.test",
           "resources": resources, "edges": edges})
}

fn first_catalog(certname: &str) -> Value {
    catalog_doc(
        certname,
        "2026-12-02T10:00:00.000Z",
        vec![
            resource("Class", "main", json!({"name": "main"})),
            resource("File", "/same", json!({"ensure": "file"})),
            resource("File", "/changed", json!({"content": "one"})),
            resource("File", "/gone", json!({"ensure": "absent"})),
            resource("Exec", "tagged", json!({"command": "/bin/true"})),
        ],
        vec![
            edge("Class", "main", "File", "/same", "contains"),
            edge("Class", "main", "File", "/changed", "contains"),
            edge("Class", "main", "File", "/gone", "contains"),
            edge("File", "/same", "Exec", "tagged", "before"),
            edge("File", "/same", "Exec", "tagged", "before"),
        ],
    )
}

fn second_catalog(certname: &str) -> Value {
    let mut exec = resource("Exec", "tagged", json!({"command": "/bin/true"}));
    exec["tags"] = json!(["exec", "other"]);
    catalog_doc(
        certname,
        "2026-12-02T11:00:00.000Z",
        vec![
            resource("Class", "main", json!({"name": "main"})),
            resource("File", "/same", json!({"ensure": "file"})),
            resource("File", "/changed", json!({"content": "two"})),
            resource("File", "/added", json!({"ensure": "directory"})),
            exec,
            // Twice: the last one is stored.
            resource("File", "/added", json!({"ensure": "link"})),
        ],
        vec![
            edge("Class", "main", "File", "/same", "contains"),
            edge("Class", "main", "File", "/changed", "contains"),
            edge("Class", "main", "File", "/added", "contains"),
            edge("File", "/same", "Exec", "tagged", "before"),
            edge("File", "/changed", "Exec", "tagged", "notifies"),
        ],
    )
}

/// Changed (parameters, tags), removed, added and unchanged resources; edges removed,
/// added, kept, and one that was stored twice kept once.
fn a_replaced_catalog_stores_exactly_the_new_resources_and_edges(b: Backend) {
    let d = db(b);
    submit(&d.db, "replace catalog", 9, OLD, &first_catalog(OLD));
    submit(&d.db, "replace catalog", 9, OLD, &second_catalog(OLD));
    submit(&d.db, "replace catalog", 9, NEW, &second_catalog(NEW));
    assert_same(&d.db, CATALOG_ENDPOINTS);
    let mine = json!(["=", "certname", OLD]).to_string();
    let mut titles: Vec<String> = q(&d.db, "resources", &mine)
        .iter()
        .map(|r| {
            format!(
                "{}[{}]",
                r["type"].as_str().unwrap(),
                r["title"].as_str().unwrap()
            )
        })
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Class[main]",
            "Exec[tagged]",
            "File[/added]",
            "File[/changed]",
            "File[/same]"
        ]
    );
    let added = q(
        &d.db,
        "resources",
        &json!(["and", ["=", "certname", OLD], ["=", "title", "/added"]]).to_string(),
    );
    assert_eq!(added[0]["parameters"], json!({"ensure": "link"}));
    assert_eq!(q(&d.db, "edges", &mine).len(), 5);
    // The catalog's hash is the new catalog's.
    let hash =
        |c: &str| q(&d.db, "catalogs", &json!(["=", "certname", c]).to_string())[0]["hash"].clone();
    let fresh = db(b);
    submit(&fresh.db, "replace catalog", 9, OLD, &second_catalog(OLD));
    assert_eq!(
        hash(OLD),
        q(&fresh.db, "catalogs", &mine)[0]["hash"],
        "catalog hash after a diff"
    );
    // Back to the first catalog, and then the same one again.
    let mut back = first_catalog(OLD);
    back["producer_timestamp"] = json!("2026-12-02T12:00:00.000Z");
    submit(&d.db, "replace catalog", 9, OLD, &back);
    let mut back_new = first_catalog(NEW);
    back_new["producer_timestamp"] = json!("2026-12-02T12:00:00.000Z");
    submit(&d.db, "replace catalog", 9, NEW, &back_new);
    assert_same(&d.db, CATALOG_ENDPOINTS);
    back["producer_timestamp"] = json!("2026-12-02T13:00:00.000Z");
    submit(&d.db, "replace catalog", 9, OLD, &back);
    assert_eq!(
        q(&d.db, "catalogs", &mine)[0]["producer_timestamp"],
        json!("2026-12-02T13:00:00.000Z")
    );
    assert_same(&d.db, &["resources", "edges"]);
    // Everything removed.
    let empty = catalog_doc(OLD, "2026-12-02T14:00:00.000Z", vec![], vec![]);
    submit(&d.db, "replace catalog", 9, OLD, &empty);
    assert_eq!(q(&d.db, "resources", &mine), Vec::<Value>::new());
    assert_eq!(q(&d.db, "edges", &mine), Vec::<Value>::new());
}

crate::both!(
    a_replaced_factset_stores_exactly_the_new_facts,
    the_same_factset_again_changes_only_its_timestamps,
    a_replaced_catalog_stores_exactly_the_new_resources_and_edges,
);

/// A fact value of a few shapes, names from small pools so that old and new factsets share
/// facts, paths and values.
fn fact_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0i64..3).prop_map(Value::from),
        prop::sample::select(vec![0.5f64, 1.5]).prop_map(Value::from),
        prop::sample::select(vec!["a", "b", "Linux"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(prop::sample::select(vec!["x", "y", "z"]), inner, 0..3)
                .prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
        ]
    })
}

fn factset() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["kernel", "os", "mounts", "uptime", "disks", "custom"]),
        fact_value(),
        0..6,
    )
    .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn diff_property(b: Backend, cases: u32) {
    let d = db(b);
    let n = std::cell::Cell::new(0u32);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner
        .run(&(factset(), factset()), |(first, second)| {
            // New nodes for every case, old and new.
            n.set(n.get() + 1);
            let (old, new) = (
                format!("old{}.example.test", n.get()),
                format!("new{}.example.test", n.get()),
            );
            submit(
                &d.db,
                "replace facts",
                5,
                &old,
                &facts_doc(&old, "2026-12-02T10:00:00.000Z", Value::Object(first)),
            );
            for c in [&old, &new] {
                submit(
                    &d.db,
                    "replace facts",
                    5,
                    c,
                    &facts_doc(c, "2026-12-02T11:00:00.000Z", Value::Object(second.clone())),
                );
            }
            for endpoint in ["facts", "fact-contents", "factsets"] {
                prop_assert_eq!(
                    state(&d.db, endpoint, &old),
                    state(&d.db, endpoint, &new),
                    "{}",
                    endpoint
                );
            }
            Ok(())
        })
        .unwrap();
}

/// Random first and second factsets: the node that had the first one stores exactly what a
/// node that only received the second one stores.
#[test]
fn any_factset_replaced_by_any_other_is_stored_as_the_other_sqlite() {
    diff_property(Backend::Sqlite, 200);
}

#[cfg(feature = "postgres")]
#[test]
fn any_factset_replaced_by_any_other_is_stored_as_the_other_postgres() {
    if pg::cluster().is_some() {
        diff_property(Backend::Postgres, 60);
    }
}

/// Commands sent at once (SQLite: several share one transaction, group commit): every one
/// answered is stored, and a reader sees each node's newest factset.
fn concurrent_commands_are_all_stored(b: Backend) {
    let d = db(b);
    std::thread::scope(|s| {
        for t in 0..8 {
            let db = &d.db;
            s.spawn(move || {
                for i in 0..10 {
                    for round in 0..2 {
                        let certname = format!("n{t}-{i}.example.test");
                        let ts = format!("2026-12-02T1{round}:00:00.000Z");
                        let mut values = second_facts();
                        values["uptime_seconds"] = json!(round);
                        submit(
                            db,
                            "replace facts",
                            5,
                            &certname,
                            &facts_doc(&certname, &ts, values),
                        );
                    }
                }
            });
        }
    });
    let nodes = q(&d.db, "nodes", "");
    assert_eq!(nodes.len(), 80);
    let uptimes = q(&d.db, "facts", r#"["=", "name", "uptime_seconds"]"#);
    assert_eq!(uptimes.len(), 80);
    assert!(
        uptimes.iter().all(|r| r["value"] == json!(1)),
        "{uptimes:?}"
    );
}

crate::both!(concurrent_commands_are_all_stored);
