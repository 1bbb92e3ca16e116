//! Snapshots of what the builder produces: the report document and its
//! `last_run_summary.yaml`, for a run with every kind of outcome.

use crate::common;

use common::scenario as run;
use puppet_report::{Report, SummaryOptions};

#[test]
fn built_report_document() {
    insta::assert_snapshot!(run().to_json_pretty().expect("json"));
}

#[test]
fn built_report_summary() {
    let mut options = SummaryOptions::agent(1795422062);
    options.initial_environment = Some("development".into());
    insta::assert_snapshot!(run().last_run_summary_yaml(&options));
}

#[test]
fn built_report_reads_back_equal() {
    let report = run();
    let back = Report::from_json(&report.to_json().expect("json")).expect("parse");
    // `restarted` is not written (as in Puppet); everything else is.
    let mut expected = report;
    for key in ["Exec[reload]"] {
        if let Some(s) = expected.resource_statuses.get_mut(key) {
            s.restarted = false;
        }
    }
    assert_eq!(back, expected);
}
