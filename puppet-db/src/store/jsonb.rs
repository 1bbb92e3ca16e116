//! PostgreSQL's `jsonb` semantics for the SQLite backend: the text a value has as `jsonb #>>
//! '{}'` (what `~` on a JSON value matches, as PuppetDB runs it on PostgreSQL) and the order
//! of `jsonb` values (what `order_by` on a JSON value sorts by). PuppetDB keeps fact values as
//! `jsonb`; the SQLite backend keeps JSON text and answers through these, so both backends
//! answer as PuppetDB does.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// The text of `v` as PostgreSQL's `jsonb #>> '{}'` gives it: a string as itself, a number
/// in `numeric`'s plain notation, `true`/`false`, SQL NULL for `null`, and a container in
/// `jsonb`'s output form (keys shortest first, `": "` and `", "` between items).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => {
            let mut out = String::new();
            write(v, &mut out);
            Some(out)
        }
    }
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in sorted_keys(map).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write(item, out);
            }
            out.push('}');
        }
    }
}

/// An object's entries in `jsonb`'s storage order: shorter keys first, then bytewise.
fn sorted_keys(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(b.0)));
    entries
}

/// A JSON number as `numeric` prints it: plain notation, no exponent, no negative zero.
fn number_text(n: &Number) -> String {
    let s = n.to_string();
    let Some(e) = s.find(['e', 'E']) else {
        return if n.as_f64() == Some(0.0) {
            s.trim_start_matches('-').to_string()
        } else {
            s
        };
    };
    let (mantissa, exponent) = (&s[..e], &s[e + 1..]);
    let Ok(exponent) = exponent.parse::<i64>() else {
        return s;
    };
    let negative = mantissa.starts_with('-');
    let mantissa = mantissa.trim_start_matches('-');
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    // The decimal point's position in `digits`.
    let point = int.len() as i64 + exponent;
    let mut out = String::new();
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(usize::try_from(-point).unwrap_or(0)));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    let trimmed = out.trim_start_matches('0');
    let out = if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    };
    if negative && out.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        format!("-{out}")
    } else {
        out
    }
}

/// `jsonb`'s type order: null < string < number < boolean < array < object.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::String(_) => 1,
        Value::Number(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The order of two `jsonb` values as PostgreSQL's btree sorts them (a top-level empty array
/// sorts below every scalar, as PostgreSQL's does; strings bytewise, as in the C collation).
pub(crate) fn cmp(a: &Value, b: &Value) -> Ordering {
    let top_empty = |v: &Value| v.as_array().is_some_and(Vec::is_empty);
    let scalar = |v: &Value| !v.is_array() && !v.is_object();
    if top_empty(a) && scalar(b) {
        return Ordering::Less;
    }
    if scalar(a) && top_empty(b) {
        return Ordering::Greater;
    }
    cmp_nested(a, b)
}

fn cmp_nested(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| cmp_nested(p, q))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        (Value::Object(x), Value::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            sorted_keys(x)
                .into_iter()
                .zip(sorted_keys(y))
                .map(|((k1, v1), (k2, v2))| {
                    k1.as_bytes()
                        .cmp(k2.as_bytes())
                        .then_with(|| cmp_nested(v1, v2))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(p), Some(q)) = (x.as_i64(), y.as_i64()) {
        return p.cmp(&q);
    }
    if let (Some(p), Some(q)) = (x.as_u64(), y.as_u64()) {
        return p.cmp(&q);
    }
    let (p, q) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    p.partial_cmp(&q).unwrap_or(Ordering::Equal)
}

/// [`cmp`] of two JSON texts; text that is not JSON sorts by its bytes, after JSON.
pub(crate) fn cmp_text(a: &str, b: &str) -> Ordering {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => cmp(&x, &y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_what_postgresql_answers_for_jsonb_text() {
        assert_eq!(text(&json!("a b")), Some("a b".to_string()));
        assert_eq!(text(&json!(null)), None);
        assert_eq!(text(&json!(true)), Some("true".to_string()));
        assert_eq!(text(&json!(0.5)), Some("0.5".to_string()));
        assert_eq!(
            text(&json!(1e20)),
            Some("100000000000000000000".to_string())
        );
        assert_eq!(text(&json!(1.5e-7)), Some("0.00000015".to_string()));
        assert_eq!(text(&json!(-0.0)), Some("0.0".to_string()));
        assert_eq!(
            text(&json!({"level": 3, "a": [1, "x", null], "b\"": {}})),
            Some(r#"{"a": [1, "x", null], "b\"": {}, "level": 3}"#.to_string())
        );
    }

    #[test]
    fn order_is_jsonb_order() {
        let sorted = [
            json!([]),
            json!(null),
            json!(""),
            json!("B"),
            json!("a"),
            json!(-2),
            json!(0.5),
            json!(10),
            json!(false),
            json!(true),
            json!([9]),
            json!(["a", 1]),
            json!([1, 2, 3]),
            json!({"z": 1}),
            json!({"b": 1, "aa": 0}),
            json!({"b": 2, "aa": 0}),
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(cmp_text("1", "1.0"), Ordering::Equal);
        assert_eq!(cmp_text("x", "1"), Ordering::Greater);
    }
}
