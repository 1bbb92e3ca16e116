//! Puppet's capitalization of type names, and the Ruby `String#capitalize` it is built on.
//!
//! The one implementation in the project: resource references, the graph, the builder and
//! `puppet-report` (resource status types, metric labels) use these functions.

use std::borrow::Cow;

/// A type name (or a class name) capitalized as Puppet 7 writes it in references: the result
/// of `Puppet::Pops::Types::TypeFormatter#capitalize_segments`, which `Puppet::Resource` applies
/// to every type (`file` → `File`, `apache::vhost` → `Apache::Vhost`) and, for `Class`, to the
/// title (`Class[nginx::config]` → `Class[Nginx::Config]`).
///
/// The rule, exactly as Puppet 7.23 applies it (checked against Ruby Puppet by this crate's
/// tests):
///
/// - a name in which a line starts with an ASCII capital letter `A`–`Z` is kept as it is
///   (`FOO::bar`, `Foo::bar` stay; Ruby's `^` matches at the start of every line);
/// - otherwise each `::` segment goes through Ruby's `String#capitalize` ([`ruby_capitalize`]):
///   its first character in title case, the rest in lower case (`fOO::BAR` → `Foo::Bar`);
/// - empty segments between `::`s are kept (`foo::::bar` → `Foo::::Bar`) and so is a leading
///   `::` (`::foo` → `::Foo`); trailing `::`s are dropped when the name has more than one
///   segment (`foo::bar::` → `Foo::Bar`), kept otherwise (`foo::` → `Foo::`), as Ruby's
///   `String#split` then `join` do.
///
/// Non-ASCII letters follow Ruby's full Unicode case mapping, not an ASCII-only one: a
/// segment starting with `é` becomes `É`, `ǆ` becomes the title-case digraph `ǅ`, `ß` becomes
/// `Ss`, `ﬁ` becomes `Fi`, and later letters are lower-cased (`ΣΑΣ` → `Σασ`: no final-sigma
/// rule); a name starting with a non-ASCII capital (`Élan::x`) is not kept as it is but
/// capitalized (`Élan::X`), since only ASCII capitals are tested. The mappings are those of
/// the Unicode version of Rust's standard library, which may be newer than Ruby's (Ruby 3.1:
/// Unicode 13) for characters added since. The Puppet language only allows ASCII letters,
/// digits and `_` in type and class names, so the difference shows only for names made in
/// code.
///
/// Borrowed when nothing changes.
///
/// ```
/// use puppet_catalog::reference::capitalize_type_name;
///
/// assert_eq!(capitalize_type_name("file"), "File");
/// assert_eq!(capitalize_type_name("apache::vhost"), "Apache::Vhost");
/// assert_eq!(capitalize_type_name("ssh_authorized_key"), "Ssh_authorized_key");
/// assert_eq!(capitalize_type_name("fOO::BAR"), "Foo::Bar");
/// assert_eq!(capitalize_type_name("FOO::bar"), "FOO::bar");
/// assert_eq!(capitalize_type_name("élan::über"), "Élan::Über");
/// assert_eq!(capitalize_type_name("::foo"), "::Foo");
/// ```
pub fn capitalize_type_name(name: &str) -> Cow<'_, str> {
    if name
        .split('\n')
        .any(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
    {
        return Cow::Borrowed(name);
    }
    // Ruby's `split('::')`: trailing empty segments removed.
    let mut segments: Vec<&str> = name.split("::").collect();
    while segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
    if segments.len() == 1 {
        return ruby_capitalize(name);
    }
    let mut out = String::with_capacity(name.len());
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        out.push_str(&ruby_capitalize(segment));
    }
    if out == name {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(out)
    }
}

/// Ruby's `String#capitalize` (Ruby 2.4 and later): the first character in title case
/// (Unicode's `Titlecase_Mapping`, special casings included: `ß` → `Ss`, `ǆ` → `ǅ`), every
/// other character in lower case, character by character (no final-sigma rule).
///
/// Puppet uses it on each segment of a type name ([`capitalize_type_name`]), for a resource
/// status's `resource_type` and for metric labels (`Metric.labelize`).
///
/// Borrowed when nothing changes.
///
/// ```
/// use puppet_catalog::reference::ruby_capitalize;
///
/// assert_eq!(ruby_capitalize("config_retrieval"), "Config_retrieval");
/// assert_eq!(ruby_capitalize("FOO"), "Foo");
/// assert_eq!(ruby_capitalize("ßa"), "Ssa");
/// assert_eq!(ruby_capitalize("ΣΑΣ"), "Σασ");
/// ```
pub fn ruby_capitalize(s: &str) -> Cow<'_, str> {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Cow::Borrowed(s);
    };
    let rest = chars.as_str();
    // The common case: an ASCII word that is already capitalized.
    if first.is_ascii() && rest.is_ascii() {
        let first_ok = !first.is_ascii_lowercase();
        if first_ok && !rest.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        out.push(first.to_ascii_uppercase());
        out.push_str(&rest.to_ascii_lowercase());
        return Cow::Owned(out);
    }
    let mut out = String::with_capacity(s.len() + 2);
    push_titlecase(&mut out, first);
    out.extend(rest.chars().flat_map(char::to_lowercase));
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

/// A character's title case (Unicode's `Titlecase_Mapping`): its upper case, except for the
/// characters whose title case differs (digraphs, ligatures, `ß`, Georgian, Greek with
/// ypogegrammeni, Armenian ligatures).
fn push_titlecase(out: &mut String, c: char) {
    let mapped: &str = match u32::from(c) {
        0x00DF => "Ss",
        0x01C4..=0x01C6 => "\u{01C5}",
        0x01C7..=0x01C9 => "\u{01C8}",
        0x01CA..=0x01CC => "\u{01CB}",
        0x01F1..=0x01F3 => "\u{01F2}",
        0x0587 => "\u{0535}\u{0582}",
        // Georgian Mkhedruli is its own title case; Mtavruli's is Mkhedruli.
        0x10D0..=0x10FA | 0x10FD..=0x10FF => {
            out.push(c);
            return;
        }
        cp @ (0x1C90..=0x1CBA | 0x1CBD..=0x1CBF) => {
            out.push(char::from_u32(cp - 0x1C90 + 0x10D0).unwrap_or(c));
            return;
        }
        cp @ 0x1F80..=0x1FAF => {
            out.push(char::from_u32(cp | 0x08).unwrap_or(c));
            return;
        }
        0x1FB2 => "\u{1FBA}\u{0345}",
        0x1FB3 | 0x1FBC => "\u{1FBC}",
        0x1FB4 => "\u{0386}\u{0345}",
        0x1FB7 => "\u{0391}\u{0342}\u{0345}",
        0x1FC2 => "\u{1FCA}\u{0345}",
        0x1FC3 | 0x1FCC => "\u{1FCC}",
        0x1FC4 => "\u{0389}\u{0345}",
        0x1FC7 => "\u{0397}\u{0342}\u{0345}",
        0x1FF2 => "\u{1FFA}\u{0345}",
        0x1FF3 | 0x1FFC => "\u{1FFC}",
        0x1FF4 => "\u{038F}\u{0345}",
        0x1FF7 => "\u{03A9}\u{0342}\u{0345}",
        0xFB00 => "Ff",
        0xFB01 => "Fi",
        0xFB02 => "Fl",
        0xFB03 => "Ffi",
        0xFB04 => "Ffl",
        0xFB05 | 0xFB06 => "St",
        0xFB13 => "\u{0544}\u{0576}",
        0xFB14 => "\u{0544}\u{0565}",
        0xFB15 => "\u{0544}\u{056B}",
        0xFB16 => "\u{054E}\u{0576}",
        0xFB17 => "\u{0544}\u{056D}",
        _ => {
            out.extend(c.to_uppercase());
            return;
        }
    };
    out.push_str(mapped);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ruby 3.1.2 with Puppet 7.23's answers
    /// (`Puppet::Pops::Types::TypeFormatter.singleton.capitalize_segments(name)`).
    #[test]
    fn puppets_answers() {
        let cases = [
            ("foo", "Foo"),
            ("foo::bar", "Foo::Bar"),
            ("::foo", "::Foo"),
            ("::foo::bar", "::Foo::Bar"),
            ("foo::", "Foo::"),
            ("foo::::bar", "Foo::::Bar"),
            ("FOO::bar", "FOO::bar"),
            ("fOO::BAR", "Foo::Bar"),
            ("élan::über", "Élan::Über"),
            ("ǆx", "ǅx"),
            ("ßa::ﬁx", "Ssa::Fix"),
            ("Élan::x", "Élan::X"),
            ("a\nB", "a\nB"),
            ("a\nb", "A\nb"),
            ("_foo::_bar", "_foo::_bar"),
            ("1abc", "1abc"),
            ("", ""),
            ("::", ""),
            ("ΣΑΣ", "Σασ"),
            ("İx", "İx"),
            ("ŉx", "ʼNx"),
        ];
        for (name, puppet) in cases {
            assert_eq!(capitalize_type_name(name), puppet, "{name:?}");
        }
    }

    #[test]
    fn borrowed_when_unchanged() {
        assert!(matches!(capitalize_type_name("File"), Cow::Borrowed(_)));
        assert!(matches!(capitalize_type_name("Foo::Bar"), Cow::Borrowed(_)));
        assert!(matches!(capitalize_type_name("Élan::X"), Cow::Borrowed(_)));
        assert!(matches!(ruby_capitalize("Total"), Cow::Borrowed(_)));
    }

    proptest! {
        /// Capitalizing a capitalized name changes nothing.
        #[test]
        fn idempotent(name in "[a-zA-Z_0-9:éÉßǆΣσ]{0,16}") {
            let once = capitalize_type_name(&name).into_owned();
            prop_assert_eq!(capitalize_type_name(&once), once.as_str());
        }

        /// Valid Puppet type names (ASCII segments): each segment's first letter upper case,
        /// the rest lower case, unless the name starts with a capital.
        #[test]
        fn ascii_names(segments in proptest::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,8}", 1..4)) {
            let name = segments.join("::");
            let got = capitalize_type_name(&name);
            if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                prop_assert_eq!(got, name.as_str());
            } else {
                let want: Vec<String> = segments
                    .iter()
                    .map(|s| s[..1].to_ascii_uppercase() + &s[1..].to_ascii_lowercase())
                    .collect();
                let want = want.join("::");
                prop_assert_eq!(got, want.as_str());
            }
        }

        /// Ruby's capitalize on ASCII: first byte up, the rest down.
        #[test]
        fn ascii_capitalize(word in "[ -~]{0,20}") {
            let want = match word.as_bytes().first() {
                Some(_) => word[..1].to_ascii_uppercase() + &word[1..].to_ascii_lowercase(),
                None => String::new(),
            };
            prop_assert_eq!(ruby_capitalize(&word), want.as_str());
        }

        #[test]
        fn never_panics(name in "\\PC{0,24}") {
            let _ = capitalize_type_name(&name);
        }
    }
}
