//! A PuppetDB-compatible store: PuppetDB 7's commands and its query API v4 (AST and PQL),
//! over an embedded SQLite database.
//!
//! - [`Command::from_request`] takes a `POST /pdb/cmd/v1` request (query parameters and
//!   body, gzipped or not) and checks it as PuppetDB does: `replace facts` v5, `replace
//!   catalog` v9, `replace catalog inputs` v1, `store report` v8, `deactivate node` v3,
//!   names with spaces or
//!   underscores. Sensitive catalog parameters are removed before anything is stored.
//! - [`PuppetDb::submit`] applies a command in one durable transaction, with PuppetDB's
//!   rules: an older `producer_timestamp` does not replace a newer factset or catalog, and a
//!   deactivated node that sends data again is active again.
//! - [`PuppetDb::query`] answers `/pdb/query/v4` and its endpoints (`nodes`,
//!   `environments`, `facts`, `factsets`, `fact-contents`, `fact-paths`, `inventory`, `catalogs`,
//!   `resources`, `edges`, `reports`, `events`, `catalog-inputs`,
//!   `catalog-input-contents`): the AST language or PQL
//!   ([`parse_query`]), compiled to SQL with bound parameters; client regexes run on the
//!   `regex` crate (linear time).
//! - Storage is a trait ([`Storage`]); [`SqliteStorage`] is the embedded backend, and
//!   `PostgresStorage` (feature `postgres`) keeps the data in PostgreSQL, where several
//!   `puppet-db` instances can share it. One query compiler writes SQL for both
//!   ([`Dialect`]).
//!
//! ```
//! use puppet_db::{Paging, PuppetDb};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = PuppetDb::open_sqlite(dir.path().join("puppetdb.sqlite")).unwrap();
//! let facts = br#"{"certname": "web1.example.test", "environment": "production",
//!     "producer_timestamp": "2026-12-02T10:00:00.000Z", "producer": "puppet.example.test",
//!     "values": {"os": {"family": "Debian"}, "kernel": "Linux"}}"#;
//! let params = [("command", "replace_facts"), ("version", "5"), ("certname", "web1.example.test")];
//! let uuid = db.submit(&params, facts).unwrap();
//! assert_eq!(uuid.len(), 36);
//!
//! let answer = db
//!     .query("", Some(r#"inventory[certname] { facts.os.family = "Debian" }"#), &Paging::default())
//!     .unwrap();
//! assert_eq!(answer.rows, vec![serde_json::json!({"certname": "web1.example.test"})]);
//! ```

mod command;
pub mod config;
mod error;
pub mod query;
#[cfg(feature = "server")]
pub mod server;
mod store;
mod time;

use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use command::{
    COMMANDS, Catalog, CatalogInputs, Command, Edge, Factset, MAX_UNCOMPRESSED_BYTES, Report,
    Resource, ResourceEvent, redact_parameters,
};
pub use error::{CommandErrorKind, DbError, QueryErrorKind};
use query::event_counts::{EventCountsQuery, SummarizeBy};
pub use query::{OrderBy, Paging, parse_ast_query, parse_query};
#[cfg(feature = "postgres")]
pub use store::postgres::PostgresStorage;
pub use store::sqlite::SqliteStorage;
pub use store::{Collected, Decode, Dialect, Param, Retention, Rows, SqlQuery, Storage};
pub use time::Timestamp;

/// The PuppetDB version this service answers on `/pdb/meta/v1/version`.
pub const PUPPETDB_VERSION: &str = "7.12.1";

/// A query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The rows (for a single-object endpoint such as `nodes/<certname>`, one row).
    pub rows: Vec<Value>,
    /// `include_total`: the row count before paging (PuppetDB's `X-Records`).
    pub total: Option<u64>,
    /// The endpoint names one object (`nodes/<certname>`): answer the row, not an array.
    pub single: bool,
}

/// A PuppetDB: commands in, queries out, over a [`Storage`].
#[derive(Clone)]
pub struct PuppetDb {
    store: Arc<dyn Storage>,
}

impl std::fmt::Debug for PuppetDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PuppetDb").finish_non_exhaustive()
    }
}

impl PuppetDb {
    /// A PuppetDB over `store`.
    pub fn new(store: Arc<dyn Storage>) -> PuppetDb {
        PuppetDb { store }
    }

    /// A PuppetDB over the SQLite database at `path` (created if absent).
    pub fn open_sqlite(path: impl Into<std::path::PathBuf>) -> Result<PuppetDb, DbError> {
        Ok(PuppetDb::new(Arc::new(SqliteStorage::open(path)?)))
    }

    /// A PuppetDB over the PostgreSQL database at `url` (`postgres://user@host:port/db`),
    /// whose schema is created or migrated first. Feature `postgres`.
    ///
    /// ```no_run
    /// let db = puppet_db::PuppetDb::open_postgres("postgres://puppetdb@127.0.0.1/puppetdb").unwrap();
    /// let answer = db.query("", Some("nodes { certname ~ \"^web\" }"), &Default::default()).unwrap();
    /// println!("{:?}", answer.rows);
    /// ```
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str) -> Result<PuppetDb, DbError> {
        Ok(PuppetDb::new(Arc::new(PostgresStorage::open(url)?)))
    }

    /// Checks and applies one `POST /pdb/cmd/v1` request; answers the command's UUID once it
    /// is durably stored. A refused command stores nothing.
    pub fn submit<K: AsRef<str>, V: AsRef<str>>(
        &self,
        params: &[(K, V)],
        body: &[u8],
    ) -> Result<String, DbError> {
        let command = Command::from_request(params, body)?;
        self.apply(&command)?;
        Ok(uuid::Uuid::new_v4().to_string())
    }

    /// Applies a command already checked (what a master writing directly uses).
    ///
    /// ```
    /// use puppet_db::{Command, PuppetDb, Timestamp};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// db.apply(&Command::DeactivateNode {
    ///     certname: "old.example.test".into(),
    ///     producer_timestamp: Timestamp::parse("2026-12-02T10:00:00Z").unwrap(),
    /// })
    /// .unwrap();
    /// let all = db.query("nodes", Some(r#"["=", "node_state", "any"]"#), &Default::default()).unwrap();
    /// assert_eq!(all.rows[0]["deactivated"], "2026-12-02T10:00:00.000Z");
    /// ```
    pub fn apply(&self, command: &Command) -> Result<(), DbError> {
        // PuppetDB does nothing at all for catalog inputs without inputs (not even bring
        // the node back).
        if matches!(command, Command::ReplaceCatalogInputs(c) if c.inputs.is_empty()) {
            return Ok(());
        }
        self.store.apply(command, &Timestamp::now())
    }

    /// Answers a query on `path`, the part after `/pdb/query/v4` (`""` or `"/"` for the
    /// root endpoint, `"nodes"`, `"nodes/web1"`, `"facts/kernel"`, `"resources/File"`,
    /// ...), with the `query` parameter (AST JSON or PQL) and paging.
    pub fn query(
        &self,
        path: &str,
        query: Option<&str>,
        paging: &Paging,
    ) -> Result<Answer, DbError> {
        let prepared = self.prepare(path, query, paging)?;
        self.answer(prepared)
    }

    /// A prepared query's answer, held as rows.
    fn answer(&self, prepared: Prepared) -> Result<Answer, DbError> {
        answer_rows(self.store.as_ref(), prepared)
    }

    /// [`PuppetDb::query`]'s answer as the JSON text of its body (the array of rows, or the
    /// one row of a single-object endpoint), written row by row as the storage reads them:
    /// a large answer is never held as rows, only as its text. With `include_total`, the
    /// total too. [`PuppetDb::query_json_stream`] writes the same text where the caller
    /// wants it, without holding it.
    ///
    /// ```
    /// use puppet_db::PuppetDb;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let (body, total) = db.query_json("nodes", None, &Default::default()).unwrap();
    /// assert_eq!((body.as_slice(), total), (&b"[]"[..], None));
    /// assert!(db.query_json("nodes/web1", None, &Default::default()).is_err());
    /// ```
    pub fn query_json(
        &self,
        path: &str,
        query: Option<&str>,
        paging: &Paging,
    ) -> Result<(Vec<u8>, Option<u64>), DbError> {
        let answer = self.query_json_stream(path, query, paging)?;
        let total = answer.total();
        let mut body = Vec::new();
        answer.write_to(&mut body)?;
        Ok((body, total))
    }

    /// [`PuppetDb::query_json`] without holding the body: everything that must be known
    /// before the answer's first byte is done here (the query parsed and compiled, the
    /// parents of a nested route checked, the `include_total` count, run before the rows),
    /// and an error here is the whole answer; the rows are read as [`JsonAnswer::write_to`]
    /// writes them (what the HTTP API streams to its client).
    ///
    /// ```
    /// use puppet_db::{Paging, PuppetDb};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let paging = Paging { include_total: true, ..Paging::default() };
    /// let answer = db.query_json_stream("nodes", None, &paging).unwrap();
    /// assert_eq!(answer.total(), Some(0));
    /// let mut out = Vec::new();
    /// answer.write_to(&mut out).unwrap();
    /// assert_eq!(out, b"[]");
    /// assert!(db.query_json_stream("nodes", Some("nodes { nosuch = 1 }"), &paging).is_err());
    /// ```
    pub fn query_json_stream(
        &self,
        path: &str,
        query: Option<&str>,
        paging: &Paging,
    ) -> Result<JsonAnswer, DbError> {
        let mut prepared = self.prepare(path, query, paging)?;
        let total = match prepared.compiled.sql.count.take() {
            Some((sql, params)) if prepared.field.is_none() => {
                let count = SqlQuery {
                    sql,
                    params,
                    columns: vec![("count".to_string(), Decode::Plain)],
                    count: None,
                };
                let rows = self.store.query(&count)?;
                Some(
                    rows.rows
                        .first()
                        .and_then(|r| r.get("count"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                )
            }
            _ => None,
        };
        Ok(JsonAnswer {
            store: self.store.clone(),
            prepared,
            total,
        })
    }

    /// A query on `path` compiled for the storage, with what its rows need after the storage
    /// answers them (after the parent checks of a nested route).
    fn prepare(
        &self,
        path: &str,
        query: Option<&str>,
        paging: &Paging,
    ) -> Result<Prepared, DbError> {
        // The root endpoint reads PQL or JSON (an empty query is PQL that does not parse),
        // the others JSON only, as PuppetDB does.
        let parsed = match query {
            Some(q) if path.trim_matches('/').is_empty() => Some(parse_query(q)?),
            Some(q) => parse_ast_query(q)?,
            None => None,
        };
        let segments = path_segments(path)?;
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        let route = route_parts(&parts).ok_or_else(|| {
            DbError::query(
                QueryErrorKind::UnknownEntity,
                format!("No such endpoint: /pdb/query/v4/{}", parts.join("/")),
            )
        })?;
        if route.field.is_some() && parsed.is_some() {
            return Err(DbError::query(
                QueryErrorKind::Paging,
                "Unsupported query parameter 'query'",
            ));
        }
        for parent in &route.parents {
            self.parent_check(parent)?;
        }
        let filter = match route.filter {
            None => parsed,
            Some(f) => Some(query::add_criteria(f, parsed)),
        };
        let mut compiler = query::Compiler::new(self.store.dialect());
        if route.single.is_some() {
            compiler = compiler.all_nodes();
        }
        let mut paging = paging.clone();
        if route.entity == Some("fact-names") && paging.order_by.is_empty() {
            // PuppetDB answers fact names sorted unless the client orders them.
            paging.order_by.push(OrderBy {
                field: "name".into(),
                descending: false,
            });
        }
        let compiled = compiler.compile(route.entity, filter.as_ref(), &paging)?;
        Ok(Prepared {
            compiled,
            single: route.single.is_some(),
            missing: route.single.map(|(kind, id)| not_known(kind, id)),
            field: route.field,
            // `/fact-names`: the names themselves, not objects.
            bare_name: route.entity == Some("fact-names")
                && filter_extracts(filter.as_ref()).is_none(),
        })
    }

    /// The root endpoint's `ast_only=true`: the query as PuppetDB's AST (PQL parsed), once it
    /// is known to compile; nothing is run.
    ///
    /// ```
    /// use puppet_db::PuppetDb;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let ast = db.ast_only(r#"inventory[certname] { facts.os.family = "Debian" }"#).unwrap();
    /// assert_eq!(ast, serde_json::json!(["from", "inventory",
    ///     ["extract", ["certname"], ["=", "facts.os.family", "Debian"]]]));
    /// assert!(db.ast_only(r#"nodes { nosuch = 1 }"#).is_err());
    /// ```
    pub fn ast_only(&self, query: &str) -> Result<Value, DbError> {
        let ast = parse_query(query)?;
        query::Compiler::new(self.store.dialect()).compile(None, Some(&ast), &Paging::default())?;
        Ok(ast)
    }

    /// PuppetDB's parent check of a nested route (`/nodes/<n>/facts` needs node `n`): 404
    /// with its text when the parent is unknown.
    fn parent_check(&self, parent: &Parent<'_>) -> Result<(), DbError> {
        let key = match parent.entity {
            "reports" => "hash",
            "environments" | "producers" => "name",
            _ => "certname",
        };
        let q = json!(["extract", [key], ["=", key, parent.id]]);
        let compiled = query::Compiler::new(self.store.dialect())
            .all_nodes()
            .compile(
                Some(parent.entity),
                Some(&q),
                &Paging {
                    limit: Some(1),
                    ..Paging::default()
                },
            )?;
        if self.store.query(&compiled.sql)?.rows.is_empty() {
            return Err(not_known(parent.kind, parent.id));
        }
        Ok(())
    }

    /// `/event-counts`: the events matching `query` counted by status per subject
    /// (`summarize_by`: one of `resource`, `containing_class`, `certname`), as PuppetDB
    /// answers it; `counts_filter` and paging apply to the counted rows.
    ///
    /// ```
    /// use puppet_db::query::event_counts::EventCountsQuery;
    /// use puppet_db::PuppetDb;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let by_node = EventCountsQuery::from_params(&[("summarize_by", "certname")]).unwrap();
    /// let answer = db
    ///     .event_counts(Some(r#"["=", "status", "failure"]"#), &by_node, &Default::default())
    ///     .unwrap();
    /// assert!(answer.rows.is_empty(), "no report stored yet");
    /// ```
    pub fn event_counts(
        &self,
        query: Option<&str>,
        counts: &EventCountsQuery,
        paging: &Paging,
    ) -> Result<Answer, DbError> {
        let [by] = counts.summarize_by.as_slice() else {
            return Err(DbError::query(
                QueryErrorKind::Ast,
                "event-counts takes one 'summarize_by' (several only for aggregate-event-counts)",
            ));
        };
        let subjects = self.counted(*by, counts, query)?;
        let (rows, total) = query::event_counts::page(*by, subjects, paging)?;
        Ok(Answer {
            rows,
            total: paging.include_total.then_some(total),
            single: false,
        })
    }

    /// `/aggregate-event-counts`: for each `summarize_by`, how many subjects had at least
    /// one success, failure, noop and skip among the events matching `query`, and how many
    /// subjects there were (`total`); one row per `summarize_by`.
    ///
    /// ```
    /// use puppet_db::query::event_counts::EventCountsQuery;
    /// use puppet_db::PuppetDb;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let q = EventCountsQuery::from_params(&[("summarize_by", "certname,resource")]).unwrap();
    /// let rows = db.aggregate_event_counts(None, &q).unwrap();
    /// assert_eq!(rows[1]["summarize_by"], "resource");
    /// assert_eq!(rows[1]["total"], 0);
    /// ```
    pub fn aggregate_event_counts(
        &self,
        query: Option<&str>,
        counts: &EventCountsQuery,
    ) -> Result<Vec<Value>, DbError> {
        counts
            .summarize_by
            .iter()
            .map(|by| {
                let subjects = self.counted(*by, counts, query)?;
                Ok(query::event_counts::aggregate(*by, &subjects))
            })
            .collect()
    }

    fn counted(
        &self,
        by: SummarizeBy,
        counts: &EventCountsQuery,
        query: Option<&str>,
    ) -> Result<Vec<(Vec<Value>, query::event_counts::Counts)>, DbError> {
        let filter = match query {
            Some(q) => parse_ast_query(q)?,
            None => None,
        };
        let ast = query::event_counts::counting_query(by, counts.count_by, filter.as_ref());
        let compiled = query::Compiler::new(self.store.dialect()).compile(
            Some("events"),
            Some(&ast),
            &Paging::default(),
        )?;
        let grouped: Vec<Value> = self
            .store
            .query(&compiled.sql)?
            .rows
            .into_iter()
            .map(Value::Object)
            .collect();
        query::event_counts::fold(by, counts.count_by, counts.counts_filter.as_ref(), &grouped)
    }

    /// PuppetDB's garbage collection now (node expiry and purge, report TTL); the binary
    /// runs it every `gc-interval`.
    ///
    /// ```
    /// use puppet_db::{PuppetDb, Retention};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let done = db.collect_garbage(&Retention::puppetdb_defaults()).unwrap();
    /// assert_eq!(done.purged, 0);
    /// ```
    pub fn collect_garbage(&self, retention: &Retention) -> Result<Collected, DbError> {
        self.store.collect_garbage(retention, &Timestamp::now())
    }

    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.store
    }
}

/// A prepared query's answer, held as rows.
fn answer_rows(store: &dyn Storage, prepared: Prepared) -> Result<Answer, DbError> {
    let rows = store.query(&prepared.compiled.sql)?;
    let total = rows.total;
    let mut rows: Vec<Value> = rows
        .rows
        .into_iter()
        .map(|row| prepared.finish(row))
        .collect();
    if rows.is_empty()
        && let Some(err) = prepared.missing
    {
        return Err(err);
    }
    if let Some(field) = prepared.field {
        // `/reports/<hash>/metrics` and `/logs`: the field's value itself.
        let value = rows
            .first_mut()
            .and_then(|r| r.get_mut(field))
            .map(Value::take)
            .unwrap_or(Value::Array(Vec::new()));
        return Ok(Answer {
            rows: vec![value],
            total: None,
            single: true,
        });
    }
    Ok(Answer {
        rows,
        total,
        single: prepared.single,
    })
}

/// A query's answer before its first byte ([`PuppetDb::query_json_stream`]): its total is
/// known, its rows are read as they are written.
pub struct JsonAnswer {
    store: Arc<dyn Storage>,
    prepared: Prepared,
    total: Option<u64>,
}

impl std::fmt::Debug for JsonAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonAnswer")
            .field("total", &self.total)
            .field("single", &self.prepared.single)
            .finish_non_exhaustive()
    }
}

impl JsonAnswer {
    /// `include_total`: the row count before paging (PuppetDB's `X-Records`), counted
    /// before the rows are read.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Writes the answer's JSON text to `out` row by row as the storage reads them: the
    /// array of rows, or the one row of a single-object endpoint (whose absence is an
    /// error before anything is written). An error after the first row leaves `out` with
    /// a truncated answer: a caller that has sent part of it must not end it as if it were
    /// whole (the HTTP API aborts the connection). An error of `out` (a client gone) stops
    /// the reading.
    ///
    /// ```
    /// use puppet_db::PuppetDb;
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let answer = db.query_json_stream("nodes/web1", None, &Default::default()).unwrap();
    /// let mut out = Vec::new();
    /// let err = answer.write_to(&mut out).unwrap_err();
    /// assert_eq!(err.to_string(), "No information is known about node web1");
    /// assert!(out.is_empty());
    /// ```
    pub fn write_to(self, out: &mut dyn std::io::Write) -> Result<(), DbError> {
        let prepared = self.prepared;
        let sent = |e: std::io::Error| DbError::Io {
            what: "send the answer".to_string(),
            source: e,
        };
        let serialize = |e: serde_json::Error| {
            if e.is_io() {
                sent(e.into())
            } else {
                DbError::Storage(format!("answer: {e}"))
            }
        };
        if prepared.field.is_some() {
            // One field of one row: nothing to stream.
            let answer = answer_rows(self.store.as_ref(), prepared)?;
            return serde_json::to_writer(out, &answer.rows.first().unwrap_or(&Value::Null))
                .map_err(serialize);
        }
        if prepared.plain_rows() {
            // Rows as the storage reads them, written straight on.
            if self
                .store
                .write_rows(&prepared.compiled.sql, out)?
                .is_some()
            {
                return Ok(());
            }
        }
        let single = prepared.single;
        let mut n = 0usize;
        self.store.query_each(&prepared.compiled.sql, &mut |row| {
            let row = prepared.finish(row);
            if !single {
                out.write_all(if n == 0 { b"[" } else { b"," })
                    .map_err(sent)?;
            }
            if !single || n == 0 {
                serde_json::to_writer(&mut *out, &row).map_err(serialize)?;
            }
            n += 1;
            Ok(())
        })?;
        if n == 0 {
            if let Some(err) = prepared.missing {
                return Err(err);
            }
            out.write_all(b"[").map_err(sent)?;
        }
        if !single {
            out.write_all(b"]").map_err(sent)?;
        }
        Ok(())
    }
}

/// Composite fields as PuppetDB answers them: `{"data": [...], "href": "..."}`.
fn wrap(entity: &query::entities::Entity, row: &mut Map<String, Value>) {
    // Keys an extract left out, carried for the hrefs (several fields may share one).
    let hidden: Vec<(&str, Value)> = entity
        .wrap
        .iter()
        .filter_map(|(_, _, key, _)| row.remove(&query::href_key(key)).map(|v| (*key, v)))
        .collect();
    for (field, prefix, key, suffix) in entity.wrap {
        let hidden = hidden.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let href = row
            .get(*key)
            .or(hidden)
            .and_then(Value::as_str)
            .map(|k| format!("{prefix}{k}{suffix}"));
        if let Some(v) = row.get_mut(*field) {
            let data = v.take();
            let mut m = Map::new();
            m.insert("data".into(), data);
            if let Some(h) = href {
                m.insert("href".into(), Value::String(h));
            }
            *v = Value::Object(m);
        }
    }
}

/// PuppetDB's 404 for an object it does not have: `No information is known about node web1`.
fn not_known(kind: &str, id: &str) -> DbError {
    DbError::query(
        QueryErrorKind::UnknownEntity,
        format!("No information is known about {kind} {id}"),
    )
}

/// The fields a query's `extract` asks for, if it has one.
fn filter_extracts(query: Option<&Value>) -> Option<&Value> {
    let items = query?.as_array()?;
    (items.first()? == "extract").then(|| items.get(1))?
}

/// An object a nested route needs (`/nodes/<n>/facts`: node `n`): its word in PuppetDB's
/// 404 text, its id and the entity that holds it.
/// A compiled query and what its rows need once the storage answers them.
struct Prepared {
    compiled: query::Compiled,
    /// One object (`/nodes/<n>`).
    single: bool,
    /// The error to answer when the one object (`/nodes/<n>`) has no row.
    missing: Option<DbError>,
    /// Answer this field of the one row as it is (`/reports/<hash>/metrics`).
    field: Option<&'static str>,
    /// `/fact-names` without an extract: each row is its name.
    bare_name: bool,
}

impl Prepared {
    /// Every row is answered as the storage reads it ([`Prepared::finish`] changes nothing:
    /// no href, no `to_string`, no bare name, not one object or one field of it).
    fn plain_rows(&self) -> bool {
        self.compiled.entity.wrap.is_empty()
            && self.compiled.to_string.is_none()
            && !self.bare_name
            && !self.single
            && self.field.is_none()
    }

    /// A row as answered: its hrefs (unless one field of it is answered), `to_string`
    /// formatted, a bare name for `/fact-names`.
    fn finish(&self, mut row: Map<String, Value>) -> Value {
        if self.field.is_none() {
            wrap(self.compiled.entity, &mut row);
        } else {
            for (_, _, key, _) in self.compiled.entity.wrap {
                row.remove(&query::href_key(key));
            }
        }
        if let (Some(format), Some(v)) =
            (self.compiled.to_string.as_deref(), row.get_mut("to_string"))
        {
            *v = query::to_char::to_char(v, format).map_or(Value::Null, Value::String);
        }
        if self.bare_name
            && let Some(name) = row.get_mut("name").map(Value::take)
        {
            return name;
        }
        Value::Object(row)
    }
}

struct Parent<'a> {
    kind: &'static str,
    id: &'a str,
    entity: &'static str,
}

struct Route<'a> {
    entity: Option<&'a str>,
    filter: Option<Value>,
    /// One object (`/nodes/<n>`): its word and id for PuppetDB's 404.
    single: Option<(&'static str, &'a str)>,
    /// Parents that must exist, outermost first.
    parents: Vec<Parent<'a>>,
    /// Answer this field of the one row as it is (`/reports/<hash>/metrics`).
    field: Option<&'static str>,
}

/// The segments of `/pdb/query/v4/<path>`, each percent-decoded after splitting (so a title
/// with a `/`, `%2F` in the path, stays one segment, as PuppetDB routes it).
fn path_segments(path: &str) -> Result<Vec<String>, DbError> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(|segment| {
            let bytes = segment.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let byte = segment
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| {
                            DbError::query(
                                QueryErrorKind::Ast,
                                format!("Invalid percent-encoding in the query path: {segment}"),
                            )
                        })?;
                    out.push(byte);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).map_err(|_| {
                DbError::query(
                    QueryErrorKind::Ast,
                    format!("The query path is not UTF-8 once decoded: {segment}"),
                )
            })
        })
        .collect()
}

/// The routes of PuppetDB 7's query API, nested ones included (`/nodes/<n>/facts/<name>`,
/// `/environments/<e>/reports/<hash>/events`, ...): `None` when there is no such route.
fn route_parts<'a>(parts: &[&'a str]) -> Option<Route<'a>> {
    let r = |entity, filter, single| {
        Some(Route {
            entity: Some(entity),
            filter,
            single,
            parents: Vec::new(),
            field: None,
        })
    };
    // A route mounted under a parent (`/nodes/<n>` + `/facts/...`): the inner route, also
    // restricted by `criteria`, once the parent exists.
    let nested = |inner: &[&'a str], criteria: Value, parent: Parent<'a>| {
        let mut route = route_parts(inner)?;
        route.filter = Some(match route.filter.take() {
            Some(f) => json!(["and", f, criteria]),
            None => criteria,
        });
        route.parents.insert(0, parent);
        Some(route)
    };
    let parent = |kind, id, entity| Parent { kind, id, entity };
    match parts {
        [] => Some(Route {
            entity: None,
            filter: None,
            single: None,
            parents: Vec::new(),
            field: None,
        }),
        ["fact-names"] => r("fact-names", None, None),
        [e] if query::entities::entity(e).is_some() => r(e, None, None),
        ["nodes", c] => r(
            "nodes",
            Some(json!(["=", "certname", c])),
            Some(("node", c)),
        ),
        ["nodes", c, rest @ ..] if matches!(rest.first(), Some(&("facts" | "resources"))) => {
            nested(
                rest,
                json!(["=", "certname", c]),
                parent("node", c, "nodes"),
            )
        }
        ["environments", e] => r(
            "environments",
            Some(json!(["=", "name", e])),
            Some(("environment", e)),
        ),
        ["environments", e, rest @ ..]
            if matches!(
                rest.first(),
                Some(&("facts" | "resources" | "reports" | "events"))
            ) =>
        {
            nested(
                rest,
                json!(["=", "environment", e]),
                parent("environment", e, "environments"),
            )
        }
        ["producers", p] => r(
            "producers",
            Some(json!(["=", "name", p])),
            Some(("producer", p)),
        ),
        ["producers", p, rest @ ..]
            if matches!(rest.first(), Some(&("factsets" | "catalogs" | "reports"))) =>
        {
            nested(
                rest,
                json!(["=", "producer", p]),
                parent("producer", p, "producers"),
            )
        }
        ["catalogs", c] => r(
            "catalogs",
            Some(json!(["=", "certname", c])),
            Some(("catalog", c)),
        ),
        ["catalogs", c, "edges"] => nested(
            &["edges"],
            json!(["=", "certname", c]),
            parent("catalog", c, "catalogs"),
        ),
        ["catalogs", c, rest @ ..] if rest.first() == Some(&"resources") => nested(
            rest,
            json!(["=", "certname", c]),
            parent("catalog", c, "catalogs"),
        ),
        ["factsets", c] => r(
            "factsets",
            Some(json!(["=", "certname", c])),
            Some(("factset", c)),
        ),
        // PuppetDB 7 answers the node's factset here (not its facts, as its docs say).
        ["factsets", c, "facts"] => nested(
            &["factsets"],
            json!(["=", "certname", c]),
            parent("factset", c, "factsets"),
        ),
        ["facts", n] => r("facts", Some(json!(["=", "name", n])), None),
        ["facts", n, v] => r(
            "facts",
            Some(json!(["and", ["=", "name", n], ["=", "value", v]])),
            None,
        ),
        ["resources", t] => r("resources", Some(json!(["=", "type", t])), None),
        ["resources", t, title] => r(
            "resources",
            Some(json!(["and", ["=", "type", t], ["=", "title", title]])),
            None,
        ),
        ["reports", h, "events"] => nested(
            &["events"],
            json!(["=", "report", h]),
            parent("report", h, "reports"),
        ),
        ["reports", h, field @ ("metrics" | "logs")] => {
            let mut route = nested(
                &[],
                json!(["extract", [*field], ["=", "hash", h]]),
                parent("report", h, "reports"),
            )?;
            route.entity = Some("reports");
            route.field = Some(if *field == "metrics" {
                "metrics"
            } else {
                "logs"
            });
            Some(route)
        }
        _ => None,
    }
}

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
