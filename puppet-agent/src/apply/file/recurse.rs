//! `recurse` (`true`, `remote`), `recurselimit`, `ignore`, `max_files`, `sourceselect` and
//! `purge`: the children a recursive `file` generates, as Puppet's `eval_generate` does.
//!
//! With `recurse => true` the local directory is listed (Puppet's `Fileset`: breadth first,
//! `ignore` globs matched against each name, `recurselimit` levels deep); with a `source`
//! each source's metadata is listed (the master's `file_metadatas`, a static catalog's
//! inlined `recursive_metadata`, or a local directory), the first source with entries
//! (`sourceselect => first`) or all of them, the earliest source winning a name
//! (`sourceselect => all`). With `purge`, local entries that no source has are removed.

use std::path::{Path, PathBuf};

use puppet_catalog::Resource;
use puppet_protocol::client::{LinksMode, MetadataQuery};
use puppet_protocol::files::glob_match;

use super::checksum::Sum;
use super::source::{Origin, local_path, mount_path};
use super::{Context, Current, Looked, Recurse, Spec, Wanted, sync_one};

/// The recursion's options.
#[derive(Debug, Clone, Default)]
pub(super) struct Options {
    /// `recurselimit` (`None`: no limit).
    pub limit: Option<u32>,
    /// `ignore` globs.
    pub ignore: Vec<String>,
    /// `max_files` (0: warn above 1,000 entries; -1: no limit; above 0: fail above it).
    pub max_files: i64,
    /// `sourceselect => all`.
    pub all_sources: bool,
    /// `links => follow`: links are listed as what they point to.
    pub follow: bool,
}

/// What a source says a child is.
#[derive(Debug, Clone)]
pub(super) struct FromSource {
    /// `file`, `directory` or `link`.
    pub kind: String,
    /// Content checksum of the source, when known.
    pub checksum: Option<String>,
    /// Where its content comes from.
    pub origin: Origin,
    /// A link's target.
    pub dest: Option<String>,
}

/// The soft limit of entries with `max_files => 0`.
const SOFT_MAX_FILES: usize = 1000;

/// Puppet's `Fileset#files` on a local directory: the relative paths below `root`
/// (breadth first), with the `max_files` warning or failure.
pub(super) fn fileset(
    root: &Path,
    options: &Options,
    ctx: &Context<'_>,
) -> Result<Vec<(String, Current)>, String> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(String::new(), 0u32)]);
    while let Some((rel_dir, depth)) = queue.pop_front() {
        if options.limit.is_some_and(|l| depth + 1 > l) {
            continue;
        }
        let dir = if rel_dir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&rel_dir)
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !options.ignore.iter().any(|g| glob_match(g, n)))
            .collect();
        names.sort();
        for name in names {
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            let (cur, _) = Current::look(&root.join(&rel), options.follow);
            if cur == Current::Directory {
                queue.push_back((rel.clone(), depth + 1));
            }
            out.push((rel, cur));
        }
    }
    check_max_files(root, out.len(), options.max_files, ctx)?;
    Ok(out)
}

fn check_max_files(
    root: &Path,
    entries: usize,
    max_files: i64,
    ctx: &Context<'_>,
) -> Result<(), String> {
    let path = root.display();
    if max_files > 0 && entries as i64 > max_files {
        return Err(format!(
            "The directory '{path}' contains {entries} entries, which exceeds the limit of {max_files} specified by the max_files parameter for this resource. The limit may be increased, but be aware that large number of file resources can result in excessive resource consumption and degraded performance. Consider using an alternate method to manage large directory trees"
        ));
    }
    if max_files == 0 && entries > SOFT_MAX_FILES {
        ctx.log.warning(
            "Puppet",
            &format!(
                "The directory '{path}' contains {entries} entries, which exceeds the default soft limit {SOFT_MAX_FILES} and may cause excessive resource consumption and degraded performance. To remove this warning set a value for `max_files` parameter or consider using an alternate method to manage large directory trees"
            ),
        );
    }
    Ok(())
}

/// The entries of the sources (`recurse_remote_metadata`): relative path and what the source
/// says, sorted by path. An empty list when the first source found is not a directory.
pub(super) async fn from_sources(
    sources: &[String],
    title: &str,
    sum: Sum,
    options: &Options,
    ctx: &Context<'_>,
) -> Result<Vec<(String, FromSource)>, String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let inlined = ctx
        .catalog
        .recursive_file_metadata(title)
        .unwrap_or_default();
    for source in sources {
        let entries = match local_path(source) {
            Some(p) => local_source(Path::new(&p), sum, options, ctx)?,
            None => {
                let metas = match inlined.iter().find(|(s, _)| s == source) {
                    Some((_, m)) => m.clone(),
                    None => {
                        let Some(mount) = mount_path(source) else {
                            return Err(format!(
                                "Cannot use URLs of type '{source}' as source for fileserving"
                            ));
                        };
                        let client = ctx.client.ok_or("no master to ask for file metadata")?;
                        let query = MetadataQuery {
                            recurse: true,
                            recurselimit: options.limit,
                            checksum_type: sum.name().into(),
                            max_files: Some(options.max_files),
                            ignore: options.ignore.clone(),
                            links: if options.follow {
                                LinksMode::Follow
                            } else {
                                LinksMode::Manage
                            },
                            ..MetadataQuery::default()
                        };
                        match client.file_metadatas(ctx.environment, mount, &query).await {
                            Ok(m) => m,
                            Err(e) if e.status() == Some(404) => continue,
                            Err(e) => {
                                return Err(format!(
                                    "Could not retrieve file metadata for {source}: {e}"
                                ));
                            }
                        }
                    }
                };
                let mut entries = Vec::new();
                for meta in metas {
                    let rel = meta.relative_path.clone().unwrap_or_default();
                    let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
                    let checksum = meta
                        .checksum
                        .as_ref()
                        .map(|c| c.value.clone())
                        .filter(|v| v.starts_with(&format!("{{{}}}", sum.name())));
                    let dest = meta.destination.clone();
                    let uri = if rel == "." || rel.is_empty() {
                        source.clone()
                    } else {
                        format!("{}/{rel}", source.trim_end_matches('/'))
                    };
                    entries.push((
                        rel,
                        FromSource {
                            kind,
                            checksum,
                            origin: Origin::Remote {
                                uri,
                                meta: Box::new(meta),
                            },
                            dest,
                        },
                    ));
                }
                entries
            }
        };
        if entries
            .iter()
            .any(|(rel, f)| rel == "." && f.kind != "directory")
        {
            return Ok(Vec::new());
        }
        let found = !entries.is_empty();
        for (rel, f) in entries {
            if rel == "." || rel.is_empty() {
                continue;
            }
            if seen.insert(rel.clone()) {
                out.push((rel, f));
            }
        }
        if found && !options.all_sources {
            break;
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A local source directory as metadata entries (`.` first); none when it does not exist.
fn local_source(
    root: &Path,
    sum: Sum,
    options: &Options,
    ctx: &Context<'_>,
) -> Result<Vec<(String, FromSource)>, String> {
    let (top, _) = Current::look(root, options.follow);
    let kind = |c: &Current| match c {
        Current::Directory => "directory",
        Current::Link(_) => "link",
        _ => "file",
    };
    let time_sum = |p: &Path| {
        (matches!(sum, Sum::Mtime | Sum::Ctime))
            .then(|| sum.of_file(p, None).ok())
            .flatten()
    };
    let root_s = root.to_string_lossy().into_owned();
    match top {
        Current::Absent => return Ok(Vec::new()),
        Current::Directory => {}
        other => {
            return Ok(vec![(
                ".".into(),
                FromSource {
                    kind: kind(&other).into(),
                    checksum: None,
                    origin: Origin::Local(root_s),
                    dest: None,
                },
            )]);
        }
    }
    let mut out = vec![(
        ".".to_string(),
        FromSource {
            kind: "directory".into(),
            checksum: None,
            origin: Origin::Local(root_s.clone()),
            dest: None,
        },
    )];
    for (rel, cur) in fileset(root, options, ctx)? {
        let full = root.join(&rel);
        let dest = match &cur {
            Current::Link(t) => Some(t.clone()),
            _ => None,
        };
        out.push((
            rel,
            FromSource {
                kind: kind(&cur).into(),
                checksum: time_sum(&full),
                origin: Origin::Local(full.to_string_lossy().into_owned()),
                dest,
            },
        ));
    }
    Ok(out)
}

/// Puppet's `remove_less_specific_files`: the paths of the catalog's other `File`s below
/// `parent`; a child at or below one of them is left to that resource.
fn managed_below(parent: &str, ctx: &Context<'_>) -> Vec<String> {
    let prefix = format!("{}/", parent.trim_end_matches('/'));
    ctx.catalog
        .resources
        .iter()
        .filter(|r| r.resource_type.eq_ignore_ascii_case("file"))
        .map(|r| {
            let p = super::super::param_str(r, "path").unwrap_or_else(|| r.title.clone());
            p.trim_end_matches('/').to_string()
        })
        .filter(|p| p.starts_with(&prefix))
        .collect()
}

/// Whether `child` is at or below one of `others`.
fn under_any(child: &str, others: &[String]) -> bool {
    others.iter().any(|o| {
        child
            .strip_prefix(o.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Puppet's `eval_generate` and the children's evaluation: local entries (`recurse =>
/// true`), the sources' entries, purging, then each child in path order.
pub(super) async fn generate_children(
    spec: &Spec,
    recurse: Recurse,
    purge: bool,
    sources: &[String],
    resource: &Resource,
    options: &Options,
    ctx: &mut Context<'_>,
) -> Result<(), String> {
    let path = Path::new(&spec.path);
    let mut children: std::collections::BTreeMap<String, Option<FromSource>> =
        std::collections::BTreeMap::new();
    if recurse == Recurse::True && Current::look(path, spec.follow).0 == Current::Directory {
        for (rel, _) in fileset(path, options, ctx)? {
            children.insert(rel, None);
        }
    }
    if !sources.is_empty() {
        for (rel, from) in from_sources(sources, &resource.title, spec.sum, options, ctx).await? {
            children.insert(rel, Some(from));
        }
    }
    let others = managed_below(&spec.path, ctx);
    let specs: Vec<Spec> = children
        .into_iter()
        .map(|(rel, from)| {
            let child_path = format!("{}/{rel}", spec.path.trim_end_matches('/'));
            child_spec(spec, child_path, from, purge)
        })
        .filter(|c| !under_any(&c.path, &others))
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    let looked = look_all(&specs).await;
    let prefix = ctx
        .path
        .rsplit_once("/File[")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default();
    for (child, looked) in specs.into_iter().zip(looked) {
        let child_path = child.path.clone();
        let kind = match &child.wanted {
            Some(Wanted::Directory) => "directory",
            Some(Wanted::Link(_)) => "link",
            Some(Wanted::Absent) => "absent",
            _ => "file",
        };
        // A purged path may be gone with its parent: look again.
        let looked = if child.wanted == Some(Wanted::Absent) {
            None
        } else {
            Some(looked)
        };
        let parent_events = std::mem::take(&mut ctx.events);
        let parent_path = std::mem::replace(&mut ctx.path, format!("{prefix}/File[{child_path}]"));
        let result = sync_one(&child, ctx, looked).await;
        ctx.path = parent_path;
        let mut events = std::mem::replace(&mut ctx.events, parent_events);
        if let Err(e) = result {
            ctx.log.err(
                &format!("{prefix}/File[{child_path}]"),
                &format!("Could not evaluate: {e}"),
            );
            let mut ev =
                puppet_report::Event::new(puppet_report::EventStatus::Failure).with_message(e);
            ev.name = Some("resource_error".into());
            events.push(ev);
        }
        ctx.generated
            .push((child_path, events, Some(kind.to_string())));
    }
    Ok(())
}

/// A child of a recursive resource (Puppet's `newchild`: the parent's parameters without
/// `ensure`, `source`, `target` and the recursion's; then what the source says).
fn child_spec(parent: &Spec, path: String, from: Option<FromSource>, purge: bool) -> Spec {
    let mut c = Spec {
        path,
        wanted: None,
        origin: None,
        checksum: None,
        checksum_value: false,
        recurse: false,
        ..parent.clone()
    };
    match from {
        Some(f) => {
            c.wanted = Some(match f.kind.as_str() {
                "directory" => Wanted::Directory,
                "link" => Wanted::Link(f.dest.clone().unwrap_or_default()),
                _ => Wanted::File,
            });
            if f.kind == "file" {
                c.origin = Some(f.origin);
                c.checksum = f.checksum;
            }
        }
        None if purge => c.wanted = Some(Wanted::Absent),
        None => {}
    }
    c
}

/// The `lstat` of every child, and the checksum of those whose content is compared, on
/// blocking threads (as many as there are cores).
async fn look_all(specs: &[Spec]) -> Vec<Looked> {
    let follow = specs.first().is_some_and(|s| s.follow);
    let jobs: Vec<(PathBuf, Option<Sum>)> = specs
        .iter()
        .map(|s| {
            let hash = (s.replace && s.origin.is_some() && s.wanted == Some(Wanted::File))
                .then_some(s.sum);
            (PathBuf::from(&s.path), hash)
        })
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = jobs.len().div_ceil(workers).max(1);
    let mut handles = Vec::new();
    for part in jobs.chunks(chunk) {
        let part = part.to_vec();
        handles.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|(p, hash)| {
                    let (cur, meta) = Current::look(&p, follow);
                    let sum = match (hash, &cur) {
                        (Some(s), Current::File) => s.of_file(&p, meta.as_ref()).ok(),
                        _ => None,
                    };
                    (cur, meta, sum)
                })
                .collect::<Vec<Looked>>()
        }));
    }
    let mut out = Vec::with_capacity(specs.len());
    for (h, part) in handles.into_iter().zip(jobs.chunks(chunk)) {
        match h.await {
            Ok(v) => out.extend(v),
            Err(_) => out.extend(part.iter().map(|(p, _)| {
                let (c, m) = Current::look(p, follow);
                (c, m, None)
            })),
        }
    }
    out
}
