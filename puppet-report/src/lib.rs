//! Puppet's run report, format 12, as a Puppet 7 agent sends it with
//! `PUT /puppet/v3/report/<certname>`.
//!
//! - [`Report`] models every top-level key, the [`ResourceStatus`]es (keyed by reference, in
//!   the agent's evaluation order) with their [`Event`]s, the [`Metrics`] in Puppet's
//!   `[name, label, value]` layout and the [`Log`]s. Keys it does not know are kept, so
//!   parsing then serializing gives back the same JSON value. [`Report::from_json`] names
//!   the JSON path of any problem and never panics.
//! - [`ReportBuilder`] is what a custom agent uses: add resource statuses with their events
//!   and it derives each resource's flags and counts, the run status, `noop_pending`,
//!   `corrective_change` and the metrics exactly as Puppet's `finalize_report` does.
//! - [`Report::last_run_summary_yaml`] gives the text of `last_run_summary.yaml` in Puppet's
//!   own layout (`Report#raw_summary` written by Psych).
//!
//! ```
//! use puppet_report::{Event, EventStatus, Report, ReportBuilder, ResourceStatus, RunStatus,
//!     SummaryOptions};
//!
//! // A custom agent's run: one file created, one service that failed to start.
//! let mut file = ResourceStatus::new("file", "/etc/motd");
//! file.evaluation_time = Some(0.0015);
//! file.add_event(
//!     Event::new(EventStatus::Success)
//!         .with_property("ensure")
//!         .with_values("absent", "file")
//!         .with_name("file_created")
//!         .with_message("created"),
//! );
//! let mut service = ResourceStatus::new("service", "nginx");
//! service.evaluation_time = Some(0.25);
//! service.fail_with_event("Could not start Service[nginx]");
//!
//! let mut builder = ReportBuilder::new("web1.example.test", "production");
//! builder
//!     .configuration_version(1795369503)
//!     .transaction_uuid("b3099c88-baf8-4149-81c8-9bd780289602")
//!     .add_resource_status(file)
//!     .add_resource_status(service)
//!     .add_time("config_retrieval", 0.63)
//!     .add_time("total", 1.2);
//! let report = builder.finish();
//! assert_eq!(report.status, RunStatus::Failed);
//! assert_eq!(report.exit_status(), 6);
//!
//! // What goes on the wire, and back.
//! let json = report.to_json()?;
//! let back = Report::from_json(&json)?;
//! assert_eq!(back, report);
//! let order: Vec<&str> = back.resource_statuses.keys().collect();
//! assert_eq!(order, ["File[/etc/motd]", "Service[nginx]"]);
//!
//! // The state file Puppet leaves behind.
//! let yaml = report.last_run_summary_yaml(&SummaryOptions::agent(1795369576));
//! assert!(yaml.contains("\nresources:\n  changed: 1\n  corrective_change: 0\n  failed: 1\n"));
//! assert!(yaml.contains("\nevents:\n  failure: 1\n  success: 1\n  total: 2\n"));
//!
//! // A document that is not a report: the path and the problem.
//! let err = Report::from_json(br#"{"host":"a","time":"t","status":"done"}"#).unwrap_err();
//! assert!(err.to_string().starts_with("invalid report at status: unknown variant `done`"));
//! # Ok::<(), puppet_report::ReportError>(())
//! ```

mod builder;
mod error;
mod model;
mod summary;
mod timestamp;
mod yaml;

pub use builder::{DEFAULT_PUPPET_VERSION, ReportBuilder};
pub use error::ReportError;
pub use model::{
    ConfigurationVersion, Event, EventStatus, Log, LogLevel, Metric, MetricValue, Metrics,
    REPORT_FORMAT, Report, ResourceStatus, ResourceStatuses, RunStatus,
};
pub use summary::{LastRunSummary, SummaryOptions, SummaryValue};
pub use timestamp::format_time;

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
