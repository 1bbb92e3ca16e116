//! What README's "What is supported, and what is not" claims, endpoint by endpoint: the path
//! forms of PuppetDB 7's query API (nested ones and their parent checks), `/fact-names`,
//! `/reports/<hash>/metrics` and `/logs`, the `select_params` and `select_latest_report_id`
//! subqueries, and PuppetDB's text for what it refuses. Run on both backends.

use puppet_db::{DbError, Paging, QueryErrorKind};
use serde_json::{Value, json};

use crate::common::*;

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// (path, query, the rows in any order).
const CASES: &[(&str, &str, &str)] = &[
    // Nested path forms: each is the inner route restricted by the outer one.
    (
        "nodes/web1.example.test/facts/kernel",
        "",
        r#"[{"certname": "web1.example.test", "name": "kernel", "value": "Linux",
             "environment": "production"}]"#,
    ),
    (
        "nodes/web1.example.test/facts/kernel/Linux",
        r#"["extract", ["certname", "name"]]"#,
        r#"[{"certname": "web1.example.test", "name": "kernel"}]"#,
    ),
    ("nodes/web1.example.test/facts/kernel/Darwin", "", "[]"),
    (
        "nodes/db1.example.test/resources/File",
        r#"["extract", ["certname", "title"]]"#,
        r#"[{"certname": "db1.example.test", "title": "/etc/motd"},
            {"certname": "db1.example.test", "title": "/etc/secret"}]"#,
    ),
    (
        "nodes/db1.example.test/resources/File/%2Fetc%2Fmotd",
        r#"["extract", ["certname", "title"]]"#,
        r#"[{"certname": "db1.example.test", "title": "/etc/motd"}]"#,
    ),
    (
        "nodes/db1.example.test/resources",
        r#"["extract", ["type", "title"], ["=", "type", "Exec"]]"#,
        r#"[{"type": "Exec", "title": "reload"}]"#,
    ),
    (
        "catalogs/web2.example.test/resources/Exec",
        r#"["extract", ["certname", "title"]]"#,
        r#"[{"certname": "web2.example.test", "title": "reload"}]"#,
    ),
    (
        "catalogs/web2.example.test/resources/Exec/reload",
        r#"["extract", ["certname", "type"]]"#,
        r#"[{"certname": "web2.example.test", "type": "Exec"}]"#,
    ),
    // PuppetDB 7 answers the factset itself here.
    (
        "factsets/web2.example.test/facts",
        r#"["extract", ["certname", "environment"]]"#,
        r#"[{"certname": "web2.example.test", "environment": "production"}]"#,
    ),
    (
        "environments/production/facts/kernel",
        r#"["extract", ["certname"], ["=", "certname", "db1.example.test"]]"#,
        r#"[{"certname": "db1.example.test"}]"#,
    ),
    (
        "environments/production/resources/Exec/reload",
        r#"["extract", ["certname"]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    (
        "environments/production/reports",
        r#"["extract", ["certname"], ["=", "certname", "web1.example.test"]]"#,
        r#"[{"certname": "web1.example.test"}]"#,
    ),
    (
        "environments/production/events",
        r#"["extract", ["certname", "resource_title"], ["=", "certname", "web1.example.test"]]"#,
        r#"[{"certname": "web1.example.test", "resource_title": "/etc/motd"}]"#,
    ),
    (
        "producers/puppet.example.test/catalogs",
        r#"["extract", ["certname"], ["=", "certname", "db1.example.test"]]"#,
        r#"[{"certname": "db1.example.test"}]"#,
    ),
    (
        "producers/puppet.example.test/reports",
        r#"["extract", ["certname"], ["=", "certname", "db1.example.test"]]"#,
        r#"[{"certname": "db1.example.test"}]"#,
    ),
    (
        "producers/puppet.example.test/factsets/web1.example.test/facts",
        r#"["extract", ["certname", "producer"]]"#,
        r#"[{"certname": "web1.example.test", "producer": "puppet.example.test"}]"#,
    ),
    // `select_params`: PuppetDB's resource parameters subquery (values as JSON text).
    (
        "resources",
        r#"["extract", ["certname", "title"], ["in", "resource", ["extract", "res_param_resource",
            ["select_params", ["and", ["=", "res_param_name", "refreshonly"],
                ["=", "res_param_value", "true"]]]]]]"#,
        r#"[{"certname": "db1.example.test", "title": "reload"},
            {"certname": "web1.example.test", "title": "reload"},
            {"certname": "web2.example.test", "title": "reload"}]"#,
    ),
    (
        "nodes/web1.example.test/resources",
        r#"["extract", ["title"], ["in", "resource", ["extract", "res_param_resource",
            ["select_params", ["and", ["=", "res_param_name", "mode"],
                ["=", "res_param_value", "\"0644\""]]]]]]"#,
        r#"[{"title": "/etc/motd"}]"#,
    ),
    (
        "resources",
        r#"["extract", ["title"], ["in", "resource", ["extract", "res_param_resource",
            ["select_params", ["and", ["~", "res_param_name", "^(ip|command)$"],
                ["~", "res_param_value", "^\"(10|/bin)"]]]]]]"#,
        r#"[{"title": "reload"}, {"title": "reload"}, {"title": "reload"},
            {"title": "web1.example.test"}, {"title": "web1.example.test"},
            {"title": "web1.example.test"}]"#,
    ),
    (
        "",
        r#"["from", "resources", ["extract", ["title"], ["and", ["=", "certname", "db1.example.test"],
            ["in", "resource", ["from", "params", ["extract", ["res_param_resource"],
                ["=", "res_param_name", "ensure"]]]]]]]"#,
        r#"[{"title": "/etc/motd"}, {"title": "/etc/secret"}]"#,
    ),
    // `to_string`: PostgreSQL's `to_char` formats, as PuppetDB answers them.
    (
        "reports",
        r#"["extract", [["function", "to_string", "start_time", "FMDD Month YYYY HH24:MI"], "certname"],
            ["=", "certname", "db1.example.test"]]"#,
        r#"[{"to_string": "2 December  2026 10:00", "certname": "db1.example.test"}]"#,
    ),
    (
        "facts",
        r#"["extract", [["function", "to_string", "value", "999999999"]],
            ["and", ["=", "name", "uptime_seconds"], ["=", "certname", "db1.example.test"]]]"#,
        r#"[{"to_string": "      3600"}]"#,
    ),
    (
        "",
        r#"reports[to_string(producer_timestamp, "YYYY-MM")] { certname = "db1.example.test" }"#,
        r#"[{"to_string": "2026-12"}]"#,
    ),
    // `select_latest_report_id`: each node's latest report (here by its hash).
    (
        "reports",
        r#"["extract", ["certname"], ["in", "hash", ["extract", "latest_report_id",
            ["select_latest_report_id"]]]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    (
        "events",
        r#"["extract", [["function", "count"]], ["in", "report", ["extract", "latest_report_id",
            ["select_latest_report_id"]]]]"#,
        r#"[{"count": 3}]"#,
    ),
];

fn answers_the_path_forms_and_subqueries(b: Backend) {
    let d = loaded(b);
    for (path, query, expected) in CASES {
        let expected: Vec<Value> = serde_json::from_str(expected).expect("expected rows");
        let query = (!query.is_empty()).then_some(*query);
        let rows =
            d.db.query(path, query, &Paging::default())
                .unwrap_or_else(|e| panic!("{path} {query:?}: {e}"))
                .rows;
        assert_eq!(sorted(rows), sorted(expected), "{path} {query:?}");
    }
}

fn fact_names_metrics_and_logs(b: Backend) {
    let d = loaded(b);
    // `/fact-names`: names as strings, sorted unless ordered otherwise, with paging.
    let names = d.db.query("fact-names", None, &Paging::default()).unwrap();
    assert_eq!(
        names.rows,
        json!([
            "is_virtual",
            "kernel",
            "load",
            "networking",
            "os",
            "processors",
            "trusted",
            "uptime_seconds"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    let paging = Paging::from_params(&[
        ("order_by", r#"[{"field": "name", "order": "desc"}]"#),
        ("limit", "2"),
        ("include_total", "true"),
    ])
    .unwrap();
    let page =
        d.db.query("fact-names", Some(r#"["~", "name", "^[kl]"]"#), &paging)
            .unwrap();
    assert_eq!(page.rows, vec![json!("load"), json!("kernel")]);
    assert_eq!(page.total, Some(2));

    // `/reports/<hash>/metrics` and `/logs`: the report's own arrays.
    let hash = q(
        &d.db,
        "reports",
        r#"["extract", "hash", ["=", "certname", "web1.example.test"]]"#,
    )[0]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let report: Value = serde_json::from_str(REPORT).unwrap();
    let metrics =
        d.db.query(&format!("reports/{hash}/metrics"), None, &Paging::default())
            .unwrap();
    assert!(metrics.single);
    assert_eq!(metrics.rows, vec![report["metrics"].clone()]);
    let logs =
        d.db.query(&format!("reports/{hash}/logs"), None, &Paging::default())
            .unwrap();
    assert_eq!(logs.rows, vec![report["logs"].clone()]);
    // They take no query (PuppetDB: an unsupported parameter).
    let err =
        d.db.query(
            &format!("reports/{hash}/logs"),
            Some(r#"["=", "certname", "x"]"#),
            &Paging::default(),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "Unsupported query parameter 'query'");
}

fn refused(d: &Db, path: &str, query: Option<&str>) -> (QueryErrorKind, String) {
    match d.db.query(path, query, &Paging::default()) {
        Err(DbError::Query { kind, message }) => (kind, message),
        other => panic!("{path} {query:?}: expected a query error, got {other:?}"),
    }
}

fn unknown_objects_and_fields_get_puppetdbs_text(b: Backend) {
    let d = loaded(b);
    // Single objects and nested routes whose parent is unknown: 404 with PuppetDB's text.
    for (path, message) in [
        ("nodes/nobody", "No information is known about node nobody"),
        (
            "catalogs/nobody",
            "No information is known about catalog nobody",
        ),
        (
            "factsets/nobody",
            "No information is known about factset nobody",
        ),
        (
            "environments/nowhere",
            "No information is known about environment nowhere",
        ),
        (
            "producers/nobody",
            "No information is known about producer nobody",
        ),
        (
            "nodes/nobody/facts",
            "No information is known about node nobody",
        ),
        (
            "nodes/nobody/facts/kernel/Linux",
            "No information is known about node nobody",
        ),
        (
            "nodes/nobody/resources/File",
            "No information is known about node nobody",
        ),
        (
            "catalogs/nobody/edges",
            "No information is known about catalog nobody",
        ),
        (
            "catalogs/nobody/resources",
            "No information is known about catalog nobody",
        ),
        (
            "factsets/nobody/facts",
            "No information is known about factset nobody",
        ),
        (
            "reports/0000/events",
            "No information is known about report 0000",
        ),
        (
            "reports/0000/metrics",
            "No information is known about report 0000",
        ),
        (
            "reports/0000/logs",
            "No information is known about report 0000",
        ),
        (
            "environments/nowhere/facts",
            "No information is known about environment nowhere",
        ),
        (
            "producers/nobody/reports",
            "No information is known about producer nobody",
        ),
    ] {
        let (kind, got) = refused(&d, path, None);
        assert_eq!(kind, QueryErrorKind::UnknownEntity, "{path}");
        assert_eq!(got, message, "{path}");
    }
    // A path PuppetDB has no route for.
    let (_, got) = refused(&d, "nodes/web1.example.test/edges", None);
    assert_eq!(
        got,
        "No such endpoint: /pdb/query/v4/nodes/web1.example.test/edges"
    );
    // Fields: unknown in a filter (the queryable ones listed sorted, as PuppetDB does) and
    // unknown on the left of an `in`.
    let (kind, got) = refused(&d, "edges", Some(r#"["=", "nosuch", "x"]"#));
    assert_eq!(kind, QueryErrorKind::UnknownField);
    assert_eq!(
        got,
        "'nosuch' is not a queryable object for edges. Known queryable objects are 'certname', \
         'relationship', 'source_title', 'source_type', 'target_title', and 'target_type'"
    );
    let (kind, got) = refused(
        &d,
        "nodes",
        Some(
            r#"["in", "nosuch", ["extract", "certname", ["select_facts", ["=", "name", "kernel"]]]]"#,
        ),
    );
    assert_eq!(kind, QueryErrorKind::UnknownField);
    assert!(
        got.starts_with(
            "Can't match on unknown 'nodes' field 'nosuch' for 'in'. Acceptable fields are \
             'cached_catalog_status', 'catalog_environment', 'catalog_timestamp', 'certname',"
        ),
        "{got}"
    );
    // An entity PuppetDB does not know at the top level (`params` is one only inside `in`).
    for name in ["foo", "params"] {
        let (kind, got) = refused(&d, "", Some(&format!(r#"["from", "{name}"]"#)));
        assert_eq!(kind, QueryErrorKind::UnknownEntity);
        assert_eq!(got, format!("Invalid entity '{name}' in query"));
    }
    // `to_string` needs a field and a format, and formats timestamps and numbers only.
    let (_, got) = refused(
        &d,
        "reports",
        Some(r#"["extract", [["function", "to_string", "producer_timestamp"]]]"#),
    );
    assert_eq!(
        got,
        "wrong number of arguments (1) provided for function to_string"
    );
    let (_, got) = refused(
        &d,
        "nodes",
        Some(r#"["extract", [["function", "to_string", "certname", "999"]]]"#),
    );
    assert_eq!(
        got,
        "to_string formats timestamps and numbers, not the field certname"
    );
    let (_, got) = refused(
        &d,
        "",
        Some(
            r#"["from", "environments", ["in", ["a", "name", "b"], ["extract", ["x", "y", "z"], ["select_facts"]]]]"#,
        ),
    );
    assert_eq!(
        got,
        "Can't match on unknown 'environments' fields 'a' and 'b' for 'in'. Acceptable fields are 'name'"
    );
}

/// Paging refusals with PuppetDB's text, and PQL's negations as PuppetDB parses them.
#[test]
fn paging_errors_and_pql_negations() {
    let e = Paging::from_params(&[("limit", "x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Illegal value 'x' for :limit; expected a positive non-zero integer."
    );
    let e = Paging::from_params(&[("order_by", r#"[{"field": "certname", "order": "up"}]"#)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"Illegal value '{:field "certname", :order "up"}' in :order_by; 'order' must be either 'asc' or 'desc'"#
    );
    let ast = puppet_db::parse_query(
        r#"nodes[certname] { certname != "web1.example.test" and certname !~ "^db" and !(certname = "x") }"#,
    )
    .unwrap();
    assert_eq!(
        ast,
        json!([
            "from",
            "nodes",
            [
                "extract",
                ["certname"],
                [
                    "and",
                    ["not", ["=", "certname", "web1.example.test"]],
                    ["not", ["~", "certname", "^db"]],
                    ["not", ["=", "certname", "x"]]
                ]
            ]
        ])
    );
}

fn unknown_order_by_column(b: Backend) {
    let d = loaded(b);
    let paging = Paging::from_params(&[("order_by", r#"[{"field": "nosuch"}]"#)]).unwrap();
    let e = d.db.query("edges", None, &paging).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unrecognized column 'nosuch' specified in :order_by; Supported columns are 'certname', \
         'relationship', 'source_title', 'source_type', 'target_title', 'target_type'"
    );
    // Negations run: every node but web1 and the db nodes.
    let rows = q(
        &d.db,
        "",
        r#"nodes[certname] { certname != "web1.example.test" and certname !~ "^db" }"#,
    );
    assert_eq!(rows, vec![json!({"certname": "web2.example.test"})]);
}

crate::both!(
    unknown_order_by_column,
    answers_the_path_forms_and_subqueries,
    fact_names_metrics_and_logs,
    unknown_objects_and_fields_get_puppetdbs_text,
);
