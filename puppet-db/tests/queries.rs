//! The AST language on every endpoint, paging, and refusals.

use puppet_db::query::event_counts::EventCountsQuery;
use puppet_db::{DbError, Paging, QueryErrorKind};
use serde_json::{Value, json};

use crate::common::*;

fn nodes_and_regex_and_boolean_logic(b: Backend) {
    let d = loaded(b);
    let rows = q(&d.db, "nodes", r#"["~", "certname", "^web"]"#);
    assert_eq!(certnames(&rows), ["web1.example.test", "web2.example.test"]);
    assert_eq!(rows[0]["facts_environment"], json!("production"));
    assert_eq!(rows[0]["latest_report_status"], json!("changed"));
    assert_eq!(rows[0]["deactivated"], json!(null));
    let rows = q(
        &d.db,
        "nodes",
        r#"["or", ["=", "certname", "db1.example.test"], ["not", ["~", "certname", "web"]]]"#,
    );
    assert_eq!(certnames(&rows), ["db1.example.test"]);
    let rows = q(&d.db, "nodes", r#"["null?", "deactivated", true]"#);
    assert_eq!(rows.len(), 3);
    // Three-valued logic as in PuppetDB's SQL: a null field matches neither `=` nor `not =`.
    submit(
        &d.db,
        "replace facts",
        5,
        "bare.example.test",
        &doc(FACTS, "bare.example.test"),
    );
    let rows = q(
        &d.db,
        "nodes",
        r#"["not", ["=", "latest_report_status", "failed"]]"#,
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let rows = q(&d.db, "nodes", r#"["null?", "latest_report_status", true]"#);
    assert_eq!(certnames(&rows), ["bare.example.test"]);
    let rows = q(
        &d.db,
        "nodes",
        r#"[">", "facts_timestamp", "2000-01-01T00:00:00Z"]"#,
    );
    assert_eq!(rows.len(), 4);
}

fn inventory_with_dotted_facts_and_trusted(b: Backend) {
    let d = loaded(b);
    let rows = q(
        &d.db,
        "inventory",
        r#"["extract", ["certname", "facts.os.release.major", "trusted.extensions.pp_role"],
            ["=", "facts.os.family", "Debian"]]"#,
    );
    assert_eq!(certnames(&rows), ["web1.example.test", "web2.example.test"]);
    assert_eq!(
        rows[0],
        json!({"certname": rows[0]["certname"], "facts.os.release.major": "12", "trusted.extensions.pp_role": "web"})
    );
    let rows = q(&d.db, "inventory", r#"[">=", "facts.processors.count", 2]"#);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["facts"]["kernel"], json!("Linux"));
    assert_eq!(rows[0]["trusted"]["domain"], json!("example.test"));
    let rows = q(&d.db, "inventory", r#"["=", "facts.is_virtual", true]"#);
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "inventory",
        r#"["null?", "facts.no.such.fact", true]"#,
    );
    // As the real PuppetDB 7.12 answered side by side: a missing path is not null
    // (`jsonb_typeof` of nothing), only a JSON null is.
    assert_eq!(rows.len(), 0);
}

fn facts_factsets_and_fact_paths(b: Backend) {
    let d = loaded(b);
    let rows = q(
        &d.db,
        "facts",
        r#"["and", ["=", "name", "uptime_seconds"], ["<", "value", 4000]]"#,
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["value"], json!(3600));
    let rows = q(&d.db, "facts/os", "");
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["value"]["release"].is_object());

    let set = q(&d.db, "factsets/web1.example.test", "");
    assert_eq!(set.len(), 1);
    let facts = &set[0]["facts"];
    assert_eq!(
        facts["href"],
        json!("/pdb/query/v4/factsets/web1.example.test/facts")
    );
    assert!(
        facts["data"]
            .as_array()
            .expect("data")
            .contains(&json!({"name": "kernel", "value": "Linux"}))
    );

    let paths = q(
        &d.db,
        "fact-paths",
        r#"["~>", "path", ["^networking$", "^interfaces$", "eth.*"]]"#,
    );
    // Leaves only (PuppetDB 7.12 has no `map` rows), with the fact's name.
    assert_eq!(paths, Vec::<Value>::new());
    let paths = q(
        &d.db,
        "fact-paths",
        r#"["~>", "path", ["^networking$", "^interfaces$", "eth.*", ".*"]]"#,
    );
    assert!(!paths.is_empty());
    assert!(
        paths
            .iter()
            .all(|p| p["type"] != json!("map") && p["name"] == json!("networking"))
    );
    let paths = q(&d.db, "fact-paths", r#"["=", "path", ["os", "family"]]"#);
    assert_eq!(
        paths,
        vec![json!({"path": ["os", "family"], "type": "string", "name": "os"})]
    );
}

fn catalogs_resources_and_edges(b: Backend) {
    let d = loaded(b);
    let cat = q(&d.db, "catalogs/web1.example.test", "");
    assert_eq!(cat.len(), 1);
    assert_eq!(
        cat[0]["resources"]["data"].as_array().map(Vec::len),
        Some(6)
    );
    assert_eq!(
        cat[0]["edges"]["data"][2]["relationship"],
        json!("notifies")
    );
    assert_eq!(
        cat[0]["edges"]["href"],
        json!("/pdb/query/v4/catalogs/web1.example.test/edges")
    );

    let rows = q(
        &d.db,
        "resources",
        r#"["and", ["=", "type", "Exec"], ["=", "certname", "db1.example.test"]]"#,
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["title"], json!("reload"));
    assert_eq!(rows[0]["parameters"]["refreshonly"], json!(true));
    assert_eq!(rows[0]["exported"], json!(false));
    assert_eq!(rows[0]["tags"], json!(["exec", "class"]));
    assert_eq!(rows[0]["line"], json!(11));
    // Exported resources, as the terminus collects them.
    let rows = q(
        &d.db,
        "resources",
        r#"["and", ["=", "type", "Host"], ["=", "exported", true], ["not", ["=", "certname", "web1.example.test"]]]"#,
    );
    assert_eq!(certnames(&rows), ["db1.example.test", "web2.example.test"]);
    let rows = q(
        &d.db,
        "resources",
        r#"["and", ["=", "tag", "exec"], ["=", "parameters.command", "/bin/true"]]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(&d.db, "resources/File", "");
    assert_eq!(rows.len(), 6);
    let rows = q(&d.db, "edges", r#"["=", "relationship", "contains"]"#);
    assert_eq!(rows.len(), 6);
}

fn reports_events_environments(b: Backend) {
    let d = loaded(b);
    let rows = q(
        &d.db,
        "reports",
        r#"["and", ["=", "status", "changed"], ["=", "latest_report?", true]]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "events",
        r#"["and", ["=", "resource_type", "File"], ["=", "status", "success"]]"#,
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["containment_path"],
        json!(["Stage[main]", "Main", "File[/etc/motd]"])
    );
    assert_eq!(rows[0]["run_end_time"], json!("2026-12-02T10:00:03.000Z"));
    let rows = q(&d.db, "environments", "");
    assert_eq!(rows, vec![json!({"name": "production"})]);
}

fn subqueries_in_extract_from_and_implicit(b: Backend) {
    let d = loaded(b);
    let legacy = q(
        &d.db,
        "nodes",
        r#"["in", "certname", ["extract", "certname", ["select_facts",
            ["and", ["=", "name", "os"], ["=", "value", "x"]]]]]"#,
    );
    assert!(legacy.is_empty());
    let rows = q(
        &d.db,
        "nodes",
        r#"["in", "certname", ["from", "inventory", ["extract", ["certname"], ["=", "facts.os.family", "RedHat"]]]]"#,
    );
    assert_eq!(certnames(&rows), ["db1.example.test"]);
    let rows = q(
        &d.db,
        "",
        r#"["from", "nodes", ["subquery", "inventory", ["=", "facts.os.family", "Debian"]]]"#,
    );
    assert_eq!(certnames(&rows), ["web1.example.test", "web2.example.test"]);
    let rows = q(
        &d.db,
        "facts",
        r#"["and", ["=", "name", "kernel"], ["in", "certname", ["array", ["web1.example.test", "nope"]]]]"#,
    );
    assert_eq!(certnames(&rows), ["web1.example.test"]);
    let rows = q(
        &d.db,
        "resources",
        r#"["in", ["certname", "type"], ["from", "resources", ["extract", ["certname", "type"], ["=", "title", "reload"]]]]"#,
    );
    assert_eq!(rows.len(), 3);
}

fn paging_order_and_total(b: Backend) {
    let d = loaded(b);
    let paging = Paging::from_params(&[
        ("order_by", r#"[{"field": "certname", "order": "desc"}]"#),
        ("limit", "2"),
        ("offset", "1"),
        ("include_total", "true"),
    ])
    .expect("paging");
    let a = d.db.query("nodes", None, &paging).expect("query");
    assert_eq!(a.total, Some(3));
    let names: Vec<_> = a.rows.iter().map(|r| r["certname"].clone()).collect();
    assert_eq!(
        names,
        [json!("web1.example.test"), json!("db1.example.test")]
    );
    let rows = q(
        &d.db,
        "",
        r#"["from", "nodes", ["extract", ["certname"]], ["order_by", [["certname", "desc"]]], ["limit", 1]]"#,
    );
    assert_eq!(rows, vec![json!({"certname": "web2.example.test"})]);
    let rows = q(
        &d.db,
        "facts",
        r#"["extract", ["name", ["function", "count"]], ["~", "name", "^(kernel|os)$"], ["group_by", "name"]]"#,
    );
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&json!({"name": "kernel", "count": 3})));
}

fn refused(b: Backend, path: &str, query: &str) -> (QueryErrorKind, String) {
    let d = loaded(b);
    match d.db.query(path, Some(query), &Paging::default()) {
        Err(DbError::Query { kind, message }) => (kind, message),
        other => panic!("{query}: {other:?}"),
    }
}

fn bad_queries_are_refused_with_puppetdbs_text(b: Backend) {
    let (kind, msg) = refused(b, "nodes", r#"["=", "nosuchfield", 1]"#);
    assert_eq!(kind, QueryErrorKind::UnknownField);
    // The real PuppetDB 7.12's text (scripts/puppetdb-side-by-side.sh): sorted names.
    assert_eq!(
        msg,
        "'nosuchfield' is not a queryable object for nodes. Known queryable objects are \
         'cached_catalog_status', 'catalog_environment', 'catalog_timestamp', 'certname', \
         'deactivated', 'expired', 'facts_environment', 'facts_timestamp', \
         'latest_report_corrective_change', 'latest_report_hash', 'latest_report_job_id', \
         'latest_report_noop', 'latest_report_noop_pending', 'latest_report_status', \
         'report_environment', and 'report_timestamp'"
    );
    let (kind, msg) = refused(b, "nodes", r#"["extract", ["nope"]]"#);
    assert_eq!(kind, QueryErrorKind::UnknownField);
    assert!(
        msg.starts_with("Can't extract unknown 'nodes' field 'nope'. Acceptable fields are"),
        "{msg}"
    );
    let (kind, _) = refused(b, "nodes", r#"["~", "certname", "(unclosed"]"#);
    assert_eq!(kind, QueryErrorKind::Regex);
    // A regex that would run away under backtracking is just linear here; a huge one is refused.
    let (kind, _) = refused(
        b,
        "nodes",
        &json!(["~", "certname", "(a{1000}){1000}"]).to_string(),
    );
    assert_eq!(kind, QueryErrorKind::Regex);
    let rows = q(
        &loaded(b).db,
        "nodes",
        &json!(["~", "certname", "^(a+)+$"]).to_string(),
    );
    assert!(rows.is_empty());
    let (kind, _) = refused(b, "nodes", r#"["frobnicate", "certname", 1]"#);
    assert_eq!(kind, QueryErrorKind::Ast);
    let (kind, _) = refused(b, "nodes", "[\"=\", \"certname\"");
    assert_eq!(kind, QueryErrorKind::Ast);
    let (kind, _) = refused(b, "nosuch", r#"["=", "certname", "x"]"#);
    assert_eq!(kind, QueryErrorKind::UnknownEntity);
    let (kind, msg) = refused(b, "nodes", r#"["<", "certname", 3]"#);
    assert_eq!(kind, QueryErrorKind::Ast);
    assert_eq!(
        msg,
        "Query operators >,>=,<,<= are not allowed on field certname"
    );
    let (kind, msg) = refused(b, "", "nodes { certname = }");
    assert!(
        matches!(
            kind,
            QueryErrorKind::Pql {
                line: 1,
                column: 20
            }
        ),
        "{kind:?} {msg}"
    );
    let (kind, _) = refused(b, "nodes/nobody.example.test", "");
    assert_eq!(kind, QueryErrorKind::UnknownEntity);
}

fn fact_contents_leaves_by_path(b: Backend) {
    let d = loaded(b);
    let rows = q(
        &d.db,
        "fact-contents",
        r#"["and", ["~>", "path", ["networking", "interfaces", ".*", "ip"]], ["=", "certname", "web1.example.test"]]"#,
    );
    let mut got: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| (r["path"].clone(), r["value"].clone()))
        .collect();
    got.sort_by_key(|(p, _)| p.to_string());
    assert_eq!(
        got,
        [
            (
                json!(["networking", "interfaces", "eth0", "ip"]),
                json!("10.0.0.1")
            ),
            (
                json!(["networking", "interfaces", "lo", "ip"]),
                json!("127.0.0.1")
            ),
        ]
    );
    assert_eq!(rows[0]["name"], json!("networking"));
    assert_eq!(rows[0]["environment"], json!("production"));
    let rows = q(
        &d.db,
        "",
        r#"fact_contents[certname] { path = ["os", "release", "major"] and value = "12" }"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "",
        r#"facts[value] { [certname, name] in fact_contents[certname, name] { value > 3000 } and certname = "db1.example.test" }"#,
    );
    assert_eq!(rows, vec![json!({"value": 3600})]);
}

crate::both!(
    nodes_and_regex_and_boolean_logic,
    inventory_with_dotted_facts_and_trusted,
    facts_factsets_and_fact_paths,
    catalogs_resources_and_edges,
    reports_events_environments,
    subqueries_in_extract_from_and_implicit,
    paging_order_and_total,
    bad_queries_are_refused_with_puppetdbs_text,
    fact_contents_leaves_by_path,
);

/// Client regexes mean the same on both backends (PostgreSQL gets them rewritten from the
/// `regex` crate's syntax), and none runs away.
fn regexes_match_the_same_on_both_backends(b: Backend) {
    let d = loaded(b);
    let cases: &[(&str, &[&str])] = &[
        ("^web", &["web1.example.test", "web2.example.test"]),
        (r"\bdb1\b", &["db1.example.test"]),
        (r"(?i)^WEB\d\.", &["web1.example.test", "web2.example.test"]),
        (
            r"^(web|db)[12]\.example\.test$",
            &["db1.example.test", "web1.example.test", "web2.example.test"],
        ),
        (r"2\.example", &["web2.example.test"]),
        (r"^.{16}$", &["db1.example.test"]),
        (r"e{2,}", &[]),
        (r"^(a+)+$", &[]),
        (r"(?m)^test$", &[]),
        (r"[^a-z0-9.]", &[]),
        (r"\.TEST$", &[]),
    ];
    for (pattern, expected) in cases {
        let rows = q(
            &d.db,
            "nodes",
            &json!(["~", "certname", pattern]).to_string(),
        );
        assert_eq!(&certnames(&rows), expected, "{pattern} on {b:?}");
    }
    // On JSON values and arrays too.
    let rows = q(
        &d.db,
        "inventory",
        r#"["~", "facts.os.release.full", "^12\\.\\d+$"]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(&d.db, "resources", r#"["~", "tag", "^ex"]"#);
    assert_eq!(rows.len(), 3, "one Exec per node");
    let rows = q(
        &d.db,
        "facts",
        r#"["and", ["=", "name", "kernel"], ["~", "value", "^Lin"]]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "fact-paths",
        r#"["~>", "path", ["^os$", "^rel", "^maj"]]"#,
    );
    assert_eq!(
        rows,
        vec![json!({"path": ["os", "release", "major"], "type": "string", "name": "os"})]
    );
}

/// Aggregates, group_by and comparisons of JSON numbers give the same answers on both.
fn aggregates_and_json_numbers(b: Backend) {
    let d = loaded(b);
    let rows = q(
        &d.db,
        "resources",
        r#"["extract", [["function", "count"], ["function", "sum", "line"], ["function", "min", "line"], ["function", "max", "line"], ["function", "avg", "line"]], ["=", "certname", "web1.example.test"]]"#,
    );
    assert_eq!(
        rows,
        vec![json!({"count": 6, "sum": 36, "min": 3, "max": 15, "avg": 9.0})]
    );
    let rows = q(
        &d.db,
        "inventory",
        r#"["extract", [["function", "avg", "facts.load"], ["function", "sum", "facts.uptime_seconds"]]]"#,
    );
    assert_eq!(rows, vec![json!({"avg": 0.25, "sum": 10800})]);
    let rows = q(
        &d.db,
        "resources",
        r#"["extract", ["type", ["function", "count"]], ["=", "certname", "db1.example.test"], ["group_by", "type"]]"#,
    );
    let mut rows = rows;
    rows.sort_by_key(|r| r["type"].as_str().map(String::from));
    assert_eq!(rows[1], json!({"type": "Exec", "count": 1}));
    assert_eq!(rows[2], json!({"type": "File", "count": 2}));
    let rows = q(&d.db, "inventory", r#"["<", "facts.load", 0.5]"#);
    assert_eq!(rows.len(), 3);
    let rows = q(&d.db, "inventory", r#"[">", "facts.os.family", 1]"#);
    assert!(rows.is_empty(), "a string is not ordered against a number");
    let rows = q(
        &d.db,
        "resources",
        r#"["=", "parameters.refreshonly", true]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "resources",
        r#"["and", ["=", "exported", true], ["=", "parameters.ip", "10.0.0.1"]]"#,
    );
    assert_eq!(rows.len(), 3);
    let rows = q(
        &d.db,
        "facts",
        r#"["in", "value", ["array", [2, "Linux"]]]"#,
    );
    assert_eq!(rows.len(), 3, "the kernel facts (processors is a map)");
}

crate::both!(
    regexes_match_the_same_on_both_backends,
    aggregates_and_json_numbers
);

/// A report whose resources are `(type, title, class, statuses)`; a resource with no
/// statuses is `skipped` (PuppetDB stores one `skipped` event for it).
fn report_with(certname: &str, resources: &[(&str, &str, &str, &[&str])]) -> Value {
    let mut report = doc(REPORT, certname);
    let template = report["resources"][0].clone();
    let list: Vec<Value> = resources
        .iter()
        .map(|(ty, title, class, statuses)| {
            let mut r = template.clone();
            r["resource_type"] = json!(ty);
            r["resource_title"] = json!(title);
            r["containment_path"] = json!(["Stage[main]", class, format!("{ty}[{title}]")]);
            r["skipped"] = json!(statuses.is_empty());
            let event = r["events"][0].clone();
            r["events"] = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut e = event.clone();
                    e["status"] = json!(s);
                    e["property"] = json!(format!("p{i}"));
                    e
                })
                .collect();
            r
        })
        .collect();
    report["resources"] = Value::Array(list);
    report
}

/// `/event-counts` and `/aggregate-event-counts` as PuppetDB counts: per subject, by status;
/// `count_by=certname` counts nodes; `counts_filter`, paging; and over HTTP-level errors.
fn event_counts_and_aggregates(b: Backend) {
    let d = db(b);
    let both: &[&str] = &["success", "success"];
    submit(
        &d.db,
        "store report",
        8,
        "web1.example.test",
        &report_with(
            "web1.example.test",
            &[
                ("File", "/etc/motd", "Main", both),
                ("Exec", "deploy", "App", &["failure"]),
                ("Service", "app", "App", &[]),
            ],
        ),
    );
    submit(
        &d.db,
        "store report",
        8,
        "web2.example.test",
        &report_with(
            "web2.example.test",
            &[
                ("File", "/etc/motd", "Main", &["success"]),
                ("Exec", "deploy", "App", &["noop"]),
            ],
        ),
    );
    let params = |p: &[(&str, &str)]| EventCountsQuery::from_params(p).unwrap();
    let by_resource =
        d.db.event_counts(
            None,
            &params(&[("summarize_by", "resource")]),
            &Paging::default(),
        )
        .unwrap();
    assert_eq!(
        by_resource.rows,
        vec![
            json!({"subject_type": "resource", "subject": {"type": "Exec", "title": "deploy"},
                   "failures": 1, "successes": 0, "noops": 1, "skips": 0}),
            json!({"subject_type": "resource", "subject": {"type": "File", "title": "/etc/motd"},
                   "failures": 0, "successes": 3, "noops": 0, "skips": 0}),
            json!({"subject_type": "resource", "subject": {"type": "Service", "title": "app"},
                   "failures": 0, "successes": 0, "noops": 0, "skips": 1}),
        ]
    );
    // Counting nodes: File[/etc/motd] succeeded on two nodes (three events).
    let nodes =
        d.db.event_counts(
            Some(r#"["=", "resource_type", "File"]"#),
            &params(&[("summarize_by", "resource"), ("count_by", "certname")]),
            &Paging::default(),
        )
        .unwrap();
    assert_eq!(nodes.rows.len(), 1);
    assert_eq!(nodes.rows[0]["successes"], 2);
    let classes =
        d.db.event_counts(
            None,
            &params(&[
                ("summarize_by", "containing_class"),
                ("counts_filter", r#"[">", "failures", 0]"#),
            ]),
            &Paging::default(),
        )
        .unwrap();
    assert_eq!(
        classes.rows,
        vec![
            json!({"subject_type": "containing_class", "subject": {"title": "App"},
                    "failures": 1, "successes": 0, "noops": 1, "skips": 1})
        ]
    );
    let paging = Paging::from_params(&[
        ("order_by", r#"[{"field": "successes", "order": "desc"}]"#),
        ("limit", "1"),
        ("include_total", "true"),
    ])
    .unwrap();
    let certs =
        d.db.event_counts(None, &params(&[("summarize_by", "certname")]), &paging)
            .unwrap();
    assert_eq!(certs.total, Some(2));
    assert_eq!(certs.rows.len(), 1);
    assert_eq!(certs.rows[0]["subject"]["title"], "web1.example.test");
    let bad = Paging::from_params(&[("order_by", r#"[{"field": "title"}]"#)]).unwrap();
    assert!(
        d.db.event_counts(None, &params(&[("summarize_by", "certname")]), &bad)
            .is_err()
    );
    assert!(
        d.db.event_counts(
            None,
            &params(&[("summarize_by", "certname,resource")]),
            &Paging::default()
        )
        .is_err()
    );

    let aggregate =
        d.db.aggregate_event_counts(
            Some(r#"["=", "certname", "web1.example.test"]"#),
            &params(&[("summarize_by", "resource,certname")]),
        )
        .unwrap();
    assert_eq!(
        aggregate,
        vec![
            json!({"summarize_by": "resource", "successes": 1, "failures": 1, "noops": 0,
                   "skips": 1, "total": 3}),
            json!({"summarize_by": "certname", "successes": 1, "failures": 1, "noops": 0,
                   "skips": 1, "total": 1}),
        ]
    );
    assert!(
        EventCountsQuery::from_params(&[
            ("summarize_by", "resource"),
            ("counts_filter", r#"["~", "failures", "1"]"#)
        ])
        .is_err()
    );
}

crate::both!(event_counts_and_aggregates);
