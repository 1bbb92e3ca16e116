//! PQL: PuppetDB's own test pairs (test/puppetlabs/puppetdb/pql_test.clj), errors, fuzzing.

use proptest::prelude::*;
use puppet_db::query::pql::parse;
use serde_json::{Value, json};

use crate::common::*;

/// PuppetDB's `test-pql->ast` pairs: PQL and the AST PuppetDB makes of it.
fn puppetdb_pairs() -> Vec<(String, Value)> {
    let mut pairs: Vec<(String, Value)> = vec![
        (
            "nodes { a = 'a' }".into(),
            json!(["from", "nodes", ["=", "a", "a"]]),
        ),
        (
            "nodes { a = 1 or b = 2 }".into(),
            json!(["from", "nodes", ["or", ["=", "a", 1], ["=", "b", 2]]]),
        ),
        (
            "nodes { a = 1 and b = 2 }".into(),
            json!(["from", "nodes", ["and", ["=", "a", 1], ["=", "b", 2]]]),
        ),
        (
            format!("nodes {{ a = {} and b = {} }}", i64::MAX, i64::MIN),
            json!([
                "from",
                "nodes",
                ["and", ["=", "a", i64::MAX], ["=", "b", i64::MIN]]
            ]),
        ),
    ];
    for spacing in [
        "[\"foo\",\"bar\"]",
        "[\"foo\",\"bar\" ]",
        "[ \"foo\",\"bar\" ]",
        "[ \"foo\", \"bar\" ]",
        "[ \"foo\", \"bar\"]",
        "[\"foo\", \"bar\" ]",
    ] {
        pairs.push((
            format!("fact_contents {{path = {spacing}}}"),
            json!(["from", "fact_contents", ["=", "path", ["foo", "bar"]]]),
        ));
    }
    let more: Vec<(&str, Value)> = vec![
        (
            "fact_contents {path = [\"foo\", 1 ]}",
            json!(["from", "fact_contents", ["=", "path", ["foo", 1]]]),
        ),
        (
            "nodes { !(a = 1) }",
            json!(["from", "nodes", ["not", ["=", "a", 1]]]),
        ),
        (
            "nodes { !a = 1 }",
            json!(["from", "nodes", ["not", ["=", "a", 1]]]),
        ),
        (
            "events { line is null }",
            json!(["from", "events", ["null?", "line", true]]),
        ),
        (
            "events { line is not null }",
            json!(["from", "events", ["null?", "line", false]]),
        ),
        (
            "facts { name = 'kernel' }",
            json!(["from", "facts", ["=", "name", "kernel"]]),
        ),
        (
            "facts { name = 'escapemy\\'quote' }",
            json!(["from", "facts", ["=", "name", "escapemy'quote"]]),
        ),
        (
            "facts { name = 'carriage\\nreturn' }",
            json!(["from", "facts", ["=", "name", "carriage\\nreturn"]]),
        ),
        (
            "facts { name = \"escapemy\\\"quote\" }",
            json!(["from", "facts", ["=", "name", "escapemy\"quote"]]),
        ),
        (
            "facts { name = \"carriage\\nreturn\" }",
            json!(["from", "facts", ["=", "name", "carriage\nreturn"]]),
        ),
        (
            "facts { name ~ 'escapemy\\'quote' }",
            json!(["from", "facts", ["~", "name", "escapemy'quote"]]),
        ),
        (
            "fact_contents { path ~> ['networking', 'eth.*'] }",
            json!([
                "from",
                "fact_contents",
                ["~>", "path", ["networking", "eth.*"]]
            ]),
        ),
        (
            "nodes { a = 1 or b = 2 and c = 3 }",
            json!([
                "from",
                "nodes",
                ["or", ["=", "a", 1], ["and", ["=", "b", 2], ["=", "c", 3]]]
            ]),
        ),
        (
            "nodes { a = 1 or b = 2 and c = 3 or d = 4 }",
            json!([
                "from",
                "nodes",
                [
                    "or",
                    ["=", "a", 1],
                    ["and", ["=", "b", 2], ["=", "c", 3]],
                    ["=", "d", 4]
                ]
            ]),
        ),
        (
            "nodes { a = 1 or b = 2 and (c = 3 or d = 4) }",
            json!([
                "from",
                "nodes",
                [
                    "or",
                    ["=", "a", 1],
                    ["and", ["=", "b", 2], ["or", ["=", "c", 3], ["=", "d", 4]]]
                ]
            ]),
        ),
        (
            "nodes { a = 1 or b = 2 and !(c = 3 or d = 4) }",
            json!([
                "from",
                "nodes",
                [
                    "or",
                    ["=", "a", 1],
                    [
                        "and",
                        ["=", "b", 2],
                        ["not", ["or", ["=", "c", 3], ["=", "d", 4]]]
                    ]
                ]
            ]),
        ),
        (
            "nodes { a = 1 or b = 2 and (!c = 3 or d = 4) }",
            json!([
                "from",
                "nodes",
                [
                    "or",
                    ["=", "a", 1],
                    [
                        "and",
                        ["=", "b", 2],
                        ["or", ["not", ["=", "c", 3]], ["=", "d", 4]]
                    ]
                ]
            ]),
        ),
        (
            "nodes { ( a = 1 or b = 2) }",
            json!(["from", "nodes", ["or", ["=", "a", 1], ["=", "b", 2]]]),
        ),
        (
            "nodes { (a = 1 or b = 2 ) }",
            json!(["from", "nodes", ["or", ["=", "a", 1], ["=", "b", 2]]]),
        ),
        ("nodes[] {}", json!(["from", "nodes", ["extract", []]])),
        (
            "nodes[a, b, c] {}",
            json!(["from", "nodes", ["extract", ["a", "b", "c"]]]),
        ),
        (
            "nodes[a, b, c] { a = 1 }",
            json!(["from", "nodes", ["extract", ["a", "b", "c"], ["=", "a", 1]]]),
        ),
        (
            "inventory[facts.os.family, facts.os.release] { facts.os.family = \"Debian\" }",
            json!([
                "from",
                "inventory",
                [
                    "extract",
                    ["facts.os.family", "facts.os.release"],
                    ["=", "facts.os.family", "Debian"]
                ]
            ]),
        ),
        (
            "nodes[count(a)] {}",
            json!(["from", "nodes", ["extract", [["function", "count", "a"]]]]),
        ),
        (
            "nodes[count()] {}",
            json!(["from", "nodes", ["extract", [["function", "count"]]]]),
        ),
        (
            "nodes [a, b, c] { a in resources [x] { x = 1 } }",
            json!([
                "from",
                "nodes",
                [
                    "extract",
                    ["a", "b", "c"],
                    [
                        "in",
                        "a",
                        ["from", "resources", ["extract", ["x"], ["=", "x", 1]]]
                    ]
                ]
            ]),
        ),
        (
            "nodes[a, b, c] { resources { x = 1 } }",
            json!([
                "from",
                "nodes",
                [
                    "extract",
                    ["a", "b", "c"],
                    ["subquery", "resources", ["=", "x", 1]]
                ]
            ]),
        ),
        (
            "nodes[a, b, c] { [a, b] in resources [a, b] { x = 1 }}",
            json!([
                "from",
                "nodes",
                [
                    "extract",
                    ["a", "b", "c"],
                    [
                        "in",
                        ["a", "b"],
                        ["from", "resources", ["extract", ["a", "b"], ["=", "x", 1]]]
                    ]
                ]
            ]),
        ),
        (
            "nodes[a, b, c] { [a, b] in [1, 2] }",
            json!([
                "from",
                "nodes",
                [
                    "extract",
                    ["a", "b", "c"],
                    ["in", ["a", "b"], ["array", [1, 2]]]
                ]
            ]),
        ),
        (
            "nodes[a,b,c] { resources { x = 1 } }",
            json!([
                "from",
                "nodes",
                [
                    "extract",
                    ["a", "b", "c"],
                    ["subquery", "resources", ["=", "x", 1]]
                ]
            ]),
        ),
        (
            "facts[value] { [certname,name] in fact_contents[certname,name] { value < 100 }}",
            json!([
                "from",
                "facts",
                [
                    "extract",
                    ["value"],
                    [
                        "in",
                        ["certname", "name"],
                        [
                            "from",
                            "fact_contents",
                            ["extract", ["certname", "name"], ["<", "value", 100]]
                        ]
                    ]
                ]
            ]),
        ),
        (
            "facts[value] { fact_contents { value < 100 } }",
            json!([
                "from",
                "facts",
                [
                    "extract",
                    ["value"],
                    ["subquery", "fact_contents", ["<", "value", 100]]
                ]
            ]),
        ),
        (
            "facts[name, count()] { group by name }",
            json!([
                "from",
                "facts",
                [
                    "extract",
                    ["name", ["function", "count"]],
                    ["group_by", "name"]
                ]
            ]),
        ),
        (
            "facts[name, count(value)] { certname ~ 'web.*' group by name }",
            json!([
                "from",
                "facts",
                [
                    "extract",
                    ["name", ["function", "count", "value"]],
                    ["~", "certname", "web.*"],
                    ["group_by", "name"]
                ]
            ]),
        ),
        (
            "events[count(), status, certname] { certname ~ 'web.*' group by status, certname }",
            json!([
                "from",
                "events",
                [
                    "extract",
                    [["function", "count"], "status", "certname"],
                    ["~", "certname", "web.*"],
                    ["group_by", "status", "certname"]
                ]
            ]),
        ),
        ("reports{limit 1}", json!(["from", "reports", ["limit", 1]])),
        (
            "reports {limit 1 offset 1}",
            json!(["from", "reports", ["limit", 1], ["offset", 1]]),
        ),
        (
            "reports {certname = 'foo' limit 1 offset 1}",
            json!([
                "from",
                "reports",
                ["=", "certname", "foo"],
                ["limit", 1],
                ["offset", 1]
            ]),
        ),
        (
            "reports[certname, receive_time]{certname = 'foo' limit 1 offset 1}",
            json!([
                "from",
                "reports",
                [
                    "extract",
                    ["certname", "receive_time"],
                    ["=", "certname", "foo"]
                ],
                ["limit", 1],
                ["offset", 1]
            ]),
        ),
        (
            "reports[certname]{certname = 'foo' limit 10 order by certname}",
            json!([
                "from",
                "reports",
                ["extract", ["certname"], ["=", "certname", "foo"]],
                ["limit", 10],
                ["order_by", ["certname"]]
            ]),
        ),
        (
            "reports[certname]{certname = 'foo' limit 10 order by certname desc}",
            json!([
                "from",
                "reports",
                ["extract", ["certname"], ["=", "certname", "foo"]],
                ["limit", 10],
                ["order_by", [["certname", "desc"]]]
            ]),
        ),
        (
            "reports[certname]{certname = 'foo' limit 10 order by certname desc, receive_time asc}",
            json!([
                "from",
                "reports",
                ["extract", ["certname"], ["=", "certname", "foo"]],
                ["limit", 10],
                ["order_by", [["certname", "desc"], ["receive_time", "asc"]]]
            ]),
        ),
        (
            "reports[certname]{certname = 'foo' limit 10 order by certname, receive_time desc}",
            json!([
                "from",
                "reports",
                ["extract", ["certname"], ["=", "certname", "foo"]],
                ["limit", 10],
                ["order_by", ["certname", ["receive_time", "desc"]]]
            ]),
        ),
        (
            "reports[certname]{certname = 'foo' order by certname desc, receive_time asc limit 10}",
            json!([
                "from",
                "reports",
                ["extract", ["certname"], ["=", "certname", "foo"]],
                ["order_by", [["certname", "desc"], ["receive_time", "asc"]]],
                ["limit", 10]
            ]),
        ),
        (
            "reports{receive_time > '2016-02-07T08:45:42.170687300Z'}",
            json!([
                "from",
                "reports",
                [">", "receive_time", "2016-02-07T08:45:42.170687300Z"]
            ]),
        ),
        (
            "reports{receive_time >= '2016-02-07T08:45:42.170687300Z'}",
            json!([
                "from",
                "reports",
                [">=", "receive_time", "2016-02-07T08:45:42.170687300Z"]
            ]),
        ),
        (
            "reports{receive_time <= '2016-02-07T08:45:42.170687300Z'}",
            json!([
                "from",
                "reports",
                ["<=", "receive_time", "2016-02-07T08:45:42.170687300Z"]
            ]),
        ),
        (
            "reports{receive_time < '2016-02-07T08:45:42.170687300Z'}",
            json!([
                "from",
                "reports",
                ["<", "receive_time", "2016-02-07T08:45:42.170687300Z"]
            ]),
        ),
    ];
    pairs.extend(more.into_iter().map(|(p, a)| (p.to_string(), a)));
    pairs
}

#[test]
fn puppetdbs_own_pql_pairs() {
    let mut failures = Vec::new();
    let pairs = puppetdb_pairs();
    for (pql, ast) in &pairs {
        match parse(pql) {
            Ok(got) if &got == ast => {}
            Ok(got) => failures.push(format!("{pql}\n  want {ast}\n  got  {got}")),
            Err(e) => failures.push(format!("{pql}\n  error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        pairs.len(),
        failures.join("\n")
    );
}

fn the_issues_examples_run(b: Backend) {
    let d = loaded(b);
    let rows = q(&d.db, "", r#"nodes { certname ~ "web" }"#);
    assert_eq!(certnames(&rows), ["web1.example.test", "web2.example.test"]);
    let rows = q(
        &d.db,
        "",
        r#"inventory[certname] { facts.os.family = "Debian" }"#,
    );
    assert_eq!(certnames(&rows), ["web1.example.test", "web2.example.test"]);
    assert_eq!(rows[0].as_object().map(|o| o.len()), Some(1));
    let rows = q(&d.db, "", r#"resources[certname, title] { type = "Exec" }"#);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["title"], json!("reload"));
    let rows = q(
        &d.db,
        "",
        r#"nodes[certname] { inventory { facts.os.family = "RedHat" } }"#,
    );
    assert_eq!(rows, vec![json!({"certname": "db1.example.test"})]);
    let rows = q(
        &d.db,
        "",
        r#"nodes[certname] { certname in inventory[certname] { facts.kernel = "Linux" } order by certname limit 1 }"#,
    );
    assert_eq!(rows, vec![json!({"certname": "db1.example.test"})]);
    let rows = q(
        &d.db,
        "",
        "facts[name, count()] { name = 'kernel' group by name }",
    );
    assert_eq!(rows, vec![json!({"name": "kernel", "count": 3})]);
}

#[test]
fn parse_errors_give_line_and_column() {
    for (pql, line, column) in [
        ("nodes { certname = }", 1, 20),
        ("nodez { certname = 'x' }", 1, 1),
        ("nodes {\n  certname ~ }", 2, 14),
        ("nodes { certname = 'unterminated }", 1, 35),
        ("nodes[certname { }", 1, 16),
    ] {
        let e = parse(pql).expect_err(pql);
        match e {
            puppet_db::DbError::Query {
                kind: puppet_db::QueryErrorKind::Pql { line: l, column: c },
                message,
            } => {
                assert_eq!((l, c), (line, column), "{pql}: {message}");
                assert!(
                    message.starts_with(&format!(
                        "PQL parse error at line {line}, column {column}:\n\n"
                    )),
                    "{message}"
                );
                assert!(message.contains('^'), "{message}");
            }
            other => panic!("{pql}: {other}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pql_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn pql_like_input_never_panics(s in "(nodes|facts|inventory)\\[?[a-z., ]{0,10}\\]? ?\\{[a-z.=~!<>()'\" 0-9]{0,40}\\}?") {
        let _ = parse(&s);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow(n in 60usize..2000) {
        let pql = format!("nodes {{ {}a = 1{} }}", "(".repeat(n), ")".repeat(n));
        let r = parse(&pql);
        if n > 70 { prop_assert!(r.is_err()); }
    }
}

crate::both!(the_issues_examples_run,);
