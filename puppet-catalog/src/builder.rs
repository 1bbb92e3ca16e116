//! Catalogs made in code, as a custom master writes them: the document Puppetserver 7 would
//! compile from the equivalent manifest (containment, tags, classes, key order).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::reference::{NATIVE_TYPES, valid_tag};
use crate::{Catalog, CatalogError, CatalogVersion, Edge, Graph, Resource, ResourceRef};

/// One resource to declare: a class, a node, a defined-type instance or a native resource,
/// with its parameters, relationships, tags and the scope it is declared in.
///
/// ```
/// use puppet_catalog::{Declaration, ResourceRef};
/// let service = ResourceRef::new("Service", "nginx");
/// let file = Declaration::new("file", "/etc/nginx/nginx.conf")
///     .param("ensure", "file")
///     .param("mode", "0644")
///     .notify(&service)
///     .tag("web");
/// assert_eq!(file.reference().to_string(), "File[/etc/nginx/nginx.conf]");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    reference: ResourceRef,
    /// The title as Puppet writes it in the document (`main` for the main class).
    title: String,
    parameters: Map<String, Value>,
    sensitive: Vec<String>,
    tags: Vec<String>,
    scope: Option<ResourceRef>,
    contained_by: Option<ResourceRef>,
    file: Option<String>,
    line: Option<u64>,
    exported: bool,
}

impl Declaration {
    /// A resource of type `type_name` (any case: `file`, `apache::vhost`) titled `title`.
    /// For a class, prefer [`Declaration::class`].
    pub fn new(type_name: &str, title: impl Into<String>) -> Declaration {
        let reference = ResourceRef::new(type_name, title);
        Declaration {
            title: reference.title.clone(),
            reference,
            parameters: Map::new(),
            sensitive: Vec::new(),
            tags: Vec::new(),
            scope: None,
            contained_by: None,
            file: None,
            line: None,
            exported: false,
        }
    }

    /// The class `name` (`nginx::config`), as `include` or `class { ...: }` declares it.
    /// Classes are contained in `Stage[main]` (or the stage named by a `stage` parameter).
    ///
    /// ```
    /// use puppet_catalog::Declaration;
    /// assert_eq!(Declaration::class("nginx::config").reference().to_string(), "Class[Nginx::Config]");
    /// ```
    pub fn class(name: &str) -> Declaration {
        Declaration::new("Class", name)
    }

    /// The reference of the resource this declares.
    pub fn reference(&self) -> &ResourceRef {
        &self.reference
    }

    /// Sets parameter `name` (in the order of the calls; a second call replaces the value).
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Declaration {
        self.parameters.insert(name.to_string(), value.into());
        self
    }

    /// Sets a Sensitive parameter: the catalog lists it in `sensitive_parameters`, as Puppet
    /// 7 does.
    ///
    /// ```
    /// use puppet_catalog::{CatalogBuilder, Declaration};
    /// let mut b = CatalogBuilder::new("db1");
    /// b.add(Declaration::new("File", "/etc/db.key").sensitive_param("content", "s3cret"))?;
    /// let catalog = b.build()?;
    /// assert!(catalog.resources[3].is_sensitive("content"));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn sensitive_param(mut self, name: &str, value: impl Into<Value>) -> Declaration {
        self.parameters.insert(name.to_string(), value.into());
        if !self.sensitive.iter().any(|s| s == name) {
            self.sensitive.push(name.to_string());
        }
        self
    }

    fn relate(mut self, meta: &str, target: &ResourceRef) -> Declaration {
        let text = Value::String(target.to_string());
        match self.parameters.get_mut(meta) {
            Some(Value::Array(list)) => list.push(text),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, text]);
            }
            None => {
                self.parameters.insert(meta.to_string(), text);
            }
        }
        self
    }

    /// `require => target` (one reference is written as a string, several as an array).
    pub fn require(self, target: &ResourceRef) -> Declaration {
        self.relate("require", target)
    }

    /// `before => target`.
    pub fn before(self, target: &ResourceRef) -> Declaration {
        self.relate("before", target)
    }

    /// `notify => target`.
    pub fn notify(self, target: &ResourceRef) -> Declaration {
        self.relate("notify", target)
    }

    /// `subscribe => target`.
    pub fn subscribe(self, target: &ResourceRef) -> Declaration {
        self.relate("subscribe", target)
    }

    /// The `tag` metaparameter: the tag comes first in the resource's tags and the
    /// parameter `tag` is kept, as Puppet does.
    pub fn tag(mut self, tag: &str) -> Declaration {
        let tag = tag.to_lowercase();
        self.tags.push(tag.clone());
        let text = Value::String(tag);
        match self.parameters.get_mut("tag") {
            Some(Value::Array(list)) => list.push(text),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, text]);
            }
            None => {
                self.parameters.insert("tag".into(), text);
            }
        }
        self
    }

    /// The scope the resource is declared in: a class, node or defined-type instance. A
    /// resource is contained in it and inherits its tags; a class inherits its tags only
    /// (classes are contained in their stage). Default: the main class.
    pub fn within(mut self, scope: &ResourceRef) -> Declaration {
        self.scope = Some(scope.clone());
        self
    }

    /// For a class: `contain` it in `container` (a class, node or defined-type instance), so
    /// that relationships with the container apply to the class too. Puppet then writes two
    /// containment edges: from the stage and from the container.
    ///
    /// ```
    /// use puppet_catalog::{CatalogBuilder, Declaration};
    /// let mut b = CatalogBuilder::new("n1");
    /// let app = b.add(Declaration::class("app"))?;
    /// b.add(Declaration::class("app::config").within(&app).contained_in(&app))?;
    /// let c = b.build()?;
    /// let edges: Vec<(&str, &str)> = c.edges.iter().map(|e| (e.source.as_str(), e.target.as_str())).collect();
    /// assert_eq!(&edges[3..], [("Stage[main]", "Class[App::Config]"), ("Class[App]", "Class[App::Config]")]);
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn contained_in(mut self, container: &ResourceRef) -> Declaration {
        self.contained_by = Some(container.clone());
        self
    }

    /// The manifest file and line it is declared at. A class with a location is written
    /// with `kind: "class"` (a resource-like declaration); without, `kind: "unknown"`
    /// (`include`), as Puppet does.
    pub fn at(mut self, file: &str, line: u64) -> Declaration {
        self.file = Some(file.to_string());
        self.line = Some(line);
        self
    }

    /// Marks it exported (`@@`).
    pub fn exported(mut self) -> Declaration {
        self.exported = true;
        self
    }
}

/// Builds a catalog the way Puppetserver 7 lays one out.
///
/// It starts as every compiled catalog does, with `Stage[main]`, `Class[Settings]` and
/// `Class[main]`; classes go into `Stage[main]`, other resources into the scope they are
/// declared in (the main class by default). Tags are derived as Puppet derives them: the
/// `tag` metaparameter's tags, the type's name and its `::` segments, the title when it is a
/// valid tag, then the tags of the declaring scope. The catalog's `classes` and `tags` follow.
///
/// ```
/// use puppet_catalog::{CatalogBuilder, CatalogVersion, Declaration, Graph};
/// let mut b = CatalogBuilder::new("web1.example.com")
///     .environment("production")
///     .version(CatalogVersion::Integer(1_700_000_000));
/// let nginx = b.add(Declaration::class("nginx"))?;
/// let package = b.add(Declaration::new("package", "nginx").param("ensure", "installed").within(&nginx))?;
/// let service = ResourceRef::new("Service", "nginx");
/// b.add(Declaration::new("file", "/etc/nginx/nginx.conf")
///     .param("content", "worker_processes 4;\n")
///     .require(&package)
///     .notify(&service)
///     .within(&nginx))?;
/// b.add(Declaration::new("service", "nginx").param("ensure", "running").within(&nginx))?;
/// let catalog = b.build()?;
/// assert_eq!(catalog.classes.as_deref(), Some(&["settings".to_string(), "nginx".to_string()][..]));
/// assert_eq!(catalog.resources[4].tags.as_deref().unwrap(), ["package", "nginx", "class"]);
///
/// let order: Vec<String> = Graph::new(&catalog)?.apply_order()?.iter().map(|r| r.to_string()).collect();
/// assert_eq!(order, ["Package[nginx]", "File[/etc/nginx/nginx.conf]", "Service[nginx]"]);
/// # use puppet_catalog::ResourceRef;
/// # Ok::<(), puppet_catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CatalogBuilder {
    name: String,
    environment: String,
    version: Option<CatalogVersion>,
    code_id: Option<String>,
    catalog_uuid: Option<String>,
    resources: Vec<Resource>,
    edges: Vec<Edge>,
    classes: Vec<String>,
    /// Resource index by reference.
    index: HashMap<ResourceRef, usize>,
    has_node: bool,
}

impl CatalogBuilder {
    /// A catalog for node `name` in environment `production`, versioned with the current
    /// time (as Puppet's default `config_version`), with `code_id` `null` and a random
    /// `catalog_uuid`.
    ///
    /// ```
    /// use puppet_catalog::CatalogBuilder;
    /// let catalog = CatalogBuilder::new("n1").build()?;
    /// let refs: Vec<String> = catalog.resources.iter().map(|r| r.reference().to_string()).collect();
    /// assert_eq!(refs, ["Stage[main]", "Class[Settings]", "Class[Main]"]);
    /// assert_eq!(catalog.edges[1].target, "Class[main]");
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn new(name: &str) -> CatalogBuilder {
        let mut b = CatalogBuilder {
            name: name.to_string(),
            environment: "production".into(),
            version: None,
            code_id: None,
            catalog_uuid: None,
            resources: Vec::new(),
            edges: Vec::new(),
            classes: vec!["settings".into()],
            index: HashMap::new(),
            has_node: false,
        };
        let mut name_main = Map::new();
        name_main.insert("name".into(), Value::String("main".into()));
        b.push(
            ResourceRef::new("Stage", "main"),
            "main",
            vec!["stage".into()],
            "compilable_type",
            Some(name_main.clone()),
            None,
        );
        b.push(
            ResourceRef::new("Class", "Settings"),
            "Settings",
            vec!["class".into(), "settings".into()],
            "unknown",
            None,
            Some("Stage[main]".into()),
        );
        b.push(
            ResourceRef::new("Class", "main"),
            "main",
            vec!["class".into()],
            "unknown",
            Some(name_main),
            Some("Stage[main]".into()),
        );
        b
    }

    /// The environment (default `production`).
    pub fn environment(mut self, environment: &str) -> CatalogBuilder {
        self.environment = environment.to_string();
        self
    }

    /// The config version (default: the current Unix time).
    pub fn version(mut self, version: CatalogVersion) -> CatalogBuilder {
        self.version = Some(version);
        self
    }

    /// The code version the catalog comes from (default `null`).
    pub fn code_id(mut self, code_id: &str) -> CatalogBuilder {
        self.code_id = Some(code_id.to_string());
        self
    }

    /// The catalog's UUID (default: a random version 4 UUID).
    pub fn catalog_uuid(mut self, uuid: &str) -> CatalogBuilder {
        self.catalog_uuid = Some(uuid.to_string());
        self
    }

    fn push(
        &mut self,
        reference: ResourceRef,
        title: &str,
        tags: Vec<String>,
        kind: &str,
        parameters: Option<Map<String, Value>>,
        container: Option<String>,
    ) {
        let resource = Resource {
            resource_type: reference.type_name.clone(),
            title: title.to_string(),
            tags: Some(tags),
            file: None,
            line: None,
            exported: Some(false),
            kind: Some(kind.to_string()),
            parameters,
            sensitive_parameters: None,
            extra: Map::new(),
        };
        if let Some(source) = container {
            self.edges.push(Edge {
                source,
                target: format!("{}[{}]", resource.resource_type, resource.title),
                extra: Map::new(),
            });
        }
        self.index.insert(reference, self.resources.len());
        self.resources.push(resource);
    }

    fn tags_of(&self, reference: &ResourceRef) -> Result<&[String], CatalogError> {
        let i = self
            .index
            .get(reference)
            .ok_or_else(|| CatalogError::UnknownReference {
                path: "scope".into(),
                resource: reference.to_string(),
                reference: reference.to_string(),
            })?;
        Ok(self.resources[*i].tags.as_deref().unwrap_or_default())
    }

    /// The document's form of a reference: the main class is `Class[main]`.
    fn written(&self, reference: &ResourceRef) -> String {
        match self.index.get(reference) {
            Some(&i) => format!(
                "{}[{}]",
                self.resources[i].resource_type, self.resources[i].title
            ),
            None => reference.to_string(),
        }
    }

    /// A node definition's resource, `Node[name]`, in the main class; its name joins the
    /// catalog's classes. Declare resources and classes `within` it to give them its tags.
    ///
    /// ```
    /// use puppet_catalog::{CatalogBuilder, Declaration};
    /// let mut b = CatalogBuilder::new("web1");
    /// let node = b.node("default")?;
    /// b.add(Declaration::new("notify", "hi").within(&node))?;
    /// let c = b.build()?;
    /// assert_eq!(c.resources[4].tags.as_deref().unwrap(), ["notify", "hi", "node", "default", "class"]);
    /// assert_eq!(c.tags.as_deref().unwrap(), ["settings", "default", "node", "class"]);
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn node(&mut self, name: &str) -> Result<ResourceRef, CatalogError> {
        let reference = ResourceRef::new("Node", name);
        self.check_new(&reference)?;
        let mut tags = vec!["node".to_string()];
        add_tag(&mut tags, &name.to_lowercase());
        for t in self.tags_of(&ResourceRef::new("Class", "main"))?.to_vec() {
            add_tag(&mut tags, &t);
        }
        self.push(
            reference.clone(),
            name,
            tags,
            "unknown",
            None,
            Some("Class[main]".into()),
        );
        self.classes.push(name.to_lowercase());
        self.has_node = true;
        Ok(reference)
    }

    fn check_new(&self, reference: &ResourceRef) -> Result<(), CatalogError> {
        if self.index.contains_key(reference) {
            return Err(CatalogError::DuplicateResource {
                reference: reference.to_string(),
            });
        }
        Ok(())
    }

    /// Adds a resource (or class, or defined-type instance) and returns its reference.
    /// Declaring a reference twice is [`CatalogError::DuplicateResource`]; a scope that was
    /// not declared before is [`CatalogError::UnknownReference`].
    ///
    /// ```
    /// use puppet_catalog::{CatalogBuilder, CatalogError, Declaration, ResourceRef};
    /// let mut b = CatalogBuilder::new("n1");
    /// b.add(Declaration::new("notify", "a"))?;
    /// assert!(matches!(b.add(Declaration::new("Notify", "a")), Err(CatalogError::DuplicateResource { .. })));
    /// let nowhere = ResourceRef::new("Class", "missing");
    /// assert!(b.add(Declaration::new("notify", "b").within(&nowhere)).is_err());
    /// # Ok::<(), CatalogError>(())
    /// ```
    pub fn add(&mut self, declaration: Declaration) -> Result<ResourceRef, CatalogError> {
        let Declaration {
            reference,
            title,
            parameters,
            sensitive,
            tags: explicit,
            scope,
            contained_by,
            file,
            line,
            exported,
        } = declaration;
        self.check_new(&reference)?;
        let main = ResourceRef::new("Class", "main");
        let scope = scope.unwrap_or(main);
        let inherited = self.tags_of(&scope)?.to_vec();
        let is_class = reference.type_name == "Class";
        if let Some(parent) = &contained_by
            && !self.index.contains_key(parent)
        {
            return Err(CatalogError::UnknownReference {
                path: "contain".into(),
                resource: reference.to_string(),
                reference: parent.to_string(),
            });
        }

        let mut tags = Vec::new();
        for t in &explicit {
            add_tag(&mut tags, t);
        }
        add_tag(&mut tags, &reference.type_name.to_lowercase());
        add_tag(&mut tags, &reference.title.to_lowercase());
        for t in &inherited {
            add_tag(&mut tags, t);
        }

        let (kind, container) = if is_class {
            let stage = match parameters.get("stage").and_then(Value::as_str) {
                Some(s) => ResourceRef::new("Stage", s),
                None => ResourceRef::new("Stage", "main"),
            };
            if !self.index.contains_key(&stage) {
                return Err(CatalogError::UnknownReference {
                    path: "parameters.stage".into(),
                    resource: reference.to_string(),
                    reference: stage.to_string(),
                });
            }
            let kind = if file.is_some() { "class" } else { "unknown" };
            self.classes.push(reference.title.to_lowercase());
            (kind, self.written(&stage))
        } else if NATIVE_TYPES.contains(&reference.type_name.as_str()) {
            ("compilable_type", self.written(&scope))
        } else {
            ("defined_type", self.written(&scope))
        };

        let resource = Resource {
            resource_type: reference.type_name.clone(),
            title,
            tags: Some(tags),
            file,
            line,
            exported: Some(exported),
            kind: Some(kind.into()),
            parameters: (!parameters.is_empty()).then_some(parameters),
            sensitive_parameters: (!sensitive.is_empty()).then_some(sensitive),
            extra: Map::new(),
        };
        let target = format!("{}[{}]", resource.resource_type, resource.title);
        self.edges.push(Edge {
            source: container,
            target: target.clone(),
            extra: Map::new(),
        });
        if let Some(parent) = contained_by.filter(|_| is_class) {
            self.edges.push(Edge {
                source: self.written(&parent),
                target,
                extra: Map::new(),
            });
        }
        self.index.insert(reference.clone(), self.resources.len());
        self.resources.push(resource);
        Ok(reference)
    }

    /// The `tag` function called in a class, node or defined type: `tag` joins the scope's
    /// tags, and those of every resource declared in it afterwards.
    ///
    /// ```
    /// use puppet_catalog::{CatalogBuilder, Declaration};
    /// let mut b = CatalogBuilder::new("n1");
    /// let app = b.add(Declaration::class("app"))?;
    /// b.tag_scope(&app, "Frontend")?;
    /// b.add(Declaration::new("notify", "x").within(&app))?;
    /// let c = b.build()?;
    /// assert_eq!(c.resources[4].tags.as_deref().unwrap(), ["notify", "x", "class", "app", "frontend"]);
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn tag_scope(&mut self, scope: &ResourceRef, tag: &str) -> Result<(), CatalogError> {
        let i = *self
            .index
            .get(scope)
            .ok_or_else(|| CatalogError::UnknownReference {
                path: "scope".into(),
                resource: scope.to_string(),
                reference: scope.to_string(),
            })?;
        if let Some(tags) = self.resources[i].tags.as_mut() {
            add_tag(tags, &tag.to_lowercase());
        }
        Ok(())
    }

    /// The catalog. Every relationship must name a declared resource
    /// ([`CatalogError::UnknownReference`] otherwise); cycles are allowed (Puppet compiles
    /// them; the agent refuses them, see [`Graph::apply_order`]).
    pub fn build(self) -> Result<Catalog, CatalogError> {
        let mut tags = Vec::new();
        for class in &self.classes {
            add_tag(&mut tags, class);
        }
        if self.has_node {
            add_tag(&mut tags, "node");
        }
        add_tag(&mut tags, "class");
        let version = self.version.unwrap_or_else(|| {
            CatalogVersion::Integer(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            )
        });
        let catalog = Catalog {
            tags: Some(tags),
            name: self.name,
            version: Some(version),
            code_id: Some(self.code_id.map(Value::String).unwrap_or(Value::Null)),
            catalog_uuid: Some(
                self.catalog_uuid
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            catalog_format: Some(2),
            environment: Some(self.environment),
            resources: self.resources,
            edges: self.edges,
            classes: Some(self.classes),
            metadata: None,
            recursive_metadata: None,
            extra: Map::new(),
        };
        Graph::new(&catalog)?;
        Ok(catalog)
    }
}

/// Adds `tag` and, for `a::b`, its segments, when valid and not already there
/// (`Puppet::Util::Tagging#tag`).
fn add_tag(tags: &mut Vec<String>, tag: &str) {
    if !valid_tag(tag) {
        return;
    }
    let mut push = |t: &str| {
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    };
    push(tag);
    if tag.contains("::") {
        for seg in tag.split("::").filter(|s| !s.is_empty()) {
            push(seg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever is declared (types, titles, nesting, relationships to earlier native
        /// resources, which cannot make a cycle),
        /// the catalog reads back as it was written, every resource but `Stage[main]` is the
        /// target of a containment edge, and the agent can order it.
        #[test]
        fn built_catalogs_are_consistent(
            decls in proptest::collection::vec(
                (0usize..4, "[a-z][a-z0-9_]{0,6}", "[A-Za-z0-9 /._-]{1,12}", any::<prop::sample::Index>(), any::<Option<prop::sample::Index>>()),
                0..25,
            )
        ) {
            let mut b = CatalogBuilder::new("prop.example.test").version(CatalogVersion::Integer(1));
            let mut scopes = vec![ResourceRef::new("Class", "main")];
            let mut leaves: Vec<ResourceRef> = Vec::new();
            for (i, (kind, name, title, scope, rel)) in decls.into_iter().enumerate() {
                let scope = scope.get(&scopes).clone();
                let d = match kind {
                    0 => Declaration::class(&format!("{name}{i}")),
                    1 => Declaration::new(&format!("{name}::thing"), format!("{title}{i}")),
                    2 => Declaration::new("file", format!("/{title}{i}")).param("ensure", "file"),
                    _ => Declaration::new("notify", format!("{title}{i}")),
                }
                .within(&scope);
                let d = match rel.filter(|_| !leaves.is_empty()) {
                    Some(r) => d.require(r.get(&leaves)),
                    None => d,
                };
                let r = b.add(d).map_err(|e| TestCaseError::fail(e.to_string()))?;
                if kind < 2 {
                    scopes.push(r);
                } else {
                    leaves.push(r);
                }
            }
            let catalog = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let text = catalog.to_json().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again = Catalog::from_json(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again, &catalog);
            for r in catalog.resources.iter().skip(1) {
                let target = format!("{}[{}]", r.resource_type, r.title);
                prop_assert!(catalog.edges.iter().any(|e| e.target == target), "{} is in no container", target);
            }
            let order = Graph::new(&catalog).and_then(|g| g.apply_order());
            prop_assert!(order.is_ok(), "{:?}", order);
        }
    }
}
