//! The `puppet-catalog` binary on catalogs captured from real Puppet (`fixtures/catalogs/`):
//! exit codes, output, one-line errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

fn run(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_puppet-catalog"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running puppet-catalog: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Every captured catalog but the cycle one.
fn acyclic_catalogs() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(fixture("catalogs"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    all.retain(|p| {
        p.extension().is_some_and(|e| e == "json")
            && !p
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().contains("cycle"))
    });
    all.sort();
    all
}

#[test]
fn check_accepts_every_captured_catalog() {
    let catalogs = acyclic_catalogs();
    assert!(catalogs.len() >= 5, "fixtures/catalogs: {catalogs:?}");
    for path in catalogs {
        let o = run(&[Path::new("check"), &path]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            stderr(&o)
        );
        let out = stdout(&o);
        assert!(
            out.contains("is valid") && out.contains("no dependency cycle"),
            "{out}"
        );
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    }
}

#[test]
fn check_reports_the_cycle_with_puppets_message() {
    let o = run(&[Path::new("check"), &fixture("catalogs/cycle.json")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    let puppet = std::fs::read_to_string(fixture("reports/cycle.stderr")).unwrap_or_default();
    // Puppet's message is two lines: `Found N dependency cycle(s):` and the cycles.
    let found = err.find("Found ").map(|i| &err[i..]).unwrap_or_default();
    let mut lines = found.lines();
    let (first, second) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    assert!(first.contains("dependency cycle"), "{err}");
    assert!(puppet.contains(first), "ours: {first}\nPuppet's: {puppet}");
    assert!(
        puppet.contains(second),
        "ours: {second}\nPuppet's: {puppet}"
    );
}

#[test]
fn check_gives_one_line_errors_for_bad_input() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut catalog = read_json(&fixture("catalogs/relationships.json"));
    // A resource title that is not a string.
    catalog["resources"][3]["title"] = Value::from(7);
    let bad_title = write_json(dir.path(), "bad-title.json", &catalog);
    // A relationship to a resource the catalog does not have.
    let mut catalog = read_json(&fixture("catalogs/relationships.json"));
    let last = catalog["resources"].as_array().map_or(0, |a| a.len() - 1);
    catalog["resources"][last]["parameters"]["require"] = Value::from("Package[not-in-catalog]");
    let unknown = write_json(dir.path(), "unknown.json", &catalog);
    // A relationship that is not a reference.
    catalog["resources"][last]["parameters"]["require"] = Value::from("not a reference");
    let invalid = write_json(dir.path(), "invalid.json", &catalog);
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, b"{\"name\": \"x\", \"resources\": [")
        .unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("missing.json");

    let cases: [(&Path, &str); 5] = [
        (&bad_title, "resources[3].title"),
        (
            &unknown,
            "Could not retrieve dependency 'Package[not-in-catalog]'",
        ),
        (&invalid, "not a reference"),
        (&truncated, "EOF"),
        (&missing, "No such file"),
    ];
    for (path, expected) in cases {
        let o = run(&[Path::new("check"), path]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}: {}",
            path.display(),
            stderr(&o)
        );
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("puppet-catalog: "), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
}

#[test]
fn check_lists_every_reference_problem() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut catalog = read_json(&fixture("catalogs/relationships.json"));
    let last = catalog["resources"].as_array().map_or(0, |a| a.len() - 1);
    catalog["resources"][last]["parameters"]["require"] =
        serde_json::json!(["Package[gone]", "Service[gone]"]);
    catalog["resources"][last]["parameters"]["before"] = Value::from(42);
    catalog["edges"][0]["source"] = Value::from("Stage[gone]");
    let path = write_json(dir.path(), "broken.json", &catalog);
    let o = run(&[Path::new("check"), &path]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines.iter().all(|l| l.starts_with("puppet-catalog: ")),
        "{err}"
    );
    assert!(
        lines[0].contains("42") && lines[0].contains(".parameters.before"),
        "{err}"
    );
    assert!(lines[1].contains("'Package[gone]'"), "{err}");
    assert!(lines[2].contains("'Service[gone]'"), "{err}");
    assert!(lines[3].contains("edges[0].source: Stage[gone]"), "{err}");
}

#[test]
fn order_prints_the_agents_order() {
    let mut compared = 0;
    for path in acyclic_catalogs() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let o = run(&[Path::new("order"), &path]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let ours: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
        assert!(!ours.is_empty(), "{name}");
        let report = fixture("reports").join(format!("{name}.json"));
        if !report.exists() {
            continue;
        }
        // The agent's evaluation order, without its own resources and generated files.
        let report = read_json(&report);
        let reported: Vec<String> = report["resource_statuses"]
            .as_object()
            .map(|m| m.keys().filter(|k| ours.contains(k)).cloned().collect())
            .unwrap_or_default();
        assert_eq!(ours, reported, "{name}");
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} catalogs have a report");

    let o = run(&[Path::new("order"), &fixture("catalogs/cycle.json")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("dependency cycle"), "{}", stderr(&o));
}

#[test]
fn diff_reports_parameter_changes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let old = fixture("catalogs/relationships.json");
    let same = run(&[Path::new("diff"), &old, &old]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert_eq!(stdout(&same), "0 added, 0 removed, 0 changed\n");

    let mut catalog = read_json(&old);
    let resources = catalog["resources"]
        .as_array_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut kept = Vec::new();
    let mut removed = None;
    let mut changed = None;
    for mut r in resources {
        let leaf = r["kind"] == "compilable_type" && r["type"] != "Stage";
        if leaf && removed.is_none() {
            removed = Some(format!(
                "{}[{}]",
                r["type"].as_str().unwrap_or(""),
                r["title"].as_str().unwrap_or("")
            ));
            continue;
        }
        if leaf && changed.is_none() {
            changed = Some(format!(
                "{}[{}]",
                r["type"].as_str().unwrap_or(""),
                r["title"].as_str().unwrap_or("")
            ));
            r["parameters"]["loglevel"] = Value::from("debug");
        }
        kept.push(r);
    }
    kept.push(serde_json::json!({"type": "Package", "title": "cowsay", "tags": ["package"], "exported": false, "kind": "compilable_type", "parameters": {"ensure": "installed"}}));
    catalog["resources"] = Value::Array(kept);
    let new = write_json(dir.path(), "new.json", &catalog);

    let o = run(&[Path::new("diff"), &old, &new]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let out = stdout(&o);
    let (removed, changed) = (removed.unwrap_or_default(), changed.unwrap_or_default());
    assert!(out.contains("+ Package[cowsay]\n"), "{out}");
    assert!(out.contains(&format!("- {removed}\n")), "{out}");
    assert!(
        out.contains(&format!("~ {changed}\n    loglevel:\n      + \"debug\"\n")),
        "{out}"
    );
    assert!(out.ends_with("1 added, 1 removed, 1 changed\n"), "{out}");

    let json = run(&[Path::new("diff"), Path::new("--json"), &old, &new]);
    assert_eq!(json.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap_or(Value::Null);
    assert_eq!(v["added"], serde_json::json!(["Package[cowsay]"]));
    assert_eq!(v["changed"][0]["parameters"][0]["name"], "loglevel");
}

#[test]
fn diff_never_shows_sensitive_values() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let old = fixture("catalogs/sensitive.json");
    let mut catalog = read_json(&old);
    let mut secrets = Vec::new();
    for r in catalog["resources"].as_array_mut().into_iter().flatten() {
        let names: Vec<String> = r["sensitive_parameters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for name in names {
            let value = &mut r["parameters"][name.as_str()];
            let plain = value.get("__pvalue").unwrap_or(value);
            secrets.push(
                plain
                    .as_str()
                    .map_or_else(|| plain.to_string(), str::to_string),
            );
            *value = Value::from("changed secret value");
        }
    }
    assert!(
        !secrets.is_empty(),
        "the sensitive fixture has no sensitive parameter"
    );
    let new = write_json(dir.path(), "new.json", &catalog);
    let o = run(&[Path::new("diff"), &old, &new]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[redacted]"), "{out}");
    assert!(!out.contains("changed secret value"), "{out}");
    for secret in secrets {
        assert!(!out.contains(&secret), "{secret} shown in {out}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&[Path::new("frobnicate")]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[Path::new("diff"), Path::new("only-one.json")]);
    assert_eq!(o.status.code(), Some(2));
}
