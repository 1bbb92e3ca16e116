//! Debian's facter 4 on this machine against our collection: every fact facter answers has
//! the same shape, type and value, except values that change between two runs a moment apart
//! (free memory and disk, load, uptime). Facts facter cannot give here and we can are listed
//! in `OURS_ONLY`; facts we do not give, with the reason, in `FACTER_ONLY`. Also compares the
//! bytes of `--json`, `--yaml` and text output for queries on stable facts.
//! Skips with one line when facter is absent, unless PUPPET_RS_REQUIRE_REAL=1.

use std::process::Command;

use puppet_facts::collect::{Collection, Options, collect, format};
use serde_json::{Map, Value};

/// facter only: the Ruby interpreter's own facts, and `augparse --version` (a command run).
const FACTER_ONLY: &[&str] = &[
    "augeas",
    "augeasversion",
    "ruby",
    "rubyplatform",
    "rubysitedir",
    "rubyversion",
];

/// Ours only, when facter lacks them: facter 4.3 cannot open `/proc/1/environ` in a sandbox
/// and drops `virtual`, `is_virtual`, `system_uptime` (and the legacy `uptime*`); without the
/// ruby-sys-filesystem gem it drops `mountpoints`; without `virt-what`/`lspci` (Recommends of
/// Debian's facter) it drops `hypervisors`. We read other sources for all of them.
const OURS_ONLY: &[&str] = &[
    "virtual",
    "is_virtual",
    "system_uptime",
    "uptime",
    "uptime_days",
    "uptime_hours",
    "uptime_seconds",
    "mountpoints",
    "hypervisors",
];

/// Leaf paths whose values change between two runs.
fn volatile(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or("");
    path.starts_with("load_averages")
        || path.starts_with("system_uptime")
        || path.starts_with("uptime")
        || ["memoryfree", "memoryfree_mb", "swapfree", "swapfree_mb"].contains(&path)
        || ((path.starts_with("memory.") || path.starts_with("mountpoints."))
            && [
                "available",
                "available_bytes",
                "capacity",
                "used",
                "used_bytes",
            ]
            .contains(&last))
}

fn facter() -> Option<()> {
    let found = Command::new("facter")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(());
    }
    if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("facter is not installed and PUPPET_RS_REQUIRE_REAL=1");
    }
    eprintln!("skipping: facter is not installed (apt-get install facter)");
    None
}

fn in_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn run_facter(args: &[&str]) -> (String, i32) {
    let out = Command::new("facter")
        .args(args)
        .output()
        .expect("run facter");
    (
        String::from_utf8(out.stdout).expect("UTF-8"),
        out.status.code().unwrap_or(-1),
    )
}

fn ours() -> Collection {
    collect(&Options {
        external_facts: false,
        environment: false,
        ..Options::default()
    })
}

fn compare(path: &str, theirs: &Value, ours: Option<&Value>, diffs: &mut Vec<String>) {
    let Some(ours) = ours else {
        diffs.push(format!("{path}: missing in ours (facter: {theirs})"));
        return;
    };
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) => {
            for (k, v) in t {
                compare(&format!("{path}.{k}"), v, o.get(k), diffs);
            }
            for k in o.keys().filter(|k| !t.contains_key(*k)) {
                if !(path == "hypervisors" || OURS_ONLY.contains(&format!("{path}.{k}").as_str())) {
                    diffs.push(format!("{path}.{k}: only in ours"));
                }
            }
        }
        (Value::Array(t), Value::Array(o)) if t.len() == o.len() => {
            for (i, (a, b)) in t.iter().zip(o).enumerate() {
                compare(&format!("{path}.{i}"), a, Some(b), diffs);
            }
        }
        (t, o) => {
            let same_type =
                std::mem::discriminant(t) == std::mem::discriminant(o) && t.is_f64() == o.is_f64();
            if !same_type {
                diffs.push(format!("{path}: type differs: facter {t}, ours {o}"));
            } else if t != o && !volatile(path) {
                diffs.push(format!("{path}: facter {t}, ours {o}"));
            }
        }
    }
}

#[test]
fn every_fact_facter_answers_matches() {
    if facter().is_none() {
        return;
    }
    let (text, _code) = run_facter(&["--json", "--show-legacy", "--no-external-facts"]);
    let theirs: Map<String, Value> = serde_json::from_str(&text).expect("facter JSON");
    let collection = ours();
    let ours = collection.facts(true);
    let mut diffs = Vec::new();
    for (k, v) in &theirs {
        if FACTER_ONLY.contains(&k.as_str()) {
            continue;
        }
        // Without ruby-sys-filesystem facter's partitions resolver answers {} on a machine
        // with block devices but no partitions; with it (and in ours) the fact is absent.
        if k == "partitions"
            && v == &Value::Object(Map::new())
            && !theirs.contains_key("mountpoints")
        {
            assert!(!ours.contains_key("partitions") || ours["partitions"].is_object());
            continue;
        }
        // A machine where facter can read /proc/1/environ but has neither virt-what nor
        // lspci (Recommends of Debian's facter) makes facter fall through to "physical";
        // ours reads the PCI vendors from /sys and finds the hypervisor.
        let facter_blind = !in_path("virt-what") && !in_path("lspci");
        if facter_blind
            && (k == "virtual" || k == "is_virtual")
            && theirs.get("virtual").is_some_and(|v| v == "physical")
        {
            continue;
        }
        compare(k, v, ours.get(k), &mut diffs);
    }
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        if !OURS_ONLY.contains(&k.as_str()) {
            diffs.push(format!("{k}: only in ours"));
        }
    }
    assert!(
        diffs.is_empty(),
        "differences from facter:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn query_output_is_byte_identical() {
    if facter().is_none() {
        return;
    }
    let collection = ours();
    let single = [
        "os",
        "os.release.major",
        "os.name",
        "networking.interfaces.lo",
        "networking.interfaces.lo.ip",
        "processors",
        "processors.models.1",
        "identity",
        "kernel",
        "kernelversion",
        "filesystems",
        "disks",
        "memory.swap",
        "nonexistent",
        "os.foo",
        "ipaddress",
        "processorcount",
        "fips_enabled",
    ];
    let mut diffs = Vec::new();
    for q in single {
        for fmt in [None, Some("--json"), Some("--yaml")] {
            let mut args: Vec<&str> = fmt.into_iter().collect();
            args.push("--no-external-facts");
            args.push(q);
            let (theirs, _) = run_facter(&args);
            let answers = collection.query(&[q.to_string()]);
            let ours = match fmt {
                None => format::text_single(answers.get(q)),
                Some("--json") => format::json(&answers),
                _ => format::yaml(&answers),
            } + "\n";
            if theirs != ours {
                diffs.push(format!(
                    "facter {args:?}:\n--- facter\n{theirs}--- ours\n{ours}"
                ));
            }
        }
    }
    let several = [
        "kernel",
        "os.name",
        "nonexistent",
        "memory.swap",
        "processors.count",
    ];
    let queries: Vec<String> = several.iter().map(|s| s.to_string()).collect();
    let answers = collection.query(&queries);
    let mut args = vec!["--no-external-facts"];
    args.extend(several);
    let (theirs, _) = run_facter(&args);
    let ours = format::text_multiple(&answers) + "\n";
    if theirs != ours {
        diffs.push(format!(
            "facter {args:?}:\n--- facter\n{theirs}--- ours\n{ours}"
        ));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// Our tree made comparable with one facter run: facter's values for volatile leaves,
/// facter-only facts copied in, ours-only facts facter lacks dropped.
fn comparable(theirs: &Map<String, Value>, ours: &Map<String, Value>) -> Map<String, Value> {
    fn merge(path: &str, t: &Value, o: &Value) -> Value {
        match (t, o) {
            (Value::Object(tm), Value::Object(om)) => Value::Object(
                om.iter()
                    .filter(|(k, _)| tm.contains_key(*k))
                    .map(|(k, v)| (k.clone(), merge(&format!("{path}.{k}"), &tm[k], v)))
                    .collect(),
            ),
            _ if volatile(path) => t.clone(),
            _ => o.clone(),
        }
    }
    let mut out = Map::new();
    for (k, t) in theirs {
        let blind = !in_path("virt-what")
            && !in_path("lspci")
            && theirs.get("virtual").is_some_and(|v| v == "physical");
        let v = match ours.get(k) {
            Some(_) if blind && (k == "virtual" || k == "is_virtual") => t.clone(),
            Some(o) => merge(k, t, o),
            None => t.clone(), // facter-only (ruby, augeas, the partitions artefact)
        };
        out.insert(k.clone(), v);
    }
    puppet_facts::collect::sort_map(out)
}

/// Line by line; a differing line is allowed only for a volatile key (a moment apart).
fn same_but_volatile(theirs: &str, ours: &str) -> Result<(), String> {
    const KEYS: &[&str] = &[
        "available",
        "available_bytes",
        "capacity",
        "used",
        "used_bytes",
        "1m",
        "5m",
        "15m",
        "memoryfree",
        "memoryfree_mb",
    ];
    let (t, o): (Vec<&str>, Vec<&str>) = (theirs.lines().collect(), ours.lines().collect());
    if t.len() != o.len() {
        return Err(format!(
            "{} lines from facter, {} from ours",
            t.len(),
            o.len()
        ));
    }
    for (a, b) in t.iter().zip(&o) {
        if a == b {
            continue;
        }
        let key = |l: &str| {
            l.trim_start()
                .split([':', ' '])
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string()
        };
        if key(a) != key(b) || !KEYS.contains(&key(a).as_str()) {
            return Err(format!("facter: {a}\nours:   {b}"));
        }
    }
    Ok(())
}

#[test]
fn whole_output_is_byte_identical_in_every_format() {
    if facter().is_none() {
        return;
    }
    let collection = ours();
    for legacy in [false, true] {
        let mut base = vec!["--no-external-facts"];
        if legacy {
            base.push("--show-legacy");
        }
        let (json_out, _) = run_facter(&[base.as_slice(), &["--json"]].concat());
        let theirs: Map<String, Value> = serde_json::from_str(&json_out).expect("facter JSON");
        let tree = comparable(&theirs, &collection.facts(legacy));
        assert_eq!(
            json_out,
            format::json(&tree) + "\n",
            "--json (legacy {legacy})"
        );
        let (yaml_out, _) = run_facter(&[base.as_slice(), &["--yaml"]].concat());
        same_but_volatile(&yaml_out, &(format::yaml(&tree) + "\n"))
            .unwrap_or_else(|e| panic!("--yaml (legacy {legacy}): {e}"));
        let (text_out, _) = run_facter(&base);
        same_but_volatile(&text_out, &(format::text(&tree) + "\n"))
            .unwrap_or_else(|e| panic!("text (legacy {legacy}): {e}"));
    }
}

#[test]
fn timezone_follows_tz_like_facter() {
    if facter().is_none() {
        return;
    }
    for tz in [
        "UTC",
        "Europe/Paris",
        ":America/New_York",
        "EST5EDT",
        "<+03>-3",
        "Asia/Kolkata",
        "Nonexistent/Zone",
    ] {
        let out = Command::new("facter")
            .arg("timezone")
            .env("TZ", tz)
            .output()
            .expect("facter");
        let theirs = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        let ours = puppet_facts::collect::timezone_abbreviation(Some(tz)).unwrap_or_default();
        assert_eq!(ours, theirs, "TZ={tz}");
    }
}
