//! Reports made in code: what a custom agent uses. The derived parts (each resource's
//! status, the run status, `noop_pending`, `corrective_change` and the metrics) are computed
//! as Puppet 7 computes them (`Puppet::Resource::Status#add_event`,
//! `Puppet::Transaction::Report#finalize_report`).

use puppet_catalog::reference::capitalize_type_name;
use serde_json::{Map, Number, Value};

use crate::model::{
    ConfigurationVersion, Event, EventStatus, Log, Metric, Metrics, Report, ResourceStatus,
    ResourceStatuses, RunStatus, downcase,
};

/// The Puppet version a built report claims unless told otherwise.
pub const DEFAULT_PUPPET_VERSION: &str = "7.23.0";

/// The resource states counted in the `resources` metric, in Puppet's order
/// (`Puppet::Resource::Status::STATES`).
const STATES: [&str; 8] = [
    "skipped",
    "failed",
    "failed_to_restart",
    "restarted",
    "changed",
    "out_of_sync",
    "scheduled",
    "corrective_change",
];

impl ResourceStatus {
    /// A fresh status for a resource: no events, nothing changed, time now.
    ///
    /// The type is capitalized as Puppet does (`file` → `File`), the reference is
    /// `Type[title]`, the containment path holds the reference, and the tags are the type
    /// name and, when it is a valid tag, the title, lower case (as Puppet tags a resource
    /// before adding its containers' tags); set the public fields for more (file, line,
    /// provider, tags, containment path, evaluation time).
    ///
    /// ```
    /// let s = puppet_report::ResourceStatus::new("file", "/tmp/x");
    /// assert_eq!(s.resource, "File[/tmp/x]");
    /// assert_eq!(s.resource_type, "File");
    /// assert_eq!(s.tags, ["file"]);
    /// assert!(!s.changed && s.events.is_empty());
    /// assert_eq!(puppet_report::ResourceStatus::new("exec", "Reload").tags, ["exec", "reload"]);
    /// ```
    pub fn new(resource_type: &str, title: &str) -> ResourceStatus {
        let resource_type = capitalize_type_name(resource_type).into_owned();
        let resource = format!("{resource_type}[{title}]");
        ResourceStatus {
            title: title.to_owned(),
            file: None,
            line: None,
            resource: resource.clone(),
            tags: default_tags(&resource_type, title),
            resource_type,
            provider_used: None,
            containment_path: vec![resource],
            evaluation_time: None,
            time: crate::timestamp::now(),
            failed: false,
            failed_to_restart: false,
            changed: false,
            out_of_sync: false,
            skipped: false,
            change_count: 0,
            out_of_sync_count: 0,
            events: Vec::new(),
            corrective_change: false,
            extra: Map::new(),
            restarted: false,
            scheduled: false,
        }
    }

    /// Adds an event and updates the status as Puppet does: a failure marks the resource
    /// failed; a success counts a change; every event but an audit counts as out of sync; a
    /// corrective event makes the resource's change corrective.
    ///
    /// ```
    /// use puppet_report::{Event, EventStatus, ResourceStatus};
    /// let mut s = ResourceStatus::new("file", "/tmp/x");
    /// s.add_event(Event::new(EventStatus::Success).with_property("ensure"));
    /// s.add_event(Event::new(EventStatus::Noop).with_property("mode"));
    /// assert!(s.changed && s.out_of_sync && !s.failed);
    /// assert_eq!((s.change_count, s.out_of_sync_count), (1, 2));
    /// ```
    pub fn add_event(&mut self, event: Event) -> &mut ResourceStatus {
        match event.status {
            EventStatus::Failure => self.failed = true,
            EventStatus::Success => {
                self.change_count += 1;
                self.changed = true;
            }
            EventStatus::Noop | EventStatus::Audit => {}
        }
        if event.status != EventStatus::Audit {
            self.out_of_sync_count += 1;
            self.out_of_sync = true;
        }
        if event.corrective_change == Some(true) {
            self.corrective_change = true;
        }
        self.events.push(event);
        self
    }

    /// Fails the resource with a `resource_error` event carrying the message, as Puppet does
    /// when evaluating a resource raises.
    ///
    /// ```
    /// let mut s = puppet_report::ResourceStatus::new("package", "nginx");
    /// s.fail_with_event("Could not find package nginx");
    /// assert!(s.failed);
    /// assert_eq!(s.events[0].name.as_deref(), Some("resource_error"));
    /// ```
    pub fn fail_with_event(&mut self, message: impl Into<String>) -> &mut ResourceStatus {
        let mut event = Event::new(EventStatus::Failure).with_message(message);
        event.name = Some("resource_error".to_owned());
        self.add_event(event)
    }
}

/// The type's tag, and the title's when it is a valid tag (`/\A[[:alnum:]_][[:alnum:]_:.-]*\z/`).
fn default_tags(resource_type: &str, title: &str) -> Vec<String> {
    let mut tags = vec![downcase(resource_type)];
    let valid = |c: char| c.is_alphanumeric() || c == '_';
    let mut chars = title.chars();
    let is_tag = chars.next().is_some_and(valid)
        && chars.all(|c| valid(c) || c == ':' || c == '.' || c == '-');
    let title = downcase(title);
    if is_tag && !tags.contains(&title) {
        tags.push(title);
    }
    tags
}

impl Event {
    /// A new event with this status, happening now; the other fields empty (set them with the
    /// `with_*` methods or directly).
    ///
    /// ```
    /// use puppet_report::{Event, EventStatus};
    /// let e = Event::new(EventStatus::Success)
    ///     .with_property("ensure")
    ///     .with_values("absent", "file")
    ///     .with_name("file_created")
    ///     .with_message("created");
    /// assert_eq!(e.previous_value, "absent");
    /// assert_eq!(e.corrective_change, Some(false));
    /// ```
    pub fn new(status: EventStatus) -> Event {
        Event {
            audited: false,
            property: None,
            previous_value: Value::Null,
            desired_value: Value::Null,
            historical_value: Value::Null,
            message: None,
            name: None,
            status,
            time: crate::timestamp::now(),
            redacted: None,
            corrective_change: Some(false),
            extra: Map::new(),
        }
    }

    /// Sets the property.
    pub fn with_property(mut self, property: impl Into<String>) -> Event {
        self.property = Some(property.into());
        self
    }

    /// Sets the previous and the desired value.
    pub fn with_values(mut self, previous: impl Into<Value>, desired: impl Into<Value>) -> Event {
        self.previous_value = previous.into();
        self.desired_value = desired.into();
        self
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Event {
        self.message = Some(message.into());
        self
    }

    /// Sets the event's name (`file_created`, `executed_command`, ...).
    pub fn with_name(mut self, name: impl Into<String>) -> Event {
        self.name = Some(name.into());
        self
    }

    /// Marks the event as a corrective change (drift repaired) or not.
    pub fn with_corrective_change(mut self, corrective: bool) -> Event {
        self.corrective_change = Some(corrective);
        self
    }
}

/// Builds a report as a Puppet 7 agent would send it, deriving the run status, the metrics,
/// `noop_pending` and `corrective_change` from the resource statuses.
///
/// ```
/// use puppet_report::{Event, EventStatus, ReportBuilder, ResourceStatus, RunStatus};
///
/// let mut file = ResourceStatus::new("file", "/etc/motd");
/// file.evaluation_time = Some(0.002);
/// file.add_event(Event::new(EventStatus::Success).with_property("content"));
///
/// let mut service = ResourceStatus::new("service", "nginx");
/// service.evaluation_time = Some(0.5);
/// service.add_event(Event::new(EventStatus::Noop).with_property("ensure"));
///
/// let mut builder = ReportBuilder::new("web1.example.test", "production");
/// builder
///     .configuration_version(1795369503)
///     .add_resource_status(file)
///     .add_resource_status(service)
///     .add_time("config_retrieval", 1.25)
///     .add_time("total", 2.0);
/// let report = builder.finish();
///
/// assert_eq!(report.status, RunStatus::Changed);
/// assert!(report.noop_pending);
/// assert_eq!(report.exit_status(), 2);
/// let n = |m, r| report.metrics.value(m, r).and_then(|n| n.as_f64());
/// assert_eq!(n("resources", "out_of_sync"), Some(2.0));
/// assert_eq!(n("events", "noop"), Some(1.0));
/// assert_eq!(n("time", "service"), Some(0.5));
/// ```
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    report: Report,
    times: Vec<(String, f64)>,
    resources_failed_to_generate: bool,
}

impl ReportBuilder {
    /// A builder for a run of `host` in `environment`, started now, claiming
    /// [`DEFAULT_PUPPET_VERSION`], with the transaction completed.
    ///
    /// ```
    /// let report = puppet_report::ReportBuilder::new("a.example.test", "production").finish();
    /// assert_eq!(report.status, puppet_report::RunStatus::Unchanged);
    /// assert_eq!(report.report_format, 12);
    /// ```
    pub fn new(host: impl Into<String>, environment: impl Into<String>) -> ReportBuilder {
        let mut report = Report::empty(host.into(), crate::timestamp::now(), environment.into());
        report.puppet_version = DEFAULT_PUPPET_VERSION.to_owned();
        report.transaction_completed = true;
        ReportBuilder {
            report,
            times: Vec::new(),
            resources_failed_to_generate: false,
        }
    }

    /// Sets the run's start time, as Puppet writes times (see [`crate::format_time`]).
    pub fn time(&mut self, time: impl Into<String>) -> &mut ReportBuilder {
        self.report.time = time.into();
        self
    }

    /// Sets the applied catalog's version.
    pub fn configuration_version(
        &mut self,
        version: impl Into<ConfigurationVersion>,
    ) -> &mut ReportBuilder {
        self.report.configuration_version = Some(version.into());
        self
    }

    /// Sets the run's transaction UUID.
    pub fn transaction_uuid(&mut self, uuid: impl Into<String>) -> &mut ReportBuilder {
        self.report.transaction_uuid = Some(uuid.into());
        self
    }

    /// Sets the Puppet version the report claims.
    pub fn puppet_version(&mut self, version: impl Into<String>) -> &mut ReportBuilder {
        self.report.puppet_version = version.into();
        self
    }

    /// Marks the run as a noop run.
    pub fn noop(&mut self, noop: bool) -> &mut ReportBuilder {
        self.report.noop = noop;
        self
    }

    /// Sets whether the transaction ran to its end (a run that did not is `failed`).
    pub fn transaction_completed(&mut self, completed: bool) -> &mut ReportBuilder {
        self.report.transaction_completed = completed;
        self
    }

    /// Records that a generator failed to generate resources (the run is then `failed`; the
    /// flag itself is not written, as in Puppet).
    pub fn resources_failed_to_generate(&mut self, failed: bool) -> &mut ReportBuilder {
        self.resources_failed_to_generate = failed;
        self
    }

    /// Sets the applied catalog's UUID.
    pub fn catalog_uuid(&mut self, uuid: impl Into<String>) -> &mut ReportBuilder {
        self.report.catalog_uuid = Some(uuid.into());
        self
    }

    /// Sets the static catalog's code ID.
    pub fn code_id(&mut self, code_id: impl Into<String>) -> &mut ReportBuilder {
        self.report.code_id = Some(code_id.into());
        self
    }

    /// Sets the orchestrator job ID.
    pub fn job_id(&mut self, job_id: impl Into<String>) -> &mut ReportBuilder {
        self.report.job_id = Some(job_id.into());
        self
    }

    /// Sets how a cached catalog was used (`not_used`, `explicitly_requested`, `on_failure`).
    pub fn cached_catalog_status(&mut self, status: impl Into<String>) -> &mut ReportBuilder {
        self.report.cached_catalog_status = Some(status.into());
        self
    }

    /// Sets the server that served the catalog (`host:port`).
    pub fn server_used(&mut self, server: impl Into<String>) -> &mut ReportBuilder {
        self.report.server_used = Some(server.into());
        self
    }

    /// Adds a resource's status, after those already added (the evaluation order). A status
    /// for a reference already added replaces it in place.
    ///
    /// ```
    /// use puppet_report::{ReportBuilder, ResourceStatus};
    /// let mut b = ReportBuilder::new("a.example.test", "production");
    /// b.add_resource_status(ResourceStatus::new("file", "/tmp/b"))
    ///     .add_resource_status(ResourceStatus::new("file", "/tmp/a"))
    ///     .add_resource_status(ResourceStatus::new("file", "/tmp/b"));
    /// let report = b.finish();
    /// let order: Vec<&str> = report.resource_statuses.keys().collect();
    /// assert_eq!(order, ["File[/tmp/b]", "File[/tmp/a]"]);
    /// ```
    pub fn add_resource_status(&mut self, status: ResourceStatus) -> &mut ReportBuilder {
        self.report.resource_statuses.insert(status);
        self
    }

    /// Adds a log message.
    pub fn add_log(&mut self, log: Log) -> &mut ReportBuilder {
        self.report.logs.push(log);
        self
    }

    /// Adds seconds to a named time (`config_retrieval`, `fact_generation`, `total`, ...),
    /// as Puppet's `Report#add_times` does: a name given twice accumulates. These times come
    /// after the per-type evaluation times in the `time` metric and replace a type's time of
    /// the same name. A value that is not finite counts as 0.
    ///
    /// ```
    /// use puppet_report::ReportBuilder;
    /// let mut b = ReportBuilder::new("a.example.test", "production");
    /// b.add_time("config_retrieval", 0.5).add_time("config_retrieval", 0.25).add_time("total", 1.0);
    /// let report = b.finish();
    /// let time = |row| report.metrics.value("time", row).and_then(|n| n.as_f64());
    /// assert_eq!(time("config_retrieval"), Some(0.75));
    /// assert_eq!(time("total"), Some(1.0));
    /// ```
    pub fn add_time(&mut self, name: impl Into<String>, seconds: f64) -> &mut ReportBuilder {
        let name = name.into();
        let seconds = if seconds.is_finite() { seconds } else { 0.0 };
        match self.times.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 += seconds,
            None => self.times.push((name, seconds)),
        }
        self
    }

    /// Finishes the report as Puppet's `finalize_report` does: drops `Whit` statuses, derives
    /// `corrective_change`, the `resources`, `time`, `changes` and `events` metrics, the run
    /// status and `noop_pending`.
    ///
    /// ```
    /// use puppet_report::{Event, EventStatus, ReportBuilder, ResourceStatus, RunStatus};
    /// let mut pkg = ResourceStatus::new("package", "nginx");
    /// pkg.evaluation_time = Some(0.5);
    /// pkg.add_event(Event::new(EventStatus::Noop).with_property("ensure"));
    /// let mut b = ReportBuilder::new("a.example.test", "production");
    /// b.noop(true).add_resource_status(pkg);
    /// let report = b.finish();
    /// // A noop event is out of sync but no change: the run is unchanged, a change pending.
    /// assert_eq!(report.status, RunStatus::Unchanged);
    /// assert!(report.noop_pending);
    /// assert_eq!(report.metrics.value("resources", "out_of_sync").and_then(|n| n.as_u64()), Some(1));
    /// assert_eq!(report.metrics.value("time", "package").and_then(|n| n.as_f64()), Some(0.5));
    /// ```
    pub fn finish(self) -> Report {
        let ReportBuilder {
            mut report,
            times,
            resources_failed_to_generate,
        } = self;
        report
            .resource_statuses
            .retain(|_, s| s.resource_type != "Whit");
        let statuses = &report.resource_statuses;
        report.corrective_change = statuses.values().any(|s| s.corrective_change);

        let mut metrics = Metrics::default();
        let resources = resource_metric(statuses);
        let failed = count(&resources, "failed");
        let failed_to_restart = count(&resources, "failed_to_restart");
        metrics.insert("resources", resources);
        metrics.insert("time", time_metric(statuses, &times));
        let changes: u64 = statuses.values().map(|s| s.change_count).sum();
        let mut change_metric = Metric::new("changes");
        change_metric.push("total", changes.into());
        metrics.insert("changes", change_metric);
        metrics.insert("events", event_metric(statuses));

        report.status = if resources_failed_to_generate
            || !report.transaction_completed
            || failed > 0
            || failed_to_restart > 0
        {
            RunStatus::Failed
        } else if changes > 0 {
            RunStatus::Changed
        } else {
            RunStatus::Unchanged
        };
        report.noop_pending = statuses
            .values()
            .any(|s| s.events.iter().any(|e| e.status == EventStatus::Noop));
        report.metrics = metrics;
        report
    }
}

impl From<i64> for ConfigurationVersion {
    fn from(n: i64) -> Self {
        ConfigurationVersion::Integer(n)
    }
}

impl From<String> for ConfigurationVersion {
    fn from(s: String) -> Self {
        ConfigurationVersion::Text(s)
    }
}

impl From<&str> for ConfigurationVersion {
    fn from(s: &str) -> Self {
        ConfigurationVersion::Text(s.to_owned())
    }
}

fn count(metric: &Metric, row: &str) -> u64 {
    metric.get(row).and_then(Number::as_u64).unwrap_or(0)
}

/// `calculate_resource_metrics`: the total, then one count per state.
fn resource_metric(statuses: &ResourceStatuses) -> Metric {
    let mut counts = [0u64; STATES.len()];
    for s in statuses.values() {
        let flags = [
            s.skipped,
            s.failed,
            s.failed_to_restart,
            s.restarted,
            s.changed,
            s.out_of_sync,
            s.scheduled,
            s.corrective_change,
        ];
        for (count, flag) in counts.iter_mut().zip(flags) {
            *count += u64::from(flag);
        }
    }
    let mut metric = Metric::new("resources");
    metric.push("total", (statuses.len() as u64).into());
    for (name, count) in STATES.iter().zip(counts) {
        metric.push(name, count.into());
    }
    metric
}

/// `calculate_time_metrics`: evaluation time summed per type (lower case, in order of first
/// appearance), then the named times, which replace a type's sum of the same name.
fn time_metric(statuses: &ResourceStatuses, times: &[(String, f64)]) -> Metric {
    let mut rows: Vec<(String, f64)> = Vec::new();
    let mut set =
        |name: String, value: f64, add: bool| match rows.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) if add => slot.1 += value,
            Some(slot) => slot.1 = value,
            None => rows.push((name, value)),
        };
    for s in statuses.values() {
        if let Some(t) = s.evaluation_time {
            set(downcase(&s.resource_type), t, true);
        }
    }
    for (name, value) in times {
        set(downcase(name), *value, false);
    }
    let mut metric = Metric::new("time");
    for (name, value) in rows {
        let value = Number::from_f64(value).unwrap_or_else(|| 0u64.into());
        metric.push(&name, value);
    }
    metric
}

/// `calculate_event_metrics`: total, failure and success, then any other status seen
/// (`noop`, `audit`) in order of first appearance.
fn event_metric(statuses: &ResourceStatuses) -> Metric {
    let mut rows: Vec<(&str, u64)> = vec![("total", 0), ("failure", 0), ("success", 0)];
    for s in statuses.values() {
        if let Some(total) = rows.first_mut() {
            total.1 += s.events.len() as u64;
        }
        for e in &s.events {
            let name = e.status.as_str();
            match rows.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 += 1,
                None => rows.push((name, 1)),
            }
        }
    }
    let mut metric = Metric::new("events");
    for (name, value) in rows {
        metric.push(name, value.into());
    }
    metric
}
