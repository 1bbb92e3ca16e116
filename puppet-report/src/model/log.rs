//! The run's log messages.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One log message of a run.
///
/// ```
/// use puppet_report::{Log, LogLevel};
/// let log = Log::new(LogLevel::Notice, "Applied catalog in 0.06 seconds", "Puppet");
/// assert_eq!(log.tags, ["notice"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Log {
    /// The level (`notice`, `err`, ...).
    pub level: LogLevel,
    /// The message text.
    pub message: String,
    /// Where it comes from: `Puppet`, or a resource path such as
    /// `/Stage[main]/Main/File[/tmp/x]/ensure`.
    pub source: String,
    /// The tags (the level first, then the resource's tags).
    pub tags: Vec<String>,
    /// When it was logged, as Puppet writes times.
    pub time: String,
    /// The manifest file of the resource, if any.
    pub file: Option<String>,
    /// The manifest line of the resource, if any.
    pub line: Option<u64>,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Log {
    /// A log message logged now, tagged with its level as Puppet does.
    ///
    /// ```
    /// let log = puppet_report::Log::new(puppet_report::LogLevel::Err, "boom", "Puppet");
    /// assert_eq!(log.level.as_str(), "err");
    /// ```
    pub fn new(level: LogLevel, message: impl Into<String>, source: impl Into<String>) -> Log {
        Log {
            level,
            message: message.into(),
            source: source.into(),
            tags: vec![level.as_str().to_owned()],
            time: crate::timestamp::now(),
            file: None,
            line: None,
            extra: Map::new(),
        }
    }
}

/// Puppet's log levels.
///
/// ```
/// let l: puppet_report::LogLevel = serde_json::from_str("\"warning\"")?;
/// assert_eq!(l, puppet_report::LogLevel::Warning);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
    /// `err`
    Err,
    /// `alert`
    Alert,
    /// `emerg`
    Emerg,
    /// `crit`
    Crit,
}

impl LogLevel {
    /// The level as Puppet writes it.
    ///
    /// ```
    /// assert_eq!(puppet_report::LogLevel::Emerg.as_str(), "emerg");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Err => "err",
            LogLevel::Alert => "alert",
            LogLevel::Emerg => "emerg",
            LogLevel::Crit => "crit",
        }
    }
}
