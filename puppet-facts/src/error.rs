//! The one error type of this crate.

/// Everything that can go wrong reading facts or viewing them through a typed view.
///
/// Each variant names where the problem is: a JSON path into the document, or the dotted path
/// of the fact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactsError {
    /// The bytes are not a facts document: not JSON, not an object, or a key of the wrong
    /// type (`name` not a string, `values` not an object, ...).
    #[error("invalid facts document at {path}: {message}")]
    Parse {
        /// JSON path of the problem, e.g. `values.os` or `timestamp`; `.` for the document itself.
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A fact is present but does not have the shape facter gives it, e.g. `os.release` is a
    /// string instead of a hash. Raised by the typed views ([`Facts::os`](crate::Facts::os), ...).
    #[error("fact {path} has the wrong shape: {message}")]
    Fact {
        /// Dotted path of the offending value, e.g. `os.release.full` or `processors.models.1`.
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// `timestamp` or `expiration` is not an RFC 3339 time as Puppet writes it.
    #[error("{field} is not an RFC 3339 time: {value:?}")]
    Time {
        /// `timestamp` or `expiration`.
        field: &'static str,
        /// The text that was read.
        value: String,
    },
    /// A fact source exists but could not be read or understood (collection, `collect`
    /// feature): only that family's facts are missing.
    #[error("{family}: {path}: {message}")]
    Source {
        /// The fact family (`os`, `networking`, ...).
        family: &'static str,
        /// The file or system call (`/proc/meminfo`, `getifaddrs(3)`).
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An external fact file was rejected or its executable misbehaved (collection,
    /// `collect` feature); the other facts are still collected.
    #[error("external fact {path}: {kind}")]
    External {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        kind: ExternalFactError,
    },
    /// serde_json reported an error while writing the document. Values held as JSON always
    /// serialize, so this is not expected; it is returned rather than a panic.
    #[error("cannot write the facts as JSON: {message}")]
    Serialize {
        /// What went wrong.
        message: String,
    },
}

/// Why an external fact file gave no (or only some) facts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExternalFactError {
    /// Not valid JSON or YAML (`format` is `JSON` or `YAML`).
    #[error("invalid {format}: {message}")]
    Parse {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message, with its position.
        message: String,
    },
    /// The document's top level is not a hash (a string, a number, `false`).
    #[error("the top level of the {format} document is not a hash")]
    NotAHash {
        /// `JSON` or `YAML`.
        format: &'static str,
    },
    /// The file (or a `.txt` line) is not UTF-8, e.g. a binary file.
    #[error("not UTF-8 text")]
    InvalidUtf8,
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// The executable could not be started.
    #[error("cannot run: {0}")]
    Run(String),
    /// The executable ran longer than the timeout and was killed; its output is discarded.
    #[error("killed after {seconds} s (timeout)")]
    TimedOut {
        /// The timeout.
        seconds: f64,
    },
    /// The executable wrote more than the limit to stdout and was killed.
    #[error("output larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The executable exited non-zero (its output is still used, as facter does).
    #[error("exited with {0}")]
    ExitStatus(String),
    /// The executable wrote to stderr (its output is still used).
    #[error("wrote to stderr: {0}")]
    Stderr(String),
}

impl ExternalFactError {
    /// Whether facter treats this as an error (exit code 1): unparsable or non-UTF-8 data,
    /// or a top level that is not a hash (where facter crashes). Timeouts, non-zero exits and
    /// stderr output are warnings only, as in facter.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            ExternalFactError::Parse { .. }
                | ExternalFactError::NotAHash { .. }
                | ExternalFactError::InvalidUtf8
                | ExternalFactError::TooLarge { .. }
        )
    }
}
