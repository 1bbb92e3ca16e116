//! Lookup of a value by dotted path, as `facter QUERY` does it.

use serde_json::{Map, Value};

/// Follows `path` the way facter 4.3's query does (`Facter::FactCollection#value`):
///
/// 1. a top-level key equal to the whole `path` wins (so a fact whose name contains dots, such
///    as a custom fact `my.fact`, is found by its name);
/// 2. otherwise `path` is split on every `.`; each segment selects a key of a hash, or, if the
///    value is an array and the segment is all ASCII digits, the element at that index.
pub(crate) fn get<'a>(values: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = values.get(path) {
        return Some(value);
    }
    get_in(values, path.split('.'))
}

/// Follows already split segments: no segment is split further, so keys containing dots can be
/// reached at any depth.
pub(crate) fn get_in<I, S>(values: &Map<String, Value>, segments: I) -> Option<&Value>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut segments = segments.into_iter();
    let first = segments.next()?;
    let mut current = values.get(first.as_ref())?;
    for segment in segments {
        current = step(current, segment.as_ref())?;
    }
    Some(current)
}

/// One step down: a key of a hash, or an index into an array.
fn step<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => index(segment).and_then(|i| items.get(i)),
        _ => None,
    }
}

/// An array index as facter reads one: ASCII digits only (no sign), leading zeros allowed.
fn index(segment: &str) -> Option<usize> {
    if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> Map<String, Value> {
        match json!({
            "os": {"family": "Debian", "release": {"major": "12"}},
            "processors": {"models": ["a", "b"]},
            "my.fact": 1,
            "my": {"fact": 2, "0": "zero", "a.b": 3},
            "nested": [[10, 11], {"k": "v"}]
        }) {
            Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn hash_keys() {
        let v = values();
        assert_eq!(get(&v, "os.family"), Some(&json!("Debian")));
        assert_eq!(get(&v, "os.release.major"), Some(&json!("12")));
        assert_eq!(get(&v, "os"), v.get("os"));
        assert_eq!(get(&v, "os.missing"), None);
        assert_eq!(get(&v, "os.family.more"), None);
        assert_eq!(get(&v, "missing"), None);
        assert_eq!(get(&v, ""), None);
    }

    #[test]
    fn array_indices() {
        let v = values();
        assert_eq!(get(&v, "processors.models.0"), Some(&json!("a")));
        assert_eq!(get(&v, "processors.models.1"), Some(&json!("b")));
        assert_eq!(get(&v, "processors.models.01"), Some(&json!("b")));
        assert_eq!(get(&v, "processors.models.2"), None);
        assert_eq!(get(&v, "processors.models.-1"), None);
        assert_eq!(get(&v, "processors.models.+1"), None);
        assert_eq!(get(&v, "processors.models.x"), None);
        assert_eq!(get(&v, "processors.models.99999999999999999999999"), None);
        assert_eq!(get(&v, "nested.0.1"), Some(&json!(11)));
        assert_eq!(get(&v, "nested.1.k"), Some(&json!("v")));
    }

    #[test]
    fn digits_are_keys_in_hashes() {
        assert_eq!(get(&values(), "my.0"), Some(&json!("zero")));
    }

    #[test]
    fn whole_name_first() {
        let v = values();
        // Facter finds the top-level fact named `my.fact` before walking into `my`.
        assert_eq!(get(&v, "my.fact"), Some(&json!(1)));
        // A dotted key below the top level is only reachable with segments.
        assert_eq!(get(&v, "my.a.b"), None);
        assert_eq!(get_in(&v, ["my", "a.b"]), Some(&json!(3)));
        assert_eq!(get_in(&v, ["my", "fact"]), Some(&json!(2)));
        assert_eq!(get_in(&v, ["my.fact"]), Some(&json!(1)));
        assert_eq!(get_in(&v, Vec::<&str>::new()), None);
    }
}
