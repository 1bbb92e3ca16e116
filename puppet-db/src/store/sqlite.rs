//! The embedded backend: one SQLite file (WAL, `synchronous=FULL`).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use regex::{Regex, RegexBuilder};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde_json::{Map, Value};

use super::{
    Collected, Decode, Dialect, FactsText, GC_EXPIRE, GC_FACT_PATHS, GC_LATEST, GC_NODE_TABLES,
    GC_PURGED, GC_REPORT_EVENTS, GC_REPORTS, Param, Retention, Rows, SqlQuery, Storage,
    catalog_texts, diff, fact_paths, json_text, report_hash,
};
use crate::command::{Catalog, CatalogInputs, Command, Factset, Report};
use crate::error::DbError;
use crate::time::Timestamp;

/// The largest compiled program a client's regex may become (bytes of automaton).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A client regex, compiled with the `regex` crate (finite automata: linear time in the
/// text, no backtracking) and a size limit.
pub(crate) fn client_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS certnames (
  certname TEXT PRIMARY KEY,
  deactivated TEXT,
  expired TEXT,
  latest_report_hash TEXT
);
CREATE INDEX IF NOT EXISTS certnames_active ON certnames (certname, deactivated, expired);
-- The inactive nodes (few), which queries leave out: `x.certname NOT IN (SELECT certname FROM
-- certnames WHERE deactivated IS NOT NULL OR expired IS NOT NULL)`.
CREATE INDEX IF NOT EXISTS certnames_inactive ON certnames (certname)
  WHERE deactivated IS NOT NULL OR expired IS NOT NULL;
CREATE TABLE IF NOT EXISTS environments (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS factsets (
  certname TEXT PRIMARY KEY,
  environment TEXT,
  timestamp TEXT NOT NULL,
  producer_timestamp TEXT NOT NULL,
  producer TEXT,
  hash TEXT NOT NULL,
  facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS facts (
  certname TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (certname, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facts_name_value ON facts (name, substr(value, 1, 256));
DROP INDEX IF EXISTS facts_name;
CREATE TABLE IF NOT EXISTS fact_paths (
  path TEXT NOT NULL,
  name TEXT NOT NULL,
  depth INTEGER NOT NULL,
  type TEXT NOT NULL,
  PRIMARY KEY (path, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_values (
  certname TEXT NOT NULL,
  path TEXT NOT NULL,
  name TEXT NOT NULL,
  depth INTEGER NOT NULL,
  value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fact_values_certname ON fact_values (certname);
CREATE INDEX IF NOT EXISTS fact_values_path_value ON fact_values (path, value, certname);
DROP INDEX IF EXISTS fact_values_path;
CREATE TABLE IF NOT EXISTS catalogs (
  certname TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  environment TEXT,
  transaction_uuid TEXT,
  catalog_uuid TEXT,
  code_id TEXT,
  job_id TEXT,
  producer_timestamp TEXT NOT NULL,
  producer TEXT,
  hash TEXT NOT NULL,
  timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_inputs (
  certname TEXT PRIMARY KEY,
  catalog_uuid TEXT NOT NULL,
  producer_timestamp TEXT NOT NULL,
  inputs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_resources (
  certname TEXT NOT NULL,
  type TEXT NOT NULL,
  title TEXT NOT NULL,
  resource TEXT NOT NULL,
  tags TEXT NOT NULL,
  exported INTEGER NOT NULL,
  file TEXT,
  line INTEGER,
  parameters TEXT NOT NULL,
  PRIMARY KEY (certname, type, title)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalog_resources_type_title ON catalog_resources (type, title);
CREATE TABLE IF NOT EXISTS edges (
  certname TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source_title TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_title TEXT NOT NULL,
  relationship TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS edges_certname ON edges (certname);
CREATE TABLE IF NOT EXISTS reports (
  hash TEXT PRIMARY KEY,
  certname TEXT NOT NULL,
  puppet_version TEXT NOT NULL,
  report_format INTEGER NOT NULL,
  configuration_version TEXT NOT NULL,
  start_time TEXT NOT NULL,
  end_time TEXT NOT NULL,
  producer_timestamp TEXT NOT NULL,
  producer TEXT,
  receive_time TEXT NOT NULL,
  transaction_uuid TEXT,
  catalog_uuid TEXT,
  code_id TEXT,
  job_id TEXT,
  cached_catalog_status TEXT,
  noop INTEGER,
  noop_pending INTEGER,
  corrective_change INTEGER,
  environment TEXT,
  status TEXT,
  type TEXT NOT NULL,
  metrics TEXT NOT NULL,
  logs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_certname ON reports (certname, producer_timestamp);
CREATE TABLE IF NOT EXISTS resource_events (
  report_hash TEXT NOT NULL,
  certname TEXT NOT NULL,
  status TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_title TEXT NOT NULL,
  property TEXT,
  name TEXT,
  new_value TEXT NOT NULL,
  old_value TEXT NOT NULL,
  message TEXT,
  file TEXT,
  line INTEGER,
  containment_path TEXT NOT NULL,
  containing_class TEXT,
  corrective_change INTEGER
);
CREATE INDEX IF NOT EXISTS resource_events_report ON resource_events (report_hash);
CREATE INDEX IF NOT EXISTS resource_events_certname ON resource_events (certname);
"#;

/// PuppetDB's data in one SQLite database file.
///
/// Writes go through one connection in `BEGIN IMMEDIATE` transactions; the journal is WAL
/// with `synchronous=FULL`, so a command [`Storage::apply`] returned `Ok` for survives a
/// crash or power loss the moment after. Commands arriving while another is being written
/// share its transaction and its sync (group commit), each in a savepoint of its own; a
/// replaced factset or catalog writes only the facts, resources and edges that changed. Reads use their own connections (WAL lets them run
/// while a write is in progress). Client regexes run through a `regexp(pattern, text)`
/// function backed by the `regex` crate.
///
/// ```
/// use puppet_db::{SqliteStorage, Storage};
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStorage::open(dir.path().join("puppetdb.sqlite")).unwrap();
/// assert_eq!(store.dialect(), puppet_db::Dialect::Sqlite);
/// ```
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Commands waiting for the writer: while there are some, the one holding it leaves its
    /// transaction open for them (group commit).
    waiting: AtomicUsize,
    /// Which batches are over, and how.
    done: Mutex<Batches>,
    batch_done: Condvar,
    readers: Mutex<Vec<Connection>>,
}

/// Read connections kept open between queries (more are opened while more queries run at
/// once, and closed after): each keeps its page cache.
const MAX_IDLE_READERS: usize = 4;

/// A read connection's page cache, in KiB (SQLite's default is 2,000).
const READER_CACHE_KIB: i64 = 4_096;

/// The most commands one transaction takes before it is committed.
const MAX_BATCH: usize = 64;

/// The write connection and the batch (transaction) it has open.
struct Writer {
    conn: Connection,
    /// The open batch, if a transaction is open.
    open: Option<u64>,
    /// Commands in it.
    in_batch: usize,
    /// The last batch number given.
    last_batch: u64,
}

/// Batches committed or failed, for the commands waiting on them.
#[derive(Default)]
struct Batches {
    /// Every batch up to this one is over.
    committed: u64,
    /// Batches that failed (recent ones), with the error.
    failed: BTreeMap<u64, String>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn connect(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path).map_err(|e| DbError::Io {
        what: format!("open {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Durability. A command is answered once its transaction's COMMIT has returned, and
    // there is no other write-ahead queue: the SQLite commit is the durability point. In
    // WAL mode, `synchronous=FULL` syncs the WAL at every commit, so an answered command
    // survives `kill -9` and a power loss. `NORMAL` would sync only at checkpoints: still
    // safe against `kill -9` (the WAL is in the OS's cache), not against a power loss or an
    // OS crash, which could lose commands already answered 200. So FULL, and the sync is
    // shared instead: group commit (see `Storage::apply`) makes one sync for every command
    // waiting at the time.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: Arc<Regex> = ctx.get_or_create_aux(0, |v| -> Result<Regex, DbError> {
                let pattern = v
                    .as_str()
                    .map_err(|e| DbError::Storage(format!("regexp pattern: {e}")))?;
                client_regex(pattern).map_err(|e| DbError::Storage(e.to_string()))
            })?;
            Ok(match ctx.get_raw(1) {
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(s) => Some(re.is_match(s)),
                    Err(_) => Some(false),
                },
                ValueRef::Null => None,
                _ => Some(false),
            })
        },
    )?;
    // `jsonb_text(json)`: a JSON text as PostgreSQL's `jsonb #>> '{}'` gives it (what `~`
    // matches on a JSON value); collation JSONB: JSON texts in `jsonb`'s order (what
    // `order_by` sorts JSON values by). PuppetDB runs both on PostgreSQL.
    conn.create_scalar_function(
        "jsonb_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => serde_json::from_slice::<Value>(t)
                    .ok()
                    .and_then(|v| super::jsonb::text(&v)),
                _ => None,
            })
        },
    )?;
    conn.create_collation("JSONB", super::jsonb::cmp_text)?;
    Ok(conn)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// A new database file is created readable by its owner only (0600; SQLite gives its
    /// `-wal` and `-shm` files the same mode): it holds every node's facts.
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStorage, DbError> {
        let path = path.into();
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|source| DbError::Io {
                    what: format!("create {}", path.display()),
                    source,
                })?;
        }
        let writer = connect(&path)?;
        // The writer's own settings. Its page cache holds the indexes every command touches
        // (fact names and paths, resources by type and title): 16 MB in place of 2 MB. The
        // WAL is checkpointed every 8,192 pages (32 MB) in place of 1,000: a page written by
        // many commands (an index page) is copied into the database file once per
        // checkpoint, so fewer checkpoints copy fewer pages. Statement journals (the
        // savepoints of group commit) stay in memory, not in a temporary file: they are never
        // read after a crash. None of this touches durability.
        writer.pragma_update(None, "cache_size", -16_384)?;
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        writer.pragma_update(None, "wal_autocheckpoint", 8_192)?;
        writer.execute_batch(SCHEMA)?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(Writer {
                conn: writer,
                open: None,
                in_batch: 0,
                last_batch: 0,
            }),
            waiting: AtomicUsize::new(0),
            done: Mutex::new(Batches::default()),
            batch_done: Condvar::new(),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Commits the writer's open batch and tells its waiting commands how it went.
    fn commit(&self, w: &mut Writer) -> Result<(), String> {
        let result = w.conn.execute_batch("COMMIT").map_err(|e| {
            let _ = w.conn.execute_batch("ROLLBACK");
            format!("commit: {e}")
        });
        self.end_batch(w, result.clone());
        result
    }

    /// Closes the writer's open batch with `result` (after a failure, rolled back) and wakes
    /// the commands waiting for it.
    fn end_batch(&self, w: &mut Writer, result: Result<(), String>) {
        let Some(batch) = w.open.take() else {
            return;
        };
        if result.is_err() && !w.conn.is_autocommit() {
            let _ = w.conn.execute_batch("ROLLBACK");
        }
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        done.committed = batch;
        if let Err(message) = result {
            done.failed.insert(batch, message);
        }
        // Failures are rare; keep the recent ones (a waiter reads its own right after).
        while done.failed.len() > 1024 {
            done.failed.pop_first();
        }
        drop(done);
        self.batch_done.notify_all();
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> Result<Connection, DbError> {
        let pooled = self.readers.lock().ok().and_then(|mut r| r.pop());
        match pooled {
            Some(c) => Ok(c),
            None => {
                let conn = connect(&self.path)?;
                // A reader's page cache holds what the queries read again and again (the
                // upper pages of the indexes they search); every reader kept has its own,
                // in this process's memory. No mmap: mapped pages of the database would
                // count in the resident set, page by page as queries touch them.
                conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                conn.pragma_update(None, "mmap_size", 0)?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut r) = self.readers.lock()
            && r.len() < MAX_IDLE_READERS
        {
            r.push(conn);
        }
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(SqlValue::Null),
            Param::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Param::Bool(b) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*b))),
            Param::Real(f) => ToSqlOutput::Owned(SqlValue::Real(*f)),
            Param::Text(s) | Param::Json(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn opt_bool(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_bool).map(i64::from)
}

fn opt_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// Makes sure the node exists, and reactivates it when `ts` is newer than its deactivation
/// (PuppetDB: a node that sends data again is active again).
fn touch_node(tx: &Connection, certname: &str, ts: &Timestamp) -> Result<(), DbError> {
    tx.prepare_cached("INSERT OR IGNORE INTO certnames (certname) VALUES (?1)")?
        .execute(params![certname])?;
    tx.prepare_cached(
        "UPDATE certnames SET deactivated = NULL, expired = NULL \
         WHERE certname = ?1 AND ((deactivated IS NOT NULL AND deactivated < ?2) \
         OR (expired IS NOT NULL AND expired < ?2))",
    )?
    .execute(params![certname, ts.as_str()])?;
    Ok(())
}

fn environment(tx: &Connection, env: Option<&str>) -> Result<(), DbError> {
    if let Some(env) = env {
        tx.prepare_cached("INSERT OR IGNORE INTO environments (name) VALUES (?1)")?
            .execute(params![env])?;
    }
    Ok(())
}

fn replace_facts(tx: &Connection, f: &Factset, received: &Timestamp) -> Result<(), DbError> {
    touch_node(tx, &f.certname, &f.producer_timestamp)?;
    let stored: Option<(String, String)> = tx
        .prepare_cached("SELECT producer_timestamp, hash FROM factsets WHERE certname = ?1")?
        .query_row(params![f.certname], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if stored
        .as_ref()
        .is_some_and(|(t, _)| t.as_str() > f.producer_timestamp.as_str())
    {
        return Ok(());
    }
    environment(tx, f.environment.as_deref())?;
    // The values serialized once: the factset's hash, its `facts` column, each fact's text.
    let texts = FactsText::new(f);
    let hash = texts.hash.as_str();
    if stored.as_ref().is_some_and(|(_, h)| h == hash) {
        // The same facts (and environment) again: only the timestamps change.
        tx.prepare_cached(
            "UPDATE factsets SET timestamp = ?2, producer_timestamp = ?3, producer = ?4 \
             WHERE certname = ?1",
        )?
        .execute(params![
            f.certname,
            received.as_str(),
            f.producer_timestamp.as_str(),
            f.producer
        ])?;
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT OR REPLACE INTO factsets (certname, environment, timestamp, producer_timestamp, producer, hash, facts) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        f.certname,
        f.environment,
        received.as_str(),
        f.producer_timestamp.as_str(),
        f.producer,
        hash,
        texts.text
    ])?;
    // Only the facts that changed: their rows in `facts` and `fact_values` (what PuppetDB
    // does too); a node's first factset has nothing stored to compare with.
    let mut old = HashMap::new();
    if stored.is_some() {
        let mut stmt = tx.prepare_cached("SELECT name, value FROM facts WHERE certname = ?1")?;
        let mut rows = stmt.query(params![f.certname])?;
        while let Some(row) = rows.next()? {
            old.insert(row.get(0)?, row.get(1)?);
        }
    }
    let diff = diff::facts_with_texts(&old, texts.facts(), &f.values);
    {
        let mut delete_fact =
            tx.prepare_cached("DELETE FROM facts WHERE certname = ?1 AND name = ?2")?;
        let mut delete_leaves =
            tx.prepare_cached("DELETE FROM fact_values WHERE certname = ?1 AND name = ?2")?;
        for name in &diff.removed {
            delete_fact.execute(params![f.certname, name])?;
            delete_leaves.execute(params![f.certname, name])?;
        }
        for (name, _, _) in &diff.changed {
            delete_leaves.execute(params![f.certname, name])?;
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO facts (certname, name, value) VALUES (?1, ?2, ?3)",
    )?;
    let mut leaf_insert = tx.prepare_cached(
        "INSERT INTO fact_values (certname, path, name, depth, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut paths = Vec::new();
    let mut leaves = Vec::new();
    for (name, value, text) in diff.written() {
        insert.execute(params![f.certname, name, text])?;
        leaves.clear();
        let mut path = vec![Value::String((*name).to_string())];
        fact_paths(&mut path, value, &mut paths, &mut leaves);
        for (leaf_path, leaf_value, depth) in &leaves {
            leaf_insert.execute(params![f.certname, leaf_path, name, depth, leaf_value])?;
        }
    }
    let mut path_insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO fact_paths (path, name, depth, type) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (path, name, depth, ty) in paths {
        path_insert.execute(params![path, name, depth, ty])?;
    }
    Ok(())
}

/// A text column of a row, borrowed from SQLite (not copied).
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, DbError> {
    row.get_ref(i)?
        .as_str()
        .map_err(|e| DbError::Storage(format!("column {i}: {e}")))
}

fn replace_catalog(tx: &Connection, c: &Catalog, received: &Timestamp) -> Result<(), DbError> {
    touch_node(tx, &c.certname, &c.producer_timestamp)?;
    let newer: Option<String> = tx
        .prepare_cached("SELECT producer_timestamp FROM catalogs WHERE certname = ?1")?
        .query_row(params![c.certname], |r| r.get(0))
        .optional()?;
    let existed = newer.is_some();
    if newer.is_some_and(|t| t.as_str() > c.producer_timestamp.as_str()) {
        return Ok(());
    }
    environment(tx, c.environment.as_deref())?;
    let (texts, hash) = catalog_texts(c);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO catalogs (certname, version, environment, transaction_uuid, catalog_uuid, \
         code_id, job_id, producer_timestamp, producer, hash, timestamp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        c.certname,
        c.version,
        c.environment,
        c.transaction_uuid,
        c.catalog_uuid,
        c.code_id,
        c.job_id,
        c.producer_timestamp.as_str(),
        c.producer,
        hash,
        received.as_str()
    ])?;
    // Only what changed: resources by their hash, edges by what they link. The stored rows
    // are compared as they are read (nothing copied for an unchanged one).
    let hashes: Vec<&str> = texts.iter().map(|t| t.hash.as_str()).collect();
    let mut diff = diff::CatalogDiff::default();
    let mut resources = diff::ResourceMerge::new(&c.resources, &hashes);
    let mut edges = diff::EdgeMatch::new(&c.edges);
    if existed {
        // In (type, title) order, as the merge takes them (the primary key's order: no sort).
        let mut stmt = tx.prepare_cached(
            "SELECT type, title, resource FROM catalog_resources WHERE certname = ?1 \
             ORDER BY type, title",
        )?;
        let mut rows = stmt.query(params![c.certname])?;
        while let Some(row) = rows.next()? {
            resources.stored(text(row, 0)?, text(row, 1)?, text(row, 2)?);
        }
        let mut stmt = tx.prepare_cached(
            "SELECT source_type, source_title, target_type, target_title, relationship \
             FROM edges WHERE certname = ?1",
        )?;
        let mut rows = stmt.query(params![c.certname])?;
        while let Some(row) = rows.next()? {
            edges.stored((
                text(row, 0)?,
                text(row, 1)?,
                text(row, 2)?,
                text(row, 3)?,
                text(row, 4)?,
            ));
        }
    }
    resources.finish(&mut diff);
    edges.finish(&mut diff);
    let mut delete = tx.prepare_cached(
        "DELETE FROM catalog_resources WHERE certname = ?1 AND type = ?2 AND title = ?3",
    )?;
    for (ty, title) in &diff.removed {
        delete.execute(params![c.certname, ty, title])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO catalog_resources (certname, type, title, resource, tags, exported, file, line, parameters) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for &i in &diff.written_index {
        let (r, t) = (&c.resources[i], &texts[i]);
        insert.execute(params![
            c.certname,
            r.r#type,
            r.title,
            t.hash,
            t.tags(),
            r.exported,
            r.file,
            r.line,
            t.parameters()
        ])?;
    }
    let mut delete = tx.prepare_cached(
        "DELETE FROM edges WHERE certname = ?1 AND source_type = ?2 AND source_title = ?3 \
         AND target_type = ?4 AND target_title = ?5 AND relationship = ?6",
    )?;
    for (st, sti, tt, tti, rel) in &diff.edges_removed {
        delete.execute(params![c.certname, st, sti, tt, tti, rel])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO edges (certname, source_type, source_title, target_type, target_title, relationship) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in &diff.edges_written {
        insert.execute(params![
            c.certname,
            e.source_type,
            e.source_title,
            e.target_type,
            e.target_title,
            e.relationship
        ])?;
    }
    Ok(())
}

fn replace_catalog_inputs(tx: &Connection, c: &CatalogInputs) -> Result<(), DbError> {
    touch_node(tx, &c.certname, &c.producer_timestamp)?;
    tx.prepare_cached(
        "INSERT INTO catalog_inputs (certname, catalog_uuid, producer_timestamp, inputs) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (certname) DO UPDATE SET catalog_uuid = excluded.catalog_uuid, \
         producer_timestamp = excluded.producer_timestamp, inputs = excluded.inputs \
         WHERE excluded.producer_timestamp > catalog_inputs.producer_timestamp",
    )?
    .execute(params![
        c.certname,
        c.catalog_uuid,
        c.producer_timestamp.as_str(),
        json_text(&c.inputs)
    ])?;
    Ok(())
}

fn store_report(tx: &Connection, r: &Report, received: &Timestamp) -> Result<(), DbError> {
    touch_node(tx, &r.certname, &r.producer_timestamp)?;
    environment(tx, r.environment.as_deref())?;
    let a = &r.attributes;
    let hash = report_hash(r);
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO reports (hash, certname, puppet_version, report_format, configuration_version, \
             start_time, end_time, producer_timestamp, producer, receive_time, transaction_uuid, catalog_uuid, \
             code_id, job_id, cached_catalog_status, noop, noop_pending, corrective_change, environment, status, \
             type, metrics, logs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        )?
        .execute(params![
            hash,
            r.certname,
            r.puppet_version,
            r.report_format,
            r.configuration_version,
            r.start_time.as_str(),
            r.end_time.as_str(),
            r.producer_timestamp.as_str(),
            r.producer,
            received.as_str(),
            opt_str(a.get("transaction_uuid")),
            opt_str(a.get("catalog_uuid")),
            opt_str(a.get("code_id")),
            opt_str(a.get("job_id")),
            opt_str(a.get("cached_catalog_status")),
            opt_bool(a.get("noop")),
            opt_bool(a.get("noop_pending")),
            opt_bool(a.get("corrective_change")),
            r.environment,
            opt_str(a.get("status")),
            opt_str(a.get("type")).unwrap_or("agent"),
            json_text(&r.metrics),
            json_text(&r.logs)
        ])?;
    if inserted == 0 {
        // The same report again: PuppetDB stores it once.
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO resource_events (report_hash, certname, status, timestamp, resource_type, resource_title, \
         property, name, new_value, old_value, message, file, line, containment_path, containing_class, \
         corrective_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for e in &r.events {
        insert.execute(params![
            hash,
            r.certname,
            e.status,
            e.timestamp.as_str(),
            e.resource_type,
            e.resource_title,
            e.property,
            e.name,
            json_text(&e.new_value),
            json_text(&e.old_value),
            e.message,
            e.file,
            e.line,
            json_text(&e.containment_path),
            e.containing_class(),
            e.corrective_change
        ])?;
    }
    tx.prepare_cached(
        "UPDATE certnames SET latest_report_hash = ?2 WHERE certname = ?1 AND (latest_report_hash IS NULL \
         OR ?3 >= (SELECT producer_timestamp FROM reports WHERE hash = certnames.latest_report_hash))",
    )?
    .execute(params![r.certname, hash, r.producer_timestamp.as_str()])?;
    Ok(())
}

/// One command, in the writer's open transaction.
fn apply_one(tx: &Connection, command: &Command, received: &Timestamp) -> Result<(), DbError> {
    match command {
        Command::ReplaceFacts(f) => replace_facts(tx, f, received),
        Command::ReplaceCatalog(c) => replace_catalog(tx, c, received),
        Command::ReplaceCatalogInputs(c) => replace_catalog_inputs(tx, c),
        Command::StoreReport(r) => store_report(tx, r, received),
        Command::DeactivateNode {
            certname,
            producer_timestamp,
        } => {
            tx.prepare_cached("INSERT OR IGNORE INTO certnames (certname) VALUES (?1)")?
                .execute(params![certname])?;
            tx.prepare_cached(
                "UPDATE certnames SET deactivated = ?2 WHERE certname = ?1 \
                 AND (deactivated IS NULL OR deactivated < ?2)",
            )?
            .execute(params![certname, producer_timestamp.as_str()])?;
            Ok(())
        }
    }
}

impl Storage for SqliteStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn apply(&self, command: &Command, received: &Timestamp) -> Result<(), DbError> {
        // Group commit: a command joins the transaction the writer has open, if any, in a
        // savepoint of its own (a refused command undoes only itself). Whoever holds the
        // writer commits when no other command is waiting for it (or the batch is full) and
        // hands the open transaction on otherwise; every command of a batch is answered once
        // its COMMIT returned, so "answered" still means "durable" (see `connect`).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let batch = match w.open {
            Some(batch) => batch,
            None => {
                w.conn.execute_batch("BEGIN IMMEDIATE")?;
                w.last_batch += 1;
                w.open = Some(w.last_batch);
                w.in_batch = 0;
                w.last_batch
            }
        };
        w.in_batch += 1;
        let result = if w.in_batch == 1 {
            // Alone in the transaction so far: no savepoint (SQLite would copy every page the
            // command changes into a statement journal); if it fails, the transaction goes.
            let result = apply_one(&w.conn, command, received);
            if result.is_err() {
                if !w.conn.is_autocommit() {
                    let _ = w.conn.execute_batch("ROLLBACK");
                }
                // Nothing else was in the batch: it is over, and no one waits for it.
                self.end_batch(&mut w, Ok(()));
                return result;
            }
            result
        } else {
            match w.conn.execute_batch("SAVEPOINT command") {
                Ok(()) => {
                    let result = apply_one(&w.conn, command, received);
                    let end = if result.is_ok() {
                        "RELEASE command"
                    } else {
                        "ROLLBACK TO command; RELEASE command"
                    };
                    match w.conn.execute_batch(end) {
                        Ok(()) => result,
                        Err(e) => {
                            // The transaction is in an unknown state: the whole batch fails.
                            let message = format!("savepoint: {e}");
                            self.end_batch(&mut w, Err(message.clone()));
                            return Err(DbError::Storage(message));
                        }
                    }
                }
                Err(e) => {
                    let message = format!("savepoint: {e}");
                    self.end_batch(&mut w, Err(message.clone()));
                    return Err(DbError::Storage(message));
                }
            }
        };
        if self.waiting.load(Ordering::SeqCst) > 0 && w.in_batch < MAX_BATCH {
            // The next command commits (or hands on further): wait for the batch's outcome.
            drop(w);
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            while done.committed < batch {
                done = self
                    .batch_done
                    .wait(done)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let outcome = done.failed.get(&batch).cloned();
            drop(done);
            return match outcome {
                None => result,
                Some(message) => Err(DbError::Storage(message)),
            };
        }
        let committed = self.commit(&mut w);
        drop(w);
        result.and(committed.map_err(DbError::Storage))
    }

    fn collect_garbage(
        &self,
        retention: &Retention,
        now: &Timestamp,
    ) -> Result<Collected, DbError> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // Commands of an open batch first (their senders are waiting for it).
        if w.open.is_some() {
            self.commit(&mut w).map_err(DbError::Storage)?;
        }
        let tx = w
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut done = Collected::default();
        if let Some(ttl) = retention.node_ttl {
            let cutoff = now.minus(ttl);
            let c = cutoff.as_str();
            done.expired = tx.execute(GC_EXPIRE, params![now.as_str(), c, c, c])? as u64;
        }
        if let Some(ttl) = retention.node_purge_ttl {
            let cutoff = now.minus(ttl);
            let c = cutoff.as_str();
            let names: Vec<String> = tx
                .prepare(GC_PURGED)?
                .query_map(params![c, c], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for name in &names {
                for table in GC_NODE_TABLES {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE certname = ?1"),
                        params![name],
                    )?;
                }
            }
            if !names.is_empty() {
                tx.execute(GC_FACT_PATHS, [])?;
            }
            done.purged = names.len() as u64;
        }
        if let Some(ttl) = retention.report_ttl {
            let cutoff = now.minus(ttl);
            tx.execute(GC_REPORT_EVENTS, params![cutoff.as_str()])?;
            done.reports = tx.execute(GC_REPORTS, params![cutoff.as_str()])? as u64;
            tx.execute(GC_LATEST, [])?;
        }
        tx.commit()?;
        Ok(done)
    }

    fn query(&self, query: &SqlQuery) -> Result<Rows, DbError> {
        let mut rows = Vec::new();
        let total = self.query_each(query, &mut |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(Rows { rows, total })
    }

    fn query_each(
        &self,
        query: &SqlQuery,
        each: &mut dyn FnMut(Map<String, Value>) -> Result<(), DbError>,
    ) -> Result<Option<u64>, DbError> {
        let conn = self.reader()?;
        let result = run(&conn, query, each);
        self.give_back(conn);
        result
    }

    fn write_rows(
        &self,
        query: &SqlQuery,
        out: &mut dyn std::io::Write,
    ) -> Result<Option<usize>, DbError> {
        // Each key once (a repeated one is one key of a `Map`: left to `query_each`).
        let mut names: Vec<&str> = query.columns.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Ok(None);
        }
        // `{"key":` / `,"key":`, written once.
        let keys: Vec<Vec<u8>> = query
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let mut k = vec![if i == 0 { b'{' } else { b',' }];
                serde_json::to_writer(&mut k, name)
                    .map_err(|e| DbError::Storage(format!("answer: {e}")))?;
                k.push(b':');
                Ok(k)
            })
            .collect::<Result<_, DbError>>()?;
        let sent = |e: std::io::Error| DbError::Io {
            what: "send the answer".to_string(),
            source: e,
        };
        let conn = self.reader()?;
        let result = (|| {
            let mut n = 0usize;
            let mut stmt = conn.prepare_cached(&query.sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(query.params.iter()))?;
            // Rows gather in `buf` and go to `out` by the few kilobytes.
            let mut buf = Vec::with_capacity(ROWS_BUFFER + 1024);
            buf.push(b'[');
            while let Some(row) = rows.next()? {
                if n > 0 {
                    buf.push(b',');
                }
                if keys.is_empty() {
                    buf.push(b'{');
                }
                for (i, ((_, how), key)) in query.columns.iter().zip(&keys).enumerate() {
                    buf.extend_from_slice(key);
                    write_value(&mut buf, row.get_ref(i)?, *how)?;
                }
                buf.push(b'}');
                n += 1;
                if buf.len() >= ROWS_BUFFER {
                    out.write_all(&buf).map_err(sent)?;
                    buf.clear();
                }
            }
            buf.push(b']');
            out.write_all(&buf).map_err(sent)?;
            Ok(n)
        })();
        self.give_back(conn);
        result.map(Some)
    }
}

/// How many bytes of rows [`SqliteStorage::write_rows`] gathers before it writes them on.
const ROWS_BUFFER: usize = 16 * 1024;

/// One value of a row, written as the JSON [`decode`] makes of it (and `serde_json` writes).
fn write_value(out: &mut Vec<u8>, v: ValueRef<'_>, how: Decode) -> Result<(), DbError> {
    let json = |e: serde_json::Error| DbError::Storage(format!("answer: {e}"));
    match (v, how) {
        (ValueRef::Null, _) => out.extend_from_slice(b"null"),
        (ValueRef::Integer(i), Decode::Bool) => {
            out.extend_from_slice(if i != 0 { b"true" } else { b"false" })
        }
        (ValueRef::Integer(i), _) => out.extend_from_slice(i.to_string().as_bytes()),
        (ValueRef::Text(_), Decode::Json) | (ValueRef::Real(_), _) => {
            serde_json::to_writer(&mut *out, &decode(v, how)).map_err(json)?
        }
        (ValueRef::Text(t) | ValueRef::Blob(t), _) => {
            serde_json::to_writer(&mut *out, &String::from_utf8_lossy(t)).map_err(json)?
        }
    }
    Ok(())
}

fn decode(v: ValueRef<'_>, how: Decode) -> Value {
    match (v, how) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(i), Decode::Bool) => Value::Bool(i != 0),
        (ValueRef::Text(t), Decode::Json) => serde_json::from_slice(t)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(t).into())),
        (ValueRef::Integer(i), _) => Value::from(i),
        (ValueRef::Real(f), _) => Value::from(f),
        (ValueRef::Text(t), _) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(b), _) => Value::String(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Runs `query`, each row handed to `each` as SQLite steps to it (the answer is never held
/// whole here).
fn run(
    conn: &Connection,
    query: &SqlQuery,
    each: &mut dyn FnMut(Map<String, Value>) -> Result<(), DbError>,
) -> Result<Option<u64>, DbError> {
    let mut stmt = conn.prepare_cached(&query.sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(query.params.iter()))?;
    while let Some(row) = rows.next()? {
        let mut m = Map::with_capacity(query.columns.len());
        for (i, (name, how)) in query.columns.iter().enumerate() {
            m.insert(name.clone(), decode(row.get_ref(i)?, *how));
        }
        each(m)?;
    }
    total(conn, query)
}

/// The total of `include_total`, when the query counts.
fn total(conn: &Connection, query: &SqlQuery) -> Result<Option<u64>, DbError> {
    Ok(match &query.count {
        Some((sql, params)) => {
            let n: i64 = conn
                .prepare_cached(sql)?
                .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
            Some(u64::try_from(n).unwrap_or(0))
        }
        None => None,
    })
}
