//! The apply engine: a catalog's resources evaluated in the order of `puppet-catalog`'s graph,
//! with Puppet's skipping (failed dependencies, tags), noop, refresh events and per-resource
//! statuses for the report.
//!
//! Types: `file`, `exec`, `notify`, `package` (apt), `service` (systemd, debian, base), `host`,
//! `user` (useradd), `group` (groupadd), `cron` (crontab) (see their modules); `schedule` and
//! `filebucket` give a status without events, as in Puppet, and the `schedule` metaparameter
//! is honoured ([`schedule`]); any other type fails its resource with
//! `resource type '<t>' is not supported by this agent` (the rest of the catalog is applied).

mod accounts;
pub mod cron;
pub mod exec;
pub mod file;
pub mod group;
pub mod host;
pub mod notify;
pub mod package;
pub mod schedule;
pub mod service;
pub mod user;
mod values;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use puppet_catalog::{Catalog, CatalogError, Graph, Resource, ResourceRef, cycles_message};
use puppet_protocol::client::Client;
use puppet_report::{Event, EventStatus, ResourceStatus};
use serde_json::Value;

use crate::{AgentError, Logger};
pub use values::{format_value, param_list, param_str};

/// How a catalog is applied.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// `--noop`: report what would change, change nothing.
    pub noop: bool,
    /// `--tags`: only resources with one of these tags (lower case); empty = all.
    pub tags: Vec<String>,
    /// The environment (for `puppet:///` sources).
    pub environment: String,
    /// When each resource was last checked (Unix seconds, by reference `Type[title]`), from
    /// the previous run's `state.yaml` ([`schedule::parse_state`]): what `schedule` reads.
    pub last_checked: HashMap<String, i64>,
    /// What the `file` type reads (`show_diff`, `clientbucketdir`, `digest_algorithm`).
    pub file: file::FileSettings,
}

impl ApplyOptions {
    /// Options for `environment`, not noop, no tags.
    pub fn new(environment: impl Into<String>) -> ApplyOptions {
        ApplyOptions {
            environment: environment.into(),
            ..ApplyOptions::default()
        }
    }
}

/// What applying a catalog gave.
#[derive(Debug)]
#[non_exhaustive]
pub struct Applied {
    /// One status per evaluated resource, in evaluation order (generated file children right
    /// after their parent), then the agent's default `Schedule` and `Filebucket` resources.
    pub statuses: Vec<ResourceStatus>,
    /// A resource could not generate its children (Puppet's `resources_failed_to_generate`:
    /// the run is `failed`).
    pub resources_failed_to_generate: bool,
}

/// What one resource's evaluation sees.
pub struct Context<'a> {
    /// The console/report log.
    pub log: &'a Logger,
    /// Whether this resource is in noop mode.
    pub noop: bool,
    /// The resource's path (`/Stage[main]/Main/File[/tmp/x]`).
    pub path: String,
    /// The master, for `puppet:///` sources (none: only local sources work).
    pub client: Option<&'a Client>,
    /// The environment.
    pub environment: &'a str,
    /// The catalog (static catalogs' inlined metadata, code_id).
    pub catalog: &'a Catalog,
    /// Events so far.
    pub events: Vec<Event>,
    /// Resources generated while evaluating (recursive file children), with their events.
    pub generated: Vec<(String, Vec<Event>, Option<String>)>,
    /// The `file` type's settings.
    pub file: &'a file::FileSettings,
    /// The next changes are of a Sensitive property: values and messages `[redacted]`.
    pub redact: bool,
    /// The resource could not generate its children (`eval_generate` failed).
    pub generate_failed: bool,
}

/// The `file` settings of a [`Context::new`].
static DEFAULT_FILE_SETTINGS: std::sync::LazyLock<file::FileSettings> =
    std::sync::LazyLock::new(file::FileSettings::default);

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path)
            .field("noop", &self.noop)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// A context for a resource at `path` (tests and single-resource callers).
    pub fn new(log: &'a Logger, catalog: &'a Catalog, path: impl Into<String>) -> Context<'a> {
        Context {
            log,
            noop: false,
            path: path.into(),
            client: None,
            environment: "production",
            catalog,
            events: Vec::new(),
            generated: Vec::new(),
            file: &DEFAULT_FILE_SETTINGS,
            redact: false,
            generate_failed: false,
        }
    }

    /// Records a property change as Puppet's harness does: in noop, a `noop` event
    /// `current_value <is>, should be <should> (noop)` and `sync` is not run; otherwise `sync`
    /// runs and gives a `success` event with `message`, or a `failure` event `change from <is>
    /// to <should> failed: <error>`. The event is logged at once. Returns whether the change
    /// was made.
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &mut self,
        property: &str,
        is: Value,
        should: Value,
        name: &str,
        message: String,
        sync: impl FnOnce() -> Result<(), String>,
    ) -> bool {
        self.change_with(property, is, should, None, name, message, sync)
    }

    /// [`Context::change`] with the event's `desired_value` given apart from the `should`
    /// shown in messages (file content: base64 in the event, as Puppet writes it).
    #[allow(clippy::too_many_arguments)]
    pub fn change_with(
        &mut self,
        property: &str,
        is: Value,
        should: Value,
        desired: Option<Value>,
        name: &str,
        message: String,
        sync: impl FnOnce() -> Result<(), String>,
    ) -> bool {
        let source = format!("{}/{property}", self.path);
        let (is, should, desired, message) = if self.redact {
            let r = Value::from("[redacted]");
            let m = "changed [redacted] to [redacted]".to_string();
            (r.clone(), r.clone(), Some(r), m)
        } else {
            (is, should, desired, message)
        };
        let desired = desired.unwrap_or_else(|| should.clone());
        let mut base = Event::new(EventStatus::Success)
            .with_property(property)
            .with_values(is.clone(), desired)
            .with_name(name);
        if self.redact {
            base.redacted = Some(true);
        }
        if self.noop {
            let msg = if self.redact {
                "current_value [redacted], should be [redacted] (noop)".to_string()
            } else {
                format!(
                    "current_value {}, should be {} (noop)",
                    format_value(&is),
                    format_value(&should)
                )
            };
            self.log.notice(&source, &msg);
            let mut e = base.with_message(msg);
            e.status = EventStatus::Noop;
            self.events.push(e);
            return false;
        }
        match sync() {
            Ok(()) => {
                self.log.notice(&source, &message);
                self.events.push(base.with_message(message));
                true
            }
            Err(err) => {
                self.log.err("Puppet", &err);
                let shown = |v: &Value| {
                    if self.redact {
                        "[redacted]".to_string()
                    } else {
                        format_value(v)
                    }
                };
                let msg = format!(
                    "change from {} to {} failed: {err}",
                    shown(&is),
                    shown(&should)
                );
                self.log.err(&source, &msg);
                let mut e = base.with_message(msg);
                e.status = EventStatus::Failure;
                self.events.push(e);
                false
            }
        }
    }

    /// Whether an event so far failed.
    pub fn failed(&self) -> bool {
        self.events.iter().any(|e| e.status == EventStatus::Failure)
    }
}

/// The containment path of every resource: `["Stage[main]", "Main", "File[/x]"]` (classes by
/// title, other containers by reference), from the catalog's containment edges.
fn containment(catalog: &Catalog) -> HashMap<ResourceRef, Vec<String>> {
    let mut parent: HashMap<ResourceRef, ResourceRef> = HashMap::new();
    for edge in &catalog.edges {
        if let (Ok(s), Ok(t)) = (
            edge.source.parse::<ResourceRef>(),
            edge.target.parse::<ResourceRef>(),
        ) {
            parent.entry(t).or_insert(s);
        }
    }
    let mut out = HashMap::new();
    for r in &catalog.resources {
        let me = r.reference();
        let mut chain = Vec::new();
        let mut cur = parent.get(&me);
        let mut guard = 0;
        while let Some(p) = cur {
            chain.push(if p.type_name == "Class" {
                p.title.clone()
            } else {
                p.to_string()
            });
            cur = parent.get(p);
            guard += 1;
            if guard > 1000 {
                break;
            }
        }
        chain.reverse();
        chain.push(me.to_string());
        out.insert(me, chain);
    }
    out
}

fn resource_path(chain: &[String]) -> String {
    format!("/{}", chain.join("/"))
}

/// Whether `r`'s type is a container (not applied).
fn is_container(r: &Resource) -> bool {
    r.reference().is_container_type()
}

/// The agent's default resources, added after the catalog's (`Catalog#make_default_resources`).
const DEFAULTS: [(&str, &str); 7] = [
    ("Schedule", "puppet"),
    ("Schedule", "hourly"),
    ("Schedule", "daily"),
    ("Schedule", "weekly"),
    ("Schedule", "monthly"),
    ("Schedule", "never"),
    ("Filebucket", "puppet"),
];

/// Applies `catalog`. A dependency cycle (or a relationship to a missing resource) fails
/// before anything is applied, with Puppet's messages logged.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use puppet_agent::{Logger, apply::{apply, ApplyOptions}};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("motd");
/// let json = serde_json::json!({"name": "n", "version": 1, "resources": [
///   {"type": "File", "title": path, "parameters": {"ensure": "file", "content": "hi\n"}}
/// ], "edges": []});
/// let catalog = puppet_catalog::Catalog::from_json(json.to_string().as_bytes()).unwrap();
/// let log = Logger::capturing(puppet_report::LogLevel::Notice);
/// let applied = apply(&catalog, &ApplyOptions::new("production"), &log, None).await.unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hi\n");
/// assert!(applied.statuses[0].changed);
/// # });
/// ```
pub async fn apply(
    catalog: &Catalog,
    options: &ApplyOptions,
    log: &Logger,
    client: Option<&Client>,
) -> Result<Applied, AgentError> {
    let graph = Graph::new(catalog)?;
    let order = match graph.apply_order() {
        Ok(o) => o,
        Err(CatalogError::Cycles(cycles)) => {
            log.err("Puppet", &cycles_message(&cycles));
            return Err(AgentError::Catalog(CatalogError::Cycles(cycles)));
        }
        Err(e) => return Err(e.into()),
    };
    let chains = containment(catalog);
    let by_ref: HashMap<ResourceRef, &Resource> = catalog
        .resources
        .iter()
        .map(|r| (r.reference(), r))
        .collect();

    let mut statuses = Vec::new();
    let mut resources_failed_to_generate = false;
    // Invalid schedules fail the catalog's conversion, before anything is applied.
    schedule::check_all(catalog).map_err(AgentError::Apply)?;
    // Schedules read local time, as Ruby's `Time.local`.
    let zone = puppet_facts::collect::local_zone(std::env::var("TZ").ok().as_deref())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let packages = package::Prefetch::default();
    // Resources that failed, or were skipped because of a failure.
    let mut failed: HashSet<ResourceRef> = HashSet::new();
    let mut reported_failed_dep: HashSet<ResourceRef> = HashSet::new();
    // Pending refresh events per target: (count, all noop).
    let mut pending: HashMap<ResourceRef, (usize, bool)> = HashMap::new();

    for reference in order {
        let Some(resource) = by_ref.get(&reference).copied() else {
            continue;
        };
        if is_container(resource) {
            continue;
        }
        let chain = chains
            .get(&reference)
            .cloned()
            .unwrap_or_else(|| vec![reference.to_string()]);
        let path = resource_path(&chain);
        let mut status = ResourceStatus::new(&reference.type_name, &reference.title);
        status.containment_path = chain.clone();
        status.file = resource.file.clone();
        status.line = resource.line;
        if let Some(tags) = &resource.tags {
            status.tags = tags.clone();
        }
        let type_name = reference.type_name.to_lowercase();
        status.provider_used = match type_name.as_str() {
            "service" => Some(service::provider_name(resource)),
            "host" => Some("parsed".to_string()),
            "user" => Some("useradd".to_string()),
            "group" => Some("groupadd".to_string()),
            "cron" => Some("crontab".to_string()),
            "package" => Some(
                resource
                    .parameter("provider")
                    .and_then(Value::as_str)
                    .unwrap_or("apt")
                    .to_string(),
            ),
            "file" | "exec" => Some(
                resource
                    .parameter("provider")
                    .and_then(Value::as_str)
                    .unwrap_or("posix")
                    .to_string(),
            ),
            _ => None,
        };

        // Failed dependencies.
        let bad: Vec<ResourceRef> = graph
            .dependencies(&reference)
            .into_iter()
            .filter(|d| failed.contains(d))
            .collect();
        if !bad.is_empty() {
            for d in &bad {
                if reported_failed_dep.insert(d.clone()) {
                    log.notice(&path, &format!("Dependency {d} has failures: true"));
                }
            }
            log.warning(&path, "Skipping because of failed dependencies");
            if pending.remove(&reference).is_some() {
                log.info(&path, &format!("Unscheduling all events on {reference}"));
            }
            status.skipped = true;
            failed.insert(reference.clone());
            statuses.push(status);
            continue;
        }
        // Tags.
        if !options.tags.is_empty() && !status.tags.iter().any(|t| options.tags.contains(t)) {
            log.debug(
                &path,
                &format!("Not tagged with {}", options.tags.join(", ")),
            );
            status.skipped = true;
            statuses.push(status);
            continue;
        }

        // Schedules.
        if let Some(name) = resource.parameter("schedule").and_then(Value::as_str) {
            let last = options.last_checked.get(&reference.to_string()).copied();
            match schedule::due(name, &by_ref, last, jiff::Timestamp::now(), &zone) {
                Ok(true) => {}
                Ok(false) => {
                    log.debug(&path, "Not scheduled");
                    status.skipped = true;
                    statuses.push(status);
                    continue;
                }
                // Puppet's transaction stops here (`Failed to apply catalog: ...`).
                Err(message) => return Err(AgentError::Apply(message)),
            }
        }

        let noop = match resource.parameter("noop") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => options.noop,
        };
        let started = Instant::now();
        let mut ctx = Context {
            log,
            noop,
            path: path.clone(),
            client,
            environment: &options.environment,
            catalog,
            events: Vec::new(),
            generated: Vec::new(),
            file: &options.file,
            redact: false,
            generate_failed: false,
        };
        let mut service_started = false;
        let result = match type_name.as_str() {
            "service" => service::evaluate(resource, &mut ctx)
                .await
                .map(|s| service_started = s),
            "file" => file::evaluate(resource, &mut ctx).await,
            "exec" => exec::evaluate(resource, &mut ctx).await,
            "notify" => notify::evaluate(resource, &mut ctx),
            "host" => host::evaluate(resource, &mut ctx),
            "user" => user::evaluate(resource, &mut ctx).await,
            "group" => group::evaluate(resource, &mut ctx).await,
            "cron" => cron::evaluate(resource, &mut ctx).await,
            "package" => package::evaluate(resource, &mut ctx, &packages).await,
            "schedule" | "filebucket" => Ok(()),
            other => Err(format!(
                "resource type '{other}' is not supported by this agent"
            )),
        };
        let mut resource_failed = false;
        for e in std::mem::take(&mut ctx.events) {
            status.add_event(e);
        }
        if let Err(message) = result {
            log.err(&path, &format!("Could not evaluate: {message}"));
            status.fail_with_event(message);
        }
        if status.failed {
            resource_failed = true;
        }

        // Refresh.
        let mut restarted = false;
        if let Some((count, all_noop)) = pending.remove(&reference)
            && !resource_failed
        {
            let plural = if count == 1 { "event" } else { "events" };
            if all_noop || noop {
                log.notice(
                    &path,
                    &format!("Would have triggered 'refresh' from {count} {plural}"),
                );
            } else if service_started {
                log.info(&path, &format!("Unscheduling refresh on {reference}"));
            } else if type_name == "exec" || type_name == "service" {
                let refreshed = if type_name == "exec" {
                    exec::refresh(resource, &mut ctx).await
                } else {
                    service::refresh(resource, &mut ctx).await.map(|_| ())
                };
                match refreshed {
                    Ok(()) => {
                        let msg = format!("Triggered 'refresh' from {count} {plural}");
                        log.notice(&path, &msg);
                        let mut e = Event::new(EventStatus::Success)
                            .with_name("refresh")
                            .with_message(msg);
                        e.redacted = Some(false);
                        status.add_event(e);
                        status.restarted = true;
                        restarted = true;
                    }
                    Err(err) => {
                        log.err(&path, &format!("Failed to call refresh: {err}"));
                        log.err(&path, &err);
                        status.failed_to_restart = true;
                        status.fail_with_event(format!("Failed to call refresh: {err}"));
                        resource_failed = true;
                    }
                }
                for e in std::mem::take(&mut ctx.events) {
                    status.add_event(e);
                }
            }
        }
        let generated = std::mem::take(&mut ctx.generated);
        resources_failed_to_generate |= ctx.generate_failed;
        status.evaluation_time = Some(started.elapsed().as_secs_f64());

        // Queue refresh events along notify/subscribe edges.
        let mut changes = 0usize;
        let mut noops = 0usize;
        let count_events = |events: &[Event], changes: &mut usize, noops: &mut usize| {
            for e in events {
                match e.status {
                    EventStatus::Success => *changes += 1,
                    EventStatus::Noop => *noops += 1,
                    _ => {}
                }
            }
        };
        if generated
            .iter()
            .any(|(_, events, _)| events.iter().any(|e| e.status == EventStatus::Failure))
        {
            resource_failed = true;
        }
        if !resource_failed {
            count_events(&status.events, &mut changes, &mut noops);
            for (_, events, _) in &generated {
                count_events(events, &mut changes, &mut noops);
            }
            if restarted {
                // The refresh event itself was counted above; Puppet passes on one `restarted`.
                changes = changes.max(1);
            }
        }
        if changes + noops > 0 {
            for target in graph.refreshed_by(&reference) {
                if changes > 0 {
                    log.info(&path, &format!("Scheduling refresh of {target}"));
                }
                let slot = pending.entry(target).or_insert((0, true));
                slot.0 += changes + noops;
                slot.1 &= changes == 0;
            }
        }
        if resource_failed {
            failed.insert(reference.clone());
        }
        let child_tags = status.tags.clone();
        let child_prefix: Vec<String> = chain[..chain.len().saturating_sub(1)].to_vec();
        let provider = status.provider_used.clone();
        statuses.push(status);
        for (child_path, events, _kind) in generated {
            let mut s = ResourceStatus::new("File", &child_path);
            let mut cp = child_prefix.clone();
            cp.push(format!("File[{child_path}]"));
            s.containment_path = cp;
            s.tags = child_tags
                .iter()
                .filter(|t| **t != reference.title.to_lowercase())
                .cloned()
                .collect();
            s.provider_used = provider.clone();
            s.evaluation_time = Some(0.0);
            for e in events {
                s.add_event(e);
            }
            statuses.push(s);
        }
    }
    for (t, title) in DEFAULTS {
        if by_ref.contains_key(&ResourceRef::new(t, title)) {
            continue;
        }
        let started = Instant::now();
        let mut s = ResourceStatus::new(t, title);
        s.evaluation_time = Some(started.elapsed().as_secs_f64().max(1e-6));
        statuses.push(s);
    }
    Ok(Applied {
        statuses,
        resources_failed_to_generate,
    })
}
