//! `replace catalog inputs` v1 and the `catalog-inputs` / `catalog-input-contents` endpoints,
//! with the cases of PuppetDB's own `catalog_inputs_test.clj` and
//! `catalog_input_contents_test.clj` (two hosts, two hiera inputs each) and its storage rules.

use puppet_db::Paging;
use serde_json::{Value, json};

use crate::common::*;

const UUID1: &str = "6c2a2b15-1c1e-4081-a723-e9b40989d1e5";
const UUID2: &str = "80a1f1d2-1bd3-4f68-86db-74b3d0d96f95";
const T1: &str = "2026-12-03T09:00:00.001Z";
const T2: &str = "2026-12-03T09:00:00.002Z";

fn inputs(certname: &str, uuid: &str, ts: &str, inputs: Value) -> Value {
    json!({"certname": certname, "producer_timestamp": ts, "catalog_uuid": uuid, "inputs": inputs})
}

/// PuppetDB's sample commands (`testutils/catalog_inputs.clj`).
fn two_hosts(b: Backend) -> Db {
    let d = db(b);
    for (name, uuid, ts, key) in [
        ("host-1", UUID1, T1, "puppetdb::disable_cleartext"),
        ("host-2", UUID2, T2, "puppetdb::disable_ssl"),
    ] {
        // Facts make the node one PuppetDB would have (inputs come after a catalog).
        submit(&d.db, "replace facts", 5, name, &doc(FACTS, name));
        submit(
            &d.db,
            "replace catalog inputs",
            1,
            name,
            &inputs(
                name,
                uuid,
                ts,
                json!([["hiera", key], ["hiera", "puppetdb::globals::version"]]),
            ),
        );
    }
    d
}

fn sorted(rows: Vec<Value>) -> Vec<Value> {
    let mut rows = rows;
    rows.sort_by_key(|r| r.to_string());
    rows
}

fn rows(d: &Db, endpoint: &str, query: &str) -> Vec<Value> {
    sorted(q(&d.db, endpoint, query))
}

fn contents(host: &str, uuid: &str, ts: &str, names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"certname": host, "producer_timestamp": ts, "catalog_uuid": uuid, "type": "hiera", "name": n}))
        .collect()
}

fn catalog_inputs_queries_as_puppetdbs_tests(b: Backend) {
    let d = two_hosts(b);
    let host1 = json!({"certname": "host-1", "producer_timestamp": T1, "catalog_uuid": UUID1,
        "inputs": [["hiera", "puppetdb::disable_cleartext"], ["hiera", "puppetdb::globals::version"]]});
    let host2 = json!({"certname": "host-2", "producer_timestamp": T2, "catalog_uuid": UUID2,
        "inputs": [["hiera", "puppetdb::disable_ssl"], ["hiera", "puppetdb::globals::version"]]});
    assert_eq!(rows(&d, "catalog-inputs", ""), vec![host1.clone(), host2]);
    for query in [
        r#"["=", "certname", "host-1"]"#.to_string(),
        format!(r#"["=", "producer_timestamp", "{T1}"]"#),
        format!(r#"["=", "catalog_uuid", "{UUID1}"]"#),
        // The inputs array: any of its types and names.
        r#"["=", "inputs", "puppetdb::disable_cleartext"]"#.to_string(),
        r#"["~", "inputs", "cleartext$"]"#.to_string(),
    ] {
        assert_eq!(
            rows(&d, "catalog-inputs", &query),
            vec![host1.clone()],
            "{query}"
        );
    }
    assert_eq!(
        rows(&d, "catalog-inputs", r#"["=", "inputs", "hiera"]"#).len(),
        2
    );
    assert_eq!(
        rows(
            &d,
            "catalog-inputs",
            r#"["extract", ["certname"], ["~", "certname", ""]]"#
        ),
        vec![json!({"certname": "host-1"}), json!({"certname": "host-2"})]
    );
    assert_eq!(
        rows(
            &d,
            "catalog-inputs",
            r#"["extract", [["function", "count"], "certname"], ["group_by", "certname"]]"#
        ),
        vec![
            json!({"certname": "host-1", "count": 1}),
            json!({"certname": "host-2", "count": 1})
        ]
    );
    let paging = Paging::from_params(&[
        (
            "order_by",
            r#"[{"field": "producer_timestamp", "order": "desc"}]"#,
        ),
        ("limit", "1"),
    ])
    .expect("paging");
    let a =
        d.db.query(
            "catalog-inputs",
            Some(r#"["extract", "certname"]"#),
            &paging,
        )
        .expect("query");
    assert_eq!(a.rows, vec![json!({"certname": "host-2"})]);
    // Subqueries: in, from, implicit.
    for query in [
        r#"["extract", "certname", ["in", "certname", ["extract", "certname", ["select_catalog_inputs", ["=", "certname", "host-1"]]]]]"#.to_string(),
        r#"["extract", "certname", ["in", "certname", ["from", "catalog_inputs", ["extract", "certname", ["=", "certname", "host-1"]]]]]"#.to_string(),
        format!(r#"["extract", "certname", ["subquery", "catalog_inputs", ["=", "catalog_uuid", "{UUID1}"]]]"#),
    ] {
        assert_eq!(rows(&d, "catalog-inputs", &query), vec![json!({"certname": "host-1"})], "{query}");
    }

    let all: Vec<Value> = sorted(
        [
            contents(
                "host-1",
                UUID1,
                T1,
                &["puppetdb::disable_cleartext", "puppetdb::globals::version"],
            ),
            contents(
                "host-2",
                UUID2,
                T2,
                &["puppetdb::disable_ssl", "puppetdb::globals::version"],
            ),
        ]
        .concat(),
    );
    assert_eq!(rows(&d, "catalog-input-contents", ""), all);
    assert_eq!(
        rows(&d, "catalog-input-contents", r#"["=", "type", "hiera"]"#),
        all
    );
    assert_eq!(
        rows(
            &d,
            "catalog-input-contents",
            r#"["=", "certname", "host-1"]"#
        ),
        sorted(contents(
            "host-1",
            UUID1,
            T1,
            &["puppetdb::disable_cleartext", "puppetdb::globals::version"]
        ))
    );
    assert_eq!(
        rows(
            &d,
            "catalog-input-contents",
            r#"["=", "name", "puppetdb::globals::version"]"#
        ),
        sorted(
            [
                contents("host-1", UUID1, T1, &["puppetdb::globals::version"]),
                contents("host-2", UUID2, T2, &["puppetdb::globals::version"])
            ]
            .concat()
        )
    );
    // One row per input: `extract certname` answers each node twice.
    assert_eq!(
        rows(&d, "catalog-input-contents", r#"["extract", "certname"]"#).len(),
        4
    );
    assert_eq!(
        rows(
            &d,
            "catalog-input-contents",
            r#"["extract", [["function", "count"], "certname"], ["group_by", "certname"]]"#
        ),
        vec![
            json!({"certname": "host-1", "count": 2}),
            json!({"certname": "host-2", "count": 2})
        ]
    );
    let version = vec![
        json!({"certname": "host-1"}),
        json!({"certname": "host-1"}),
        json!({"certname": "host-2"}),
        json!({"certname": "host-2"}),
    ];
    for query in [
        r#"["extract", "certname", ["in", "name", ["extract", "name", ["select_catalog_input_contents", ["in", "name", ["array", ["puppetdb::globals::version"]]]]]]]"#,
        r#"["extract", "certname", ["in", "name", ["from", "catalog_input_contents", ["extract", "name", ["in", "name", ["array", ["puppetdb::globals::version"]]]]]]]"#,
        r#"["extract", "certname", ["subquery", "catalog_input_contents", ["in", "name", ["array", ["puppetdb::globals::version"]]]]]"#,
    ] {
        let got = rows(&d, "catalog-input-contents", query);
        if query.contains("subquery") {
            assert_eq!(got, version, "{query}");
        } else {
            // Only the rows named so.
            assert_eq!(
                got,
                vec![json!({"certname": "host-1"}), json!({"certname": "host-2"})],
                "{query}"
            );
        }
    }
    // Nodes by the inputs of their catalogs (PQL).
    assert_eq!(
        rows(
            &d,
            "",
            r#"nodes[certname] { catalog_input_contents { name = "puppetdb::disable_ssl" } }"#
        ),
        vec![json!({"certname": "host-2"})]
    );
}

fn catalog_inputs_are_stored_as_puppetdb_stores_them(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    submit(&d.db, "replace facts", 5, name, &doc(FACTS, name));
    submit(
        &d.db,
        "replace catalog inputs",
        1,
        name,
        &inputs(
            name,
            UUID1,
            T2,
            json!([["hiera", "b"], ["hiera", "a"], ["hiera", "b"]]),
        ),
    );
    let stored = || {
        q(
            &d.db,
            "catalog-inputs",
            r#"["extract", ["catalog_uuid", "inputs"]]"#,
        )
    };
    // Distinct and sorted.
    assert_eq!(
        stored(),
        vec![json!({"catalog_uuid": UUID1, "inputs": [["hiera", "a"], ["hiera", "b"]]})]
    );
    // The same producer_timestamp is stale (unlike catalogs and facts), an older one too.
    for ts in [T2, T1] {
        submit(
            &d.db,
            "replace catalog inputs",
            1,
            name,
            &inputs(name, UUID2, ts, json!([["hiera", "c"]])),
        );
        assert_eq!(stored()[0]["catalog_uuid"], json!(UUID1), "{ts}");
    }
    // An empty list does nothing at all.
    submit(
        &d.db,
        "replace catalog inputs",
        1,
        name,
        &inputs(name, UUID2, "2026-12-03T10:00:00.000Z", json!([])),
    );
    assert_eq!(stored()[0]["catalog_uuid"], json!(UUID1));
    // A newer one replaces them.
    submit(
        &d.db,
        "replace catalog inputs",
        1,
        name,
        &inputs(
            name,
            UUID2,
            "2026-12-03T10:00:00.000Z",
            json!([["hiera", "c"]]),
        ),
    );
    assert_eq!(
        stored(),
        vec![json!({"catalog_uuid": UUID2, "inputs": [["hiera", "c"]]})]
    );
    // A node deactivated is not answered unless asked for.
    deactivate(&d.db, name, "2026-12-03T11:00:00.000Z");
    assert!(stored().is_empty());
    assert_eq!(
        q(
            &d.db,
            "catalog-inputs",
            r#"["=", "node_state", "inactive"]"#
        )
        .len(),
        1
    );
}

crate::both!(
    catalog_inputs_queries_as_puppetdbs_tests,
    catalog_inputs_are_stored_as_puppetdb_stores_them,
);
