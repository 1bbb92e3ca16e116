//! The crate's one error type.

/// Why a command was refused (PuppetDB answers these 400 on `POST /pdb/cmd/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandErrorKind {
    /// The command name is not one PuppetDB knows.
    UnknownCommand,
    /// The version is not a number, or not one this service accepts.
    Version,
    /// A required query parameter is missing, or one is not allowed.
    Parameters,
    /// The body is not the command's wire format (missing key, wrong type, bad JSON, bad gzip).
    Body,
}

/// Why a query was refused (PuppetDB answers these 400 on `/pdb/query/v4`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// PQL that does not parse (the message has the line, column and a marker).
    Pql {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// JSON that is not an AST query, or an operator used the wrong way.
    Ast,
    /// A field the entity does not have.
    UnknownField,
    /// An endpoint or entity that does not exist.
    UnknownEntity,
    /// A regular expression that does not compile (or would be too large).
    Regex,
    /// Bad paging (`limit`, `offset`, `order_by`).
    Paging,
}

/// Errors of `puppet-db`.
///
/// [`DbError::Command`] and [`DbError::Query`] are the client's fault (HTTP 400 with
/// PuppetDB's text: [`DbError::http_status`]); the others are the service's (500).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// A command that was refused; nothing was stored.
    #[error("{message}")]
    Command {
        /// What kind of problem.
        kind: CommandErrorKind,
        /// PuppetDB's text for it.
        message: String,
    },
    /// A query that was refused.
    #[error("{message}")]
    Query {
        /// What kind of problem.
        kind: QueryErrorKind,
        /// PuppetDB's text for it.
        message: String,
    },
    /// The storage failed (the command was not stored).
    #[error("storage: {0}")]
    Storage(String),
    /// A file or directory could not be used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configuration that cannot be used (`--database`, `database.ini`, ...).
    #[error("configuration: {0}")]
    Config(String),
}

impl DbError {
    pub(crate) fn command(kind: CommandErrorKind, message: impl Into<String>) -> DbError {
        DbError::Command {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn query(kind: QueryErrorKind, message: impl Into<String>) -> DbError {
        DbError::Query {
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status PuppetDB answers for this error: 400 for the client's, 500 otherwise.
    ///
    /// ```
    /// let e = puppet_db::parse_query("nodes { certname = }").unwrap_err();
    /// assert_eq!(e.http_status(), 400);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            DbError::Command { .. } | DbError::Query { .. } => 400,
            _ => 500,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Storage(e.to_string())
    }
}
