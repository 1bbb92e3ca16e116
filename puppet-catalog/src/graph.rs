//! The relationship graph of a catalog and the order a Puppet 7 agent applies it in.
//!
//! This follows what the agent does after converting a catalog to RAL resources
//! (`Puppet::Graph::RelationshipGraph#populate_from`):
//!
//! 1. every resource becomes a vertex, in the catalog's `resources` order, and gets the next
//!    sequential priority;
//! 2. the relationship metaparameters of each resource add edges, in the order `require`,
//!    `subscribe`, `before`, `notify` (`subscribe` and `notify` edges carry a refresh callback);
//! 3. autorequires add edges to resources present in the catalog (a file's nearest managed
//!    ancestor directory, its link `target`, `owner` and `group`; an exec's `cwd`, the absolute
//!    paths at line starts of `command`, `onlyif` and `unless`, its `user`; a user's groups; a
//!    package's `source`, `responsefile` and `adminfile`), never duplicating or reversing an
//!    existing edge;
//! 4. every container (classes, nodes, stages, defined-type instances) is replaced by two
//!    sentinels, `admissible` and `completed`, which take the container's priority and its
//!    relationships; members go between them (`replace_containers_with_anchors`).
//!
//! The apply order is the traversal of that graph in which the next resource is always the
//! ready one (all its dependencies done) of smallest priority. Sentinels are not reported.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use serde_json::Value;

use crate::reference::{NATIVE_TYPES, collect_refs, split_ref};
use crate::{Catalog, CatalogError, Resource, ResourceRef};

/// No vertex.
const NONE: u32 = u32::MAX;

/// Refuse more paths than this when looking for the path of a cycle the way Puppet does
/// (a breadth-first search over paths); past it, a depth-first search finds one.
const MAX_CYCLE_FRAMES: usize = 1 << 20;

/// One dependency cycle: the resources of a strongly connected component of the relationship
/// graph, and one path around it, as Puppet's agent reports them.
///
/// Container sentinels show as their container (`Class[Foo]`), as in Puppet's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The component's members, in Puppet's order (by reference; a container's sentinels sort
    /// as `Whit[admissible_Class[Foo]]`), each container named once.
    pub members: Vec<ResourceRef>,
    /// The path Puppet prints: it starts at the first member and ends at the first vertex it
    /// meets a second time.
    pub path: Vec<ResourceRef>,
}

impl fmt::Display for Cycle {
    /// `(A => B => A)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, r) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(" => ")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str(")")
    }
}

/// Puppet's whole error message for these cycles, byte for byte as the agent logs it:
///
/// ```text
/// Found 2 dependency cycles:
/// (A => B => A)\n(C => C)\nTry the '--graph' option and opening the resulting '.dot' file in OmniGraffle or GraphViz
/// ```
///
/// (The separators after each cycle are a literal backslash and `n`: Puppet writes them in
/// single quotes.)
///
/// ```
/// use puppet_catalog::{cycles_message, Cycle, ResourceRef};
/// let r = |t: &str, n: &str| ResourceRef::new(t, n);
/// let cycle = Cycle {
///     members: vec![r("Notify", "d")],
///     path: vec![r("Notify", "d"), r("Notify", "d")],
/// };
/// assert_eq!(
///     cycles_message(&[cycle]),
///     "Found 1 dependency cycle:\n(Notify[d] => Notify[d])\\nTry the '--graph' option and \
///      opening the resulting '.dot' file in OmniGraffle or GraphViz"
/// );
/// ```
pub fn cycles_message(cycles: &[Cycle]) -> String {
    let mut message = if cycles.len() == 1 {
        String::from("Found 1 dependency cycle:\n")
    } else {
        format!("Found {} dependency cycles:\n", cycles.len())
    };
    for cycle in cycles {
        message.push_str(&cycle.to_string());
        message.push_str("\\n");
    }
    message.push_str(
        "Try the '--graph' option and opening the resulting '.dot' file in OmniGraffle or GraphViz",
    );
    message
}

/// A relationship whose target is not in the catalog, kept by [`Graph::new_lenient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedReference {
    /// JSON path of the value, e.g. `resources[3].parameters.require`.
    pub path: String,
    /// The resource whose metaparameter it is.
    pub resource: ResourceRef,
    /// The reference text that names no resource of the catalog.
    pub reference: String,
}

/// What a vertex is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A resource the agent applies; `true` if its type responds to `refresh`.
    Leaf(bool),
    /// A container: replaced by its sentinels, not in the final graph.
    Container,
    /// `admissible_X`: the resource index of X.
    Admissible(u32),
    /// `completed_X`: the resource index of X.
    Completed(u32),
}

/// The relationship graph of a catalog, as a Puppet 7 agent builds it.
///
/// ```
/// use puppet_catalog::{Catalog, Graph};
/// let catalog = Catalog::from_json(br#"{
///   "name": "node1", "version": 1,
///   "resources": [
///     {"type": "Stage", "title": "main"},
///     {"type": "Class", "title": "Main"},
///     {"type": "Exec", "title": "reload", "parameters": {"command": "/bin/true", "refreshonly": true}},
///     {"type": "File", "title": "/etc/app.conf", "parameters": {"notify": "Exec[reload]"}},
///     {"type": "File", "title": "/etc", "parameters": {"ensure": "directory"}}
///   ],
///   "edges": [
///     {"source": "Stage[main]", "target": "Class[Main]"},
///     {"source": "Class[Main]", "target": "Exec[reload]"},
///     {"source": "Class[Main]", "target": "File[/etc/app.conf]"},
///     {"source": "Class[Main]", "target": "File[/etc]"}
///   ]
/// }"#).unwrap();
/// let graph = Graph::new(&catalog).unwrap();
/// let order: Vec<String> = graph
///     .apply_order()
///     .unwrap()
///     .iter()
///     .map(|r| r.to_string())
///     .collect();
/// // File[/etc/app.conf] autorequires File[/etc] and notifies Exec[reload].
/// assert_eq!(order, ["File[/etc]", "File[/etc/app.conf]", "Exec[reload]"]);
/// let changed = &graph.apply_order().unwrap()[1];
/// assert_eq!(graph.refreshed_by(changed)[0].title, "reload");
/// ```
#[derive(Debug, Clone)]
pub struct Graph {
    /// Resource references, one per catalog resource (vertices `0..names.len()`).
    names: Vec<ResourceRef>,
    /// Per vertex (resources, then sentinels).
    kinds: Vec<Kind>,
    /// Per vertex: the priority (the resource's catalog position; a sentinel has its
    /// container's).
    priority: Vec<u32>,
    /// Per resource: its `admissible` sentinel (`completed` is the next one), or `NONE`.
    whit_of: Vec<u32>,
    /// Out-adjacency: distinct targets in the order their first edge was added.
    out_start: Vec<u32>,
    out_to: Vec<u32>,
    /// Whether some edge of that pair carries a refresh callback.
    out_refresh: Vec<bool>,
    /// In-adjacency: distinct sources.
    in_start: Vec<u32>,
    in_from: Vec<u32>,
    /// Lookup of references.
    index: RefIndex,
    /// Unresolved relationships (lenient mode only).
    unresolved: Vec<UnresolvedReference>,
}

impl Graph {
    /// Builds the relationship graph of `catalog`.
    ///
    /// Fails with [`CatalogError::UnknownReference`] when a relationship metaparameter names a
    /// resource the catalog does not have (the agent fails the run with `Could not retrieve
    /// dependency`), [`CatalogError::UnknownEdgeEndpoint`] when a containment edge does, and
    /// [`CatalogError::InvalidReference`] when a metaparameter value is not a reference.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, CatalogError, Graph};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "a", "parameters": {"require": "Notify[missing]"}}
    /// ], "edges": []}"#).unwrap();
    /// let err = Graph::new(&catalog).unwrap_err();
    /// assert!(matches!(err, CatalogError::UnknownReference { .. }));
    /// assert!(err.to_string().contains("Could not retrieve dependency 'Notify[missing]' of Notify[a]"));
    /// ```
    pub fn new(catalog: &Catalog) -> Result<Graph, CatalogError> {
        Builder::new(catalog, false).build()
    }

    /// Builds the graph, skipping relationships to resources the catalog does not have (they
    /// are listed by [`Graph::unresolved`]) and metaparameter values that are not references.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "a", "parameters": {"require": "Notify[missing]"}}
    /// ], "edges": []}"#).unwrap();
    /// let graph = Graph::new_lenient(&catalog);
    /// assert_eq!(graph.unresolved()[0].reference, "Notify[missing]");
    /// assert_eq!(graph.apply_order().unwrap().len(), 1);
    /// ```
    pub fn new_lenient(catalog: &Catalog) -> Graph {
        match Builder::new(catalog, true).build() {
            Ok(graph) => graph,
            // The lenient builder records problems instead of failing.
            Err(_) => Builder::empty(),
        }
    }

    /// Relationships skipped by [`Graph::new_lenient`] (empty for [`Graph::new`]).
    pub fn unresolved(&self) -> &[UnresolvedReference] {
        &self.unresolved
    }

    /// Number of resources the agent would apply (containers excluded).
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Class", "title": "Main"}, {"type": "Notify", "title": "a"}
    /// ], "edges": [{"source": "Class[Main]", "target": "Notify[a]"}]}"#).unwrap();
    /// assert_eq!(Graph::new(&catalog).unwrap().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.kinds
            .iter()
            .filter(|k| matches!(k, Kind::Leaf(_)))
            .count()
    }

    /// Whether there is no resource to apply.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `reference` names a resource of the catalog (container or not).
    pub fn contains(&self, reference: &ResourceRef) -> bool {
        self.lookup(reference).is_some()
    }

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

    /// The dependency cycles, sorted as Puppet sorts them; empty when there are none.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "d", "parameters": {"require": "Notify[d]"}}
    /// ], "edges": []}"#).unwrap();
    /// let cycles = Graph::new(&catalog).unwrap().cycles();
    /// assert_eq!(cycles[0].to_string(), "(Notify[d] => Notify[d])");
    /// ```
    pub fn cycles(&self) -> Vec<Cycle> {
        let sccs = self.strongly_connected();
        let mut cycles: Vec<(Vec<Vec<u8>>, Vec<u32>)> = Vec::new();
        for mut scc in sccs {
            let keep = scc.len() > 1 || {
                let v = scc[0];
                self.out(v).contains(&v)
            };
            if !keep {
                continue;
            }
            let mut keyed: Vec<(Vec<u8>, u32)> =
                scc.drain(..).map(|v| (self.sort_key(v), v)).collect();
            keyed.sort();
            let (keys, members): (Vec<Vec<u8>>, Vec<u32>) = keyed.into_iter().unzip();
            cycles.push((keys, members));
        }
        cycles.sort_by(|a, b| a.0.cmp(&b.0));
        cycles
            .into_iter()
            .map(|(_, members)| {
                let path = self.path_in_cycle(&members);
                let mut named: Vec<ResourceRef> = Vec::with_capacity(members.len());
                for &v in &members {
                    let r = self.display_ref(v);
                    if !named.contains(r) {
                        named.push(r.clone());
                    }
                }
                Cycle {
                    members: named,
                    path: path.iter().map(|&v| self.display_ref(v).clone()).collect(),
                }
            })
            .collect()
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

    /// The resources `reference` directly waits for, looking through container sentinels (a
    /// dependency on a class is a dependency on its members). For a container, those of its
    /// `admissible` sentinel. In catalog order; empty if it is not in the catalog.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph, ResourceRef};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "a"},
    ///   {"type": "Notify", "title": "b", "parameters": {"require": "Notify[a]"}}
    /// ], "edges": []}"#).unwrap();
    /// let graph = Graph::new(&catalog).unwrap();
    /// let b = ResourceRef::new("Notify", "b");
    /// assert_eq!(graph.dependencies(&b)[0].title, "a");
    /// ```
    pub fn dependencies(&self, reference: &ResourceRef) -> Vec<ResourceRef> {
        let Some(v) = self.lookup(reference) else {
            return Vec::new();
        };
        let v = match self.kinds[v as usize] {
            Kind::Container => self.whit_of[v as usize],
            _ => v,
        };
        self.through_whits(v, false)
    }

    /// The resources that directly wait for `reference`, looking through container sentinels.
    /// For a container, those of its `completed` sentinel. In catalog order.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, Graph, ResourceRef};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Notify", "title": "a", "parameters": {"before": "Notify[b]"}},
    ///   {"type": "Notify", "title": "b"}
    /// ], "edges": []}"#).unwrap();
    /// let graph = Graph::new(&catalog).unwrap();
    /// let a = ResourceRef::new("Notify", "a");
    /// assert_eq!(graph.dependents(&a)[0].title, "b");
    /// ```
    pub fn dependents(&self, reference: &ResourceRef) -> Vec<ResourceRef> {
        let Some(v) = self.lookup(reference) else {
            return Vec::new();
        };
        let v = match self.kinds[v as usize] {
            Kind::Container => self.whit_of[v as usize] + 1,
            _ => v,
        };
        self.through_whits(v, true)
    }

    fn out(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.out_to[self.out_start[v] as usize..self.out_start[v + 1] as usize]
    }

    fn out_refresh(&self, v: u32) -> &[bool] {
        let v = v as usize;
        &self.out_refresh[self.out_start[v] as usize..self.out_start[v + 1] as usize]
    }

    fn inn(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.in_from[self.in_start[v] as usize..self.in_start[v + 1] as usize]
    }

    fn lookup(&self, r: &ResourceRef) -> Option<u32> {
        self.index.get(&r.type_name, &r.title)
    }

    fn leaf_vertex(&self, r: &ResourceRef) -> Option<u32> {
        self.lookup(r)
            .filter(|&v| matches!(self.kinds[v as usize], Kind::Leaf(_)))
    }

    /// The reference a vertex prints as (a sentinel prints as its container).
    fn display_ref(&self, v: u32) -> &ResourceRef {
        match self.kinds[v as usize] {
            Kind::Admissible(x) | Kind::Completed(x) => &self.names[x as usize],
            _ => &self.names[v as usize],
        }
    }

    /// The vertex's `ref`, which Puppet sorts cycles by.
    fn sort_key(&self, v: u32) -> Vec<u8> {
        let (prefix, r) = match self.kinds[v as usize] {
            Kind::Admissible(x) => (Some("Whit[admissible_"), &self.names[x as usize]),
            Kind::Completed(x) => (Some("Whit[completed_"), &self.names[x as usize]),
            _ => (None, &self.names[v as usize]),
        };
        let mut key = Vec::with_capacity(r.type_name.len() + r.title.len() + 20);
        if let Some(p) = prefix {
            key.extend_from_slice(p.as_bytes());
        }
        key.extend_from_slice(r.type_name.as_bytes());
        key.push(b'[');
        key.extend_from_slice(r.title.as_bytes());
        key.push(b']');
        if prefix.is_some() {
            key.push(b']');
        }
        key
    }

    fn live(&self, v: u32) -> bool {
        !matches!(self.kinds[v as usize], Kind::Container)
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
    fn through_whits(&self, v: u32, forward: bool) -> Vec<ResourceRef> {
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

    /// Tarjan's strongly connected components of the live vertices (iterative).
    fn strongly_connected(&self) -> Vec<Vec<u32>> {
        let nv = self.kinds.len();
        let mut index = vec![NONE; nv];
        let mut low = vec![0u32; nv];
        let mut on_stack = vec![false; nv];
        let mut stack: Vec<u32> = Vec::new();
        let mut sccs = Vec::new();
        let mut next = 0u32;
        // (vertex, position in its out-list)
        let mut call: Vec<(u32, u32)> = Vec::new();
        for root in 0..nv as u32 {
            if !self.live(root) || index[root as usize] != NONE {
                continue;
            }
            call.push((root, 0));
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&mut (v, ref mut pos)) = call.last_mut() {
                let outs = self.out(v);
                if (*pos as usize) < outs.len() {
                    let w = outs[*pos as usize];
                    *pos += 1;
                    if index[w as usize] == NONE {
                        index[w as usize] = next;
                        low[w as usize] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, 0));
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent as usize] = low[parent as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    sccs.push(scc);
                }
            }
        }
        sccs
    }

    /// Puppet's `paths_in_cycle` with one path: a breadth-first search over paths from the
    /// first member, stopping at the first path that meets a vertex twice.
    fn path_in_cycle(&self, members: &[u32]) -> Vec<u32> {
        let Some(&first) = members.first() else {
            return Vec::new();
        };
        let mut in_cycle = vec![false; self.kinds.len()];
        for &m in members {
            in_cycle[m as usize] = true;
        }
        // frame: (vertex, parent frame)
        let mut frames: Vec<(u32, u32)> = vec![(first, NONE)];
        let mut head = 0usize;
        while head < frames.len() && frames.len() < MAX_CYCLE_FRAMES {
            let (v, parent) = frames[head];
            let mut p = parent;
            let mut repeated = false;
            while p != NONE {
                if frames[p as usize].0 == v {
                    repeated = true;
                    break;
                }
                p = frames[p as usize].1;
            }
            if repeated {
                let mut path = vec![v];
                let mut p = parent;
                while p != NONE {
                    path.push(frames[p as usize].0);
                    p = frames[p as usize].1;
                }
                path.reverse();
                return path;
            }
            for &t in self.out(v) {
                if in_cycle[t as usize] {
                    frames.push((t, head as u32));
                }
            }
            head += 1;
        }
        // Too many paths (a dense component): walk until a vertex repeats.
        let mut path = vec![first];
        let mut pos = vec![NONE; self.kinds.len()];
        pos[first as usize] = 0;
        let mut v = first;
        loop {
            let Some(&t) = self.out(v).iter().find(|&&t| in_cycle[t as usize]) else {
                return path;
            };
            path.push(t);
            if pos[t as usize] != NONE {
                return path;
            }
            pos[t as usize] = (path.len() - 1) as u32;
            v = t;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building

/// Direction of a relationship metaparameter.
#[derive(Clone, Copy)]
enum Dir {
    /// `require`, `subscribe`: the referenced resource comes first.
    In,
    /// `before`, `notify`: this resource comes first.
    Out,
}

/// `Puppet::Type.relationship_params`, in definition order, with their refresh callback.
const RELATIONSHIP_PARAMS: [(&str, Dir, bool); 4] = [
    ("require", Dir::In, false),
    ("subscribe", Dir::In, true),
    ("before", Dir::Out, false),
    ("notify", Dir::Out, true),
];

/// Types whose RAL class defines `refresh`.
const REFRESHABLE: &[&str] = &["Exec", "Mount", "Package", "Service"];

/// The parameters the graph reads, found in one pass over a resource's parameters (cheaper
/// than hashing each name into the map).
struct Params<'a>([Option<&'a Value>; KEYS.len()]);

impl<'a> Params<'a> {
    fn of(r: &'a Resource) -> Self {
        let mut found = [None; KEYS.len()];
        if let Some(params) = &r.parameters {
            for (k, v) in params {
                if let Some(i) = key_index(k) {
                    found[i] = Some(v);
                }
            }
        }
        Params(found)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        key_index(key).and_then(|i| self.0[i])
    }
}

/// The parameters in [`Params`], by position.
const KEYS: [&str; 20] = [
    "require",
    "subscribe",
    "before",
    "notify",
    "path",
    "target",
    "owner",
    "group",
    "cwd",
    "command",
    "onlyif",
    "unless",
    "user",
    "gid",
    "groups",
    "responsefile",
    "adminfile",
    "source",
    "name",
    "alias",
];

/// Position of `key` in [`KEYS`]: dispatched on length and first byte, then confirmed.
fn key_index(key: &str) -> Option<usize> {
    let bytes = key.as_bytes();
    let i = match (bytes.len(), *bytes.first()?) {
        (7, b'r') => 0,
        (9, b's') => 1,
        (6, b'b') => 2,
        (6, b'n') => 3,
        (4, b'p') => 4,
        (6, b't') => 5,
        (5, b'o') => 6,
        (5, b'g') => 7,
        (3, b'c') => 8,
        (7, b'c') => 9,
        (6, b'o') => 10,
        (6, b'u') => 11,
        (4, b'u') => 12,
        (3, b'g') => 13,
        (6, b'g') => 14,
        (12, b'r') => 15,
        (9, b'a') => 16,
        (6, b's') => 17,
        (4, b'n') => 18,
        (5, b'a') => 19,
        _ => return None,
    };
    (KEYS[i] == key).then_some(i)
}

fn is_container(r: &Resource) -> bool {
    match r.resource_type.as_str() {
        "Class" | "Node" | "Stage" | "Component" => return true,
        _ => {}
    }
    match r.kind.as_deref() {
        Some("compilable_type") => false,
        Some("defined_type") | Some("class") => true,
        _ => !NATIVE_TYPES.contains(&r.resource_type.as_str()),
    }
}

struct Builder<'c> {
    catalog: &'c Catalog,
    lenient: bool,
    names: Vec<ResourceRef>,
    index: RefIndex,
    src: Vec<u32>,
    dst: Vec<u32>,
    refresh: Vec<bool>,
    pairs: PairSet,
    unresolved: Vec<UnresolvedReference>,
}

impl<'c> Builder<'c> {
    fn new(catalog: &'c Catalog, lenient: bool) -> Self {
        Builder {
            catalog,
            lenient,
            names: Vec::new(),
            index: RefIndex::default(),
            src: Vec::new(),
            dst: Vec::new(),
            refresh: Vec::new(),
            pairs: PairSet::default(),
            unresolved: Vec::new(),
        }
    }

    fn empty() -> Graph {
        Graph {
            names: Vec::new(),
            kinds: Vec::new(),
            priority: Vec::new(),
            whit_of: Vec::new(),
            out_start: vec![0],
            out_to: Vec::new(),
            out_refresh: Vec::new(),
            in_start: vec![0],
            in_from: Vec::new(),
            index: RefIndex::default(),
            unresolved: Vec::new(),
        }
    }

    fn add_edge(&mut self, s: u32, t: u32, refresh: bool) {
        self.src.push(s);
        self.dst.push(t);
        self.refresh.push(refresh);
        self.pairs.insert(s, t);
    }

    fn resolve(&self, text: &str) -> Option<u32> {
        let (ty, title) = split_ref(text).ok()?;
        self.index.get(&ty, &title)
    }

    fn build(mut self) -> Result<Graph, CatalogError> {
        let resources = &self.catalog.resources;
        let n = resources.len();
        if n >= (u32::MAX / 4) as usize {
            return Err(CatalogError::Parse {
                path: "resources".into(),
                message: format!("{n} resources is more than this graph holds"),
            });
        }
        self.names = resources
            .iter()
            .map(|r| ResourceRef::new(&r.resource_type, r.title.as_str()))
            .collect();
        self.index = RefIndex::build(&self.names, resources);

        // Relationship metaparameters, resource by resource.
        let mut refs: Vec<&str> = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            if r.parameters.is_none() {
                continue;
            }
            let params = Params::of(r);
            for (name, dir, refresh) in RELATIONSHIP_PARAMS {
                let Some(value) = params.get(name) else {
                    continue;
                };
                refs.clear();
                if let Err(bad) = collect_refs(value, &mut refs) {
                    if self.lenient {
                        continue;
                    }
                    return Err(CatalogError::InvalidReference {
                        reference: bad,
                        reason: format!(
                            "resources[{i}].parameters.{name} holds a value that is not a resource reference"
                        ),
                    });
                }
                for text in refs.iter().copied() {
                    let Some(j) = self.resolve(text) else {
                        let path = format!("resources[{i}].parameters.{name}");
                        if self.lenient {
                            self.unresolved.push(UnresolvedReference {
                                path,
                                resource: self.names[i].clone(),
                                reference: text.to_string(),
                            });
                            continue;
                        }
                        return Err(CatalogError::UnknownReference {
                            path,
                            resource: format!(
                                "{}[{}]",
                                self.names[i].type_name, self.names[i].title
                            ),
                            reference: text.to_string(),
                        });
                    };
                    let i = i as u32;
                    match dir {
                        Dir::In => self.add_edge(j, i, refresh),
                        Dir::Out => self.add_edge(i, j, refresh),
                    }
                }
            }
        }

        // Autorequires (core types have no autobefore, autosubscribe or autonotify).
        let mut deps: Vec<u32> = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            deps.clear();
            self.autorequires(r, &mut deps);
            let i = i as u32;
            for &j in &deps {
                if self.pairs.contains(j, i) || self.pairs.contains(i, j) {
                    continue;
                }
                self.add_edge(j, i, false);
            }
        }

        // Containment (the catalog's own graph): distinct targets per source, in order.
        let mut contain: Vec<(u32, u32)> = Vec::with_capacity(self.catalog.edges.len());
        for (k, e) in self.catalog.edges.iter().enumerate() {
            let s = self.resolve(&e.source);
            let t = self.resolve(&e.target);
            match (s, t) {
                (Some(s), Some(t)) => contain.push((s, t)),
                _ if self.lenient => {}
                (None, _) => {
                    return Err(CatalogError::UnknownEdgeEndpoint {
                        path: format!("edges[{k}].source"),
                        reference: e.source.clone(),
                    });
                }
                (_, None) => {
                    return Err(CatalogError::UnknownEdgeEndpoint {
                        path: format!("edges[{k}].target"),
                        reference: e.target.clone(),
                    });
                }
            }
        }
        let contents = Csr::by_first(n, &contain);

        // Vertices: resources, then two sentinels per container.
        let mut kinds: Vec<Kind> = resources
            .iter()
            .map(|r| {
                if is_container(r) {
                    Kind::Container
                } else {
                    Kind::Leaf(REFRESHABLE.contains(&r.resource_type.as_str()))
                }
            })
            .collect();
        let mut priority: Vec<u32> = (0..n as u32).collect();
        let mut whit_of = vec![NONE; n];
        let containers: Vec<u32> = (0..n as u32)
            .filter(|&v| kinds[v as usize] == Kind::Container)
            .collect();
        for &x in &containers {
            whit_of[x as usize] = kinds.len() as u32;
            kinds.push(Kind::Admissible(x));
            kinds.push(Kind::Completed(x));
            priority.push(x);
            priority.push(x);
        }
        let adm = |v: u32| match whit_of[v as usize] {
            NONE => v,
            w => w,
        };
        let cmp = |v: u32| match whit_of[v as usize] {
            NONE => v,
            w => w + 1,
        };

        // replace_containers_with_anchors
        let e0 = self.src.len();
        let original: Vec<(u32, u32)> = (0..e0).map(|e| (self.src[e], self.dst[e])).collect();
        let by_dst = Csr::edge_ids(n, e0, |e| original[e].1);
        let by_src = Csr::edge_ids(n, e0, |e| original[e].0);
        let mut alive = vec![true; e0];
        let mut stamp = vec![NONE; n];
        let mut group: Vec<u32> = Vec::new();
        for &x in &containers {
            let targets = contents.row(x);
            if targets.is_empty() {
                self.push_raw(adm(x), cmp(x), false);
            }
            for &v in targets {
                self.push_raw(adm(x), adm(v), true);
                self.push_raw(cmp(v), cmp(x), true);
            }
            grouped(
                by_dst.row(x),
                &alive,
                |e| original[e as usize].0,
                &mut stamp,
                &mut group,
            );
            for &e in &group {
                let e = e as usize;
                self.push_raw(cmp(original[e].0), adm(x), self.refresh[e]);
                alive[e] = false;
            }
            grouped(
                by_src.row(x),
                &alive,
                |e| original[e as usize].1,
                &mut stamp,
                &mut group,
            );
            for &e in &group {
                let e = e as usize;
                self.push_raw(cmp(x), adm(original[e].1), self.refresh[e]);
                alive[e] = false;
            }
        }

        // The final graph: distinct pairs, targets in first-insertion order.
        let nv = kinds.len();
        let total = self.src.len();
        alive.resize(total, true);
        let mut out_count = vec![0u32; nv + 1];
        for (&s, _) in self.src.iter().zip(&alive).filter(|(_, ok)| **ok) {
            out_count[s as usize + 1] += 1;
        }
        for v in 0..nv {
            out_count[v + 1] += out_count[v];
        }
        let mut fill = out_count.clone();
        let mut sorted = vec![0u32; out_count[nv] as usize];
        for (e, (&s, _)) in self
            .src
            .iter()
            .zip(&alive)
            .enumerate()
            .filter(|(_, (_, ok))| **ok)
        {
            let s = s as usize;
            sorted[fill[s] as usize] = e as u32;
            fill[s] += 1;
        }
        let mut out_start = Vec::with_capacity(nv + 1);
        let mut out_to = Vec::with_capacity(sorted.len());
        let mut out_refresh = Vec::with_capacity(sorted.len());
        let mut last_src = vec![NONE; nv];
        let mut slot = vec![0u32; nv];
        let mut in_count = vec![0u32; nv + 1];
        out_start.push(0u32);
        for v in 0..nv {
            for &e in &sorted[out_count[v] as usize..out_count[v + 1] as usize] {
                let (t, cb) = (self.dst[e as usize] as usize, self.refresh[e as usize]);
                if last_src[t] == v as u32 {
                    if cb {
                        out_refresh[slot[t] as usize] = true;
                    }
                } else {
                    last_src[t] = v as u32;
                    slot[t] = out_to.len() as u32;
                    out_to.push(t as u32);
                    out_refresh.push(cb);
                    in_count[t + 1] += 1;
                }
            }
            out_start.push(out_to.len() as u32);
        }
        for v in 0..nv {
            in_count[v + 1] += in_count[v];
        }
        let in_start = in_count.clone();
        let mut in_fill = in_count;
        let mut in_from = vec![0u32; out_to.len()];
        for v in 0..nv {
            for &t in &out_to[out_start[v] as usize..out_start[v + 1] as usize] {
                in_from[in_fill[t as usize] as usize] = v as u32;
                in_fill[t as usize] += 1;
            }
        }

        Ok(Graph {
            names: self.names,
            kinds,
            priority,
            whit_of,
            out_start,
            out_to,
            out_refresh,
            in_start,
            in_from,
            index: self.index,
            unresolved: self.unresolved,
        })
    }

    /// An edge of the container replacement (no pair bookkeeping needed any more).
    fn push_raw(&mut self, s: u32, t: u32, refresh: bool) {
        self.src.push(s);
        self.dst.push(t);
        self.refresh.push(refresh);
    }

    /// The resources `r` autorequires, in the type's `autorequire` order.
    fn autorequires(&self, r: &Resource, deps: &mut Vec<u32>) {
        if r.parameters.is_none() {
            return self.autorequires_without_params(r, deps);
        }
        if !matches!(
            r.resource_type.as_str(),
            "File" | "Exec" | "User" | "Package"
        ) {
            return;
        }
        let params = Params::of(r);
        let get = |k: &str| params.get(k);
        match r.resource_type.as_str() {
            "File" => {
                let path = get("path").and_then(Value::as_str).unwrap_or(&r.title);
                if let Some(parent) = self.nearest_managed_ancestor(path) {
                    deps.push(parent);
                }
                if let Some(target) = get("target").and_then(Value::as_str) {
                    self.push_named(deps, "File", target);
                }
                if let Some(owner) = get("owner").and_then(first_name) {
                    self.push_named(deps, "User", owner);
                }
                if let Some(group) = get("group").and_then(first_name) {
                    self.push_named(deps, "Group", group);
                }
            }
            "Exec" => {
                if let Some(cwd) = get("cwd").and_then(Value::as_str) {
                    self.push_named(deps, "File", cwd);
                }
                let command = match get("command") {
                    Some(Value::String(s)) => s.as_str(),
                    Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or(""),
                    _ => r.title.as_str(),
                };
                for path in line_start_paths(command) {
                    self.push_named(deps, "File", path);
                }
                for quoted in line_start_quoted(command) {
                    self.push_named(deps, "File", quoted);
                }
                for check in ["onlyif", "unless"] {
                    let lines: Vec<&str> = match get(check) {
                        Some(Value::String(s)) => vec![s.as_str()],
                        Some(Value::Array(a)) => a
                            .iter()
                            .filter_map(|l| match l {
                                Value::String(s) => Some(s.as_str()),
                                Value::Array(inner) => inner.first().and_then(Value::as_str),
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    for line in lines {
                        for path in line_start_paths(line) {
                            self.push_named(deps, "File", path);
                        }
                    }
                }
                if let Some(user) = get("user").and_then(Value::as_str) {
                    if !is_digits(user) {
                        self.push_named(deps, "User", user);
                    }
                }
            }
            "User" => {
                if let Some(gid) = get("gid") {
                    let gids: Vec<&Value> = match gid {
                        Value::Array(a) => a.iter().collect(),
                        v => vec![v],
                    };
                    for g in gids {
                        match numeric(g) {
                            Some(num) => {
                                if let Some(v) = self.group_with_gid(num) {
                                    deps.push(v);
                                }
                            }
                            None => {
                                if let Some(name) = g.as_str() {
                                    self.push_named(deps, "Group", name);
                                }
                            }
                        }
                    }
                }
                if let Some(groups) = get("groups") {
                    let mut names: Vec<&str> = Vec::new();
                    match groups {
                        Value::String(s) => names.extend(s.split(',')),
                        Value::Array(a) => {
                            for g in a.iter().filter_map(Value::as_str) {
                                names.extend(g.split(','));
                            }
                        }
                        _ => {}
                    }
                    for name in names {
                        self.push_named(deps, "Group", name);
                    }
                }
            }
            "Package" => {
                for k in ["responsefile", "adminfile"] {
                    if let Some(f) = get(k).and_then(Value::as_str) {
                        self.push_named(deps, "File", f);
                    }
                }
                if let Some(source) = get("source").and_then(Value::as_str) {
                    if source.starts_with('/') {
                        self.push_named(deps, "File", source);
                    }
                }
            }
            _ => {}
        }
    }

    fn autorequires_without_params(&self, r: &Resource, deps: &mut Vec<u32>) {
        match r.resource_type.as_str() {
            "File" => {
                if let Some(parent) = self.nearest_managed_ancestor(&r.title) {
                    deps.push(parent);
                }
            }
            "Exec" => {
                for path in line_start_paths(&r.title) {
                    self.push_named(deps, "File", path);
                }
                for quoted in line_start_quoted(&r.title) {
                    self.push_named(deps, "File", quoted);
                }
            }
            _ => {}
        }
    }

    fn push_named(&self, deps: &mut Vec<u32>, ty: &str, name: &str) {
        if let Some(v) = self.index.get(ty, name) {
            deps.push(v);
        }
    }

    /// `Pathname#parent.ascend`: the closest ancestor directory managed as a `File`.
    fn nearest_managed_ancestor(&self, path: &str) -> Option<u32> {
        let path = normalize_path(path);
        if path == "/" || !path.starts_with('/') {
            return None;
        }
        let mut p: &str = &path;
        loop {
            let cut = p.rfind('/')?;
            p = if cut == 0 { "/" } else { &p[..cut] };
            if let Some(v) = self.index.get("File", p) {
                return Some(v);
            }
            if p == "/" {
                return None;
            }
        }
    }

    fn group_with_gid(&self, gid: u64) -> Option<u32> {
        self.catalog
            .resources
            .iter()
            .position(|g| {
                g.resource_type == "Group"
                    && g.parameters
                        .as_ref()
                        .and_then(|p| p.get("gid"))
                        .and_then(numeric)
                        == Some(gid)
            })
            .map(|i| i as u32)
    }
}

/// The alive edges of `row`, grouped by `key` in first-appearance order (how Ruby iterates
/// `@in_to[x].values.flatten`: a hash of edge lists keyed by the other end).
fn grouped(
    row: &[u32],
    alive: &[bool],
    key: impl Fn(u32) -> u32,
    stamp: &mut [u32],
    out: &mut Vec<u32>,
) {
    out.clear();
    out.extend(row.iter().copied().filter(|&e| alive[e as usize]));
    let mut repeated = false;
    for (i, &e) in out.iter().enumerate() {
        let k = key(e) as usize;
        if stamp[k] == NONE {
            stamp[k] = i as u32;
        } else {
            repeated = true;
        }
    }
    if repeated {
        // A stable sort by the position of the key's first edge.
        out.sort_by_key(|&e| stamp[key(e) as usize]);
    }
    for &e in out.iter() {
        stamp[key(e) as usize] = NONE;
    }
}

/// Compressed rows.
struct Csr {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    /// Distinct second elements per first element, in order.
    fn by_first(n: usize, pairs: &[(u32, u32)]) -> Csr {
        let mut start = vec![0u32; n + 1];
        for &(s, _) in pairs {
            start[s as usize + 1] += 1;
        }
        for v in 0..n {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; pairs.len()];
        for &(s, t) in pairs {
            items[fill[s as usize] as usize] = t;
            fill[s as usize] += 1;
        }
        // Drop repeated targets within a row.
        let mut dedup = Vec::with_capacity(items.len());
        let mut new_start = vec![0u32; n + 1];
        let mut last = vec![NONE; n];
        for v in 0..n {
            for &t in &items[start[v] as usize..start[v + 1] as usize] {
                if last[t as usize] != v as u32 {
                    last[t as usize] = v as u32;
                    dedup.push(t);
                }
            }
            new_start[v + 1] = dedup.len() as u32;
        }
        Csr {
            start: new_start,
            items: dedup,
        }
    }

    /// Edge ids `0..count` per vertex `key(e)`, in id order.
    fn edge_ids(n: usize, count: usize, key: impl Fn(usize) -> u32) -> Csr {
        let mut start = vec![0u32; n + 1];
        for e in 0..count {
            start[key(e) as usize + 1] += 1;
        }
        for v in 0..n {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; count];
        for e in 0..count {
            let k = key(e) as usize;
            items[fill[k] as usize] = e as u32;
            fill[k] += 1;
        }
        Csr { start, items }
    }

    fn row(&self, v: u32) -> &[u32] {
        let v = v as usize;
        if v + 1 >= self.start.len() {
            return &[];
        }
        &self.items[self.start[v] as usize..self.start[v + 1] as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// References

/// A file path as the agent's `File` munges it: repeated slashes collapsed, trailing slashes
/// dropped (the root stays `/`).
fn normalize_path(path: &str) -> Cow<'_, str> {
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

/// Matches of Ruby's `%r{^(/\S+)}`: at each line start, an absolute path up to whitespace.
fn line_start_paths(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter_map(|line| {
        if !line.starts_with('/') {
            return None;
        }
        let end = line
            .find([' ', '\t', '\r', '\x0b', '\x0c'])
            .unwrap_or(line.len());
        (end > 1).then(|| &line[..end])
    })
}

/// Matches of Ruby's `/^"([^"]+)"/`.
fn line_start_quoted(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter_map(|line| {
        let rest = line.strip_prefix('"')?;
        let end = rest.find('"')?;
        (end > 0).then(|| &rest[..end])
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn numeric(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if is_digits(s) => s.parse().ok(),
        _ => None,
    }
}

/// A file's `owner`/`group` value if it names a user or group (not an id).
fn first_name(v: &Value) -> Option<&str> {
    let v = match v {
        Value::Array(a) => a.first()?,
        v => v,
    };
    v.as_str().filter(|s| !is_digits(s))
}

// ---------------------------------------------------------------------------------------------
// Hashing: small open-addressing tables keyed by vertex indices, so that no key is copied.

const FX: u64 = 0x517c_c1b7_2722_0a95;

fn fx(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(FX)
}

fn fx_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fx(h, u64::from_le_bytes(w));
    }
    let mut w = [0u8; 8];
    let rest = chunks.remainder();
    w[..rest.len()].copy_from_slice(rest);
    fx(h, u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56))
}

fn ref_hash(ty: &str, title: &str) -> u64 {
    fx_bytes(fx_bytes(0, ty.as_bytes()) ^ 0xff, title.as_bytes())
}

/// Lookup of `(type, title)` to a resource index: titles, plus aliases (a `File`'s `path`, a
/// resource's `name`, `alias` metaparameters, `File` titles with slashes normalized).
///
/// Open addressing; each slot holds the full hash and where its key's text lies in one
/// contiguous arena, so a lookup touches two cache lines.
#[derive(Debug, Clone, Default)]
struct RefIndex {
    slots: Vec<Slot>,
    len: usize,
    /// `type` then `title` of every key, back to back.
    arena: String,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    /// The resource (`NONE` = empty slot).
    vertex: u32,
    start: u32,
    type_len: u32,
    title_len: u32,
}

const EMPTY: Slot = Slot {
    hash: 0,
    vertex: NONE,
    start: 0,
    type_len: 0,
    title_len: 0,
};

impl RefIndex {
    fn build(names: &[ResourceRef], resources: &[Resource]) -> RefIndex {
        let mut index = RefIndex {
            slots: vec![EMPTY; (names.len() * 2).next_power_of_two().max(16)],
            len: 0,
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

    fn insert(&mut self, v: u32, ty: &str, title: &str) {
        if self.get_raw(ty, title).is_some() {
            return; // the first resource with a key keeps it
        }
        if (self.len + 1) * 2 > self.slots.len() {
            let size = (self.slots.len() * 2).max(16);
            let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
            for slot in old.into_iter().filter(|s| s.vertex != NONE) {
                let i = self.free_slot(slot.hash);
                self.slots[i] = slot;
            }
        }
        let hash = ref_hash(ty, title);
        let start = self.arena.len() as u32;
        self.arena.push_str(ty);
        self.arena.push_str(title);
        let i = self.free_slot(hash);
        self.slots[i] = Slot {
            hash,
            vertex: v,
            start,
            type_len: ty.len() as u32,
            title_len: title.len() as u32,
        };
        self.len += 1;
    }

    fn first_slot(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (hash >> (64 - bits)) as usize
    }

    fn free_slot(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.first_slot(hash);
        while self.slots[i].vertex != NONE {
            i = (i + 1) & mask;
        }
        i
    }

    fn get_raw(&self, ty: &str, title: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = ref_hash(ty, title);
        let mask = self.slots.len() - 1;
        let mut i = self.first_slot(hash);
        loop {
            let slot = &self.slots[i];
            if slot.vertex == NONE {
                return None;
            }
            if slot.hash == hash
                && slot.type_len as usize == ty.len()
                && slot.title_len as usize == title.len()
            {
                let start = slot.start as usize;
                let key = &self.arena.as_bytes()[start..start + ty.len() + title.len()];
                if &key[..ty.len()] == ty.as_bytes() && &key[ty.len()..] == title.as_bytes() {
                    return Some(slot.vertex);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Looks a reference up the way `catalog.resource(type, title)` does.
    fn get(&self, ty: &str, title: &str) -> Option<u32> {
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
struct PairSet {
    slots: Vec<u64>,
    len: usize,
}

const EMPTY_PAIR: u64 = u64::MAX;

impl PairSet {
    fn slot(&self, key: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(FX) >> (64 - bits)) as usize
    }

    fn insert(&mut self, s: u32, t: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            let size = (self.slots.len() * 2).max(64);
            let old = std::mem::replace(&mut self.slots, vec![EMPTY_PAIR; size]);
            self.len = 0;
            for k in old.into_iter().filter(|&k| k != EMPTY_PAIR) {
                self.insert_key(k);
            }
        }
        self.insert_key((u64::from(s) << 32) | u64::from(t));
    }

    fn insert_key(&mut self, key: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            if self.slots[i] == key {
                return;
            }
            if self.slots[i] == EMPTY_PAIR {
                self.slots[i] = key;
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn contains(&self, s: u32, t: u32) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let key = (u64::from(s) << 32) | u64::from(t);
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            if self.slots[i] == key {
                return true;
            }
            if self.slots[i] == EMPTY_PAIR {
                return false;
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests;
