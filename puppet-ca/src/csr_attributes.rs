//! Puppet's `csr_attributes.yaml`: the attributes and extension requests an agent puts in
//! its CSR.
//!
//! The file is YAML, but Puppet reads only two maps of strings from it, so this reads that
//! subset and nothing else (no YAML crate): an optional `---` line, comments, and the
//! top-level keys `custom_attributes` and `extension_requests`, each a block map (indented
//! `key: value` lines) or `{}`; keys and values plain, `'single'` or `"double"` quoted
//! scalars on one line. Anything else (lists, anchors, tags, flow maps with entries,
//! multi-line scalars, other top-level keys) is refused with its line number.

use crate::CaError;

/// The content of a `csr_attributes.yaml`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsrAttributes {
    /// `custom_attributes`: CSR attributes by OID or name (`1.2.840.113549.1.9.7` or
    /// `challengePassword`) and value.
    pub custom_attributes: Vec<(String, String)>,
    /// `extension_requests`: extensions by Puppet short name (`pp_role`) or OID, and value.
    pub extension_requests: Vec<(String, String)>,
}

impl CsrAttributes {
    /// Parses a `csr_attributes.yaml`.
    ///
    /// ```
    /// let yaml = "---\ncustom_attributes:\n  1.2.840.113549.1.9.7: \"s3cr3t\"\nextension_requests:\n  pp_role: webserver\n";
    /// let attrs = puppet_ca::CsrAttributes::parse(yaml).unwrap();
    /// assert_eq!(attrs.custom_attributes, [("1.2.840.113549.1.9.7".to_string(), "s3cr3t".to_string())]);
    /// assert_eq!(attrs.extension_requests, [("pp_role".to_string(), "webserver".to_string())]);
    /// assert!(puppet_ca::CsrAttributes::parse("extension_requests:\n  - pp_role\n").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, CaError> {
        let mut out = CsrAttributes::default();
        let mut section: Option<&mut Vec<(String, String)>> = None;
        let mut indent: Option<usize> = None;
        let mut seen_top = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let bad = |reason: String| CaError::CsrAttributes {
                line: line_no,
                reason,
            };
            let line = strip_comment(raw).trim_end();
            if line.trim().is_empty() {
                continue;
            }
            if line == "---" && seen_top.is_empty() && section.is_none() {
                continue;
            }
            if line.contains('\t') {
                return Err(bad("tabs are not allowed in YAML indentation".into()));
            }
            let depth = line.len() - line.trim_start().len();
            let (key, value) = split_entry(line.trim_start()).map_err(&bad)?;
            if depth == 0 {
                let target = match key.as_str() {
                    "custom_attributes" => &mut out.custom_attributes,
                    "extension_requests" => &mut out.extension_requests,
                    other => {
                        return Err(bad(format!(
                            "unknown key {other:?} (custom_attributes or extension_requests)"
                        )));
                    }
                };
                if seen_top.contains(&key) {
                    return Err(bad(format!("{key} appears twice")));
                }
                seen_top.push(key);
                indent = None;
                match value.as_deref() {
                    None => section = Some(target),
                    Some("{}") => section = None,
                    Some(v) => {
                        return Err(bad(format!("expected a map under this key, found {v:?}")));
                    }
                }
                continue;
            }
            let Some(entries) = section.as_deref_mut() else {
                return Err(bad("indented line outside a map".into()));
            };
            match indent {
                None => indent = Some(depth),
                Some(i) if i == depth => {}
                Some(i) => {
                    return Err(bad(format!(
                        "indentation {depth} where the map's entries are indented {i}"
                    )));
                }
            }
            let Some(value) = value else {
                return Err(bad(format!(
                    "{key:?} has no value (nested maps are not allowed)"
                )));
            };
            let value = scalar(&value).map_err(&bad)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(bad(format!("{key:?} appears twice")));
            }
            entries.push((key, value));
        }
        Ok(out)
    }
}

/// A line without its comment (` #` outside quotes, or `#` at the start).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            prev = c;
            continue;
        }
        match (quote, c) {
            (Some('"'), '\\') => escaped = true,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev == ' ' => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// `key: value` (value `None` when the line ends after the colon). The key may be quoted.
fn split_entry(line: &str) -> Result<(String, Option<String>), String> {
    if line.starts_with('-') {
        return Err("lists are not allowed: expected `key: value`".into());
    }
    let (key, rest) = if line.starts_with('"') || line.starts_with('\'') {
        let end = closing_quote(line)?;
        let rest = &line[end + 1..];
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("expected ':' after the key in {line:?}"))?;
        (scalar(&line[..=end])?, rest)
    } else {
        let colon = line
            .find(": ")
            .or_else(|| line.ends_with(':').then(|| line.len() - 1))
            .ok_or_else(|| format!("expected `key: value`, found {line:?}"))?;
        (scalar(&line[..colon])?, &line[colon + 1..])
    };
    if key.is_empty() {
        return Err("empty key".into());
    }
    let value = rest.trim();
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(format!("expected a space after ':' in {line:?}"));
    }
    Ok((key, (!value.is_empty()).then(|| value.to_string())))
}

/// The byte index of the quote closing the quoted scalar that `s` starts with.
fn closing_quote(s: &str) -> Result<usize, String> {
    let q = s.as_bytes()[0];
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if q == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == q {
            if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Ok(i);
        }
        i += 1;
    }
    Err(format!("unterminated quoted string {s:?}"))
}

/// One scalar: plain, 'single' (`''` for a quote) or "double" quoted (escapes `\"`, `\\`,
/// `\n`, `\t`).
fn scalar(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.starts_with('"') || s.starts_with('\'') {
        let end = closing_quote(s)?;
        if end != s.len() - 1 {
            return Err(format!("text after the closing quote in {s:?}"));
        }
        let inner = &s[1..end];
        if s.starts_with('\'') {
            return Ok(inner.replace("''", "'"));
        }
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => return Err(format!("unsupported escape \\{}", other.unwrap_or(' '))),
            }
        }
        return Ok(out);
    }
    if s.starts_with(['[', '{', '&', '*', '!', '|', '>', '%', '@', '`', '?']) {
        return Err(format!(
            "{s:?}: only plain or quoted strings are allowed (no YAML flow, anchor, tag or block scalar)"
        ));
    }
    if s.contains(": ") || s.ends_with(':') {
        return Err(format!("{s:?}: quote a value that holds ': '"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn puppets_example_file() {
        let text = "---\n# attributes\ncustom_attributes:\n  1.2.840.113549.1.9.7: \"s3cr3t-Challenge\"\n  challengePassword: 'it''s' # comment\nextension_requests:\n  pp_role: webserver\n  pp_uuid: ED803750-E3C7-44F5-BB08-41A04433FE2E\n  \"1.3.6.1.4.1.34380.1.2.1\": \"a # not a comment\"\n  pp_zone: 42\n";
        let a = CsrAttributes::parse(text).unwrap();
        assert_eq!(
            a.custom_attributes,
            pairs(&[
                ("1.2.840.113549.1.9.7", "s3cr3t-Challenge"),
                ("challengePassword", "it's")
            ])
        );
        assert_eq!(
            a.extension_requests,
            pairs(&[
                ("pp_role", "webserver"),
                ("pp_uuid", "ED803750-E3C7-44F5-BB08-41A04433FE2E"),
                ("1.3.6.1.4.1.34380.1.2.1", "a # not a comment"),
                ("pp_zone", "42"),
            ])
        );
        assert_eq!(
            CsrAttributes::parse("custom_attributes: {}\n").unwrap(),
            CsrAttributes::default()
        );
        assert_eq!(CsrAttributes::parse("").unwrap(), CsrAttributes::default());
    }

    #[test]
    fn anything_else_is_refused_with_its_line() {
        for (text, line) in [
            ("extension_requests:\n  - pp_role\n", 2),
            ("other: 1\n", 1),
            ("extension_requests:\n  pp_role:\n    nested: x\n", 2),
            ("extension_requests:\n  pp_role: [a, b]\n", 2),
            ("extension_requests:\n  pp_role: &x a\n", 2),
            ("extension_requests:\n  pp_role: \"open\n", 2),
            ("extension_requests:\n  a: 1\n   b: 2\n", 3),
            ("extension_requests:\n  a: 1\n  a: 2\n", 3),
            ("extension_requests: x\n", 1),
            ("  a: 1\n", 1),
            ("extension_requests:\n\tpp_role: a\n", 2),
            ("extension_requests:\n  pp_role: |\n", 2),
            ("extension_requests:\n  pp_role: a: b\n", 2),
        ] {
            match CsrAttributes::parse(text) {
                Err(CaError::CsrAttributes { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,300}") {
            let _ = CsrAttributes::parse(&text);
        }

        #[test]
        fn written_maps_read_back(
            attrs in proptest::collection::btree_map("[a-zA-Z0-9_.]{1,20}", "[ -~]{0,30}", 0..5),
            exts in proptest::collection::btree_map("pp_[a-z_]{1,12}", "[ -~]{0,30}", 0..5),
        ) {
            let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
            let mut text = String::from("---\ncustom_attributes:\n");
            for (k, v) in &attrs {
                text.push_str(&format!("  {k}: {}\n", quote(v)));
            }
            text.push_str("extension_requests:\n");
            for (k, v) in &exts {
                text.push_str(&format!("  '{k}': {}  # comment\n", quote(v)));
            }
            let parsed = CsrAttributes::parse(&text).unwrap();
            let want = |m: &std::collections::BTreeMap<String, String>| {
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
            };
            proptest::prop_assert_eq!(parsed.custom_attributes, want(&attrs));
            proptest::prop_assert_eq!(parsed.extension_requests, want(&exts));
        }
    }
}
