//! `Report::redact_sensitive` against the report a real Puppet 7 agent wrote for a catalog
//! with Sensitive values (`fixtures/reports/sensitive.json`, its catalog
//! `fixtures/catalogs/sensitive.json`).

use std::path::Path;

use puppet_catalog::Catalog;
use puppet_report::{
    Event, EventStatus, Log, LogLevel, REDACTED, Report, ReportBuilder, ResourceStatus,
};
use serde_json::Value;

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/reports/sensitive.json"
);
const CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/catalogs/sensitive.json"
);
const SECRET_FILE: &str = "File[/tmp/puppet-rs-fixtures/target/sensitive/secret.txt]";
const NOTIFY: &str = "Notify[sensitive-notify]";

fn puppets_report() -> Report {
    let bytes = std::fs::read(Path::new(REPORT)).expect("read the captured report");
    Report::from_json(&bytes).expect("parse the captured report")
}

fn catalog() -> Catalog {
    Catalog::from_json(&std::fs::read(Path::new(CATALOG)).expect("read")).expect("parse")
}

/// The report as an agent that did not redact would write it: the values and messages in
/// clear, in the events and in their log lines; `redacted` as given.
fn in_clear(redacted: Option<bool>) -> Report {
    let mut report = puppets_report();
    let clear = [
        (
            SECRET_FILE,
            "absent",
            "file",
            "defined content as '{sha256}2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90'",
        ),
        (
            NOTIFY,
            "absent",
            "top secret message",
            "defined 'message' as 'top secret message'",
        ),
    ];
    for (key, previous, desired, message) in clear {
        let status = report.resource_statuses.get_mut(key).expect("status");
        let event = &mut status.events[0];
        assert_eq!(
            event.message.as_deref(),
            Some("changed [redacted] to [redacted]")
        );
        event.previous_value = Value::from(previous);
        event.desired_value = Value::from(desired);
        event.message = Some(message.to_owned());
        event.redacted = redacted;
        let property = event.property.clone().expect("property");
        let source_end = format!("{key}/{property}");
        let log = report
            .logs
            .iter_mut()
            .find(|l| l.source.ends_with(&source_end))
            .expect("the event's log line");
        log.message = message.to_owned();
    }
    report
}

#[test]
fn puppets_own_report_is_already_redacted() {
    let puppet = puppets_report();
    let mut again = puppet.clone();
    again.redact_sensitive();
    assert_eq!(again, puppet);
    again.redact_sensitive_with(&catalog());
    assert_eq!(again, puppet);
}

#[test]
fn marked_events_are_redacted_as_puppet_writes_them() {
    let mut report = in_clear(Some(true));
    assert_ne!(report, puppets_report());
    report.redact_sensitive();
    assert_eq!(report, puppets_report());
    let wire = String::from_utf8(report.to_json().expect("JSON")).expect("UTF-8");
    assert!(!wire.contains("top secret message"));
}

#[test]
fn the_catalog_says_which_events_are_sensitive() {
    let mut report = in_clear(None);
    // Unmarked, nothing is redacted.
    let mut unmarked = report.clone();
    unmarked.redact_sensitive();
    assert_eq!(unmarked, report);
    // The catalog lists `content` of the file (so its `ensure` is sensitive too) and
    // `message` of the notify; `command` of the exec, whose only event is `returns`.
    report.redact_sensitive_with(&catalog());
    assert_eq!(report, puppets_report());
}

/// One resource with an event of each status, in clear, with their log lines.
fn every_status() -> Report {
    let mut status = ResourceStatus::new("user", "dbadmin");
    let cases = [
        (EventStatus::Success, "password", "changed password"),
        (
            EventStatus::Noop,
            "comment",
            "current_value 'old secret', should be 'new secret' (noop) (previously recorded value was 'older secret')",
        ),
        (
            EventStatus::Audit,
            "home",
            "audit change: previously recorded value /home/secret has been changed to /srv/secret",
        ),
        (
            EventStatus::Failure,
            "shell",
            "change from '/bin/secret' to '/bin/secret2' failed: Could not set shell on user[dbadmin]: Execution of '/usr/sbin/usermod' returned 6",
        ),
    ];
    let mut logs = Vec::new();
    for (event_status, property, message) in cases {
        let mut event = Event::new(event_status)
            .with_property(property)
            .with_values("old secret", "new secret")
            .with_message(message);
        event.historical_value = Value::from("older secret");
        event.redacted = Some(true);
        event.corrective_change = Some(event_status == EventStatus::Success);
        if event_status == EventStatus::Success {
            event.message = Some(format!("{message} (corrective)"));
        }
        let mut log = Log::new(
            LogLevel::Notice,
            event.message.clone().unwrap_or_default(),
            format!("/Stage[main]/Db/User[dbadmin]/{property}"),
        );
        log.time = "2026-11-23T09:20:38.156719729+00:00".to_owned();
        logs.push(log);
        event.time = "2026-11-23T09:20:38.156719729+00:00".to_owned();
        status.add_event(event);
    }
    status.time = "2026-11-23T09:20:38.156719729+00:00".to_owned();
    let mut builder = ReportBuilder::new("db1.example.test", "production");
    builder.add_resource_status(status);
    for log in logs {
        builder.add_log(log);
    }
    let mut report = builder.finish();
    report.time = "2026-11-23T09:20:38.156719729+00:00".to_owned();
    report
}

#[test]
fn each_event_status_gets_puppets_redacted_message() {
    let mut report = every_status();
    report.redact_sensitive();
    let status = report
        .resource_statuses
        .get("User[dbadmin]")
        .expect("status");
    let wire = String::from_utf8(report.to_json().expect("JSON")).expect("UTF-8");
    for secret in [
        "old secret",
        "new secret",
        "older secret",
        "/home/secret",
        "/bin/secret",
    ] {
        assert!(!wire.contains(secret), "{secret} left");
    }
    for event in &status.events {
        assert_eq!(event.previous_value, REDACTED);
        assert_eq!(event.historical_value, REDACTED);
    }
    let mut again = report.clone();
    again.redact_sensitive();
    assert_eq!(again, report, "redacting twice changes nothing");
    let shown: Vec<Value> = status
        .events
        .iter()
        .map(|e| serde_json::json!({"status": e.status, "message": e.message}))
        .chain(
            report
                .logs
                .iter()
                .map(|l| serde_json::json!({"log": l.message})),
        )
        .collect();
    insta::assert_json_snapshot!("redacted_messages", shown);
}
