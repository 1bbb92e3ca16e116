//! facter's output formats: `--json` ([`json`]), `--yaml` ([`yaml`]) and the default text
//! ([`text`], [`text_single`], [`text_multiple`]), byte for byte as facter 4.3 prints them
//! (Ruby `JSON.pretty_generate`, Psych with facter's quoting, and facter's rewriting of
//! pretty JSON for text). Every function returns the text without facter's final newline
//! (`puts` adds it), and prints hashes in the map's order: facter sorts them, as
//! [`Collection::facts`](super::Collection::facts) and [`sort_map`](super::sort_map) do.

use serde_json::{Map, Value};

use super::ruby;

/// `JSON.pretty_generate` (json 2.6.1): two-space indent, `{\n}` for an empty hash, `[\n\n]`
/// for an empty array, Ruby float formatting, `/` and non-ASCII unescaped.
///
/// ```
/// use puppet_facts::collect::format::json;
/// let v = serde_json::json!({"kvm": {}, "load": 0.5, "list": []});
/// assert_eq!(json(v.as_object().unwrap()), "{\n  \"kvm\": {\n  },\n  \"load\": 0.5,\n  \"list\": [\n\n  ]\n}");
/// ```
pub fn json(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_object(map, 0, &mut out);
    out
}

/// [`json`] of any value.
pub fn json_value(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, 0, &mut out);
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_object(map: &Map<String, Value>, depth: usize, out: &mut String) {
    out.push_str("{\n");
    let mut first = true;
    for (k, v) in map {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        indent(out, depth + 1);
        json_string(k, out);
        out.push_str(": ");
        write_json(v, depth + 1, out);
    }
    if !map.is_empty() {
        out.push('\n');
    }
    indent(out, depth);
    out.push('}');
}

fn write_json(v: &Value, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push_str("[\n");
            let mut first = true;
            for item in items {
                if !first {
                    out.push_str(",\n");
                }
                first = false;
                indent(out, depth + 1);
                write_json(item, depth + 1, out);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Object(m) => write_object(m, depth, out),
    }
}

fn number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        ruby::float_to_s(n.as_f64().unwrap_or(0.0))
    } else {
        n.to_string()
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// facter's `hash_to_facter_format`: pretty JSON with ` => `, unquoted keys, `\\` → `\`.
fn facter_format(v: &Value) -> String {
    let pretty = json_value(v);
    // gsub(/":\s/, '" => ')
    let mut replaced = String::with_capacity(pretty.len() + 64);
    let mut chars = pretty.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' && chars.peek() == Some(&':') {
            let mut look = chars.clone();
            look.next();
            if look.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
                chars.next();
                replaced.push_str("\" => ");
                continue;
            }
        }
        replaced.push(c);
    }
    // gsub(/\"(.*)\"\ =>/, '\1 =>') per line, greedy
    let lines: Vec<String> = replaced
        .split('\n')
        .map(|line| {
            if let (Some(start), Some(end)) = (line.find('"'), line.rfind("\" =>"))
                && start < end
            {
                return format!(
                    "{}{}{}",
                    &line[..start],
                    &line[start + 1..end],
                    &line[end + 1..]
                );
            }
            line.to_string()
        })
        .collect();
    lines.join("\n").replace("\\\\", "\\")
}

fn remove_enclosing_accolades(text: &str) -> String {
    let inner: String = {
        let mut chars = text.chars();
        chars.next();
        chars.next_back();
        chars.collect()
    };
    // gsub(/^$\n/, ''): drop empty lines followed by a newline
    let mut kept: Vec<&str> = Vec::new();
    let parts: Vec<&str> = inner.split('\n').collect();
    for (i, line) in parts.iter().enumerate() {
        if line.is_empty() && i + 1 < parts.len() {
            continue;
        }
        kept.push(line);
    }
    kept.iter()
        .map(|line| {
            let mut cs = line.chars();
            let (a, b) = (cs.next(), cs.next());
            let l = if a.is_some_and(char::is_whitespace) && b.is_some_and(char::is_whitespace) {
                cs.as_str()
            } else {
                line
            };
            if let Some(rest) = l.strip_prefix("},") {
                format!("}}{rest}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn remove_comma_and_quotation(text: &str) -> String {
    text.split('\n')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .skip_while(|l| l.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|line| {
            if line.starts_with(char::is_whitespace) {
                return line.to_string();
            }
            let line = line.strip_suffix(',').unwrap_or(line);
            let mut out = String::new();
            let mut prev = None;
            for c in line.chars() {
                if c == '"' && prev != Some('\\') {
                    prev = Some(c);
                    continue;
                }
                out.push(c);
                prev = Some(c);
            }
            out.replace("\\\"", "\"")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// facter's default text output with no query.
///
/// ```
/// use puppet_facts::collect::format::text;
/// use puppet_facts::collect::sort_map;
/// let v = serde_json::json!({"kernel": "Linux", "identity": {"uid": 0, "user": "root"}});
/// let facts = sort_map(v.as_object().unwrap().clone());
/// assert_eq!(text(&facts), "identity => {\n  uid => 0,\n  user => \"root\"\n}\nkernel => Linux");
/// ```
pub fn text(map: &Map<String, Value>) -> String {
    let pretty = facter_format(&Value::Object(map.clone()));
    let pretty = remove_enclosing_accolades(&pretty);
    remove_comma_and_quotation(&pretty).replace("\\n", "\n")
}

/// facter's text output for one query: a string raw, nothing for a missing value, else the
/// pretty JSON with ` => ` and unquoted keys.
pub fn text_single(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            let pretty = facter_format(v);
            pretty
                .split('\n')
                .map(|line| match line.strip_prefix('"') {
                    Some(rest) => match rest.rfind('"') {
                        Some(end) => format!("{}{}", &rest[..end], &rest[end + 1..]),
                        None => line.to_string(),
                    },
                    None => line.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// facter's text output for several queries (`map` keyed by query, sorted).
pub fn text_multiple(map: &Map<String, Value>) -> String {
    let shown: Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            let v = if v.is_null() {
                Value::String(String::new())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let pretty = facter_format(&Value::Object(shown));
    let pretty = remove_enclosing_accolades(&pretty);
    let text = remove_comma_and_quotation(&pretty).replace("\\n", "\n");
    // gsub(/^(\S*) => \"(.*)\"/, '\1 => \2')
    text.split('\n')
        .map(|line| {
            if let Some(i) = line.find(" => \"") {
                let key = &line[..i];
                let rest = &line[i + 5..];
                if !key.chars().any(char::is_whitespace)
                    && let Some(end) = rest.rfind('"')
                {
                    return format!("{key} => {}{}", &rest[..end], &rest[end + 1..]);
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// facter's `--yaml`: Psych block style without the `---` line; facter double-quotes any
/// scalar containing `y`, `n` or `:` (and a few others), Psych single-quotes strings that
/// would read back as another type.
///
/// ```
/// use puppet_facts::collect::format::yaml;
/// use puppet_facts::collect::sort_map;
/// let v = serde_json::json!({"kernel": "Linux", "os": {"release": {"major": "12"}}, "mtu": 1400});
/// let facts = sort_map(v.as_object().unwrap().clone());
/// assert_eq!(yaml(&facts), "kernel: \"Linux\"\nmtu: 1400\nos:\n  release:\n    major: '12'");
/// ```
pub fn yaml(map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return "--- {}".into();
    }
    let mut out = String::new();
    yaml_map(map, 0, &mut out);
    out.truncate(out.trim_end_matches('\n').len());
    out
}

fn yaml_map(map: &Map<String, Value>, ind: usize, out: &mut String) {
    for (k, v) in map {
        out.push_str(&" ".repeat(ind));
        out.push_str(k);
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                yaml_map(m, ind + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(a, ind, out);
            }
            other => {
                out.push(' ');
                out.push_str(&yaml_scalar(other, ind + 2));
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(items: &[Value], ind: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(ind));
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                let mut inner = String::new();
                yaml_map(m, ind + 2, &mut inner);
                out.push(' ');
                out.push_str(&inner[ind + 2..]);
            }
            Value::Array(a) if !a.is_empty() => {
                let mut inner = String::new();
                yaml_seq(a, ind + 2, &mut inner);
                out.push(' ');
                out.push_str(&inner[ind + 2..]);
            }
            other => {
                out.push(' ');
                out.push_str(&yaml_scalar(other, ind + 2));
                out.push('\n');
            }
        }
    }
}

/// facter's `needs_quote?`.
fn needs_quote(v: &str) -> bool {
    if v.contains("true") || v.contains("false") {
        return false;
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if v.contains(['y', 'Y', 'n', 'N', ':']) {
        return true;
    }
    if v.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let b = v.as_bytes();
    let digit_dot_digit = b
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit());
    !digit_dot_digit
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether Psych's scalar scanner would read the plain text as something other than a string.
fn reads_as_other(s: &str) -> bool {
    let v = super::yaml::load(s).ok().flatten();
    !matches!(v, Some(Value::String(ref t)) if t == s)
}

fn plain_allowed(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    !("-?:,[]{}#&*!|>'\"%@`".contains(first))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
        && !s.chars().any(|c| c.is_control())
}

fn yaml_string(s: &str, ind: usize) -> String {
    if needs_quote(s) {
        return double_quoted(s);
    }
    let trimmed_nl = s.strip_suffix('\n').unwrap_or(s);
    if trimmed_nl.contains('\n') {
        let chomp = if s.ends_with('\n') { "" } else { "-" };
        let pad = " ".repeat(ind);
        let body: Vec<String> = trimmed_nl
            .split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect();
        return format!("|{chomp}\n{}", body.join("\n"));
    }
    if s == "y" || s == "n" {
        return double_quoted(s);
    }
    let first_non_word = s
        .chars()
        .next()
        .is_some_and(|c| !(c.is_alphanumeric() || c == '_'));
    if first_non_word && !s.contains('"') {
        return double_quoted(s);
    }
    let octal_like = s.len() > 1 && s.starts_with('0') && {
        let rest: String = s[1..]
            .chars()
            .skip_while(|c| ('0'..='7').contains(c))
            .collect();
        rest.starts_with(['8', '9'])
    };
    if reads_as_other(s) || octal_like || s == "<<" {
        return single_quoted(s);
    }
    if plain_allowed(s) {
        s.to_string()
    } else if s.chars().any(|c| c.is_control()) {
        double_quoted(s)
    } else {
        single_quoted(s)
    }
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn yaml_scalar(v: &Value, ind: usize) -> String {
    match v {
        Value::Null => "\"\"".into(),
        Value::Bool(b) => (if *b { "true" } else { "false" }).into(),
        Value::Number(n) => {
            let text = number(n);
            if needs_quote(&text) {
                double_quoted(&text)
            } else {
                text
            }
        }
        Value::String(s) => yaml_string(s, ind),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}
