//! Dependency cycles: the strongly connected components, the path Puppet prints around each,
//! and Puppet's message.

use std::fmt;

use super::{Graph, Kind, NONE};
use crate::ResourceRef;

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

impl Graph {
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
