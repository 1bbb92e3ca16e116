//! Every report the real Puppet 7 produced in `fixtures/reports/` (captured by the
//! repository's fixture script): it round-trips; the builder, given only what an agent
//! knows before finalizing, derives the same statuses, metrics and run status as Puppet; and
//! where the capture kept the run's `last_run_summary.yaml`, ours is the same text.

use crate::common;

use std::path::Path;

use puppet_report::SummaryOptions;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/reports");

#[test]
fn every_fixture_report_round_trips() {
    for path in common::files(Path::new(DIR), ".json") {
        let report = common::assert_round_trip(&path);
        assert_eq!(report.report_format, 12, "{}", path.display());
    }
}

#[test]
fn the_builder_derives_what_puppet_derived() {
    for path in common::files(Path::new(DIR), ".json") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let report = puppet_report::Report::from_json(&bytes).expect("parse");
        let rebuilt = common::rebuild(&report);
        let name = path.display().to_string();
        assert_eq!(rebuilt.status, report.status, "{name}: status");
        assert_eq!(
            rebuilt.noop_pending, report.noop_pending,
            "{name}: noop_pending"
        );
        assert_eq!(rebuilt.metrics, report.metrics, "{name}: metrics");
        let ours: Value = serde_json::from_slice(&rebuilt.to_json().expect("json")).expect("json");
        let theirs: Value = serde_json::from_slice(&bytes).expect("json");
        common::assert_same_json(&ours, &theirs, &name);
    }
}

/// The two values of a summary that are not in the report: the run mode and `last_run`.
fn context(yaml: &str) -> SummaryOptions {
    let field = |name: &str| {
        yaml.lines()
            .find_map(|l| l.strip_prefix(&format!("  {name}: ")))
            .unwrap_or_else(|| panic!("{name} in summary"))
            .to_owned()
    };
    let mut options = SummaryOptions::agent(field("last_run").parse().expect("last_run"));
    options.run_mode = field("run_mode");
    options
}

#[test]
fn the_summary_is_puppets_byte_for_byte() {
    let mut pairs = 0;
    for path in common::files(Path::new(DIR), ".json") {
        let summary = path.with_extension("last_run_summary.yaml");
        let Ok(yaml) = std::fs::read_to_string(&summary) else {
            continue;
        };
        let report =
            puppet_report::Report::from_json(&std::fs::read(&path).expect("read")).expect("parse");
        let ours = report.last_run_summary_yaml(&context(&yaml));
        assert_eq!(ours, yaml, "{}", summary.display());
        pairs += 1;
    }
    assert!(
        pairs > 0,
        "no report has its last_run_summary.yaml in {DIR}"
    );
}
