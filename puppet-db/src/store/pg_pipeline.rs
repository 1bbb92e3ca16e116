//! The connection the PostgreSQL backend writes commands on: tokio-postgres on a runtime of
//! its own (one thread: the caller's), so that the statements of a command are sent
//! together and answered together (pipelining) in place of one round trip each.
//!
//! A command is two batches: `BEGIN`, the node's row lock and the reads of what is stored;
//! then, once the difference is known, the writes and `COMMIT`. PostgreSQL runs the statements
//! of a batch one after another, in the order sent, each with its own snapshot (`READ
//! COMMITTED`), exactly as when they are sent one at a time: only the waits between them are
//! gone. When one fails, the ones after it in the transaction fail too ("current transaction
//! is aborted") and a `COMMIT` sent after them rolls back; the caller sees the first error and
//! drops the connection (PostgreSQL rolls back whatever is open), so nothing is half-written.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};

use super::postgres::pg_err;
use crate::error::DbError;

/// One statement of a batch.
pub(crate) enum Step<'a> {
    /// SQL without parameters, by the simple protocol (`BEGIN`, `COMMIT`).
    Simple(&'static str),
    /// A statement (prepared once per connection) whose row count is answered.
    Execute(&'static str, Vec<&'a (dyn ToSql + Sync)>),
    /// A statement (prepared once per connection) whose rows are answered.
    Query(&'static str, Vec<&'a (dyn ToSql + Sync)>),
}

impl Step<'_> {
    fn sql(&self) -> Option<&'static str> {
        match self {
            Step::Simple(_) => None,
            Step::Execute(sql, _) | Step::Query(sql, _) => Some(sql),
        }
    }
}

/// What a step answered.
pub(crate) enum Reply {
    /// A simple statement ran.
    Done,
    /// The rows a statement changed.
    Count(u64),
    /// The rows a query read.
    Rows(Vec<Row>),
}

impl Reply {
    /// The rows of a [`Step::Query`] (none for another step).
    pub fn rows(&self) -> &[Row] {
        match self {
            Reply::Rows(rows) => rows,
            _ => &[],
        }
    }

    /// The row count of a [`Step::Execute`] (0 for another step).
    pub fn count(&self) -> u64 {
        match self {
            Reply::Count(n) => *n,
            _ => 0,
        }
    }
}

/// A connection for commands, with the statements prepared on it.
pub(crate) struct Writer {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    prepared: HashMap<&'static str, Statement>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

impl Writer {
    /// Connects, with the session settings of `setup` (simple SQL).
    pub fn connect(config: &tokio_postgres::Config, setup: &str) -> Result<Writer, DbError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Storage(format!("a runtime for PostgreSQL: {e}")))?;
        let (client, connection) = runtime.block_on(config.connect(NoTls)).map_err(|e| {
            DbError::Storage(format!(
                "cannot connect to PostgreSQL (database {:?}): {e}",
                config.get_dbname().unwrap_or_default()
            ))
        })?;
        // Driven whenever the runtime runs (inside `block_on`, that is while a batch is).
        runtime.spawn(connection);
        runtime
            .block_on(client.batch_execute(setup))
            .map_err(pg_err)?;
        Ok(Writer {
            runtime,
            client,
            prepared: HashMap::new(),
        })
    }

    /// Whether the connection is gone (not to be used again).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Sends `steps` at once and waits for every answer, in order. The first error of a
    /// step is answered (those after it in a failed transaction fail too); after an error
    /// the connection may be inside a failed transaction and must be dropped.
    pub fn run(&mut self, steps: &[Step<'_>]) -> Result<Vec<Reply>, DbError> {
        let mut missing: Vec<&'static str> = steps
            .iter()
            .filter_map(Step::sql)
            .filter(|sql| !self.prepared.contains_key(sql))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let client = &self.client;
            let prepares: Vec<Boxed<'_, Result<Statement, tokio_postgres::Error>>> = missing
                .iter()
                .map(|sql| Box::pin(client.prepare(sql)) as Boxed<'_, _>)
                .collect();
            let prepared = self.runtime.block_on(in_order(prepares));
            for (sql, statement) in missing.into_iter().zip(prepared) {
                self.prepared.insert(sql, statement.map_err(pg_err)?);
            }
        }
        let statements: Vec<Option<Statement>> = steps
            .iter()
            .map(|s| s.sql().and_then(|sql| self.prepared.get(sql).cloned()))
            .collect();
        let client = &self.client;
        let futures: Vec<Boxed<'_, Result<Reply, DbError>>> = steps
            .iter()
            .zip(&statements)
            .map(|(step, statement)| -> Boxed<'_, Result<Reply, DbError>> {
                match (step, statement) {
                    (Step::Simple(sql), _) => Box::pin(async move {
                        client.batch_execute(sql).await.map_err(pg_err)?;
                        Ok(Reply::Done)
                    }),
                    (Step::Execute(_, params), Some(statement)) => Box::pin(async move {
                        client
                            .execute(statement, params)
                            .await
                            .map(Reply::Count)
                            .map_err(pg_err)
                    }),
                    (Step::Query(_, params), Some(statement)) => Box::pin(async move {
                        client
                            .query(statement, params)
                            .await
                            .map(Reply::Rows)
                            .map_err(pg_err)
                    }),
                    _ => Box::pin(async {
                        Err(DbError::Storage(
                            "postgresql: a statement was not prepared".into(),
                        ))
                    }),
                }
            })
            .collect();
        self.runtime
            .block_on(in_order(futures))
            .into_iter()
            .collect()
    }
}

/// Runs `futures` together, first polled in their order (tokio-postgres sends a request when
/// its future is first polled: the order they reach PostgreSQL in), and answers their
/// outputs in that order.
async fn in_order<T>(mut futures: Vec<Boxed<'_, T>>) -> Vec<T> {
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The asynchronous client's configuration from the synchronous one's (the same
/// connection settings; the synchronous one has no way to hand its own over).
pub(crate) fn async_config(c: &postgres::Config) -> tokio_postgres::Config {
    use postgres::config::Host;
    let mut t = tokio_postgres::Config::new();
    if let Some(user) = c.get_user() {
        t.user(user);
    }
    if let Some(password) = c.get_password() {
        t.password(password);
    }
    if let Some(dbname) = c.get_dbname() {
        t.dbname(dbname);
    }
    if let Some(options) = c.get_options() {
        t.options(options);
    }
    if let Some(name) = c.get_application_name() {
        t.application_name(name);
    }
    for host in c.get_hosts() {
        match host {
            Host::Tcp(name) => t.host(name),
            #[cfg(unix)]
            Host::Unix(path) => t.host_path(path),
        };
    }
    for addr in c.get_hostaddrs() {
        t.hostaddr(*addr);
    }
    for port in c.get_ports() {
        t.port(*port);
    }
    if let Some(timeout) = c.get_connect_timeout() {
        t.connect_timeout(*timeout);
    }
    if let Some(timeout) = c.get_tcp_user_timeout() {
        t.tcp_user_timeout(*timeout);
    }
    t.keepalives(c.get_keepalives());
    t.keepalives_idle(c.get_keepalives_idle());
    if let Some(interval) = c.get_keepalives_interval() {
        t.keepalives_interval(interval);
    }
    if let Some(retries) = c.get_keepalives_retries() {
        t.keepalives_retries(retries);
    }
    t.ssl_mode(c.get_ssl_mode());
    t.target_session_attrs(c.get_target_session_attrs());
    t.channel_binding(c.get_channel_binding());
    t.load_balance_hosts(c.get_load_balance_hosts());
    t
}
