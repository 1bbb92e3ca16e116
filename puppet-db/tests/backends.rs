//! The same commands on SQLite and on PostgreSQL give the same answers on every endpoint.
//!
//! The backends write differently: PostgreSQL writes a command's rows a table at a time
//! (arrays and `unnest`: a report's events, a catalog's resources and edges, a factset's
//! facts) and a node's row, its lock and its reactivation in one statement; SQLite writes a
//! row at a time. Nothing the queries answer may tell them apart (what is generated at
//! receipt, receive times, set aside).

use serde_json::{Map, Value, json};

use crate::common::*;

/// A report with `n` resources of every shape: events with and without property, name,
/// message and corrective change, values of every JSON type, resources with and without
/// file and line, deep and shallow containment paths, skipped resources (no events).
fn varied_report(certname: &str, ts: &str, n: usize) -> Value {
    let values = [
        json!("a string"),
        json!(42),
        json!(2.5),
        json!(true),
        json!(null),
        json!(["a", 1, null]),
        json!({"k": {"nested": [1, 2]}}),
        json!("quote \" backslash \\ unicode é ☃"),
    ];
    let resources: Vec<Value> = (0..n)
        .map(|i| {
            let events: Vec<Value> = (0..i % 3)
                .map(|k| {
                    let status = ["success", "failure", "noop"][(i + k) % 3];
                    let new_value = values[(i + k) % values.len()].clone();
                    let old_value = values[(i + k + 3) % values.len()].clone();
                    let mut e = json!({
                        "status": status,
                        "timestamp": format!("2026-12-02T10:00:{:02}.{:03}Z", i % 60, k),
                        "new_value": new_value,
                        "old_value": old_value,
                    });
                    if i.is_multiple_of(2) {
                        e["property"] = json!(format!("prop{k}"));
                        e["message"] = json!(format!("changed {i}/{k}"));
                    }
                    if i % 5 != 0 {
                        e["name"] = json!(format!("name_{i}"));
                        e["corrective_change"] = json!(i.is_multiple_of(4));
                    }
                    e
                })
                .collect();
            let mut path = vec!["Stage[main]".to_string()];
            for d in 0..(i % 4) {
                path.push(if d.is_multiple_of(2) {
                    format!("Class{d}")
                } else {
                    format!("Define{d}[x{i}]")
                });
            }
            let ty = if i.is_multiple_of(2) { "File" } else { "Exec" };
            let skipped = i % 7 == 6;
            let events = if skipped {
                json!([])
            } else {
                Value::Array(events)
            };
            let mut r = json!({
                "resource_type": ty,
                "resource_title": format!("/tmp/r{i}"),
                "containment_path": path,
                "corrective_change": false,
                "skipped": skipped,
                "events": events,
            });
            if i % 3 != 1 {
                r["file"] = json!("/etc/puppet/site.pp");
                r["line"] = json!(i + 1);
            }
            r
        })
        .collect();
    let mut report = doc(REPORT, certname);
    report["producer_timestamp"] = json!(ts);
    report["end_time"] = json!(ts);
    report["resources"] = Value::Array(resources);
    report
}

fn catalog(certname: &str, ts: &str, n: usize, changed: usize) -> Value {
    let resources: Vec<Value> = (0..n)
        .map(|i| {
            let ty = if i.is_multiple_of(3) {
                "File"
            } else {
                "Package"
            };
            let v = if i < changed { "new" } else { "old" };
            let mut r = json!({
                "type": ty,
                "title": format!("r{i}"),
                "exported": i.is_multiple_of(11),
                "tags": ["a", format!("t{}", i % 5)],
                "parameters": {"ensure": "present", "n": i, "v": v},
            });
            if i % 4 != 0 {
                r["file"] = json!("/site.pp");
                r["line"] = json!(i);
            }
            r
        })
        .collect();
    let ty = |i: usize| {
        if i.is_multiple_of(3) {
            "File"
        } else {
            "Package"
        }
    };
    let edges: Vec<Value> = (1..n)
        .map(|i| {
            let rel = if i.is_multiple_of(2) {
                "before"
            } else {
                "contains"
            };
            json!({"source": {"type": ty(i - 1), "title": format!("r{}", i - 1)},
                   "target": {"type": ty(i), "title": format!("r{i}")},
                   "relationship": rel})
        })
        .collect();
    json!({"certname": certname, "version": "v1", "environment": "production",
           "producer_timestamp": ts, "transaction_uuid": "t", "catalog_uuid": "c",
           "code_id": null, "job_id": null, "producer": "puppet.example.test",
           "resources": resources, "edges": edges})
}

/// Every command kind, for a few nodes, with what makes PuppetDB's rules matter: older
/// data after newer, deactivation before and after data, a replaced catalog and factset.
fn load(db: &puppet_db::PuppetDb) {
    for (i, name) in ["a.example.test", "b.example.test", "c.example.test"]
        .iter()
        .enumerate()
    {
        let mut facts = doc(FACTS, name);
        facts["producer_timestamp"] = json!("2026-12-02T10:00:00.000Z");
        facts["values"]["index"] = json!(i);
        submit(db, "replace facts", 5, name, &facts);
        submit(
            db,
            "replace catalog",
            9,
            name,
            &catalog(name, "2026-12-02T10:00:00.000Z", 40 + i, 0),
        );
        for (k, ts) in ["2026-12-02T10:00:00.000Z", "2026-12-02T11:00:00.000Z"]
            .iter()
            .enumerate()
        {
            submit(
                db,
                "store report",
                8,
                name,
                &varied_report(name, ts, 30 + k * 7),
            );
        }
    }
    // A replaced catalog (5 resources changed) and factset; an older catalog is ignored.
    let a = "a.example.test";
    submit(
        db,
        "replace catalog",
        9,
        a,
        &catalog(a, "2026-12-02T12:00:00.000Z", 38, 5),
    );
    submit(
        db,
        "replace catalog",
        9,
        a,
        &catalog(a, "2026-12-02T09:00:00.000Z", 10, 10),
    );
    let mut facts = doc(FACTS, a);
    facts["producer_timestamp"] = json!("2026-12-02T12:00:00.000Z");
    facts["values"]["kernel"] = json!("Other");
    submit(db, "replace facts", 5, a, &facts);
    // b deactivated (and an older deactivation does not move it back); an unknown node
    // deactivated; c deactivated, then brought back by newer data.
    let deactivate = |name: &str, ts: &str| deactivate(db, name, ts);
    deactivate("b.example.test", "2026-12-02T13:00:00.000Z");
    deactivate("b.example.test", "2026-12-02T12:30:00.000Z");
    deactivate("never-seen.example.test", "2026-12-02T13:00:00.000Z");
    deactivate("c.example.test", "2026-12-02T13:00:00.000Z");
    let c = "c.example.test";
    submit(
        db,
        "store report",
        8,
        c,
        &varied_report(c, "2026-12-02T14:00:00.000Z", 12),
    );
}

/// An endpoint's rows as sorted text, receive times and what a row's own generated
/// timestamps are (factsets', catalogs' and nodes' times of receipt) left out.
fn answer(db: &puppet_db::PuppetDb, endpoint: &str, query: &str) -> Vec<String> {
    let mut rows: Vec<String> = q(db, endpoint, query)
        .into_iter()
        .map(|mut row| {
            if let Some(m) = row.as_object_mut() {
                m.remove("receive_time");
                m.remove("report_receive_time");
                if matches!(endpoint, "factsets" | "catalogs" | "inventory") {
                    m.remove("timestamp");
                }
                if endpoint == "nodes" {
                    m.remove("facts_timestamp");
                    m.remove("catalog_timestamp");
                }
                sort_nested(m);
            }
            row.to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// Nested lists of rows (`{"data": [...]}`) as sets.
fn sort_nested(m: &mut Map<String, Value>) {
    for (_, v) in m.iter_mut() {
        if let Some(data) = v.get_mut("data").and_then(Value::as_array_mut) {
            data.sort_by_key(|x| x.to_string());
        }
    }
}

fn same_answers_on_sqlite_and_postgresql() {
    let (sqlite, postgres) = (db(Backend::Sqlite), db(Backend::Postgres));
    load(&sqlite.db);
    load(&postgres.db);
    let all_nodes = r#"["or", ["=", ["node", "active"], true], ["=", ["node", "active"], false]]"#;
    let checks: &[(&str, &str)] = &[
        ("nodes", all_nodes),
        ("nodes", ""),
        ("environments", ""),
        ("facts", ""),
        ("fact-contents", ""),
        ("fact-paths", ""),
        ("factsets", ""),
        ("inventory", ""),
        ("catalogs", all_nodes),
        ("resources", all_nodes),
        ("edges", all_nodes),
        ("reports", ""),
        ("events", ""),
        ("events", r#"["null?", "property", true]"#),
        // Always null, as in open-source PuppetDB.
        ("events", r#"["null?", "corrective_change", true]"#),
        ("events", r#"["=", "containing_class", "Class2"]"#),
    ];
    let mut differ = Vec::new();
    for (endpoint, query) in checks {
        let (s, p) = (
            answer(&sqlite.db, endpoint, query),
            answer(&postgres.db, endpoint, query),
        );
        assert!(!s.is_empty(), "{endpoint} {query}: nothing answered");
        if s != p {
            eprintln!("{endpoint} {query}:\n sqlite   {s:?}\n postgres {p:?}");
            differ.push(*endpoint);
        }
    }
    assert!(differ.is_empty(), "answers differ: {differ:?}");
    // The checks can fail: what was loaded is there, events of every shape among it.
    let events = q(&postgres.db, "events", "");
    assert_eq!(
        events.len(),
        answer(&sqlite.db, "events", "").len(),
        "as many events"
    );
    assert!(events.iter().any(|e| e["property"].is_null()));
    assert!(
        events
            .iter()
            .any(|e| e["new_value"] == json!({"k": {"nested": [1, 2]}}))
    );
    assert!(events.iter().any(|e| e["corrective_change"].is_null()));
    let nodes = q(&postgres.db, "nodes", all_nodes);
    let state = |name: &str| {
        nodes
            .iter()
            .find(|n| n["certname"] == json!(name))
            .map(|n| n["deactivated"].clone())
    };
    assert_eq!(state("a.example.test"), Some(Value::Null));
    assert_eq!(
        state("b.example.test"),
        Some(json!("2026-12-02T13:00:00.000Z"))
    );
    assert_eq!(state("c.example.test"), Some(Value::Null));
    assert_eq!(
        state("never-seen.example.test"),
        Some(json!("2026-12-02T13:00:00.000Z"))
    );
}

#[test]
fn the_same_commands_give_the_same_answers_on_both_backends() {
    if pg::cluster().is_some() {
        same_answers_on_sqlite_and_postgresql();
    }
}
