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
pub use query::{OrderBy, Paging, parse_query};
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
        let parsed = match query.filter(|q| !q.trim().is_empty()) {
            Some(q) => Some(parse_query(q)?),
            None => None,
        };
        let route = route(path)?;
        let filter = match route.filter {
            None => parsed,
            Some(f) => Some(query::add_criteria(f, parsed)),
        };
        let mut compiler = query::Compiler::new(self.store.dialect());
        if route.single {
            compiler = compiler.all_nodes();
        }
        let compiled = compiler.compile(route.entity, filter.as_ref(), paging)?;
        let rows = self.store.query(&compiled.sql)?;
        let total = rows.total;
        let entity = compiled.entity;
        let rows: Vec<Value> = rows
            .rows
            .into_iter()
            .map(|mut row| {
                wrap(entity, &mut row);
                Value::Object(row)
            })
            .collect();
        if route.single && rows.is_empty() {
            return Err(DbError::query(
                QueryErrorKind::UnknownEntity,
                // As PuppetDB words it: `node <certname>`, `catalog <certname>`.
                match path.trim_matches('/').split_once('/') {
                    Some(("nodes", c)) => format!("No information is known about node {c}"),
                    Some(("catalogs", c)) => {
                        format!("No information is known about catalog {c}")
                    }
                    _ => format!("No information is known about {}", path.trim_matches('/')),
                },
            ));
        }
        Ok(Answer {
            rows,
            total,
            single: route.single,
        })
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
        let filter = match query.filter(|q| !q.trim().is_empty()) {
            Some(q) => Some(parse_query(q)?),
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

/// Composite fields as PuppetDB answers them: `{"data": [...], "href": "..."}`.
fn wrap(entity: &query::entities::Entity, row: &mut Map<String, Value>) {
    for (field, prefix, key, suffix) in entity.wrap {
        let href = row
            .get(*key)
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

struct Route<'a> {
    entity: Option<&'a str>,
    filter: Option<Value>,
    single: bool,
}

/// `/pdb/query/v4/<path>`: the entity, a filter from the path, one object or many.
fn route(path: &str) -> Result<Route<'_>, DbError> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let r = |entity, filter, single| {
        Ok(Route {
            entity: Some(entity),
            filter,
            single,
        })
    };
    match parts.as_slice() {
        [] => Ok(Route {
            entity: None,
            filter: None,
            single: false,
        }),
        [e] if query::entities::entity(e).is_some() => r(e, None, false),
        ["nodes", c] => r("nodes", Some(json!(["=", "certname", c])), true),
        ["environments", e] => r("environments", Some(json!(["=", "name", e])), true),
        ["catalogs", c] => r("catalogs", Some(json!(["=", "certname", c])), true),
        ["catalogs", c, "resources"] => r("resources", Some(json!(["=", "certname", c])), false),
        ["catalogs", c, "edges"] => r("edges", Some(json!(["=", "certname", c])), false),
        ["factsets", c] => r("factsets", Some(json!(["=", "certname", c])), true),
        ["factsets", c, "facts"] => r("facts", Some(json!(["=", "certname", c])), false),
        ["nodes", c, "facts"] => r("facts", Some(json!(["=", "certname", c])), false),
        ["nodes", c, "resources"] => r("resources", Some(json!(["=", "certname", c])), false),
        ["facts", n] => r("facts", Some(json!(["=", "name", n])), false),
        ["facts", n, v] => r(
            "facts",
            Some(json!(["and", ["=", "name", n], ["=", "value", v]])),
            false,
        ),
        ["resources", t] => r("resources", Some(json!(["=", "type", t])), false),
        ["resources", t, title] => r(
            "resources",
            Some(json!(["and", ["=", "type", t], ["=", "title", title]])),
            false,
        ),
        ["reports", h, "events"] => r("events", Some(json!(["=", "report", h])), false),
        ["producers", p] => r("producers", Some(json!(["=", "name", p])), true),
        ["producers", p, e @ ("factsets" | "catalogs" | "reports")] => {
            r(e, Some(json!(["=", "producer", p])), false)
        }
        [
            "environments",
            env,
            e @ ("facts" | "resources" | "reports" | "events"),
        ] => r(e, Some(json!(["=", "environment", env])), false),
        _ => Err(DbError::query(
            QueryErrorKind::UnknownEntity,
            format!("No such endpoint: /pdb/query/v4/{}", parts.join("/")),
        )),
    }
}

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
