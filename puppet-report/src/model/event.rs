//! The events of a resource.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The status of an event.
///
/// ```
/// let s: puppet_report::EventStatus = serde_json::from_str("\"noop\"")?;
/// assert_eq!(s.as_str(), "noop");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EventStatus {
    /// A change was made.
    Success,
    /// A change failed.
    Failure,
    /// A change would have been made (noop).
    Noop,
    /// An audited property changed.
    Audit,
}

impl EventStatus {
    /// The status as Puppet writes it.
    ///
    /// ```
    /// assert_eq!(puppet_report::EventStatus::Failure.as_str(), "failure");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Success => "success",
            EventStatus::Failure => "failure",
            EventStatus::Noop => "noop",
            EventStatus::Audit => "audit",
        }
    }
}

/// One event of a resource (`Puppet::Transaction::Event`): a property change, a refresh, an
/// error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Whether the property is audited.
    pub audited: bool,
    /// The property (`ensure`, `content`, ...), if any.
    pub property: Option<String>,
    /// The value before.
    #[serde(default)]
    pub previous_value: Value,
    /// The value wanted.
    #[serde(default)]
    pub desired_value: Value,
    /// The value recorded by an earlier audit.
    #[serde(default)]
    pub historical_value: Value,
    /// The message (`created`, `defined content as '{sha256}...'`).
    pub message: Option<String>,
    /// The event's name (`file_created`, `executed_command`, `resource_error`, ...).
    pub name: Option<String>,
    /// `success`, `failure`, `noop` or `audit`.
    pub status: EventStatus,
    /// When it happened.
    pub time: String,
    /// Whether the values were redacted (Sensitive).
    #[serde(default)]
    pub redacted: Option<bool>,
    /// Whether it repaired drift; `None` when Puppet could not tell.
    #[serde(default)]
    pub corrective_change: Option<bool>,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
