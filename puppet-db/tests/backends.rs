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

/// Facts whose values mix every JSON type, at the top and deep down: what `order_by` on a
/// value, `~` on a value, numeric comparisons and aggregates see across types.
fn mixed_facts(certname: &str, i: i64) -> Value {
    let mut facts = doc(FACTS, certname);
    let values = &mut facts["values"];
    values["mixed_number"] = json!(i * 7 - 3);
    values["mixed_float"] = json!(0.1 + i as f64 / 3.0);
    values["mixed_text"] = json!(format!("Text-{i} Über ☃"));
    values["mixed_digits"] = json!(format!("{}", 10 - i * 4));
    values["mixed_bool"] = json!(i % 2 == 0);
    values["mixed_list"] = json!([i, "x", null, true, 2.5]);
    values["mixed_struct"] = json!({"level": i, "ratio": 1.0 / 3.0, "big": 12345678901234_i64,
        "neg": -0.0001, "none": null, "flag": false, "name": format!("n{i}"), "t": "true"});
    facts["producer_timestamp"] = json!(format!("2026-12-02T1{i}:30:00.123Z"));
    facts
}

/// Rows as answered, receive times and a row's generated timestamps left out, in the order
/// given (the query orders them).
/// `v` with every object's keys in order (JSON objects are unordered: PostgreSQL's `jsonb`
/// answers keys shortest first).
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Sorted unless `order` is given; an error as its text.
fn ordered(
    db: &puppet_db::PuppetDb,
    endpoint: &str,
    query: &str,
    order: &str,
) -> Result<Vec<String>, String> {
    let params: &[(&str, &str)] = if order.is_empty() {
        &[]
    } else {
        &[("order_by", order)]
    };
    let paging = puppet_db::Paging::from_params(params).expect("paging");
    let mut rows: Vec<String> = db
        .query(endpoint, Some(query), &paging)
        .map_err(|e| e.to_string())?
        .rows
        .into_iter()
        .map(|mut row| {
            if let Some(m) = row.as_object_mut() {
                for k in [
                    "receive_time",
                    "report_receive_time",
                    "facts_timestamp",
                    "catalog_timestamp",
                ] {
                    m.remove(k);
                }
                if matches!(endpoint, "factsets" | "catalogs" | "inventory") {
                    m.remove("timestamp");
                }
                sort_nested(m);
            }
            sorted_keys(&row).to_string()
        })
        .collect();
    if order.is_empty() {
        rows.sort();
    }
    Ok(rows)
}

/// The query classes where SQL engines differ most: order across JSON types, regexes,
/// booleans and nulls in extracts, timestamps with time zones, aggregates of mixed values,
/// `to_string`. Each answer is the same on both backends, row for row and in order where
/// the query orders.
fn risky_queries_on_sqlite_and_postgresql() {
    let (sqlite, postgres) = (db(Backend::Sqlite), db(Backend::Postgres));
    for d in [&sqlite.db, &postgres.db] {
        load(d);
        for (i, name) in ["m1.example.test", "m2.example.test", "m3.example.test"]
            .iter()
            .enumerate()
        {
            submit(d, "replace facts", 5, name, &mixed_facts(name, i as i64));
        }
    }
    let unordered: &[(&str, &str)] = &[
        // Regexes on JSON values of every type (PuppetDB: only strings match).
        ("facts", r#"["~", "value", "e"]"#),
        ("facts", r#"["~", "value", "^[0-9]"]"#),
        ("facts", r#"["~", "value", "true"]"#),
        ("fact-contents", r#"["~", "value", "^[0-9-]"]"#),
        ("fact-contents", r#"["~", "value", "true|false"]"#),
        ("fact-contents", r#"["~", "value", "(?i)über"]"#),
        ("inventory", r#"["~", "facts.mixed_struct.t", "^t"]"#),
        ("inventory", r#"["~", "facts.mixed_struct.level", "1"]"#),
        // Regex syntax: classes, escapes, flags, anchors, word boundaries, Unicode.
        ("nodes", r#"["~", "certname", "(?i)^M\\d\\.EXAMPLE"]"#),
        ("nodes", r#"["~", "certname", "[[:digit:]]"]"#),
        ("nodes", r#"["~", "certname", "\\bexample\\b"]"#),
        ("nodes", r#"["~", "certname", "^[a-c]\\."]"#),
        ("facts", r#"["~", "name", "^mixed_(?:number|float)$"]"#),
        ("fact-contents", r#"["~", "value", "\\p{Lu}ber"]"#),
        ("fact-contents", r#"["~", "value", "☃$"]"#),
        ("resources", r#"["~", "title", "r1\\d?$"]"#),
        // Numbers compared across types.
        ("facts", r#"[">", "value", 3]"#),
        ("facts", r#"["<=", "value", 0.5]"#),
        ("fact-contents", r#"[">", "value", -1]"#),
        ("fact-contents", r#"["=", "value", 0]"#),
        ("fact-contents", r#"["=", "value", 1]"#),
        ("fact-contents", r#"["=", "value", true]"#),
        ("fact-contents", r#"["=", "value", "true"]"#),
        ("fact-contents", r#"["null?", "value", true]"#),
        (
            "inventory",
            r#"[">", "facts.mixed_struct.big", 12345678901233]"#,
        ),
        ("inventory", r#"["<", "facts.mixed_float", 0.5]"#),
        // Aggregates over mixed values and over integers: precision and type.
        (
            "fact-contents",
            r#"["extract", [["function", "avg", "value"]], ["~", "name", "^mixed"]]"#,
        ),
        (
            "fact-contents",
            r#"["extract", [["function", "sum", "value"], ["function", "min", "value"], ["function", "max", "value"]], ["~", "name", "^mixed"]]"#,
        ),
        (
            "fact-contents",
            r#"["extract", [["function", "avg", "value"], "name"], ["~", "name", "^mixed_[^f]"], ["group_by", "name"]]"#,
        ),
        (
            "resources",
            r#"["extract", [["function", "avg", "line"], ["function", "sum", "line"], "type"], ["~", "certname", ""], ["group_by", "type"]]"#,
        ),
        (
            "resources",
            r#"["extract", [["function", "min", "title"], ["function", "max", "title"]], ["~", "certname", ""]]"#,
        ),
        (
            "facts",
            r#"["extract", [["function", "count"], "value"], ["~", "name", "^mixed"], ["group_by", "value"]]"#,
        ),
        // Booleans and nulls in extracts.
        (
            "nodes",
            r#"["extract", ["certname", "deactivated", "expired", "cached_catalog_status", "latest_report_noop", "latest_report_noop_pending", "latest_report_corrective_change", "latest_report_status"], ["=", "node_state", "any"]]"#,
        ),
        (
            "reports",
            r#"["extract", ["certname", "noop", "noop_pending", "corrective_change", "cached_catalog_status", "code_id", "job_id", "catalog_uuid"], ["~", "certname", ""]]"#,
        ),
        (
            "events",
            r#"["extract", ["certname", "old_value", "new_value", "property", "corrective_change", "file", "line"], ["~", "certname", ""]]"#,
        ),
        (
            "resources",
            r#"["extract", ["certname", "exported", "file", "line", "parameters"], ["~", "certname", ""]]"#,
        ),
        (
            "inventory",
            r#"["extract", ["certname", "facts.mixed_struct.none", "facts.mixed_struct.flag", "facts.mixed_bool", "facts.mixed_list", "facts.nosuch"]]"#,
        ),
        // Timestamps: time zones and forms in filters, to_string's text.
        (
            "reports",
            r#"[">", "producer_timestamp", "2026-12-02T12:30:00+02:00"]"#,
        ),
        (
            "events",
            r#"[">=", "timestamp", "2026-12-02T05:00:30.000-05:00"]"#,
        ),
        (
            "factsets",
            r#"[">", "producer_timestamp", "2026-12-02T11:00:00Z"]"#,
        ),
        (
            "nodes",
            r#"["<", "report_timestamp", "2026-12-02T15:00:00+01:00"]"#,
        ),
        (
            "reports",
            r#"["extract", [["function", "to_string", "producer_timestamp", "YYYY-MM-DD HH24:MI:SS.MS"]], ["~", "certname", ""]]"#,
        ),
        (
            "factsets",
            r#"["extract", [["function", "to_string", "producer_timestamp", "FMDDth Mon YYYY HH12 AM"]], ["~", "certname", ""]]"#,
        ),
        (
            "fact-contents",
            r#"["extract", [["function", "to_string", "value", "999D99"]], ["=", "path", ["mixed_float"]]]"#,
        ),
        (
            "resources",
            r#"["extract", [["function", "to_string", "line", "FM0000"]], ["=", "type", "File"]]"#,
        ),
    ];
    let mut differ = Vec::new();
    for (endpoint, query) in unordered {
        let (s, p) = (
            ordered(&sqlite.db, endpoint, query, ""),
            ordered(&postgres.db, endpoint, query, ""),
        );
        if s.is_err() || s != p {
            eprintln!("{endpoint} {query}:\n sqlite   {s:?}\n postgres {p:?}");
            differ.push(format!("{endpoint} {query}"));
        }
    }
    let by_order: &[(&str, &str, &str)] = &[
        (
            "facts",
            "",
            r#"[{"field": "value"}, {"field": "certname"}, {"field": "name"}]"#,
        ),
        (
            "facts",
            "",
            r#"[{"field": "value", "order": "desc"}, {"field": "certname"}, {"field": "name"}]"#,
        ),
        (
            "fact-contents",
            "",
            r#"[{"field": "value"}, {"field": "certname"}, {"field": "path"}]"#,
        ),
        (
            "fact-contents",
            r#"["~", "name", "^mixed"]"#,
            r#"[{"field": "value", "order": "desc"}, {"field": "certname"}, {"field": "path"}]"#,
        ),
        (
            "inventory",
            "",
            r#"[{"field": "facts.mixed_number"}, {"field": "certname"}]"#,
        ),
        (
            "inventory",
            "",
            r#"[{"field": "facts.mixed_struct", "order": "desc"}, {"field": "certname"}]"#,
        ),
        ("fact-paths", "", r#"[{"field": "path"}]"#),
        (
            "fact-paths",
            "",
            r#"[{"field": "type"}, {"field": "path"}]"#,
        ),
        (
            "resources",
            "",
            r#"[{"field": "line"}, {"field": "certname"}, {"field": "type"}, {"field": "title"}]"#,
        ),
        (
            "resources",
            "",
            r#"[{"field": "file", "order": "desc"}, {"field": "certname"}, {"field": "type"}, {"field": "title"}]"#,
        ),
        (
            "reports",
            "",
            r#"[{"field": "noop"}, {"field": "producer_timestamp", "order": "desc"}, {"field": "certname"}]"#,
        ),
        (
            "events",
            "",
            r#"[{"field": "timestamp"}, {"field": "certname"}, {"field": "resource_title"}, {"field": "property"}, {"field": "report"}]"#,
        ),
        (
            "nodes",
            r#"["=", "node_state", "any"]"#,
            r#"[{"field": "deactivated"}, {"field": "certname"}]"#,
        ),
        (
            "nodes",
            r#"["=", "node_state", "any"]"#,
            r#"[{"field": "latest_report_status", "order": "desc"}, {"field": "certname"}]"#,
        ),
    ];
    for (endpoint, query, order) in by_order {
        let (s, p) = (
            ordered(&sqlite.db, endpoint, query, order),
            ordered(&postgres.db, endpoint, query, order),
        );
        assert!(
            s.as_ref().is_ok_and(|s| s.len() > 1),
            "{endpoint} {query} {order}: too few rows"
        );
        if s != p {
            eprintln!("{endpoint} {query} {order}:\n sqlite   {s:?}\n postgres {p:?}");
            differ.push(format!("{endpoint} {query} {order}"));
        }
    }
    assert!(differ.is_empty(), "answers differ: {differ:#?}");
}

#[test]
fn risky_query_classes_give_the_same_answers_on_both_backends() {
    if pg::cluster().is_some() {
        risky_queries_on_sqlite_and_postgresql();
    }
}
