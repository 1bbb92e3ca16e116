//! What `puppet-catalog check` verifies: the document parses, every reference resolves and
//! the relationships have no cycle.

use crate::{Catalog, CatalogError, Graph, ResourceRef};

/// A catalog that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The node's name.
    pub name: String,
    /// Number of resources in the document (containers included).
    pub resources: usize,
    /// The resources the agent would apply, in its order.
    pub order: Vec<ResourceRef>,
}

/// Reads `bytes` as a catalog and checks it as the agent would before applying it: every
/// relationship value is a reference ([`CatalogError::InvalidReference`]), every relationship
/// and containment edge names a resource of the catalog ([`CatalogError::UnknownReference`],
/// [`CatalogError::UnknownEdgeEndpoint`]), and there is no dependency cycle
/// ([`CatalogError::Cycles`], whose message is Puppet's).
///
/// A document that does not parse is [`CatalogError::Parse`]; one that parses but has
/// reference problems is [`CatalogError::Problems`], listing all of them.
///
/// ```
/// use puppet_catalog::{check, CatalogError};
/// let ok = check(br#"{"name":"web1","resources":[
///   {"type":"Package","title":"nginx"},
///   {"type":"Service","title":"nginx","parameters":{"require":"Package[nginx]"}}],"edges":[]}"#)?;
/// assert_eq!(ok.order.len(), 2);
///
/// let cycle = check(br#"{"name":"web1","resources":[
///   {"type":"Notify","title":"a","parameters":{"require":"Notify[a]"}}],"edges":[]}"#);
/// assert!(matches!(cycle, Err(CatalogError::Cycles(_))));
///
/// let broken = check(br#"{"name":"web1","resources":[
///   {"type":"Notify","title":"a","parameters":{"require":["Notify[b]", "Notify[c]"]}}],
///   "edges":[{"source":"Class[Gone]","target":"Notify[a]"}]}"#);
/// match broken {
///     Err(CatalogError::Problems(list)) => assert_eq!(list.len(), 3),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), CatalogError>(())
/// ```
pub fn check(bytes: &[u8]) -> Result<Checked, CatalogError> {
    let catalog = Catalog::from_json(bytes)?;
    let graph = match Graph::new(&catalog) {
        Ok(graph) => graph,
        Err(error) => {
            let found = problems(&catalog);
            return Err(if found.is_empty() {
                error
            } else {
                CatalogError::Problems(found)
            });
        }
    };
    let order = graph.apply_order()?;
    Ok(Checked {
        name: catalog.name,
        resources: catalog.resources.len(),
        order,
    })
}

/// Every reference problem of `catalog`, in document order.
fn problems(catalog: &Catalog) -> Vec<CatalogError> {
    let mut found = Vec::new();
    for (i, r) in catalog.resources.iter().enumerate() {
        for name in ["require", "subscribe", "before", "notify"] {
            let Some(value) = r.parameter(name) else {
                continue;
            };
            if let Err(CatalogError::InvalidReference { reference, reason }) =
                ResourceRef::list_from_value(value)
            {
                found.push(CatalogError::InvalidReference {
                    reference,
                    reason: format!("resources[{i}].parameters.{name}: {reason}"),
                });
            }
        }
    }
    let graph = Graph::new_lenient(catalog);
    // (A string that is not a reference was reported above.)
    for u in graph
        .unresolved()
        .iter()
        .filter(|u| u.reference.parse::<ResourceRef>().is_ok())
    {
        found.push(CatalogError::UnknownReference {
            path: u.path.clone(),
            resource: u.resource.to_string(),
            reference: u.reference.clone(),
        });
    }
    for (k, edge) in catalog.edges.iter().enumerate() {
        for (end, text) in [("source", &edge.source), ("target", &edge.target)] {
            let known = text
                .parse::<ResourceRef>()
                .is_ok_and(|r| graph.contains(&r));
            if !known {
                found.push(CatalogError::UnknownEdgeEndpoint {
                    path: format!("edges[{k}].{end}"),
                    reference: text.clone(),
                });
            }
        }
    }
    found
}
