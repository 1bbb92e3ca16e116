//! Storage behind a trait: what a backend must do, and the SQL a query compiles to.

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
    /// An integer (booleans are bound as 0/1).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.38+ (JSON `->`/`->>`, a `regexp(pattern, text)` function).
    Sqlite,
}

/// A place where PuppetDB's data lives.
///
/// [`sqlite::SqliteStorage`] is the embedded backend. A PostgreSQL backend implements the
/// same trait: [`Storage::apply`] in one transaction, [`Storage::query`] for SQL compiled
/// for its [`Dialect`] (the compiler in [`crate::query`] is the only place that writes SQL
/// for queries).
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
