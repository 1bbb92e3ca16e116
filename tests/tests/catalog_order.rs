//! The relationship graph against real Puppet 7: for every catalog with a report of applying it,
//! our apply order is the agent's evaluation order (the key order of the report's
//! `resource_statuses`), the resources it skipped are those that depend on the ones that failed,
//! and the resources it refreshed are those our graph says the changes refresh. For catalogs
//! Puppet refused for dependency cycles, our message is Puppet's.
//!
//! Two sources of truth:
//! - the captured fixtures: `fixtures/catalogs/<name>.json` with `fixtures/reports/<name>.json`
//!   (the report of `puppet apply --catalog` of that catalog) or `fixtures/reports/<name>.stderr`
//!   (Puppet's cycle message);
//! - generated catalogs (containers, defined types, file autorequires, failing and refreshonly
//!   execs, relationships of the four kinds, and some cycles), applied here and now by the real
//!   `puppet apply --catalog` in a temporary directory.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use puppet_catalog::{
    Catalog, CatalogBuilder, CatalogError, CatalogVersion, Declaration, Graph, ResourceRef,
    cycles_message,
};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn text(r: &ResourceRef) -> String {
    r.to_string()
}

fn parse_ref(s: &str) -> ResourceRef {
    s.parse()
        .unwrap_or_else(|e| panic!("not a reference: {s}: {e}"))
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_catalog(path: &Path) -> Catalog {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Catalog::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Puppet's cycle message from an agent's or `puppet apply`'s stderr: the `Error: Found N
/// dependency cycle(s):` line and the line after it, colours removed.
fn cycle_message_in(stderr: &str) -> Option<String> {
    let clean: String = {
        let mut out = String::with_capacity(stderr.len());
        let mut chars = stderr.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let start = clean.find("Found ")?;
    let rest = &clean[start..];
    let mut lines = rest.splitn(3, '\n');
    let first = lines.next()?;
    if !first.contains("dependency cycle") {
        return None;
    }
    Some(format!("{first}\n{}", lines.next()?.trim_end()))
}

/// What one comparison covered, to make sure the cases exercised something.
#[derive(Default, Debug)]
struct Covered {
    ordered: usize,
    skipped: usize,
    refreshed: usize,
    cycles: usize,
}

/// Checks one catalog against the report of applying it; returns our order.
fn check_report(
    name: &str,
    catalog: &Catalog,
    report: &Value,
    covered: &mut Covered,
) -> Vec<String> {
    let graph = Graph::new(catalog).unwrap_or_else(|e| panic!("{name}: {e}"));
    let statuses = report["resource_statuses"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: report without resource_statuses"));

    // The agent also reports resources that are not in the catalog: its own Schedule and
    // Filebucket resources, and the children a recursive File generates while applying.
    let catalog_files: Vec<&str> = catalog
        .resources
        .iter()
        .filter(|r| r.resource_type == "File")
        .map(|r| r.title.as_str())
        .collect();
    let parent_file = |r: &ResourceRef| -> Option<String> {
        if r.type_name != "File" {
            return None;
        }
        catalog_files
            .iter()
            .filter(|f| {
                r.title
                    .starts_with(&format!("{}/", f.trim_end_matches('/')))
            })
            .max_by_key(|f| f.len())
            .map(|f| format!("File[{f}]"))
    };
    let mut reported = Vec::new();
    for key in statuses.keys() {
        let r = parse_ref(key);
        if graph.contains(&r) {
            reported.push(key.clone());
        } else {
            assert!(
                matches!(r.type_name.as_str(), "Schedule" | "Filebucket")
                    || parent_file(&r).is_some(),
                "{name}: the report has {key}, which is neither in the catalog, an agent resource \
                 nor a generated file"
            );
        }
    }

    let ours: Vec<String> = graph
        .apply_order()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .iter()
        .map(text)
        .collect();
    assert_eq!(ours, reported, "{name}: apply order");
    covered.ordered += ours.len();

    let status = |key: &str| &statuses[key];
    let flag = |key: &str, field: &str| status(key)[field].as_bool().unwrap_or(false);
    let events = |key: &str| -> Vec<(String, String)> {
        status(key)["events"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap_or("").to_string(),
                            e["status"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    // Skipped: everything downstream of what failed.
    let failed: Vec<&String> = reported.iter().filter(|k| flag(k, "failed")).collect();
    let skipped: BTreeSet<String> = reported
        .iter()
        .filter(|k| flag(k, "skipped"))
        .cloned()
        .collect();
    let mut expected_skipped = BTreeSet::new();
    for f in &failed {
        expected_skipped.extend(graph.skipped_if_failed(&parse_ref(f)).iter().map(text));
    }
    assert_eq!(skipped, expected_skipped, "{name}: skipped resources");
    covered.skipped += skipped.len();

    // Refreshed: a `refresh` event, or a failed refresh (`failed_to_restart`).
    let refreshed: BTreeSet<String> = reported
        .iter()
        .filter(|k| flag(k, "failed_to_restart") || events(k).iter().any(|(n, _)| n == "refresh"))
        .cloned()
        .collect();
    // Sources of events: resources (or the generated children of a file) that changed
    // successfully, and those that refreshed (they send `restarted`).
    let mut sources: BTreeSet<String> = refreshed.clone();
    for key in statuses.keys() {
        let changed = events(key)
            .iter()
            .any(|(n, s)| s == "success" && n != "refresh");
        if !changed || flag(key, "failed") {
            continue;
        }
        let r = parse_ref(key);
        if graph.contains(&r) {
            sources.insert(key.clone());
        } else if let Some(parent) = parent_file(&r) {
            sources.insert(parent);
        }
    }
    let mut expected_refreshed = BTreeSet::new();
    for s in &sources {
        expected_refreshed.extend(graph.refreshed_by(&parse_ref(s)).iter().map(text));
    }
    let expected_refreshed: BTreeSet<String> =
        expected_refreshed.difference(&skipped).cloned().collect();
    assert_eq!(refreshed, expected_refreshed, "{name}: refreshed resources");
    covered.refreshed += refreshed.len();
    ours
}

/// Checks a catalog Puppet refused for cycles against its stderr.
fn check_cycles(name: &str, catalog: &Catalog, stderr: &str, covered: &mut Covered) -> String {
    let expected = cycle_message_in(stderr)
        .unwrap_or_else(|| panic!("{name}: no cycle message in the stderr"));
    let graph = Graph::new(catalog).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cycles = graph.cycles();
    assert!(
        !cycles.is_empty(),
        "{name}: Puppet found cycles, we found none"
    );
    assert_eq!(cycles_message(&cycles), expected, "{name}: cycle message");
    match graph.apply_order() {
        Err(CatalogError::Cycles(found)) => assert_eq!(found, cycles),
        other => panic!("{name}: expected a cycle error, got {other:?}"),
    }
    covered.cycles += cycles.len();
    expected
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Every captured catalog: `fixtures/catalogs/*.json` (as the agent caches them) and
/// `fixtures/catalogs/plain/*.json` (plain JSON), with their stems.
fn captured_catalogs() -> Vec<(String, PathBuf)> {
    let root = fixtures().join("catalogs");
    let mut all = Vec::new();
    for dir in [root.clone(), root.join("plain")] {
        for path in files_in(&dir) {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            all.push((stem, path));
        }
    }
    all
}

#[test]
fn apply_order_matches_puppet_on_the_captured_catalogs() {
    let reports = fixtures().join("reports");
    let mut covered = Covered::default();
    let mut checked = Vec::new();
    for (name, catalog_path) in captured_catalogs() {
        let report = reports.join(format!("{name}.json"));
        let stderr = reports.join(format!("{name}.stderr"));
        let catalog = read_catalog(&catalog_path);
        let stderr_text = fs::read_to_string(&stderr).unwrap_or_default();
        // Snapshots of the agent-cached catalogs; the plain ones must give the same.
        let plain = catalog_path.parent().is_some_and(|p| p.ends_with("plain"));
        if cycle_message_in(&stderr_text).is_some() {
            let message = check_cycles(&name, &catalog, &stderr_text, &mut covered);
            if !plain {
                insta::assert_snapshot!(format!("cycle_{name}"), message);
            }
            checked.push(catalog_path);
        } else if report.exists() {
            let order = check_report(&name, &catalog, &read_json(&report), &mut covered);
            if !plain {
                insta::assert_snapshot!(format!("order_{name}"), order.join("\n"));
            }
            checked.push(catalog_path);
        }
    }
    assert!(
        checked.len() >= 10,
        "fixtures/catalogs holds {} catalogs with a report: {checked:?}",
        checked.len()
    );
    assert!(covered.ordered > 0, "the captures ordered no resource");
    assert!(
        covered.skipped > 0,
        "no capture skipped a resource: {covered:?}"
    );
    assert!(
        covered.refreshed > 0,
        "no capture refreshed a resource: {covered:?}"
    );
    assert!(covered.cycles > 0, "no capture had a cycle: {covered:?}");
}

#[test]
fn static_catalog_metadata_is_read() {
    let catalog = read_catalog(&fixtures().join("catalogs/static.json"));
    assert!(catalog.code_id_str().is_some_and(|c| !c.is_empty()));
    let mut single = 0;
    for r in catalog
        .resources
        .iter()
        .filter(|r| r.resource_type == "File")
    {
        let source = r.parameter("source");
        let recursive = r.parameter("recurse").is_some_and(|v| v == true);
        match catalog.file_metadata(&r.title) {
            Ok(Some(m)) => {
                assert!(source.is_some(), "{}: metadata without source", r.title);
                let checksum = m
                    .checksum
                    .unwrap_or_else(|| panic!("{}: no checksum", r.title));
                assert!(
                    checksum
                        .value
                        .starts_with(&format!("{{{}}}", checksum.checksum_type))
                );
                assert!(m.content_uri.is_some_and(|u| u.starts_with("puppet:///")));
                single += 1;
            }
            Ok(None) => {}
            Err(e) => panic!("{}: {e}", r.title),
        }
        if recursive {
            let sources = catalog
                .recursive_file_metadata(&r.title)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                !sources.is_empty(),
                "{}: recursive without metadata",
                r.title
            );
            assert!(
                sources[0]
                    .1
                    .iter()
                    .any(|m| m.relative_path.as_deref() == Some("."))
            );
        }
    }
    assert!(single >= 2, "{single} files with inlined metadata");
}

#[test]
fn every_captured_catalog_round_trips() {
    let mut count = 0;
    for (_, path) in captured_catalogs() {
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let original: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let catalog =
            Catalog::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = catalog
            .to_json()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back: Value =
            serde_json::from_str(&written).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(back, original, "{}", path.display());
        // Puppet's key order, too.
        assert_eq!(
            written,
            serde_json::to_string(&original).unwrap_or_default(),
            "{}",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 10, "fixtures/catalogs holds {count} catalogs");
}

/// The diff on real catalogs: the catalogs of two runs of the same code do not differ; the plain and
/// rich-data renderings of the same catalog differ exactly in the values plain JSON cannot
/// hold (and Sensitive values stay hidden).
#[test]
fn diff_of_captured_catalogs() {
    let catalogs = fixtures().join("catalogs");
    let run1 = read_catalog(&catalogs.join("relationships.json"));
    let run2 = read_catalog(&catalogs.join("relationships.run2.json"));
    let d = puppet_catalog::diff(&run1, &run2);
    assert!(d.is_empty(), "{d}");

    let plain = read_catalog(&catalogs.join("plain/sensitive.json"));
    let rich = read_catalog(&catalogs.join("sensitive.json"));
    let d = puppet_catalog::diff(&plain, &rich);
    let text = d.to_string();
    assert!(d.added.is_empty() && d.removed.is_empty(), "{text}");
    for secret in ["s3cr3t", "hidden-command", "top secret message"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    insta::assert_snapshot!("diff_plain_vs_rich_sensitive", text);
}

/// `fixtures/code/modules/fx_defined_types` (a defined type used twice, `contain`, `include`,
/// nested classes, a chain from a class) for node `defined_types.fixtures.test`, written with
/// the builder: the same document as Puppet's, but for the version and UUID.
#[test]
fn builder_yields_the_catalog_puppet_compiled() -> Result<(), CatalogError> {
    let real: Value = read_json(&fixtures().join("catalogs/defined_types.json"));
    // Where the capture kept its code.
    let modules = real["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find_map(|r| r["file"].as_str()))
        .and_then(|f| f.split_once("/fx_defined_types/"))
        .map(|(m, _)| m.to_string())
        .unwrap_or_default();
    let at = |file: &str| format!("{modules}/fx_defined_types/manifests/{file}");
    let base = "/tmp/puppet-rs-fixtures/target/defined_types";

    let mut b = CatalogBuilder::new("defined_types.fixtures.test")
        .version(CatalogVersion::Integer(
            real["version"].as_i64().unwrap_or(0),
        ))
        .catalog_uuid(real["catalog_uuid"].as_str().unwrap_or(""));
    let node = b.node("defined_types.fixtures.test")?;
    let top = b.add(Declaration::class("fx_defined_types").within(&node))?;
    let dir = b.add(
        Declaration::new("file", base)
            .param("ensure", "directory")
            .at(&at("init.pp"), 5)
            .within(&top),
    )?;
    let one = ResourceRef::new("fx_defined_types::thing", "one");
    let inner = b.add(
        Declaration::class("fx_defined_types::inner")
            .param("before", json!([one.to_string()]))
            .within(&top)
            .contained_in(&top),
    )?;
    let deep = b.add(Declaration::class("fx_defined_types::inner::deep").within(&inner))?;
    b.add(
        Declaration::new("exec", "deep-exec")
            .param("command", "/bin/echo deep")
            .param("refreshonly", true)
            .at(&at("inner/deep.pp"), 3)
            .within(&deep),
    )?;
    b.add(
        Declaration::new("file", format!("{base}/inner.txt"))
            .param("ensure", "file")
            .param("content", "inner\n")
            .require(&dir)
            .at(&at("inner.pp"), 5)
            .within(&inner),
    )?;
    let outer = b.add(Declaration::class("fx_defined_types::outer").within(&top))?;
    b.add(
        Declaration::new("exec", "outer-exec")
            .param("command", "/bin/echo outer")
            .param("unless", "/bin/false")
            .at(&at("outer.pp"), 3)
            .within(&outer),
    )?;
    let mut things = Vec::new();
    for (title, message, line, after) in [("one", "first", 12, &dir), ("two", "second", 18, &one)] {
        things.push(
            b.add(
                Declaration::new("fx_defined_types::thing", title)
                    .param("message", message)
                    .param("dir", base)
                    .require(after)
                    .at(&at("init.pp"), line)
                    .within(&top),
            )?,
        );
    }
    for (thing, (title, message)) in things.iter().zip([("one", "first"), ("two", "second")]) {
        let file = b.add(
            Declaration::new("file", format!("{base}/{title}.txt"))
                .param("ensure", "file")
                .param("content", format!("{message}\n"))
                .at(&at("thing.pp"), 6)
                .within(thing),
        )?;
        b.add(
            Declaration::new("exec", format!("thing-{title}"))
                .param("command", format!("/bin/echo {title}"))
                .param("refreshonly", true)
                .subscribe(&file)
                .at(&at("thing.pp"), 11)
                .within(thing),
        )?;
    }
    let built: Value = serde_json::from_str(&b.build()?.to_json()?).unwrap_or(Value::Null);
    assert_eq!(built, real);
    // Key order too.
    assert_eq!(
        serde_json::to_string(&built).unwrap_or_default(),
        serde_json::to_string(&real).unwrap_or_default()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generated catalogs, applied by the real Puppet

/// xorshift64*: a fixed pseudo-random sequence per seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A catalog of `Stage[main]`, `Class[Settings]`, `Class[main]`, some classes and defined-type
/// instances holding files (in directories they manage, so autorequires apply), execs (some
/// failing, some refreshonly) and notifies, with relationships from earlier to later resources
/// (and, if `cyclic`, one pair of opposite relationships).
fn generate(seed: u64, base: &Path, cyclic: bool) -> Value {
    let mut rng = Rng::new(seed);
    let base = base.to_string_lossy().to_string();
    let mut resources = vec![
        json!({"type": "Stage", "title": "main", "tags": ["stage"], "exported": false, "kind": "compilable_type", "parameters": {"name": "main"}}),
        json!({"type": "Class", "title": "Settings", "tags": ["class", "settings"], "exported": false, "kind": "unknown"}),
        json!({"type": "Class", "title": "main", "tags": ["class"], "exported": false, "kind": "unknown", "parameters": {"name": "main"}}),
    ];
    let mut edges = vec![
        json!({"source": "Stage[main]", "target": "Class[Settings]"}),
        json!({"source": "Stage[main]", "target": "Class[main]"}),
    ];
    let mut containers = vec!["Class[main]".to_string()];
    for c in 0..1 + rng.below(3) {
        resources.push(json!({"type": "Class", "title": format!("Gen{c}"), "tags": ["class"], "exported": false, "kind": "class"}));
        edges.push(json!({"source": "Stage[main]", "target": format!("Class[Gen{c}]")}));
        containers.push(format!("Class[Gen{c}]"));
    }
    // The base directory, managed or not.
    if rng.chance(60) {
        resources.push(json!({"type": "File", "title": base, "tags": ["file"], "exported": false, "kind": "compilable_type", "parameters": {"ensure": "directory"}}));
        edges.push(json!({"source": "Class[main]", "target": format!("File[{base}]")}));
    }
    let mut dirs = vec![base.clone()];
    let mut files: Vec<String> = Vec::new();
    let mut leaves: Vec<(usize, String)> = Vec::new();
    // Container of each resource (defined types nest).
    let mut parent: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let n = 10 + rng.below(16);
    for i in 0..n {
        let container = containers[rng.below(containers.len())].clone();
        let k = rng.below(100);
        let (ty, title, kind, params) = if k < 8 && containers.len() < 7 {
            ("Gen::Thing", format!("d{i}"), "defined_type", json!({}))
        } else if k < 45 {
            let dir = dirs[rng.below(dirs.len())].clone();
            if rng.chance(35) {
                let path = format!("{dir}/dir{i}");
                dirs.push(path.clone());
                (
                    "File",
                    path,
                    "compilable_type",
                    json!({"ensure": "directory"}),
                )
            } else {
                files.push(format!("{dir}/f{i}"));
                (
                    "File",
                    format!("{dir}/f{i}"),
                    "compilable_type",
                    json!({"ensure": "file", "content": format!("{i}\n")}),
                )
            }
        } else if k < 65 {
            let command = if !files.is_empty() && rng.chance(15) {
                // Autorequires the file its command starts with (which is not executable:
                // the exec fails).
                format!("{} --run", files[rng.below(files.len())])
            } else if rng.chance(25) {
                "/bin/false".to_string()
            } else {
                "/bin/true".to_string()
            };
            (
                "Exec",
                format!("e{i}"),
                "compilable_type",
                if rng.chance(30) {
                    // Autorequires its working directory.
                    let cwd = dirs[rng.below(dirs.len())].clone();
                    json!({"command": command, "cwd": cwd, "refreshonly": rng.chance(50)})
                } else {
                    json!({"command": command, "refreshonly": rng.chance(50)})
                },
            )
        } else {
            ("Notify", format!("n{i}"), "compilable_type", json!({}))
        };
        let reference = format!("{ty}[{title}]");
        resources.push(json!({"type": ty, "title": title, "tags": [ty.to_lowercase()], "exported": false, "kind": kind, "parameters": params}));
        edges.push(json!({"source": container, "target": reference}));
        parent.insert(reference.clone(), container);
        if kind == "defined_type" {
            containers.push(reference);
        } else {
            leaves.push((resources.len() - 1, reference));
        }
    }
    let relate = |resources: &mut Vec<Value>, holder: usize, meta: &str, target: &str| {
        let params = &mut resources[holder]["parameters"];
        match params.get_mut(meta) {
            Some(Value::Array(list)) => list.push(json!(target)),
            Some(existing) => {
                let first = existing.take();
                *existing = json!([first, target]);
            }
            None => params[meta] = json!(target),
        }
    };
    let metas = ["require", "subscribe", "before", "notify"];
    for _ in 0..rng.below(n + 5) {
        let a = rng.below(leaves.len());
        let b = rng.below(leaves.len());
        if a == b {
            continue;
        }
        let (first, then) = (a.min(b), a.max(b));
        let meta = metas[rng.below(4)];
        match meta {
            "require" | "subscribe" => {
                relate(&mut resources, leaves[then].0, meta, &leaves[first].1)
            }
            _ => relate(&mut resources, leaves[first].0, meta, &leaves[then].1),
        }
    }
    // Relationships with classes and defined types (these may make cycles, which are
    // compared too).
    for _ in 0..rng.below(3) {
        let leaf = rng.below(leaves.len());
        let container = containers[1 + rng.below(containers.len() - 1)].clone();
        let mut up = parent.get(&leaves[leaf].1);
        let mut inside = false;
        while let Some(p) = up {
            inside |= *p == container;
            up = parent.get(p);
        }
        if !inside {
            let meta = metas[rng.below(4)];
            relate(&mut resources, leaves[leaf].0, meta, &container);
        }
    }
    if cyclic {
        let a = rng.below(leaves.len());
        let b = (a + 1 + rng.below(leaves.len() - 1)) % leaves.len();
        relate(&mut resources, leaves[a].0, "before", &leaves[b].1);
        relate(&mut resources, leaves[b].0, "before", &leaves[a].1);
    }
    json!({
        "tags": ["settings"], "name": "generated.example.test", "version": seed,
        "code_id": null, "catalog_uuid": format!("00000000-0000-4000-8000-{seed:012}"),
        "catalog_format": 2, "environment": "production",
        "resources": resources, "edges": edges, "classes": ["settings"],
    })
}

/// Applies `catalog` with the real `puppet apply --catalog` in `dir`; returns the report (as
/// the JSON an agent sends) and the stderr.
fn puppet_apply(dir: &Path, catalog: &Value) -> (Option<Value>, String) {
    let file = dir.join("catalog.json");
    fs::write(&file, serde_json::to_vec(catalog).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new("puppet");
    cmd.arg("apply").arg("--catalog").arg(&file);
    for setting in ["vardir", "confdir", "codedir", "logdir", "rundir"] {
        cmd.arg(format!("--{setting}")).arg(dir.join(setting));
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("running `puppet apply` (Debian's puppet-agent must be installed): {e}")
    });
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report_yaml = dir.join("vardir/state/last_run_report.yaml");
    if !report_yaml.exists() {
        return (None, stderr);
    }
    let json = Command::new("ruby")
        .args([
            "-rpuppet",
            "-rjson",
            "-e",
            "puts JSON.generate(YAML.unsafe_load_file(ARGV[0]).to_data_hash)",
        ])
        .arg(&report_yaml)
        .output()
        .unwrap_or_else(|e| panic!("running ruby: {e}"));
    let report = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "report as JSON: {e}: {}",
            String::from_utf8_lossy(&json.stderr)
        )
    });
    (Some(report), stderr)
}

#[test]
fn graph_matches_puppet_apply_of_generated_catalogs() {
    let mut covered = Covered::default();
    // `CATALOG_ORDER_CASES=N` runs N cases (one in six cyclic) for a longer check.
    let count: u64 = std::env::var("CATALOG_ORDER_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let cases: Vec<(u64, bool)> = (1..=count).map(|s| (s, s % 6 == 5)).collect();
    let run = |(seed, cyclic): (u64, bool)| -> Covered {
        let mut covered = Covered::default();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = dir.path().join("target");
        fs::create_dir(&base).unwrap_or_else(|e| panic!("{e}"));
        let value = generate(seed, &base, cyclic);
        let catalog: Catalog =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}"));
        let name = format!("generated-{seed}");
        let (report, stderr) = puppet_apply(dir.path(), &value);
        if cycle_message_in(&stderr).is_some() {
            check_cycles(&name, &catalog, &stderr, &mut covered);
        } else {
            let report = report.unwrap_or_else(|| panic!("{name}: no report; stderr: {stderr}"));
            check_report(&name, &catalog, &report, &mut covered);
        }
        covered
    };
    // Two at a time: `puppet apply` is slow to start.
    let results: Vec<Covered> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(cases.len().div_ceil(2))
            .map(|chunk| s.spawn(move || chunk.iter().map(|&c| run(c)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for c in results {
        covered.ordered += c.ordered;
        covered.skipped += c.skipped;
        covered.refreshed += c.refreshed;
        covered.cycles += c.cycles;
    }
    eprintln!("{} generated cases: {covered:?}", cases.len());
    assert!(covered.ordered > 100, "{covered:?}");
    assert!(
        covered.skipped > 0,
        "no case skipped a resource: {covered:?}"
    );
    assert!(
        covered.refreshed > 0,
        "no case refreshed a resource: {covered:?}"
    );
    assert!(
        covered.cycles >= 2,
        "the cyclic cases found no cycle: {covered:?}"
    );
}

#[test]
fn cycle_message_is_read_from_stderr() {
    let stderr = "\u{1b}[1;31mError: Found 1 dependency cycle:\n(Notify[a] => Notify[a])\\nTry the \
                  '--graph' option and opening the resulting '.dot' file in OmniGraffle or GraphViz\u{1b}[0m\n\
                  Error: Failed to apply catalog: One or more resource dependency cycles detected in graph\n";
    assert_eq!(
        cycle_message_in(stderr).as_deref(),
        Some(
            "Found 1 dependency cycle:\n(Notify[a] => Notify[a])\\nTry the '--graph' option and \
             opening the resulting '.dot' file in OmniGraffle or GraphViz"
        )
    );
    assert_eq!(cycle_message_in("Error: something else\n"), None);
}
