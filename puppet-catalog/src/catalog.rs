//! The catalog document model.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::reference::split_ref;
use crate::{CatalogError, ResourceRef};

mod de;
mod redact;

/// A compiled catalog, as Puppetserver 7 sends it (`catalog_format` 1 or 2).
///
/// Fields this model does not name are kept in `extra`, so that parsing then serializing gives
/// back the same JSON value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    /// Tags of the whole catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The node's certname.
    pub name: String,
    /// The config version (an integer by default, a string from a `config_version` script).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<CatalogVersion>,
    /// The code version that built the catalog: a string, or `Some(Value::Null)` for the
    /// `null` Puppetserver writes when code is not versioned (`None`: no key at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_id: Option<Value>,
    /// The catalog's UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_uuid: Option<String>,
    /// 1 or 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_format: Option<u64>,
    /// The environment it was compiled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The resources, in the order the compiler added them (which is the manifest order the
    /// agent applies in).
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Containment edges (`Stage[main]` → `Class[Foo]` → members).
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// The classes evaluated for the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Static catalogs: file metadata inlined per resource reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Static catalogs: recursive file metadata inlined per resource reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_metadata: Option<Map<String, Value>>,
    /// Every key this model does not name, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A catalog's `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CatalogVersion {
    /// The default: the compile time as seconds since the epoch.
    Integer(i64),
    /// What a `config_version` script printed.
    String(String),
}

/// One resource of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// The type: `File`, `Class`, `Foo::Bar`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The title.
    pub title: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Manifest file it was declared in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Whether it is exported (`@@`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported: Option<bool>,
    /// `compilable_type`, `class`, `defined_type` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Parameters, in declaration order; relationship metaparameters
    /// (`require`, `before`, `notify`, `subscribe`) are among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Names of parameters whose values are Sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive_parameters: Option<Vec<String>>,
    /// Every key this model does not name, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A containment edge: `source` contains `target`. Both are reference strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// The container, e.g. `Class[Foo]`.
    pub source: String,
    /// The contained resource, e.g. `File[/etc/motd]`.
    pub target: String,
    /// Every key this model does not name, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Reads `T` from JSON bytes, naming the JSON path of the first problem.
pub(crate) fn from_json_path<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
) -> Result<T, CatalogError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        CatalogError::Parse {
            path,
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| CatalogError::Parse {
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

impl Catalog {
    /// Reads a catalog document (JSON as Puppetserver sends it, `catalog_format` 1 or 2, rich
    /// data included). A malformed document gives [`CatalogError::Parse`] with the JSON path of
    /// the problem.
    ///
    /// ```
    /// use puppet_catalog::{Catalog, CatalogError};
    /// let catalog = Catalog::from_json(br#"{"name": "web1", "version": 1700000000,
    ///   "resources": [{"type": "Notify", "title": "hi", "tags": ["notify"]}], "edges": []}"#)?;
    /// assert_eq!(catalog.resources[0].reference().to_string(), "Notify[hi]");
    ///
    /// let err = Catalog::from_json(br#"{"name": "web1", "resources": [{"type": "Notify"}]}"#)
    ///     .unwrap_err();
    /// assert!(matches!(&err, CatalogError::Parse { path, .. } if path == "resources[0]"));
    /// assert!(err.to_string().contains("missing field `title`"));
    /// # Ok::<(), CatalogError>(())
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        from_json_path(bytes)
    }

    /// The catalog as JSON, keys in Puppetserver's order (`tags, name, version, code_id,
    /// catalog_uuid, catalog_format, environment, resources, edges, classes, metadata,
    /// recursive_metadata`, then the keys this model does not name). Reading a document and
    /// writing it back gives the same JSON value.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let text = r#"{"tags":["settings"],"name":"web1","version":1,"code_id":null,"resources":[],"edges":[],"future":{"x":1}}"#;
    /// let catalog = Catalog::from_json(text.as_bytes())?;
    /// assert_eq!(catalog.to_json()?, text);
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn to_json(&self) -> Result<String, CatalogError> {
        serde_json::to_string(self).map_err(|e| CatalogError::Serialize {
            message: e.to_string(),
        })
    }

    /// [`Catalog::to_json`], indented.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let catalog = Catalog::from_json(br#"{"name":"web1","resources":[],"edges":[]}"#)?;
    /// assert!(catalog.to_json_pretty()?.starts_with("{\n  \"name\": \"web1\""));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn to_json_pretty(&self) -> Result<String, CatalogError> {
        serde_json::to_string_pretty(self).map_err(|e| CatalogError::Serialize {
            message: e.to_string(),
        })
    }

    /// The resource `reference` names (compared in Puppet's canonical form, so
    /// `Class[main]` finds the resource titled `main`). A linear search: for many lookups,
    /// [`crate::Graph`] indexes the catalog (aliases and namevars included).
    ///
    /// ```
    /// use puppet_catalog::{Catalog, ResourceRef};
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Class", "title": "main"},
    ///   {"type": "File", "title": "/etc/motd", "parameters": {"content": "hi"}}
    /// ], "edges": []}"#)?;
    /// let motd = catalog.resource(&"File['/etc/motd']".parse()?).unwrap();
    /// assert_eq!(motd.parameter("content").and_then(|v| v.as_str()), Some("hi"));
    /// assert!(catalog.resource(&ResourceRef::new("class", "main")).is_some());
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn resource(&self, reference: &ResourceRef) -> Option<&Resource> {
        self.resources.iter().find(|r| r.is(reference))
    }

    /// The code version that built the catalog, when it is a string.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","code_id":"v1","resources":[],"edges":[]}"#)?;
    /// assert_eq!(c.code_id_str(), Some("v1"));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn code_id_str(&self) -> Option<&str> {
        self.code_id.as_ref().and_then(Value::as_str)
    }

    /// Static catalogs: the file metadata Puppetserver inlined for the `File` resource whose
    /// title is `path` (`metadata` is keyed by title). `Ok(None)` when there is none.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[],"edges":[],"metadata":{
    ///   "/etc/motd": {"path": "/srv/code/modules/m/files/motd", "relative_path": null,
    ///     "links": "manage", "owner": 0, "group": 0, "mode": 420,
    ///     "checksum": {"type": "sha256", "value": "{sha256}ab"}, "type": "file",
    ///     "destination": null, "content_uri": "puppet:///modules/m/files/motd",
    ///     "source": "puppet:///modules/m/motd"}}}"#)?;
    /// let m = c.file_metadata("/etc/motd")?.unwrap();
    /// assert_eq!(m.mode, Some(0o644));
    /// assert_eq!(m.checksum.unwrap().value, "{sha256}ab");
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn file_metadata(&self, path: &str) -> Result<Option<FileMetadata>, CatalogError> {
        let Some(value) = self.metadata.as_ref().and_then(|m| m.get(path)) else {
            return Ok(None);
        };
        FileMetadata::deserialize(value)
            .map(Some)
            .map_err(|e| CatalogError::Parse {
                path: format!("metadata.{path}"),
                message: e.to_string(),
            })
    }

    /// Static catalogs: the metadata of every file under a recursive `File`'s sources, per
    /// source URL, in the document's order. Empty when there is none.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[],"edges":[],"recursive_metadata":{
    ///   "/srv/tree": {"puppet:///modules/m/tree": [
    ///     {"path": "/code/m/files/tree", "relative_path": ".", "type": "directory"},
    ///     {"path": "/code/m/files/tree", "relative_path": "a.txt", "type": "file"}]}}}"#)?;
    /// let sources = c.recursive_file_metadata("/srv/tree")?;
    /// assert_eq!(sources[0].0, "puppet:///modules/m/tree");
    /// assert_eq!(sources[0].1[1].relative_path.as_deref(), Some("a.txt"));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn recursive_file_metadata(
        &self,
        path: &str,
    ) -> Result<Vec<(String, Vec<FileMetadata>)>, CatalogError> {
        let Some(value) = self.recursive_metadata.as_ref().and_then(|m| m.get(path)) else {
            return Ok(Vec::new());
        };
        let by_source: Map<String, Value> =
            Map::deserialize(value).map_err(|e| CatalogError::Parse {
                path: format!("recursive_metadata.{path}"),
                message: e.to_string(),
            })?;
        by_source
            .into_iter()
            .map(|(source, list)| {
                let files =
                    Vec::<FileMetadata>::deserialize(&list).map_err(|e| CatalogError::Parse {
                        path: format!("recursive_metadata.{path}.{source}"),
                        message: e.to_string(),
                    })?;
                Ok((source, files))
            })
            .collect()
    }
}

impl Resource {
    /// The resource's reference, canonicalized (`Class[main]` → `Class[Main]`).
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[{"type":"Class","title":"main"}],"edges":[]}"#)?;
    /// assert_eq!(c.resources[0].reference().to_string(), "Class[Main]");
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn reference(&self) -> ResourceRef {
        ResourceRef::new(&self.resource_type, self.title.as_str())
    }

    /// Whether `reference` names this resource (by type and title, canonicalized).
    pub fn is(&self, reference: &ResourceRef) -> bool {
        let ty = crate::reference::canonical_type(&self.resource_type);
        if ty != reference.type_name.as_str() {
            return false;
        }
        if ty == "Class" {
            crate::reference::canonical_type(&self.title) == reference.title.as_str()
        } else {
            self.title == reference.title
        }
    }

    /// The value of parameter `name`, as it is in the document (rich-data values such as
    /// `{"__ptype": "Sensitive", "__pvalue": ...}` included).
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[
    ///   {"type":"Package","title":"nginx","parameters":{"ensure":"installed"}}],"edges":[]}"#)?;
    /// assert_eq!(c.resources[0].parameter("ensure"), Some(&serde_json::json!("installed")));
    /// assert_eq!(c.resources[0].parameter("provider"), None);
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters.as_ref().and_then(|p| p.get(name))
    }

    /// Whether parameter `name` is Sensitive: listed in `sensitive_parameters` (how Puppet 7
    /// marks them) or written in rich data as `{"__ptype": "Sensitive", ...}`.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[{"type":"File","title":"/k",
    ///   "parameters":{"content":"s3cret","mode":"0600"},"sensitive_parameters":["content"]}],"edges":[]}"#)?;
    /// assert!(c.resources[0].is_sensitive("content"));
    /// assert!(!c.resources[0].is_sensitive("mode"));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.sensitive_parameters
            .as_ref()
            .is_some_and(|list| list.iter().any(|p| p == name))
            || self.parameter(name).is_some_and(is_rich_sensitive)
    }

    /// The references in the resource's relationship metaparameters, in the order `require`,
    /// `subscribe`, `before`, `notify`, each with its metaparameter's name. A value that is not
    /// a reference is [`CatalogError::InvalidReference`].
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[{"type":"Service","title":"nginx",
    ///   "parameters":{"subscribe":["File[/etc/nginx.conf]"],"require":"package[nginx]"}}],"edges":[]}"#)?;
    /// let rels = c.resources[0].relationships()?;
    /// assert_eq!(rels[0].0, "require");
    /// assert_eq!(rels[0].1.to_string(), "Package[nginx]");
    /// assert_eq!(rels[1].0, "subscribe");
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn relationships(&self) -> Result<Vec<(&'static str, ResourceRef)>, CatalogError> {
        let mut out = Vec::new();
        for name in ["require", "subscribe", "before", "notify"] {
            let Some(value) = self.parameter(name) else {
                continue;
            };
            for r in ResourceRef::list_from_value(value)? {
                out.push((name, r));
            }
        }
        Ok(out)
    }
}

/// Whether `value` is rich data's `{"__ptype": "Sensitive", "__pvalue": ...}`.
pub(crate) fn is_rich_sensitive(value: &Value) -> bool {
    value
        .as_object()
        .and_then(|o| o.get("__ptype"))
        .and_then(Value::as_str)
        == Some("Sensitive")
}

impl Edge {
    /// The container and the contained resource, parsed.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let c = Catalog::from_json(br#"{"name":"n","resources":[],"edges":[
    ///   {"source":"Stage[main]","target":"Class[main]"}]}"#)?;
    /// let (source, target) = c.edges[0].references()?;
    /// assert_eq!(target.to_string(), "Class[Main]");
    /// # let _ = source;
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn references(&self) -> Result<(ResourceRef, ResourceRef), CatalogError> {
        let one = |text: &str| {
            split_ref(text)
                .map(|(t, n)| ResourceRef {
                    type_name: t.into_owned(),
                    title: n.into_owned(),
                })
                .map_err(|reason| CatalogError::InvalidReference {
                    reference: text.to_string(),
                    reason: reason.to_string(),
                })
        };
        Ok((one(&self.source)?, one(&self.target)?))
    }
}

/// One file's metadata as Puppetserver inlines it in a static catalog (and serves it from
/// `file_metadata`). `mode` is decimal in the document (420 = 0644).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// Path on the server.
    pub path: String,
    /// Path below the source root (`.` for the root, `null` for a single file).
    #[serde(default)]
    pub relative_path: Option<String>,
    /// `manage` or `follow`.
    #[serde(default)]
    pub links: Option<String>,
    /// Owner (a uid, or a name).
    #[serde(default)]
    pub owner: Option<Value>,
    /// Group (a gid, or a name).
    #[serde(default)]
    pub group: Option<Value>,
    /// Permission bits.
    #[serde(default)]
    pub mode: Option<u32>,
    /// Checksum.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// `file`, `directory` or `link`.
    #[serde(rename = "type", default)]
    pub file_type: Option<String>,
    /// Link target.
    #[serde(default)]
    pub destination: Option<String>,
    /// Where the agent fetches the content (`static_file_content`), static catalogs only.
    #[serde(default)]
    pub content_uri: Option<String>,
    /// The `source` it was found from.
    #[serde(default)]
    pub source: Option<String>,
    /// Every key this model does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A checksum in file metadata: `{"type": "sha256", "value": "{sha256}…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `sha256`, `md5`, `ctime`, ...
    #[serde(rename = "type")]
    pub checksum_type: String,
    /// The value, prefixed with its type in braces.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: &Value) {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        let catalog = match Catalog::from_json(&bytes) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let back: Value = catalog
            .to_json()
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        assert_eq!(&back, value);
        // Same keys in the same order, too.
        assert_eq!(catalog.to_json().ok(), serde_json::to_string(value).ok());
    }

    #[test]
    fn format_1_and_2_and_rich_data_round_trip() {
        // catalog_format 1 (Puppet 4 to 6): a string version, no code_id key.
        round_trip(&json!({
            "tags": ["settings"], "name": "old.example.com", "version": "git-4f3c2a1",
            "catalog_uuid": "0b7e3f1c-7d8e-4c2b-9a6f-5e4d3c2b1a09", "catalog_format": 1,
            "environment": "production",
            "resources": [{"type": "Stage", "title": "main", "tags": ["stage"], "exported": false}],
            "edges": [], "classes": ["settings"]
        }));
        // catalog_format 2 with rich data: Sensitive, a hash with non-string keys, a
        // timestamp, `null` code_id, unknown keys at every level.
        round_trip(&json!({
            "tags": ["settings", "class"], "name": "n", "version": 1_700_000_000, "code_id": null,
            "catalog_uuid": "u", "catalog_format": 2, "environment": "production",
            "resources": [{
                "type": "File", "title": "/etc/k", "tags": ["file", "class"],
                "file": "/m/site.pp", "line": 3, "exported": false, "kind": "compilable_type",
                "parameters": {
                    "content": {"__ptype": "Sensitive", "__pvalue": "s3cret"},
                    "map": {"__ptype": "Hash", "__pvalue": [1, "one", 2, "two"]},
                    "when": {"__ptype": "Timestamp", "__pvalue": "2026-11-22T17:43:39.000000000 UTC"},
                    "nothing": null
                },
                "sensitive_parameters": ["content"],
                "future_resource_key": [1, 2]
            }],
            "edges": [{"source": "Class[main]", "target": "File[/etc/k]", "future_edge_key": true}],
            "classes": ["settings"],
            "metadata": {"/etc/k": {"path": "/x", "mode": 420}},
            "recursive_metadata": {},
            "future_catalog_key": {"a": null}
        }));
    }

    #[test]
    fn null_values_of_known_keys_come_back() {
        let value = json!({
            "tags": null, "name": "n", "version": null, "code_id": null, "environment": null,
            "resources": [{"type": "Notify", "title": "a", "file": null, "line": null, "parameters": null}],
            "edges": [], "classes": null
        });
        let catalog =
            Catalog::from_json(value.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.code_id, Some(Value::Null));
        assert!(catalog.resources[0].parameters.is_none());
        let back: Value = catalog
            .to_json()
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        assert_eq!(back, value);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        for (text, path) in [
            (&br#"{"name": "a", "name": "b"}"#[..], "."),
            (br#"{"name": "a", "x": 1, "x": 2}"#, "."),
            (
                br#"{"name": "a", "resources": [{"type": "A", "title": "b", "title": "c"}]}"#,
                "resources[0]",
            ),
        ] {
            match Catalog::from_json(text) {
                Err(CatalogError::Parse { path: p, message }) => {
                    assert_eq!(p, path);
                    assert!(message.contains("duplicate field"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_json_path() {
        let cases: [(&[u8], &str, &str); 5] = [
            (
                br#"{"name": "n", "resources": [{"type": "File", "title": 3}]}"#,
                "resources[0].title",
                "invalid type",
            ),
            (
                br#"{"name": "n", "resources": [], "edges": [{"source": "A[b]"}]}"#,
                "edges[0]",
                "missing field `target`",
            ),
            (
                br#"{"name": "n", "resources": [{"type": "File", "title": "/x", "line": "ten"}]}"#,
                "resources[0].line",
                "invalid type",
            ),
            (br#"{"resources": []}"#, ".", "missing field `name`"),
            (br#"{"name": "n"} trailing"#, ".", "trailing characters"),
        ];
        for (bytes, path, message) in cases {
            match Catalog::from_json(bytes) {
                Err(CatalogError::Parse {
                    path: p,
                    message: m,
                }) => {
                    assert_eq!(p, path, "{m}");
                    assert!(m.contains(message), "{p}: {m}");
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bytes)),
            }
        }
        assert!(Catalog::from_json(b"").is_err());
        assert!(Catalog::from_json(b"[]").is_err());
    }

    #[test]
    fn accessors() {
        let c = Catalog::from_json(
            br#"{"name":"n","resources":[
              {"type":"Class","title":"Foo::Bar"},
              {"type":"Foo::Thing","title":"one","parameters":{"require":["class[foo::bar]"],"notify":"Exec[x]"}},
              {"type":"Exec","title":"x","parameters":{"before":5}}],"edges":[]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let thing = c.resource(&ResourceRef::new("foo::thing", "one"));
        assert!(thing.is_some());
        let rels = thing.map(|t| t.relationships());
        let rels: Vec<String> = match rels {
            Some(Ok(r)) => r.iter().map(|(m, r)| format!("{m} {r}")).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(rels, ["require Class[Foo::Bar]", "notify Exec[x]"]);
        assert!(matches!(
            c.resources[2].relationships(),
            Err(CatalogError::InvalidReference { .. })
        ));
        assert!(c.resource(&ResourceRef::new("Class", "foo::bar")).is_some());
        assert!(c.resource(&ResourceRef::new("Exec", "y")).is_none());
        assert_eq!(c.file_metadata("/x").ok(), Some(None));
        assert!(c.code_id_str().is_none());
    }

    proptest::proptest! {
        /// Whatever the bytes, reading, checking and ordering return a result, never panic.
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = crate::check(&bytes);
        }

        /// Catalogs with arbitrary types, titles, relationship values and edges.
        #[test]
        fn arbitrary_catalogs_never_panic(
            resources in proptest::collection::vec(("[A-Za-z:]{0,6}", "\\PC{0,8}", "\\PC{0,12}"), 0..8),
            edges in proptest::collection::vec(("\\PC{0,10}", "\\PC{0,10}"), 0..6),
        ) {
            let value = json!({
                "name": "n",
                "resources": resources.iter().map(|(t, n, rel)| json!({
                    "type": t, "title": n,
                    "parameters": {"require": rel, "before": [rel, 3], "path": n, "cwd": rel}
                })).collect::<Vec<_>>(),
                "edges": edges.iter().map(|(s, t)| json!({"source": s, "target": t})).collect::<Vec<_>>(),
            });
            let bytes = serde_json::to_vec(&value).unwrap_or_default();
            let _ = crate::check(&bytes);
            if let Ok(c) = Catalog::from_json(&bytes) {
                let g = crate::Graph::new_lenient(&c);
                let _ = g.apply_order();
                let _ = g.cycles();
                let _ = crate::diff(&c, &c);
            }
        }
    }
}
