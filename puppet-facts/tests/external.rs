//! External facts and `FACTER_` variables: every kind of file, precedence, overrides and bad
//! input; compared with facter where facter survives the input.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use puppet_facts::ExternalFactError;
use puppet_facts::collect::{Options, collect, external, format};
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, body: &[u8], exec: bool) {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write");
    if exec {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// A directory with one file of every kind facter reads, all valid.
fn good_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "a.txt",
        b"txt_key=v1\nTxt_Upper=x=y\nspaced key = v2 \nnoequals\nempty=\n",
        false,
    );
    write(d, "b.json", br#"{"json_fact": {"n": 1, "f": 1.5, "list": [1, "two", null]}, "json_null": null, "kernel": "override"}"#, false);
    write(d, "c.yaml", b"yaml_fact:\n  enabled: yes\n  octal: 0777\n  quoted: 'yes'\n  date: 2020-01-02\nos.name: dotted\n", false);
    write(d, "d.sh", b"#!/bin/sh\necho 'exec_yaml: {a: 1}'\n", true);
    write(
        d,
        "e.sh",
        b"#!/bin/sh\necho exec_kv=hello\necho 'exec_kv2=a b'\n",
        true,
    );
    write(d, "f.yml", b"ignored_yml: 1\n", false);
    write(d, "z.txt", b"txt_key=from_z\n", false);
    dir
}

fn facter_present() -> bool {
    let found = Command::new("facter")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("facter is not installed and PUPPET_RS_REQUIRE_REAL=1");
    }
    if !found {
        eprintln!("skipping: facter is not installed (apt-get install facter)");
    }
    found
}

const NAMES: [&str; 12] = [
    "txt_key",
    "txt_upper",
    "spaced key ",
    "json_fact",
    "json_null",
    "kernel",
    "yaml_fact",
    "os.name",
    "exec_yaml",
    "exec_kv",
    "exec_kv2",
    "ignored_yml",
];

fn ours(dir: &Path) -> puppet_facts::collect::Collection {
    collect(&Options {
        external_dirs: vec![dir.to_path_buf()],
        environment: true,
        ..Options::default()
    })
}

#[test]
fn every_kind_of_file_is_read() {
    let dir = good_dir();
    let c = ours(dir.path());
    assert!(!c.failed(), "{:?}", c.warnings);
    let facts = c.facts(false);
    assert_eq!(facts["txt_key"], "from_z", "the file sorting last wins");
    assert_eq!(facts["txt_upper"], "x=y");
    assert_eq!(facts["spaced key "], " v2 ");
    assert_eq!(
        facts["json_fact"],
        json!({"f": 1.5, "list": [1, "two", null], "n": 1})
    );
    assert!(!facts.contains_key("json_null"));
    assert_eq!(
        facts["kernel"], "override",
        "external facts replace core facts"
    );
    assert_eq!(
        facts["yaml_fact"],
        json!({"date": "2020-01-02", "octal": 511, "enabled": true, "quoted": "yes"})
    );
    assert_eq!(facts["os.name"], "dotted");
    assert!(
        facts.contains_key("os"),
        "a dotted external name does not replace os"
    );
    assert_eq!(facts["exec_yaml"], json!({"a": 1}));
    assert_eq!(facts["exec_kv2"], "a b");
    assert!(!facts.contains_key("ignored_yml"));
}

#[test]
fn same_answers_as_facter() {
    if !facter_present() {
        return;
    }
    let dir = good_dir();
    let d = dir.path().to_str().expect("path");
    let c = ours(dir.path());
    let queries: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let answers = c.query(&queries);
    let mut args = vec!["--json", "--external-dir", d];
    args.extend(NAMES);
    let out = Command::new("facter").args(&args).output().expect("facter");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format::json(&answers) + "\n"
    );
    assert_eq!(out.status.code(), Some(0));
    // FACTER_ variables: prefix case-insensitive, underscore optional, values strings.
    let env_names = ["kernel", "myfact", "other"];
    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new("facter")
        .args([
            "--json",
            "--external-dir",
            empty.path().to_str().expect("path"),
        ])
        .args(env_names)
        .env("FACTER_kernel", "fromenv")
        .env("facter_MyFact", "7")
        .env("FACTERother", "x")
        .output()
        .expect("facter");
    let vars = [
        ("FACTER_kernel", "fromenv"),
        ("facter_MyFact", "7"),
        ("FACTERother", "x"),
    ];
    let env = external::environment_facts(vars.iter().map(|(k, v)| (k.into(), v.into())));
    assert_eq!(
        env,
        [
            ("kernel".to_string(), "fromenv".to_string()),
            ("myfact".into(), "7".into()),
            ("other".into(), "x".into())
        ]
    );
    let expected = json!({"kernel": "fromenv", "myfact": "7", "other": "x"});
    let theirs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(theirs, expected);
}

#[test]
fn broken_files_warn_and_keep_every_other_fact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "good.txt", b"still_here=yes\n", false);
    write(d, "broken.json", b"{\"a\": ", false);
    write(d, "broken.yaml", b"a: [1, 2\n", false);
    write(d, "scalar.json", b"\"just a string\"", false);
    write(d, "scalar.yaml", b"42\n", false);
    write(d, "binary.txt", &[0xff, 0xfe, b'=', 0x00, 0x80], false);
    write(
        d,
        "fails.sh",
        b"#!/bin/sh\necho from_failing=1\nexit 3\n",
        true,
    );
    write(d, "hangs.sh", b"#!/bin/sh\nexec sleep 30\n", true);
    write(
        d,
        "huge.sh",
        b"#!/bin/sh\nexec yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=b\n",
        true,
    );
    let loaded = external::load_dirs(&[d.to_path_buf()], Duration::from_millis(1500));
    let names: Vec<&str> = loaded.facts.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"still_here") && names.contains(&"from_failing"),
        "{names:?}"
    );
    let kind = |file: &str| {
        loaded
            .errors
            .iter()
            .chain(&loaded.warnings)
            .find_map(|e| match e {
                puppet_facts::FactsError::External { path, kind } if path.ends_with(file) => {
                    Some(kind.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no warning for {file}"))
    };
    assert!(matches!(
        kind("broken.json"),
        ExternalFactError::Parse { format: "JSON", .. }
    ));
    assert!(matches!(
        kind("broken.yaml"),
        ExternalFactError::Parse { format: "YAML", .. }
    ));
    assert!(matches!(
        kind("scalar.json"),
        ExternalFactError::NotAHash { .. }
    ));
    assert!(matches!(
        kind("scalar.yaml"),
        ExternalFactError::NotAHash { .. }
    ));
    assert_eq!(kind("binary.txt"), ExternalFactError::InvalidUtf8);
    assert!(matches!(kind("fails.sh"), ExternalFactError::ExitStatus(_)));
    assert!(matches!(
        kind("hangs.sh"),
        ExternalFactError::TimedOut { .. }
    ));
    assert!(matches!(
        kind("huge.sh"),
        ExternalFactError::TooLarge { .. }
    ));
    // Warnings name the file.
    for e in loaded.errors.iter().chain(&loaded.warnings) {
        assert!(e.to_string().contains(d.to_str().expect("path")), "{e}");
    }
    // broken/scalar/binary/huge fail the run (facter exits 1 or crashes on those); a failing
    // or hanging executable only warns, as in facter.
    assert_eq!(loaded.errors.len(), 6, "{:?}", loaded.errors);
}

#[test]
fn broken_json_exits_non_zero_like_facter() {
    if !facter_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good.txt", b"still_here=yes\n", false);
    write(dir.path(), "broken.json", b"{\"a\": ", false);
    let d = dir.path().to_str().expect("path");
    let out = Command::new("facter")
        .args(["--json", "--external-dir", d, "still_here"])
        .output()
        .expect("facter");
    assert_eq!(out.status.code(), Some(1));
    let c = ours(dir.path());
    assert!(c.failed());
    let answers = c.query(&["still_here".to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format::json(&answers) + "\n"
    );
}
