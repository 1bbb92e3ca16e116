//! The one error type of this crate.

/// Everything that can go wrong reading or writing a report.
///
/// ```
/// use puppet_report::{Report, ReportError};
/// let err = Report::from_json(br#"{"host":"a","time":"t","noop":"no"}"#).unwrap_err();
/// match err {
///     ReportError::Parse { path, .. } => assert_eq!(path, "noop"),
///     other => panic!("unexpected error: {other}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The document is not a report: the JSON path and the problem.
    #[error("invalid report at {path}: {message}")]
    Parse {
        /// JSON path of the problem, e.g. `resource_statuses.File[/tmp/x].events[0].status`
        /// (`.` for the document itself).
        path: String,
        /// What is wrong there, with the line and column in the input.
        message: String,
    },
    /// The report could not be serialized (a metric value that is not a finite number, or
    /// an I/O error of the writer).
    #[error("cannot serialize the report: {0}")]
    Serialize(String),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}
