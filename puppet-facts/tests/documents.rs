//! Facts captured from the real Puppet 7 agent and facter 4.3 (`fixtures/facts/`, written by
//! `fixtures/capture.sh`): `<name>.json` are facts documents as the agent sends them,
//! `facter.json` is the raw output of `facter --json`.

use std::path::PathBuf;

use puppet_facts::{DEFAULT_TTL, Facts};
use serde::Serialize;
use serde_json::{Map, Value};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/facts");

/// Every `*.json` file of the fixture directory, sorted by name; fails if there is none.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .map(|entry| {
            entry
                .map(|e| e.path())
                .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        })
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no facts fixtures in {DIR}");
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, bytes)
        })
        .collect()
}

fn json(name: &str, bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Each fixture as facts: a document as it is, `facter --json` output as the values of a
/// document made in code.
fn all_facts() -> Vec<(String, Facts)> {
    fixtures()
        .into_iter()
        .map(|(name, bytes)| {
            let facts = if name == "facter.json" {
                match json(&name, &bytes) {
                    Value::Object(values) => Facts::new("facter", values),
                    other => panic!("{name}: not an object: {other}"),
                }
            } else {
                Facts::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            (name, facts)
        })
        .collect()
}

fn load(name: &str) -> Facts {
    all_facts()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("fixture {name} is missing"))
}

#[test]
fn every_document_round_trips_to_the_same_json_and_bytes() {
    let mut documents = 0;
    for (name, bytes) in fixtures() {
        if name == "facter.json" {
            continue;
        }
        documents += 1;
        let facts = Facts::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = facts.to_json().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            json(&name, written.as_bytes()),
            json(&name, &bytes),
            "{name}"
        );
        // The agent writes compact JSON in the same key order: byte for byte, but for the
        // final newline a file may carry.
        assert_eq!(written.as_bytes(), bytes.trim_ascii_end(), "{name}");
        // The stamps are what Puppet writes: RFC 3339, expiring one runinterval later.
        let timestamp = facts.timestamp_time().ok().flatten();
        let expiration = facts.expiration_time().ok().flatten();
        let ttl = timestamp
            .zip(expiration)
            .and_then(|(t, e)| e.duration_since(t).ok());
        let ttl = ttl.unwrap_or_else(|| panic!("{name}: no timestamp/expiration"));
        assert!(
            ttl.as_secs().abs_diff(DEFAULT_TTL.as_secs()) <= 1,
            "{name}: {ttl:?}"
        );
    }
    assert!(
        documents > 0,
        "no facts documents besides facter.json in {DIR}"
    );
}

#[test]
fn facter_output_round_trips_as_values() {
    let (name, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "facter.json")
        .unwrap_or_else(|| panic!("{DIR}/facter.json is missing"));
    let raw = json(&name, &bytes);
    let Value::Object(values) = raw.clone() else {
        panic!("{name}: not an object")
    };
    let facts = Facts::new("facter", values);
    let again = Facts::from_json(facts.to_json().unwrap_or_default().as_bytes())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(Value::Object(again.values.clone()), raw);
    // Same key order as facter printed (facter sorts its keys).
    let keys: Vec<&String> = again.values.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// Calls `f` with the segments of every value below the top level of `values`.
fn walk(values: &Map<String, Value>, f: &mut dyn FnMut(&[String], &Value)) {
    fn go(path: &mut Vec<String>, value: &Value, f: &mut dyn FnMut(&[String], &Value)) {
        f(path, value);
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    path.push(k.clone());
                    go(path, v, f);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(i.to_string());
                    go(path, v, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    for (k, v) in values {
        go(&mut vec![k.clone()], v, f);
    }
}

#[test]
fn every_value_is_reachable_by_its_dotted_path() {
    for (name, facts) in all_facts() {
        let mut checked = 0;
        walk(&facts.values, &mut |segments, value| {
            assert_eq!(facts.get_in(segments), Some(value), "{name}: {segments:?}");
            if segments.iter().all(|s| !s.contains('.')) {
                let dotted = segments.join(".");
                assert_eq!(facts.get(&dotted), Some(value), "{name}: {dotted}");
                checked += 1;
            }
        });
        assert!(checked > 100, "{name}: only {checked} values");
        // The lookups of the issue.
        assert!(
            facts.get("os.family").is_some_and(Value::is_string),
            "{name}"
        );
        let primary = facts.get("networking.primary").and_then(Value::as_str);
        let primary = primary.unwrap_or_else(|| panic!("{name}: no primary interface"));
        assert_eq!(
            facts.get(&format!("networking.interfaces.{primary}.ip")),
            facts.get("networking.ip"),
            "{name}"
        );
        assert_eq!(
            facts.get("processors.models.0"),
            facts
                .get_in(["processors", "models"])
                .and_then(|m| m.get(0)),
            "{name}"
        );
    }
}

/// What the typed views see, for snapshots.
#[derive(Serialize)]
struct Views<'a> {
    os: Option<puppet_facts::Os<'a>>,
    kernel: Option<puppet_facts::Kernel<'a>>,
    networking: Option<puppet_facts::Networking<'a>>,
    processors: Option<puppet_facts::Processors<'a>>,
    memory: Option<puppet_facts::Memory<'a>>,
    identity: Option<puppet_facts::Identity<'a>>,
    hostname: Option<&'a str>,
    domain: Option<&'a str>,
    fqdn: Option<&'a str>,
}

fn views<'a>(name: &str, facts: &'a Facts) -> Views<'a> {
    let ok = |e: puppet_facts::FactsError| -> ! { panic!("{name}: {e}") };
    Views {
        os: facts.os().unwrap_or_else(|e| ok(e)),
        kernel: facts.kernel().unwrap_or_else(|e| ok(e)),
        networking: facts.networking().unwrap_or_else(|e| ok(e)),
        processors: facts.processors().unwrap_or_else(|e| ok(e)),
        memory: facts.memory().unwrap_or_else(|e| ok(e)),
        identity: facts.identity().unwrap_or_else(|e| ok(e)),
        hostname: facts.hostname().unwrap_or_else(|e| ok(e)),
        domain: facts.domain().unwrap_or_else(|e| ok(e)),
        fqdn: facts.fqdn().unwrap_or_else(|e| ok(e)),
    }
}

/// The views as JSON, with what changes from one capture to the next (free and used memory)
/// replaced by its type, so that re-capturing the fixtures keeps the snapshots.
fn stable(views: Views<'_>) -> Value {
    let mut value = serde_json::to_value(views).unwrap_or_else(|e| panic!("{e}"));
    for area in ["system", "swap"] {
        let Some(Value::Object(stats)) = value.pointer_mut(&format!("/memory/{area}")) else {
            continue;
        };
        for (key, kind) in [
            ("available_bytes", "[integer]"),
            ("used_bytes", "[integer]"),
            ("available", "[size]"),
            ("used", "[size]"),
            ("capacity", "[percent]"),
        ] {
            if let Some(v) = stats.get_mut(key) {
                let ok = match kind {
                    "[integer]" => v.is_u64(),
                    "[percent]" => v.as_str().is_some_and(|s| s.ends_with('%')),
                    _ => v
                        .as_str()
                        .is_some_and(|s| s.ends_with("iB") || s.ends_with(" bytes")),
                };
                assert!(ok, "memory.{area}.{key} = {v}");
                *v = Value::from(kind);
            }
        }
    }
    value
}

#[test]
fn typed_views_of_every_fixture() {
    for (name, facts) in all_facts() {
        let v = views(&name, &facts);
        // Facter 4.3 on Linux reports all of these.
        let os = v.os.unwrap_or_else(|| panic!("{name}: no os"));
        assert!(
            os.family.is_some() && os.release.is_some_and(|r| r.major.is_some()),
            "{name}"
        );
        assert_eq!(v.kernel.and_then(|k| k.kernel), Some("Linux"), "{name}");
        let net = v
            .networking
            .unwrap_or_else(|| panic!("{name}: no networking"));
        let primary = net.primary.unwrap_or_else(|| panic!("{name}: no primary"));
        assert_eq!(
            net.interfaces.get(primary).and_then(|i| i.ip),
            net.ip,
            "{name}"
        );
        let cpus = v
            .processors
            .unwrap_or_else(|| panic!("{name}: no processors"));
        assert_eq!(
            cpus.count.map(|c| c as usize),
            Some(cpus.models.len()),
            "{name}"
        );
        let system = v
            .memory
            .and_then(|m| m.system)
            .unwrap_or_else(|| panic!("{name}: no memory"));
        assert_eq!(
            system.total_bytes,
            system
                .used_bytes
                .zip(system.available_bytes)
                .map(|(u, a)| u + a),
            "{name}"
        );
        assert!(v.identity.is_some_and(|i| i.user.is_some()), "{name}");
        assert!(v.hostname.is_some() && v.fqdn.is_some(), "{name}");
    }
}

#[test]
fn agent_document_and_facter_agree() {
    let document = load("upload.json");
    let facter = load("facter.json");
    assert_eq!(document.os().ok(), facter.os().ok());
    assert_eq!(document.kernel().ok(), facter.kernel().ok());
    assert_eq!(document.identity().ok(), facter.identity().ok());
    assert_eq!(document.processors().ok(), facter.processors().ok());
    // The agent adds its own facts to facter's.
    assert_eq!(
        document.get("clientcert").and_then(Value::as_str),
        Some(document.name.as_str())
    );
    assert!(document.get("clientversion").is_some() && facter.get("clientversion").is_none());
}

#[test]
fn local_facts_are_added_as_the_agent_adds_them() {
    for (name, bytes) in fixtures() {
        if name == "facter.json" {
            continue;
        }
        let sent = Facts::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let local = |key: &str| {
            sent.get(key)
                .cloned()
                .unwrap_or_else(|| panic!("{name}: no {key}"))
        };
        let (certname, version, noop) = (
            local("clientcert"),
            local("clientversion"),
            local("clientnoop"),
        );
        let mut rebuilt = sent.clone();
        for key in ["clientcert", "clientversion", "clientnoop"] {
            rebuilt.values.shift_remove(key);
        }
        rebuilt.add_local_facts(
            certname.as_str().unwrap_or_default(),
            version.as_str().unwrap_or_default(),
            noop.as_bool().unwrap_or(true),
        );
        assert_eq!(rebuilt.to_json().ok(), sent.to_json().ok(), "{name}");
    }
}

#[test]
fn snapshot_views_of_the_agent_document() {
    let facts = load("upload.json");
    insta::assert_json_snapshot!("upload_views", stable(views("upload.json", &facts)));
}

#[test]
fn snapshot_views_of_facter_output() {
    let facts = load("facter.json");
    insta::assert_json_snapshot!("facter_views", stable(views("facter.json", &facts)));
}
