//! Storage behind a trait: what a backend must do, and the SQL a query compiles to.

#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod regex_pg;
pub mod sqlite;

use serde_json::{Map, Value};

use crate::command::Command;
use crate::error::DbError;
use crate::time::Timestamp;

/// A value bound to a query parameter: client values never enter SQL text.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A boolean (SQLite binds 0/1).
    Bool(bool),
    /// A float.
    Real(f64),
    /// Text. Compared with a JSON column on PostgreSQL, the JSON string.
    Text(String),
    /// A JSON document as text (a fact path): text on SQLite, `jsonb` on PostgreSQL.
    Json(String),
}

/// How a selected column becomes JSON in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    /// As the SQL value is (text, number, null).
    Plain,
    /// An integer 0/1 as `false`/`true`.
    Bool,
    /// JSON text, parsed.
    Json,
}

/// A query compiled to SQL for a backend's [`Dialect`].
#[derive(Debug, Clone, PartialEq)]
pub struct SqlQuery {
    /// The statement.
    pub sql: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// The answer's keys, one per selected column, and how to decode each.
    pub columns: Vec<(String, Decode)>,
    /// The statement counting every row (without limit/offset), for `include_total`.
    pub count: Option<(String, Vec<Param>)>,
}

/// The rows of an answer and, when asked for, the total before paging.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// One JSON object per row, keys in the order of the columns.
    pub rows: Vec<Map<String, Value>>,
    /// `include_total`: the number of rows without `limit`/`offset`.
    pub total: Option<u64>,
}

/// The SQL flavour a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.38+ (JSON `->`/`->>`, a `regexp(pattern, text)` function, `?` placeholders).
    #[default]
    Sqlite,
    /// PostgreSQL 12+ (`json`/`jsonb` columns and operators, `$n` placeholders, `~` with
    /// patterns rewritten from the `regex` crate's syntax).
    Postgres,
}

/// A place where PuppetDB's data lives.
///
/// [`sqlite::SqliteStorage`] is the embedded backend; `postgres::PostgresStorage` (feature
/// `postgres`) keeps the same data in PostgreSQL. Each does [`Storage::apply`] in one
/// transaction and runs [`Storage::query`]'s SQL, compiled for its [`Dialect`] (the compiler
/// in [`crate::query`] is the only place that writes SQL for queries).
pub trait Storage: Send + Sync {
    /// The SQL flavour queries must be compiled for.
    fn dialect(&self) -> Dialect;

    /// Applies one command in one transaction, with PuppetDB's rules (older data does not
    /// replace newer, new data reactivates a deactivated node). When it returns `Ok`, the
    /// command is durable.
    fn apply(&self, command: &Command, received: &Timestamp) -> Result<(), DbError>;

    /// Runs a compiled query.
    fn query(&self, query: &SqlQuery) -> Result<Rows, DbError>;
}

/// Text of a JSON value, as both backends store it.
pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A fact value's type as fact-paths answers it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// A fact path and what is there: (path JSON, fact name, depth, type).
pub(crate) type PathRow = (String, String, i64, &'static str);

/// Every path of a fact value (maps by key, arrays by index), as fact-paths lists them, and
/// every leaf (path JSON, value JSON, depth) as fact-contents answers them.
pub(crate) fn fact_paths(
    path: &mut Vec<Value>,
    v: &Value,
    out: &mut Vec<PathRow>,
    leaves: &mut Vec<(String, String, i64)>,
) {
    if path.len() > 64 {
        return;
    }
    if !matches!(v, Value::Object(_) | Value::Array(_)) {
        leaves.push((json_text(&*path), json_text(v), path.len() as i64 - 1));
    }
    out.push((
        json_text(&*path),
        path.first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        path.len() as i64 - 1,
        type_name(v),
    ));
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                path.push(Value::String(k.clone()));
                fact_paths(path, child, out, leaves);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Value::from(i));
                fact_paths(path, child, out, leaves);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A factset's hash, as both backends store it.
pub(crate) fn factset_hash(f: &crate::command::Factset) -> String {
    crate::command::digest(&serde_json::json!([
        f.certname,
        f.environment,
        Value::Object(f.values.clone())
    ]))
}

/// A catalog's resources' hashes and the catalog's hash.
pub(crate) fn catalog_hashes(c: &crate::command::Catalog) -> (Vec<String>, String) {
    let resource_hashes: Vec<String> = c
        .resources
        .iter()
        .map(|r| {
            crate::command::digest(&serde_json::json!([
                r.r#type,
                r.title,
                r.exported,
                r.file,
                r.line,
                r.tags,
                r.parameters
            ]))
        })
        .collect();
    let hash = crate::command::digest(&serde_json::json!([
        c.certname,
        c.version,
        c.environment,
        resource_hashes
    ]));
    (resource_hashes, hash)
}

/// A report's hash (its identity: the same report stored twice is stored once).
pub(crate) fn report_hash(r: &crate::command::Report) -> String {
    crate::command::digest(&serde_json::json!([
        r.certname,
        r.puppet_version,
        r.configuration_version,
        r.start_time.as_str(),
        r.end_time.as_str(),
        r.producer_timestamp.as_str(),
        r.attributes.get("transaction_uuid")
    ]))
}
