//! Shared helpers: a fresh database and the fixture documents.

use puppet_db::{Paging, PuppetDb};
use serde_json::Value;

pub const FACTS: &str = include_str!("fixtures/facts-v5.json");
pub const CATALOG: &str = include_str!("fixtures/catalog-v9.json");
pub const REPORT: &str = include_str!("fixtures/report-v8.json");

pub struct Db {
    pub db: PuppetDb,
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

pub fn db() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pdb.sqlite");
    Db {
        db: PuppetDb::open_sqlite(&path).expect("open"),
        _dir: dir,
        path,
    }
}

pub fn submit(db: &PuppetDb, command: &str, version: u32, certname: &str, body: &Value) {
    let params = [
        ("command", command.to_string()),
        ("version", version.to_string()),
        ("certname", certname.to_string()),
    ];
    db.submit(&params, body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{command} for {certname}: {e}"));
}

/// The fixture document with `certname` (and `trusted.certname`) replaced.
pub fn doc(text: &str, certname: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).expect("fixture");
    v["certname"] = Value::from(certname);
    if v["values"]["trusted"].is_object() {
        v["values"]["trusted"]["certname"] = Value::from(certname);
    }
    v
}

/// Three nodes: web1 and web2 (Debian), db1 (RedHat), each with facts, catalog and report.
pub fn loaded() -> Db {
    let d = db();
    for (name, family) in [
        ("web1.example.test", "Debian"),
        ("web2.example.test", "Debian"),
        ("db1.example.test", "RedHat"),
    ] {
        let mut facts = doc(FACTS, name);
        facts["values"]["os"]["family"] = Value::from(family);
        submit(&d.db, "replace facts", 5, name, &facts);
        submit(&d.db, "replace catalog", 9, name, &doc(CATALOG, name));
        submit(&d.db, "store report", 8, name, &doc(REPORT, name));
    }
    d
}

pub fn q(db: &PuppetDb, path: &str, query: &str) -> Vec<Value> {
    db.query(path, Some(query), &Paging::default())
        .unwrap_or_else(|e| panic!("{path} {query}: {e}"))
        .rows
}

pub fn certnames(rows: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| r["certname"].as_str().unwrap_or("?").to_string())
        .collect();
    v.sort();
    v
}
