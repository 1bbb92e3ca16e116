//! SQLite: the issue's queries are answered from indexes (their `EXPLAIN QUERY PLAN`), the
//! indexed forms answer what the plain ones do (three-valued logic under `not` included), and
//! a database made with the earlier indexes opens, gets the new ones and answers the same.

use std::sync::{Arc, Mutex};

use puppet_db::{
    Collected, Command, DbError, Dialect, PuppetDb, Retention, Rows, SqlQuery, SqliteStorage,
    Storage,
};
use serde_json::Value;

use crate::common::*;

/// SQLite storage that keeps the last SQL it was asked to run.
struct Recording {
    inner: SqliteStorage,
    last: Mutex<Option<SqlQuery>>,
}

impl Storage for Recording {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    fn apply(&self, command: &Command, received: &puppet_db::Timestamp) -> Result<(), DbError> {
        self.inner.apply(command, received)
    }

    fn query(&self, query: &SqlQuery) -> Result<Rows, DbError> {
        *self.last.lock().unwrap() = Some(query.clone());
        self.inner.query(query)
    }

    fn collect_garbage(
        &self,
        retention: &Retention,
        now: &puppet_db::Timestamp,
    ) -> Result<Collected, DbError> {
        self.inner.collect_garbage(retention, now)
    }
}

/// The plan SQLite makes for `query`, one line per step.
fn plan(path: &std::path::Path, query: &SqlQuery) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", query.sql))
        .unwrap();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(query.params.iter()))
        .unwrap();
    let mut out = String::new();
    while let Some(row) = rows.next().unwrap() {
        let detail: String = row.get(3).unwrap();
        out.push_str(&detail);
        out.push('\n');
    }
    out
}

/// Nodes as the bench has them: `os.family` Debian for one in three, a catalog with Execs.
fn bench_nodes(dir: &std::path::Path) -> (PuppetDb, Arc<Recording>, std::path::PathBuf) {
    let path = dir.join("pdb.sqlite");
    let store = Arc::new(Recording {
        inner: SqliteStorage::open(&path).unwrap(),
        last: Mutex::new(None),
    });
    let db = PuppetDb::new(store.clone());
    for i in 0..9 {
        let name = format!("n{i}.example.test");
        let mut facts = doc(FACTS, &name);
        facts["values"]["os"]["family"] = Value::from(if i % 3 == 0 { "Debian" } else { "RedHat" });
        submit(&db, "replace facts", 5, &name, &facts);
        submit(&db, "replace catalog", 9, &name, &doc(CATALOG, &name));
    }
    (db, store, path)
}

const INVENTORY: &str = r#"inventory[certname] { facts.os.family = "Debian" }"#;
const NODES_BY_FACT: &str = r#"nodes[certname] { facts { name = "kernel" and value = "Linux" } }"#;
const RESOURCES: &str = r#"resources[certname, title] { type = "Exec" }"#;

#[test]
fn the_bench_queries_are_answered_from_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store, path) = bench_nodes(dir.path());
    let kernel = doc(FACTS, "x")["values"]["kernel"].clone();
    assert_eq!(kernel, "Linux", "the fixture's kernel");
    // (query, rows, the index answering it, tables no step reads).
    for (query, rows, index, untouched) in [
        (INVENTORY, 3, "fact_values_path_value", &[][..]),
        // The facts subquery reads the leaves of `kernel` alone: no `facts` row, no join
        // to the node or its factset.
        (
            NODES_BY_FACT,
            9,
            "COVERING INDEX fact_values_path_value",
            &[" q2_f USING INDEX", " q2_c ", " q2_fs "][..],
        ),
        // Inactive nodes left out by the (empty) list of them, not by a join per row.
        (
            RESOURCES,
            9,
            "COVERING INDEX catalog_resources_type_title",
            &[" q1_c ", " q1_ca "][..],
        ),
    ] {
        let answer = q(&db, "", query);
        assert_eq!(answer.len(), rows, "{query}: {answer:?}");
        let sql = store.last.lock().unwrap().clone().unwrap();
        let plan = plan(&path, &sql);
        eprintln!("{query}\n{}\n{plan}", sql.sql);
        assert!(plan.contains(index), "{query}: {}\n{plan}", sql.sql);
        for table in untouched {
            assert!(!plan.contains(table), "{query}: {}\n{plan}", sql.sql);
        }
        // No step reads a whole table of the nodes' data (a SCAN of one, not of an index).
        for line in plan.lines() {
            assert!(
                !line.starts_with("SCAN") || line.contains("INDEX"),
                "{query}: {}\n{plan}",
                sql.sql
            );
        }
    }
    let debian = q(&db, "", INVENTORY);
    assert_eq!(
        certnames(&debian),
        ["n0.example.test", "n3.example.test", "n6.example.test"]
    );
}

#[test]
fn indexed_forms_answer_as_the_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store, path) = bench_nodes(dir.path());
    // A node without `os`, and one whose `os.family` is a number and one where it is null.
    let mut bare = doc(FACTS, "bare.example.test");
    bare["values"].as_object_mut().unwrap().remove("os");
    submit(&db, "replace facts", 5, "bare.example.test", &bare);
    let mut odd = doc(FACTS, "odd.example.test");
    odd["values"]["os"]["family"] = Value::from(7);
    submit(&db, "replace facts", 5, "odd.example.test", &odd);
    let mut null = doc(FACTS, "null.example.test");
    null["values"]["os"]["family"] = Value::Null;
    submit(&db, "replace facts", 5, "null.example.test", &null);
    let indexed = |query: &str| {
        let rows = certnames(&q(&db, "inventory", query));
        let sql = store.last.lock().unwrap().clone().unwrap();
        (rows, plan(&path, &sql).contains("fact_values_path_value"))
    };
    let (rows, from_index) = indexed(r#"["=", "facts.os.family", "Debian"]"#);
    assert!(from_index);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        indexed(r#"["=", "facts.os.family", "7"]"#).0,
        Vec::<String>::new(),
        "a string is not the number 7"
    );
    assert_eq!(
        indexed(r#"["=", "facts.os.family", 7]"#).0,
        ["odd.example.test"]
    );
    // Under `not`, a node without the fact (or with null) matches neither side: the plain
    // comparison's NULL, as PuppetDB's SQL; the indexed form is not used there.
    let (rows, from_index) = indexed(r#"["not", ["=", "facts.os.family", "Debian"]]"#);
    assert!(!from_index);
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert!(!rows.contains(&"bare.example.test".to_string()));
    assert!(!rows.contains(&"null.example.test".to_string()));
    // A subquery under `not` is a context of its own: its filter may use the index.
    let rows = certnames(&q(
        &db,
        "nodes",
        r#"["not", ["in", "certname", ["extract", "certname", ["select_inventory",
            ["=", "facts.os.family", "Debian"]]]]]"#,
    ));
    assert_eq!(rows.len(), 9, "{rows:?}");
    // Facts by value, a JSON column: strings by their JSON text, other values as before.
    let rows = q(
        &db,
        "facts",
        r#"["and", ["=", "name", "kernel"], ["=", "value", "Linux"]]"#,
    );
    assert_eq!(rows.len(), 12);
    let rows = q(
        &db,
        "facts",
        r#"["and", ["=", "name", "kernel"], ["not", ["=", "value", "Linux"]]]"#,
    );
    assert!(rows.is_empty(), "{rows:?}");
    // A value longer than the indexed prefix (256 characters) is compared whole.
    let long = "x".repeat(300);
    let mut big = doc(FACTS, "big.example.test");
    big["values"]["motd"] = Value::from(long.clone());
    submit(&db, "replace facts", 5, "big.example.test", &big);
    let mut near = doc(FACTS, "near.example.test");
    near["values"]["motd"] = Value::from(format!("{long}y"));
    submit(&db, "replace facts", 5, "near.example.test", &near);
    let rows = q(
        &db,
        "facts",
        &serde_json::json!(["and", ["=", "name", "motd"], ["=", "value", long]]).to_string(),
    );
    assert_eq!(certnames(&rows), ["big.example.test"]);
    let rows = q(
        &db,
        "inventory",
        &serde_json::json!(["=", "facts.motd", long]).to_string(),
    );
    assert_eq!(certnames(&rows), ["big.example.test"]);
}

/// The indexes of the schema before this one (`facts_name`, `fact_values_path`).
const EARLIER_INDEXES: &str = "
DROP INDEX facts_name_value;
DROP INDEX fact_values_path_value;
DROP INDEX certnames_active;
CREATE INDEX facts_name ON facts (name);
CREATE INDEX fact_values_path ON fact_values (path);
";

fn indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_database_with_the_earlier_indexes_opens_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pdb.sqlite");
    {
        let (db, _, _) = bench_nodes(dir.path());
        let before: Vec<Vec<Value>> = [INVENTORY, NODES_BY_FACT, RESOURCES]
            .iter()
            .map(|query| q(&db, "", query))
            .collect();
        drop(db);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(EARLIER_INDEXES)
            .unwrap();
        assert!(indexes(&path).contains(&"facts_name".to_string()));
        let db = PuppetDb::open_sqlite(&path).unwrap();
        let after: Vec<Vec<Value>> = [INVENTORY, NODES_BY_FACT, RESOURCES]
            .iter()
            .map(|query| q(&db, "", query))
            .collect();
        assert_eq!(before, after);
        assert_eq!(before[0].len(), 3);
    }
    let names = indexes(&path);
    for new in [
        "certnames_active",
        "fact_values_path_value",
        "facts_name_value",
    ] {
        assert!(names.contains(&new.to_string()), "{names:?}");
    }
    for old in ["facts_name", "fact_values_path"] {
        assert!(!names.contains(&old.to_string()), "{names:?}");
    }
}

/// `facts` filtered by `name = N` and `value = "string"` is read from the leaves of `[N]` in
/// `fact_values`; it answers what the same filter answers from `facts` (a regex on the name
/// keeps the query off that form), a structured fact of that name and inactive nodes left
/// out; inactive nodes are left out of resources without a join as well.
#[test]
fn facts_from_leaves_answer_as_facts() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store, path) = bench_nodes(dir.path());
    // A node whose `kernel` is structured, one whose `kernel` is a number, a deactivated one.
    let mut odd = doc(FACTS, "odd.example.test");
    odd["values"]["kernel"] = serde_json::json!({"name": "Linux"});
    submit(&db, "replace facts", 5, "odd.example.test", &odd);
    let mut num = doc(FACTS, "num.example.test");
    num["values"]["kernel"] = Value::from(7);
    submit(&db, "replace facts", 5, "num.example.test", &num);
    submit(
        &db,
        "deactivate node",
        3,
        "n1.example.test",
        &serde_json::json!({"certname": "n1.example.test",
            "producer_timestamp": "2099-01-01T00:00:00.000Z"}),
    );
    let leaves = |path_: &str, query: &str| {
        let rows = q(&db, path_, query);
        let sql = store.last.lock().unwrap().clone().unwrap();
        let from_leaves = sql.sql.contains("FROM fact_values");
        // (The plain form's `regexp` is the storage's own function: no plan for it here.)
        let plan = if from_leaves && !sql.sql.contains("regexp(") {
            plan(&path, &sql)
        } else {
            String::new()
        };
        (rows, from_leaves, plan)
    };
    for (filter, expected) in [
        (
            r#"["and", ["=", "name", "kernel"], ["=", "value", "Linux"]]"#,
            8,
        ),
        (
            r#"["and", ["=", "value", "Linux"], ["and", ["=", "name", "kernel"]]]"#,
            8,
        ),
        (
            r#"["and", ["=", "name", "kernel"], ["=", "value", "BSD"]]"#,
            0,
        ),
        (
            r#"["and", ["=", "name", "kernel"], ["=", "name", "os"], ["=", "value", "Linux"]]"#,
            0,
        ),
        (
            r#"["and", ["=", "name", "kernel"], ["not", ["=", "name", "kernel"]], ["=", "value", "Linux"]]"#,
            0,
        ),
        (
            r#"["and", ["=", "name", "kernel"], ["not", ["=", "name", "os"]], ["=", "value", "Linux"]]"#,
            8,
        ),
        (
            r#"["and", ["=", "name", "kernel"], ["=", "value", "Linux"], ["=", "certname", "n3.example.test"]]"#,
            1,
        ),
    ] {
        let (rows, from_leaves, plan) = leaves("facts", filter);
        assert!(from_leaves, "{filter}: {plan}");
        assert_eq!(rows.len(), expected, "{filter}: {rows:?}");
        let plain = filter.replacen(
            r#"["=", "name", "kernel"]"#,
            r#"["~", "name", "^kernel$"]"#,
            1,
        );
        let (plain_rows, plain_from_leaves, _) = leaves("facts", &plain);
        // (With `name = "os"` too, the plain form reads the leaves of `os`.)
        assert_eq!(
            plain_from_leaves,
            plain.contains(r#"["=", "name", "os"], ["=""#),
            "{plain}"
        );
        assert_eq!(rows, plain_rows, "{filter}");
        for row in &rows {
            assert_eq!(row["value"], "Linux");
            assert_eq!(row["environment"], "production", "{row}");
        }
    }
    // As a subquery (the PQL of the bench), inactive nodes included there and left out by
    // `nodes`.
    let rows = certnames(&q(&db, "", NODES_BY_FACT));
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(!rows.contains(&"n1.example.test".to_string()));
    assert!(!rows.contains(&"odd.example.test".to_string()));
    // Resources: the deactivated node's left out, unless the query asks for any state.
    let rows = certnames(&q(&db, "", RESOURCES));
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(!rows.contains(&"n1.example.test".to_string()));
    let rows = q(
        &db,
        "resources",
        r#"["and", ["=", "type", "Exec"], ["=", "node_state", "any"]]"#,
    );
    assert_eq!(rows.len(), 9, "{rows:?}");
    let rows = q(
        &db,
        "resources",
        r#"["and", ["=", "type", "Exec"], ["=", "node_state", "inactive"]]"#,
    );
    assert_eq!(certnames(&rows), ["n1.example.test"]);
}

/// Answers written row by row straight from SQLite (`query_json`) are the bytes of the rows
/// `query` answers, for plain rows (text, numbers, booleans, JSON documents, nulls) and for
/// the rows that are changed after the query (hrefs, bare names, one object).
#[test]
fn answers_written_from_rows_are_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    for i in 0..3 {
        let name = format!("n{i}.example.test");
        let mut facts = doc(FACTS, &name);
        facts["values"]["motd"] = Value::from("caf\u{e9} \"quoted\"\n\u{1}");
        facts["values"]["ratio"] = Value::from(0.1 + f64::from(i));
        submit(&db, "replace facts", 5, &name, &facts);
        submit(&db, "replace catalog", 9, &name, &doc(CATALOG, &name));
        submit(&db, "store report", 8, &name, &doc(REPORT, &name));
    }
    for (path, query) in [
        ("", INVENTORY),
        ("", NODES_BY_FACT),
        ("", RESOURCES),
        (
            "",
            r#"["from", "nodes", ["extract", ["certname", ["function", "count"]], ["group_by", "certname"]]]"#,
        ),
        ("nodes", ""),
        ("facts", ""),
        ("resources", ""),
        ("inventory", ""),
        ("catalogs", ""),
        ("reports", ""),
        ("fact-names", ""),
        ("nodes/n1.example.test", ""),
        (
            "",
            r#"resources[certname, certname, title] { type = "Exec" }"#,
        ),
    ] {
        let query = (!query.is_empty()).then_some(query);
        let paging = puppet_db::Paging::default();
        let rows = db.query(path, query, &paging).unwrap();
        let expected = if rows.single {
            serde_json::to_vec(&rows.rows[0]).unwrap()
        } else {
            serde_json::to_vec(&rows.rows).unwrap()
        };
        assert!(!rows.rows.is_empty(), "{path} {query:?}");
        let (body, _) = db.query_json(path, query, &paging).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8(expected).unwrap(),
            "{path} {query:?}"
        );
    }
}
