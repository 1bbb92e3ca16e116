//! Reading: bad input gives a typed error naming the JSON path, never a panic; unknown
//! keys and explicit nulls survive a round trip; built reports read back equal.

use crate::common;

use std::path::Path;

use proptest::prelude::*;
use puppet_report::{
    Event, EventStatus, Report, ReportBuilder, ReportError, ResourceStatus, RunStatus,
};
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/apply-first.report.json"
);

fn fixture() -> Value {
    serde_json::from_slice(&std::fs::read(FIXTURE).expect("read fixture")).expect("json")
}

fn parse(value: &Value) -> Result<Report, ReportError> {
    Report::from_json(&serde_json::to_vec(value).expect("json"))
}

fn error_at(value: &Value) -> (String, String) {
    match parse(value) {
        Err(ReportError::Parse { path, message }) => (path, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn first_status_key(doc: &Value) -> String {
    doc["resource_statuses"]
        .as_object()
        .and_then(|m| m.keys().next())
        .expect("a status")
        .clone()
}

#[test]
fn errors_name_the_json_path() {
    let doc = fixture();
    let key = first_status_key(&doc);

    let mut bad = doc.clone();
    bad["resource_statuses"][&key]["events"][0]["status"] = json!("exploded");
    let (path, message) = error_at(&bad);
    assert_eq!(path, format!("resource_statuses.{key}.events[0].status"));
    assert!(message.contains("unknown variant `exploded`"), "{message}");

    let mut bad = doc.clone();
    bad["metrics"]["resources"]["values"][2] = json!(["failed", "Failed"]);
    let (path, message) = error_at(&bad);
    assert_eq!(path, "metrics.resources.values[2]");
    assert!(message.contains("invalid length 2"), "{message}");

    let mut bad = doc.clone();
    bad["logs"][1]["level"] = json!(3);
    assert_eq!(error_at(&bad).0, "logs[1].level");

    let mut bad = doc.clone();
    bad["resource_statuses"][&key]["change_count"] = json!(-1);
    assert_eq!(
        error_at(&bad).0,
        format!("resource_statuses.{key}.change_count")
    );

    let mut bad = doc.clone();
    bad.as_object_mut().expect("object").remove("status");
    let (path, message) = error_at(&bad);
    assert_eq!(path, ".");
    assert!(message.contains("missing field `status`"), "{message}");

    let mut bad = doc;
    bad["resource_statuses"][&key] = Value::Null;
    assert_eq!(error_at(&bad).0, format!("resource_statuses.{key}"));
}

#[test]
fn not_a_report_is_an_error() {
    for input in [
        &b""[..],
        b"null",
        b"[]",
        b"{}",
        b"{\"foo\": 1}",
        b"\"report\"",
        b"{\"host\": \"a\",",
        b"\xff\xfe",
    ] {
        assert!(Report::from_json(input).is_err(), "{input:?}");
    }
    let mut doc = serde_json::to_vec(&fixture()).expect("json");
    doc.extend_from_slice(b" trailing");
    let err = Report::from_json(&doc).expect_err("trailing characters");
    assert!(err.to_string().contains("trailing characters"), "{err}");
}

#[test]
fn a_duplicate_key_is_an_error() {
    let text = String::from_utf8(std::fs::read(FIXTURE).expect("read")).expect("utf-8");
    let dup = text.replacen("{\"host\":\"vm\",", "{\"host\":\"vm\",\"host\":\"vm\",", 1);
    assert_ne!(dup, text);
    let err = Report::from_json(dup.as_bytes()).expect_err("duplicate");
    assert!(err.to_string().contains("duplicate field `host`"), "{err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut doc = fixture();
    let key = first_status_key(&doc);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep: String = serde_json::to_string(&doc).expect("json").replacen(
        "\"historical_value\":null",
        &format!("\"historical_value\":{deep}"),
        1,
    );
    let err = Report::from_json(deep.as_bytes()).expect_err("too deep");
    assert!(err.to_string().contains("recursion limit"), "{err}");
    // A value nested a little is kept as it is.
    doc["resource_statuses"][&key]["events"][0]["historical_value"] =
        json!({"a": [1, {"b": [null, 2.5, "x"]}]});
    let report = parse(&doc).expect("parse");
    let event = &report.resource_statuses.get(&key).expect("status").events[0];
    assert_eq!(
        event.historical_value,
        json!({"a": [1, {"b": [null, 2.5, "x"]}]})
    );
}

#[test]
fn unknown_keys_and_explicit_nulls_survive_at_every_level() {
    let mut doc = fixture();
    let key = first_status_key(&doc);
    let object = doc.as_object_mut().expect("object");
    // A key Puppet 8 might add, between known keys; optional keys explicitly null.
    let mut reordered = serde_json::Map::new();
    for (k, v) in std::mem::take(object) {
        if k == "environment" {
            reordered.insert("future_key".into(), json!({"nested": [1, 2]}));
        }
        reordered.insert(k, v);
    }
    reordered.insert("code_id".into(), Value::Null);
    reordered.insert("job_id".into(), Value::Null);
    reordered.insert("master_used".into(), json!("puppet:8140"));
    reordered.insert("kind".into(), json!("apply"));
    *object = reordered;
    doc["resource_statuses"][&key]["future"] = json!(true);
    doc["resource_statuses"][&key]["events"][0]["future"] = json!("x");
    doc["logs"][0]["pos"] = json!(12);
    doc["metrics"]["time"]["future"] = json!(null);

    let report = parse(&doc).expect("parse");
    assert_eq!(report.extra["future_key"], json!({"nested": [1, 2]}));
    assert_eq!(report.code_id, None);
    assert_eq!(report.master_used.as_deref(), Some("puppet:8140"));
    let ours: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
    common::assert_same_json(&ours, &doc, "doc");
}

#[test]
fn a_report_with_only_the_schemas_required_keys_round_trips() {
    let doc = json!({
        "environment": "production",
        "host": "a.example.test",
        "time": "2026-11-23T08:21:02.588434084+00:00",
        "configuration_version": "git-9a3f2c1",
        "report_format": 12,
        "puppet_version": "7.23.0",
        "status": "unchanged",
        "transaction_completed": true,
        "noop": false,
        "noop_pending": false,
        "resource_statuses": {},
    });
    let report = parse(&doc).expect("parse");
    assert!(report.logs.is_empty() && report.metrics.is_empty());
    assert_eq!(report.transaction_uuid, None);
    let ours: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
    common::assert_same_json(&ours, &doc, "doc");
    // Given a value, a key the document left out is written, in Puppet's place.
    let mut report = report;
    report.corrective_change = true;
    let ours: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
    let keys: Vec<&str> = ours
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.last(), Some(&"corrective_change"));
    for missing in ["host", "resource_statuses", "configuration_version", "noop"] {
        let mut bad = doc.clone();
        bad.as_object_mut().expect("object").remove(missing);
        let (_, message) = error_at(&bad);
        assert!(
            message.contains(&format!("missing field `{missing}`")),
            "{message}"
        );
    }
}

#[test]
fn a_built_report_without_optional_keys_omits_them() {
    let report = puppet_report::ReportBuilder::new("a.example.test", "production").finish();
    let doc: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
    let keys: Vec<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "host",
            "time",
            "configuration_version",
            "transaction_uuid",
            "report_format",
            "puppet_version",
            "status",
            "transaction_completed",
            "noop",
            "noop_pending",
            "environment",
            "logs",
            "metrics",
            "resource_statuses",
            "corrective_change",
        ]
    );
}

#[test]
fn resource_status_order_is_the_documents() {
    let doc = fixture();
    let want: Vec<&String> = doc["resource_statuses"]
        .as_object()
        .expect("object")
        .keys()
        .collect();
    let report = parse(&doc).expect("parse");
    let got: Vec<&str> = report.resource_statuses.keys().collect();
    assert_eq!(got, want);
    // Not sorted: the agent's evaluation order.
    let mut sorted = got.clone();
    sorted.sort();
    assert_ne!(got, sorted);
}

/// Every path into a JSON value, with the value there.
fn paths(value: &Value, prefix: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                let mut p = prefix.clone();
                p.push(PathStep::Key(k.clone()));
                paths(v, p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(PathStep::Index(i));
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(value: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

fn float_evaluation_times(value: &mut Value) {
    match value {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == "evaluation_time"
                    && let Some(f) = v.as_f64()
                {
                    *v = Value::from(f);
                }
                float_evaluation_times(v);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(float_evaluation_times),
        _ => {}
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn built_report() -> impl Strategy<Value = Report> {
    let status = (
        prop::sample::select(vec!["file", "exec", "service", "whit"]),
        "[a-z]{1,6}",
        prop::option::of(0.0f64..1.0),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            prop::sample::select(vec![
                EventStatus::Success,
                EventStatus::Failure,
                EventStatus::Noop,
                EventStatus::Audit,
            ]),
            0..4,
        ),
    )
        .prop_map(
            |(kind, title, seconds, skipped, failed_to_restart, events)| {
                let mut s = ResourceStatus::new(kind, &title);
                s.evaluation_time = seconds;
                s.skipped = skipped;
                s.failed_to_restart = failed_to_restart;
                for e in events {
                    s.add_event(Event::new(e).with_values(json!([1, "x"]), json!({"k": null})));
                }
                s
            },
        );
    (prop::collection::vec(status, 0..12), any::<bool>()).prop_map(|(statuses, noop)| {
        let mut b = ReportBuilder::new("node.example.test", "production");
        b.noop(noop);
        for s in statuses {
            b.add_resource_status(s);
        }
        b.finish()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A built report reads back equal, and its metrics add up.
    #[test]
    fn built_reports_read_back_equal_and_add_up(report in built_report()) {
        let back = Report::from_json(&report.to_json().expect("json")).expect("parse");
        prop_assert_eq!(&back, &report);
        let n = |m: &str, r: &str| report.metrics.value(m, r).and_then(|v| v.as_u64()).unwrap_or(0);
        let statuses: Vec<_> = report.resource_statuses.values().collect();
        prop_assert!(statuses.iter().all(|s| s.resource_type != "Whit"));
        prop_assert_eq!(n("resources", "total"), statuses.len() as u64);
        let events: u64 = statuses.iter().map(|s| s.events.len() as u64).sum();
        prop_assert_eq!(n("events", "total"), events);
        prop_assert_eq!(
            events,
            n("events", "success") + n("events", "failure") + n("events", "noop") + n("events", "audit")
        );
        prop_assert_eq!(n("changes", "total"), n("events", "success"));
        let expected = if n("resources", "failed") + n("resources", "failed_to_restart") > 0 {
            RunStatus::Failed
        } else if n("changes", "total") > 0 {
            RunStatus::Changed
        } else {
            RunStatus::Unchanged
        };
        prop_assert_eq!(report.status, expected);
        prop_assert_eq!(report.noop_pending, n("events", "noop") > 0);
        prop_assert_eq!(report.exit_status(), match expected {
            RunStatus::Failed if n("changes", "total") > 0 => 6,
            RunStatus::Failed => 4,
            RunStatus::Changed => 2,
            _ => 0,
        });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Report::from_json(&bytes);
    }

    /// Replace any part of a real report with any JSON: an error names a path, or the
    /// document still reads and writes back the same value.
    #[test]
    fn mutated_reports_error_with_a_path_or_round_trip(
        pick in any::<prop::sample::Index>(),
        replacement in arbitrary_json(),
    ) {
        let mut doc = fixture();
        let mut all = Vec::new();
        paths(&doc, Vec::new(), &mut all);
        let path = pick.get(&all).clone();
        *at(&mut doc, &path) = replacement;
        match parse(&doc) {
            Ok(report) => {
                let mut ours: Value = serde_json::from_slice(&report.to_json().expect("json")).expect("json");
                // The one known difference: an integer `evaluation_time` (Puppet always
                // writes a float) is written back as the same number in float form.
                float_evaluation_times(&mut ours);
                float_evaluation_times(&mut doc);
                prop_assert_eq!(ours, doc);
            }
            Err(ReportError::Parse { path, message }) => {
                prop_assert!(!path.is_empty() && !message.is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}

#[test]
fn every_captured_report_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for path in common::files(Path::new(dir), ".report.json") {
        common::assert_round_trip(&path);
    }
}
