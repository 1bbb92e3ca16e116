//! Storage behind a trait: what a backend must do, and the SQL a query compiles to.

pub(crate) mod diff;
pub(crate) mod jsonb;
#[cfg(feature = "postgres")]
mod pg_pipeline;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod regex_pg;
pub mod sqlite;

use std::ops::Range;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

    /// Runs a compiled query, handing each row to `each` as it is read (a backend that can
    /// does not hold the whole answer); returns the total of `include_total`. The default
    /// runs [`Storage::query`] and hands its rows on.
    fn query_each(
        &self,
        query: &SqlQuery,
        each: &mut dyn FnMut(Map<String, Value>) -> Result<(), DbError>,
    ) -> Result<Option<u64>, DbError> {
        let rows = self.query(query)?;
        for row in rows.rows {
            each(row)?;
        }
        Ok(rows.total)
    }

    /// Runs a compiled query and writes its answer to `out` as the JSON array of the objects
    /// [`Storage::query_each`] would hand on (keys in the order of the columns, which are
    /// distinct), row by row as they are read, without holding a row as a
    /// [`serde_json::Value`]; returns the number of rows. `None`, with nothing written: the
    /// backend does not (the default), and the caller uses [`Storage::query_each`]. An
    /// error of `out` (a client gone) stops the reading; the query's `count` is not run.
    fn write_rows(
        &self,
        query: &SqlQuery,
        out: &mut dyn std::io::Write,
    ) -> Result<Option<usize>, DbError> {
        let _ = (query, out);
        Ok(None)
    }

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
#[cfg(test)]
pub(crate) fn factset_hash(f: &crate::command::Factset) -> String {
    crate::command::digest(&(&f.certname, &f.environment, &f.values))
}

/// A factset serialized once: the `values` object's JSON text (what the `facts` column of
/// `factsets` holds), each fact's value text as a slice of it, and the factset's hash (the
/// same as [`factset_hash`]: SHA-256 of `[certname, environment, ` + that text + `]`, the
/// bytes serde_json writes for the tuple).
pub(crate) struct FactsText<'a> {
    /// The factset's hash.
    pub hash: String,
    /// `values` as JSON text.
    pub text: String,
    /// Each fact: name, value, where its value's text is in `text`.
    facts: Vec<(&'a str, &'a Value, Range<usize>)>,
}

impl<'a> FactsText<'a> {
    /// Serializes `f`'s values once and hashes the factset.
    pub fn new(f: &'a crate::command::Factset) -> FactsText<'a> {
        let mut text = Vec::with_capacity(4096);
        let mut facts = Vec::with_capacity(f.values.len());
        // serde_json's compact form of a map: `{"k":v,"k2":v2}`.
        text.push(b'{');
        for (i, (name, value)) in f.values.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            write_json(&mut text, name);
            text.push(b':');
            let start = text.len();
            write_json(&mut text, value);
            facts.push((name.as_str(), value, start..text.len()));
        }
        text.push(b'}');
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(64);
        head.push(b'[');
        write_json(&mut head, &f.certname);
        head.push(b',');
        write_json(&mut head, &f.environment);
        head.push(b',');
        hasher.update(&head);
        hasher.update(&text);
        hasher.update(b"]");
        // serde_json writes valid UTF-8.
        let text = String::from_utf8(text).unwrap_or_default();
        FactsText {
            hash: crate::command::hex40(&hasher.finalize()),
            text,
            facts,
        }
    }

    /// Each fact: its name, its value and its value's JSON text, in the factset's order.
    pub fn facts(&self) -> impl Iterator<Item = (&'a str, &'a Value, &str)> + '_ {
        self.facts
            .iter()
            .map(|(n, v, r)| (*n, *v, self.text.get(r.clone()).unwrap_or("null")))
    }
}

/// Appends `v`'s compact JSON to `buf` (serde_json; it cannot fail for the types serialized
/// here: strings, numbers, options, sequences and maps with string keys).
fn write_json(buf: &mut Vec<u8>, v: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(&mut *buf, v);
}

/// A resource's hash: of `[type, title, exported, file, line, tags, parameters]`, every
/// column a backend stores of it (so an unchanged hash is an unchanged row).
#[cfg(test)]
pub(crate) fn resource_hash(r: &crate::command::Resource) -> String {
    ResourceText::new(r, &mut Vec::new()).hash
}

/// A resource serialized once: its hash (that of [`resource_hash`]) and the JSON text of its
/// tags and parameters (what the backends store), slices of the bytes hashed.
pub(crate) struct ResourceText {
    /// The resource's hash.
    pub hash: String,
    /// `[type, title, exported, file, line, tags, parameters]` as JSON (serde_json writes
    /// UTF-8; only the parts written are checked, when they are asked for).
    text: Vec<u8>,
    tags: Range<usize>,
    parameters: Range<usize>,
}

impl ResourceText {
    /// Serializes `r` (in `buf`, a scratch buffer kept between resources) and hashes it.
    pub fn new(r: &crate::command::Resource, buf: &mut Vec<u8>) -> ResourceText {
        buf.clear();
        // serde_json's compact form of the tuple: `[a,b,c]`.
        buf.push(b'[');
        write_json(buf, &r.r#type);
        buf.push(b',');
        write_json(buf, &r.title);
        buf.push(b',');
        write_json(buf, &r.exported);
        buf.push(b',');
        write_json(buf, &r.file);
        buf.push(b',');
        write_json(buf, &r.line);
        buf.push(b',');
        let tags_start = buf.len();
        write_json(buf, &r.tags);
        let tags = tags_start..buf.len();
        buf.push(b',');
        let parameters_start = buf.len();
        write_json(buf, &r.parameters);
        let parameters = parameters_start..buf.len();
        buf.push(b']');
        let hash = crate::command::hex40(&Sha256::digest(&buf[..]));
        ResourceText {
            hash,
            text: buf.clone(),
            tags,
            parameters,
        }
    }

    /// The tags as JSON text.
    pub fn tags(&self) -> &str {
        self.text
            .get(self.tags.clone())
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or("[]")
    }

    /// The parameters as JSON text.
    pub fn parameters(&self) -> &str {
        self.text
            .get(self.parameters.clone())
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or("{}")
    }
}

/// A catalog's resources' hashes and the catalog's hash (of `[certname, version,
/// environment, resource hashes]`).
#[cfg(test)]
pub(crate) fn catalog_hashes(c: &crate::command::Catalog) -> (Vec<String>, String) {
    let (texts, hash) = catalog_texts(c);
    (texts.into_iter().map(|t| t.hash).collect(), hash)
}

/// A catalog's resources serialized and hashed once each, and the catalog's hash (that of
/// [`catalog_hashes`]).
pub(crate) fn catalog_texts(c: &crate::command::Catalog) -> (Vec<ResourceText>, String) {
    let mut buf = Vec::with_capacity(1024);
    let texts: Vec<ResourceText> = c
        .resources
        .iter()
        .map(|r| ResourceText::new(r, &mut buf))
        .collect();
    let hashes: Vec<&str> = texts.iter().map(|t| t.hash.as_str()).collect();
    let hash = crate::command::digest(&(&c.certname, &c.version, &c.environment, &hashes));
    (texts, hash)
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

    /// What is serialized once (a factset's values, a resource) gives the bytes and hashes
    /// that serializing each part on its own gives.
    #[test]
    fn texts_serialized_once_are_those_of_each_part() {
        let values = json!({"kernel": "Linux", "esc": "a\"b\n\u{e9}/", "n": -0.5, "big": 18446744073709551615u64,
            "os": {"family": "Debian", "release": {"full": "12.8"}}, "list": [1, null, true, {}], "none": null});
        let values = values.as_object().unwrap().clone();
        for environment in [None, Some("production".to_string())] {
            let f = Factset {
                certname: "web1\u{2028}".into(),
                environment,
                producer_timestamp: crate::time::Timestamp::parse("2026-12-02T10:00:00Z").unwrap(),
                producer: None,
                values: values.clone(),
            };
            let t = FactsText::new(&f);
            assert_eq!(t.hash, factset_hash(&f));
            assert_eq!(t.text, json_text(&f.values));
            let each: Vec<(&str, String)> = t.facts().map(|(n, _, s)| (n, s.to_string())).collect();
            let want: Vec<(&str, String)> = f
                .values
                .iter()
                .map(|(n, v)| (n.as_str(), json_text(v)))
                .collect();
            assert_eq!(each, want);
        }
        let mut parameters = Map::new();
        parameters.insert("content".into(), json!("line 1\nline \"2\"\t\u{1}"));
        parameters.insert("mode".into(), json!(420));
        parameters.insert("list".into(), json!([1.5, "x", {"a": null}]));
        for (file, line, tags) in [
            (None, None, vec![]),
            (
                Some("/site.pp".to_string()),
                Some(-3),
                vec!["a".to_string(), "b\\".to_string()],
            ),
        ] {
            let r = Resource {
                r#type: "File".into(),
                title: "/tmp/\"quoted\"".into(),
                exported: true,
                file,
                line,
                tags,
                parameters: parameters.clone(),
            };
            let t = ResourceText::new(&r, &mut vec![b'x'; 3]);
            assert_eq!(t.hash, resource_hash(&r));
            assert_eq!(
                t.hash,
                digest(&json!([
                    r.r#type,
                    r.title,
                    r.exported,
                    r.file,
                    r.line,
                    r.tags,
                    r.parameters
                ]))
            );
            assert_eq!(t.tags(), json_text(&r.tags));
            assert_eq!(t.parameters(), json_text(&r.parameters));
        }
    }
}
