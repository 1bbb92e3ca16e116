//! The report document: its top-level keys, the run status, the configuration version.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::error::ReportError;

use super::{Log, Metrics, ResourceStatuses};

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
