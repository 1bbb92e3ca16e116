//! The default catalog compiler, "catalogs from data":
//!
//! 1. complete catalog documents as Puppetserver produces them, one per node, at
//!    `<environments>/<env>/catalogs/<certname>.json`;
//! 2. otherwise the data format below, at `<environments>/<env>/resources.json`: resources
//!    are written once inside classes, classes are given to nodes by certname glob and/or fact
//!    values, strings interpolate facts, and the catalog is built with
//!    [`puppet_catalog::CatalogBuilder`] (Puppet's containment `Stage[main]` → `Class[...]` →
//!    resources, tags, classes); facts are looked up with [`puppet_facts::Facts::get`].
//!
//! ```json
//! {
//!   "classes": {
//!     "motd": [
//!       {"type": "File", "title": "/etc/motd",
//!        "parameters": {"content": "Welcome to ${facts.networking.fqdn} (${facts.os.family})\n", "mode": "0644"},
//!        "tags": ["banner"]}
//!     ],
//!     "web": [ {"type": "Package", "title": "nginx", "parameters": {"ensure": "installed"}} ]
//!   },
//!   "nodes": [
//!     {"certname": "*", "classes": ["motd"]},
//!     {"certname": "web*.example.test", "facts": {"os.family": "Debian"}, "classes": ["web"]}
//!   ]
//! }
//! ```
//!
//! Interpolation: `${facts.<dotted.path>}`, `${certname}`, `${environment}`; an unknown fact
//! interpolates as the empty string, as an undefined variable does in Puppet, or as the default
//! given after a `|`: `${facts.site_dir|/srv/site}`. Both sources
//! report a `code_id`: the document's own when it has one, else `sha256:<first 16 hex of the
//! file's digest>`.
//!
//! The compiler gives the master a [`CatalogCompiler::cache_key`], so that a node's catalog
//! is sent again without compiling while nothing it depends on has changed: the file it
//! comes from (stamp and digest), the node's certname, environment and classifier classes,
//! and, for the data format, the values of the facts the data refers to (in `${...}` and in
//! node rules). Such a catalog is a function of those: its `catalog_uuid` is derived from
//! them and its `version` is the file's modification time (when the document has none).
//! Catalogs whose static-catalog file metadata would be inlined (a static catalog with a
//! file server and `source` parameters) depend on the module files too: they get no key, and
//! are compiled every time, with a fresh `catalog_uuid` and the compile time as `version`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use puppet_catalog::{Catalog, CatalogBuilder, CatalogVersion, Declaration};
use puppet_facts::Facts;
use serde_json::{Map, Value};

use puppet_protocol::ProtocolError;
use puppet_protocol::files::{FileMetadata, Links, MetadataOptions, glob_match, pick_checksum};
use puppet_protocol::server::{
    CatalogCompiler, CompileRequest, FileServer, NodeClassifier, NodeInfo,
};

use crate::lock;

/// The default compiler (see the module docs).
#[derive(Clone)]
pub struct DataCompiler {
    environments: PathBuf,
    /// Where static catalogs' file metadata comes from ([`inline_metadata`]).
    files: Option<Arc<dyn FileServer>>,
    /// Parsed `resources.json` files with the stamp they were read at, and their code_id.
    cache: Arc<Mutex<HashMap<PathBuf, Cached>>>,
    /// Parsed complete catalog documents (`catalogs/<certname>.json`), their code_id already
    /// set, with the stamp they were read at.
    catalogs: Arc<Mutex<HashMap<PathBuf, CachedCatalog>>>,
}

impl std::fmt::Debug for DataCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataCompiler")
            .field("environments", &self.environments)
            .field("inlines_metadata", &self.files.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct CachedCatalog {
    stamp: Option<Stamp>,
    catalog: Arc<Catalog>,
    /// Some `File` resource has a `source` (static catalogs would inline module files).
    sources: bool,
}

type Stamp = (Option<std::time::SystemTime>, u64, u64);

#[derive(Debug, Clone)]
struct Cached {
    stamp: Option<Stamp>,
    data: Arc<Value>,
    code_id: String,
    /// The fact paths the data refers to (interpolations and node rules), sorted.
    fact_paths: Arc<Vec<String>>,
    /// Some resource has a `source` parameter.
    sources: bool,
}

/// The file a catalog comes from, as [`DataCompiler::source`] finds it.
enum Source {
    Document(CachedCatalog),
    Data(Cached),
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok(), m.len(), m.ino()))
}

impl DataCompiler {
    /// A compiler over an environments directory.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use puppet_master::DataCompiler;
    /// use puppet_protocol::server::{CatalogCompiler, CompileRequest, NodeInfo};
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir_all(dir.path().join("production")).unwrap();
    /// std::fs::write(dir.path().join("production/resources.json"), r#"{
    ///   "classes": {"base": [{"type": "Notify", "title": "hi ${certname}"}]},
    ///   "nodes": [{"certname": "*", "classes": ["base"]}]}"#).unwrap();
    /// let req = CompileRequest {
    ///     certname: "n1.example.test".into(), environment: "production".into(), facts: None,
    ///     node: NodeInfo::default(), transaction_uuid: None, static_catalog: true,
    ///     checksum_types: vec![],
    /// };
    /// let catalog = DataCompiler::new(dir.path()).compile(&req).await.unwrap();
    /// assert!(catalog.resources.iter().any(|r| r.title == "hi n1.example.test"));
    /// assert!(catalog.code_id.unwrap().as_str().unwrap().starts_with("sha256:"));
    /// # });
    /// ```
    pub fn new(environments: impl Into<PathBuf>) -> DataCompiler {
        DataCompiler {
            environments: environments.into(),
            files: None,
            cache: Arc::new(Mutex::new(HashMap::new())),
            catalogs: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl DataCompiler {
    /// Inlines static catalogs' file metadata from `files` ([`inline_metadata`]) when a
    /// request asks for a static catalog. Without a file server, catalogs carry no metadata
    /// and the agent asks `file_metadata` for each file.
    pub fn with_file_server(mut self, files: Arc<dyn FileServer>) -> DataCompiler {
        self.files = Some(files);
        self
    }
}

fn short_digest(bytes: &[u8]) -> String {
    let d = puppet_protocol::files::digest(bytes, "sha256");
    format!("sha256:{}", &d[..16.min(d.len())])
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A UUID (version 4 layout) derived from a key: the same key, the same UUID.
fn uuid_from(key: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn mtime_secs(stamp: Option<Stamp>) -> Option<i64> {
    let t = stamp?.0?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_secs()).ok()
}

impl DataCompiler {
    /// Where the catalog of `req` comes from: the node's complete catalog document in
    /// `envdir`, else the environment's data file.
    fn source(
        &self,
        envdir: &std::path::Path,
        req: &CompileRequest,
    ) -> Result<Source, ProtocolError> {
        if !envdir.is_dir() {
            return Err(ProtocolError::EnvironmentNotFound(req.environment.clone()));
        }
        let doc = envdir
            .join("catalogs")
            .join(format!("{}.json", req.certname));
        match self.load_catalog(&doc) {
            Ok(cached) => return cached.map(Source::Document),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ProtocolError::io(doc.display().to_string(), e)),
        }
        self.load_data(&envdir.join("resources.json"), req)
            .map(Source::Data)
    }

    /// The cache key of `req` from its source (see the module docs), `None` when the
    /// catalog also depends on something the key cannot cover.
    fn key_of(&self, req: &CompileRequest, source: &Source) -> Option<String> {
        let inlines = req.static_catalog && self.files.is_some();
        let mut text = String::new();
        let mut part = |label: &str, value: &str| {
            // Length-prefixed, so that no two different lists of parts give the same text.
            text.push_str(&format!("{label}:{}:{value}", value.len()));
        };
        part("certname", &req.certname);
        part("environment", &req.environment);
        part("static", if req.static_catalog { "1" } else { "0" });
        if inlines {
            part("checksums", &req.checksum_types.join(","));
        }
        match source {
            Source::Document(c) => {
                if inlines && c.sources {
                    return None;
                }
                part("document", &format!("{:?}", c.stamp?));
                part("code_id", &format!("{:?}", c.catalog.code_id));
            }
            Source::Data(d) => {
                if inlines && d.sources {
                    return None;
                }
                part("data", &format!("{:?}", d.stamp?));
                part("code_id", &d.code_id);
                part("classes", &req.node.classes.join("\n"));
                for path in d.fact_paths.iter() {
                    match fact(req.facts.as_ref(), path) {
                        Some(v) => part(path, &v.to_string()),
                        None => part(path, "\0undefined"),
                    }
                }
            }
        }
        Some(puppet_protocol::files::digest(text.as_bytes(), "sha256"))
    }

    fn compile_sync(
        &self,
        envdir: &std::path::Path,
        req: &CompileRequest,
    ) -> Result<Catalog, ProtocolError> {
        let source = self.source(envdir, req)?;
        let key = self.key_of(req, &source);
        match source {
            Source::Document(cached) => {
                let mut catalog = Catalog::clone(&cached.catalog);
                catalog.name = req.certname.clone();
                catalog.environment = Some(req.environment.clone());
                catalog.catalog_uuid = Some(
                    key.as_deref()
                        .map_or_else(|| uuid::Uuid::new_v4().to_string(), uuid_from),
                );
                if catalog.version.is_none() {
                    let secs = key
                        .as_ref()
                        .and(mtime_secs(cached.stamp))
                        .unwrap_or_else(now_secs);
                    catalog.version = Some(CatalogVersion::Integer(secs));
                }
                Ok(catalog)
            }
            Source::Data(d) => {
                let mut catalog = compile_data(&d.data, req, &req.node.classes).map_err(|e| {
                    ProtocolError::Internal(format!(
                        "{}: {e}",
                        envdir.join("resources.json").display()
                    ))
                })?;
                catalog.code_id = Some(Value::String(d.code_id.clone()));
                if let Some(key) = &key {
                    catalog.catalog_uuid = Some(uuid_from(key));
                    if let Some(secs) = mtime_secs(d.stamp) {
                        catalog.version = Some(CatalogVersion::Integer(secs));
                    }
                }
                Ok(catalog)
            }
        }
    }
}

/// The fact paths `data` refers to: `${...}` interpolations other than `certname`,
/// `trusted.certname` and `environment`, and the keys of node rules' `facts`. Sorted.
fn fact_paths(data: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(start) = rest.find("${") {
                    let after = &rest[start + 2..];
                    let Some(end) = after.find('}') else { break };
                    let inner = &after[..end];
                    let key = inner.split_once('|').map_or(inner, |(k, _)| k).trim();
                    if !matches!(key, "certname" | "trusted.certname" | "environment") {
                        out.insert(key.strip_prefix("facts.").unwrap_or(key).to_string());
                    }
                    rest = &after[end + 1..];
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.iter().for_each(|(k, v)| {
                walk(&Value::String(k.clone()), out);
                walk(v, out);
            }),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(data, &mut out);
    if let Some(Value::Array(rules)) = data.get("nodes") {
        for rule in rules {
            if let Some(Value::Object(want)) = rule.get("facts") {
                out.extend(want.keys().cloned());
            }
        }
    }
    out.into_iter().collect()
}

/// Whether some resource of the data has a `source` parameter.
fn data_has_sources(data: &Value) -> bool {
    data.get("classes")
        .and_then(Value::as_object)
        .is_some_and(|classes| {
            classes
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .any(|r| {
                    r.get("parameters")
                        .and_then(Value::as_object)
                        .is_some_and(|p| p.contains_key("source"))
                })
        })
}

impl DataCompiler {
    /// The parsed complete catalog document with its code_id set, from the cache while the
    /// file's (mtime, length, inode) is unchanged.
    fn load_catalog(
        &self,
        doc: &std::path::Path,
    ) -> std::io::Result<Result<CachedCatalog, ProtocolError>> {
        let now = stamp(doc);
        if now.is_some()
            && let Some(hit) = lock(&self.catalogs).get(doc)
            && hit.stamp == now
        {
            return Ok(Ok(hit.clone()));
        }
        let bytes = std::fs::read(doc)?;
        let mut catalog = match Catalog::from_json(&bytes) {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(ProtocolError::Internal(format!(
                    "{}: {e}",
                    doc.display()
                ))));
            }
        };
        if !catalog.code_id.as_ref().is_some_and(|c| c.is_string()) {
            catalog.code_id = Some(Value::String(short_digest(&bytes)));
        }
        let sources = catalog.resources.iter().any(|r| {
            r.resource_type == "File"
                && r.parameters
                    .as_ref()
                    .is_some_and(|p| p.contains_key("source"))
        });
        let cached = CachedCatalog {
            stamp: now,
            catalog: Arc::new(catalog),
            sources,
        };
        if now.is_some() {
            lock(&self.catalogs).insert(doc.to_path_buf(), cached.clone());
        }
        Ok(Ok(cached))
    }

    /// The parsed data file, from the cache while the file is unchanged.
    fn load_data(
        &self,
        data_path: &std::path::Path,
        req: &CompileRequest,
    ) -> Result<Cached, ProtocolError> {
        let now = stamp(data_path);
        if now.is_some()
            && let Some(hit) = lock(&self.cache).get(data_path)
            && hit.stamp == now
        {
            return Ok(hit.clone());
        }
        let bytes = match std::fs::read(data_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProtocolError::NotFound(format!(
                    "Could not find a catalog for {} in environment {}",
                    req.certname, req.environment
                )));
            }
            Err(e) => {
                return Err(ProtocolError::Internal(format!(
                    "{}: {e}",
                    data_path.display()
                )));
            }
        };
        let data: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ProtocolError::Internal(format!("{}: {e}", data_path.display())))?;
        let cached = Cached {
            stamp: now,
            fact_paths: Arc::new(fact_paths(&data)),
            sources: data_has_sources(&data),
            data: Arc::new(data),
            code_id: short_digest(&bytes),
        };
        if now.is_some() {
            lock(&self.cache).insert(data_path.to_path_buf(), cached.clone());
        }
        Ok(cached)
    }
}

impl DataCompiler {
    /// Compiles `request` from the environment directory `envdir` (instead of
    /// `<environments>/<env>`), as one version of the code: `code_id` replaces the catalog's
    /// own, and a static catalog's metadata is inlined from `files` (which must serve that
    /// same version). File sync compiles each catalog this way from one materialized version.
    pub async fn compile_from(
        &self,
        envdir: PathBuf,
        code_id: Option<&str>,
        files: Option<&dyn FileServer>,
        request: &CompileRequest,
    ) -> Result<Catalog, ProtocolError> {
        let me = self.clone();
        let req = request.clone();
        let mut catalog = tokio::task::spawn_blocking(move || me.compile_sync(&envdir, &req))
            .await
            .map_err(ProtocolError::service)??;
        if let Some(id) = code_id {
            catalog.code_id = Some(Value::String(id.to_string()));
        }
        if let (true, Some(files)) = (request.static_catalog, files) {
            inline_metadata(
                files,
                &request.environment,
                &mut catalog,
                &request.checksum_types,
            )
            .await?;
        }
        Ok(catalog)
    }
}

#[async_trait]
impl CatalogCompiler for DataCompiler {
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError> {
        let envdir = self.environments.join(&request.environment);
        self.compile_from(envdir, None, self.files.as_deref(), request)
            .await
    }

    /// From what is already loaded when the files are unchanged (a few `stat`s); a file
    /// changed since it was last loaded is loaded on a blocking thread.
    async fn cache_key(&self, request: &CompileRequest) -> Option<String> {
        if let Some(source) = self.loaded_source(request) {
            return self.key_of(request, &source);
        }
        let (me, req) = (self.clone(), request.clone());
        tokio::task::spawn_blocking(move || {
            let source = me
                .source(&me.environments.join(&req.environment), &req)
                .ok()?;
            me.key_of(&req, &source)
        })
        .await
        .ok()
        .flatten()
    }
}

impl DataCompiler {
    /// [`DataCompiler::source`] as far as the caches hold it with the files' current stamps.
    fn loaded_source(&self, req: &CompileRequest) -> Option<Source> {
        use std::os::unix::fs::MetadataExt;
        let envdir = self.environments.join(&req.environment);
        let doc = envdir
            .join("catalogs")
            .join(format!("{}.json", req.certname));
        match std::fs::metadata(&doc) {
            Ok(m) => {
                let now = Some((m.modified().ok(), m.len(), m.ino()));
                let hit = lock(&self.catalogs).get(&doc).cloned()?;
                (hit.stamp == now).then_some(Source::Document(hit))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !envdir.is_dir() {
                    return None;
                }
                let data = envdir.join("resources.json");
                let now = Some(stamp(&data)?);
                let hit = lock(&self.cache).get(&data).cloned()?;
                (hit.stamp == now).then_some(Source::Data(hit))
            }
            Err(_) => None,
        }
    }
}

/// A fact by dotted path (`os.family`, `processors.models.0`), as facter looks it up.
fn fact<'a>(facts: Option<&'a Facts>, path: &str) -> Option<&'a Value> {
    facts.and_then(|f| f.get(path))
}

fn interpolate(value: &Value, facts: Option<&Facts>, req: &CompileRequest) -> Value {
    match value {
        Value::String(s) => Value::String(interpolate_str(s, facts, req)),
        Value::Array(a) => Value::Array(a.iter().map(|v| interpolate(v, facts, req)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), interpolate(v, facts, req)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn interpolate_str(s: &str, facts: Option<&Facts>, req: &CompileRequest) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let (key, default) = match after[..end].split_once('|') {
            Some((k, d)) => (k.trim(), Some(d)),
            None => (after[..end].trim(), None),
        };
        let found = if key == "certname" || key == "trusted.certname" {
            Some(req.certname.clone())
        } else if key == "environment" {
            Some(req.environment.clone())
        } else {
            let path = key.strip_prefix("facts.").unwrap_or(key);
            fact(facts, path).map(scalar_text)
        };
        let text = found
            .filter(|t| !t.is_empty())
            .or_else(|| default.map(String::from))
            .unwrap_or_default();
        out.push_str(&text);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Compiles the data format for one node (see the module docs). `extra_classes` come from
/// the node classifier and are added after the matched ones.
///
/// ```
/// use puppet_master::compiler::compile_data;
/// use puppet_protocol::server::{CompileRequest, NodeInfo};
/// let data = serde_json::json!({
///   "classes": {"motd": [{"type": "File", "title": "/etc/motd",
///                          "parameters": {"content": "on ${facts.os.family}"}}]},
///   "nodes": [{"certname": "*.example.test", "classes": ["motd"]}]
/// });
/// let facts = puppet_facts::Facts::from_json(br#"{"name": "n1.example.test", "values": {"os": {"family": "Debian"}}}"#).unwrap();
/// let req = CompileRequest {
///     certname: "n1.example.test".into(), environment: "production".into(),
///     facts: Some(facts),
///     node: NodeInfo::default(), transaction_uuid: None, static_catalog: false, checksum_types: vec![],
/// };
/// let catalog = compile_data(&data, &req, &[]).unwrap();
/// let file = catalog.resources.iter().find(|r| r.resource_type == "File").unwrap();
/// assert_eq!(file.parameters.as_ref().unwrap()["content"], "on Debian");
/// assert!(catalog.edges.iter().any(|e| e.source == "Class[Motd]" && e.target == "File[/etc/motd]"));
/// ```
pub fn compile_data(
    data: &Value,
    req: &CompileRequest,
    extra_classes: &[String],
) -> Result<Catalog, String> {
    let facts = req.facts.as_ref();
    let classes_def = data
        .get("classes")
        .and_then(Value::as_object)
        .ok_or("\"classes\" must be an object")?;
    let nodes = match data.get("nodes") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("\"nodes\" must be an array".into()),
    };
    let mut classes: Vec<String> = Vec::new();
    for (i, rule) in nodes.iter().enumerate() {
        let certname_ok = match rule.get("certname") {
            None => true,
            Some(Value::String(g)) => glob_match(g, &req.certname),
            Some(_) => return Err(format!("nodes[{i}].certname must be a string")),
        };
        let facts_ok = match rule.get("facts") {
            None => true,
            Some(Value::Object(want)) => want.iter().all(|(path, v)| {
                fact(facts, path).is_some_and(|have| scalar_text(have) == scalar_text(v))
            }),
            Some(_) => return Err(format!("nodes[{i}].facts must be an object")),
        };
        if !(certname_ok && facts_ok) {
            continue;
        }
        let list = rule
            .get("classes")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("nodes[{i}].classes must be an array"))?;
        for c in list {
            let c = c
                .as_str()
                .ok_or_else(|| format!("nodes[{i}].classes must hold strings"))?;
            if !classes.iter().any(|x| x == c) {
                classes.push(c.to_string());
            }
        }
    }
    for c in extra_classes {
        if !classes.contains(c) {
            classes.push(c.clone());
        }
    }

    let mut builder = CatalogBuilder::new(&req.certname)
        .environment(&req.environment)
        .version(CatalogVersion::Integer(now_secs()));
    for class in &classes {
        let defs = classes_def
            .get(class)
            .ok_or_else(|| format!("unknown class {class:?} (classes.{class})"))?
            .as_array()
            .ok_or_else(|| format!("classes.{class} must be an array of resources"))?;
        let scope = builder
            .add(Declaration::class(class))
            .map_err(|e| format!("classes.{class}: {e}"))?;
        for (j, def) in defs.iter().enumerate() {
            let at = || format!("classes.{class}[{j}]");
            let rtype = def
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}.type must be a string", at()))?;
            let rtitle = def
                .get("title")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}.title must be a string", at()))?;
            let mut declaration =
                Declaration::new(rtype, interpolate_str(rtitle, facts, req)).within(&scope);
            match def.get("parameters") {
                None => {}
                Some(Value::Object(p)) => {
                    for (k, v) in p {
                        let v = interpolate(v, facts, req);
                        // The `tag` metaparameter: tags first, as Puppet orders them.
                        if k == "tag" {
                            for t in tag_list(&v) {
                                declaration = declaration.tag(&t);
                            }
                        } else {
                            declaration = declaration.param(k, v);
                        }
                    }
                }
                Some(_) => return Err(format!("{}.parameters must be an object", at())),
            }
            if let Some(extra) = def.get("tags") {
                for t in tag_list(extra) {
                    declaration = declaration.tag(&t);
                }
            }
            builder
                .add(declaration)
                .map_err(|e| format!("{}: {e}", at()))?;
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// Tags given as one string or a list of strings.
fn tag_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The default node classifier: the environment the agent asked for (else `production`), no
/// classes, and the node's stored facts as `parameters` once there are some (Puppetserver's
/// node response).
#[derive(Debug, Clone, Default)]
pub struct DefaultClassifier;

#[async_trait]
impl NodeClassifier for DefaultClassifier {
    async fn classify(
        &self,
        certname: &str,
        environment: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError> {
        Ok(NodeInfo {
            name: certname.to_string(),
            environment: environment.unwrap_or("production").to_string(),
            classes: Vec::new(),
            parameters: facts.map(|f| f.values.clone()),
        })
    }
}

fn sources(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

fn metadata_value(m: &FileMetadata) -> Result<Value, ProtocolError> {
    serde_json::to_value(m).map_err(ProtocolError::service)
}

/// The static-catalog step of compiling: inlines the metadata of every `File` resource's
/// first `puppet:///` source that `files` can give a `content_uri` for (`metadata` for a
/// single file, `recursive_metadata` for `recurse`), with the `content_uri` the agent then
/// fetches from `static_file_content`. Only for a catalog with a `code_id` (as Puppetserver,
/// quirk Q8). A source whose metadata cannot be read is left for the agent to ask about.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use puppet_master::ModuleFileServer;
/// use puppet_master::compiler::inline_metadata;
/// let dir = tempfile::tempdir().unwrap();
/// let files = dir.path().join("production/modules/m/files");
/// std::fs::create_dir_all(&files).unwrap();
/// std::fs::write(files.join("a.txt"), "alpha\n").unwrap();
/// let mut catalog = puppet_catalog::Catalog::from_json(br#"{"name": "n1", "code_id": "v1", "edges": [],
///   "resources": [{"type": "File", "title": "/tmp/a", "parameters": {"source": "puppet:///modules/m/a.txt"}}]}"#).unwrap();
/// inline_metadata(&ModuleFileServer::new(dir.path()), "production", &mut catalog, &[]).await.unwrap();
/// let meta = catalog.file_metadata("/tmp/a").unwrap().unwrap();
/// assert_eq!(meta.content_uri.as_deref(), Some("puppet:///modules/m/files/a.txt"));
/// # });
/// ```
pub async fn inline_metadata(
    files: &dyn FileServer,
    env: &str,
    catalog: &mut Catalog,
    preferences: &[String],
) -> Result<(), ProtocolError> {
    if !catalog.code_id.as_ref().is_some_and(Value::is_string) {
        return Ok(());
    }
    let default_checksum = pick_checksum(preferences);
    let mut metadata = catalog.metadata.take().unwrap_or_default();
    let mut recursive = catalog.recursive_metadata.take().unwrap_or_default();
    for r in catalog
        .resources
        .iter()
        .filter(|r| r.resource_type == "File")
    {
        let Some(params) = &r.parameters else {
            continue;
        };
        let p = |k: &str| params.get(k);
        let mut o = MetadataOptions {
            checksum_type: match p("checksum").and_then(Value::as_str) {
                Some(c) if c.starts_with("sha") => c.to_string(),
                _ => default_checksum.clone(),
            },
            links: if p("links").and_then(Value::as_str) == Some("follow") {
                Links::Follow
            } else {
                Links::Manage
            },
            source_permissions_use: matches!(
                p("source_permissions").and_then(Value::as_str),
                Some("use")
            ),
            ..MetadataOptions::default()
        };
        let recurse = matches!(p("recurse"), Some(Value::Bool(true)))
            || matches!(
                p("recurse").and_then(Value::as_str),
                Some("true" | "remote")
            );
        for source in sources(p("source")) {
            let Some(path) = source.strip_prefix("puppet:///") else {
                continue;
            };
            let path = path.trim_end_matches('/');
            let Some(uri) = files.content_uri(path) else {
                continue;
            };
            if recurse {
                o.recurse = true;
                o.recurselimit = p("recurselimit")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok());
                o.ignore = sources(p("ignore"));
                let Ok(list) = files.metadatas(env, path, &o).await else {
                    continue;
                };
                let list = list
                    .into_iter()
                    .map(|mut e| {
                        e.content_uri = Some(match e.relative_path.as_deref() {
                            None | Some(".") => format!("puppet:///{uri}"),
                            Some(rel) => format!("puppet:///{uri}/{rel}"),
                        });
                        metadata_value(&e)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut by_source = Map::new();
                by_source.insert(source.clone(), Value::Array(list));
                recursive.insert(r.title.clone(), Value::Object(by_source));
            } else {
                let Ok(mut one) = files.metadata(env, path, &o).await else {
                    continue;
                };
                one.content_uri = Some(format!("puppet:///{uri}"));
                one.source = Some(source.clone());
                metadata.insert(r.title.clone(), metadata_value(&one)?);
            }
            break;
        }
    }
    catalog.metadata = Some(metadata);
    catalog.recursive_metadata = Some(recursive);
    Ok(())
}
