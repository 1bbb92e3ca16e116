//! The report document (format 12) and its parts.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::error::ReportError;

/// The report format this crate writes (Puppet 7's `Puppet::Transaction::Report`).
pub const REPORT_FORMAT: u64 = 12;

/// A run report as a Puppet 7 agent sends it with `PUT /puppet/v3/report/<certname>`.
///
/// Every key Puppet writes has a field; keys this crate does not know are kept in
/// [`Report::extra`], and the key order of a parsed document is remembered, so
/// [`Report::from_json`] then [`Report::to_json`] gives back the same JSON value with its keys
/// in the same order. An optional key (`server_used`, `code_id`, ...) that was present with a
/// `null` value is written back as `null`; on a report made in code, `None` leaves the key out,
/// as Puppet does.
///
/// Reading requires the keys Puppet's report schema requires (`host`, `time`,
/// `configuration_version`, `report_format`, `puppet_version`, `status`,
/// `transaction_completed`, `noop`, `noop_pending`, `environment`, `resource_statuses`);
/// `logs`, `metrics`, `transaction_uuid` and `corrective_change` may be absent (read as empty,
/// `None`, `false`, and left out again when written unless given a value).
///
/// ```
/// let json = br#"{"host":"agent1.example.test","time":"2026-11-22T17:44:28.309245158+00:00",
///   "configuration_version":1795369503,"transaction_uuid":"b3099c88-baf8-4149-81c8-9bd780289602",
///   "report_format":12,"puppet_version":"7.23.0","status":"unchanged",
///   "transaction_completed":true,"noop":false,"noop_pending":false,"environment":"production",
///   "logs":[],"metrics":{},"resource_statuses":{},"corrective_change":false,
///   "catalog_uuid":"3d470114-9420-41dd-9972-d8a905c28838","cached_catalog_status":"not_used"}"#;
/// let report = puppet_report::Report::from_json(json)?;
/// assert_eq!(report.host, "agent1.example.test");
/// assert_eq!(report.status, puppet_report::RunStatus::Unchanged);
/// let again: serde_json::Value = serde_json::from_slice(&report.to_json()?)?;
/// assert_eq!(again, serde_json::from_slice::<serde_json::Value>(json)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The node's certname (`host`).
    pub host: String,
    /// When the run started, as Puppet writes it (`2026-11-22T17:44:28.309245158+00:00`).
    pub time: String,
    /// The catalog's version (`configuration_version`); `None` when no catalog was applied.
    pub configuration_version: Option<ConfigurationVersion>,
    /// The run's UUID, also sent with the catalog request.
    pub transaction_uuid: Option<String>,
    /// The report format (12 for Puppet 7).
    pub report_format: u64,
    /// The agent's Puppet version.
    pub puppet_version: String,
    /// `changed`, `unchanged` or `failed`.
    pub status: RunStatus,
    /// Whether the transaction ran to its end.
    pub transaction_completed: bool,
    /// Whether the run was a noop run.
    pub noop: bool,
    /// Whether any resource had noop events (changes that a real run would make).
    pub noop_pending: bool,
    /// The environment the run converged to.
    pub environment: String,
    /// The run's log messages, in order.
    pub logs: Vec<Log>,
    /// `resources`, `time`, `changes` and `events`, in Puppet's layout.
    pub metrics: Metrics,
    /// One status per resource, keyed by reference, in the agent's evaluation order.
    pub resource_statuses: ResourceStatuses,
    /// Whether any resource made a corrective change (drift repaired).
    pub corrective_change: bool,
    /// The server that served the catalog (`host:port`).
    pub server_used: Option<String>,
    /// The older name of `server_used` (Puppet 5 and 6).
    pub master_used: Option<String>,
    /// The UUID of the applied catalog.
    pub catalog_uuid: Option<String>,
    /// The code ID of a static catalog.
    pub code_id: Option<String>,
    /// The orchestrator's job ID.
    pub job_id: Option<String>,
    /// `not_used`, `explicitly_requested` or `on_failure`.
    pub cached_catalog_status: Option<String>,
    /// `apply` or `inspect` (formats before 4).
    pub kind: Option<String>,
    /// Set when a generator failed to generate resources (not written by Puppet 7, read when
    /// present).
    pub resources_failed_to_generate: Option<bool>,
    /// Keys this crate does not model, with their values, kept as they were.
    pub extra: Map<String, Value>,
    /// The key order of the parsed document (empty for a report made in code).
    layout: Layout,
}

/// The key order of a parsed document (`None` for a report made in code): not part of a
/// report's value (two reports that differ only in it are equal).
#[derive(Debug, Clone, Default)]
struct Layout(Option<Vec<String>>);

impl PartialEq for Layout {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The keys Puppet always writes, in its order.
const ALWAYS: [&str; 15] = [
    "host",
    "time",
    "configuration_version",
    "transaction_uuid",
    "report_format",
    "puppet_version",
    "status",
    "transaction_completed",
    "noop",
    "noop_pending",
    "environment",
    "logs",
    "metrics",
    "resource_statuses",
    "corrective_change",
];

/// The keys Puppet writes only when set, in its order.
const OPTIONAL: [&str; 8] = [
    "server_used",
    "master_used",
    "catalog_uuid",
    "code_id",
    "job_id",
    "cached_catalog_status",
    "kind",
    "resources_failed_to_generate",
];

impl Report {
    /// Reads a report from JSON bytes. A document that is not a report gives
    /// [`ReportError::Parse`] naming the JSON path and the problem; nothing panics.
    ///
    /// ```
    /// let err = puppet_report::Report::from_json(br#"{"host": 42}"#).unwrap_err();
    /// assert!(err.to_string().contains("at host:"), "{err}");
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Report, ReportError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let report: Report =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ReportError::Parse {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| ReportError::Parse {
            path: ".".to_owned(),
            message: e.to_string(),
        })?;
        Ok(report)
    }

    /// Writes the report as compact JSON, the form an agent sends.
    ///
    /// ```
    /// let report = puppet_report::ReportBuilder::new("agent1.example.test", "production").finish();
    /// let json = report.to_json()?;
    /// assert!(json.starts_with(br#"{"host":"agent1.example.test","time":""#));
    /// # Ok::<(), puppet_report::ReportError>(())
    /// ```
    pub fn to_json(&self) -> Result<Vec<u8>, ReportError> {
        serde_json::to_vec(self).map_err(|e| ReportError::Serialize(e.to_string()))
    }

    /// Writes the report as indented JSON.
    ///
    /// ```
    /// let report = puppet_report::ReportBuilder::new("agent1.example.test", "production").finish();
    /// assert!(report.to_json_pretty()?.contains("\n  \"report_format\": 12,\n"));
    /// # Ok::<(), puppet_report::ReportError>(())
    /// ```
    pub fn to_json_pretty(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(|e| ReportError::Serialize(e.to_string()))
    }

    /// The server that served the catalog: `server_used`, or for Puppet 5 and 6 reports
    /// `master_used` (Puppet reads them the same way).
    ///
    /// ```
    /// let mut report = puppet_report::ReportBuilder::new("a.example.test", "production").finish();
    /// assert_eq!(report.server(), None);
    /// report.master_used = Some("puppet:8140".into());
    /// assert_eq!(report.server(), Some("puppet:8140"));
    /// ```
    pub fn server(&self) -> Option<&str> {
        self.server_used.as_deref().or(self.master_used.as_deref())
    }

    /// The process exit code Puppet's `--detailed-exitcodes` gives for this report: 2 when
    /// something changed, 4 when a resource failed or failed to restart, 6 for both, 0 when
    /// nothing happened, and -1 when the metrics to tell are missing.
    ///
    /// ```
    /// let report = puppet_report::ReportBuilder::new("agent1.example.test", "production").finish();
    /// assert_eq!(report.exit_status(), 0);
    /// ```
    pub fn exit_status(&self) -> i32 {
        let changes = self.metrics.value("changes", "total");
        let failed = self.metrics.value("resources", "failed");
        let failed_to_restart = self.metrics.value("resources", "failed_to_restart");
        match (changes, failed, failed_to_restart) {
            (Some(c), Some(f), Some(r)) => {
                let positive = |n: &Number| n.as_f64().is_some_and(|v| v > 0.0);
                let mut status = 0;
                if positive(c) {
                    status |= 2;
                }
                if positive(f) || positive(r) {
                    status |= 4;
                }
                status
            }
            _ => -1,
        }
    }

    /// A report with these fields and the rest empty (used by the builder).
    pub(crate) fn empty(host: String, time: String, environment: String) -> Report {
        Report {
            host,
            time,
            configuration_version: None,
            transaction_uuid: None,
            report_format: REPORT_FORMAT,
            puppet_version: String::new(),
            status: RunStatus::Failed,
            transaction_completed: false,
            noop: false,
            noop_pending: false,
            environment,
            logs: Vec::new(),
            metrics: Metrics::default(),
            resource_statuses: ResourceStatuses::default(),
            corrective_change: false,
            server_used: None,
            master_used: None,
            catalog_uuid: None,
            code_id: None,
            job_id: None,
            cached_catalog_status: None,
            kind: None,
            resources_failed_to_generate: None,
            extra: Map::new(),
            layout: Layout::default(),
        }
    }

    fn is_known(key: &str) -> bool {
        ALWAYS.contains(&key) || OPTIONAL.contains(&key)
    }

    /// Whether a key that the schema lets a document leave out (`logs`, `metrics`,
    /// `transaction_uuid`, `corrective_change`) holds what its absence means.
    fn always_is_default(&self, key: &str) -> bool {
        match key {
            "logs" => self.logs.is_empty(),
            "metrics" => self.metrics.is_empty(),
            "transaction_uuid" => self.transaction_uuid.is_none(),
            "corrective_change" => !self.corrective_change,
            _ => false,
        }
    }

    /// Whether an optional key is set (written even as `null` when the parsed document had it).
    fn optional_is_some(&self, key: &str) -> bool {
        match key {
            "server_used" => self.server_used.is_some(),
            "master_used" => self.master_used.is_some(),
            "catalog_uuid" => self.catalog_uuid.is_some(),
            "code_id" => self.code_id.is_some(),
            "job_id" => self.job_id.is_some(),
            "cached_catalog_status" => self.cached_catalog_status.is_some(),
            "kind" => self.kind.is_some(),
            "resources_failed_to_generate" => self.resources_failed_to_generate.is_some(),
            _ => false,
        }
    }

    fn serialize_known<M: SerializeMap>(&self, map: &mut M, key: &str) -> Result<(), M::Error> {
        match key {
            "host" => map.serialize_entry(key, &self.host),
            "time" => map.serialize_entry(key, &self.time),
            "configuration_version" => map.serialize_entry(key, &self.configuration_version),
            "transaction_uuid" => map.serialize_entry(key, &self.transaction_uuid),
            "report_format" => map.serialize_entry(key, &self.report_format),
            "puppet_version" => map.serialize_entry(key, &self.puppet_version),
            "status" => map.serialize_entry(key, &self.status),
            "transaction_completed" => map.serialize_entry(key, &self.transaction_completed),
            "noop" => map.serialize_entry(key, &self.noop),
            "noop_pending" => map.serialize_entry(key, &self.noop_pending),
            "environment" => map.serialize_entry(key, &self.environment),
            "logs" => map.serialize_entry(key, &self.logs),
            "metrics" => map.serialize_entry(key, &self.metrics),
            "resource_statuses" => map.serialize_entry(key, &self.resource_statuses),
            "corrective_change" => map.serialize_entry(key, &self.corrective_change),
            "server_used" => map.serialize_entry(key, &self.server_used),
            "master_used" => map.serialize_entry(key, &self.master_used),
            "catalog_uuid" => map.serialize_entry(key, &self.catalog_uuid),
            "code_id" => map.serialize_entry(key, &self.code_id),
            "job_id" => map.serialize_entry(key, &self.job_id),
            "cached_catalog_status" => map.serialize_entry(key, &self.cached_catalog_status),
            "kind" => map.serialize_entry(key, &self.kind),
            "resources_failed_to_generate" => {
                map.serialize_entry(key, &self.resources_failed_to_generate)
            }
            _ => Ok(()),
        }
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let Some(layout) = &self.layout.0 else {
            // Made in code: Puppet's order, the optional keys only when set.
            for key in ALWAYS {
                self.serialize_known(&mut map, key)?;
            }
            for key in OPTIONAL {
                if self.optional_is_some(key) {
                    self.serialize_known(&mut map, key)?;
                }
            }
            for (key, value) in &self.extra {
                map.serialize_entry(key, value)?;
            }
            return map.end();
        };
        // Parsed: the document's keys in its order, then, in Puppet's order, what it did not
        // hold but has since been given a value.
        for key in layout {
            if Report::is_known(key) {
                self.serialize_known(&mut map, key)?;
            } else if let Some(value) = self.extra.get(key) {
                map.serialize_entry(key, value)?;
            }
        }
        let seen = |key: &str| layout.iter().any(|k| k == key);
        for key in ALWAYS {
            if !seen(key) && !self.always_is_default(key) {
                self.serialize_known(&mut map, key)?;
            }
        }
        for key in OPTIONAL {
            if !seen(key) && self.optional_is_some(key) {
                self.serialize_known(&mut map, key)?;
            }
        }
        for (key, value) in &self.extra {
            if !seen(key) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ReportVisitor)
    }
}

struct ReportVisitor;

impl<'de> Visitor<'de> for ReportVisitor {
    type Value = Report;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Puppet report (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Report, A::Error> {
        let mut host: Option<String> = None;
        let mut time: Option<String> = None;
        let mut configuration_version: Option<Option<ConfigurationVersion>> = None;
        let mut transaction_uuid: Option<Option<String>> = None;
        let mut report_format: Option<u64> = None;
        let mut puppet_version: Option<String> = None;
        let mut status: Option<RunStatus> = None;
        let mut transaction_completed: Option<bool> = None;
        let mut noop: Option<bool> = None;
        let mut noop_pending: Option<bool> = None;
        let mut environment: Option<String> = None;
        let mut logs: Option<Vec<Log>> = None;
        let mut metrics: Option<Metrics> = None;
        let mut resource_statuses: Option<ResourceStatuses> = None;
        let mut corrective_change: Option<bool> = None;
        let mut server_used: Option<Option<String>> = None;
        let mut master_used: Option<Option<String>> = None;
        let mut catalog_uuid: Option<Option<String>> = None;
        let mut code_id: Option<Option<String>> = None;
        let mut job_id: Option<Option<String>> = None;
        let mut cached_catalog_status: Option<Option<String>> = None;
        let mut kind: Option<Option<String>> = None;
        let mut resources_failed_to_generate: Option<Option<bool>> = None;
        let mut extra = Map::new();
        let mut layout: Vec<String> = Vec::new();

        macro_rules! take {
            ($slot:ident) => {{
                if $slot.is_some() {
                    return Err(de::Error::duplicate_field(stringify!($slot)));
                }
                $slot = Some(map.next_value()?);
            }};
        }

        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "host" => take!(host),
                "time" => take!(time),
                "configuration_version" => take!(configuration_version),
                "transaction_uuid" => take!(transaction_uuid),
                "report_format" => take!(report_format),
                "puppet_version" => take!(puppet_version),
                "status" => take!(status),
                "transaction_completed" => take!(transaction_completed),
                "noop" => take!(noop),
                "noop_pending" => take!(noop_pending),
                "environment" => take!(environment),
                "logs" => take!(logs),
                "metrics" => take!(metrics),
                "resource_statuses" => take!(resource_statuses),
                "corrective_change" => take!(corrective_change),
                "server_used" => take!(server_used),
                "master_used" => take!(master_used),
                "catalog_uuid" => take!(catalog_uuid),
                "code_id" => take!(code_id),
                "job_id" => take!(job_id),
                "cached_catalog_status" => take!(cached_catalog_status),
                "kind" => take!(kind),
                "resources_failed_to_generate" => take!(resources_failed_to_generate),
                _ => {
                    let value: Value = map.next_value()?;
                    if extra.insert(key.clone(), value).is_some() {
                        // A repeated unknown key: the last value wins (as in a JSON object
                        // read by Puppet); its first position is kept.
                        continue;
                    }
                }
            }
            layout.push(key);
        }

        fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
            slot.ok_or_else(|| E::missing_field(name))
        }

        Ok(Report {
            host: required(host, "host")?,
            time: required(time, "time")?,
            configuration_version: required(configuration_version, "configuration_version")?,
            transaction_uuid: transaction_uuid.flatten(),
            report_format: required(report_format, "report_format")?,
            puppet_version: required(puppet_version, "puppet_version")?,
            status: required(status, "status")?,
            transaction_completed: required(transaction_completed, "transaction_completed")?,
            noop: required(noop, "noop")?,
            noop_pending: required(noop_pending, "noop_pending")?,
            environment: required(environment, "environment")?,
            logs: logs.unwrap_or_default(),
            metrics: metrics.unwrap_or_default(),
            resource_statuses: required(resource_statuses, "resource_statuses")?,
            corrective_change: corrective_change.unwrap_or_default(),
            server_used: server_used.flatten(),
            master_used: master_used.flatten(),
            catalog_uuid: catalog_uuid.flatten(),
            code_id: code_id.flatten(),
            job_id: job_id.flatten(),
            cached_catalog_status: cached_catalog_status.flatten(),
            kind: kind.flatten(),
            resources_failed_to_generate: resources_failed_to_generate.flatten(),
            extra,
            layout: Layout(Some(layout)),
        })
    }
}

/// A catalog's `configuration_version`: an integer (the compile time, Puppet's default) or
/// a string (the output of a `config_version` script).
///
/// ```
/// use puppet_report::ConfigurationVersion;
/// let v: ConfigurationVersion = serde_json::from_str("1795369503")?;
/// assert_eq!(v, ConfigurationVersion::Integer(1795369503));
/// let v: ConfigurationVersion = serde_json::from_str("\"9a3f2c1\"")?;
/// assert_eq!(v.to_string(), "9a3f2c1");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigurationVersion {
    /// A number, e.g. `1795369503`.
    Integer(i64),
    /// A string, e.g. a commit ID.
    Text(String),
}

impl fmt::Display for ConfigurationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigurationVersion::Integer(n) => write!(f, "{n}"),
            ConfigurationVersion::Text(s) => f.write_str(s),
        }
    }
}

/// The run's status, as Puppet computes it at the end of a run.
///
/// ```
/// let s: puppet_report::RunStatus = serde_json::from_str("\"changed\"")?;
/// assert_eq!(s, puppet_report::RunStatus::Changed);
/// assert_eq!(s.as_str(), "changed");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RunStatus {
    /// At least one change was made and nothing failed.
    Changed,
    /// Nothing changed and nothing failed.
    Unchanged,
    /// A resource failed or failed to restart, generation failed, or the transaction did not
    /// complete.
    Failed,
}

impl RunStatus {
    /// The status as Puppet writes it.
    ///
    /// ```
    /// assert_eq!(puppet_report::RunStatus::Failed.as_str(), "failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Changed => "changed",
            RunStatus::Unchanged => "unchanged",
            RunStatus::Failed => "failed",
        }
    }
}

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

/// The outcome of one resource in a run (`Puppet::Resource::Status`).
///
/// The derived fields (`changed`, `out_of_sync`, `failed`, the counts and
/// `corrective_change`) follow from the events when they are added with
/// [`ResourceStatus::add_event`].
///
/// Keys the report schema lets a status leave out (`resource`, `provider_used`, `file`,
/// `line`, `evaluation_time`, `time`, `failed`, `failed_to_restart`, `changed`,
/// `out_of_sync`, `corrective_change`) are read as empty or `false` when absent, and written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceStatus {
    /// The resource's title.
    pub title: String,
    /// The manifest file that declared it.
    pub file: Option<String>,
    /// The manifest line that declared it.
    pub line: Option<u64>,
    /// The resource reference, e.g. `File[/tmp/x]`.
    #[serde(default)]
    pub resource: String,
    /// The type, capitalized as Ruby's `String#capitalize` does (`File`, `Ssh_authorized_key`).
    pub resource_type: String,
    /// The provider that applied it (`posix`, `dpkg`, ...).
    #[serde(default)]
    pub provider_used: Option<String>,
    /// The containers from the outermost, ending with the resource itself.
    pub containment_path: Vec<String>,
    /// Seconds spent evaluating it; `None` for a skipped resource.
    pub evaluation_time: Option<f64>,
    /// Its tags.
    pub tags: Vec<String>,
    /// When its evaluation started.
    #[serde(default)]
    pub time: String,
    /// Whether it failed.
    #[serde(default)]
    pub failed: bool,
    /// Whether a refresh of it failed.
    #[serde(default)]
    pub failed_to_restart: bool,
    /// Whether it changed (a successful event).
    #[serde(default)]
    pub changed: bool,
    /// Whether it was out of sync (any event but an audit).
    #[serde(default)]
    pub out_of_sync: bool,
    /// Whether it was skipped (failed dependencies, tags, schedule).
    pub skipped: bool,
    /// The number of successful events.
    pub change_count: u64,
    /// The number of events that are not audits.
    pub out_of_sync_count: u64,
    /// Its events, in order.
    pub events: Vec<Event>,
    /// Whether one of its events was a corrective change.
    #[serde(default)]
    pub corrective_change: bool,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Whether it was refreshed (counted in the `restarted` metric; Puppet does not write it).
    #[serde(skip)]
    pub restarted: bool,
    /// Whether it was marked scheduled (counted in the `scheduled` metric; Puppet does not
    /// write it).
    #[serde(skip)]
    pub scheduled: bool,
}

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

/// One metric (`Puppet::Util::Metric`): a name, a label and `[name, label, value]` rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metric {
    /// The metric's name (`resources`, `time`, `changes`, `events`).
    pub name: String,
    /// Its label (`Resources`).
    pub label: String,
    /// Its rows, in the order Puppet added them.
    pub values: Vec<MetricValue>,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Metric {
    /// An empty metric labelled as Puppet does (`out_of_sync` → `Out of sync`).
    ///
    /// ```
    /// let m = puppet_report::Metric::new("resources");
    /// assert_eq!(m.label, "Resources");
    /// ```
    pub fn new(name: &str) -> Metric {
        Metric {
            name: name.to_owned(),
            label: labelize(name),
            values: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Adds a row labelled as Puppet does.
    ///
    /// ```
    /// let mut m = puppet_report::Metric::new("resources");
    /// m.push("failed_to_restart", 0u64.into());
    /// assert_eq!(m.values[0].label, "Failed to restart");
    /// ```
    pub fn push(&mut self, name: &str, value: Number) {
        self.values.push(MetricValue {
            name: name.to_owned(),
            label: labelize(name),
            value,
        });
    }

    /// The value of a row (the first with that name).
    ///
    /// ```
    /// let mut m = puppet_report::Metric::new("changes");
    /// m.push("total", 3u64.into());
    /// assert_eq!(m.get("total").and_then(|n| n.as_u64()), Some(3));
    /// ```
    pub fn get(&self, name: &str) -> Option<&Number> {
        self.values
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.value)
    }
}

/// Puppet's `Metric.labelize`: capitalize, underscores to spaces.
pub(crate) fn labelize(name: &str) -> String {
    capitalize(name).replace('_', " ")
}

/// Ruby's `String#capitalize`: the first character in title case, the rest lower case
/// (character by character, as Ruby maps case).
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out = titlecase(first);
            out.extend(chars.flat_map(char::to_lowercase));
            out
        }
        None => String::new(),
    }
}

/// Ruby's `String#downcase`: each character's full lower case, with no context (a final
/// `Σ` becomes `σ`, where Rust's `str::to_lowercase` writes `ς`).
pub(crate) fn downcase(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// A character's title case (Unicode's `Titlecase_Mapping`): its upper case, except for the
/// characters whose title case differs (digraphs, ligatures, `ß`, Georgian, Greek with
/// ypogegrammeni).
fn titlecase(c: char) -> String {
    let single = |cp: u32| char::from_u32(cp).map_or_else(|| c.to_string(), String::from);
    match u32::from(c) {
        0x00DF => "Ss".to_owned(),
        0x01C4..=0x01C6 => "\u{01C5}".to_owned(),
        0x01C7..=0x01C9 => "\u{01C8}".to_owned(),
        0x01CA..=0x01CC => "\u{01CB}".to_owned(),
        0x01F1..=0x01F3 => "\u{01F2}".to_owned(),
        0x0587 => "\u{0535}\u{0582}".to_owned(),
        // Georgian Mkhedruli is its own title case; Mtavruli's is Mkhedruli.
        0x10D0..=0x10FA | 0x10FD..=0x10FF => c.to_string(),
        cp @ (0x1C90..=0x1CBA | 0x1CBD..=0x1CBF) => single(cp - 0x1C90 + 0x10D0),
        cp @ (0x1F80..=0x1FAF) => single(cp | 0x08),
        0x1FB2 => "\u{1FBA}\u{0345}".to_owned(),
        0x1FB3 | 0x1FBC => "\u{1FBC}".to_owned(),
        0x1FB4 => "\u{0386}\u{0345}".to_owned(),
        0x1FB7 => "\u{0391}\u{0342}\u{0345}".to_owned(),
        0x1FC2 => "\u{1FCA}\u{0345}".to_owned(),
        0x1FC3 | 0x1FCC => "\u{1FCC}".to_owned(),
        0x1FC4 => "\u{0389}\u{0345}".to_owned(),
        0x1FC7 => "\u{0397}\u{0342}\u{0345}".to_owned(),
        0x1FF2 => "\u{1FFA}\u{0345}".to_owned(),
        0x1FF3 | 0x1FFC => "\u{1FFC}".to_owned(),
        0x1FF4 => "\u{038F}\u{0345}".to_owned(),
        0x1FF7 => "\u{03A9}\u{0342}\u{0345}".to_owned(),
        0xFB00 => "Ff".to_owned(),
        0xFB01 => "Fi".to_owned(),
        0xFB02 => "Fl".to_owned(),
        0xFB03 => "Ffi".to_owned(),
        0xFB04 => "Ffl".to_owned(),
        0xFB05 | 0xFB06 => "St".to_owned(),
        0xFB13 => "\u{0544}\u{0576}".to_owned(),
        0xFB14 => "\u{0544}\u{0565}".to_owned(),
        0xFB15 => "\u{0544}\u{056B}".to_owned(),
        0xFB16 => "\u{054E}\u{0576}".to_owned(),
        0xFB17 => "\u{0544}\u{056D}".to_owned(),
        _ => c.to_uppercase().collect(),
    }
}

/// One `[name, label, value]` row of a metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricValue {
    /// The row's name (`total`, `out_of_sync`, `config_retrieval`).
    pub name: String,
    /// Its label (`Total`, `Out of sync`, `Config retrieval`).
    pub label: String,
    /// The value: an integer for counts, a float for times.
    pub value: Number,
}

impl Serialize for MetricValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(3))?;
        seq.serialize_element(&self.name)?;
        seq.serialize_element(&self.label)?;
        seq.serialize_element(&self.value)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for MetricValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (name, label, value) = <(String, String, Number)>::deserialize(deserializer)?;
        Ok(MetricValue { name, label, value })
    }
}

/// The report's metrics by name, in the document's order (`resources`, `time`, `changes`,
/// `events` from Puppet).
///
/// ```
/// let report = puppet_report::ReportBuilder::new("agent1.example.test", "production").finish();
/// let names: Vec<&str> = report.metrics.iter().map(|(k, _)| k).collect();
/// assert_eq!(names, ["resources", "time", "changes", "events"]);
/// assert_eq!(report.metrics.value("resources", "total").and_then(|n| n.as_u64()), Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    entries: Vec<(String, Metric)>,
}

impl Metrics {
    /// The metric under a key.
    pub fn get(&self, key: &str) -> Option<&Metric> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    /// A row's value: `value("resources", "failed")`.
    pub fn value(&self, metric: &str, row: &str) -> Option<&Number> {
        self.get(metric).and_then(|m| m.get(row))
    }

    /// Sets the metric under a key (in place if the key is there, else at the end).
    pub fn insert(&mut self, key: impl Into<String>, metric: Metric) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = metric,
            None => self.entries.push((key, metric)),
        }
    }

    /// The metrics with their keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Metric)> {
        self.entries.iter().map(|(k, m)| (k.as_str(), m))
    }

    /// The number of metrics.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no metrics.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, m) in &self.entries {
            map.serialize_entry(k, m)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metrics;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of metrics")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metrics, A::Error> {
                let mut metrics = Metrics::default();
                while let Some(key) = map.next_key::<String>()? {
                    let metric: Metric = map.next_value()?;
                    metrics.insert(key, metric);
                }
                Ok(metrics)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// The resource statuses keyed by resource reference, in the agent's evaluation order.
///
/// ```
/// use puppet_report::{ResourceStatus, ResourceStatuses};
/// let mut statuses = ResourceStatuses::default();
/// statuses.insert(ResourceStatus::new("file", "/tmp/b"));
/// statuses.insert(ResourceStatus::new("file", "/tmp/a"));
/// let keys: Vec<&str> = statuses.keys().collect();
/// assert_eq!(keys, ["File[/tmp/b]", "File[/tmp/a]"]);
/// assert!(statuses.get("File[/tmp/a]").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResourceStatuses {
    entries: Vec<(String, ResourceStatus)>,
    index: HashMap<String, usize>,
}

impl PartialEq for ResourceStatuses {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl ResourceStatuses {
    /// Adds a status under its `resource` reference; a status already under that key is
    /// replaced in place and returned.
    pub fn insert(&mut self, status: ResourceStatus) -> Option<ResourceStatus> {
        let key = status.resource.clone();
        self.insert_with_key(key, status)
    }

    /// Adds a status under a given key (normally its reference).
    pub fn insert_with_key(
        &mut self,
        key: String,
        status: ResourceStatus,
    ) -> Option<ResourceStatus> {
        match self.index.get(&key) {
            Some(&i) => self
                .entries
                .get_mut(i)
                .map(|slot| std::mem::replace(&mut slot.1, status)),
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, status));
                None
            }
        }
    }

    /// The status under a reference.
    pub fn get(&self, key: &str) -> Option<&ResourceStatus> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, s)| s)
    }

    /// The status under a reference, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut ResourceStatus> {
        match self.index.get(key) {
            Some(&i) => self.entries.get_mut(i).map(|(_, s)| s),
            None => None,
        }
    }

    /// Keeps only the statuses for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &ResourceStatus) -> bool) {
        self.entries.retain(|(k, s)| keep(k, s));
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
    }

    /// The statuses with their keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ResourceStatus)> {
        self.entries.iter().map(|(k, s)| (k.as_str(), s))
    }

    /// The keys (resource references), in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The statuses, in order.
    pub fn values(&self) -> impl Iterator<Item = &ResourceStatus> {
        self.entries.iter().map(|(_, s)| s)
    }

    /// The number of statuses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for ResourceStatuses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, s) in &self.entries {
            map.serialize_entry(k, s)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ResourceStatuses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResourceStatuses;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of resource statuses")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ResourceStatuses, A::Error> {
                let mut statuses = ResourceStatuses::default();
                while let Some(key) = map.next_key::<String>()? {
                    let status: ResourceStatus = map.next_value()?;
                    statuses.insert_with_key(key, status);
                }
                Ok(statuses)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::{downcase, labelize};

    /// Ruby 3.1's answers (`s.capitalize.tr("_", " ")`, `s.downcase`).
    #[test]
    fn labels_and_lower_case_follow_ruby() {
        let ruby = [
            ("out_of_sync", "Out of sync", "out_of_sync"),
            ("ß_x", "Ss x", "ß_x"),
            ("ǆa", "ǅa", "ǆa"),
            ("ﬁle_TIME", "File time", "ﬁle_time"),
            ("ΑΣ", "Ασ", "ασ"),
            ("ᾳb", "ᾼb", "ᾳb"),
            ("ა", "ა", "ა"),
            ("Ა", "ა", "ა"),
            ("և", "Եւ", "և"),
            ("ῼ", "ῼ", "ῳ"),
        ];
        for (name, label, lower) in ruby {
            assert_eq!(labelize(name), label, "label of {name}");
            assert_eq!(downcase(name), lower, "lower case of {name}");
        }
    }
}
