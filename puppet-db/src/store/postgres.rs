//! The PostgreSQL backend (feature `postgres`): PuppetDB's data in a PostgreSQL database,
//! shared by as many `puppet-db` instances as point at it.
//!
//! - Connections: the synchronous `postgres` client, a few kept open for reuse. No TLS: the
//!   database is reached on a Unix socket or a trusted network (`sslmode=disable`); put the
//!   service next to its database or tunnel it.
//! - Schema: created and migrated at [`PostgresStorage::open`], one version at a time,
//!   recorded in `puppet_db_migrations`, under a transaction-level advisory lock so that
//!   several instances opening the same database at once apply each migration once.
//! - Commands: one transaction each, which first locks the node's `certnames` row, so that
//!   two instances writing for the same node take turns (PuppetDB's rules then hold: an older
//!   `producer_timestamp` does not replace newer data). A command's statements go in two
//!   pipelined batches on a connection of its own (`pg_pipeline`): the lock and the reads of
//!   what is stored, then the writes of what changed and `COMMIT`. Durability is
//!   PostgreSQL's: the command is answered once its `COMMIT` returned (`synchronous_commit`
//!   as the server has it, `on` by default: the commit's WAL record is flushed first).
//! - Queries: SQL compiled for [`Dialect::Postgres`]; client regexes are rewritten from the
//!   `regex` crate's syntax (no back-references, so PostgreSQL matches them with its DFA), and
//!   every connection has a statement timeout.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Row};
use serde_json::{Map, Value};

use super::pg_pipeline::{Reply, Step, Writer, async_config};
use super::{
    Collected, Decode, Dialect, FactsText, GC_EXPIRE, GC_FACT_PATHS, GC_LATEST, GC_NODE_TABLES,
    GC_PURGED, GC_REPORT_EVENTS, GC_REPORTS, Param, Retention, Rows, SqlQuery, Storage,
    catalog_texts, diff, fact_paths, json_text, numbered, report_hash,
};
use crate::command::{Catalog, CatalogInputs, Command, Factset, Report, ResourceEvent};
use crate::error::DbError;
use crate::time::Timestamp;

/// The advisory lock key taken around migrations ("puppetdb" in ASCII).
const MIGRATION_LOCK: i64 = 0x7075_7070_6574_6462;

/// The advisory lock key of garbage collection: one instance collects at a time.
const GC_LOCK: i64 = 0x7075_7070_6574_6467;

/// How long one statement may run before PostgreSQL cancels it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Idle connections kept for reuse.
const POOL_SIZE: usize = 16;

/// The schema, one entry per version; a database is brought to the last one at open.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE certnames (
  certname TEXT PRIMARY KEY,
  deactivated TEXT,
  expired TEXT,
  latest_report_hash TEXT
);
CREATE TABLE environments (name TEXT PRIMARY KEY);
CREATE TABLE factsets (
  certname TEXT PRIMARY KEY,
  environment TEXT,
  timestamp TEXT NOT NULL,
  producer_timestamp TEXT NOT NULL,
  producer TEXT,
  hash TEXT NOT NULL,
  facts JSON NOT NULL
);
CREATE TABLE facts (
  certname TEXT NOT NULL,
  name TEXT NOT NULL,
  value JSON NOT NULL,
  PRIMARY KEY (certname, name)
);
CREATE INDEX facts_name ON facts (name);
CREATE TABLE fact_paths (
  path JSONB NOT NULL,
  name TEXT NOT NULL,
  depth BIGINT NOT NULL,
  type TEXT NOT NULL,
  PRIMARY KEY (path, type)
);
CREATE TABLE fact_values (
  certname TEXT NOT NULL,
  path JSONB NOT NULL,
  name TEXT NOT NULL,
  depth BIGINT NOT NULL,
  value JSON NOT NULL
);
CREATE INDEX fact_values_certname ON fact_values (certname);
CREATE INDEX fact_values_path ON fact_values (path);
CREATE TABLE catalogs (
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
CREATE TABLE catalog_inputs (
  certname TEXT PRIMARY KEY,
  catalog_uuid TEXT NOT NULL,
  producer_timestamp TEXT NOT NULL,
  inputs JSONB NOT NULL
);
CREATE TABLE catalog_resources (
  certname TEXT NOT NULL,
  type TEXT NOT NULL,
  title TEXT NOT NULL,
  resource TEXT NOT NULL,
  tags JSONB NOT NULL,
  exported BOOLEAN NOT NULL,
  file TEXT,
  line BIGINT,
  parameters JSON NOT NULL,
  PRIMARY KEY (certname, type, title)
);
CREATE INDEX catalog_resources_type_title ON catalog_resources (type, title);
CREATE TABLE edges (
  certname TEXT NOT NULL,
  idx BIGINT NOT NULL,
  source_type TEXT NOT NULL,
  source_title TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_title TEXT NOT NULL,
  relationship TEXT NOT NULL
);
CREATE INDEX edges_certname ON edges (certname);
CREATE TABLE reports (
  hash TEXT PRIMARY KEY,
  certname TEXT NOT NULL,
  puppet_version TEXT NOT NULL,
  report_format BIGINT NOT NULL,
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
  noop BOOLEAN,
  noop_pending BOOLEAN,
  corrective_change BOOLEAN,
  environment TEXT,
  status TEXT,
  type TEXT NOT NULL,
  metrics JSON NOT NULL,
  logs JSON NOT NULL
);
CREATE INDEX reports_certname ON reports (certname, producer_timestamp);
CREATE TABLE resource_events (
  report_hash TEXT NOT NULL,
  idx BIGINT NOT NULL,
  certname TEXT NOT NULL,
  status TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_title TEXT NOT NULL,
  property TEXT,
  name TEXT,
  new_value JSON NOT NULL,
  old_value JSON NOT NULL,
  message TEXT,
  file TEXT,
  line BIGINT,
  containment_path JSONB NOT NULL,
  containing_class TEXT,
  corrective_change BOOLEAN
);
CREATE INDEX resource_events_report ON resource_events (report_hash);
CREATE INDEX resource_events_certname ON resource_events (certname);
"#];

/// PuppetDB's data in a PostgreSQL database.
///
/// `url` is a `postgres://user:password@host:port/database` URL or libpq's `key=value`
/// form (`host=/run/postgresql user=puppetdb dbname=puppetdb`: a `host` that is a
/// directory is a Unix socket). TLS to PostgreSQL is not supported.
///
/// ```no_run
/// use puppet_db::{PostgresStorage, PuppetDb, Storage};
/// let store = PostgresStorage::open("postgres://puppetdb@127.0.0.1:5432/puppetdb").unwrap();
/// assert_eq!(store.dialect(), puppet_db::Dialect::Postgres);
/// let db = PuppetDb::new(std::sync::Arc::new(store));
/// let nodes = db.query("nodes", None, &Default::default()).unwrap();
/// println!("{} active nodes", nodes.rows.len());
/// ```
pub struct PostgresStorage {
    config: postgres::Config,
    pool: Mutex<Vec<Conn>>,
    /// The same settings for the connections commands are written on.
    write_config: tokio_postgres::Config,
    /// Idle connections for commands (see [`pg_pipeline`](super::pg_pipeline)).
    writers: Mutex<Vec<Writer>>,
}

/// A connection for queries and garbage collection (commands have their own: [`Writer`]).
struct Conn {
    client: Client,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("PostgresStorage")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .finish_non_exhaustive()
    }
}

/// How a storage error from a deadlock or a serialization failure starts: the command is
/// tried again (its transaction was rolled back whole).
const TRANSIENT: &str = "postgresql (transient): ";

/// Attempts of one command when PostgreSQL reports a deadlock or a serialization failure.
const ATTEMPTS: usize = 3;

pub(crate) fn pg_err(e: postgres::Error) -> DbError {
    use postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            DbError::Storage(format!("{TRANSIENT}{e}"))
        }
        _ => DbError::Storage(format!("postgresql: {e}")),
    }
}

impl PostgresStorage {
    /// Connects to the database at `url`, then creates or migrates its schema.
    pub fn open(url: &str) -> Result<PostgresStorage, DbError> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            DbError::Config(format!("the PostgreSQL database URL does not parse: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(30));
        }
        if config.get_application_name().is_none() {
            config.application_name("puppet-db");
        }
        PostgresStorage::with_config(config)
    }

    /// Connects with a client configuration built by the caller (host, user, password,
    /// database), then creates or migrates the schema.
    pub fn with_config(config: postgres::Config) -> Result<PostgresStorage, DbError> {
        let store = PostgresStorage {
            write_config: async_config(&config),
            config,
            pool: Mutex::new(Vec::new()),
            writers: Mutex::new(Vec::new()),
        };
        let mut conn = store.connect()?;
        migrate(&mut conn.client)?;
        store.give_back(conn);
        Ok(store)
    }

    /// The schema version this crate migrates databases to.
    pub fn schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    fn connect(&self) -> Result<Conn, DbError> {
        let mut client = self.config.connect(NoTls).map_err(|e| {
            DbError::Storage(format!(
                "cannot connect to PostgreSQL (database {:?}): {e}",
                self.config.get_dbname().unwrap_or_default()
            ))
        })?;
        client.batch_execute(&session_setup()).map_err(pg_err)?;
        Ok(Conn { client })
    }

    fn writer(&self) -> Result<Writer, DbError> {
        let pooled = self.writers.lock().ok().and_then(|mut p| p.pop());
        match pooled {
            Some(w) if !w.is_closed() => Ok(w),
            _ => Writer::connect(&self.write_config, &session_setup()),
        }
    }

    /// A writer back to the pool, after a command that succeeded (after an error it may be
    /// inside a failed transaction: it is dropped, and PostgreSQL rolls that back).
    fn give_back_writer(&self, w: Writer) {
        if w.is_closed() {
            return;
        }
        if let Ok(mut p) = self.writers.lock()
            && p.len() < POOL_SIZE
        {
            p.push(w);
        }
    }

    fn client(&self) -> Result<Conn, DbError> {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        match pooled {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => self.connect(),
        }
    }

    fn give_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        if let Ok(mut p) = self.pool.lock()
            && p.len() < POOL_SIZE
        {
            p.push(conn);
        }
    }
}

/// What every connection sets first: the statement timeout, no notices below warnings.
fn session_setup() -> String {
    format!(
        "SET statement_timeout = {}; SET client_min_messages = warning",
        STATEMENT_TIMEOUT.as_millis()
    )
}

/// Brings the schema to the last version, under an advisory lock (concurrent openers wait,
/// then find the work done).
fn migrate(client: &mut Client) -> Result<(), DbError> {
    let mut tx = client.transaction().map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS puppet_db_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL)",
    )
    .map_err(pg_err)?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM puppet_db_migrations",
            &[],
        )
        .map_err(pg_err)?
        .get(0);
    if current > MIGRATIONS.len() as i64 {
        return Err(DbError::Storage(format!(
            "the database's schema is version {current}, newer than this puppet-db knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).map_err(pg_err)?;
        tx.execute(
            "INSERT INTO puppet_db_migrations (version, applied) VALUES ($1, $2)",
            &[&(i as i64 + 1), &Timestamp::now().as_str()],
        )
        .map_err(pg_err)?;
    }
    tx.commit().map_err(pg_err)
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let json = matches!(*ty, Type::JSON | Type::JSONB);
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ if json => Value::from(*i).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Param::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ if json => Value::from(*f).to_sql(ty, out),
                Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL => Ok(IsNull::Yes),
                _ => f.to_string().to_sql(ty, out),
            },
            Param::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(*b).to_sql(ty, out),
                Type::INT4 => i32::from(*b).to_sql(ty, out),
                _ if json => Value::Bool(*b).to_sql(ty, out),
                _ => b.to_string().to_sql(ty, out),
            },
            Param::Text(s) => match *ty {
                _ if json => Value::String(s.clone()).to_sql(ty, out),
                Type::BOOL => match s.as_str() {
                    "true" => true.to_sql(ty, out),
                    "false" => false.to_sql(ty, out),
                    _ => Ok(IsNull::Yes),
                },
                // As SQLite compares text with an integer column: by its number, if any.
                Type::INT8 | Type::INT4 | Type::INT2 => match s.trim().parse::<i64>() {
                    Ok(n) => Param::Int(n).to_sql(ty, out),
                    Err(_) => Ok(IsNull::Yes),
                },
                Type::FLOAT8 => match s.trim().parse::<f64>() {
                    Ok(f) => f.to_sql(ty, out),
                    Err(_) => Ok(IsNull::Yes),
                },
                _ => s.as_str().to_sql(ty, out),
            },
            Param::Json(s) => match *ty {
                _ if json => serde_json::from_str::<Value>(s)?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::FLOAT8
                | Type::FLOAT4
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::JSON
                | Type::JSONB
        )
    }

    to_sql_checked!();
}

/// Makes sure the node exists, locks its row for the transaction (instances writing for the
/// same node take turns), and reactivates it when the command's producer timestamp (`$2`)
/// is newer than its deactivation or expiry: one statement (`ON CONFLICT DO UPDATE` locks
/// the row it finds even when its `WHERE` leaves it as it is). The statements after it in a
/// command's transaction take their snapshots once it holds the lock.
const TOUCH_NODE: &str = "INSERT INTO certnames AS c (certname) VALUES ($1) \
     ON CONFLICT (certname) DO UPDATE SET deactivated = NULL, expired = NULL \
     WHERE (c.deactivated IS NOT NULL AND c.deactivated < $2) \
     OR (c.expired IS NOT NULL AND c.expired < $2)";

const ENVIRONMENT: &str = "INSERT INTO environments (name) VALUES ($1) ON CONFLICT DO NOTHING";

/// The start of every command's transaction: `BEGIN` and the node's row lock.
fn begin<'a>(certname: &'a String, ts: &'a &'a str) -> [Step<'a>; 2] {
    [
        Step::Simple("BEGIN"),
        Step::Execute(TOUCH_NODE, vec![certname, ts]),
    ]
}

/// A text column of a row.
fn text_at(row: &Row, i: usize) -> Result<&str, DbError> {
    row.try_get(i)
        .map_err(|e| DbError::Storage(format!("postgresql: column {i}: {e}")))
}

fn replace_facts(w: &mut Writer, f: &Factset, received: &Timestamp) -> Result<(), DbError> {
    let received = received.as_str();
    // The values serialized once: the factset's hash, its `facts` column, each fact's text.
    let texts = FactsText::new(f);
    let hash = texts.hash.as_str();
    let ts = f.producer_timestamp.as_str();
    // First batch: the lock, the stored factset's timestamp and hash and, only when they are
    // to be compared (a stored factset no newer than this one, with other values), the
    // stored facts with their value's text (`value::text` of a `json` column is the text
    // stored, the same `json_text` the diff compares with).
    let [b0, b1] = begin(&f.certname, &ts);
    let first = w.run(&[
        b0,
        b1,
        Step::Query(
            "SELECT producer_timestamp, hash FROM factsets WHERE certname = $1",
            vec![&f.certname],
        ),
        Step::Query(
            "SELECT name, value::text FROM facts WHERE certname = $1 AND EXISTS \
             (SELECT 1 FROM factsets s WHERE s.certname = $1 AND s.producer_timestamp <= $2 \
             AND s.hash <> $3)",
            vec![&f.certname, &ts, &hash],
        ),
    ])?;
    let stored = match first[2].rows().first() {
        Some(row) => Some((text_at(row, 0)?, text_at(row, 1)?)),
        None => None,
    };
    if stored.is_some_and(|(t, _)| t > ts) {
        // Older than the stored factset: nothing but the node's lock (and reactivation).
        w.run(&[Step::Simple("COMMIT")])?;
        return Ok(());
    }
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(9);
    if let Some(env) = &f.environment {
        steps.push(Step::Execute(ENVIRONMENT, vec![env]));
    }
    if stored.is_some_and(|(_, h)| h == hash) {
        // The same facts (and environment) again: only the timestamps change.
        steps.push(Step::Execute(
            "UPDATE factsets SET timestamp = $2, producer_timestamp = $3, producer = $4 \
             WHERE certname = $1",
            vec![&f.certname, &received, &ts, &f.producer],
        ));
        steps.push(Step::Simple("COMMIT"));
        w.run(&steps)?;
        return Ok(());
    }
    steps.push(Step::Execute(
        "INSERT INTO factsets (certname, environment, timestamp, producer_timestamp, producer, hash, facts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::text::json) ON CONFLICT (certname) DO UPDATE SET \
         environment = excluded.environment, timestamp = excluded.timestamp, \
         producer_timestamp = excluded.producer_timestamp, producer = excluded.producer, \
         hash = excluded.hash, facts = excluded.facts",
        vec![
            &f.certname,
            &f.environment,
            &received,
            &ts,
            &f.producer,
            &hash,
            &texts.text,
        ],
    ));
    // Only the facts that changed (what PuppetDB does too); a node's first factset has
    // nothing stored to compare with.
    let mut old: HashMap<String, String> = HashMap::new();
    for row in first[3].rows() {
        old.insert(text_at(row, 0)?.to_string(), text_at(row, 1)?.to_string());
    }
    let diff = diff::facts_with_texts(&old, texts.facts(), &f.values);
    let gone: Vec<&str> = diff
        .removed
        .iter()
        .map(String::as_str)
        .chain(diff.changed.iter().map(|c| c.0))
        .collect();
    if !diff.removed.is_empty() {
        steps.push(Step::Execute(
            "DELETE FROM facts WHERE certname = $1 AND name = ANY($2)",
            vec![&f.certname, &diff.removed],
        ));
    }
    if !gone.is_empty() {
        steps.push(Step::Execute(
            "DELETE FROM fact_values WHERE certname = $1 AND name = ANY($2)",
            vec![&f.certname, &gone],
        ));
    }
    // Rows go in as arrays (`unnest`): one statement per table, not one per row; JSON as
    // its text, cast by PostgreSQL (not parsed and written again here).
    let mut names: Vec<&str> = Vec::new();
    let mut values: Vec<&str> = Vec::new();
    let mut paths = Vec::new();
    let (mut leaf_paths, mut leaf_names, mut leaf_depths, mut leaf_values) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut leaves = Vec::new();
    for (name, value, text) in diff.written() {
        names.push(*name);
        values.push(text.as_str());
        leaves.clear();
        let mut path = vec![Value::String((*name).to_string())];
        fact_paths(&mut path, value, &mut paths, &mut leaves);
        for (leaf_path, leaf_value, depth) in leaves.drain(..) {
            leaf_paths.push(leaf_path);
            leaf_names.push(*name);
            leaf_depths.push(depth);
            leaf_values.push(leaf_value);
        }
    }
    // Fact paths are shared by every node: insert them in one order (two transactions
    // inserting overlapping paths in different orders could deadlock).
    paths.sort_by(|a, b| (&a.0, a.3).cmp(&(&b.0, b.3)));
    paths.dedup_by(|a, b| a.0 == b.0 && a.3 == b.3);
    let path_values: Vec<&str> = paths.iter().map(|p| p.0.as_str()).collect();
    let path_names: Vec<&str> = paths.iter().map(|p| p.1.as_str()).collect();
    let path_depths: Vec<i64> = paths.iter().map(|p| p.2).collect();
    let path_types: Vec<&str> = paths.iter().map(|p| p.3).collect();
    if !names.is_empty() {
        steps.push(Step::Execute(
            "INSERT INTO facts (certname, name, value) \
             SELECT $1, n, v::json FROM unnest($2::text[], $3::text[]) AS t(n, v) \
             ON CONFLICT (certname, name) DO UPDATE SET value = excluded.value",
            vec![&f.certname, &names, &values],
        ));
        steps.push(Step::Execute(
            "INSERT INTO fact_values (certname, path, name, depth, value) \
             SELECT $1, p::jsonb, n, d, v::json \
             FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[]) AS t(p, n, d, v)",
            vec![
                &f.certname,
                &leaf_paths,
                &leaf_names,
                &leaf_depths,
                &leaf_values,
            ],
        ));
        steps.push(Step::Execute(
            "INSERT INTO fact_paths (path, name, depth, type) \
             SELECT p::jsonb, n, d, ty \
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) AS t(p, n, d, ty) \
             ON CONFLICT DO NOTHING",
            vec![&path_values, &path_names, &path_depths, &path_types],
        ));
    }
    steps.push(Step::Simple("COMMIT"));
    w.run(&steps)?;
    Ok(())
}

fn replace_catalog(w: &mut Writer, c: &Catalog, received: &Timestamp) -> Result<(), DbError> {
    let received = received.as_str();
    // Resources serialized and hashed once each (the hash, the tags' and parameters' text).
    let (texts, hash) = catalog_texts(c);
    let ts = c.producer_timestamp.as_str();
    // First batch: the lock, the stored catalog's timestamp and, when this catalog is not
    // older, its resources (by hash) and edges, to compare with.
    let [b0, b1] = begin(&c.certname, &ts);
    let first = w.run(&[
        b0,
        b1,
        Step::Query(
            "SELECT producer_timestamp FROM catalogs WHERE certname = $1",
            vec![&c.certname],
        ),
        Step::Query(
            "SELECT type, title, resource FROM catalog_resources WHERE certname = $1 AND EXISTS \
             (SELECT 1 FROM catalogs s WHERE s.certname = $1 AND s.producer_timestamp <= $2)",
            vec![&c.certname, &ts],
        ),
        Step::Query(
            "SELECT source_type, source_title, target_type, target_title, relationship, idx \
             FROM edges WHERE certname = $1 AND EXISTS \
             (SELECT 1 FROM catalogs s WHERE s.certname = $1 AND s.producer_timestamp <= $2)",
            vec![&c.certname, &ts],
        ),
    ])?;
    let stored = match first[2].rows().first() {
        Some(row) => Some(text_at(row, 0)?),
        None => None,
    };
    if stored.is_some_and(|t| t > ts) {
        w.run(&[Step::Simple("COMMIT")])?;
        return Ok(());
    }
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(7);
    if let Some(env) = &c.environment {
        steps.push(Step::Execute(ENVIRONMENT, vec![env]));
    }
    steps.push(Step::Execute(
        "INSERT INTO catalogs (certname, version, environment, transaction_uuid, catalog_uuid, \
         code_id, job_id, producer_timestamp, producer, hash, timestamp) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (certname) DO UPDATE SET \
         version = excluded.version, environment = excluded.environment, \
         transaction_uuid = excluded.transaction_uuid, catalog_uuid = excluded.catalog_uuid, \
         code_id = excluded.code_id, job_id = excluded.job_id, \
         producer_timestamp = excluded.producer_timestamp, producer = excluded.producer, \
         hash = excluded.hash, timestamp = excluded.timestamp",
        vec![
            &c.certname,
            &c.version,
            &c.environment,
            &c.transaction_uuid,
            &c.catalog_uuid,
            &c.code_id,
            &c.job_id,
            &ts,
            &c.producer,
            &hash,
            &received,
        ],
    ));
    // Only what changed: resources by their hash, edges by what they link.
    let mut old_resources = HashMap::new();
    for row in first[3].rows() {
        old_resources.insert(
            (text_at(row, 0)?.to_string(), text_at(row, 1)?.to_string()),
            text_at(row, 2)?.to_string(),
        );
    }
    let mut old_edges = Vec::new();
    let mut next_idx: i64 = 0;
    for row in first[4].rows() {
        old_edges.push((
            text_at(row, 0)?.to_string(),
            text_at(row, 1)?.to_string(),
            text_at(row, 2)?.to_string(),
            text_at(row, 3)?.to_string(),
            text_at(row, 4)?.to_string(),
        ));
        let idx: i64 = row
            .try_get(5)
            .map_err(|e| DbError::Storage(format!("postgresql: column 5: {e}")))?;
        next_idx = next_idx.max(idx + 1);
    }
    let hashes: Vec<&str> = texts.iter().map(|t| t.hash.as_str()).collect();
    let diff = diff::catalog(&old_resources, &old_edges, &c.resources, &hashes, &c.edges);
    let removed_types: Vec<&str> = diff.removed.iter().map(|r| r.0.as_str()).collect();
    let removed_titles: Vec<&str> = diff.removed.iter().map(|r| r.1.as_str()).collect();
    if !diff.removed.is_empty() {
        steps.push(Step::Execute(
            "DELETE FROM catalog_resources WHERE certname = $1 AND (type, title) IN \
             (SELECT * FROM unnest($2::text[], $3::text[]))",
            vec![&c.certname, &removed_types, &removed_titles],
        ));
    }
    let written = &diff.written_index;
    let res = |i: &usize| &c.resources[*i];
    let text = |i: &usize| &texts[*i];
    let types: Vec<&str> = written.iter().map(|i| res(i).r#type.as_str()).collect();
    let titles: Vec<&str> = written.iter().map(|i| res(i).title.as_str()).collect();
    let resource_hashes: Vec<&str> = written.iter().map(|i| text(i).hash.as_str()).collect();
    let tags: Vec<&str> = written.iter().map(|i| text(i).tags()).collect();
    let parameters: Vec<&str> = written.iter().map(|i| text(i).parameters()).collect();
    let files: Vec<Option<&str>> = written
        .iter()
        .map(|&i| c.resources[i].file.as_deref())
        .collect();
    let exported: Vec<bool> = written.iter().map(|&i| c.resources[i].exported).collect();
    let lines: Vec<Option<i64>> = written.iter().map(|&i| c.resources[i].line).collect();
    if !written.is_empty() {
        steps.push(Step::Execute(
            "INSERT INTO catalog_resources (certname, type, title, resource, tags, exported, file, line, parameters) \
             SELECT $1, ty, ti, h, tg::jsonb, ex, fi, li, pa::json FROM unnest($2::text[], $3::text[], \
             $4::text[], $5::text[], $6::bool[], $7::text[], $8::int8[], $9::text[]) \
             AS t(ty, ti, h, tg, ex, fi, li, pa) \
             ON CONFLICT (certname, type, title) DO UPDATE SET resource = excluded.resource, \
             tags = excluded.tags, exported = excluded.exported, file = excluded.file, \
             line = excluded.line, parameters = excluded.parameters",
            vec![
                &c.certname,
                &types,
                &titles,
                &resource_hashes,
                &tags,
                &exported,
                &files,
                &lines,
                &parameters,
            ],
        ));
    }
    let er = &diff.edges_removed;
    let col = |f: &dyn Fn(&diff::EdgeKey) -> &str| er.iter().map(f).collect::<Vec<_>>();
    let removed_edges = [
        col(&|k| &k.0),
        col(&|k| &k.1),
        col(&|k| &k.2),
        col(&|k| &k.3),
        col(&|k| &k.4),
    ];
    if !er.is_empty() {
        steps.push(Step::Execute(
            "DELETE FROM edges WHERE certname = $1 AND \
             (source_type, source_title, target_type, target_title, relationship) IN \
             (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]))",
            vec![
                &c.certname,
                &removed_edges[0],
                &removed_edges[1],
                &removed_edges[2],
                &removed_edges[3],
                &removed_edges[4],
            ],
        ));
    }
    let ew = &diff.edges_written;
    let es =
        |f: &dyn Fn(&crate::command::Edge) -> &str| ew.iter().map(|e| f(e)).collect::<Vec<_>>();
    let idx: Vec<i64> = (next_idx..next_idx + ew.len() as i64).collect();
    let written_edges = [
        es(&|e| &e.source_type),
        es(&|e| &e.source_title),
        es(&|e| &e.target_type),
        es(&|e| &e.target_title),
        es(&|e| &e.relationship),
    ];
    if !ew.is_empty() {
        steps.push(Step::Execute(
            "INSERT INTO edges (certname, idx, source_type, source_title, target_type, target_title, relationship) \
             SELECT $1, i, st, sti, tt, tti, r FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[]) AS t(i, st, sti, tt, tti, r)",
            vec![
                &c.certname,
                &idx,
                &written_edges[0],
                &written_edges[1],
                &written_edges[2],
                &written_edges[3],
                &written_edges[4],
            ],
        ));
    }
    steps.push(Step::Simple("COMMIT"));
    w.run(&steps)?;
    Ok(())
}

fn replace_catalog_inputs(w: &mut Writer, c: &CatalogInputs) -> Result<(), DbError> {
    let ts = c.producer_timestamp.as_str();
    let inputs = json_text(&c.inputs);
    let [b0, b1] = begin(&c.certname, &ts);
    w.run(&[
        b0,
        b1,
        Step::Execute(
            "INSERT INTO catalog_inputs (certname, catalog_uuid, producer_timestamp, inputs) \
             VALUES ($1, $2, $3, $4::text::jsonb) \
             ON CONFLICT (certname) DO UPDATE SET catalog_uuid = excluded.catalog_uuid, \
             producer_timestamp = excluded.producer_timestamp, inputs = excluded.inputs \
             WHERE excluded.producer_timestamp > catalog_inputs.producer_timestamp",
            vec![&c.certname, &c.catalog_uuid, &ts, &inputs],
        ),
        Step::Simple("COMMIT"),
    ])?;
    Ok(())
}

fn opt_bool(v: Option<&Value>) -> Option<bool> {
    v.and_then(Value::as_bool)
}

fn opt_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fn store_report(w: &mut Writer, r: &Report, received: &Timestamp) -> Result<(), DbError> {
    let received = received.as_str();
    let a = &r.attributes;
    let hash = report_hash(r);
    let ts = r.producer_timestamp.as_str();
    let metrics = json_text(&r.metrics);
    let logs = json_text(&r.logs);
    let (start, end) = (r.start_time.as_str(), r.end_time.as_str());
    let attrs = [
        opt_str(a.get("transaction_uuid")),
        opt_str(a.get("catalog_uuid")),
        opt_str(a.get("code_id")),
        opt_str(a.get("job_id")),
        opt_str(a.get("cached_catalog_status")),
        opt_str(a.get("status")),
    ];
    let flags = [
        opt_bool(a.get("noop")),
        opt_bool(a.get("noop_pending")),
        opt_bool(a.get("corrective_change")),
    ];
    let kind = opt_str(a.get("type")).unwrap_or("agent");
    let [b0, b1] = begin(&r.certname, &ts);
    let mut steps = vec![b0, b1];
    if let Some(env) = &r.environment {
        steps.push(Step::Execute(ENVIRONMENT, vec![env]));
    }
    steps.push(Step::Execute(
        "INSERT INTO reports (hash, certname, puppet_version, report_format, configuration_version, \
         start_time, end_time, producer_timestamp, producer, receive_time, transaction_uuid, catalog_uuid, \
         code_id, job_id, cached_catalog_status, noop, noop_pending, corrective_change, environment, status, \
         type, metrics, logs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         $17, $18, $19, $20, $21, $22::text::json, $23::text::json) ON CONFLICT DO NOTHING",
        vec![
            &hash,
            &r.certname,
            &r.puppet_version,
            &r.report_format,
            &r.configuration_version,
            &start,
            &end,
            &ts,
            &r.producer,
            &received,
            &attrs[0],
            &attrs[1],
            &attrs[2],
            &attrs[3],
            &attrs[4],
            &flags[0],
            &flags[1],
            &flags[2],
            &r.environment,
            &attrs[5],
            &kind,
            &metrics,
            &logs,
        ],
    ));
    let first = w.run(&steps)?;
    if first.last().map_or(0, Reply::count) == 0 {
        // The same report again: PuppetDB stores it once.
        w.run(&[Step::Simple("COMMIT")])?;
        return Ok(());
    }
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(3);
    // Every event in one statement (arrays, `unnest`), not one statement per event.
    let ev = &r.events;
    let idx: Vec<i64> = (0..ev.len() as i64).collect();
    let text = |f: &dyn Fn(&ResourceEvent) -> &str| ev.iter().map(f).collect::<Vec<_>>();
    let opt_text =
        |f: &dyn Fn(&ResourceEvent) -> Option<&str>| ev.iter().map(f).collect::<Vec<_>>();
    let texts = [
        text(&|e| &e.status),
        text(&|e| e.timestamp.as_str()),
        text(&|e| &e.resource_type),
        text(&|e| &e.resource_title),
    ];
    let opt_texts = [
        opt_text(&|e| e.property.as_deref()),
        opt_text(&|e| e.name.as_deref()),
        opt_text(&|e| e.message.as_deref()),
        opt_text(&|e| e.file.as_deref()),
        opt_text(&|e| e.containing_class()),
    ];
    let new_values: Vec<String> = ev.iter().map(|e| json_text(&e.new_value)).collect();
    let old_values: Vec<String> = ev.iter().map(|e| json_text(&e.old_value)).collect();
    let containment: Vec<String> = ev.iter().map(|e| json_text(&e.containment_path)).collect();
    let lines: Vec<Option<i64>> = ev.iter().map(|e| e.line).collect();
    let corrective: Vec<Option<bool>> = ev.iter().map(|e| e.corrective_change).collect();
    if !ev.is_empty() {
        steps.push(Step::Execute(
            "INSERT INTO resource_events (report_hash, idx, certname, status, timestamp, resource_type, \
             resource_title, property, name, new_value, old_value, message, file, line, containment_path, \
             containing_class, corrective_change) \
             SELECT $1, i, $2, st, ts, ty, ti, pr, na, nv::json, ov::json, me, fi, li, cp::jsonb, cc, co \
             FROM unnest($3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::text[], $16::text[], \
             $17::bool[]) AS t(i, st, ts, ty, ti, pr, na, nv, ov, me, fi, li, cp, cc, co)",
            vec![
                &hash,
                &r.certname,
                &idx,
                &texts[0],
                &texts[1],
                &texts[2],
                &texts[3],
                &opt_texts[0],
                &opt_texts[1],
                &new_values,
                &old_values,
                &opt_texts[2],
                &opt_texts[3],
                &lines,
                &containment,
                &opt_texts[4],
                &corrective,
            ],
        ));
    }
    steps.push(Step::Execute(
        "UPDATE certnames SET latest_report_hash = $2 WHERE certname = $1 AND (latest_report_hash IS NULL \
         OR $3 >= (SELECT producer_timestamp FROM reports WHERE hash = certnames.latest_report_hash))",
        vec![&r.certname, &hash, &ts],
    ));
    steps.push(Step::Simple("COMMIT"));
    w.run(&steps)?;
    Ok(())
}

/// Applies a command in one transaction on `w`, in two batches at most (see
/// [`pg_pipeline`](super::pg_pipeline)).
fn apply_on(w: &mut Writer, command: &Command, received: &Timestamp) -> Result<(), DbError> {
    match command {
        Command::ReplaceFacts(f) => replace_facts(w, f, received),
        Command::ReplaceCatalog(c) => replace_catalog(w, c, received),
        Command::ReplaceCatalogInputs(c) => replace_catalog_inputs(w, c),
        Command::StoreReport(r) => store_report(w, r, received),
        Command::DeactivateNode {
            certname,
            producer_timestamp,
        } => {
            let ts = producer_timestamp.as_str();
            // Created deactivated, or its row locked (and deactivated when this is newer).
            w.run(&[
                Step::Simple("BEGIN"),
                Step::Execute(
                    "INSERT INTO certnames AS c (certname, deactivated) VALUES ($1, $2) \
                     ON CONFLICT (certname) DO UPDATE SET deactivated = $2 \
                     WHERE c.deactivated IS NULL OR c.deactivated < $2",
                    vec![certname, &ts],
                ),
                Step::Simple("COMMIT"),
            ])?;
            Ok(())
        }
    }
}

impl Storage for PostgresStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn apply(&self, command: &Command, received: &Timestamp) -> Result<(), DbError> {
        let mut attempt = 1;
        loop {
            let mut writer = self.writer()?;
            let result = apply_on(&mut writer, command, received);
            if result.is_ok() {
                self.give_back_writer(writer);
            }
            match result {
                Err(DbError::Storage(m)) if m.starts_with(TRANSIENT) && attempt < ATTEMPTS => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn collect_garbage(
        &self,
        retention: &Retention,
        now: &Timestamp,
    ) -> Result<Collected, DbError> {
        let mut client = self.client()?;
        let result = collect(&mut client.client, retention, now);
        self.give_back(client);
        result
    }

    fn query(&self, query: &SqlQuery) -> Result<Rows, DbError> {
        let mut client = self.client()?;
        let result = run(&mut client.client, query);
        self.give_back(client);
        result
    }

    fn query_each(
        &self,
        query: &SqlQuery,
        each: &mut dyn FnMut(Map<String, Value>) -> Result<(), DbError>,
    ) -> Result<Option<u64>, DbError> {
        let mut client = self.client()?;
        let result = run_each(&mut client.client, query, each);
        self.give_back(client);
        result
    }
}

fn collect(
    client: &mut Client,
    retention: &Retention,
    now: &Timestamp,
) -> Result<Collected, DbError> {
    let mut tx = client.transaction().map_err(pg_err)?;
    let mut done = Collected::default();
    // Another instance collecting right now does this round's work.
    let mine: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&GC_LOCK])
        .map_err(pg_err)?
        .get(0);
    if !mine {
        return Ok(done);
    }
    if let Some(ttl) = retention.node_ttl {
        let cutoff = now.minus(ttl);
        let c = cutoff.as_str();
        done.expired = tx
            .execute(numbered(GC_EXPIRE).as_str(), &[&now.as_str(), &c, &c, &c])
            .map_err(pg_err)?;
    }
    if let Some(ttl) = retention.node_purge_ttl {
        let cutoff = now.minus(ttl);
        let c = cutoff.as_str();
        let names: Vec<String> = tx
            .query(
                format!("{} FOR UPDATE", numbered(GC_PURGED)).as_str(),
                &[&c, &c],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !names.is_empty() {
            for table in GC_NODE_TABLES {
                tx.execute(
                    format!("DELETE FROM {table} WHERE certname = ANY($1)").as_str(),
                    &[&names],
                )
                .map_err(pg_err)?;
            }
            tx.execute(GC_FACT_PATHS, &[]).map_err(pg_err)?;
        }
        done.purged = names.len() as u64;
    }
    if let Some(ttl) = retention.report_ttl {
        let cutoff = now.minus(ttl);
        let c = cutoff.as_str();
        tx.execute(numbered(GC_REPORT_EVENTS).as_str(), &[&c])
            .map_err(pg_err)?;
        done.reports = tx
            .execute(numbered(GC_REPORTS).as_str(), &[&c])
            .map_err(pg_err)?;
        tx.execute(GC_LATEST, &[]).map_err(pg_err)?;
    }
    tx.commit().map_err(pg_err)?;
    Ok(done)
}

fn decode(row: &Row, i: usize, how: Decode) -> Result<Value, DbError> {
    let ty = row.columns()[i].type_().clone();
    let v = match ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(pg_err)?
            .map(Value::Bool),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(pg_err)?
            .map(Value::from),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(pg_err)?
            .map(Value::from),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(pg_err)?
            .map(Value::from),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(pg_err)?
            .map(Value::from),
        Type::JSON | Type::JSONB => row.try_get::<_, Option<Value>>(i).map_err(pg_err)?,
        _ => row
            .try_get::<_, Option<String>>(i)
            .map_err(pg_err)?
            .map(|s| match how {
                Decode::Json => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                _ => Value::String(s),
            }),
    };
    Ok(v.unwrap_or(Value::Null))
}

fn params(p: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// The `include_total` count of `query`, if asked for.
fn total(client: &mut Client, query: &SqlQuery) -> Result<Option<u64>, DbError> {
    let Some((sql, p)) = &query.count else {
        return Ok(None);
    };
    let n: i64 = client
        .query_one(sql.as_str(), &params(p))
        .map_err(pg_err)?
        .get(0);
    Ok(Some(u64::try_from(n).unwrap_or(0)))
}

/// Runs `query`, each row handed to `each` as it arrives from the server (the answer is
/// never held whole: the connection reads on as the rows are taken).
fn run_each(
    client: &mut Client,
    query: &SqlQuery,
    each: &mut dyn FnMut(Map<String, Value>) -> Result<(), DbError>,
) -> Result<Option<u64>, DbError> {
    use postgres::fallible_iterator::FallibleIterator;
    let total = total(client, query)?;
    let mut rows = client
        .query_raw(query.sql.as_str(), params(&query.params))
        .map_err(pg_err)?;
    while let Some(row) = rows.next().map_err(pg_err)? {
        let mut m = Map::with_capacity(query.columns.len());
        for (i, (name, how)) in query.columns.iter().enumerate() {
            m.insert(name.clone(), decode(&row, i, *how)?);
        }
        each(m)?;
    }
    Ok(total)
}

fn run(client: &mut Client, query: &SqlQuery) -> Result<Rows, DbError> {
    let rows = client
        .query(query.sql.as_str(), &params(&query.params))
        .map_err(pg_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut m = Map::new();
        for (i, (name, how)) in query.columns.iter().enumerate() {
            m.insert(name.clone(), decode(row, i, *how)?);
        }
        out.push(m);
    }
    let total = total(client, query)?;
    Ok(Rows { rows: out, total })
}
