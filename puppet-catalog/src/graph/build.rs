//! Building the graph: vertices, relationship metaparameters, autorequires, containment, the
//! containers' sentinels (`replace_containers_with_anchors`) and the final adjacency.

use serde_json::Value;

use super::index::{PairSet, RefIndex};
use super::{Graph, Kind, NONE, UnresolvedReference};
use crate::reference::{NATIVE_TYPES, collect_refs, split_ref};
use crate::{Catalog, CatalogError, Resource, ResourceRef};

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
pub(super) struct Params<'a>([Option<&'a Value>; KEYS.len()]);

impl<'a> Params<'a> {
    pub(super) fn of(r: &'a Resource) -> Self {
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

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
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

pub(super) struct Builder<'c> {
    pub(super) catalog: &'c Catalog,
    lenient: bool,
    names: Vec<ResourceRef>,
    pub(super) index: RefIndex,
    src: Vec<u32>,
    dst: Vec<u32>,
    refresh: Vec<bool>,
    pairs: PairSet,
    unresolved: Vec<UnresolvedReference>,
}

impl<'c> Builder<'c> {
    pub(super) fn new(catalog: &'c Catalog, lenient: bool) -> Self {
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

    pub(super) fn empty() -> Graph {
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

    pub(super) fn build(mut self) -> Result<Graph, CatalogError> {
        let catalog = self.catalog;
        let n = catalog.resources.len();
        if n >= (u32::MAX / 4) as usize {
            return Err(CatalogError::Parse {
                path: "resources".into(),
                message: format!("{n} resources is more than this graph holds"),
            });
        }
        self.names = catalog
            .resources
            .iter()
            .map(|r| ResourceRef::new(&r.resource_type, r.title.as_str()))
            .collect();
        self.index = RefIndex::build(&self.names, &catalog.resources);
        self.relationship_edges()?;
        self.autorequire_edges();
        let contents = self.containment()?;
        let vertices = Vertices::new(&catalog.resources);
        let alive = self.anchor_containers(&vertices, &contents);
        Ok(self.finish(vertices, alive))
    }

    /// The relationship metaparameters, resource by resource, in `RELATIONSHIP_PARAMS` order.
    fn relationship_edges(&mut self) -> Result<(), CatalogError> {
        let catalog = self.catalog;
        let mut refs: Vec<&str> = Vec::new();
        for (i, r) in catalog.resources.iter().enumerate() {
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
        Ok(())
    }

    /// Autorequires (core types have no autobefore, autosubscribe or autonotify), never
    /// duplicating or reversing an edge already there.
    fn autorequire_edges(&mut self) {
        let catalog = self.catalog;
        let mut deps: Vec<u32> = Vec::new();
        for (i, r) in catalog.resources.iter().enumerate() {
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
    }

    /// Containment (the catalog's own graph): distinct targets per source, in order.
    fn containment(&self) -> Result<Csr, CatalogError> {
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
        Ok(Csr::by_first(self.names.len(), &contain))
    }

    /// `replace_containers_with_anchors`: each container's edges move to its sentinels, its
    /// members go between them. Returns which of the edges added so far are still alive.
    fn anchor_containers(&mut self, vertices: &Vertices, contents: &Csr) -> Vec<bool> {
        let n = self.names.len();
        let (adm, cmp) = (|v| vertices.admissible(v), |v| vertices.completed(v));
        let e0 = self.src.len();
        let original: Vec<(u32, u32)> = (0..e0).map(|e| (self.src[e], self.dst[e])).collect();
        let by_dst = Csr::edge_ids(n, e0, |e| original[e].1);
        let by_src = Csr::edge_ids(n, e0, |e| original[e].0);
        let mut alive = vec![true; e0];
        let mut stamp = vec![NONE; n];
        let mut group: Vec<u32> = Vec::new();
        for &x in &vertices.containers {
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
        alive
    }

    /// The final graph: distinct pairs, targets in first-insertion order, and the reverse
    /// adjacency.
    fn finish(self, vertices: Vertices, mut alive: Vec<bool>) -> Graph {
        let Vertices {
            kinds,
            priority,
            whit_of,
            ..
        } = vertices;
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

        Graph {
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
        }
    }

    /// An edge of the container replacement (no pair bookkeeping needed any more).
    fn push_raw(&mut self, s: u32, t: u32, refresh: bool) {
        self.src.push(s);
        self.dst.push(t);
        self.refresh.push(refresh);
    }
}

/// The vertices: the resources (vertex `i` is resource `i`), then two sentinels per container.
struct Vertices {
    kinds: Vec<Kind>,
    /// The resource's catalog position; a sentinel has its container's.
    priority: Vec<u32>,
    /// Per resource: its `admissible` sentinel (`completed` is the next one), or `NONE`.
    whit_of: Vec<u32>,
    /// The containers, in catalog order.
    containers: Vec<u32>,
}

impl Vertices {
    fn new(resources: &[Resource]) -> Vertices {
        let n = resources.len();
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
        Vertices {
            kinds,
            priority,
            whit_of,
            containers,
        }
    }

    /// Where edges into `v` go: its `admissible` sentinel for a container.
    fn admissible(&self, v: u32) -> u32 {
        match self.whit_of[v as usize] {
            NONE => v,
            w => w,
        }
    }

    /// Where edges out of `v` start: its `completed` sentinel for a container.
    fn completed(&self, v: u32) -> u32 {
        match self.whit_of[v as usize] {
            NONE => v,
            w => w + 1,
        }
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
