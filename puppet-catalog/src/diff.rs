//! Differences between two catalogs, resource by resource and parameter by parameter, in the
//! manner of octocatalog-diff: what a change of code or data would change on a node.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::{Catalog, Resource, ResourceRef};

/// What differs between two catalogs of a node.
///
/// Resources are matched by reference (canonicalized). Only what the agent acts on is
/// compared: parameters (relationship metaparameters included). Tags, manifest file and line,
/// and the catalog's own version and UUID are not compared. Values of Sensitive parameters
/// never appear: they show as `[redacted]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogDiff {
    /// Resources only in the new catalog, in its order.
    pub added: Vec<ResourceRef>,
    /// Resources only in the old catalog, in its order.
    pub removed: Vec<ResourceRef>,
    /// Resources in both whose parameters differ, in the new catalog's order.
    pub changed: Vec<ResourceChange>,
}

/// A resource present in both catalogs whose parameters differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChange {
    /// The resource.
    pub resource: ResourceRef,
    /// Its parameters that differ: those of the new catalog in its order, then those only the
    /// old one had.
    pub parameters: Vec<ParameterChange>,
}

/// One parameter that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterChange {
    /// The parameter's name.
    pub name: String,
    /// The old value (`None`: the parameter was not set); `"[redacted]"` if Sensitive.
    pub old: Option<Value>,
    /// The new value (`None`: the parameter is no longer set); `"[redacted]"` if Sensitive.
    pub new: Option<Value>,
}

impl CatalogDiff {
    /// Whether the catalogs manage the same resources with the same parameters.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

const REDACTED: &str = "[redacted]";

/// Compares `old` with `new`.
///
/// ```
/// use puppet_catalog::{Catalog, diff};
/// let old = Catalog::from_json(br#"{"name":"n","resources":[
///   {"type":"File","title":"/etc/motd","parameters":{"content":"hello\n","mode":"0644"}},
///   {"type":"Package","title":"telnet","parameters":{"ensure":"installed"}}],"edges":[]}"#)?;
/// let new = Catalog::from_json(br#"{"name":"n","resources":[
///   {"type":"File","title":"/etc/motd","parameters":{"content":"bye\n","mode":"0644"}},
///   {"type":"Package","title":"openssh-server","parameters":{"ensure":"installed"}}],"edges":[]}"#)?;
/// let d = diff(&old, &new);
/// assert_eq!(d.added[0].to_string(), "Package[openssh-server]");
/// assert_eq!(d.removed[0].to_string(), "Package[telnet]");
/// assert_eq!(d.changed[0].parameters[0].name, "content");
/// assert_eq!(d.to_string().lines().next(), Some("+ Package[openssh-server]"));
/// # Ok::<(), puppet_catalog::CatalogError>(())
/// ```
pub fn diff(old: &Catalog, new: &Catalog) -> CatalogDiff {
    let old_by_ref: HashMap<ResourceRef, &Resource> =
        old.resources.iter().map(|r| (r.reference(), r)).collect();
    let new_refs: Vec<ResourceRef> = new.resources.iter().map(Resource::reference).collect();
    let in_new: std::collections::HashSet<&ResourceRef> = new_refs.iter().collect();

    let mut result = CatalogDiff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (reference, resource) in new_refs.iter().zip(&new.resources) {
        match old_by_ref.get(reference) {
            None => result.added.push(reference.clone()),
            Some(before) => {
                let parameters = parameter_changes(before, resource);
                if !parameters.is_empty() {
                    result.changed.push(ResourceChange {
                        resource: reference.clone(),
                        parameters,
                    });
                }
            }
        }
    }
    for resource in &old.resources {
        let reference = resource.reference();
        if !in_new.contains(&reference) {
            result.removed.push(reference);
        }
    }
    result
}

fn parameter_changes(old: &Resource, new: &Resource) -> Vec<ParameterChange> {
    let empty = serde_json::Map::new();
    let old_params = old.parameters.as_ref().unwrap_or(&empty);
    let new_params = new.parameters.as_ref().unwrap_or(&empty);
    let mut changes = Vec::new();
    let shown = |r: &Resource, name: &str, v: &Value| {
        if r.is_sensitive(name) {
            Value::String(REDACTED.into())
        } else {
            v.clone()
        }
    };
    for (name, value) in new_params {
        let before = old_params.get(name);
        let sensitive_changed = old.is_sensitive(name) != new.is_sensitive(name);
        if before == Some(value) && !sensitive_changed {
            continue;
        }
        changes.push(ParameterChange {
            name: name.clone(),
            old: before.map(|v| shown(old, name, v)),
            new: Some(shown(new, name, value)),
        });
    }
    for (name, value) in old_params {
        if !new_params.contains_key(name) {
            changes.push(ParameterChange {
                name: name.clone(),
                old: Some(shown(old, name, value)),
                new: None,
            });
        }
    }
    changes
}

impl fmt::Display for CatalogDiff {
    /// A text report: `+ Ref` per added resource, `- Ref` per removed one, and per changed
    /// one `~ Ref` followed by each parameter with its old (`-`) and new (`+`) value as JSON;
    /// then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.added {
            writeln!(f, "+ {r}")?;
        }
        for r in &self.removed {
            writeln!(f, "- {r}")?;
        }
        for change in &self.changed {
            writeln!(f, "~ {}", change.resource)?;
            for p in &change.parameters {
                writeln!(f, "    {}:", p.name)?;
                if let Some(old) = &p.old {
                    writeln!(f, "      - {old}")?;
                }
                if let Some(new) = &p.new {
                    writeln!(f, "      + {new}")?;
                }
            }
        }
        write!(
            f,
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(text: &str) -> Catalog {
        match Catalog::from_json(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn sensitive_values_are_redacted_and_classes_match_canonically() {
        let old = catalog(
            r#"{"name":"n","resources":[
            {"type":"Class","title":"main"},
            {"type":"File","title":"/k","parameters":{"content":"old secret"},"sensitive_parameters":["content"]},
            {"type":"User","title":"bob","parameters":{"ensure":"present","shell":"/bin/sh"}}],"edges":[]}"#,
        );
        let new = catalog(
            r#"{"name":"n","resources":[
            {"type":"Class","title":"Main"},
            {"type":"File","title":"/k","parameters":{"content":{"__ptype":"Sensitive","__pvalue":"new secret"}}},
            {"type":"User","title":"bob","parameters":{"ensure":"present","home":"/home/bob"}}],"edges":[]}"#,
        );
        let d = diff(&old, &new);
        assert!(d.added.is_empty() && d.removed.is_empty());
        let text = d.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            text,
            "~ File[/k]\n    content:\n      - \"[redacted]\"\n      + \"[redacted]\"\n\
             ~ User[bob]\n    home:\n      + \"/home/bob\"\n    shell:\n      - \"/bin/sh\"\n\
             0 added, 0 removed, 2 changed"
        );
        assert!(diff(&new, &new).is_empty());
    }
}
