//! Subqueries in every form PuppetDB 7 accepts, as a table of (endpoint, query, answer) run on
//! both backends: `select_<entity>` as the whole query, `in` with `extract`/`from` and the
//! type coercion between fields of different types, implicit subqueries by PuppetDB's
//! relationships (PQL compiles to them), the pseudo-fields PuppetDB expands to subqueries,
//! and the subquery-only entities.

use puppet_db::{DbError, Paging, QueryErrorKind};
use serde_json::{Value, json};

use crate::common::*;

/// (endpoint, query, the rows in any order).
const CASES: &[(&str, &str, &str)] = &[
    // `["extract", fields, ["select_<entity>", query?]]` as the whole query: PuppetDB's engine
    // plans the extract over the subquery's entity, whatever the endpoint.
    (
        "reports",
        r#"["extract", ["certname", "name"], ["select_facts", ["=", "name", "kernel"]]]"#,
        r#"[{"certname": "db1.example.test", "name": "kernel"},
            {"certname": "web1.example.test", "name": "kernel"},
            {"certname": "web2.example.test", "name": "kernel"}]"#,
    ),
    (
        "",
        r#"["from", "nodes", ["extract", ["certname", "value"], ["select_facts",
            ["and", ["=", "name", "uptime_seconds"], ["=", "certname", "db1.example.test"]]]]]"#,
        r#"[{"certname": "db1.example.test", "value": 3600}]"#,
    ),
    (
        "environments",
        r#"["extract", "name", ["select_environments"]]"#,
        r#"[{"name": "production"}]"#,
    ),
    (
        "facts",
        r#"["extract", [["function", "count"], "name"], ["select_fact_contents", ["=", "name", "os"]],
            ["group_by", "name"]]"#,
        r#"[{"count": 12, "name": "os"}]"#,
    ),
    // An endpoint's own restriction goes into the subquery's query (PuppetDB's
    // `add-criteria`), and into an extract's filter.
    (
        "nodes/web1.example.test/facts",
        r#"["extract", ["certname", "value"], ["select_facts", ["=", "name", "kernel"]]]"#,
        r#"[{"certname": "web1.example.test", "value": "Linux"}]"#,
    ),
    (
        "nodes/web2.example.test/facts",
        r#"["extract", ["name"], ["=", "name", "kernel"]]"#,
        r#"[{"name": "kernel"}]"#,
    ),
    // `in` between fields of different types, coerced as PuppetDB's engine does: a string
    // field against JSON values compares their text, a JSON field against strings compares
    // JSON strings; JSON against JSON compares values.
    (
        "nodes",
        r#"["extract", "certname", ["in", "certname", ["extract", "value",
            ["select_fact_contents", ["=", "path", ["trusted", "certname"]]]]]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    (
        "fact_contents",
        r#"["extract", ["certname"], ["and", ["=", "path", ["trusted", "certname"]],
            ["in", "value", ["extract", "certname", ["select_nodes", ["=", "certname", "web2.example.test"]]]]]]"#,
        r#"[{"certname": "web2.example.test"}]"#,
    ),
    (
        "facts",
        r#"["extract", ["certname", "name"], ["in", "value", ["extract", "value",
            ["select_facts", ["and", ["=", "name", "os"], ["=", "certname", "db1.example.test"]]]]]]"#,
        r#"[{"certname": "db1.example.test", "name": "os"}]"#,
    ),
    (
        "",
        r#"["from", "facts", ["extract", ["certname"], ["and", ["=", "name", "uptime_seconds"],
            ["in", "value", ["from", "fact_contents", ["extract", ["value"],
                ["and", ["=", "certname", "web1.example.test"], ["=", "name", "uptime_seconds"]]]]]]]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    // Implicit subqueries join as PuppetDB relates the entities: facts and fact_contents on
    // (certname, name), reports and events on the report hash, environments and producers
    // by name, fact_paths by name or path.
    (
        "",
        r#"facts[certname, name] { name ~ "^(os|uptime_seconds)$" and fact_contents { value = "RedHat" } }"#,
        r#"[{"certname": "db1.example.test", "name": "os"}]"#,
    ),
    (
        "",
        r#"facts[name, value] { fact_contents { value < 4000 } and certname = "web1.example.test" }"#,
        r#"[{"name": "uptime_seconds", "value": 3600}, {"name": "processors", "value": {"count": 2}},
            {"name": "load", "value": 0.25}]"#,
    ),
    (
        "",
        r#"reports[certname] { events { status = "success" and resource_title = "/etc/motd" } }"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    (
        "",
        r#"events[certname, resource_title] { reports { certname = "web2.example.test" } }"#,
        r#"[{"certname": "web2.example.test", "resource_title": "/etc/motd"}]"#,
    ),
    (
        "",
        r#"environments { facts { name = "kernel" } }"#,
        r#"[{"name": "production"}]"#,
    ),
    (
        "",
        r#"fact_paths[path] { facts { value = "Linux" } }"#,
        r#"[{"path": ["kernel"]}]"#,
    ),
    (
        "",
        r#"fact_paths[path] { fact_contents { value = "RedHat" } }"#,
        r#"[{"path": ["os", "family"]}]"#,
    ),
    (
        "",
        r#"["from", "catalogs", ["extract", ["certname"], ["subquery", "producers", ["=", "name", "puppet.example.test"]]]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    ("producers", "", r#"[{"name": "puppet.example.test"}]"#),
    (
        "producers/puppet.example.test/factsets",
        r#"["extract", "certname", ["=", "certname", "web1.example.test"]]"#,
        r#"[{"certname": "web1.example.test"}]"#,
    ),
    (
        "",
        r#"["from", "producers", ["subquery", "reports", ["=", "certname", "db1.example.test"]]]"#,
        r#"[{"name": "puppet.example.test"}]"#,
    ),
    // Pseudo-fields, expanded as PuppetDB does.
    (
        "nodes",
        r#"["extract", "certname", ["and", ["=", ["fact", "kernel"], "Linux"], [">", ["fact", "uptime_seconds"], 100],
            ["~", ["fact", "kernel"], "^Lin"]]]"#,
        r#"[{"certname": "db1.example.test"}, {"certname": "web1.example.test"},
            {"certname": "web2.example.test"}]"#,
    ),
    (
        "nodes",
        r#"["extract", "certname", ["<", ["fact", "uptime_seconds"], 100]]"#,
        "[]",
    ),
    (
        "resources",
        r#"["extract", ["title"], ["and", ["=", ["parameter", "ensure"], "file"], ["=", "certname", "web1.example.test"]]]"#,
        r#"[{"title": "/etc/motd"}, {"title": "/etc/secret"}]"#,
    ),
    (
        "nodes",
        r#"["extract", "certname", ["and", ["=", ["node", "active"], true], ["~", "certname", "^db"]]]"#,
        r#"[{"certname": "db1.example.test"}]"#,
    ),
    (
        "nodes",
        r#"["extract", "certname", ["=", ["node", "active"], false]]"#,
        "[]",
    ),
    // PuppetDB's subquery-only entities.
    (
        "nodes",
        r#"["extract", "certname", ["and", ["~", "certname", "^web"],
            ["not", ["in", "certname", ["extract", "certname", ["select_not_active_nodes"]]]]]]"#,
        r#"[{"certname": "web1.example.test"}, {"certname": "web2.example.test"}]"#,
    ),
    (
        "reports",
        r#"["extract", "certname", ["and", ["=", "certname", "web2.example.test"],
            ["in", "hash", ["extract", "latest_report_hash", ["select_latest_report"]]]]]"#,
        r#"[{"certname": "web2.example.test"}]"#,
    ),
];

fn sorted(rows: Vec<Value>) -> Vec<Value> {
    let mut rows = rows;
    rows.sort_by_key(|r| r.to_string());
    rows
}

fn subqueries_answer_as_puppetdb(b: Backend) {
    let d = loaded(b);
    let mut failed = Vec::new();
    for (endpoint, query, expected) in CASES {
        let expected: Value = serde_json::from_str(expected).expect("expected rows");
        let expected = sorted(expected.as_array().cloned().unwrap_or_default());
        match d.db.query(endpoint, Some(query), &Paging::default()) {
            Ok(a) if sorted(a.rows.clone()) == expected => {}
            Ok(a) => failed.push(format!(
                "{endpoint} {query}\n  got      {}\n  expected {}",
                json!(sorted(a.rows)),
                json!(expected)
            )),
            Err(e) => failed.push(format!("{endpoint} {query}\n  error {e}")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// (endpoint, query, the start of PuppetDB's error text).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "nodes",
        r#"["extract", "certname", ["select-facts", ["=", "name", "kernel"]]]"#,
        "Unsupported subquery `select-facts` - did you mean `select_facts`?",
    ),
    (
        "nodes",
        r#"["in", "certname", ["extract", "certname", ["select_things"]]]"#,
        "Unsupported subquery `select_things`",
    ),
    (
        "resources",
        r#"["subquery", "fact_paths", ["=", "name", "kernel"]]"#,
        "No implicit relationship for entity 'fact_paths'",
    ),
    (
        "",
        r#"inventory { fact_paths { name = "kernel" } }"#,
        "No implicit relationship for entity 'fact_paths'",
    ),
    (
        "nodes",
        r#"["<", ["fact", "uptime_seconds"], "x"]"#,
        "Operator '<' not allowed on value 'x'",
    ),
    (
        "facts",
        r#"["in", "tags", ["array", ["a"]]]"#,
        "'tags' is not a queryable object for facts",
    ),
    (
        "resources",
        r#"["in", "tags", ["array", ["a"]]]"#,
        "Operator 'in'...'array' is not supported on array types",
    ),
];

fn bad_subqueries_are_refused_with_puppetdbs_text(b: Backend) {
    let d = loaded(b);
    for (endpoint, query, text) in REFUSED {
        match d.db.query(endpoint, Some(query), &Paging::default()) {
            Err(DbError::Query { kind, message }) => {
                assert!(message.starts_with(text), "{query}: {message}");
                assert_ne!(kind, QueryErrorKind::Regex, "{query}");
            }
            other => panic!("{endpoint} {query}: {other:?}"),
        }
    }
}

/// Which queries see a deactivated node's data, as in PuppetDB: the root endpoint and
/// `/nodes`, `/facts`, `/inventory`, `/resources`... restrict the top-level query to active
/// nodes unless `node_state` appears anywhere in it; `/reports`, `/catalogs`, `/events` and
/// the single-object routes do not; subqueries never are.
fn inactive_nodes_where_puppetdb_answers_them(b: Backend) {
    let d = loaded(b);
    let name = "web2.example.test";
    deactivate(&d.db, name, "2026-12-02T11:00:00.000Z");
    let web2 = r#"[{"certname": "web2.example.test"}]"#;
    let cases: &[(&str, &str, &str)] = &[
        (
            "reports",
            r#"["extract", "certname", ["=", "certname", "web2.example.test"]]"#,
            web2,
        ),
        (
            "catalogs",
            r#"["extract", "certname", ["=", "certname", "web2.example.test"]]"#,
            web2,
        ),
        (
            "events",
            r#"["extract", "certname", ["=", "certname", "web2.example.test"]]"#,
            web2,
        ),
        (
            "nodes/web2.example.test",
            r#"["extract", "certname"]"#,
            web2,
        ),
        (
            "",
            r#"["from", "reports", ["extract", "certname", ["=", "certname", "web2.example.test"]]]"#,
            "[]",
        ),
        (
            "nodes",
            r#"["extract", "certname", ["=", "certname", "web2.example.test"]]"#,
            "[]",
        ),
        (
            "facts",
            r#"["extract", "certname", ["and", ["=", "certname", "web2.example.test"], ["=", "name", "kernel"]]]"#,
            "[]",
        ),
        (
            "",
            r#"["from", "environments", ["subquery", "facts", ["=", "certname", "web2.example.test"]]]"#,
            r#"[{"name": "production"}]"#,
        ),
        (
            "",
            r#"["from", "nodes", ["extract", "certname", ["in", "certname", ["extract", "certname",
                ["select_nodes", ["=", "node_state", "inactive"]]]]]]"#,
            web2,
        ),
        ("", r#"nodes[certname] { node_state = "inactive" }"#, web2),
    ];
    for (endpoint, query, expected) in cases {
        let expected: Value = serde_json::from_str(expected).expect("expected rows");
        let got =
            d.db.query(endpoint, Some(query), &Paging::default())
                .unwrap_or_else(|e| panic!("{endpoint} {query}: {e}"))
                .rows;
        assert_eq!(json!(got), expected, "{endpoint} {query}");
    }
}

crate::both!(
    inactive_nodes_where_puppetdb_answers_them,
    subqueries_answer_as_puppetdb,
    bad_subqueries_are_refused_with_puppetdbs_text,
);
