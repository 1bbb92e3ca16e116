//! Storage behind a trait: what a backend must do, and the SQL a query compiles to.

pub(crate) mod diff;
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

    /// PuppetDB's garbage collection at `now`, in one transaction: nodes without new data
    /// for `node_ttl` are expired, nodes deactivated or expired for `node_purge_ttl` are
    /// deleted with all their data, reports older than `report_ttl` are deleted.
    fn collect_garbage(&self, retention: &Retention, now: &Timestamp)
    -> Result<Collected, DbError>;
}

/// How long PuppetDB keeps things (`[database]`'s `node-ttl`, `node-purge-ttl`,
/// `report-ttl`); `None` keeps them forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Expire a node whose newest factset, catalog and report are all older than this.
    pub node_ttl: Option<std::time::Duration>,
    /// Delete a node deactivated or expired longer ago than this, with all its data.
    pub node_purge_ttl: Option<std::time::Duration>,
    /// Delete reports (and their events) produced longer ago than this.
    pub report_ttl: Option<std::time::Duration>,
}

impl Retention {
    /// PuppetDB 7's defaults: `node-ttl = 7d`, `node-purge-ttl = 14d`, `report-ttl = 14d`.
    pub fn puppetdb_defaults() -> Retention {
        let days = |n: u64| Some(std::time::Duration::from_secs(n * 86_400));
        Retention {
            node_ttl: days(7),
            node_purge_ttl: days(14),
            report_ttl: days(14),
        }
    }

    /// A PuppetDB duration (`14d`, `12h`, `30m`, `45s`, `500ms`; a bare number is days);
    /// `0s` (any zero) is `None`: keep forever.
    ///
    /// ```
    /// use puppet_db::Retention;
    /// assert_eq!(Retention::parse_ttl("2h").unwrap(), Some(std::time::Duration::from_secs(7200)));
    /// assert_eq!(Retention::parse_ttl("0s").unwrap(), None);
    /// assert!(Retention::parse_ttl("soon").is_err());
    /// ```
    pub fn parse_ttl(s: &str) -> Result<Option<std::time::Duration>, DbError> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(digits);
        let n: u64 = n
            .parse()
            .map_err(|_| DbError::Config(format!("{s:?} is not a duration such as 14d or 12h")))?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" | "" => 86_400_000,
            _ => {
                return Err(DbError::Config(format!(
                    "{s:?} is not a duration such as 14d or 12h"
                )));
            }
        };
        Ok(Some(std::time::Duration::from_millis(n.saturating_mul(ms))).filter(|d| !d.is_zero()))
    }
}

/// What a garbage collection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Collected {
    /// Nodes newly expired.
    pub expired: u64,
    /// Nodes deleted with their data.
    pub purged: u64,
    /// Reports deleted.
    pub reports: u64,
}

/// The statements of a garbage collection, with `?` placeholders in this order:
/// (expire: now, cutoff, cutoff, cutoff), (purge: cutoff, cutoff), (reports: cutoff).
pub(crate) const GC_EXPIRE: &str = "UPDATE certnames SET expired = ? WHERE deactivated IS NULL \
    AND expired IS NULL \
    AND COALESCE((SELECT producer_timestamp FROM factsets s WHERE s.certname = certnames.certname), '') < ? \
    AND COALESCE((SELECT producer_timestamp FROM catalogs s WHERE s.certname = certnames.certname), '') < ? \
    AND COALESCE((SELECT max(producer_timestamp) FROM reports s WHERE s.certname = certnames.certname), '') < ?";

/// Which nodes a purge deletes (two cutoffs).
pub(crate) const GC_PURGED: &str = "SELECT certname FROM certnames \
    WHERE (deactivated IS NOT NULL AND deactivated < ?) OR (expired IS NOT NULL AND expired < ?)";

/// The tables holding a node's data, by certname, children before parents.
pub(crate) const GC_NODE_TABLES: &[&str] = &[
    "resource_events",
    "reports",
    "fact_values",
    "facts",
    "factsets",
    "catalog_resources",
    "edges",
    "catalogs",
    "catalog_inputs",
    "certnames",
];

/// After a purge: fact paths no node has any more.
pub(crate) const GC_FACT_PATHS: &str = "DELETE FROM fact_paths WHERE NOT EXISTS (SELECT 1 FROM facts f WHERE f.name = fact_paths.name)";

/// Old reports: their events, then them, then latest-report pointers left dangling.
pub(crate) const GC_REPORT_EVENTS: &str = "DELETE FROM resource_events WHERE report_hash IN \
    (SELECT hash FROM reports WHERE producer_timestamp < ?)";
pub(crate) const GC_REPORTS: &str = "DELETE FROM reports WHERE producer_timestamp < ?";
pub(crate) const GC_LATEST: &str = "UPDATE certnames SET latest_report_hash = NULL \
    WHERE latest_report_hash IS NOT NULL \
    AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.hash = certnames.latest_report_hash)";

/// `?` placeholders as `$1`, `$2`, ... (PostgreSQL).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
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

/// Every path of a fact value to a leaf (maps by key, arrays by index), as fact-paths lists
/// them, and every leaf (path JSON, value JSON, depth) as fact-contents answers them.
pub(crate) fn fact_paths(
    path: &mut Vec<Value>,
    v: &Value,
    out: &mut Vec<PathRow>,
    leaves: &mut Vec<(String, String, i64)>,
) {
    if path.len() > 64 {
        return;
    }
    // Leaves only, as PuppetDB 7 lists fact paths: no `map` or `array` rows for the
    // containers (seen side by side with the real one).
    if !matches!(v, Value::Object(_) | Value::Array(_)) {
        leaves.push((json_text(&*path), json_text(v), path.len() as i64 - 1));
        out.push((
            json_text(&*path),
            path.first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            path.len() as i64 - 1,
            type_name(v),
        ));
    }
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

/// A factset's hash, as both backends store it: of `[certname, environment, values]`.
pub(crate) fn factset_hash(f: &crate::command::Factset) -> String {
    crate::command::digest(&(&f.certname, &f.environment, &f.values))
}

/// A resource's hash: of `[type, title, exported, file, line, tags, parameters]`, every
/// column a backend stores of it (so an unchanged hash is an unchanged row).
pub(crate) fn resource_hash(r: &crate::command::Resource) -> String {
    crate::command::digest(&(
        &r.r#type,
        &r.title,
        r.exported,
        &r.file,
        r.line,
        &r.tags,
        &r.parameters,
    ))
}

/// A catalog's resources' hashes and the catalog's hash (of `[certname, version,
/// environment, resource hashes]`).
pub(crate) fn catalog_hashes(c: &crate::command::Catalog) -> (Vec<String>, String) {
    let resource_hashes: Vec<String> = c.resources.iter().map(resource_hash).collect();
    let hash = crate::command::digest(&(&c.certname, &c.version, &c.environment, &resource_hashes));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::command::{Catalog, Factset, Resource, digest};

    /// Hashes are of the JSON array of the members: serialized from a tuple straight into
    /// the hash, they are the ones stored before (when they were built as `json!` arrays),
    /// so a database written by an earlier version diffs against the same hashes.
    #[test]
    fn hashes_are_those_of_the_json_arrays() {
        let mut values = Map::new();
        values.insert("kernel".into(), json!("Linux"));
        values.insert(
            "os".into(),
            json!({"family": "Debian", "n": [1, 2.5, null]}),
        );
        let f = Factset {
            certname: "web1".into(),
            environment: None,
            producer_timestamp: crate::time::Timestamp::parse("2026-12-02T10:00:00Z").unwrap(),
            producer: Some("puppet".into()),
            values: values.clone(),
        };
        assert_eq!(
            factset_hash(&f),
            digest(&json!([f.certname, f.environment, Value::Object(values)]))
        );
        let mut parameters = Map::new();
        parameters.insert("ensure".into(), json!("file"));
        let r = Resource {
            r#type: "File".into(),
            title: "/etc/motd".into(),
            exported: false,
            file: Some("/site.pp".into()),
            line: Some(3),
            tags: vec!["file".into()],
            parameters,
        };
        let c = Catalog {
            certname: "web1".into(),
            version: "1".into(),
            environment: Some("production".into()),
            transaction_uuid: None,
            catalog_uuid: None,
            code_id: None,
            job_id: None,
            producer_timestamp: f.producer_timestamp.clone(),
            producer: None,
            resources: vec![r.clone()],
            edges: vec![],
        };
        let old_resource = digest(&json!([
            r.r#type,
            r.title,
            r.exported,
            r.file,
            r.line,
            r.tags,
            r.parameters
        ]));
        let (hashes, hash) = catalog_hashes(&c);
        assert_eq!(hashes, vec![old_resource.clone()]);
        assert_eq!(
            hash,
            digest(&json!([
                c.certname,
                c.version,
                c.environment,
                [old_resource]
            ]))
        );
        assert_eq!(hash.len(), 40);
    }
}
