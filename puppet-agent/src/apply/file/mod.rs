//! `file`: `ensure` (`file`, `present`, `directory`, `link`, `absent`, or a link target),
//! `content` (a checksum `{sha256}...` as content: the contents of that checksum in the
//! filebucket `backup` names), `source` ([`source`]: `puppet:///` URIs, local paths, `file://`
//! URIs, `http://` URLs ([`http`]); `sourceselect`), `source_permissions`, `recurse`,
//! `recurselimit`, `ignore`, `max_files`, `purge` ([`recurse`]), `target`, `mode` (numeric and
//! symbolic), `owner`, `group`, `replace`, `force`, `backup` ([`backup`]: local and remote
//! filebuckets, suffixes), `show_diff` ([`diff`]), `checksum` and `checksum_value`
//! ([`checksum`]), `validate_cmd` and `validate_replacement` (run on the temporary file before
//! the rename: a failure fails the change and leaves the file as it was).
//!
//! Every write goes to a temporary file beside the target that is fsynced and renamed over
//! it: a reader never sees a half-written file, and a failed download changes nothing. A file
//! is looked at with one `lstat` and hashed only when its content is managed; the children of
//! a recursive directory are looked at and hashed concurrently before they are applied in
//! order.

mod backup;
mod checksum;
mod content;
mod diff;
mod http;
mod mode;
mod recurse;
mod source;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use puppet_catalog::Resource;
use serde_json::Value;

pub use backup::bucket_dir;
pub use checksum::Sum;
pub use diff::DiffSettings;
pub use mode::desired_mode;

use super::values::param_bool;
use super::{Context, format_value, param_list, param_str};
use backup::Backup;
use mode::{group_id, group_name, remove, umask_default, user_id, user_name};
use source::{Origin, fetch, resolve_source};

/// The agent's settings the `file` type reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSettings {
    /// `show_diff`, `diff`, `diff_args`.
    pub diff: DiffSettings,
    /// `clientbucketdir`: the local `puppet` filebucket (`$vardir/clientbucket`).
    pub clientbucketdir: PathBuf,
    /// `digest_algorithm`: the checksum of file buckets and the default `checksum`.
    pub digest: Sum,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            diff: DiffSettings::default(),
            clientbucketdir: PathBuf::from("/var/cache/puppet/clientbucket"),
            digest: Sum::Sha256,
        }
    }
}

impl FileSettings {
    /// Settings with `clientbucketdir` and `show_diff` as given, the rest Puppet's defaults.
    ///
    /// ```
    /// let s = puppet_agent::apply::file::FileSettings::new("/var/cache/puppet/clientbucket", true);
    /// assert!(s.diff.show_diff);
    /// ```
    pub fn new(clientbucketdir: impl Into<PathBuf>, show_diff: bool) -> FileSettings {
        FileSettings {
            diff: DiffSettings {
                show_diff,
                ..DiffSettings::default()
            },
            clientbucketdir: clientbucketdir.into(),
            digest: Sum::Sha256,
        }
    }
}

/// What is on disk at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Current {
    Absent,
    File,
    Directory,
    Link(String),
    Other(&'static str),
}

impl Current {
    /// One `lstat`, or with `follow` (`links => follow`) one `stat`.
    fn look(path: &Path, follow: bool) -> (Current, Option<std::fs::Metadata>) {
        let meta = if follow {
            std::fs::metadata(path)
        } else {
            std::fs::symlink_metadata(path)
        };
        match meta {
            Err(_) => (Current::Absent, None),
            Ok(m) => {
                use std::os::unix::fs::FileTypeExt;
                let ft = m.file_type();
                let c = if ft.is_symlink() {
                    Current::Link(
                        std::fs::read_link(path)
                            .map(|t| t.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    )
                } else if ft.is_dir() {
                    Current::Directory
                } else if ft.is_file() {
                    Current::File
                } else if ft.is_fifo() {
                    Current::Other("fifo")
                } else if ft.is_socket() {
                    Current::Other("socket")
                } else if ft.is_char_device() {
                    Current::Other("characterSpecial")
                } else if ft.is_block_device() {
                    Current::Other("blockSpecial")
                } else {
                    Current::Other("unknown")
                };
                (c, Some(m))
            }
        }
    }

    /// The value of `ensure` Puppet reports for it.
    fn name(&self) -> &'static str {
        match self {
            Current::Absent => "absent",
            Current::File => "file",
            Current::Directory => "directory",
            Current::Link(_) => "link",
            Current::Other(t) => t,
        }
    }

    /// Ruby's `File::Stat#ftype`.
    fn ftype(&self) -> &'static str {
        self.name()
    }
}

/// What the resource wants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    Absent,
    File,
    Present,
    Directory,
    Link(String),
}

/// The parameters of one file (the resource, or a generated child of a recursive one).
#[derive(Debug, Clone)]
struct Spec {
    path: String,
    wanted: Option<Wanted>,
    origin: Option<Origin>,
    /// Expected checksum of the content, when known without downloading it.
    checksum: Option<String>,
    /// The content is checked through `checksum_value` (its messages and event).
    checksum_value: bool,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    replace: bool,
    force: bool,
    sum: Sum,
    backup: Backup,
    /// The resource recurses (a directory is not backed up file by file).
    recurse: bool,
    /// The resource's `show_diff`.
    show_diff: bool,
    /// `content` or `source` is Sensitive: never diffed.
    sensitive: bool,
    /// `links => follow`: the path's target is managed.
    follow: bool,
    /// `validate_cmd`, run on the new content before it replaces the file.
    validate: Option<content::Validate>,
}

/// Puppet's notice when a directory is in the way and `force` is off.
const NOT_REMOVING_DIRECTORY: &str = "Not removing directory; use 'force' to override";

impl Spec {
    /// The mode a file (`directory` false) or directory this resource creates gets: `mode`
    /// applied to 0644 or 0755, or without `mode`, 0666 or 0777 less the process umask.
    fn new_mode(&self, directory: bool) -> Result<u32, String> {
        match (&self.mode, directory) {
            (Some(m), false) => desired_mode(m, 0o644, false),
            (Some(m), true) => desired_mode(m, 0o755, true),
            (None, false) => Ok(umask_default(0o666)),
            (None, true) => Ok(umask_default(0o777)),
        }
    }

    /// Backs up what is at the path (`cur`) as `backup` says, before it is replaced.
    async fn back_up(&self, cur: &Current, ctx: &Context<'_>) -> Result<(), String> {
        let path = Path::new(&self.path);
        backup::before_removing(&self.backup, path, cur, self.recurse, self.force, ctx).await
    }

    /// Removes what is at the path (`cur`) so that something new can take its place.
    fn remove_old(&self, cur: &Current) -> Result<(), String> {
        remove(Path::new(&self.path), cur)
            .map_err(|e| format!("Could not remove {}: {e}", self.path))
    }

    /// `ensure => file` or `link` over a directory without `force`: Puppet's warning and
    /// notice, and the failed `ensure` change (`kind` `file` or `link`, event `event`).
    fn keep_directory(&self, is: Value, kind: &str, event: &str, ctx: &mut Context<'_>) {
        if !ctx.noop {
            if self.backup != Backup::Off {
                ctx.log
                    .warning(&ctx.path, "Could not back up file of type directory");
            }
            ctx.log.notice(&ctx.path, NOT_REMOVING_DIRECTORY);
        }
        let err = format!(
            "Could not set '{kind}' on ensure: Is a directory - {}",
            self.path
        );
        ctx.change("ensure", is, kind.into(), event, String::new(), || Err(err));
    }
}

/// What was found at a path before it is synced: from [`Current::look`] and, for a file whose
/// content is managed, its checksum (computed concurrently for recursive children).
type Looked = (Current, Option<std::fs::Metadata>, Option<String>);

/// Brings one path to `spec`; events go to `ctx`. `looked`: the path's `lstat` (and sum)
/// when the caller has it already.
async fn sync_one(
    spec: &Spec,
    ctx: &mut Context<'_>,
    looked: Option<Looked>,
) -> Result<(), String> {
    let path = Path::new(&spec.path);
    let (cur, meta, known_sum) = match looked {
        Some(l) => l,
        None => {
            let (c, m) = Current::look(path, spec.follow);
            (c, m, None)
        }
    };
    let uid = spec.owner.as_deref().map(user_id).transpose()?;
    let gid = spec.group.as_deref().map(group_id).transpose()?;
    let noop = ctx.noop;

    // ensure
    let mut ensure_in_sync = true;
    if let Some(wanted) = &spec.wanted {
        let is = Value::from(cur.name());
        // `replace => false`: an existing file of any type is left as it is.
        let replace_ok = spec.replace || cur == Current::Absent;
        match wanted {
            Wanted::Absent => {
                if cur != Current::Absent {
                    let backed = spec.back_up(&cur, ctx).await;
                    if cur == Current::Directory && !spec.force {
                        if !noop && backed.is_ok() {
                            ctx.log.notice(&ctx.path, NOT_REMOVING_DIRECTORY);
                        }
                        ctx.change(
                            "ensure",
                            is,
                            "absent".into(),
                            "file_removed",
                            "removed".into(),
                            || backed,
                        );
                    } else {
                        let c = cur.clone();
                        ctx.change(
                            "ensure",
                            is,
                            "absent".into(),
                            "file_removed",
                            "removed".into(),
                            || {
                                backed?;
                                match remove(path, &c) {
                                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                        Err(format!("Could not remove {}: {e}", spec.path))
                                    }
                                    _ => Ok(()),
                                }
                            },
                        );
                    }
                }
                return Ok(());
            }
            Wanted::File | Wanted::Present => {
                let needs = match (&cur, wanted) {
                    (Current::Absent, _) => true,
                    (Current::File, _) => false,
                    (_, Wanted::Present) => false,
                    _ => replace_ok,
                };
                if needs {
                    if cur == Current::Directory && !spec.force {
                        spec.keep_directory(is, "file", "file_created", ctx);
                        return Ok(());
                    }
                    let content = match &spec.origin {
                        Some(o) if !noop => {
                            Some(fetch(o, spec.checksum.as_deref(), spec.sum, ctx).await)
                        }
                        _ => None,
                    };
                    let sum = match (&content, &spec.checksum) {
                        (Some(Ok(b)), _) if spec.sum.is_digest() => Some(spec.sum.of(b)),
                        (_, Some(c)) => Some(c.clone()),
                        _ => match &spec.origin {
                            Some(Origin::Inline(b)) => Some(spec.sum.of(b)),
                            _ => None,
                        },
                    };
                    // Puppet's ensure shows the content property's change when there is
                    // one, whatever was there.
                    let message = match (&cur, &sum) {
                        (_, Some(s)) if !spec.checksum_value => {
                            format!("defined content as '{s}'")
                        }
                        (Current::Absent, _) => "created".to_string(),
                        (c, _) => format!("ensure changed '{}' to 'file'", c.name()),
                    };
                    let mode = spec.new_mode(false)?;
                    let backed = spec.back_up(&cur, ctx).await;
                    let c = cur.clone();
                    let (log, source) = (ctx.log, ctx.path.clone());
                    ctx.redact = spec.sensitive;
                    ctx.change("ensure", is, "file".into(), "file_created", message, || {
                        backed?;
                        let bytes = match content {
                            Some(r) => r?,
                            None => Vec::new(),
                        };
                        if c != Current::Absent {
                            spec.remove_old(&c)?;
                        }
                        let validate = spec.validate.as_ref().map(|v| (v, log, source.as_str()));
                        content::write_file(path, &bytes, mode, (uid, gid), validate)
                    });
                    ctx.redact = false;
                    return Ok(());
                }
            }
            Wanted::Directory => {
                if cur != Current::Directory && replace_ok {
                    ensure_in_sync = false;
                    let message = if cur == Current::Absent {
                        "created".to_string()
                    } else {
                        format!("ensure changed '{}' to 'directory'", cur.name())
                    };
                    let mode = spec.new_mode(true)?;
                    let backed = spec.back_up(&cur, ctx).await;
                    let c = cur.clone();
                    ctx.change(
                        "ensure",
                        is,
                        "directory".into(),
                        "directory_created",
                        message,
                        || {
                            backed?;
                            spec.remove_old(&c)?;
                            std::fs::create_dir(path).map_err(|e| {
                                format!(
                                    "Could not set 'directory' on ensure: {e} @ dir_s_mkdir - {}",
                                    spec.path
                                )
                            })?;
                            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                                .map_err(|e| e.to_string())?;
                            if uid.is_some() || gid.is_some() {
                                nix::unistd::chown(path, uid.map(Into::into), gid.map(Into::into))
                                    .map_err(|e| e.to_string())?;
                            }
                            Ok(())
                        },
                    );
                }
            }
            Wanted::Link(target) => match &cur {
                Current::Link(old) if old == target => {}
                _ if !replace_ok => {}
                Current::Link(old) => {
                    let msg = format!("target changed '{old}' to '{target}'");
                    let backed = spec.back_up(&cur, ctx).await;
                    let t = target.clone();
                    ctx.change(
                        "target",
                        Value::from(old.clone()),
                        Value::from(target.clone()),
                        "target_changed",
                        msg,
                        || {
                            backed?;
                            replace_link(path, &t)
                        },
                    );
                }
                Current::Directory if !spec.force => {
                    spec.keep_directory(is, "link", "link_created", ctx);
                    return Ok(());
                }
                other => {
                    ensure_in_sync = false;
                    let message = if *other == Current::Absent {
                        "created".to_string()
                    } else {
                        format!("ensure changed '{}' to 'link'", other.name())
                    };
                    let backed = spec.back_up(other, ctx).await;
                    let c = other.clone();
                    let t = target.clone();
                    ctx.change("ensure", is, "link".into(), "link_created", message, || {
                        backed?;
                        spec.remove_old(&c)?;
                        std::os::unix::fs::symlink(&t, path).map_err(|e| e.to_string())?;
                        if uid.is_some() || gid.is_some() {
                            nix::unistd::fchownat(
                                nix::fcntl::AT_FDCWD,
                                path,
                                uid.map(Into::into),
                                gid.map(Into::into),
                                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                            )
                            .map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    });
                }
            },
        }
    }
    if !ensure_in_sync || cur == Current::Absent {
        if cur == Current::Absent && spec.wanted.is_none() {
            ctx.log.debug(
                &ctx.path,
                "Nothing to manage: no ensure and the resource doesn't exist",
            );
        }
        return Ok(());
    }
    let Some(meta) = meta else { return Ok(()) };

    // content (or checksum_value)
    if cur == Current::File
        && spec.replace
        && let Some(origin) = &spec.origin
    {
        content::sync_content(spec, origin, &meta, known_sum, ctx).await?;
    }
    // owner, group
    let is_link = matches!(cur, Current::Link(_));
    let chown = |u: Option<u32>, g: Option<u32>| -> Result<(), String> {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            u.map(Into::into),
            g.map(Into::into),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| format!("Failed to set owner of {}: {e}", spec.path))
    };
    let owners = [
        ("owner", uid, meta.uid(), user_name as fn(u32) -> String),
        ("group", gid, meta.gid(), group_name),
    ];
    for (property, want, have, name) in owners {
        let Some(want) = want.filter(|w| *w != have) else {
            continue;
        };
        let msg = format!("{property} changed '{}' to '{}'", name(have), name(want));
        let (u, g) = match property {
            "owner" => (Some(want), None),
            _ => (None, Some(want)),
        };
        ctx.change(
            property,
            Value::from(have),
            Value::from(want),
            &format!("{property}_changed"),
            msg,
            || chown(u, g),
        );
    }
    // mode
    if let (Some(m), false) = (&spec.mode, is_link) {
        let have = meta.mode() & 0o7777;
        let want = desired_mode(m, have, cur == Current::Directory)?;
        if want != have {
            let (h, w) = (format!("{have:04o}"), format!("{want:04o}"));
            let msg = format!(
                "mode changed {} to {}",
                format_value(&Value::from(h.clone())),
                format_value(&Value::from(w.clone()))
            );
            ctx.change(
                "mode",
                Value::from(h),
                Value::from(w),
                "mode_changed",
                msg,
                || {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))
                        .map_err(|e| format!("failed to set mode {want:04o} on {}: {e}", spec.path))
                },
            );
        }
    }
    Ok(())
}

fn replace_link(path: &Path, target: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.puppettmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// `recurse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recurse {
    No,
    True,
    Remote,
}

/// Puppet's warning for `content => '{sha256}...'` on a resource with a manifest location.
const CHECKSUM_CONTENT_DEPRECATED: &str = "Using a checksum in a file's \"content\" property is deprecated. The ability to use a checksum to retrieve content from the filebucket using the \"content\" property will be removed in a future release. The literal value of the \"content\" property will be written to the file. The checksum retrieval functionality is being replaced by the use of static catalogs. See https://puppet.com/docs/puppet/latest/static_catalogs.html for more information.";

/// `source_permissions`: with `use` (or `use_when_creating` and nothing at the path yet) the
/// source's mode, and as root its owner and group, for those of the three the resource does
/// not set, as Puppet's `copy_source_values`; `ignore` (Puppet 7's default) leaves them. A
/// value other than `ignore` on a resource with a manifest location gives Puppet's
/// deprecation warning.
fn source_permissions(
    resource: &Resource,
    origin: &Origin,
    path: &str,
    follow: bool,
    ctx: &Context<'_>,
    (mode, owner, group): (
        &mut Option<String>,
        &mut Option<String>,
        &mut Option<String>,
    ),
) -> Result<(), String> {
    let value = param_str(resource, "source_permissions");
    match value.as_deref() {
        None | Some("ignore") => return Ok(()),
        Some("use") | Some("use_when_creating") => {}
        Some(other) => {
            return Err(format!(
                "Parameter source_permissions failed on {}: Invalid value \"{other}\". Valid values are use, use_when_creating, ignore.",
                resource.reference()
            ));
        }
    }
    if let (Some(file), Some(line)) = (&resource.file, resource.line) {
        ctx.log.warning(
            "Puppet",
            &format!(
                "The `source_permissions` parameter is deprecated. Explicitly set `owner`, `group`, and `mode`.\n   (file: {file}, line: {line})"
            ),
        );
    }
    if value.as_deref() == Some("use_when_creating") && std::fs::metadata(path).is_ok() {
        return Ok(());
    }
    let (m, u, g) = match origin {
        Origin::Inline(_) | Origin::Bucket { .. } | Origin::Http { .. } => return Ok(()),
        Origin::Local(p) => {
            let meta = if follow {
                std::fs::metadata(p)
            } else {
                std::fs::symlink_metadata(p)
            }
            .map_err(|e| format!("Could not retrieve file metadata for {p}: {e}"))?;
            (
                Some(meta.mode() & 0o7777),
                Some(meta.uid().to_string()),
                Some(meta.gid().to_string()),
            )
        }
        Origin::Remote { meta, .. } => {
            let id = |v: &Option<Value>| match v {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            (meta.mode, id(&meta.owner), id(&meta.group))
        }
    };
    let root = nix::unistd::geteuid().is_root();
    if owner.is_none() && root {
        *owner = u;
    }
    if mode.is_none() {
        *mode = m.map(|m| format!("{m:o}"));
    }
    if group.is_none() && root {
        *group = g;
    }
    Ok(())
}

/// Evaluates a `file` resource (see the module docs).
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    let path = param_str(resource, "path").unwrap_or_else(|| resource.title.clone());
    if !path.starts_with('/') {
        return Err(format!("File paths must be fully qualified, not '{path}'"));
    }
    let path = if path.len() > 1 {
        path.trim_end_matches('/').to_string()
    } else {
        path
    };
    let mut sum = match param_str(resource, "checksum") {
        None => ctx.file.digest,
        Some(name) => Sum::parse(&name).ok_or_else(|| {
            format!(
                "Invalid value \"{name}\". Valid values are md5, sha224, sha256, sha384, sha512, mtime, ctime, none."
            )
        })?,
    };
    let content = param_str(resource, "content");
    let sources = param_list(resource, "source");
    let mut target = param_str(resource, "target");
    let creators = usize::from(content.is_some())
        + usize::from(!sources.is_empty())
        + usize::from(target.is_some());
    if creators > 1 {
        return Err("You cannot specify more than one of content, source, target".into());
    }
    let recurse = match param_str(resource, "recurse").as_deref() {
        Some("true") => Recurse::True,
        Some("remote") => Recurse::Remote,
        None | Some("false") => Recurse::No,
        Some(other) => return Err(format!("Invalid recurse value {other:?}")),
    };
    if recurse == Recurse::Remote && sources.is_empty() {
        return Err("You cannot specify a remote recursion without a source".into());
    }
    if sum == Sum::None && !sources.is_empty() {
        return Err("You cannot specify source when using checksum 'none'".into());
    }
    if !sum.is_digest() && content.is_some() {
        return Err(format!(
            "You cannot specify content when using checksum '{}'",
            sum.name()
        ));
    }
    let recurselimit = match param_str(resource, "recurselimit") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| format!("Invalid recurselimit value {v:?}"))?,
        ),
    };
    if recurse == Recurse::No && recurselimit.is_some() {
        ctx.log.warning(
            &ctx.path,
            "Possible error: recurselimit is set but not recurse, no recursion will happen",
        );
    }
    let checksum_value = param_str(resource, "checksum_value");
    if let Some(v) = &checksum_value
        && !sum.valid_value(v)
    {
        return Err(format!(
            "Checksum value '{v}' is not a valid checksum type {}",
            sum.name()
        ));
    }
    if checksum_value.is_some() && content.is_none() && sources.is_empty() {
        ctx.log.warning(
            &ctx.path,
            "Checksum value is ignored unless content or source are specified",
        );
    }
    let max_files = match param_str(resource, "max_files") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| format!("Invalid value {v:?} for max_files"))?,
    };
    let backup = Backup::parse(resource.parameter("backup"))?;
    if let Backup::Bucket(name) = &backup {
        backup::resolve(name, ctx.catalog, &ctx.file.clientbucketdir)?;
    }
    let mut wanted = match param_str(resource, "ensure").as_deref() {
        None => None,
        Some("absent") | Some("false") => Some(Wanted::Absent),
        Some("file") => Some(Wanted::File),
        Some("present") => Some(Wanted::Present),
        Some("directory") => Some(Wanted::Directory),
        Some("link") => Some(Wanted::Link(String::new())),
        Some(t) if !t.is_empty() => {
            target = Some(t.to_string());
            Some(Wanted::Link(String::new()))
        }
        Some(other) => return Err(format!("Invalid value \"{other}\" for ensure")),
    };
    // `links`: `ensure => link` always manages the link itself.
    let follow = match param_str(resource, "links").as_deref() {
        None | Some("manage") => false,
        Some("follow") => !matches!(wanted, Some(Wanted::Link(_))),
        Some(other) => return Err(format!("Invalid :links value '{other}'")),
    };
    let mut checksum = None;
    let mut origin = match content {
        // A checksum as content: the contents of that checksum in the resource's filebucket.
        Some(c) if source::is_checksum(&c) => {
            if let (Some(file), Some(line), true) =
                (&resource.file, resource.line, sources.is_empty())
            {
                ctx.log.warning(
                    "Puppet",
                    &format!("{CHECKSUM_CONTENT_DEPRECATED}\n   (file: {file}, line: {line})"),
                );
            }
            checksum = Some(c.clone());
            Some(Origin::Bucket {
                checksum: c,
                bucket: match &backup {
                    Backup::Bucket(name) => Some(name.clone()),
                    _ => None,
                },
            })
        }
        Some(c) => Some(Origin::Inline(c.into_bytes())),
        None => None,
    };
    let mut source_kind = None;
    if !sources.is_empty() && wanted != Some(Wanted::Absent) {
        let (o, kind, dest) = resolve_source(&sources, &resource.title, sum, follow, ctx).await?;
        if let Origin::Remote { meta, .. } = &o {
            checksum = meta
                .checksum
                .as_ref()
                .map(|c| c.value.clone())
                .filter(|v| v.starts_with(&format!("{{{}}}", sum.name())));
        }
        // The checksum type and value the headers gave replace the resource's.
        if let Origin::Http {
            sum: s,
            checksum: c,
            ..
        } = &o
        {
            sum = *s;
            checksum = Some(c.clone());
        }
        if let Origin::Local(p) = &o
            && !sum.is_digest()
        {
            checksum = sum.of_file(Path::new(p), None).ok();
        }
        if kind == "link" && target.is_none() {
            target = dest;
        }
        // `checksum_value` skips the source's metadata: no ensure from it.
        if checksum_value.is_none() {
            source_kind = Some(kind);
        }
        origin = Some(o);
    }
    if let Some(v) = &checksum_value
        && origin.is_some()
    {
        checksum = Some(format!("{{{}}}{v}", sum.name()));
    }
    match (&wanted, source_kind.as_deref()) {
        (None, Some("directory")) | (Some(Wanted::Present), Some("directory")) => {
            wanted = Some(Wanted::Directory)
        }
        (None, Some("link")) => wanted = Some(Wanted::Link(String::new())),
        (None, Some(_)) => wanted = Some(Wanted::File),
        (None, None) if matches!(origin, Some(Origin::Inline(_) | Origin::Bucket { .. })) => {
            wanted = Some(Wanted::File)
        }
        (None, None) if target.is_some() => wanted = Some(Wanted::Link(String::new())),
        _ => {}
    }
    if let Some(Wanted::Link(t)) = &mut wanted {
        *t = target.clone().ok_or("No target specified for the link")?;
    }
    let is_dir = wanted == Some(Wanted::Directory);
    let sensitive = resource.is_sensitive("content") || resource.is_sensitive("source");
    let (mut mode, mut owner, mut group) = (
        param_str(resource, "mode"),
        param_str(resource, "owner"),
        param_str(resource, "group"),
    );
    if let Some(o) = &origin {
        source_permissions(
            resource,
            o,
            &path,
            follow,
            ctx,
            (&mut mode, &mut owner, &mut group),
        )?;
    }
    let spec = Spec {
        path: path.clone(),
        wanted: wanted.clone(),
        origin: if is_dir { None } else { origin.clone() },
        checksum,
        checksum_value: checksum_value.is_some() && origin.is_some(),
        mode,
        owner,
        group,
        replace: param_bool(resource, "replace").unwrap_or(true),
        force: param_bool(resource, "force").unwrap_or(false),
        sum,
        backup,
        recurse: recurse != Recurse::No,
        show_diff: param_bool(resource, "show_diff").unwrap_or(true),
        sensitive,
        follow,
        validate: param_str(resource, "validate_cmd").map(|command| content::Validate {
            command,
            replacement: param_str(resource, "validate_replacement").unwrap_or_else(|| "%".into()),
        }),
    };
    sync_one(&spec, ctx, None).await?;

    if recurse == Recurse::No || ctx.failed() || recurselimit == Some(0) {
        return Ok(());
    }
    let options = recurse::Options {
        limit: recurselimit,
        ignore: param_list(resource, "ignore"),
        max_files,
        all_sources: param_str(resource, "sourceselect").as_deref() == Some("all"),
        follow,
    };
    let purge = param_bool(resource, "purge").unwrap_or(false) && recurse == Recurse::True;
    if let Err(e) =
        recurse::generate_children(&spec, recurse, purge, &sources, resource, &options, ctx).await
    {
        // As Puppet's transaction: logged on the resource, which itself stays applied; the
        // run is failed.
        ctx.log.err(
            &ctx.path,
            &format!("Failed to generate additional resources using 'eval_generate': {e}"),
        );
        ctx.generate_failed = true;
    }
    Ok(())
}
