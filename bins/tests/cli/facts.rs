//! The `puppet-facts` binary: facter's interface, exit codes and output.

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_puppet-facts"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running puppet-facts: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn json_has_the_core_facts_and_exits_0() {
    let out = run(&["--json", "--no-external-facts"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let facts: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in [
        "os",
        "kernel",
        "networking",
        "processors",
        "memory",
        "identity",
        "path",
    ] {
        assert!(facts.get(key).is_some(), "{key} missing");
    }
    assert!(
        facts.get("ipaddress").is_none(),
        "legacy facts only with --show-legacy"
    );
    let out = run(&["--json", "--show-legacy", "--no-external-facts"], &[]);
    let facts: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(facts.get("osfamily").is_some());
}

#[test]
fn queries_print_as_facter_prints_them() {
    let out = run(&["kernel"], &[]);
    assert_eq!(text(&out.stdout), "Linux\n");
    let out = run(&["--json", "kernel", "nonexistent"], &[]);
    assert_eq!(
        text(&out.stdout),
        "{\n  \"kernel\": \"Linux\",\n  \"nonexistent\": null\n}\n"
    );
    let out = run(&["kernel", "nonexistent"], &[]);
    assert_eq!(text(&out.stdout), "kernel => Linux\nnonexistent => \n");
    let out = run(&["--strict", "nonexistent"], &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn broken_external_file_warns_prints_the_rest_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.json"), "{\"a\": ").expect("write");
    std::fs::write(dir.path().join("good.txt"), "good=yes\n").expect("write");
    let d = dir.path().to_str().expect("path");
    let out = run(&["--json", "--external-dir", d], &[]);
    assert_eq!(out.status.code(), Some(1));
    let facts: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(facts["good"], "yes");
    assert!(facts.get("os").is_some());
    assert!(
        text(&out.stderr).contains("broken.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn facter_variables_and_option_conflicts() {
    let out = run(
        &["myfact", "kernel"],
        &[("FACTER_myfact", "x"), ("FACTER_KERNEL", "y")],
    );
    assert_eq!(text(&out.stdout), "kernel => y\nmyfact => x\n");
    let out = run(
        &["--no-external-facts", "myfact"],
        &[("FACTER_myfact", "x")],
    );
    assert_eq!(
        text(&out.stdout),
        "\n",
        "facter ignores FACTER_ with --no-external-facts"
    );
    let out = run(&["--no-external-facts", "--external-dir", "/tmp"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["--json", "--yaml"], &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn timing_lists_every_family_before_the_facts() {
    let out = run(&["--timing", "--no-external-facts", "kernel"], &[]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fact 'networking', took: (")),
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"Linux"));
}
