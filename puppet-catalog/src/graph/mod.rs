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
//!
//! The parts, one module each: [`build`] (the vertices, the relationship metaparameters, the
//! containers' sentinels and the final adjacency), [`autorequire`] (what each core type
//! autorequires), [`index`] (reference lookup, aliases included), [`order`] (the apply order
//! and what a change or a failure reaches) and [`cycles`] (Puppet's cycle report).

mod autorequire;
mod build;
mod cycles;
mod index;
mod order;

use crate::{Catalog, CatalogError, ResourceRef};

use build::Builder;
pub use cycles::{Cycle, cycles_message};
use index::RefIndex;

/// No vertex.
const NONE: u32 = u32::MAX;

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

    fn live(&self, v: u32) -> bool {
        !matches!(self.kinds[v as usize], Kind::Container)
    }
}

#[cfg(test)]
mod tests;
