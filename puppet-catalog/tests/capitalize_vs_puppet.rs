//! `capitalize_type_name` against Ruby Puppet's `TypeFormatter#capitalize_segments` (the
//! function `Puppet::Resource` canonicalizes types and class titles with), on fixed cases and
//! on generated names that mix ASCII, `::`, newlines and the non-ASCII letters whose case
//! mapping is special (title-case digraphs, ligatures, `ß`, Greek, Armenian, Georgian).

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use puppet_catalog::reference::{capitalize_type_name, ruby_capitalize};

use crate::util::real_puppet;

/// Reads JSON names from stdin, one per line; writes `[capitalize_segments, capitalize]` per
/// line.
const RUBY: &str = r#"
require 'json'
require 'puppet'
f = Puppet::Pops::Types::TypeFormatter.singleton
STDIN.each_line do |line|
  name = JSON.parse(line)
  puts JSON.generate([f.capitalize_segments(name), name.capitalize])
end
"#;

const FIXED: &[&str] = &[
    "",
    "::",
    "foo",
    "foo::bar",
    "::foo",
    "foo::",
    "foo::bar::",
    "foo::::bar",
    "FOO::bar",
    "fOO::BAR",
    "_foo",
    "1abc",
    "a\nB",
    "a\nb",
    "ssh_authorized_key",
    "élan::über",
    "Élan::x",
    "ǆx",
    "ǅX",
    "ßa::ﬁx",
    "ΣΑΣ",
    "İx",
    "ŉx",
    "ﬀ::ﬃ::ﬆ",
    "և",
    "ა::ᲐᲑ",
    "ᾳ::ᾀ::ῳ",
];

/// Letters whose case mapping is worth checking, with plain ASCII and separators.
fn names() -> impl Strategy<Value = String> {
    let pieces = proptest::sample::select(vec![
        "a", "b", "z", "A", "Q", "Z", "_", "0", "9", "::", "::", ":", "\n", "é", "É", "ß", "ǆ",
        "ǅ", "Ǆ", "ǉ", "ǌ", "ǳ", "ﬁ", "ﬂ", "ﬅ", "Σ", "σ", "ς", "İ", "ı", "ŉ", "և", "ﬓ", "ა", "Ა",
        "ᾳ", "ᾀ", "ῼ", "ΐ", "ǰ", "Ω", "Ж", "ж", "ÿ", "Ÿ", "µ", " ",
    ]);
    proptest::collection::vec(pieces, 0..8).prop_map(|p| p.concat())
}

#[test]
fn capitalization_agrees_with_puppet() {
    if !real_puppet("capitalization_agrees_with_puppet") {
        return;
    }
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = names();
    let mut inputs: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    for _ in 0..2000 {
        inputs.push(
            strategy
                .new_tree(&mut runner)
                .expect("generate a name")
                .current(),
        );
    }
    let mut child = Command::new("ruby")
        .args(["-e", RUBY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ruby");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines: String = inputs
        .iter()
        .map(|n| serde_json::to_string(n).expect("JSON string") + "\n")
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(lines.as_bytes()));
    let output = child.wait_with_output().expect("ruby output");
    writer.join().expect("writer").expect("write names");
    assert!(
        output.status.success(),
        "ruby failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<(String, String)> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("ruby's JSON"))
        .collect();
    assert_eq!(answers.len(), inputs.len());
    for (name, (segments, capitalize)) in inputs.iter().zip(&answers) {
        assert_eq!(
            capitalize_type_name(name),
            segments.as_str(),
            "capitalize_segments({name:?})"
        );
        assert_eq!(
            ruby_capitalize(name),
            capitalize.as_str(),
            "{name:?}.capitalize"
        );
    }
}
