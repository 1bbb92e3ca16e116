//! What a replaced factset or catalog changes in the stored one, so that a backend writes
//! only that (PuppetDB does the same: fact values by path, resources by their hash, edges).
//!
//! Both backends read the node's stored rows (facts by name with their value's JSON text;
//! resources by `(type, title)` with their hash; edges), ask these functions what differs,
//! and delete and write only those rows. The stored state afterwards is the one a full
//! rewrite gives: a fact whose value's JSON text is unchanged has, by construction, the same
//! `fact_values` rows; a resource whose hash is unchanged has the same columns (the hash
//! covers every stored column: type, title, exported, file, line, tags, parameters).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::json_text;
use crate::command::{Edge, Resource};

/// The facts of a replaced factset to delete and to write.
#[derive(Debug, Default)]
pub(crate) struct FactsDiff<'a> {
    /// Stored facts the new factset does not have (their `facts` and `fact_values` rows go).
    pub removed: Vec<String>,
    /// Stored facts whose value changed: their old rows go, the new ones are written.
    pub changed: Vec<(&'a str, &'a Value, String)>,
    /// Facts the node did not have: only written.
    pub added: Vec<(&'a str, &'a Value, String)>,
}

impl FactsDiff<'_> {
    /// Facts whose rows are written (changed and added), with their value's JSON text.
    pub fn written(&self) -> impl Iterator<Item = &(&str, &Value, String)> {
        self.changed.iter().chain(&self.added)
    }
}

/// Compares the stored facts (name -> value JSON text, as both backends keep it) with a new
/// factset's values.
pub(crate) fn facts<'a>(
    stored: &HashMap<String, String>,
    new: &'a Map<String, Value>,
) -> FactsDiff<'a> {
    let mut diff = FactsDiff::default();
    for (name, value) in new {
        let text = json_text(value);
        match stored.get(name) {
            Some(old) if *old == text => {}
            Some(_) => diff.changed.push((name, value, text)),
            None => diff.added.push((name, value, text)),
        }
    }
    diff.removed = stored
        .keys()
        .filter(|name| !new.contains_key(name.as_str()))
        .cloned()
        .collect();
    diff.removed.sort();
    diff
}

/// An edge as stored: source type and title, target type and title, relationship.
pub(crate) type EdgeKey = (String, String, String, String, String);

fn edge_key(e: &Edge) -> (&str, &str, &str, &str, &str) {
    (
        &e.source_type,
        &e.source_title,
        &e.target_type,
        &e.target_title,
        &e.relationship,
    )
}

/// The rows of a replaced catalog to delete and to write.
#[derive(Debug, Default)]
pub(crate) struct CatalogDiff<'a> {
    /// Stored resources `(type, title)` the new catalog does not have.
    pub removed: Vec<(String, String)>,
    /// Resources new or with another hash (one per `(type, title)`: of several with the same
    /// type and title, the last one, as a full write keeps it), with their hash.
    pub written: Vec<(&'a Resource, &'a str)>,
    /// Edges whose stored rows all go (the new catalog has them a different number of times,
    /// maybe none).
    pub edges_removed: Vec<EdgeKey>,
    /// Edges written after that (every copy the new catalog has of an edge in
    /// `edges_removed` or not stored at all), in the catalog's order.
    pub edges_written: Vec<&'a Edge>,
}

/// Compares the stored resources (`(type, title)` -> hash) and edges (one entry per row) of
/// a node with a new catalog's resources (with their hashes, in order) and edges.
pub(crate) fn catalog<'a>(
    stored_resources: &HashMap<(String, String), String>,
    stored_edges: &[EdgeKey],
    resources: &'a [Resource],
    hashes: &'a [String],
    edges: &'a [Edge],
) -> CatalogDiff<'a> {
    let mut diff = CatalogDiff::default();
    // The last resource of each (type, title) wins.
    let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(resources.len());
    for (i, r) in resources.iter().enumerate() {
        last.insert((&r.r#type, &r.title), i);
    }
    // The stored ones by borrowed keys (no key copied per lookup).
    let stored: HashMap<(&str, &str), &str> = stored_resources
        .iter()
        .map(|((ty, ti), h)| ((ty.as_str(), ti.as_str()), h.as_str()))
        .collect();
    for (i, (r, h)) in resources.iter().zip(hashes).enumerate() {
        let key = (r.r#type.as_str(), r.title.as_str());
        if last.get(&key) != Some(&i) {
            continue;
        }
        if stored.get(&key) != Some(&h.as_str()) {
            diff.written.push((r, h));
        }
    }
    diff.removed = stored_resources
        .keys()
        .filter(|(ty, ti)| !last.contains_key(&(ty.as_str(), ti.as_str())))
        .cloned()
        .collect();
    diff.removed.sort();

    let mut old: HashMap<(&str, &str, &str, &str, &str), usize> = HashMap::new();
    for (a, b, c, d, e) in stored_edges {
        *old.entry((a, b, c, d, e)).or_default() += 1;
    }
    let mut new: HashMap<(&str, &str, &str, &str, &str), usize> = HashMap::new();
    for e in edges {
        *new.entry(edge_key(e)).or_default() += 1;
    }
    for e in edges {
        let k = edge_key(e);
        if old.get(&k).copied().unwrap_or(0) != new[&k] {
            diff.edges_written.push(e);
        }
    }
    let mut removed: Vec<EdgeKey> = old
        .iter()
        .filter(|(k, n)| new.get(*k).copied().unwrap_or(0) != **n)
        .map(|((a, b, c, d, e), _)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    removed.sort();
    diff.edges_removed = removed;
    diff
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(ty: &str, title: &str, line: i64) -> Resource {
        Resource {
            r#type: ty.into(),
            title: title.into(),
            exported: false,
            file: None,
            line: Some(line),
            tags: vec![],
            parameters: Map::new(),
        }
    }

    fn edge(s: &str, t: &str) -> Edge {
        Edge {
            source_type: "Class".into(),
            source_title: s.into(),
            target_type: "File".into(),
            target_title: t.into(),
            relationship: "contains".into(),
        }
    }

    #[test]
    fn facts_removed_changed_added_and_unchanged() {
        let stored: HashMap<String, String> =
            [("kernel", "\"Linux\""), ("uptime", "1"), ("gone", "true")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let new = json!({"kernel": "Linux", "uptime": 2, "os": {"family": "Debian"}});
        let d = facts(&stored, new.as_object().unwrap());
        assert_eq!(d.removed, vec!["gone".to_string()]);
        let changed: Vec<&str> = d.changed.iter().map(|c| c.0).collect();
        assert_eq!(changed, vec!["uptime"]);
        let added: Vec<(&str, &str)> = d.added.iter().map(|c| (c.0, c.2.as_str())).collect();
        assert_eq!(added, vec![("os", r#"{"family":"Debian"}"#)]);
    }

    #[test]
    fn catalog_by_hash_last_duplicate_wins_and_edges_by_count() {
        let stored: HashMap<(String, String), String> = [
            (("File", "/a"), "h1"),
            (("File", "/b"), "h2"),
            (("File", "/gone"), "h3"),
        ]
        .into_iter()
        .map(|((a, b), h)| ((a.to_string(), b.to_string()), h.to_string()))
        .collect();
        let resources = vec![
            res("File", "/a", 1),
            res("File", "/b", 2),
            res("File", "/b", 3),
            res("File", "/c", 4),
        ];
        let hashes: Vec<String> = ["h1", "h2", "h2b", "h4"].map(String::from).to_vec();
        let k = |s: &str, t: &str| {
            let e = edge(s, t);
            (
                e.source_type,
                e.source_title,
                e.target_type,
                e.target_title,
                e.relationship,
            )
        };
        let stored_edges = vec![k("main", "/a"), k("main", "/a"), k("main", "/gone")];
        let edges = vec![edge("main", "/a"), edge("main", "/c")];
        let d = catalog(&stored, &stored_edges, &resources, &hashes, &edges);
        let written: Vec<(&str, i64, &str)> = d
            .written
            .iter()
            .map(|(r, h)| (r.title.as_str(), r.line.unwrap(), *h))
            .collect();
        assert_eq!(written, vec![("/b", 3, "h2b"), ("/c", 4, "h4")]);
        assert_eq!(d.removed, vec![("File".to_string(), "/gone".to_string())]);
        assert_eq!(d.edges_removed, vec![k("main", "/a"), k("main", "/gone")]);
        let titles: Vec<&str> = d
            .edges_written
            .iter()
            .map(|e| e.target_title.as_str())
            .collect();
        assert_eq!(titles, vec!["/a", "/c"]);
    }
}
