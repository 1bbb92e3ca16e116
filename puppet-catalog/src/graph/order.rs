//! The apply order (Kahn's traversal, smallest priority first) and what a change refreshes or a
//! failure skips.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Graph, Kind};
use crate::{CatalogError, ResourceRef};

impl Graph {
    /// The order in which the agent evaluates the catalog's resources (containers and the
    /// agent's own resources such as `Schedule[daily]` excluded), or
    /// [`CatalogError::Cycles`] when the relationships form cycles (the agent then applies
    /// nothing).
    ///
    /// ```
    /// use puppet_catalog::{Catalog, CatalogError, Graph};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "a", "parameters": {"require": "Notify[b]"}},
    ///   {"type": "Notify", "title": "b", "parameters": {"require": "Notify[a]"}}
    /// ], "edges": []}"#).unwrap();
    /// let err = Graph::new(&catalog).unwrap().apply_order().unwrap_err();
    /// assert!(matches!(err, CatalogError::Cycles(ref c) if c.len() == 1));
    /// assert!(err.to_string().contains("(Notify[a] => Notify[b] => Notify[a])"));
    /// ```
    pub fn apply_order(&self) -> Result<Vec<ResourceRef>, CatalogError> {
        match self.traverse() {
            Some(order) => Ok(order
                .into_iter()
                .map(|v| self.names[v as usize].clone())
                .collect()),
            None => Err(CatalogError::Cycles(self.cycles())),
        }
    }

    /// The resources that refresh (an exec reruns, a service restarts, a package may
    /// reinstall) when `changed` changes: those reached from it along `notify`/`subscribe`
    /// edges (and through classes and defined types, whose sentinels pass the `restarted`
    /// event on) by resources whose type responds to refresh. In catalog order; empty if
    /// `changed` is not in the graph.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph, ResourceRef};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "File", "title": "/etc/a", "parameters": {"notify": "Service[a]"}},
    ///   {"type": "Service", "title": "a"}
    /// ], "edges": []}"#).unwrap();
    /// let graph = Graph::new(&catalog).unwrap();
    /// let file = ResourceRef::new("File", "/etc/a");
    /// assert_eq!(graph.refreshed_by(&file)[0].title, "a");
    /// ```
    pub fn refreshed_by(&self, changed: &ResourceRef) -> Vec<ResourceRef> {
        let Some(start) = self.leaf_vertex(changed) else {
            return Vec::new();
        };
        self.reach(start, true)
    }

    /// The resources the agent skips when `failed` fails: every resource that depends on it,
    /// directly or through others (containers included). In catalog order.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph, ResourceRef};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Exec", "title": "a", "parameters": {"before": "Notify[b]"}},
    ///   {"type": "Notify", "title": "b", "parameters": {"before": "Notify[c]"}},
    ///   {"type": "Notify", "title": "c"}
    /// ], "edges": []}"#).unwrap();
    /// let graph = Graph::new(&catalog).unwrap();
    /// let exec = ResourceRef::new("Exec", "a");
    /// assert_eq!(graph.skipped_if_failed(&exec).len(), 2);
    /// ```
    pub fn skipped_if_failed(&self, failed: &ResourceRef) -> Vec<ResourceRef> {
        let Some(start) = self.leaf_vertex(failed) else {
            return Vec::new();
        };
        self.reach(start, false)
    }

    /// Kahn's traversal with the smallest-priority ready vertex first; `None` on a cycle.
    fn traverse(&self) -> Option<Vec<u32>> {
        let nv = self.kinds.len();
        let mut blockers: Vec<u32> = (0..nv)
            .map(|v| self.in_start[v + 1] - self.in_start[v])
            .collect();
        let mut ready: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::new();
        let mut live = 0usize;
        for v in 0..nv as u32 {
            if self.live(v) {
                live += 1;
                if blockers[v as usize] == 0 {
                    ready.push(Reverse((self.priority[v as usize], v)));
                }
            }
        }
        let mut order = Vec::with_capacity(self.names.len());
        let mut done = 0usize;
        while let Some(Reverse((_, v))) = ready.pop() {
            done += 1;
            if matches!(self.kinds[v as usize], Kind::Leaf(_)) {
                order.push(v);
            }
            for &t in self.out(v) {
                let b = &mut blockers[t as usize];
                *b -= 1;
                if *b == 0 {
                    ready.push(Reverse((self.priority[t as usize], t)));
                }
            }
        }
        (done == live).then_some(order)
    }

    /// Vertices reachable from `start` (only along refresh edges into refresh-aware vertices
    /// when `refresh`), resources only, in catalog order.
    fn reach(&self, start: u32, refresh: bool) -> Vec<ResourceRef> {
        let mut seen = vec![false; self.kinds.len()];
        seen[start as usize] = true;
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            for (&t, &cb) in self.out(v).iter().zip(self.out_refresh(v)) {
                if seen[t as usize] {
                    continue;
                }
                if refresh {
                    let responds = match self.kinds[t as usize] {
                        Kind::Leaf(r) => r,
                        Kind::Admissible(_) | Kind::Completed(_) => true,
                        Kind::Container => false,
                    };
                    if !(cb && responds) {
                        continue;
                    }
                }
                seen[t as usize] = true;
                stack.push(t);
            }
        }
        (0..self.names.len())
            .filter(|&v| v != start as usize && seen[v] && matches!(self.kinds[v], Kind::Leaf(_)))
            .map(|v| self.names[v].clone())
            .collect()
    }

    /// The nearest resources before (or after) `v`, looking through sentinels.
    pub(super) fn through_whits(&self, v: u32, forward: bool) -> Vec<ResourceRef> {
        let mut seen = vec![false; self.kinds.len()];
        seen[v as usize] = true;
        let mut stack = vec![v];
        let mut found = Vec::new();
        while let Some(u) = stack.pop() {
            let next = if forward { self.out(u) } else { self.inn(u) };
            for &t in next {
                if std::mem::replace(&mut seen[t as usize], true) {
                    continue;
                }
                match self.kinds[t as usize] {
                    Kind::Leaf(_) => found.push(t),
                    _ => stack.push(t),
                }
            }
        }
        found.sort_unstable();
        found
            .into_iter()
            .map(|t| self.names[t as usize].clone())
            .collect()
    }
}
