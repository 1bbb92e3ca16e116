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

const CATALOG: &str = include_str!("fixtures/real/replace_catalog-v9.json");

/// The terminus's facts with a structured fact holding a list and a JSON null.
fn store_sbs_facts(b: Backend) -> (Db, String) {
    let mut facts: Value = serde_json::from_str(FACTS).expect("fixture");
    facts["values"]["sbs_struct"] = json!({"level": 3, "list": ["a", "b"], "nothing": null});
    let certname = facts["certname"].as_str().expect("certname").to_string();
    let d = db(b);
    submit(&d.db, "replace facts", 5, &certname, &facts);
    (d, certname)
}

fn values(rows: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = rows.iter().map(|r| r["value"].clone()).collect();
    v.sort_by_key(|x| x.to_string());
    v
}

/// `~>` matches an array index as its digits (PuppetDB: `path[i] ~ rx` on the text form);
/// a pattern of digits only wants a key, an integer an index.
fn regex_path_matches_array_indexes_as_text(b: Backend) {
    let (d, _) = store_sbs_facts(b);
    let rows = q(
        &d.db,
        "fact-contents",
        r#"["~>", "path", ["sbs_struct", "list", "\\d+"]]"#,
    );
    assert_eq!(values(&rows), [json!("a"), json!("b")]);
    let rows = q(
        &d.db,
        "fact-contents",
        r#"["~>", "path", ["sbs_struct", "list", 1]]"#,
    );
    assert_eq!(values(&rows), [json!("b")]);
    assert!(
        q(
            &d.db,
            "fact-contents",
            r#"["~>", "path", ["sbs_struct", "list", "1"]]"#
        )
        .is_empty()
    );
    // The same in PQL, on the root endpoint.
    let rows =
        d.db.query(
            "",
            Some(r#"fact_contents { path ~> ["sbs_struct", "list", "\\d+"] }"#),
            &Paging::default(),
        )
        .expect("PQL fact_contents")
        .rows;
    assert_eq!(values(&rows), [json!("a"), json!("b")]);
}

/// `~` on a fact path matches its text form, the elements joined by `#~`.
fn regex_on_a_fact_path_matches_its_text(b: Backend) {
    let (d, _) = store_sbs_facts(b);
    let rows = q(&d.db, "fact-paths", r#"["~", "path", "sbs"]"#);
    let mut paths: Vec<Value> = rows.iter().map(|r| r["path"].clone()).collect();
    paths.sort_by_key(|p| p.to_string());
    assert!(paths.contains(&json!(["sbs_struct", "level"])), "{paths:?}");
    assert!(
        paths.contains(&json!(["sbs_struct", "list", 0])),
        "{paths:?}"
    );
    assert!(
        paths.contains(&json!(["sbs_struct", "list", 1])),
        "{paths:?}"
    );
    for r in &rows {
        assert_eq!(r["name"], json!("sbs_struct"), "{r}");
    }
    let rows = q(
        &d.db,
        "fact-paths",
        r#"["~", "path", "^sbs_struct#~list#~1$"]"#,
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["path"], json!(["sbs_struct", "list", 1]));
}

/// A dotted field on factsets is refused, PuppetDB's list of queryable objects naming `facts`.
fn dotted_facts_on_factsets_name_facts_as_queryable(b: Backend) {
    let (d, _) = store_sbs_facts(b);
    match d.db.query(
        "factsets",
        Some(r#"["=", "facts.x", 1]"#),
        &Paging::default(),
    ) {
        Err(e) => assert_eq!(
            e.to_string(),
            "'facts.x' is not a queryable object for factsets. Known queryable objects are \
             'certname', 'environment', 'facts', 'hash', 'producer', 'producer_timestamp', \
             and 'timestamp'"
        ),
        Ok(a) => panic!("{:?}", a.rows),
    }
}

/// `null?` on a dotted fact: a JSON null is null, a value is not, a missing path neither.
fn null_on_a_dotted_fact_wants_the_path_present(b: Backend) {
    let (d, certname) = store_sbs_facts(b);
    let count = |query: &str| q(&d.db, "inventory", query).len();
    assert_eq!(count(r#"["null?", "facts.a.b", true]"#), 0);
    assert_eq!(count(r#"["null?", "facts.a.b", false]"#), 0);
    assert_eq!(count(r#"["null?", "facts.sbs_struct.missing", true]"#), 0);
    assert_eq!(count(r#"["null?", "facts.sbs_struct.nothing", true]"#), 1);
    assert_eq!(count(r#"["null?", "facts.sbs_struct.nothing", false]"#), 0);
    assert_eq!(count(r#"["null?", "facts.sbs_struct.level", false]"#), 1);
    assert_eq!(count(r#"["null?", "facts.sbs_struct.level", true]"#), 0);
    let rows = q(
        &d.db,
        "inventory",
        r#"["null?", "facts.sbs_struct.nothing", true]"#,
    );
    assert_eq!(rows[0]["certname"], json!(certname));
}

/// `["~", ["parameter", p], rx]`: PuppetDB matches the pattern's JSON text against the
/// value's JSON text, so `^app` matches nothing and `app` only the value `"app"`.
fn regex_on_a_parameter_matches_json_texts(b: Backend) {
    let mut catalog: Value = serde_json::from_str(CATALOG).expect("fixture");
    let certname = catalog["certname"].as_str().expect("certname").to_string();
    let resources = catalog["resources"].as_array_mut().expect("resources");
    for (title, message) in [("one", "app"), ("two", "application")] {
        resources.push(json!({
            "type": "Notify", "title": title, "tags": ["notify"], "exported": false,
            "parameters": {"message": message}
        }));
    }
    let d = db(b);
    submit(&d.db, "replace catalog", 9, &certname, &catalog);
    let titles = |query: &str| {
        let mut t: Vec<String> = q(&d.db, "resources", query)
            .iter()
            .map(|r| r["title"].as_str().unwrap_or("?").to_string())
            .collect();
        t.sort();
        t
    };
    assert!(titles(r#"["~", ["parameter", "message"], "^app"]"#).is_empty());
    assert_eq!(titles(r#"["~", ["parameter", "message"], "app"]"#), ["one"]);
    assert_eq!(
        titles(r#"["~", ["parameter", "message"], "app.*"]"#),
        ["one", "two"]
    );
    assert_eq!(
        titles(r#"["=", ["parameter", "message"], "application"]"#),
        ["two"]
    );
}

/// An extracted `metrics`/`logs`/`resource_events` keeps its href (the report's hash),
/// though the extract leaves `hash` out.
fn extracted_report_composites_keep_their_href(b: Backend) {
    let d = store(b, "store report", 8, REPORT);
    let hash = q(&d.db, "reports", "")[0]["hash"]
        .as_str()
        .expect("hash")
        .to_string();
    let rows = q(
        &d.db,
        "reports",
        r#"["extract", ["certname", "metrics", "logs", "resource_events"], ["~", "certname", "."]]"#,
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0].as_object().expect("row");
    let mut keys: Vec<&String> = row.keys().collect();
    keys.sort();
    assert_eq!(keys, ["certname", "logs", "metrics", "resource_events"]);
    for (field, suffix) in [
        ("metrics", "metrics"),
        ("logs", "logs"),
        ("resource_events", "events"),
    ] {
        assert_eq!(
            row[field]["href"],
            json!(format!("/pdb/query/v4/reports/{hash}/{suffix}")),
            "{field}"
        );
        assert!(row[field]["data"].is_array(), "{field}");
    }
    // The streamed answer (what the HTTP API writes) alike.
    let (body, _) =
        d.db.query_json(
            "reports",
            Some(r#"["extract", ["certname", "logs"]]"#),
            &Paging::default(),
        )
        .expect("query_json");
    let streamed: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        streamed[0]["logs"]["href"],
        json!(format!("/pdb/query/v4/reports/{hash}/logs"))
    );
    assert!(streamed[0].get("__href_hash").is_none(), "{streamed}");
    // With the hash extracted too, unchanged.
    let rows = q(&d.db, "reports", r#"["extract", ["hash", "metrics"]]"#);
    assert_eq!(rows[0]["hash"], json!(hash));
    assert_eq!(
        rows[0]["metrics"]["href"],
        json!(format!("/pdb/query/v4/reports/{hash}/metrics"))
    );
    // The report's own metrics route answers the data alone.
    let metrics =
        d.db.query(&format!("reports/{hash}/metrics"), None, &Paging::default())
            .expect("metrics")
            .rows;
    assert!(!metrics.is_empty());
    assert!(metrics.iter().all(|m| m.get("__href_hash").is_none()));
}

crate::both!(
    regex_path_matches_array_indexes_as_text,
    regex_on_a_fact_path_matches_its_text,
    dotted_facts_on_factsets_name_facts_as_queryable,
    null_on_a_dotted_fact_wants_the_path_present,
    regex_on_a_parameter_matches_json_texts,
    extracted_report_composites_keep_their_href,
);
