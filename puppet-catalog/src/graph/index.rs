//! Looking references up: `(type, title)` to a resource, aliases included, and the set of
//! `(source, target)` pairs the builder has added.
//!
//! Both are `hashbrown` tables with its default hasher (foldhash, randomly seeded per table).
//! The reference index is a [`HashTable`] of small entries that point into one string arena
//! holding every key's text back to back, so building it allocates once per table instead of
//! once per key, and a lookup hashes the two borrowed strings it is given.

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashSet, HashTable};
use serde_json::Value;

use super::build::Params;
use crate::{Resource, ResourceRef};

/// A file path as the agent's `File` munges it: repeated slashes collapsed, trailing slashes
/// dropped (the root stays `/`).
pub(super) fn normalize_path(path: &str) -> Cow<'_, str> {
    let clean = !path.contains("//") && (path.len() <= 1 || !path.ends_with('/'));
    if clean {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    Cow::Owned(out)
}

/// Lookup of `(type, title)` to a resource index: titles, plus aliases (a `File`'s `path`, a
/// resource's `name`, `alias` metaparameters, `File` titles with slashes normalized).
#[derive(Debug, Clone, Default)]
pub(super) struct RefIndex {
    table: HashTable<Entry>,
    hasher: DefaultHashBuilder,
    /// `type` then `title` of every key, back to back.
    arena: String,
}

/// One key of the index: where its text lies in the arena, and its resource.
#[derive(Debug, Clone, Copy)]
struct Entry {
    vertex: u32,
    start: u32,
    type_len: u32,
    title_len: u32,
}

impl Entry {
    /// The key's `(type, title)`.
    fn key<'a>(&self, arena: &'a str) -> (&'a str, &'a str) {
        let start = self.start as usize;
        let mid = start + self.type_len as usize;
        (
            &arena[start..mid],
            &arena[mid..mid + self.title_len as usize],
        )
    }
}

impl RefIndex {
    pub(super) fn build(names: &[ResourceRef], resources: &[Resource]) -> RefIndex {
        let mut index = RefIndex {
            table: HashTable::with_capacity(names.len()),
            hasher: DefaultHashBuilder::default(),
            arena: String::with_capacity(
                names
                    .iter()
                    .map(|n| n.type_name.len() + n.title.len())
                    .sum(),
            ),
        };
        for (i, (name, r)) in names.iter().zip(resources).enumerate() {
            let v = i as u32;
            index.insert(v, &name.type_name, &name.title);
            let is_file = name.type_name == "File";
            if is_file {
                let norm = normalize_path(&name.title);
                if norm != name.title.as_str() {
                    index.insert(v, "File", &norm);
                }
            }
            if r.parameters.is_none() {
                continue;
            }
            let params = Params::of(r);
            let namevar = if is_file { "path" } else { "name" };
            if let Some(Value::String(n)) = params.get(namevar) {
                let n = if is_file {
                    normalize_path(n)
                } else {
                    Cow::Borrowed(n.as_str())
                };
                index.insert(v, &name.type_name, &n);
            }
            match params.get("alias") {
                Some(Value::String(a)) => index.insert(v, &name.type_name, a),
                Some(Value::Array(list)) => {
                    for a in list.iter().filter_map(Value::as_str) {
                        index.insert(v, &name.type_name, a);
                    }
                }
                _ => {}
            }
        }
        index
    }

    fn hash(&self, ty: &str, title: &str) -> u64 {
        self.hasher.hash_one((ty, title))
    }

    /// Adds a key; the first resource with a key keeps it.
    fn insert(&mut self, v: u32, ty: &str, title: &str) {
        let hash = self.hash(ty, title);
        let RefIndex {
            table,
            hasher,
            arena,
        } = self;
        if table.find(hash, |e| e.key(arena) == (ty, title)).is_some() {
            return;
        }
        let entry = Entry {
            vertex: v,
            start: arena.len() as u32,
            type_len: ty.len() as u32,
            title_len: title.len() as u32,
        };
        table.insert_unique(hash, entry, |e| hasher.hash_one(e.key(arena)));
        arena.push_str(ty);
        arena.push_str(title);
    }

    fn get_raw(&self, ty: &str, title: &str) -> Option<u32> {
        let hash = self.hash(ty, title);
        self.table
            .find(hash, |e| e.key(&self.arena) == (ty, title))
            .map(|e| e.vertex)
    }

    /// Looks a reference up the way `catalog.resource(type, title)` does.
    pub(super) fn get(&self, ty: &str, title: &str) -> Option<u32> {
        if let Some(v) = self.get_raw(ty, title) {
            return Some(v);
        }
        if ty == "File" {
            let norm = normalize_path(title);
            if norm != title {
                return self.get_raw(ty, &norm);
            }
        }
        None
    }
}

/// A set of `(source, target)` pairs.
#[derive(Debug, Default)]
pub(super) struct PairSet(HashSet<u64>);

impl PairSet {
    fn key(s: u32, t: u32) -> u64 {
        (u64::from(s) << 32) | u64::from(t)
    }

    pub(super) fn insert(&mut self, s: u32, t: u32) {
        self.0.insert(Self::key(s, t));
    }

    pub(super) fn contains(&self, s: u32, t: u32) -> bool {
        self.0.contains(&Self::key(s, t))
    }
}
