//! The report document (format 12) and its parts, one module per concept.

mod event;
mod log;
mod metrics;
mod report;
mod resource_status;

pub use event::{Event, EventStatus};
pub use log::{Log, LogLevel};
pub use metrics::{Metric, MetricValue, Metrics};
pub use report::{ConfigurationVersion, REPORT_FORMAT, Report, RunStatus};
pub use resource_status::{ResourceStatus, ResourceStatuses};

/// Ruby's `String#downcase`: each character's full lower case, with no context (a final
/// `Σ` becomes `σ`, where Rust's `str::to_lowercase` writes `ς`).
pub(crate) fn downcase(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::downcase;
    use super::metrics::labelize;

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
