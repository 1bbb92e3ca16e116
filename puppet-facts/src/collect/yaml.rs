//! YAML as Ruby's Psych loads it for facter (YAML 1.1 scalars: `yes`/`no`/`on`/`off` are
//! booleans, `0777` is octal, `1_000` is 1000), built from saphyr-parser's events into JSON
//! values. Hash keys become strings, as facter stringifies them.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// Parses one YAML document; an empty document is `Ok(None)`.
pub(crate) fn load(text: &str) -> Result<Option<Value>, String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    let mut nodes = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, _span) = item.map_err(|e| e.to_string())?;
        let (value, anchor) = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    break; // facter reads the first document only
                }
                continue;
            }
            Event::DocumentEnd => continue,
            Event::Alias(id) => {
                let v = anchors.get(&id).cloned().unwrap_or(Value::Null);
                nodes += node_count(&v);
                if nodes > MAX_NODES {
                    return Err(format!("aliases expand to more than {MAX_NODES} values"));
                }
                (v, 0)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let v = if style == ScalarStyle::Plain && !tagged_str {
                    resolve_plain(&text)
                } else {
                    Value::String(text.into_owned())
                };
                (v, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                check_depth(stack.len())?;
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                check_depth(stack.len())?;
                stack.push(Frame::Map(Map::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => (Value::Array(items), anchor),
                _ => return Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, _, anchor)) => (Value::Object(map), anchor),
                _ => return Err("unbalanced mapping".into()),
            },
        };
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => *key = Some(key_string(&value)),
                Some(k) if k == "<<" => merge(map, value),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
    Ok(root)
}

/// Nesting deeper than serde_json reads (128) is refused, so that printing and dropping the
/// value cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

fn check_depth(depth: usize) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(())
}

/// Aliases may expand to at most this many values ("billion laughs").
const MAX_NODES: usize = 1_000_000;

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

fn merge(map: &mut Map<String, Value>, value: Value) {
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => return,
    };
    for m in sources {
        for (k, v) in m {
            map.entry(k).or_insert(v);
        }
    }
}

fn key_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Psych's resolution of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "yes" | "true" | "on" => return Value::Bool(true),
        "no" | "false" | "off" => return Value::Bool(false),
        ".inf" | "+.inf" | "-.inf" | ".nan" => return Value::String(text.to_string()),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    if let Some(f) = float(text)
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn integer(text: &str) -> Option<Number> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let clean = |s: &str| s.replace(['_', ','], "");
    let (digits, radix) = if let Some(b) = body.strip_prefix("0b") {
        (clean(b), 2)
    } else if let Some(h) = body.strip_prefix("0x") {
        (clean(h), 16)
    } else if body.len() > 1 && body.starts_with('0') {
        (clean(&body[1..]), 8)
    } else {
        let b = body.as_bytes();
        if b.is_empty() || !b[0].is_ascii_digit() {
            return None;
        }
        // digits, each `,` or `_` followed by a digit
        let ok = b.iter().enumerate().all(|(i, c)| {
            c.is_ascii_digit()
                || ((*c == b',' || *c == b'_') && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        if !ok {
            return None;
        }
        (clean(body), 10)
    };
    if digits.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        let v = i64::try_from(magnitude).ok()?;
        Some(Number::from(-v))
    } else {
        Some(Number::from(magnitude))
    }
}

fn float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let int_ok = int.is_empty()
        || (int.as_bytes()[0].is_ascii_digit()
            && int
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'_' || b == b','));
    let frac_ok = frac.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| {
        e.len() > 1
            && matches!(e.as_bytes()[0], b'-' | b'+')
            && e[1..].bytes().all(|b| b.is_ascii_digit())
    });
    if !(int_ok && frac_ok && exp_ok) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    text.replace(['_', ','], "").parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars() {
        let v =
            load("a: yes\nb: 'yes'\nc: 0777\nd: 1_000\ne: 1.5\nf: ~\ng: 2020-01-02\nh: !!str 12\n")
                .unwrap()
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": "yes", "c": 511, "d": 1000, "e": 1.5, "f": null,
                               "g": "2020-01-02", "h": "12"})
        );
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(load(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(load(&ok).is_ok());
    }

    #[test]
    fn alias_bombs_are_an_error() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in "bcdefghi".chars() {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
            prev = name;
        }
        assert!(load(&text).is_err());
    }

    #[test]
    fn anchors_and_merge() {
        let v = load("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
            .unwrap()
            .unwrap();
        assert_eq!(v["other"], serde_json::json!({"y": 2, "x": 1}));
    }
}
