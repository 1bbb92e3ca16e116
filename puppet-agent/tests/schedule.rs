//! `schedule` beside the real Puppet: the same catalog (notifies with schedules by `range`,
//! `weekday`, `period`/`periodmatch`/`repeat`, ranges across midnight) and the same
//! `state.yaml` given to `puppet apply --catalog` and to our engine: the same resources are
//! applied and skipped (`Not scheduled`), with the same messages and report statuses.
//!
//! Skipped with one line when `puppet` is absent, unless `PUPPET_RS_REQUIRE_REAL=1`.

use puppet_agent::Logger;
use puppet_agent::apply::{ApplyOptions, apply, schedule::parse_state};
use puppet_report::LogLevel;
use serde_json::json;

use crate::common::{
    Level, catalog_doc, have_real_puppet, our_statuses, real_apply, report_statuses, resource_lines,
};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_apply_and_skip_the_same_resources_as_puppet() {
    if !have_real_puppet("schedules_apply_and_skip_the_same_resources_as_puppet") {
        return;
    }
    // The machine's local time (both agents read it); away from midnight and the hour's end,
    // so that both runs see the same hour and day.
    let zone = puppet_facts::collect::local_zone(std::env::var("TZ").ok().as_deref()).unwrap();
    let mut now = jiff::Timestamp::now().to_zoned(zone.clone());
    while now.minute() == 59 {
        std::thread::sleep(std::time::Duration::from_secs(5));
        now = jiff::Timestamp::now().to_zoned(zone.clone());
    }
    let h = i32::from(now.hour());
    let wday = usize::try_from(now.weekday().to_sunday_zero_offset()).unwrap();
    let hour = |d: i32| (h + d).rem_euclid(24);
    let schedules = [
        (
            "around-now",
            json!({"range": format!("{} - {}:59:59", hour(-1), hour(0))}),
        ),
        (
            "later",
            json!({"range": format!("{}:00 - {}:30", hour(2), hour(3))}),
        ),
        // Across midnight when it starts late in the day.
        (
            "from-evening",
            json!({"range": format!("{} - {}", hour(-2), hour(-3))}),
        ),
        (
            "two-ranges",
            json!({"range": ["0:00 - 0:01", format!("{:02}:00:00 - {:02}:59:59", hour(0), hour(0))]}),
        ),
        ("today", json!({"weekday": DAYS[wday]})),
        (
            "tomorrow",
            json!({"weekday": [&DAYS[(wday + 1) % 7][..3], (wday + 2) % 7]}),
        ),
        (
            "today-range",
            json!({"range": format!("{} - {}:59", hour(0), hour(0)), "weekday": wday.to_string()}),
        ),
        ("daily", json!({"period": "daily"})),
        ("hourly-6", json!({"period": "hourly", "repeat": 6})),
        (
            "hour-number",
            json!({"period": "hourly", "periodmatch": "number"}),
        ),
        (
            "day-number",
            json!({"period": "daily", "periodmatch": "number"}),
        ),
        (
            "week-number",
            json!({"period": "weekly", "periodmatch": "number"}),
        ),
        (
            "month-number",
            json!({"period": "monthly", "periodmatch": "number"}),
        ),
        ("nope", json!({"period": "never"})),
    ];
    let mut resources: Vec<(&str, String, serde_json::Value)> = Vec::new();
    for (name, params) in &schedules {
        resources.push(("Schedule", name.to_string(), params.clone()));
        resources.push((
            "Notify",
            format!("n-{name}"),
            json!({"message": format!("ran {name}"), "schedule": name}),
        ));
    }
    // Puppet's default schedules (`puppet apply --catalog` does not add them: declared here
    // as Puppet makes them).
    for (name, params) in [
        ("puppet", json!({"period": "hourly", "repeat": "2"})),
        ("weekly", json!({"period": "weekly"})),
        ("never", json!({"period": "never"})),
    ] {
        resources.push(("Schedule", name.to_string(), params));
        resources.push((
            "Notify",
            format!("d-{name}"),
            json!({"message": format!("ran {name}"), "schedule": name}),
        ));
    }
    let list: Vec<(&str, &str, serde_json::Value)> = resources
        .iter()
        .map(|(t, n, p)| (*t, n.as_str(), p.clone()))
        .collect();
    let doc = catalog_doc(&list);

    // Last checks: 20 minutes ago for the distance schedules (due for hourly/6 only), and
    // within the hour, today, this week, this month for the number ones (not due), except the
    // weekly one: checked on a later weekday last week (due), and Puppet's `puppet` schedule.
    let ago = |s: i64| {
        (now.timestamp() - jiff::SignedDuration::from_secs(s))
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S.%f %:z")
            .to_string()
    };
    let mut state = String::from("---\n");
    let minutes_in = i64::from(now.minute()) * 60 + i64::from(now.second());
    let checks = [
        ("n-daily", 1_200),
        ("n-hourly-6", 1_200),
        ("n-hour-number", minutes_in.min(1_200)),
        ("n-day-number", minutes_in.min(1_200)),
        ("n-month-number", minutes_in.min(1_200)),
        ("n-week-number", 6 * 86_400),
        ("d-puppet", 600),
    ];
    for (name, secs) in checks {
        state.push_str(&format!("\"Notify[{name}]\":\n  :checked: {}\n", ago(secs)));
    }

    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/state")).unwrap();
    std::fs::write(root.path().join("var/state/state.yaml"), &state).unwrap();
    let (real_lines, report) = real_apply(root.path(), &doc, Level::Debug, &[]);
    let real_lines = resource_lines(&real_lines, &["Not scheduled"]);

    let catalog = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();
    let log = Logger::capturing(LogLevel::Debug);
    let mut options = ApplyOptions::new("production");
    options.last_checked = parse_state(&state);
    let applied = apply(&catalog, &options, &log, None).await.unwrap();
    let ours = resource_lines(&log.lines(), &["Not scheduled"]);

    assert_eq!(ours, real_lines, "ours: {ours:#?}\nreal: {real_lines:#?}");
    // Both applied what they should have: the ranges around now, today, hourly/6, the weekly.
    for applied_name in [
        "around-now",
        "from-evening",
        "two-ranges",
        "today",
        "today-range",
    ] {
        assert!(
            ours.iter()
                .any(|l| l.contains(&format!("Notify[n-{applied_name}]/message"))),
            "{applied_name}: {ours:#?}"
        );
    }
    for skipped in [
        "later",
        "tomorrow",
        "daily",
        "nope",
        "hour-number",
        "day-number",
    ] {
        assert!(
            ours.iter()
                .any(|l| l.ends_with(&format!("Notify[n-{skipped}]: Not scheduled"))),
            "{skipped}: {ours:#?}"
        );
    }
    let theirs: Vec<_> = report_statuses(&report)
        .into_iter()
        .filter(|s| s.0.starts_with("Notify["))
        .collect();
    let mine: Vec<_> = our_statuses(&applied)
        .into_iter()
        .filter(|s| s.0.starts_with("Notify["))
        .collect();
    assert!(!theirs.is_empty(), "{report}");
    let sorted = |mut v: Vec<crate::common::StatusKey>| {
        v.sort();
        v
    };
    assert_eq!(sorted(mine), sorted(theirs));
}

/// A schedule that does not exist stops the transaction where it is met (what came before is
/// applied, nothing after), and an invalid schedule stops it before anything is applied, with
/// Puppet's messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_invalid_schedules_stop_the_run_as_puppet_does() {
    if !have_real_puppet("missing_and_invalid_schedules_stop_the_run_as_puppet_does") {
        return;
    }
    let missing = catalog_doc(&[
        ("Notify", "before", json!({})),
        ("Notify", "lost", json!({"schedule": "nowhere"})),
        ("Notify", "after", json!({})),
    ]);
    let invalid = catalog_doc(&[
        ("Notify", "first", json!({})),
        ("Schedule", "bad", json!({"range": ["1 - 2", "9 - 25"]})),
        ("Schedule", "bad-day", json!({"weekday": "Someday"})),
    ]);
    let root = tempfile::tempdir().unwrap();
    for (i, doc) in [missing, invalid].iter().enumerate() {
        let (real, _) = real_apply(&root.path().join(i.to_string()), doc, Level::Debug, &[]);
        let catalog = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();
        let log = Logger::capturing(LogLevel::Debug);
        let err = apply(&catalog, &ApplyOptions::new("production"), &log, None)
            .await
            .unwrap_err();
        let ours = resource_lines(&log.lines(), &[]);
        assert_eq!(ours, resource_lines(&real, &[]), "{real:#?}");
        // `puppet apply --catalog` says `Failed to apply catalog` for the one, `Could not run`
        // for the other (the agent says `Failed to apply catalog` for both).
        let message = err.to_string();
        assert!(
            real.iter().any(
                |l| l == &format!("Error: Failed to apply catalog: {message}")
                    || l == &format!("Error: Could not run: {message}")
            ),
            "{message}\n{real:#?}"
        );
    }
}
