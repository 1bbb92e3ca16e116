//! The last catalog sent to each node, encoded and gzipped, to send again while the
//! compiler's [`cache_key`](super::CatalogCompiler::cache_key) for the node's request stays
//! the same. One entry per node (its last catalog), bounded in bytes; the oldest entries go
//! first when the bound is reached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

/// A catalog as it was sent.
#[derive(Debug)]
pub(crate) struct SentCatalog {
    /// The environment, `static_catalog` and the compiler's key it was compiled under.
    pub(crate) key: String,
    /// The JSON document.
    pub(crate) plain: Bytes,
    /// The same, gzipped.
    pub(crate) gzip: Option<Bytes>,
    /// The catalog's `code_id`, for [`super::FileServer::catalog_served`].
    pub(crate) code_id: Option<String>,
}

impl SentCatalog {
    fn size(&self) -> usize {
        self.plain.len() + self.gzip.as_ref().map_or(0, Bytes::len) + self.key.len()
    }
}

#[derive(Default)]
struct State {
    /// certname -> (insertion order, entry).
    entries: HashMap<String, (u64, Arc<SentCatalog>)>,
    bytes: usize,
    next: u64,
}

/// The cache (see the module docs).
pub(crate) struct CatalogCache {
    limit: usize,
    state: Mutex<State>,
}

impl CatalogCache {
    pub(crate) fn new(limit: usize) -> CatalogCache {
        CatalogCache {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The full key: what the router adds to the compiler's key.
    pub(crate) fn key(environment: &str, static_catalog: bool, compiler_key: &str) -> String {
        format!("{environment}\n{static_catalog}\n{compiler_key}")
    }

    /// The last catalog sent to `certname`, if it was compiled under `key`.
    pub(crate) fn get(&self, certname: &str, key: &str) -> Option<Arc<SentCatalog>> {
        let state = self.lock();
        let (_, entry) = state.entries.get(certname)?;
        (entry.key == key).then(|| entry.clone())
    }

    /// Keeps `entry` as the last catalog of `certname` (replacing the one before), then drops
    /// the oldest entries while over the limit. An entry larger than the limit is not kept.
    pub(crate) fn insert(&self, certname: &str, entry: Arc<SentCatalog>) {
        let size = entry.size();
        let mut state = self.lock();
        let state = &mut *state;
        if let Some((_, old)) = state.entries.remove(certname) {
            state.bytes -= old.size();
        }
        if size > self.limit {
            return;
        }
        while state.bytes + size > self.limit {
            let oldest = state
                .entries
                .iter()
                .min_by_key(|(_, (n, _))| *n)
                .map(|(k, _)| k.clone());
            match oldest.and_then(|k| state.entries.remove(&k)) {
                Some((_, old)) => state.bytes -= old.size(),
                None => break,
            }
        }
        state.next += 1;
        state.bytes += size;
        state
            .entries
            .insert(certname.to_string(), (state.next, entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, len: usize) -> Arc<SentCatalog> {
        Arc::new(SentCatalog {
            key: key.into(),
            plain: Bytes::from(vec![b'x'; len]),
            gzip: None,
            code_id: None,
        })
    }

    #[test]
    fn hit_only_under_the_same_key() {
        let c = CatalogCache::new(1 << 20);
        c.insert("n1", entry("k1", 10));
        assert!(c.get("n1", "k1").is_some());
        assert!(c.get("n1", "k2").is_none());
        assert!(c.get("n2", "k1").is_none());
        c.insert("n1", entry("k2", 10));
        assert!(c.get("n1", "k1").is_none());
        assert!(c.get("n1", "k2").is_some());
    }

    #[test]
    fn oldest_dropped_over_the_limit() {
        let c = CatalogCache::new(100);
        c.insert("a", entry("k", 40));
        c.insert("b", entry("k", 40));
        c.insert("c", entry("k", 40));
        assert!(c.get("a", "k").is_none());
        assert!(c.get("b", "k").is_some());
        assert!(c.get("c", "k").is_some());
        c.insert("d", entry("k", 500));
        assert!(
            c.get("d", "k").is_none(),
            "larger than the whole cache: not kept"
        );
        let off = CatalogCache::new(0);
        off.insert("a", entry("k", 1));
        assert!(off.get("a", "k").is_none());
    }
}
