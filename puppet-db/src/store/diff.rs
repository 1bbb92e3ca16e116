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

#[cfg(test)]
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
#[cfg(test)]
pub(crate) fn facts<'a>(
    stored: &HashMap<String, String>,
    new: &'a Map<String, Value>,
) -> FactsDiff<'a> {
    let texts: Vec<(&str, &Value, String)> = new
        .iter()
        .map(|(name, value)| (name.as_str(), value, json_text(value)))
        .collect();
    facts_with_texts(
        stored,
        texts.iter().map(|(n, v, t)| (*n, *v, t.as_str())),
        new,
    )
}

/// [`facts`] with each new fact's value text already at hand (name, value, text: see
/// [`super::FactsText`]); `all` is the new factset's values.
pub(crate) fn facts_with_texts<'a, 't>(
    stored: &HashMap<String, String>,
    new: impl Iterator<Item = (&'a str, &'a Value, &'t str)>,
    all: &Map<String, Value>,
) -> FactsDiff<'a> {
    let mut diff = FactsDiff::default();
    for (name, value, text) in new {
        match stored.get(name) {
            Some(old) if old == text => {}
            Some(_) => diff.changed.push((name, value, text.to_string())),
            None => diff.added.push((name, value, text.to_string())),
        }
    }
    diff.removed = stored
        .keys()
        .filter(|name| !all.contains_key(name.as_str()))
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
    /// Where each of `written` is in the catalog's resources.
    pub written_index: Vec<usize>,
    /// Edges whose stored rows all go (the new catalog has them a different number of times,
    /// maybe none).
    pub edges_removed: Vec<EdgeKey>,
    /// Edges written after that (every copy the new catalog has of an edge in
    /// `edges_removed` or not stored at all), in the catalog's order.
    pub edges_written: Vec<&'a Edge>,
}

/// Compares the stored resources (`(type, title)` -> hash) and edges (one entry per row) of
/// a node with a new catalog's resources (with their hashes, in order) and edges.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn catalog<'a>(
    stored_resources: &HashMap<(String, String), String>,
    stored_edges: &[EdgeKey],
    resources: &'a [Resource],
    hashes: &'a [impl AsRef<str>],
    edges_new: &'a [Edge],
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
        let h = h.as_ref();
        if stored.get(&key) != Some(&h) {
            diff.written.push((r, h));
            diff.written_index.push(i);
        }
    }
    diff.removed = stored_resources
        .keys()
        .filter(|(ty, ti)| !last.contains_key(&(ty.as_str(), ti.as_str())))
        .cloned()
        .collect();
    diff.removed.sort();

    let stored: Vec<EdgeRef<'_>> = stored_edges
        .iter()
        .map(|(a, b, c, d, e)| (a.as_str(), b.as_str(), c.as_str(), d.as_str(), e.as_str()))
        .collect();
    edges(&stored, edges_new, &mut diff);
    diff
}

/// The edges part of [`catalog`]: by count per edge, every stored row of an edge whose count
/// differs goes, and every copy the new catalog has of it is written.
fn edges<'a>(stored: &[EdgeRef<'_>], edges: &'a [Edge], diff: &mut CatalogDiff<'a>) {
    let mut old: HashMap<EdgeRef<'_>, usize> = HashMap::with_capacity(stored.len());
    for k in stored {
        *old.entry(*k).or_default() += 1;
    }
    let mut new: HashMap<EdgeRef<'_>, usize> = HashMap::with_capacity(edges.len());
    for e in edges {
        *new.entry(edge_key(e)).or_default() += 1;
    }
    diff.edges_written = edges
        .iter()
        .filter(|e| {
            let k = edge_key(e);
            old.get(&k).copied().unwrap_or(0) != new.get(&k).copied().unwrap_or(0)
        })
        .collect();
    let mut removed: Vec<EdgeKey> = old
        .iter()
        .filter(|(k, n)| new.get(*k).copied().unwrap_or(0) != **n)
        .map(|(k, _)| owned_edge(*k))
        .collect();
    removed.sort();
    diff.edges_removed = removed;
}

/// An edge by what it links, borrowed.
type EdgeRef<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// A stored node's resources compared with a new catalog's while the stored rows are read,
/// in `(type, title)` order (the read's `ORDER BY type, title`: SQLite's BINARY order is
/// the byte order `str` compares in), so that nothing is copied for an unchanged row. The
/// same outcome as [`catalog`]'s resources.
pub(crate) struct ResourceMerge<'a, H> {
    resources: &'a [Resource],
    hashes: &'a [H],
    /// The new resources' indices by `(type, title)`, the last of each `(type, title)` only.
    order: Vec<usize>,
    /// How many of `order` the stored rows have gone past.
    next: usize,
    /// Per entry of `order`: stored with the same hash.
    same: Vec<bool>,
    removed: Vec<(String, String)>,
}

impl<'a, H: AsRef<str>> ResourceMerge<'a, H> {
    /// Ready for the stored rows of a node whose new catalog has `resources` (with their
    /// `hashes`, in the same order).
    pub fn new(resources: &'a [Resource], hashes: &'a [H]) -> Self {
        let key = |i: usize| (resources[i].r#type.as_str(), resources[i].title.as_str());
        let mut order: Vec<usize> = (0..resources.len().min(hashes.len())).collect();
        // Stable: of equal keys, the indices stay ascending; keep the last of each.
        order.sort_by(|&a, &b| key(a).cmp(&key(b)));
        let mut last: Vec<usize> = Vec::with_capacity(order.len());
        for (at, &i) in order.iter().enumerate() {
            if order.get(at + 1).is_none_or(|&j| key(j) != key(i)) {
                last.push(i);
            }
        }
        let same = vec![false; last.len()];
        ResourceMerge {
            resources,
            hashes,
            order: last,
            next: 0,
            same,
            removed: Vec::new(),
        }
    }

    fn key(&self, at: usize) -> (&'a str, &'a str) {
        let r = &self.resources[self.order[at]];
        (r.r#type.as_str(), r.title.as_str())
    }

    /// One stored row (rows come in ascending `(type, title)`).
    pub fn stored(&mut self, ty: &str, title: &str, hash: &str) {
        while self.next < self.order.len() && self.key(self.next) < (ty, title) {
            self.next += 1;
        }
        if self.next < self.order.len() && self.key(self.next) == (ty, title) {
            self.same[self.next] = self.hashes[self.order[self.next]].as_ref() == hash;
            self.next += 1;
        } else {
            self.removed.push((ty.to_string(), title.to_string()));
        }
    }

    /// The resources to write (new or changed, in the catalog's order) and to delete.
    pub fn finish(self, diff: &mut CatalogDiff<'a>) {
        let (resources, hashes) = (self.resources, self.hashes);
        let mut written: Vec<usize> = self
            .order
            .iter()
            .zip(&self.same)
            .filter(|(_, same)| !**same)
            .map(|(i, _)| *i)
            .collect();
        written.sort_unstable();
        diff.written = written
            .iter()
            .map(|&i| (&resources[i], hashes[i].as_ref()))
            .collect();
        diff.written_index = written;
        diff.removed = self.removed;
    }
}

/// A stored node's edges compared with a new catalog's while the stored rows are read:
/// while they are the new edges in the same order (a catalog compiled again from the same
/// code) nothing is copied; from the first difference on, every stored row is kept for
/// [`edges`]. The same outcome as [`catalog`]'s edges.
pub(crate) struct EdgeMatch<'a> {
    edges: &'a [Edge],
    /// The stored rows so far are `edges[..matched]`.
    matched: usize,
    /// Every stored row, once one differed.
    rows: Option<Vec<EdgeKey>>,
}

impl<'a> EdgeMatch<'a> {
    /// Ready for the stored rows of a node whose new catalog has `edges`.
    pub fn new(edges: &'a [Edge]) -> Self {
        EdgeMatch {
            edges,
            matched: 0,
            rows: None,
        }
    }

    /// One stored row.
    pub fn stored(&mut self, row: EdgeRef<'_>) {
        if let Some(rows) = &mut self.rows {
            rows.push(owned_edge(row));
            return;
        }
        if self
            .edges
            .get(self.matched)
            .is_some_and(|e| edge_key(e) == row)
        {
            self.matched += 1;
            return;
        }
        let mut rows: Vec<EdgeKey> = self.edges[..self.matched]
            .iter()
            .map(|e| owned_edge(edge_key(e)))
            .collect();
        rows.push(owned_edge(row));
        self.rows = Some(rows);
    }

    /// The edges to delete and to write.
    pub fn finish(self, diff: &mut CatalogDiff<'a>) {
        match self.rows {
            None if self.matched == self.edges.len() => {}
            None => {
                let stored: Vec<EdgeRef<'_>> =
                    self.edges[..self.matched].iter().map(edge_key).collect();
                edges(&stored, self.edges, diff);
            }
            Some(rows) => {
                let stored: Vec<EdgeRef<'_>> = rows
                    .iter()
                    .map(|(a, b, c, d, e)| {
                        (a.as_str(), b.as_str(), c.as_str(), d.as_str(), e.as_str())
                    })
                    .collect();
                edges(&stored, self.edges, diff);
            }
        }
    }
}

fn owned_edge((a, b, c, d, e): EdgeRef<'_>) -> EdgeKey {
    (
        a.to_string(),
        b.to_string(),
        c.to_string(),
        d.to_string(),
        e.to_string(),
    )
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

    use proptest::prelude::*;

    /// What the merge over stored rows read in `(type, title)` order and the edge match give
    /// is what [`catalog`] gives (the same rows to delete and to write).
    fn merged<'a>(
        stored: &HashMap<(String, String), String>,
        stored_edges: &[EdgeKey],
        resources: &'a [Resource],
        hashes: &'a [String],
        edges: &'a [Edge],
    ) -> CatalogDiff<'a> {
        let mut diff = CatalogDiff::default();
        let mut m = ResourceMerge::new(resources, hashes);
        let mut rows: Vec<_> = stored.iter().collect();
        rows.sort();
        for ((ty, ti), h) in rows {
            m.stored(ty, ti, h);
        }
        let mut e = EdgeMatch::new(edges);
        for (a, b, c, d, x) in stored_edges {
            e.stored((a, b, c, d, x));
        }
        m.finish(&mut diff);
        e.finish(&mut diff);
        diff
    }

    /// Removed resources, written ones (index, hash), removed edges, written edges (sorted).
    type Summary = (
        Vec<(String, String)>,
        Vec<(usize, String)>,
        Vec<EdgeKey>,
        Vec<EdgeKey>,
    );

    fn summary(d: &CatalogDiff<'_>) -> Summary {
        let written = d
            .written_index
            .iter()
            .zip(&d.written)
            .map(|(i, (_, h))| (*i, h.to_string()))
            .collect();
        let mut edges_written: Vec<EdgeKey> = d
            .edges_written
            .iter()
            .map(|e| owned_edge(edge_key(e)))
            .collect();
        edges_written.sort();
        (
            d.removed.clone(),
            written,
            d.edges_removed.clone(),
            edges_written,
        )
    }

    proptest! {
        #[test]
        fn merge_and_match_give_what_the_full_diff_gives(
            stored_res in proptest::collection::vec((0u8..3, 0u8..4, 0u8..3), 0..10),
            new_res in proptest::collection::vec((0u8..3, 0u8..4, 0u8..3), 0..10),
            stored_e in proptest::collection::vec((0u8..2, 0u8..3), 0..8),
            new_e in proptest::collection::vec((0u8..2, 0u8..3), 0..8),
            same_edges in any::<bool>(),
        ) {
            let stored: HashMap<(String, String), String> = stored_res
                .iter()
                .map(|(t, n, h)| ((format!("T{t}"), format!("/{n}")), format!("h{h}")))
                .collect();
            let resources: Vec<Resource> = new_res.iter().map(|(t, n, _)| {
                let mut r = res("File", &format!("/{n}"), 1);
                r.r#type = format!("T{t}");
                r
            }).collect();
            let hashes: Vec<String> = new_res.iter().map(|(_, _, h)| format!("h{h}")).collect();
            let k = |(s, t): &(u8, u8)| {
                let e = edge(&format!("c{s}"), &format!("/{t}"));
                (e.source_type, e.source_title, e.target_type, e.target_title, e.relationship)
            };
            let stored_edges: Vec<EdgeKey> = stored_e.iter().map(k).collect();
            let edges: Vec<Edge> = if same_edges {
                stored_e.iter().map(|(s, t)| edge(&format!("c{s}"), &format!("/{t}"))).collect()
            } else {
                new_e.iter().map(|(s, t)| edge(&format!("c{s}"), &format!("/{t}"))).collect()
            };
            let full = catalog(&stored, &stored_edges, &resources, &hashes, &edges);
            let fast = merged(&stored, &stored_edges, &resources, &hashes, &edges);
            prop_assert_eq!(summary(&full), summary(&fast));
        }
    }
}
