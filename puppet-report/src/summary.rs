//! `last_run_summary.yaml`: `Puppet::Transaction::Report#raw_summary`, written as Puppet
//! writes it (`YAML.dump`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Number;

use crate::error::ReportError;
use crate::model::{ConfigurationVersion, Report};
use crate::yaml::{self, Place};

/// What `raw_summary` takes from the running Puppet rather than from the report.
///
/// ```
/// let o = puppet_report::SummaryOptions::agent(1795369576);
/// assert_eq!(o.run_mode, "agent");
/// assert_eq!(puppet_report::SummaryOptions::apply(0).run_mode, "user");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SummaryOptions {
    /// Puppet's run mode: `agent` for `puppet agent`, `user` for `puppet apply`.
    pub run_mode: String,
    /// The environment the run started in; `None` means the report's environment (the run
    /// did not switch).
    pub initial_environment: Option<String>,
    /// `time.last_run`: when the summary was written, in seconds since the Unix epoch.
    pub last_run: i64,
}

impl SummaryOptions {
    /// For a `puppet agent` run.
    pub fn agent(last_run: i64) -> SummaryOptions {
        SummaryOptions {
            run_mode: "agent".to_owned(),
            initial_environment: None,
            last_run,
        }
    }

    /// For a `puppet apply` run (run mode `user`).
    pub fn apply(last_run: i64) -> SummaryOptions {
        SummaryOptions {
            run_mode: "user".to_owned(),
            initial_environment: None,
            last_run,
        }
    }
}

/// A value of the summary.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    /// Nothing (YAML `key:` with no value).
    Null,
    /// An integer or a float.
    Number(Number),
    /// A string.
    String(String),
}

/// The run summary: sections (`version`, `application`, `resources`, `time`, `changes`,
/// `events`) of named values, in Puppet's order.
///
/// ```
/// use puppet_report::{ReportBuilder, SummaryOptions, SummaryValue};
/// let report = ReportBuilder::new("a.example.test", "production").finish();
/// let summary = report.raw_summary(&SummaryOptions::agent(1795369576));
/// assert_eq!(summary.get("events", "total"), Some(&SummaryValue::Number(0u64.into())));
/// assert_eq!(summary.get("time", "last_run"), Some(&SummaryValue::Number(1795369576i64.into())));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LastRunSummary {
    /// The sections, in order, each with its values in order.
    pub sections: Vec<(String, Vec<(String, SummaryValue)>)>,
}

impl LastRunSummary {
    /// A value: `get("resources", "failed")`.
    pub fn get(&self, section: &str, key: &str) -> Option<&SummaryValue> {
        self.sections
            .iter()
            .find(|(s, _)| s == section)
            .and_then(|(_, values)| values.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v)
    }

    /// The summary as Puppet writes `last_run_summary.yaml`.
    ///
    /// ```
    /// use puppet_report::{LastRunSummary, SummaryValue};
    /// let summary = LastRunSummary {
    ///     sections: vec![("changes".into(), vec![("total".into(), SummaryValue::Number(3u64.into()))])],
    /// };
    /// assert_eq!(summary.to_yaml(), "---\nchanges:\n  total: 3\n");
    /// ```
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("---\n");
        let mut open_ended = false;
        for (section, values) in &self.sections {
            out.push_str(&yaml::string(section, Place::Key).text);
            if values.is_empty() {
                out.push_str(": {}\n");
                continue;
            }
            out.push_str(":\n");
            for (key, value) in values {
                let key = yaml::string(key, Place::Key).text;
                out.push_str("  ");
                out.push_str(&key);
                out.push(':');
                let column = 2 + key.chars().count() + 2;
                match value {
                    SummaryValue::Null => {}
                    SummaryValue::Number(n) => {
                        out.push(' ');
                        out.push_str(&number(n));
                    }
                    SummaryValue::String(s) => {
                        out.push(' ');
                        let written = yaml::string(s, Place::Value { column, indent: 4 });
                        out.push_str(&written.text);
                        // libyaml's `open_ended`: set by a `|+` block, cleared by any
                        // block written after it; `...` ends the document when still set.
                        if written.block {
                            open_ended = written.open_ended;
                        }
                        if written.ends_line {
                            continue;
                        }
                    }
                }
                out.push('\n');
            }
        }
        if open_ended {
            out.push_str("...\n");
        }
        out
    }
}

fn number(n: &Number) -> String {
    if n.is_f64() {
        n.as_f64()
            .map(yaml::ruby_float)
            .unwrap_or_else(|| n.to_string())
    } else {
        n.to_string()
    }
}

fn set(values: &mut Vec<(String, SummaryValue)>, key: &str, value: SummaryValue) {
    match values.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => values.push((key.to_owned(), value)),
    }
}

impl Report {
    /// The run summary Puppet writes after a run (`Report#raw_summary`): the versions, the
    /// application, then each metric's values sorted by label with a `total` (0 when the
    /// metric has none; not for `time`), and `time.last_run`.
    ///
    /// ```
    /// use puppet_report::{ReportBuilder, SummaryOptions, SummaryValue};
    /// let mut b = ReportBuilder::new("a.example.test", "production");
    /// b.configuration_version(1795369503);
    /// let summary = b.finish().raw_summary(&SummaryOptions::agent(1795369576));
    /// let keys: Vec<&str> = summary.sections.iter().map(|(k, _)| k.as_str()).collect();
    /// assert_eq!(keys, ["version", "application", "resources", "time", "changes", "events"]);
    /// ```
    pub fn raw_summary(&self, options: &SummaryOptions) -> LastRunSummary {
        let config = match &self.configuration_version {
            None => SummaryValue::Null,
            Some(ConfigurationVersion::Integer(n)) => SummaryValue::Number((*n).into()),
            Some(ConfigurationVersion::Text(s)) => SummaryValue::String(s.clone()),
        };
        let initial = options
            .initial_environment
            .clone()
            .unwrap_or_else(|| self.environment.clone());
        let mut sections = vec![
            (
                "version".to_owned(),
                vec![
                    ("config".to_owned(), config),
                    (
                        "puppet".to_owned(),
                        SummaryValue::String(self.puppet_version.clone()),
                    ),
                ],
            ),
            (
                "application".to_owned(),
                vec![
                    (
                        "run_mode".to_owned(),
                        SummaryValue::String(options.run_mode.clone()),
                    ),
                    (
                        "initial_environment".to_owned(),
                        SummaryValue::String(initial),
                    ),
                    (
                        "converged_environment".to_owned(),
                        SummaryValue::String(self.environment.clone()),
                    ),
                ],
            ),
        ];
        for (_, metric) in self.metrics.iter() {
            let mut rows: Vec<_> = metric.values.iter().collect();
            // Metric#values sorts by label (byte order).
            rows.sort_by(|a, b| a.label.as_bytes().cmp(b.label.as_bytes()));
            let mut values = Vec::new();
            for row in rows {
                set(
                    &mut values,
                    &row.name,
                    SummaryValue::Number(row.value.clone()),
                );
            }
            if metric.name != "time" && !values.iter().any(|(k, _)| k == "total") {
                values.push(("total".to_owned(), SummaryValue::Number(0u64.into())));
            }
            match sections.iter_mut().find(|(k, _)| *k == metric.name) {
                Some(slot) => slot.1 = values,
                None => sections.push((metric.name.clone(), values)),
            }
        }
        let last_run = SummaryValue::Number(options.last_run.into());
        match sections.iter_mut().find(|(k, _)| k == "time") {
            Some((_, values)) => set(values, "last_run", last_run),
            None => sections.push(("time".to_owned(), vec![("last_run".to_owned(), last_run)])),
        }
        LastRunSummary { sections }
    }

    /// The text of `last_run_summary.yaml` for this report, as Puppet writes it.
    ///
    /// ```
    /// use puppet_report::{ReportBuilder, SummaryOptions};
    /// let mut b = ReportBuilder::new("a.example.test", "production");
    /// b.configuration_version(1795369503).puppet_version("7.23.0").add_time("total", 0.5);
    /// let yaml = b.finish().last_run_summary_yaml(&SummaryOptions::agent(1795369576));
    /// assert!(yaml.starts_with("---\nversion:\n  config: 1795369503\n  puppet: 7.23.0\n"));
    /// assert!(yaml.contains("\ntime:\n  total: 0.5\n  last_run: 1795369576\n"));
    /// ```
    pub fn last_run_summary_yaml(&self, options: &SummaryOptions) -> String {
        self.raw_summary(options).to_yaml()
    }

    /// Writes `last_run_summary.yaml` as Puppet does after a run: the whole file or nothing
    /// (a temporary file in the same directory, synced, then renamed over the old one), mode
    /// 0640 on Unix.
    ///
    /// ```
    /// use puppet_report::{ReportBuilder, SummaryOptions};
    /// let dir = std::env::temp_dir().join(format!("puppet-report-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).expect("temp dir");
    /// let path = dir.join("last_run_summary.yaml");
    /// let report = ReportBuilder::new("a.example.test", "production").finish();
    /// report.write_last_run_summary(&path, &SummaryOptions::agent(1795369576))?;
    /// assert!(std::fs::read_to_string(&path).expect("read").starts_with("---\nversion:\n"));
    /// # std::fs::remove_dir_all(&dir).expect("clean up");
    /// # Ok::<(), puppet_report::ReportError>(())
    /// ```
    pub fn write_last_run_summary(
        &self,
        path: &Path,
        options: &SummaryOptions,
    ) -> Result<(), ReportError> {
        write_atomically(path, self.last_run_summary_yaml(options).as_bytes())
    }
}

/// Temp file beside `path`, write, fsync, rename, fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    use std::io::Write;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::{LastRunSummary, SummaryValue};

    fn yaml(values: &[(&str, &str)]) -> String {
        let values = values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SummaryValue::String((*v).to_owned())))
            .collect();
        LastRunSummary {
            sections: vec![("s".to_owned(), values)],
        }
        .to_yaml()
    }

    /// Texts written by Psych 4 over libyaml 0.2.5 (`YAML.dump({"s" => {...}})`): the
    /// document ends with `...` only when its last block scalar is a `|+` one.
    #[test]
    fn only_a_kept_block_written_last_ends_the_document() {
        assert_eq!(
            yaml(&[("a", "a\nb\n\n"), ("b", "c\nd")]),
            "---\ns:\n  a: |+\n    a\n    b\n\n  b: |-\n    c\n    d\n"
        );
        assert_eq!(
            yaml(&[("a", "a\nb\n\n"), ("b", "c\nd\n")]),
            "---\ns:\n  a: |+\n    a\n    b\n\n  b: |\n    c\n    d\n"
        );
        assert_eq!(
            yaml(&[("a", "a\nb"), ("b", "c\nd\n\n")]),
            "---\ns:\n  a: |-\n    a\n    b\n  b: |+\n    c\n    d\n\n...\n"
        );
        // A plain or quoted scalar after the block does not clear it.
        assert_eq!(
            yaml(&[("a", "a\nb\n\n"), ("b", "x")]),
            "---\ns:\n  a: |+\n    a\n    b\n\n  b: x\n...\n"
        );
    }
}
