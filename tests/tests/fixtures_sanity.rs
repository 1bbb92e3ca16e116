//! Sanity of the documents captured from real Puppet 7 by `fixtures/capture.sh`: every file is
//! the JSON it claims to be, every catalog reads as a [`puppet_catalog::Catalog`] and writes
//! back to the same JSON value, every catalog that Puppet could apply has the report of that
//! run (same catalog_uuid and configuration_version), and the cycle catalog has Puppet's
//! message instead. The fixture inventory itself is an insta snapshot, so a re-capture that
//! loses or adds a file shows up in review.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use puppet_catalog::Catalog;
use serde_json::Value;

/// The fixtures every other test relies on (see fixtures/README.md).
const CATALOGS: &[&str] = &[
    "autorequire",
    "cycle",
    "defined_types",
    "failures",
    "file_sources",
    "noop",
    "noop_run",
    "relationships",
    "relationships.run2",
    "sensitive",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every file under `dir`, recursively, as paths relative to `root`, sorted.
fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(relative.to_path_buf());
        }
    }
}

fn files_under(sub: &str) -> Vec<PathBuf> {
    let root = fixtures();
    let mut out = Vec::new();
    walk(&root, &root.join(sub), &mut out);
    out.sort();
    out
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

#[test]
fn every_fixture_json_file_is_a_json_object() {
    let mut count = 0;
    for sub in ["catalogs", "reports", "facts"] {
        for relative in files_under(sub) {
            if !is_json(&relative) {
                continue;
            }
            let value = read_json(&fixtures().join(&relative));
            assert!(
                value.is_object(),
                "{}: not a JSON object",
                relative.display()
            );
            count += 1;
        }
    }
    // 11 catalogs + 8 plain renderings, 10 reports, 3 facts documents.
    assert!(count >= 32, "only {count} JSON fixtures");
}

#[test]
fn every_catalog_round_trips_losslessly() {
    let mut count = 0;
    for relative in files_under("catalogs") {
        if !is_json(&relative) {
            continue;
        }
        let path = fixtures().join(&relative);
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let original: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let catalog =
            Catalog::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written =
            serde_json::to_value(&catalog).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(written, original, "{}: round trip", relative.display());
        assert_eq!(
            original.get("catalog_format").and_then(Value::as_u64),
            Some(2),
            "{}: Puppet 7 renders catalog_format 2",
            relative.display()
        );
        count += 1;
    }
    assert!(count >= CATALOGS.len(), "only {count} catalogs");
}

#[test]
fn every_applicable_catalog_has_the_report_of_its_run() {
    let root = fixtures();
    for name in CATALOGS {
        let catalog = read_json(&root.join("catalogs").join(format!("{name}.json")));
        let report = read_json(&root.join("reports").join(format!("{name}.json")));
        assert_eq!(report["report_format"], 12, "{name}: report_format");
        assert_eq!(report["host"], catalog["name"], "{name}: host");
        assert_eq!(
            report["catalog_uuid"], catalog["catalog_uuid"],
            "{name}: the report is of another catalog"
        );
        assert_eq!(
            report["configuration_version"], catalog["version"],
            "{name}: configuration_version"
        );
        let statuses = report["resource_statuses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: resource_statuses is not an object"));
        // Every resource of the catalog that the agent applies is in the report (Puppet
        // reports no Class, Stage, Node nor defined-type container).
        let applied: BTreeSet<String> = statuses.keys().cloned().collect();
        let resources = catalog["resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: resources is not an array"));
        for resource in resources {
            let kind = resource["kind"].as_str().unwrap_or_default();
            if kind != "compilable_type" || resource["type"] == "Stage" {
                continue;
            }
            let reference = format!(
                "{}[{}]",
                resource["type"].as_str().unwrap_or_default(),
                resource["title"].as_str().unwrap_or_default()
            );
            assert!(
                applied.contains(&reference),
                "{name}: {reference} is not in the report"
            );
        }
        let expected_status = match *name {
            "failures" | "cycle" => "failed",
            "relationships.run2" | "noop_run" => "unchanged",
            _ => "changed",
        };
        assert_eq!(report["status"], expected_status, "{name}: status");
        assert_eq!(report["noop"], *name == "noop_run", "{name}: noop");

        // The last_run_summary.yaml the same run wrote names the same catalog version.
        let summary_path = root
            .join("reports")
            .join(format!("{name}.last_run_summary.yaml"));
        let summary = fs::read_to_string(&summary_path)
            .unwrap_or_else(|e| panic!("{}: {e}", summary_path.display()));
        assert!(summary.starts_with("---\nversion:\n"), "{name}: {summary}");
        let config = format!("\n  config: {}\n", catalog["version"]);
        assert!(summary.contains(&config), "{name}: {summary}");
    }
}

#[test]
fn the_static_catalog_has_inlined_file_metadata() {
    let catalog = read_json(&fixtures().join("catalogs/static.json"));
    assert!(
        catalog["code_id"].as_str().is_some_and(|id| id.len() == 64),
        "code_id: {}",
        catalog["code_id"]
    );
    let single = &catalog["metadata"]["/tmp/puppet-rs-fixtures/target/file_sources/single.txt"];
    assert_eq!(single["type"], "file");
    assert_eq!(
        single["content_uri"],
        "puppet:///modules/fx_file_sources/files/single.txt"
    );
    let target = "/tmp/puppet-rs-fixtures/target/file_sources/tree";
    let source = "puppet:///modules/fx_file_sources/tree";
    let tree = &catalog["recursive_metadata"][target][source];
    let relative: Vec<&str> = tree
        .as_array()
        .unwrap_or_else(|| panic!("recursive_metadata: {tree}"))
        .iter()
        .filter_map(|m| m["relative_path"].as_str())
        .collect();
    assert_eq!(relative, [".", "sub", "a.txt", "sub/b.txt"]);
}

#[test]
fn the_cycle_catalog_has_puppets_cycle_message() {
    let path = fixtures().join("reports/cycle.stderr");
    let stderr = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        stderr.starts_with("Error: Found 1 dependency cycle:\n(File["),
        "{stderr}"
    );
    assert!(stderr.contains("=> Class[Fx_cycle::Inner] =>"), "{stderr}");
    assert!(
        stderr.contains("One or more resource dependency cycles detected in graph"),
        "{stderr}"
    );
}

#[test]
fn the_facts_documents_have_the_agent_layout() {
    let root = fixtures();
    for name in ["upload", "find"] {
        let facts = read_json(&root.join("facts").join(format!("{name}.json")));
        let keys: Vec<&str> = facts
            .as_object()
            .unwrap_or_else(|| panic!("{name}: not an object"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["name", "values", "timestamp", "expiration"],
            "{name}"
        );
        assert_eq!(facts["name"], "facts.fixtures.test", "{name}");
        assert!(facts["values"]["os"]["family"].is_string(), "{name}");
    }
    let facter = read_json(&root.join("facts/facter.json"));
    assert!(facter["os"]["family"].is_string());
    assert!(facter["networking"]["interfaces"].is_object());
}

#[test]
fn fixture_inventory() {
    let mut lines = Vec::new();
    for sub in ["catalogs", "reports", "facts"] {
        for relative in files_under(sub) {
            lines.push(relative.display().to_string());
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}
