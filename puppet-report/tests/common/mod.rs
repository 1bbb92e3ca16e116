//! Helpers shared by the fixture tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use puppet_report::{Event, EventStatus, Log, LogLevel, Report, ReportBuilder, ResourceStatus};
use serde_json::{Value, json};

/// The files in `dir` whose names end with `suffix`, sorted; panics (failing the test) when
/// there are none.
pub fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *{suffix} files in {}", dir.display());
    files
}

/// Asserts that two JSON values are equal and that every object has its keys in the same
/// order (Value's own equality ignores key order).
pub fn assert_same_json(ours: &Value, theirs: &Value, path: &str) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            assert_eq!(ka, kb, "key order at {path}");
            for (k, v) in a {
                assert_same_json(v, &b[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "array length at {path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same_json(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(ours, theirs, "value at {path}"),
    }
}

/// Parses, serializes and compares with the original document.
pub fn assert_round_trip(path: &Path) -> Report {
    let bytes = std::fs::read(path).expect("read fixture");
    let report = Report::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let original: Value = serde_json::from_slice(&bytes).expect("fixture is JSON");
    let ours: Value = serde_json::from_slice(&report.to_json().expect("serialize")).expect("JSON");
    assert_same_json(&ours, &original, &path.display().to_string());
    report
}

/// Rebuilds a report with the builder from what an agent knows before finalizing: each
/// resource's events, skipped and failed-to-restart flags, its refreshes (from the logs:
/// Puppet does not write `restarted`), and the named times; everything else is copied.
pub fn rebuild(report: &Report) -> Report {
    let mut builder = ReportBuilder::new(report.host.clone(), report.environment.clone());
    builder
        .time(report.time.clone())
        .puppet_version(report.puppet_version.clone())
        .noop(report.noop)
        .transaction_completed(report.transaction_completed);
    if let Some(v) = &report.configuration_version {
        builder.configuration_version(v.clone());
    }
    if let Some(v) = &report.transaction_uuid {
        builder.transaction_uuid(v.clone());
    }
    if let Some(v) = &report.catalog_uuid {
        builder.catalog_uuid(v.clone());
    }
    if let Some(v) = &report.code_id {
        builder.code_id(v.clone());
    }
    if let Some(v) = &report.job_id {
        builder.job_id(v.clone());
    }
    if let Some(v) = &report.cached_catalog_status {
        builder.cached_catalog_status(v.clone());
    }
    if let Some(v) = &report.server_used {
        builder.server_used(v.clone());
    }
    for log in &report.logs {
        builder.add_log(log.clone());
    }
    let mut types = Vec::new();
    for (key, original) in report.resource_statuses.iter() {
        let mut status = ResourceStatus::new(&original.resource_type, &original.title);
        status.title = original.title.clone();
        status.resource = original.resource.clone();
        status.resource_type = original.resource_type.clone();
        status.file = original.file.clone();
        status.line = original.line;
        status.provider_used = original.provider_used.clone();
        status.containment_path = original.containment_path.clone();
        status.evaluation_time = original.evaluation_time;
        status.tags = original.tags.clone();
        status.time = original.time.clone();
        status.skipped = original.skipped;
        status.failed_to_restart = original.failed_to_restart;
        status.extra = original.extra.clone();
        for event in &original.events {
            status.add_event(event.clone());
        }
        let path = format!("/{}", original.containment_path.join("/"));
        status.restarted = report
            .logs
            .iter()
            .any(|log| log.source == path && log.message.starts_with("Triggered '"));
        assert_eq!(key, status.resource, "status key is its reference");
        types.push(original.resource_type.to_lowercase());
        builder.add_resource_status(status);
    }
    if let Some(time) = report.metrics.get("time") {
        for row in &time.values {
            if !types.contains(&row.name) {
                builder.add_time(row.name.clone(), row.value.as_f64().expect("a time"));
            }
        }
    }
    builder.finish()
}

const T: &str = "2026-11-23T08:21:02.588434084+00:00";

fn status(kind: &str, title: &str, line: u64, seconds: Option<f64>) -> ResourceStatus {
    let mut s = ResourceStatus::new(kind, title);
    s.time = T.to_owned();
    s.file = Some("/etc/puppet/code/environments/production/manifests/site.pp".to_owned());
    s.line = Some(line);
    s.evaluation_time = seconds;
    s.containment_path = vec!["Stage[main]".into(), "Main".into(), s.resource.clone()];
    s.tags = vec![kind.to_owned(), "class".to_owned()];
    s
}

fn event(status: EventStatus, property: &str, name: &str, message: &str) -> Event {
    let mut e = Event::new(status)
        .with_property(property)
        .with_name(name)
        .with_message(message);
    e.time = T.to_owned();
    e
}

/// Every outcome: created, changed with a corrective change, failed, skipped, noop,
/// audited, refreshed, and an internal `Whit` that the report drops.
pub fn scenario() -> Report {
    let mut dir = status("file", "/srv/app", 1, Some(0.000491427));
    dir.provider_used = Some("posix".into());
    dir.add_event(
        event(
            EventStatus::Success,
            "ensure",
            "directory_created",
            "created",
        )
        .with_values("absent", "directory"),
    );

    let mut config = status("file", "/srv/app/config", 2, Some(0.001550687));
    config.provider_used = Some("posix".into());
    config.add_event(
        event(
            EventStatus::Success,
            "mode",
            "mode_changed",
            "mode changed '0600' to '0644'",
        )
        .with_values("0600", "0644")
        .with_corrective_change(true),
    );
    config.add_event(
        event(
            EventStatus::Audit,
            "owner",
            "owner_changed",
            "audit change: previously recorded value 'root' has been changed to 'app'",
        )
        .with_values("app", json!(null)),
    );

    let mut fails = status("exec", "migrate", 3, Some(0.014181212));
    fails.add_event(
        event(
            EventStatus::Failure,
            "returns",
            "executed_command",
            "change from 'notrun' to ['0'] failed",
        )
        .with_values("notrun", json!(["0"])),
    );

    let mut skipped = status("service", "app", 4, None);
    skipped.skipped = true;

    let mut noop = status("package", "app-tools", 5, Some(0.25));
    noop.add_event(
        event(
            EventStatus::Noop,
            "ensure",
            "package_installed",
            "current_value 'purged', should be 'present' (noop)",
        )
        .with_values("purged", "present"),
    );

    let mut refreshed = status("exec", "reload", 6, Some(0.000111067));
    refreshed.add_event(event(
        EventStatus::Success,
        "returns",
        "refresh",
        "Triggered 'refresh' from 1 event",
    ));
    refreshed.restarted = true;

    let mut whit = status("whit", "Admissible_class[Main]", 7, Some(0.0001));
    whit.resource_type = "Whit".into();

    let mut log = Log::new(
        LogLevel::Notice,
        "Applied catalog in 0.06 seconds",
        "Puppet",
    );
    log.time = T.to_owned();

    let mut b = ReportBuilder::new("web1.example.test", "production");
    b.time(T)
        .configuration_version(1795422062)
        .transaction_uuid("5f472809-3dd8-45e6-a787-cf397976acf3")
        .catalog_uuid("940d3b70-8170-4bbb-bf91-ba02bcff4202")
        .cached_catalog_status("not_used")
        .server_used("puppet.example.test:8140")
        .code_id("urn:puppet:code-id:1:abc;production");
    for s in [dir, whit, config, fails, skipped, noop, refreshed] {
        b.add_resource_status(s);
    }
    b.add_log(log)
        .add_time("startup_time", 0.6223528)
        .add_time("config_retrieval", 0.044877801)
        .add_time("transaction_evaluation", 0.05561195000001362)
        .add_time("catalog_application", 0.058222728000032475)
        .add_time("total", 0.058502418);
    b.finish()
}

/// Whether Ruby with the Puppet library (Debian's `puppet-agent`) can run. When it cannot, the
/// calling test skips with one line, unless `PUPPET_RS_REQUIRE_REAL=1`, which makes it fail.
pub fn real_puppet(test: &str) -> bool {
    let ok = Command::new("ruby")
        .args(["-rpuppet", "-e", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() != Ok("1"),
            "{test}: PUPPET_RS_REQUIRE_REAL=1 but ruby with the puppet library cannot run"
        );
        eprintln!("{test}: skipped, Puppet is not installed (ruby -rpuppet fails)");
    }
    ok
}
