//! One agent run, in Puppet 7's order (`Puppet::Configurer#run`): run lock, SSL, node
//! request, pluginsync, facts, catalog, the catalog's files (`classes.txt`, `resources.txt`,
//! the cached catalog), apply, report (sent, `last_run_report.yaml`,
//! `last_run_summary.yaml`). Every file is written atomically.

use std::path::Path;
use std::time::Instant;

use puppet_catalog::{Catalog, CatalogError};
use puppet_protocol::client::{CatalogOptions, Client, LinksMode, MetadataQuery};
use puppet_report::{Report, ReportBuilder, SummaryOptions};

use crate::apply::{ApplyOptions, apply};
use crate::fsutil::{PidFile, ensure_dir, write_atomic};
use crate::{AgentError, Logger, Settings};

/// The Puppet version the agent claims (facts, reports).
pub const PUPPET_VERSION: &str = "7.23.0";

/// What a run gave.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The run's report (absent when the run stopped before one was made).
    pub report: Option<Report>,
    /// Whether the run completed (a catalog was applied).
    pub completed: bool,
}

impl Outcome {
    /// Puppet's exit code: with `detailed`, 0 / 2 (changes) / 4 (failures) / 6 (both), and 1
    /// when the run did not complete; without, 0, or 1 when the run did not complete.
    pub fn exit_code(&self, detailed: bool) -> i32 {
        match (&self.report, self.completed) {
            (Some(r), true) if detailed => r.exit_status(),
            (Some(_), true) => 0,
            _ => 1,
        }
    }
}

/// The run lock (`agent_catalog_run.lock`): the PID, no newline, created exclusively; removed
/// when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: PidFile,
}

impl RunLock {
    /// Takes the lock, clearing a stale one (not a number, or a PID that is not alive).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("agent_catalog_run.lock");
    /// std::fs::write(&path, "1").unwrap(); // PID 1 is alive: held
    /// assert!(puppet_agent::run::RunLock::acquire(&path).is_err());
    /// std::fs::write(&path, "not a pid").unwrap(); // stale
    /// let lock = puppet_agent::run::RunLock::acquire(&path).unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap(), std::process::id().to_string());
    /// drop(lock);
    /// assert!(!path.exists());
    /// ```
    pub fn acquire(path: &Path) -> Result<RunLock, AgentError> {
        match PidFile::claim(path)? {
            Some(file) => Ok(RunLock { _file: file }),
            None => Err(AgentError::Locked(path.to_path_buf())),
        }
    }
}

/// `puppet agent --disable [message]`: writes `agent_disabled.lock`.
pub fn disable(settings: &Settings, message: Option<&str>) -> Result<(), AgentError> {
    ensure_dir(&settings.statedir, 0o750)?;
    let body = serde_json::json!({"disabled_message": message.unwrap_or("reason not specified")});
    write_atomic(&settings.disable_lock(), body.to_string().as_bytes(), 0o644)
}

/// `puppet agent --enable`: removes `agent_disabled.lock`.
pub fn enable(settings: &Settings) -> Result<(), AgentError> {
    match std::fs::remove_file(settings.disable_lock()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AgentError::io("remove", settings.disable_lock())(e)),
    }
}

/// Syncs one pluginsync mount into `dest` (recurse, follow links, purge); returns the
/// relative paths of the files present.
async fn sync_mount(
    client: &Client,
    environment: &str,
    mount: &str,
    dest: &Path,
    log: &Logger,
) -> Result<Vec<String>, AgentError> {
    let query = MetadataQuery {
        recurse: true,
        max_files: Some(-1),
        links: LinksMode::Follow,
        source_permissions_use: mount == "pluginfacts",
        ignore: [".svn", "CVS", ".git", ".hg"].map(String::from).to_vec(),
        ..MetadataQuery::default()
    };
    let metas = match client.file_metadatas(environment, mount, &query).await {
        Ok(m) => m,
        Err(e) if e.status() == Some(404) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut present = Vec::new();
    let mut wanted = std::collections::HashSet::new();
    if !dest.exists() {
        ensure_dir(dest, 0o755)?;
    }
    for meta in &metas {
        let Some(rel) = meta.relative_path.as_deref() else {
            continue;
        };
        if rel == "." {
            continue;
        }
        wanted.insert(rel.to_string());
        let path = dest.join(rel);
        let source = format!("/File[{}]/ensure", path.display());
        match meta.file_type.as_deref() {
            Some("directory") => {
                if !path.is_dir() {
                    let _ = std::fs::remove_file(&path);
                    std::fs::create_dir_all(&path).map_err(AgentError::io("create", &path))?;
                    log.notice(&source, "created");
                }
            }
            _ => {
                let want = meta.checksum.as_ref().map(|c| c.value.clone());
                let have = std::fs::read(&path)
                    .ok()
                    .map(|b| format!("{{sha256}}{}", hex_sha256(&b)));
                if want.is_none() || want != have {
                    let body = client
                        .file_content(environment, &format!("{mount}/{rel}"))
                        .await?;
                    let sum = format!("{{sha256}}{}", hex_sha256(&body));
                    if let Some(w) = &want
                        && *w != sum
                    {
                        return Err(AgentError::Setting(format!(
                            "Failed to retrieve {mount}: checksum mismatch on {rel}"
                        )));
                    }
                    let mode = match (mount, meta.mode) {
                        ("pluginfacts", Some(m)) => m & 0o7777,
                        _ => 0o644,
                    };
                    let existed = have.is_some();
                    write_atomic(&path, &body, mode)?;
                    if existed {
                        log.notice(
                            &source.replace("/ensure", "/content"),
                            &format!("content changed '{}' to '{sum}'", have.unwrap_or_default()),
                        );
                    } else {
                        log.notice(&source, &format!("defined content as '{sum}'"));
                    }
                }
                present.push(rel.to_string());
            }
        }
    }
    // Purge what the server no longer has.
    let mut stack = vec![dest.to_path_buf()];
    let mut extra = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let rel = p
                .strip_prefix(dest)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !wanted.contains(&rel) {
                extra.push(p.clone());
            } else if p.is_dir() {
                stack.push(p);
            }
        }
    }
    for p in extra {
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        if r.is_ok() {
            log.notice(&format!("/File[{}]/ensure", p.display()), "removed");
        }
    }
    Ok(present)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `classes.txt`: the catalog's classes, one per line.
fn classes_txt(catalog: &Catalog) -> String {
    let mut s = String::new();
    for c in catalog.classes.iter().flatten() {
        s.push_str(c);
        s.push('\n');
    }
    s
}

/// `resources.txt`: managed resources as lower-case references, in catalog order.
fn resources_txt(catalog: &Catalog) -> String {
    let mut s = String::new();
    for r in &catalog.resources {
        let reference = r.reference();
        if reference.is_container_type() {
            continue;
        }
        s.push_str(&format!(
            "{}[{}]\n",
            reference.type_name.to_lowercase(),
            reference.title
        ));
    }
    s
}

/// One run (`puppet agent --onetime --no-daemonize`), see the module docs. An `Err` is a run
/// that could not start (lock held, disabled, SSL failure); a run that started and failed
/// gives an [`Outcome`] whose report says so.
pub async fn run_once(settings: &Settings, log: &Logger) -> Result<Outcome, AgentError> {
    let started = Instant::now();
    let disabled = settings.disable_lock();
    if let Ok(text) = std::fs::read_to_string(&disabled) {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["disabled_message"].as_str().map(String::from))
            .unwrap_or_else(|| "reason not specified".into());
        return Err(AgentError::Disabled(message));
    }
    ensure_dir(&settings.vardir, 0o750)?;
    if !settings.statedir.exists() {
        ensure_dir(&settings.statedir, 0o1755)?;
    }
    let ssl = crate::ssl::bootstrap(settings, log).await?;
    let _lock = RunLock::acquire(&settings.run_lock())?;
    let client = ssl.client(&settings.server, settings.masterport)?;
    let startup = started.elapsed().as_secs_f64();
    let mut environment = settings.environment.clone();
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut times: Vec<(&str, f64)> = vec![("startup_time", startup)];

    // Node.
    if !settings.environment_given {
        let t = Instant::now();
        match client.node(&settings.certname, Some(&environment)).await {
            Ok(node) => {
                if node.environment != environment {
                    log.notice(
                        "Puppet",
                        &format!(
                            "Local environment: '{environment}' doesn't match server specified node environment '{}', switching agent to '{}'.",
                            node.environment, node.environment
                        ),
                    );
                    environment = node.environment;
                }
            }
            Err(e) => {
                log.warning(
                    "Puppet",
                    "Unable to fetch my node definition, but the agent run will continue:",
                );
                log.warning("Puppet", &e.to_string());
            }
        }
        times.push(("node_retrieval", t.elapsed().as_secs_f64()));
    }
    log.info("Puppet", &format!("Using environment '{environment}'"));

    let mut builder = ReportBuilder::new(settings.certname.clone(), environment.clone());
    builder
        .transaction_uuid(uuid.clone())
        .noop(settings.noop)
        .cached_catalog_status("not_used")
        .server_used(format!("{}:{}", settings.server, settings.masterport));
    let finish =
        |mut builder: ReportBuilder, times: Vec<(&str, f64)>, completed: bool, log: &Logger| {
            for (k, v) in times {
                builder.add_time(k, v);
            }
            builder.add_time("total", started.elapsed().as_secs_f64());
            builder.transaction_completed(completed);
            for l in log.take_logs() {
                builder.add_log(l);
            }
            builder.finish()
        };

    // Pluginsync, facts, catalog; on a failure the run still reports.
    let mut catalog = None;
    let mut failure = None;
    for _ in 0..4 {
        if settings.pluginsync {
            let t = Instant::now();
            log.info("Puppet", "Retrieving pluginfacts");
            let r1 = sync_mount(
                &client,
                &environment,
                "pluginfacts",
                &settings.pluginfactdest(),
                log,
            )
            .await;
            log.info("Puppet", "Retrieving plugin");
            let r2 = sync_mount(&client, &environment, "plugins", &settings.libdir(), log).await;
            match (r1, r2) {
                (Ok(_), Ok(plugins)) => {
                    let mut ruby: Vec<&String> =
                        plugins.iter().filter(|p| p.ends_with(".rb")).collect();
                    ruby.sort();
                    if !ruby.is_empty() {
                        log.warning(
                            "Puppet",
                            &format!(
                                "Ruby plugins cannot run in this agent and are skipped ({} files): {}",
                                ruby.len(),
                                ruby.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    failure = Some(format!("Failed to retrieve plugin: {e}"));
                }
            }
            times.push(("plugin_sync", t.elapsed().as_secs_f64()));
            if failure.is_some() {
                break;
            }
        }
        let t = Instant::now();
        let mut dirs = puppet_facts::collect::external::default_dirs(&puppet_facts::collect::Live);
        dirs.push(settings.pluginfactdest());
        let options = puppet_facts::collect::Options {
            external_dirs: dirs,
            ..puppet_facts::collect::Options::default()
        };
        let collection =
            tokio::task::spawn_blocking(move || puppet_facts::collect::collect(&options))
                .await
                .unwrap_or_default();
        let mut facts = collection.to_facts(&settings.certname);
        facts.add_local_facts(&settings.certname, PUPPET_VERSION, settings.noop);
        times.push(("fact_generation", t.elapsed().as_secs_f64()));

        let t = Instant::now();
        let options = CatalogOptions {
            transaction_uuid: Some(uuid.clone()),
            ..CatalogOptions::default()
        };
        match client
            .catalog(&settings.certname, &environment, &facts, &options)
            .await
        {
            Ok(c) => {
                times.push(("config_retrieval", t.elapsed().as_secs_f64()));
                let cat_env = c.environment.clone().unwrap_or_else(|| environment.clone());
                if cat_env != environment {
                    log.notice(
                        "Puppet",
                        &format!(
                            "Local environment: '{environment}' doesn't match server specified environment '{cat_env}', restarting agent run with environment '{cat_env}'"
                        ),
                    );
                    environment = cat_env;
                    continue;
                }
                catalog = Some(c);
            }
            Err(e) => {
                log.err(
                    "Puppet",
                    &format!("Could not retrieve catalog from remote server: {e}"),
                );
                let cache = settings.catalog_cache();
                let cached = settings
                    .usecacheonfailure
                    .then(|| std::fs::read(&cache).ok())
                    .flatten()
                    .and_then(|b| Catalog::from_json(&b).ok());
                match cached {
                    Some(c) if c.environment.as_deref().unwrap_or(&environment) == environment => {
                        log.info(
                            "Puppet",
                            &format!("Using cached catalog from environment '{environment}'"),
                        );
                        builder.cached_catalog_status("on_failure");
                        catalog = Some(c);
                    }
                    Some(c) => {
                        log.err(
                            "Puppet",
                            &format!(
                                "Not using cached catalog because its environment '{}' does not match '{environment}'",
                                c.environment.unwrap_or_default()
                            ),
                        );
                        failure = Some("Could not retrieve catalog; skipping run".into());
                    }
                    None => {
                        if !settings.usecacheonfailure {
                            log.warning("Puppet", "Not using cache on failed catalog");
                        }
                        failure = Some("Could not retrieve catalog; skipping run".into());
                    }
                }
            }
        }
        break;
    }
    if catalog.is_none() && failure.is_none() {
        failure = Some("Catalog environment didn't stabilize after 4 fetches, aborting run".into());
    }
    let Some(catalog) = catalog else {
        if let Some(f) = &failure {
            log.err("Puppet", f);
        }
        let report = finish(builder, times, false, log);
        send_and_save(settings, &client, &report, log).await;
        return Ok(Outcome {
            report: Some(report),
            completed: false,
        });
    };

    // Convert: the catalog's files.
    let t = Instant::now();
    ensure_dir(&settings.statedir, 0o1755)?;
    write_atomic(
        &settings.statedir.join("classes.txt"),
        classes_txt(&catalog).as_bytes(),
        0o640,
    )?;
    write_atomic(
        &settings.statedir.join("resources.txt"),
        resources_txt(&catalog).as_bytes(),
        0o640,
    )?;
    log.info(
        "Puppet",
        &format!("Caching catalog for {}", settings.certname),
    );
    if !settings.noop {
        let cache = settings.catalog_cache();
        if let Some(dir) = cache.parent() {
            std::fs::create_dir_all(dir).map_err(AgentError::io("create", dir))?;
        }
        write_atomic(&cache, catalog.to_json()?.as_bytes(), 0o660)?;
    }
    times.push(("convert_catalog", t.elapsed().as_secs_f64()));
    if let Some(v) = &catalog.version {
        let v = match v {
            puppet_catalog::CatalogVersion::Integer(i) => i.to_string(),
            puppet_catalog::CatalogVersion::String(s) => s.clone(),
            #[allow(unreachable_patterns)]
            _ => String::new(),
        };
        log.info("Puppet", &format!("Applying configuration version '{v}'"));
        builder.configuration_version(
            v.parse::<i64>()
                .map(puppet_report::ConfigurationVersion::from)
                .unwrap_or_else(|_| puppet_report::ConfigurationVersion::from(v)),
        );
    }
    if let Some(u) = &catalog.catalog_uuid {
        builder.catalog_uuid(u.clone());
    }
    if let Some(c) = catalog.code_id_str() {
        builder.code_id(c.to_string());
    }

    // Apply.
    let t = Instant::now();
    let state_path = settings.statedir.join("state.yaml");
    let last_checked = std::fs::read_to_string(&state_path)
        .map(|t| crate::apply::schedule::parse_state(&t))
        .unwrap_or_default();
    let options = ApplyOptions {
        noop: settings.noop,
        tags: settings.tags.clone(),
        environment: environment.clone(),
        last_checked: last_checked.clone(),
        file: settings.file_settings(),
    };
    let applied = apply(&catalog, &options, log, Some(&client)).await;
    let elapsed = t.elapsed().as_secs_f64();
    let completed = match applied {
        Ok(a) => {
            if !settings.noop {
                write_state(settings, &a.statuses, &last_checked, log);
            }
            builder.resources_failed_to_generate(a.resources_failed_to_generate);
            for s in a.statuses {
                builder.add_resource_status(s);
            }
            true
        }
        Err(AgentError::Catalog(CatalogError::Cycles(_))) => {
            log.err(
                "Puppet",
                "Failed to apply catalog: One or more resource dependency cycles detected in graph",
            );
            false
        }
        Err(e) => {
            log.err("Puppet", &format!("Failed to apply catalog: {e}"));
            false
        }
    };
    times.push(("transaction_evaluation", elapsed));
    if completed {
        log.notice(
            "Puppet",
            &format!("Applied catalog in {elapsed:.2} seconds"),
        );
    }
    times.push(("catalog_application", t.elapsed().as_secs_f64()));
    let report = finish(builder, times, completed, log);
    send_and_save(settings, &client, &report, log).await;
    Ok(Outcome {
        report: Some(report),
        completed,
    })
}

/// `state.yaml`: `:checked:` (and `:synced:` for changed resources) per evaluated resource,
/// as Puppet's `Puppet::Util::Storage` writes it (mode 0660). Entries of resources not
/// evaluated this run (not scheduled, skipped) are kept from `previous` for `statettl`
/// (Puppet's default, 32 days), so that schedules see when they were last checked.
fn write_state(
    settings: &Settings,
    statuses: &[puppet_report::ResourceStatus],
    previous: &std::collections::HashMap<String, i64>,
    log: &Logger,
) {
    const STATETTL: i64 = 32 * 86_400;
    let path = settings.statedir.join("state.yaml");
    let now_time = std::time::SystemTime::now();
    let now = crate::fsutil::utc_time(now_time, true);
    let now_secs = now_time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut text = String::from("---\n");
    let mut written = std::collections::HashSet::new();
    for s in statuses.iter().filter(|s| !s.skipped) {
        written.insert(s.resource.clone());
        let key = serde_json::to_string(&s.resource).unwrap_or_default();
        text.push_str(&format!("{key}:\n  :checked: {now}\n"));
        if s.changed {
            text.push_str(&format!("  :synced: {now}\n"));
        }
    }
    let mut kept: Vec<(&String, &i64)> = previous
        .iter()
        .filter(|(k, t)| !written.contains(*k) && now_secs - **t < STATETTL)
        .collect();
    kept.sort();
    for (k, t) in kept {
        let when =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(*t).unwrap_or(0));
        let key = serde_json::to_string(k).unwrap_or_default();
        text.push_str(&format!(
            "{key}:\n  :checked: {}\n",
            crate::fsutil::utc_time(when, true)
        ));
    }
    if !path.exists() {
        log.info("Puppet", &format!("Creating state file {}", path.display()));
    }
    if let Err(e) = write_atomic(&path, text.as_bytes(), 0o660) {
        log.err("Puppet", &format!("Could not store state: {e}"));
    }
}

/// Sends the report (when `report` is on) and writes `last_run_summary.yaml` and
/// `last_run_report.yaml`; failures are logged, never fatal (as Puppet).
async fn send_and_save(settings: &Settings, client: &Client, report: &Report, log: &Logger) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if let Err(e) = ensure_dir(&settings.publicdir, 0o755) {
        log.err(
            "Puppet",
            &format!("Could not save last run local report: {e}"),
        );
    }
    let summary = settings.publicdir.join("last_run_summary.yaml");
    if let Err(e) = report.write_last_run_summary(&summary, &SummaryOptions::agent(now)) {
        log.err(
            "Puppet",
            &format!("Could not save last run local report: {e}"),
        );
    }
    if !settings.report {
        return;
    }
    if let Err(e) = client.put_report(report).await {
        log.err("Puppet", &format!("Could not send report: {e}"));
    }
    match report.to_json_pretty() {
        Ok(json) => {
            let text = format!("--- !ruby/object:Puppet::Transaction::Report\n{json}\n");
            let path = settings.statedir.join("last_run_report.yaml");
            if let Err(e) = write_atomic(&path, text.as_bytes(), 0o640) {
                log.err(
                    "Puppet",
                    &format!("Could not save last run local report: {e}"),
                );
            }
        }
        Err(e) => log.err(
            "Puppet",
            &format!("Could not save last run local report: {e}"),
        ),
    }
}
