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
    /// serde_json reported an error while writing the document. Values held as JSON always
    /// serialize, so this is not expected; it is returned rather than a panic.
    #[error("cannot write the facts as JSON: {message}")]
    Serialize {
        /// What went wrong.
        message: String,
    },
}
