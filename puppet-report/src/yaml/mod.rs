//! The few YAML scalars `last_run_summary.yaml` holds, written as Ruby's Psych (4.0, over
//! libyaml) writes them: strings plain, single- or double-quoted or as literal blocks by
//! Psych's rules, floats as Ruby's `Float#to_s`, long lines folded at column 80.
//!
//! Hand-written: no maintained YAML crate reproduces Psych byte for byte. [`scalar`] decides a
//! string's style, [`emit`] writes it as libyaml does, [`float`] formats floats.

mod emit;
mod float;
mod scalar;

pub(crate) use float::ruby_float;
pub(crate) use scalar::{Place, string};

#[cfg(test)]
mod tests {
    use super::*;

    /// Each string and how Psych 4.0.4 (Ruby 3.1.7, Debian 12) writes it as a mapping value
    /// (`YAML.dump({"k" => s})`), observed on the real thing.
    const PSYCH_VALUES: &[(&str, &str)] = &[
        ("1795369503", "'1795369503'"),
        ("production", "production"),
        ("true", "'true'"),
        ("", "''"),
        ("a: b", "'a: b'"),
        ("-x", "\"-x\""),
        ("x#y", "x#y"),
        ("x #y", "'x #y'"),
        ("1.5", "'1.5'"),
        ("null", "'null'"),
        ("~", "\"~\""),
        ("yes", "'yes'"),
        ("é", "é"),
        ("0o17", "0o17"),
        ("1_000", "'1_000'"),
        ("@x", "\"@x\""),
        ("x:", "'x:'"),
        (" x", "\" x\""),
        ("9a3f", "9a3f"),
        ("2026-01-01", "'2026-01-01'"),
        ("1e5", "1e5"),
        (".5", "\".5\""),
        ("0x1F", "'0x1F'"),
        ("*a", "\"*a\""),
        ("y", "\"y\""),
        ("n", "\"n\""),
        ("on", "'on'"),
        ("x\ty", "\"x\\ty\""),
        ("\u{1}", "\"\\x01\""),
        ("it's", "it's"),
        ("{a}", "\"{a}\""),
        ("a,b", "a,b"),
        ("%x", "\"%x\""),
        ("x?", "x?"),
        ("?x", "\"?x\""),
        ("!x", "\"!x\""),
        ("`x", "\"`x\""),
        ("|x", "\"|x\""),
        (">x", "\">x\""),
        ("[x", "\"[x\""),
        ("=", "\"=\""),
        ("<<", "!!str '<<'"),
        ("12:30", "'12:30'"),
        ("+1", "\"+1\""),
        (".inf", "\".inf\""),
        ("x ", "'x '"),
        ("-", "\"-\""),
        ("1:2:3", "'1:2:3'"),
        ("0b101", "'0b101'"),
        ("7.23.0", "7.23.0"),
        ("agent", "agent"),
        ("user", "user"),
    ];

    fn value(s: &str, column: usize, indent: usize) -> String {
        string(s, Place::Value { column, indent }).text
    }

    #[test]
    fn strings_are_written_as_psych_writes_them() {
        for (input, want) in PSYCH_VALUES {
            assert_eq!(&value(input, 5, 2), want, "for {input:?}");
        }
    }

    #[test]
    fn keys_y_and_n_are_quoted() {
        assert_eq!(string("n", Place::Key).text, "\"n\"");
        assert_eq!(string("total", Place::Key).text, "total");
        assert_eq!(string("", Place::Key).text, "''");
    }

    #[test]
    fn long_values_fold_at_column_80_as_psych_does() {
        // YAML.dump({"version" => {"config" => ..., "puppet" => ...}}) on the real Psych.
        let plain = "commit abcdef0123 by Somebody Important on a long day in november with several words more";
        assert_eq!(
            value(plain, 10, 4),
            "commit abcdef0123 by Somebody Important on a long day in november with several\n    words more"
        );
        let single = "it's: a long string with a colon that forces single quoting and goes past eighty columns wide";
        assert_eq!(
            value(single, 10, 4),
            "'it''s: a long string with a colon that forces single quoting and goes past\n    eighty columns wide'"
        );
    }

    #[test]
    fn line_breaks_are_written_as_psych_writes_them() {
        // YAML.dump({"k" => {"v" => s, "w" => 1}}) on the real Psych: the text after "  v: ".
        let cases: &[(&str, &str)] = &[
            ("a\n", "'a\n\n    '"),
            ("a\n\n", "\"a\\n\\n\""),
            ("\n", "\"\\n\""),
            ("a\nb", "|-\n    a\n    b"),
            ("a\nb\n", "|\n    a\n    b\n"),
            ("a\nb\n\n", "|+\n    a\n    b\n\n"),
            (" a\nb", "|2-\n     a\n    b"),
            ("\na", "|2-\n\n    a"),
            ("a\n\nb", "|-\n    a\n\n    b"),
            ("x: y\nz", "|-\n    x: y\n    z"),
            ("a \nb", "\"a \\nb\""),
            ("a\n b", "|-\n    a\n     b"),
            ("\"\n-", "|-\n    \"\n    -"),
            ("-\nx", "|-\n    -\n    x"),
            ("a\n-x\n", "|\n    a\n    -x\n"),
            ("ab\n\"", "|-\n    ab\n    \""),
            ("é\nb", "|-\n    é\n    b"),
            ("it's\n", "'it''s\n\n    '"),
        ];
        for (input, want) in cases {
            assert_eq!(&value(input, 5, 4), want, "for {input:?}");
        }
        assert!(
            string(
                "a\nb\n\n",
                Place::Value {
                    column: 5,
                    indent: 4
                }
            )
            .open_ended
        );
        assert!(
            !string(
                "a\nb\n",
                Place::Value {
                    column: 5,
                    indent: 4
                }
            )
            .open_ended
        );
    }
}
