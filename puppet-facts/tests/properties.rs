//! Properties over arbitrary JSON: lossless round-trip, dotted lookup, no panics.

use proptest::prelude::*;
use puppet_facts::Facts;
use serde_json::{Map, Number, Value};

/// Keys: mostly plain, sometimes with dots, digits, quotes, empty or non-ASCII.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,8}",
        1 => "[0-9]{1,3}",
        1 => "[a-z.\"' /-]{0,6}",
        1 => "\\PC{0,4}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn values() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), json()), 0..8).prop_map(|entries| entries.into_iter().collect())
}

/// A facts document with arbitrary values, optional stamps and unknown top-level keys.
fn document() -> impl Strategy<Value = Value> {
    (
        "\\PC{0,12}",
        values(),
        prop::option::of("\\PC{0,12}"),
        prop::option::of("\\PC{0,12}"),
        prop::collection::vec(("x_[a-z]{0,6}", json()), 0..3),
    )
        .prop_map(|(name, values, timestamp, expiration, extra)| {
            let mut doc = Map::new();
            for (k, v) in extra {
                doc.insert(k, v);
            }
            doc.insert("name".into(), Value::String(name));
            doc.insert("values".into(), Value::Object(values));
            if let Some(t) = timestamp {
                doc.insert("timestamp".into(), Value::String(t));
            }
            if let Some(e) = expiration {
                doc.insert("expiration".into(), Value::String(e));
            }
            Value::Object(doc)
        })
}

/// Every value below the top level, with its path as segments.
fn paths(values: &Map<String, Value>) -> Vec<(Vec<String>, Value)> {
    fn go(path: &mut Vec<String>, value: &Value, out: &mut Vec<(Vec<String>, Value)>) {
        out.push((path.clone(), value.clone()));
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    path.push(k.clone());
                    go(path, v, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(i.to_string());
                    go(path, v, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, v) in values {
        go(&mut vec![k.clone()], v, &mut out);
    }
    out
}

proptest! {
    #[test]
    fn parse_then_serialize_gives_the_same_json(doc in document()) {
        let bytes = serde_json::to_vec(&doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let facts = Facts::from_json(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let written = facts.to_json().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: Value = serde_json::from_str(&written).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &doc);
        // `values` keeps its order exactly.
        let in_order: Vec<&String> = facts.values.keys().collect();
        let expected: Vec<&String> = doc["values"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
        prop_assert_eq!(in_order, expected);
        // And a second round gives the same bytes.
        let facts2 = Facts::from_json(written.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(facts2.to_json().ok(), Some(written));
        prop_assert_eq!(facts2, facts);
    }

    #[test]
    fn every_value_is_found_by_its_segments(values in values()) {
        let facts = Facts::new("n", values.clone());
        for (segments, value) in paths(&values) {
            prop_assert_eq!(facts.get_in(&segments), Some(&value), "{:?}", segments);
        }
    }

    #[test]
    fn dotted_paths_find_what_segments_find(values in values()) {
        let facts = Facts::new("n", values.clone());
        for (segments, value) in paths(&values) {
            let dotted = segments.join(".");
            if segments.iter().any(|s| s.contains('.')) {
                continue;
            }
            // A top-level fact named like the whole path wins, as in facter.
            let expected = values.get(&dotted).unwrap_or(&value);
            prop_assert_eq!(facts.get(&dotted), Some(expected), "{}", dotted);
        }
    }

    #[test]
    fn lookups_and_views_never_panic(values in values(), path in "\\PC{0,16}") {
        let facts = Facts::new("n", values);
        let _ = facts.get(&path);
        let _ = facts.get_in(path.split('/'));
        let _ = (facts.os(), facts.kernel(), facts.networking(), facts.processors());
        let _ = (facts.memory(), facts.identity(), facts.hostname(), facts.domain(), facts.fqdn());
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_a_document(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(facts) = Facts::from_json(&bytes) {
            prop_assert!(facts.to_json().is_ok());
        }
    }

    #[test]
    fn arbitrary_json_is_an_error_or_a_document(value in json()) {
        let bytes = serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match Facts::from_json(&bytes) {
            Ok(facts) => {
                let again: Value = serde_json::from_str(&facts.to_json().unwrap_or_default())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(again, value);
            }
            Err(puppet_facts::FactsError::Parse { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}

#[cfg(feature = "collect")]
mod collect {
    use super::*;
    use puppet_facts::collect::{external, format, sort_map};

    proptest! {
        /// facter's JSON layout is still JSON, and reads back as the same value (Ruby's float
        /// formatting included).
        #[test]
        fn facter_json_reads_back_as_the_same_value(values in values()) {
            let sorted = sort_map(values);
            let text = format::json(&sorted);
            let back: Value = serde_json::from_str(&text).expect("our JSON is JSON");
            prop_assert_eq!(back, Value::Object(sorted));
        }

        /// Every output format and query takes any facts without panicking.
        #[test]
        fn formats_never_panic(values in values()) {
            let sorted = sort_map(values);
            let _ = format::text(&sorted);
            let _ = format::yaml(&sorted);
            let _ = format::text_multiple(&sorted);
            for v in sorted.values() {
                let _ = format::text_single(Some(v));
            }
        }

        /// External fact parsers take any text: facts or a typed error, never a panic.
        #[test]
        fn external_parsers_never_panic(text in "\\PC{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = external::from_yaml(&text);
            let _ = external::from_json(&text);
            let _ = external::from_key_values(&text);
            let lossy = String::from_utf8_lossy(&bytes);
            let _ = external::from_yaml(&lossy);
            let _ = external::from_json(&lossy);
        }

        /// YAML-looking input built from keys and scalars gives a fact per top-level key.
        #[test]
        fn yaml_hashes_give_one_fact_per_key(entries in prop::collection::btree_map("[a-z][a-z0-9_]{0,8}", "[a-z]{1,8}", 0..8)) {
            let text: String = entries.iter().map(|(k, v)| format!("{k}: x{v}\n")).collect();
            let facts = external::from_yaml(&text).expect("valid YAML");
            prop_assert_eq!(facts.len(), entries.len());
        }
    }
}
