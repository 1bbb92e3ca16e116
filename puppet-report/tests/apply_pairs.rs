//! Report and `last_run_summary.yaml` pairs from real `puppet apply` runs (captured by
//! `tests/fixtures/capture.sh`): each report round-trips, the builder derives Puppet's
//! statuses and metrics from it, and our summary text is Puppet's, byte for byte.

use crate::common;

use std::path::Path;

use puppet_report::{Report, RunStatus, SummaryOptions};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn pairs() -> Vec<(String, Report, String)> {
    common::files(Path::new(DIR), ".report.json")
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            let bytes = std::fs::read(&path).expect("read report");
            let report = Report::from_json(&bytes).expect("parse report");
            let yaml_path = name.replace(".report.json", ".last_run_summary.yaml");
            let yaml = std::fs::read_to_string(&yaml_path).expect("read summary");
            (name, report, yaml)
        })
        .collect()
}

/// The `last_run` Puppet wrote (the one value of the summary not in the report).
fn last_run(yaml: &str) -> i64 {
    yaml.lines()
        .find_map(|l| l.strip_prefix("  last_run: "))
        .and_then(|v| v.parse().ok())
        .expect("last_run in summary")
}

#[test]
fn the_summary_is_puppets_byte_for_byte() {
    for (name, report, yaml) in pairs() {
        let ours = report.last_run_summary_yaml(&SummaryOptions::apply(last_run(&yaml)));
        assert_eq!(ours, yaml, "{name}");
    }
}

#[test]
fn the_reports_round_trip() {
    for path in common::files(Path::new(DIR), ".report.json") {
        common::assert_round_trip(&path);
    }
}

#[test]
fn the_builder_derives_what_puppet_derived() {
    for (name, report, _) in pairs() {
        let rebuilt = common::rebuild(&report);
        assert_eq!(rebuilt.metrics, report.metrics, "{name}: metrics");
        let ours: Value = serde_json::from_slice(&rebuilt.to_json().expect("json")).expect("json");
        let theirs: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
        common::assert_same_json(&ours, &theirs, &name);
    }
}

#[test]
fn the_captured_runs_cover_every_outcome() {
    let statuses: Vec<(RunStatus, bool)> = pairs()
        .iter()
        .map(|(_, r, _)| (r.status, r.noop_pending))
        .collect();
    assert!(
        statuses.contains(&(RunStatus::Failed, true)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(RunStatus::Unchanged, true)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(RunStatus::Unchanged, false)),
        "{statuses:?}"
    );
    let first = pairs()
        .into_iter()
        .find(|(n, _, _)| n.ends_with("apply-first.report.json"))
        .expect("apply-first");
    let n = |row: &str| {
        first
            .1
            .metrics
            .value("resources", row)
            .and_then(|v| v.as_u64())
    };
    assert_eq!(
        (n("skipped"), n("failed"), n("restarted"), n("changed")),
        (Some(1), Some(1), Some(1), Some(4))
    );
}
