//! `file`: `ensure` (`file`, `present`, `directory`, `link`, `absent`, or a link target),
//! `content`, `source` (`puppet:///` URIs through the master, with a static catalog's inlined
//! metadata and `static_file_content` by code_id when the catalog has them; local paths and
//! `file://` URIs), `recurse` (of a source directory), `target`, `mode` (numeric and
//! symbolic), `owner`, `group`, `replace`, `force`, `checksum` (`sha256`, `md5`).
//!
//! Every write goes to a temporary file beside the target that is fsynced and renamed over
//! it: a reader never sees a half-written file, and a failed download changes nothing.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use base64ct::Encoding;
use md5::Digest as _;
use puppet_catalog::{FileMetadata, Resource};
use puppet_protocol::client::MetadataQuery;
use serde_json::Value;

use super::values::param_bool;
use super::{Context, format_value, param_list, param_str};

/// What is on disk at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Current {
    Absent,
    File,
    Directory,
    Link(String),
    Other,
}

impl Current {
    fn of(path: &Path) -> (Current, Option<std::fs::Metadata>) {
        match std::fs::symlink_metadata(path) {
            Err(_) => (Current::Absent, None),
            Ok(m) => {
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
                } else {
                    Current::Other
                };
                (c, Some(m))
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Current::Absent => "absent",
            Current::File => "file",
            Current::Directory => "directory",
            Current::Link(_) => "link",
            Current::Other => "file",
        }
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

/// A checksum type the agent computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sum {
    Sha256,
    Md5,
}

impl Sum {
    fn name(self) -> &'static str {
        match self {
            Sum::Sha256 => "sha256",
            Sum::Md5 => "md5",
        }
    }

    fn of(self, bytes: &[u8]) -> String {
        let hex = match self {
            Sum::Sha256 => hex(&sha2::Sha256::digest(bytes)),
            Sum::Md5 => hex(&md5::Md5::digest(bytes)),
        };
        format!("{{{}}}{hex}", self.name())
    }

    fn of_file(self, path: &Path) -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let hex = match self {
            Sum::Sha256 => {
                let mut h = sha2::Sha256::new();
                std::io::copy(&mut f, &mut h)?;
                hex(&h.finalize())
            }
            Sum::Md5 => {
                let mut h = md5::Md5::new();
                std::io::copy(&mut f, &mut h)?;
                hex(&h.finalize())
            }
        };
        Ok(format!("{{{}}}{hex}", self.name()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where content comes from.
#[derive(Debug, Clone)]
enum Origin {
    /// The `content` parameter.
    Inline(Vec<u8>),
    /// A `puppet:///` source: the URI and its metadata.
    Remote {
        uri: String,
        meta: Box<FileMetadata>,
    },
    /// A local source path.
    Local(String),
}

fn mount_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("puppet://")?;
    // puppet:///mount/path or puppet://server/mount/path
    let idx = rest.find('/')?;
    Some(&rest[idx + 1..])
}

fn local_path(uri: &str) -> Option<String> {
    if let Some(p) = uri.strip_prefix("file://") {
        return Some(p.to_string());
    }
    uri.starts_with('/').then(|| uri.to_string())
}

/// Finds the first source that exists and its metadata.
async fn resolve_source(
    sources: &[String],
    title: &str,
    sum: Sum,
    ctx: &Context<'_>,
) -> Result<(Origin, String, Option<String>), String> {
    // Static catalogs: the metadata is inlined under the resource's title.
    if let Ok(Some(meta)) = ctx.catalog.file_metadata(title) {
        let same_sum = meta
            .checksum
            .as_ref()
            .is_some_and(|c| c.checksum_type == sum.name());
        if same_sum || meta.file_type.as_deref() != Some("file") {
            let uri = meta
                .source
                .clone()
                .or_else(|| sources.first().cloned())
                .unwrap_or_default();
            let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
            let dest = meta.destination.clone();
            return Ok((
                Origin::Remote {
                    uri,
                    meta: Box::new(meta),
                },
                kind,
                dest,
            ));
        }
    }
    for uri in sources {
        if let Some(p) = local_path(uri) {
            let (cur, _) = Current::of(Path::new(&p));
            match cur {
                Current::Absent => continue,
                Current::Directory => return Ok((Origin::Local(p), "directory".into(), None)),
                Current::Link(t) => return Ok((Origin::Local(p), "link".into(), Some(t))),
                _ => return Ok((Origin::Local(p), "file".into(), None)),
            }
        }
        let Some(mount) = mount_path(uri) else {
            return Err(format!(
                "Cannot use URLs of type '{uri}' as source for fileserving"
            ));
        };
        let Some(client) = ctx.client else {
            return Err(format!(
                "Could not retrieve information from environment {} source(s) {uri}: no master to ask",
                ctx.environment
            ));
        };
        let query = MetadataQuery {
            checksum_type: sum.name().into(),
            ..MetadataQuery::default()
        };
        match client.file_metadata(ctx.environment, mount, &query).await {
            Ok(meta) => {
                let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
                let dest = meta.destination.clone();
                return Ok((
                    Origin::Remote {
                        uri: uri.clone(),
                        meta: Box::new(meta),
                    },
                    kind,
                    dest,
                ));
            }
            Err(e) if e.status() == Some(404) => continue,
            Err(e) => {
                return Err(format!("Could not retrieve file metadata for {uri}: {e}"));
            }
        }
    }
    Err(format!(
        "Could not retrieve information from environment {} source(s) {}",
        ctx.environment,
        sources.join(", ")
    ))
}

/// Downloads (or reads) the content and checks it against the expected checksum.
async fn fetch(
    origin: &Origin,
    expected: Option<&str>,
    sum: Sum,
    ctx: &Context<'_>,
) -> Result<Vec<u8>, String> {
    let bytes = match origin {
        Origin::Inline(b) => return Ok(b.clone()),
        Origin::Local(p) => std::fs::read(p).map_err(|e| format!("Could not read {p}: {e}"))?,
        Origin::Remote { uri, meta } => {
            let client = ctx
                .client
                .ok_or_else(|| format!("no master to download {uri} from"))?;
            let code_id = ctx.catalog.code_id_str();
            match (code_id, meta.content_uri.as_deref()) {
                (Some(code_id), Some(content_uri)) => client
                    .static_file_content(ctx.environment, code_id, content_uri)
                    .await
                    .map_err(|e| format!("Could not retrieve content for {uri}: {e}"))?,
                _ => {
                    let mount = mount_path(uri).unwrap_or(uri);
                    client
                        .file_content(ctx.environment, mount)
                        .await
                        .map_err(|e| format!("Could not retrieve content for {uri}: {e}"))?
                }
            }
        }
    };
    if let Some(want) = expected {
        let got = sum.of(&bytes);
        if got != want {
            return Err(format!(
                "File written to disk did not match checksum; discarding changes ({want} vs {got})"
            ));
        }
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file beside it (mode, owner, group set before
/// the rename).
fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let fail = |e: std::io::Error| format!("Could not write {}: {e}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
        .suffix(".puppettmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::fchown(tmp.as_file(), uid.map(Into::into), gid.map(Into::into))
            .map_err(|e| format!("Could not set owner of {}: {e}", path.display()))?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn umask_default(base: u32) -> u32 {
    let mask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(mask);
    base & !mask.bits()
}

/// The mode `spec` asks for, given the current mode (symbolic modes are relative to it); for a
/// directory, search bits go with read bits as Puppet's `dirmask` does.
///
/// ```
/// use puppet_agent::apply::file::desired_mode;
/// assert_eq!(desired_mode("0644", 0o600, false), Ok(0o644));
/// assert_eq!(desired_mode("644", 0o600, true), Ok(0o755));
/// assert_eq!(desired_mode("u=rw,go=r", 0o777, false), Ok(0o644));
/// assert_eq!(desired_mode("a+x", 0o644, false), Ok(0o755));
/// assert_eq!(desired_mode("go-w", 0o666, false), Ok(0o644));
/// assert!(desired_mode("u=q", 0o644, false).is_err());
/// ```
pub fn desired_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    let bad = || format!("The file mode specification is invalid: {spec:?}");
    let mut mode = if !spec.is_empty() && spec.chars().all(|c| c.is_digit(8)) {
        if spec.len() > 4 {
            return Err(bad());
        }
        u32::from_str_radix(spec, 8).map_err(|_| bad())?
    } else {
        let mut mode = current & 0o7777;
        for clause in spec.split(',') {
            let op_at = clause.find(['+', '-', '=']).ok_or_else(bad)?;
            let (who, rest) = clause.split_at(op_at);
            let mut mask = 0u32;
            for c in who.chars() {
                mask |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(bad()),
                };
            }
            if who.is_empty() {
                mask = 0o7777;
            }
            let mut chars = rest.chars();
            let op = chars.next().ok_or_else(bad)?;
            let mut bits = 0u32;
            for c in chars {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        if is_dir || mode & 0o111 != 0 {
                            0o111
                        } else {
                            0
                        }
                    }
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return Err(bad()),
                };
            }
            let bits = bits & mask;
            mode = match op {
                '+' => mode | bits,
                '-' => mode & !bits,
                _ => (mode & !(mask & 0o7777 & !0o1000 | (mask & 0o1000))) | bits,
            };
        }
        mode
    };
    if is_dir {
        if mode & 0o400 != 0 {
            mode |= 0o100;
        }
        if mode & 0o040 != 0 {
            mode |= 0o010;
        }
        if mode & 0o004 != 0 {
            mode |= 0o001;
        }
    }
    Ok(mode)
}

fn user_id(name: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
        .ok_or_else(|| format!("Could not find user {name}"))
}

fn group_id(name: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| format!("Could not find group {name}"))
}

fn user_name(id: u32) -> String {
    nix::unistd::User::from_uid(id.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| id.to_string())
}

fn group_name(id: u32) -> String {
    nix::unistd::Group::from_gid(id.into())
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| id.to_string())
}

fn remove(path: &Path, cur: &Current) -> std::io::Result<()> {
    match cur {
        Current::Directory => std::fs::remove_dir_all(path),
        Current::Absent => Ok(()),
        _ => std::fs::remove_file(path),
    }
}

/// The parameters of one file (the resource, or a generated child of a recursive one).
#[derive(Debug, Clone)]
struct Spec {
    path: String,
    wanted: Option<Wanted>,
    origin: Option<Origin>,
    /// Expected checksum of the content, when known without downloading it.
    checksum: Option<String>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    replace: bool,
    force: bool,
    sum: Sum,
}

/// Brings one path to `spec`; events go to `ctx`.
async fn sync_one(spec: &Spec, ctx: &mut Context<'_>) -> Result<(), String> {
    let path = Path::new(&spec.path);
    let (cur, meta) = Current::of(path);
    let uid = spec.owner.as_deref().map(user_id).transpose()?;
    let gid = spec.group.as_deref().map(group_id).transpose()?;
    let noop = ctx.noop;

    // ensure
    let mut ensure_in_sync = true;
    if let Some(wanted) = &spec.wanted {
        let is = Value::from(cur.name());
        match wanted {
            Wanted::Absent => {
                if cur != Current::Absent {
                    if cur == Current::Directory && !spec.force {
                        ctx.log
                            .notice(&ctx.path, "Not removing directory; use 'force' to override");
                        ctx.change(
                            "ensure",
                            is,
                            "absent".into(),
                            "file_removed",
                            "removed".into(),
                            || Ok(()),
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
                                remove(path, &c)
                                    .map_err(|e| format!("Could not remove {}: {e}", spec.path))
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
                    _ => true,
                };
                if needs {
                    if cur == Current::Directory && !spec.force {
                        ctx.log
                            .notice(&ctx.path, "Not removing directory; use 'force' to override");
                        let err = format!(
                            "Could not set 'file' on ensure: Is a directory - {}",
                            spec.path
                        );
                        ctx.change(
                            "ensure",
                            is,
                            "file".into(),
                            "file_created",
                            String::new(),
                            || Err(err),
                        );
                        return Ok(());
                    }
                    let content = match &spec.origin {
                        Some(o) if !noop => {
                            Some(fetch(o, spec.checksum.as_deref(), spec.sum, ctx).await)
                        }
                        _ => None,
                    };
                    let sum = match (&content, &spec.checksum) {
                        (Some(Ok(b)), _) => Some(spec.sum.of(b)),
                        (_, Some(c)) => Some(c.clone()),
                        _ => match &spec.origin {
                            Some(Origin::Inline(b)) => Some(spec.sum.of(b)),
                            _ => None,
                        },
                    };
                    let message = match (&cur, &sum) {
                        (Current::Absent, Some(s)) => format!("defined content as '{s}'"),
                        (Current::Absent, None) => "created".to_string(),
                        (c, _) => format!("ensure changed '{}' to 'file'", c.name()),
                    };
                    let mode = match &spec.mode {
                        Some(m) => desired_mode(m, 0o644, false)?,
                        None => umask_default(0o666),
                    };
                    let c = cur.clone();
                    ctx.change("ensure", is, "file".into(), "file_created", message, || {
                        let bytes = match content {
                            Some(r) => r?,
                            None => Vec::new(),
                        };
                        if c != Current::Absent {
                            remove(path, &c)
                                .map_err(|e| format!("Could not remove {}: {e}", spec.path))?;
                        }
                        write_file(path, &bytes, mode, uid, gid)
                    });
                    return Ok(());
                }
            }
            Wanted::Directory => {
                if cur != Current::Directory {
                    ensure_in_sync = false;
                    let message = if cur == Current::Absent {
                        "created".to_string()
                    } else {
                        format!("ensure changed '{}' to 'directory'", cur.name())
                    };
                    let mode = match &spec.mode {
                        Some(m) => desired_mode(m, 0o755, true)?,
                        None => umask_default(0o777),
                    };
                    let c = cur.clone();
                    ctx.change(
                        "ensure",
                        is,
                        "directory".into(),
                        "directory_created",
                        message,
                        || {
                            remove(path, &c)
                                .map_err(|e| format!("Could not remove {}: {e}", spec.path))?;
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
                Current::Link(old) => {
                    let msg = format!("target changed '{old}' to '{target}'");
                    let t = target.clone();
                    ctx.change(
                        "target",
                        Value::from(old.clone()),
                        Value::from(target.clone()),
                        "target_changed",
                        msg,
                        || replace_link(path, &t),
                    );
                }
                Current::Directory if !spec.force => {
                    ctx.log
                        .notice(&ctx.path, "Not removing directory; use 'force' to override");
                    let err = format!(
                        "Could not set 'link' on ensure: Is a directory - {}",
                        spec.path
                    );
                    ctx.change(
                        "ensure",
                        is,
                        "link".into(),
                        "link_created",
                        String::new(),
                        || Err(err),
                    );
                    return Ok(());
                }
                other => {
                    ensure_in_sync = false;
                    let message = if *other == Current::Absent {
                        "created".to_string()
                    } else {
                        format!("ensure changed '{}' to 'link'", other.name())
                    };
                    let c = other.clone();
                    let t = target.clone();
                    ctx.change("ensure", is, "link".into(), "link_created", message, || {
                        remove(path, &c)
                            .map_err(|e| format!("Could not remove {}: {e}", spec.path))?;
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

    // content
    if cur == Current::File
        && spec.replace
        && let Some(origin) = &spec.origin
    {
        let want = match (&spec.checksum, origin) {
            (Some(c), _) => Some(c.clone()),
            (None, Origin::Inline(b)) => Some(spec.sum.of(b)),
            _ => None,
        };
        let have = spec
            .sum
            .of_file(path)
            .map_err(|e| format!("Could not read {}: {e}", spec.path))?;
        let (content, want) = match want {
            Some(w) if w == have => (None, w),
            Some(w) => (
                if noop {
                    None
                } else {
                    Some(fetch(origin, spec.checksum.as_deref(), spec.sum, ctx).await)
                },
                w,
            ),
            None => {
                let r = fetch(origin, None, spec.sum, ctx).await;
                let w = match &r {
                    Ok(b) => spec.sum.of(b),
                    Err(_) => String::new(),
                };
                if w == have { (None, w) } else { (Some(r), w) }
            }
        };
        if want != have {
            let mode = meta.mode() & 0o7777;
            let desired = Value::from(base64ct::Base64::encode_string(want.as_bytes()));
            let msg = format!("content changed '{have}' to '{want}'");
            let (ouid, ogid) = (meta.uid(), meta.gid());
            ctx.change_with(
                "content",
                Value::from(have),
                Value::from(want),
                Some(desired),
                "content_changed",
                msg,
                || {
                    let bytes = match content {
                        Some(r) => r?,
                        None => return Err("no content".into()),
                    };
                    write_file(path, &bytes, mode, Some(ouid), Some(ogid))
                },
            );
        }
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
    if let Some(u) = uid
        && meta.uid() != u
    {
        let msg = format!(
            "owner changed '{}' to '{}'",
            user_name(meta.uid()),
            user_name(u)
        );
        ctx.change(
            "owner",
            Value::from(meta.uid()),
            Value::from(u),
            "owner_changed",
            msg,
            || chown(Some(u), None),
        );
    }
    if let Some(g) = gid
        && meta.gid() != g
    {
        let msg = format!(
            "group changed '{}' to '{}'",
            group_name(meta.gid()),
            group_name(g)
        );
        ctx.change(
            "group",
            Value::from(meta.gid()),
            Value::from(g),
            "group_changed",
            msg,
            || chown(None, Some(g)),
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
    let sum = match param_str(resource, "checksum").as_deref() {
        None | Some("sha256") => Sum::Sha256,
        Some("md5") => Sum::Md5,
        Some(other) => {
            return Err(format!(
                "checksum {other} is not supported by this agent (sha256, md5)"
            ));
        }
    };
    let content = param_str(resource, "content");
    let sources = param_list(resource, "source");
    if content.is_some() && !sources.is_empty() {
        return Err("You cannot specify more than one of content, source, target".into());
    }
    let mut target = param_str(resource, "target");
    let mut wanted = match param_str(resource, "ensure").as_deref() {
        None => None,
        Some("absent") => Some(Wanted::Absent),
        Some("file") => Some(Wanted::File),
        Some("present") => Some(Wanted::Present),
        Some("directory") => Some(Wanted::Directory),
        Some("link") => Some(Wanted::Link(String::new())),
        Some(t) if t.starts_with('/') || !t.is_empty() => {
            target = Some(t.to_string());
            Some(Wanted::Link(String::new()))
        }
        Some(other) => return Err(format!("Invalid value \"{other}\" for ensure")),
    };
    let mut origin = content.map(|c| Origin::Inline(c.into_bytes()));
    let mut checksum = None;
    let mut source_kind = None;
    if !sources.is_empty() && wanted != Some(Wanted::Absent) {
        let (o, kind, dest) = resolve_source(&sources, &resource.title, sum, ctx).await?;
        if let Origin::Remote { meta, .. } = &o {
            checksum = meta
                .checksum
                .as_ref()
                .map(|c| c.value.clone())
                .filter(|v| v.starts_with(&format!("{{{}}}", sum.name())));
        }
        if kind == "link" && target.is_none() {
            target = dest;
        }
        source_kind = Some(kind);
        origin = Some(o);
    }
    match (&wanted, source_kind.as_deref()) {
        (None, Some("directory")) | (Some(Wanted::Present), Some("directory")) => {
            wanted = Some(Wanted::Directory)
        }
        (None, Some("link")) => wanted = Some(Wanted::Link(String::new())),
        (None, Some(_)) => wanted = Some(Wanted::File),
        (None, None) if origin.is_some() => wanted = Some(Wanted::File),
        (None, None) if target.is_some() => wanted = Some(Wanted::Link(String::new())),
        _ => {}
    }
    if let Some(Wanted::Link(t)) = &mut wanted {
        *t = target.clone().ok_or("No target specified for the link")?;
    }
    let is_dir = wanted == Some(Wanted::Directory);
    let spec = Spec {
        path: path.clone(),
        wanted: wanted.clone(),
        origin: if is_dir { None } else { origin.clone() },
        checksum,
        mode: param_str(resource, "mode"),
        owner: param_str(resource, "owner"),
        group: param_str(resource, "group"),
        replace: param_bool(resource, "replace").unwrap_or(true),
        force: param_bool(resource, "force").unwrap_or(false),
        sum,
    };
    sync_one(&spec, ctx).await?;

    // Recursion into a source directory.
    let recurse = matches!(
        param_str(resource, "recurse").as_deref(),
        Some("true") | Some("remote")
    );
    if !(recurse && is_dir && !ctx.failed()) {
        return Ok(());
    }
    let Some(origin) = origin else { return Ok(()) };
    let children = list_children(&origin, &resource.title, sum, ctx).await?;
    let prefix = ctx
        .path
        .rsplit_once("/File[")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default();
    for (rel, kind, checksum, child_origin, dest) in children {
        let child_path = format!("{path}/{rel}");
        let wanted = match kind.as_str() {
            "directory" => Wanted::Directory,
            "link" => Wanted::Link(dest.unwrap_or_default()),
            _ => Wanted::File,
        };
        let child = Spec {
            path: child_path.clone(),
            wanted: Some(wanted.clone()),
            origin: if wanted == Wanted::File {
                Some(child_origin)
            } else {
                None
            },
            checksum,
            ..spec.clone()
        };
        let parent_events = std::mem::take(&mut ctx.events);
        let parent_path = std::mem::replace(&mut ctx.path, format!("{prefix}/File[{child_path}]"));
        let result = sync_one(&child, ctx).await;
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
        ctx.generated.push((child_path, events, Some(kind)));
    }
    Ok(())
}

type Child = (String, String, Option<String>, Origin, Option<String>);

/// The files under a recursive source: relative path, type, checksum, origin, link target.
async fn list_children(
    origin: &Origin,
    title: &str,
    sum: Sum,
    ctx: &Context<'_>,
) -> Result<Vec<Child>, String> {
    let mut out = Vec::new();
    match origin {
        Origin::Remote { uri, .. } => {
            let inlined = ctx
                .catalog
                .recursive_file_metadata(title)
                .unwrap_or_default();
            let metas = match inlined.into_iter().find(|(s, _)| s == uri) {
                Some((_, m)) => m,
                None => {
                    let client = ctx.client.ok_or("no master to ask for file metadata")?;
                    let mount = mount_path(uri).unwrap_or(uri);
                    let query = MetadataQuery {
                        recurse: true,
                        checksum_type: sum.name().into(),
                        max_files: Some(0),
                        ..MetadataQuery::default()
                    };
                    client
                        .file_metadatas(ctx.environment, mount, &query)
                        .await
                        .map_err(|e| format!("Could not retrieve file metadata for {uri}: {e}"))?
                }
            };
            for meta in metas {
                let Some(rel) = meta.relative_path.clone() else {
                    continue;
                };
                if rel == "." || rel.is_empty() {
                    continue;
                }
                let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
                let checksum = meta
                    .checksum
                    .as_ref()
                    .map(|c| c.value.clone())
                    .filter(|v| v.starts_with(&format!("{{{}}}", sum.name())));
                let dest = meta.destination.clone();
                let child_uri = format!("{}/{rel}", uri.trim_end_matches('/'));
                out.push((
                    rel,
                    kind,
                    checksum,
                    Origin::Remote {
                        uri: child_uri,
                        meta: Box::new(meta),
                    },
                    dest,
                ));
            }
        }
        Origin::Local(root) => {
            let mut stack = vec![String::new()];
            while let Some(rel_dir) = stack.pop() {
                let dir = if rel_dir.is_empty() {
                    root.clone()
                } else {
                    format!("{root}/{rel_dir}")
                };
                let entries =
                    std::fs::read_dir(&dir).map_err(|e| format!("Could not read {dir}: {e}"))?;
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let rel = if rel_dir.is_empty() {
                        name
                    } else {
                        format!("{rel_dir}/{name}")
                    };
                    let full = format!("{root}/{rel}");
                    let (cur, _) = Current::of(Path::new(&full));
                    match cur {
                        Current::Directory => {
                            stack.push(rel.clone());
                            out.push((rel, "directory".into(), None, Origin::Local(full), None));
                        }
                        Current::Link(t) => {
                            out.push((rel, "link".into(), None, Origin::Local(full), Some(t)))
                        }
                        _ => out.push((rel, "file".into(), None, Origin::Local(full), None)),
                    }
                }
            }
        }
        Origin::Inline(_) => {}
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
