//! Commands as PuppetDB 7 accepts them on `POST /pdb/cmd/v1`: the query parameters, the
//! (possibly gzipped) body, and the typed documents they carry.

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{CommandErrorKind, DbError};
use crate::time::Timestamp;

/// The commands this service accepts, with the one version of each it takes.
pub const COMMANDS: [(&str, u32); 5] = [
    ("replace facts", 5),
    ("replace catalog", 9),
    ("replace catalog inputs", 1),
    ("store report", 8),
    ("deactivate node", 3),
];

/// PuppetDB's oldest accepted version of each command (below it: "retired").
const MIN_VERSIONS: [(&str, u32); 5] = [
    ("replace facts", 2),
    ("replace catalog", 4),
    ("replace catalog inputs", 1),
    ("store report", 3),
    ("deactivate node", 1),
];

/// The query parameters PuppetDB allows on `/pdb/cmd/v1`.
const VALID_PARAMS: [&str; 6] = [
    "checksum",
    "secondsToWaitForCompletion",
    "certname",
    "command",
    "version",
    "producer-timestamp",
];

/// The largest body accepted once gunzipped (a gzip bomb stops here).
pub const MAX_UNCOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;

/// One command, checked and typed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// `replace facts` v5.
    ReplaceFacts(Factset),
    /// `replace catalog` v9 (Sensitive parameters already removed).
    ReplaceCatalog(Catalog),
    /// `replace catalog inputs` v1.
    ReplaceCatalogInputs(CatalogInputs),
    /// `store report` v8.
    StoreReport(Box<Report>),
    /// `deactivate node` v3.
    DeactivateNode {
        /// The node.
        certname: String,
        /// When the deactivation was asked for.
        producer_timestamp: Timestamp,
    },
}

impl Command {
    /// The node the command is about.
    pub fn certname(&self) -> &str {
        match self {
            Command::ReplaceFacts(f) => &f.certname,
            Command::ReplaceCatalog(c) => &c.certname,
            Command::ReplaceCatalogInputs(c) => &c.certname,
            Command::StoreReport(r) => &r.certname,
            Command::DeactivateNode { certname, .. } => certname,
        }
    }

    /// PuppetDB's name of the command (`"replace facts"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Command::ReplaceFacts(_) => "replace facts",
            Command::ReplaceCatalog(_) => "replace catalog",
            Command::ReplaceCatalogInputs(_) => "replace catalog inputs",
            Command::StoreReport(_) => "store report",
            Command::DeactivateNode { .. } => "deactivate node",
        }
    }

    /// A command from a `POST /pdb/cmd/v1` request: its query parameters (already
    /// percent-decoded) and its body, gzipped or not. Refuses, with PuppetDB's text,
    /// unknown or retired commands, missing or unknown parameters and bodies that are not
    /// the command's wire format.
    ///
    /// ```
    /// use puppet_db::Command;
    /// let params = [("command", "replace_facts"), ("version", "5"), ("certname", "web1")];
    /// let body = br#"{"certname":"web1","environment":"production",
    ///     "producer_timestamp":"2026-12-02T10:00:00.000Z","producer":"puppet",
    ///     "values":{"kernel":"Linux"}}"#;
    /// let command = Command::from_request(&params, body).unwrap();
    /// assert_eq!(command.name(), "replace facts");
    /// assert_eq!(command.certname(), "web1");
    ///
    /// let bad = [("command", "replace facts"), ("version", "1"), ("certname", "web1")];
    /// let e = Command::from_request(&bad, body).unwrap_err();
    /// assert_eq!(e.to_string(), "Command \"replace facts\" for certname \"web1\" is invalid. \
    ///     Version 1 of command \"replace facts\" is retired. The minimum supported version is 2.");
    /// ```
    pub fn from_request<K: AsRef<str>, V: AsRef<str>>(
        params: &[(K, V)],
        body: &[u8],
    ) -> Result<Command, DbError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref())
        };
        let raw_name = get("command").unwrap_or("");
        let name = raw_name.replace('_', " ");
        let certname = get("certname");
        let invalid = |kind, why: String| {
            DbError::command(
                kind,
                format!(
                    "Command {} for certname {} is invalid. {why}",
                    quoted(Some(&name)),
                    quoted(certname)
                ),
            )
        };
        let missing: Vec<&str> = ["certname", "version", "command"]
            .into_iter()
            .filter(|p| get(p).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(
                CommandErrorKind::Parameters,
                format!(
                    "Command is missing required parameters: {}.",
                    missing.join(", ")
                ),
            ));
        }
        let unknown: Vec<&str> = params
            .iter()
            .map(|(k, _)| k.as_ref())
            .filter(|k| !VALID_PARAMS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(
                CommandErrorKind::Parameters,
                format!("Command has invalid parameters: {}.", unknown.join(", ")),
            ));
        }
        let certname = certname.unwrap_or("");
        if certname.trim().is_empty() {
            return Err(invalid(
                CommandErrorKind::Parameters,
                "Certname must be a non-empty string.".into(),
            ));
        }
        let Some(&(_, min)) = MIN_VERSIONS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = COMMANDS.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                CommandErrorKind::UnknownCommand,
                format!("Command must be one of: {}.", names.join(", ")),
            ));
        };
        let Ok(version) = get("version").unwrap_or("").parse::<u32>() else {
            return Err(invalid(
                CommandErrorKind::Version,
                "Version must be a valid integer.".into(),
            ));
        };
        if version < min {
            return Err(invalid(
                CommandErrorKind::Version,
                format!(
                    "Version {version} of command \"{name}\" is retired. The minimum supported version is {min}."
                ),
            ));
        }
        let wanted = COMMANDS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v);
        if version != wanted {
            return Err(invalid(
                CommandErrorKind::Version,
                format!(
                    "Version {version} of command \"{name}\" is not supported by this service: it takes version {wanted}."
                ),
            ));
        }
        let body = gunzip(body)?;
        let body_error = |e: String| {
            DbError::command(
                CommandErrorKind::Body,
                format!("Command \"{name}\" for certname \"{certname}\" has an invalid body: {e}"),
            )
        };
        let command = match name.as_str() {
            "replace facts" => {
                let wire: FactsWire = from_json(&body).map_err(body_error)?;
                Command::ReplaceFacts(wire.check().map_err(body_error)?)
            }
            "replace catalog" => {
                let wire: CatalogWire = from_json(&body).map_err(body_error)?;
                Command::ReplaceCatalog(wire.check().map_err(body_error)?)
            }
            "replace catalog inputs" => {
                let wire: CatalogInputsWire = from_json(&body).map_err(body_error)?;
                let ts = match wire
                    .producer_timestamp
                    .as_deref()
                    .or(get("producer-timestamp"))
                {
                    Some(t) => Timestamp::parse(t).map_err(body_error)?,
                    None => Timestamp::now(),
                };
                // Stored as PuppetDB stores them: distinct, sorted.
                let mut inputs = wire.inputs;
                inputs.sort();
                inputs.dedup();
                Command::ReplaceCatalogInputs(CatalogInputs {
                    certname: nonempty(wire.certname, "certname").map_err(body_error)?,
                    catalog_uuid: wire.catalog_uuid,
                    producer_timestamp: ts,
                    inputs,
                })
            }
            "store report" => {
                let wire: ReportWire = from_json(&body).map_err(body_error)?;
                Command::StoreReport(Box::new(wire.check().map_err(body_error)?))
            }
            _ => {
                let wire: DeactivateWire = from_json(&body).map_err(body_error)?;
                let ts = match wire
                    .producer_timestamp
                    .as_deref()
                    .or(get("producer-timestamp"))
                {
                    Some(t) => Timestamp::parse(t).map_err(body_error)?,
                    None => Timestamp::now(),
                };
                Command::DeactivateNode {
                    certname: nonempty(wire.certname, "certname").map_err(body_error)?,
                    producer_timestamp: ts,
                }
            }
        };
        if command.certname() != certname {
            return Err(body_error(format!(
                "the body is for certname {:?}, the request for {certname:?}",
                command.certname()
            )));
        }
        Ok(command)
    }
}

fn quoted(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("{s:?}"),
        None => "nil".into(),
    }
}

/// The body, gunzipped when it starts with gzip's magic bytes (the terminus always gzips);
/// a plain body is used as it is, not copied.
fn gunzip(body: &[u8]) -> Result<Cow<'_, [u8]>, DbError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(body));
    }
    // The gzip trailer's ISIZE (the length mod 2^32) sizes the buffer once, bounded by what
    // the body could hold at deflate's highest ratio (about 1,032:1) and by the limit, so a
    // lying trailer costs no more memory than reading does.
    let isize_hint = body
        .len()
        .checked_sub(4)
        .and_then(|at| body.get(at..))
        .and_then(|t| <[u8; 4]>::try_from(t).ok())
        .map_or(0, |t| u32::from_le_bytes(t) as usize);
    let capacity = isize_hint
        .min(body.len().saturating_mul(1032))
        .min(MAX_UNCOMPRESSED_BYTES as usize)
        + 1;
    let mut out = Vec::with_capacity(capacity);
    flate2::read::GzDecoder::new(body)
        .take(MAX_UNCOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| DbError::command(CommandErrorKind::Body, format!("Invalid gzip body: {e}")))?;
    if out.len() as u64 > MAX_UNCOMPRESSED_BYTES {
        return Err(DbError::command(
            CommandErrorKind::Body,
            format!("Command size exceeds max-command-size ({MAX_UNCOMPRESSED_BYTES} bytes)"),
        ));
    }
    Ok(Cow::Owned(out))
}

/// A body as `T`. Parsed once without tracking where in the document the parser is (the
/// common case: a valid body); only a body that fails is parsed again with the path, for
/// the error message.
fn from_json<'de, T: serde::Deserialize<'de>>(body: &'de [u8]) -> Result<T, String> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("at {path}: {}", e.into_inner())
        }
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

fn nonempty(s: String, what: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err(format!("{what} must be a non-empty string"))
    } else {
        Ok(s)
    }
}

fn ts(s: &str, what: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| format!("{what}: {e}"))
}

/// A hex digest of a JSON value (what PuppetDB calls a `hash`: here SHA-256, first 40 hex
/// digits, so it has the length of PuppetDB's SHA-1 but is not the same value). `v` is
/// serialized straight into the hash (a tuple hashes as the JSON array of its members).
pub(crate) fn digest(v: &impl serde::Serialize) -> String {
    let mut hasher = HashWriter(Sha256::new());
    if serde_json::to_writer(&mut hasher, v).is_err() {
        hasher = HashWriter(Sha256::new());
    }
    hex40(&hasher.0.finalize())
}

/// The first 20 bytes of a digest as 40 lowercase hex digits.
pub(crate) fn hex40(sum: &[u8]) -> String {
    let mut out = String::with_capacity(40);
    for b in sum.iter().take(20) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes written into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Deserialize)]
struct DeactivateWire {
    certname: String,
    #[serde(default)]
    producer_timestamp: Option<String>,
}

/// The inputs of a node's catalog (`replace catalog inputs` v1): `(type, name)` pairs such
/// as `("hiera", "ntp::servers")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogInputs {
    /// The node.
    pub certname: String,
    /// The catalog the inputs were used for.
    pub catalog_uuid: String,
    /// When they were sent.
    pub producer_timestamp: Timestamp,
    /// `(type, name)` pairs.
    pub inputs: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct CatalogInputsWire {
    certname: String,
    catalog_uuid: String,
    #[serde(default)]
    producer_timestamp: Option<String>,
    inputs: Vec<(String, String)>,
}

/// A node's facts (`replace facts` v5).
#[derive(Debug, Clone, PartialEq)]
pub struct Factset {
    /// The node.
    pub certname: String,
    /// Its environment.
    pub environment: Option<String>,
    /// When the facts were produced (Puppetserver's clock).
    pub producer_timestamp: Timestamp,
    /// Who sent them (the server's certname).
    pub producer: Option<String>,
    /// The facts, `trusted` included.
    pub values: Map<String, Value>,
}

#[derive(Deserialize)]
struct FactsWire {
    certname: String,
    #[serde(default)]
    environment: Option<String>,
    producer_timestamp: String,
    #[serde(default)]
    producer: Option<String>,
    values: Map<String, Value>,
}

impl FactsWire {
    fn check(self) -> Result<Factset, String> {
        Ok(Factset {
            certname: nonempty(self.certname, "certname")?,
            environment: self.environment,
            producer_timestamp: ts(&self.producer_timestamp, "producer_timestamp")?,
            producer: self.producer,
            values: self.values,
        })
    }
}

/// A catalog (`replace catalog` v9) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// The node.
    pub certname: String,
    /// The catalog's `version` (a string).
    pub version: String,
    /// Its environment.
    pub environment: Option<String>,
    /// The agent run's transaction.
    pub transaction_uuid: Option<String>,
    /// The catalog's own UUID.
    pub catalog_uuid: Option<String>,
    /// The code version it was compiled from.
    pub code_id: Option<String>,
    /// The orchestrator job, if any.
    pub job_id: Option<String>,
    /// When it was produced.
    pub producer_timestamp: Timestamp,
    /// Who compiled it.
    pub producer: Option<String>,
    /// Its resources, without Sensitive parameters.
    pub resources: Vec<Resource>,
    /// Its edges.
    pub edges: Vec<Edge>,
}

/// One resource of a catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Type (`File`).
    pub r#type: String,
    /// Title.
    pub title: String,
    /// Whether it is exported (`@@`).
    pub exported: bool,
    /// The manifest that declared it.
    pub file: Option<String>,
    /// Its line there.
    pub line: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Parameters (Sensitive ones removed).
    pub parameters: Map<String, Value>,
}

/// One edge of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Source type.
    pub source_type: String,
    /// Source title.
    pub source_title: String,
    /// Target type.
    pub target_type: String,
    /// Target title.
    pub target_title: String,
    /// `contains`, `before`, `required-by`, `notifies`, `subscription-of`.
    pub relationship: String,
}

#[derive(Deserialize)]
struct CatalogWire {
    certname: String,
    version: Value,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    transaction_uuid: Option<String>,
    #[serde(default)]
    catalog_uuid: Option<String>,
    #[serde(default)]
    code_id: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
    producer_timestamp: String,
    #[serde(default)]
    producer: Option<String>,
    resources: Vec<ResourceWire>,
    edges: Vec<EdgeWire>,
}

#[derive(Deserialize)]
struct ResourceWire {
    r#type: String,
    title: Value,
    #[serde(default)]
    exported: bool,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    sensitive_parameters: Vec<String>,
}

#[derive(Deserialize)]
struct RefWire {
    r#type: String,
    title: Value,
}

#[derive(Deserialize)]
struct EdgeWire {
    source: RefWire,
    target: RefWire,
    relationship: String,
}

fn title(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Removes Sensitive values before anything is stored: the parameters the catalog names in
/// `sensitive_parameters` (what PuppetDB's terminus removes) and any parameter holding
/// Puppet's rich-data `Sensitive` object.
///
/// ```
/// use serde_json::json;
/// let mut p = json!({"owner": "root", "content": "hunter2",
///     "password": {"__ptype": "Sensitive", "__pvalue": "s3cret"}});
/// let map = p.as_object_mut().unwrap();
/// puppet_db::redact_parameters(map, &["content".to_string()]);
/// assert_eq!(p, json!({"owner": "root"}));
/// ```
pub fn redact_parameters(parameters: &mut Map<String, Value>, sensitive: &[String]) {
    for name in sensitive {
        parameters.remove(name);
    }
    parameters.retain(|_, v| !is_sensitive(v));
}

fn is_sensitive(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("__ptype").and_then(Value::as_str) == Some("Sensitive")
                || m.values().any(is_sensitive)
        }
        Value::Array(a) => a.iter().any(is_sensitive),
        _ => false,
    }
}

impl CatalogWire {
    fn check(self) -> Result<Catalog, String> {
        let resources = self
            .resources
            .into_iter()
            .map(|r| {
                let mut parameters = r.parameters;
                redact_parameters(&mut parameters, &r.sensitive_parameters);
                Resource {
                    r#type: r.r#type,
                    title: title(r.title),
                    exported: r.exported,
                    file: r.file,
                    line: r.line,
                    tags: r.tags,
                    parameters,
                }
            })
            .collect();
        let edges = self
            .edges
            .into_iter()
            .map(|e| Edge {
                source_type: e.source.r#type,
                source_title: title(e.source.title),
                target_type: e.target.r#type,
                target_title: title(e.target.title),
                relationship: e.relationship,
            })
            .collect();
        Ok(Catalog {
            certname: nonempty(self.certname, "certname")?,
            version: title(self.version),
            environment: self.environment,
            transaction_uuid: self.transaction_uuid,
            catalog_uuid: self.catalog_uuid,
            code_id: self.code_id,
            job_id: self.job_id,
            producer_timestamp: ts(&self.producer_timestamp, "producer_timestamp")?,
            producer: self.producer,
            resources,
            edges,
        })
    }
}

/// A report (`store report` v8) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The node.
    pub certname: String,
    /// Its environment.
    pub environment: Option<String>,
    /// The agent's Puppet version.
    pub puppet_version: String,
    /// The report format (12 for Puppet 7).
    pub report_format: i64,
    /// The catalog's version.
    pub configuration_version: String,
    /// Run start.
    pub start_time: Timestamp,
    /// Run end.
    pub end_time: Timestamp,
    /// When the report was produced.
    pub producer_timestamp: Timestamp,
    /// Who sent it.
    pub producer: Option<String>,
    /// Fields kept as sent, by name: `transaction_uuid`, `catalog_uuid`, `code_id`,
    /// `job_id`, `cached_catalog_status`, `status`, `noop`, `noop_pending`, `type`
    /// (`corrective_change` is not kept: open-source PuppetDB answers null).
    pub attributes: Map<String, Value>,
    /// The `logs` array.
    pub logs: Vec<Value>,
    /// The `metrics` array (`{category, name, value}`).
    pub metrics: Vec<Value>,
    /// Resource events, flattened from the report's `resources`.
    pub events: Vec<ResourceEvent>,
}

/// One resource event of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceEvent {
    /// `success`, `failure`, `noop`, `skipped`.
    pub status: String,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Resource type.
    pub resource_type: String,
    /// Resource title.
    pub resource_title: String,
    /// The property changed.
    pub property: Option<String>,
    /// The event's name.
    pub name: Option<String>,
    /// New value.
    pub new_value: Value,
    /// Old value.
    pub old_value: Value,
    /// Message.
    pub message: Option<String>,
    /// Manifest file.
    pub file: Option<String>,
    /// Manifest line.
    pub line: Option<i64>,
    /// Containment path.
    pub containment_path: Vec<String>,
    /// Whether it was a corrective change.
    pub corrective_change: Option<bool>,
}

impl ResourceEvent {
    /// The innermost class in the containment path (its last element that is not a
    /// `Type[title]` reference), as PuppetDB's `containing_class`.
    pub fn containing_class(&self) -> Option<&str> {
        self.containment_path
            .iter()
            .rev()
            .find(|p| !p.contains('['))
            .map(String::as_str)
    }
}

#[derive(Deserialize)]
struct ReportWire {
    certname: String,
    #[serde(default)]
    environment: Option<String>,
    puppet_version: String,
    report_format: i64,
    configuration_version: Value,
    start_time: String,
    end_time: String,
    producer_timestamp: String,
    #[serde(default)]
    producer: Option<String>,
    #[serde(default)]
    logs: Vec<Value>,
    #[serde(default)]
    metrics: Vec<Value>,
    #[serde(default)]
    resources: Vec<ReportResourceWire>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct ReportResourceWire {
    resource_type: String,
    resource_title: Value,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<i64>,
    #[serde(default)]
    containment_path: Vec<String>,
    #[serde(default)]
    events: Vec<EventWire>,
    /// A skipped resource has no events of its own; PuppetDB stores one `skipped` event.
    #[serde(default)]
    skipped: bool,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct EventWire {
    status: String,
    timestamp: String,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    new_value: Value,
    #[serde(default)]
    old_value: Value,
    #[serde(default)]
    message: Option<String>,
}

/// The report attributes kept as they were sent.
/// Not `corrective_change`: open-source PuppetDB stores none (a Puppet Enterprise field), so
/// it answers null for reports, their events and `latest_report_corrective_change`.
const REPORT_ATTRIBUTES: [&str; 9] = [
    "transaction_uuid",
    "catalog_uuid",
    "code_id",
    "job_id",
    "cached_catalog_status",
    "status",
    "noop",
    "noop_pending",
    "type",
];

impl ReportWire {
    fn check(self) -> Result<Report, String> {
        let mut events = Vec::new();
        for r in self.resources {
            let title = title(r.resource_title);
            let own = if r.skipped {
                vec![EventWire {
                    status: "skipped".into(),
                    timestamp: r.timestamp.clone().unwrap_or_else(|| self.end_time.clone()),
                    property: None,
                    name: None,
                    new_value: Value::Null,
                    old_value: Value::Null,
                    message: None,
                }]
            } else {
                r.events
            };
            for e in own {
                events.push(ResourceEvent {
                    status: e.status,
                    timestamp: ts(&e.timestamp, "event timestamp")?,
                    resource_type: r.resource_type.clone(),
                    resource_title: title.clone(),
                    property: e.property,
                    name: e.name,
                    new_value: e.new_value,
                    old_value: e.old_value,
                    message: e.message,
                    file: r.file.clone(),
                    line: r.line,
                    containment_path: r.containment_path.clone(),
                    // Open-source PuppetDB keeps no `corrective_change` (a Puppet
                    // Enterprise field): it answers null whatever the agent sent.
                    corrective_change: None,
                });
            }
        }
        let mut attributes = Map::new();
        for key in REPORT_ATTRIBUTES {
            if let Some(v) = self.rest.get(key) {
                attributes.insert(key.to_string(), v.clone());
            }
        }
        for key in ["status", "noop"] {
            if !attributes.contains_key(key) {
                return Err(format!("missing field `{key}`"));
            }
        }
        Ok(Report {
            certname: nonempty(self.certname, "certname")?,
            environment: self.environment,
            puppet_version: self.puppet_version,
            report_format: self.report_format,
            configuration_version: title(self.configuration_version),
            start_time: ts(&self.start_time, "start_time")?,
            end_time: ts(&self.end_time, "end_time")?,
            producer_timestamp: ts(&self.producer_timestamp, "producer_timestamp")?,
            producer: self.producer,
            attributes,
            logs: self.logs,
            metrics: self.metrics,
            events,
        })
    }
}
