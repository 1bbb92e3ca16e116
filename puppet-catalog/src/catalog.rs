//! The catalog document model.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A compiled catalog, as Puppetserver 7 sends it (`catalog_format` 1 or 2).
///
/// Fields this model does not name are kept in `extra`, so that parsing then serializing gives
/// back the same JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Tags of the whole catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The node's certname.
    pub name: String,
    /// The config version (an integer by default, a string from a `config_version` script).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<CatalogVersion>,
    /// The code version that built the catalog (`null` when code is not versioned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CatalogVersion {
    /// The default: the compile time as seconds since the epoch.
    Integer(i64),
    /// What a `config_version` script printed.
    String(String),
}

/// One resource of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The container, e.g. `Class[Foo]`.
    pub source: String,
    /// The contained resource, e.g. `File[/etc/motd]`.
    pub target: String,
    /// Every key this model does not name, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
