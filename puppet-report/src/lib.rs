#![doc = include_str!("../README.md")]

mod builder;
mod error;
mod model;
mod redact;
mod summary;
mod timestamp;
mod yaml;

pub use builder::{DEFAULT_PUPPET_VERSION, ReportBuilder};
pub use error::ReportError;
pub use model::{
    ConfigurationVersion, Event, EventStatus, Log, LogLevel, Metric, MetricValue, Metrics,
    REPORT_FORMAT, Report, ResourceStatus, ResourceStatuses, RunStatus,
};
pub use redact::REDACTED;
pub use summary::{LastRunSummary, SummaryOptions, SummaryValue};
pub use timestamp::format_time;
