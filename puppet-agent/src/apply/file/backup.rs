//! `backup`: what Puppet does with a file before it replaces or removes it.
//!
//! - `false` (Puppet 7's default): nothing;
//! - a string starting with `.` (`true` means `.puppet-bak`): a copy beside the file with that
//!   suffix (an older copy is removed first, a directory copy is refused);
//! - any other string: the `filebucket` resource of that title (`puppet`, made by the agent
//!   when the catalog has none, is the local `clientbucketdir`): a local bucket in Puppet's
//!   layout (`<bucket>/<d[0]>/.../<d[7]>/<digest>/contents` and `paths`), or with
//!   `path => false` the master's `file_bucket_file` endpoint (`HEAD`, then `PUT` when the
//!   master does not have the contents for this path yet).
//!
//! The log lines are Puppet's: `Computing checksum on file <path>` (local buckets), then
//! `Filebucketed <path> to <bucket> with sum <hex>` on the resource.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use puppet_catalog::{Catalog, ResourceRef};
use serde_json::Value;

use super::checksum::{Sum, sum_data};
use super::{Context, Current};

/// The `backup` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Backup {
    /// `false`.
    Off,
    /// `.suffix` (`true`: `.puppet-bak`).
    Suffix(String),
    /// A filebucket's title.
    Bucket(String),
}

impl Backup {
    /// Munges the parameter as Puppet does.
    pub(super) fn parse(value: Option<&Value>) -> Result<Backup, String> {
        let v = match value {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(Backup::Off),
            Some(Value::Bool(true)) => return Ok(Backup::Suffix(".puppet-bak".into())),
            Some(Value::Array(a)) if !a.is_empty() => return Backup::parse(a.first()),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => return Err(format!("Invalid backup type {other}")),
        };
        Ok(match v {
            "false" => Backup::Off,
            "true" | ".puppet-bak" => Backup::Suffix(".puppet-bak".into()),
            s if s.starts_with('.') => Backup::Suffix(s.into()),
            s => Backup::Bucket(s.into()),
        })
    }
}

/// Where a filebucket keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Store {
    /// A directory on this node.
    Local(PathBuf),
    /// The master's `file_bucket_file` endpoint.
    Remote,
}

/// The filebucket `name` of the catalog (`puppet` when the catalog has none: the local
/// `clientbucketdir`).
pub(super) fn resolve(
    name: &str,
    catalog: &Catalog,
    clientbucketdir: &Path,
) -> Result<Store, String> {
    let r = ResourceRef::new("Filebucket", name);
    let Some(resource) = catalog.resources.iter().find(|x| x.reference() == r) else {
        if name == "puppet" {
            return Ok(Store::Local(clientbucketdir.to_path_buf()));
        }
        return Err(format!(
            "Could not find filebucket {name} specified in backup"
        ));
    };
    match resource.parameter("path") {
        Some(Value::Bool(false)) => Ok(Store::Remote),
        Some(Value::String(s)) if s == "false" => Ok(Store::Remote),
        Some(Value::String(p)) if p.starts_with('/') => Ok(Store::Local(PathBuf::from(p))),
        Some(Value::String(_)) => Err("Filebucket paths must be absolute".into()),
        _ => Ok(Store::Local(clientbucketdir.to_path_buf())),
    }
}

/// Backs up what is at `path` (of type `cur`) before it is replaced or removed, as Puppet's
/// `remove_existing` does; `recurse`: the resource recurses (its directory is not backed up
/// file by file), `force`: a directory may be replaced (and so is backed up). Nothing in noop.
pub(super) async fn before_removing(
    backup: &Backup,
    path: &Path,
    cur: &Current,
    recurse: bool,
    force: bool,
    ctx: &Context<'_>,
) -> Result<(), String> {
    if ctx.noop || *backup == Backup::Off || *cur == Current::Absent {
        return Ok(());
    }
    let can = match cur {
        Current::Directory => force,
        Current::File | Current::Link(_) => true,
        _ => false,
    };
    if !can {
        ctx.log.warning(
            &ctx.path,
            &format!("Could not back up file of type {}", cur.ftype()),
        );
        return Ok(());
    }
    match backup {
        Backup::Off => Ok(()),
        Backup::Suffix(suffix) => backup_local_copy(path, suffix, ctx),
        Backup::Bucket(name) => {
            let store = resolve(name, ctx.catalog, &ctx.file.clientbucketdir)?;
            match cur {
                Current::File => {
                    to_bucket(name, &store, path, ctx).await?;
                }
                Current::Directory if !recurse => {
                    ctx.log
                        .info(&ctx.path, "Recursively backing up to filebucket");
                    let mut files = Vec::new();
                    walk_files(path, &mut files);
                    for f in files {
                        to_bucket(name, &store, &f, ctx).await?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
    }
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if m.is_file() => out.push(p),
                _ => {}
            }
        }
    }
}

/// `backup => '.suffix'`: a copy beside the file (Puppet's `cp_r` with `preserve`).
fn backup_local_copy(path: &Path, suffix: &str, ctx: &Context<'_>) -> Result<(), String> {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    let newfile = PathBuf::from(name);
    if let Ok(m) = std::fs::symlink_metadata(&newfile) {
        if m.is_dir() {
            return Err(format!(
                "Will not remove directory backup {}; use a filebucket",
                newfile.display()
            ));
        }
        let kind = if m.file_type().is_symlink() {
            "link"
        } else {
            "file"
        };
        ctx.log
            .info(&ctx.path, &format!("Removing old backup of type {kind}"));
        std::fs::remove_file(&newfile).map_err(|e| format!("Could not remove old backup: {e}"))?;
    }
    copy_preserving(path, &newfile)
        .map_err(|e| format!("Could not back {} up: {e}", path.display()))
}

fn copy_preserving(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_preserving(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
        let _ = nix::unistd::chown(
            to,
            Some(std::os::unix::fs::MetadataExt::uid(&meta).into()),
            Some(std::os::unix::fs::MetadataExt::gid(&meta).into()),
        );
    }
    std::fs::set_permissions(to, meta.permissions())?;
    let f = std::fs::File::options()
        .write(!meta.is_dir())
        .read(true)
        .open(to)?;
    let times = std::fs::FileTimes::new()
        .set_accessed(meta.accessed()?)
        .set_modified(meta.modified()?);
    let _ = f.set_times(times);
    Ok(())
}

/// Backs one regular file up to the bucket `name`; its digest (hex).
pub(super) async fn to_bucket(
    name: &str,
    store: &Store,
    path: &Path,
    ctx: &Context<'_>,
) -> Result<String, String> {
    let fail = |e: String| format!("Could not back up {}: {e}", path.display());
    let original = std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))?;
    let original = original.to_string_lossy().into_owned();
    let sum = ctx.file.digest;
    let hex = match store {
        Store::Local(dir) => {
            ctx.log.info(
                "Puppet",
                &format!("Computing checksum on file {}", path.display()),
            );
            let full = sum.of_file(path, None).map_err(|e| fail(e.to_string()))?;
            let hex = sum_data(&full).to_string();
            store_local(dir, sum, &hex, path, &original, ctx).map_err(fail)?;
            hex
        }
        Store::Remote => {
            let client = ctx
                .client
                .ok_or_else(|| fail("no master to send the file to".into()))?;
            let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            let full = sum.of(&bytes);
            let hex = sum_data(&full).to_string();
            let held = client
                .file_bucket_head(ctx.environment, sum.name(), &hex, Some(&original))
                .await
                .map_err(|e| fail(e.to_string()))?;
            if !held {
                client
                    .file_bucket_put(ctx.environment, sum.name(), &hex, Some(&original), bytes)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            hex
        }
    };
    ctx.log.info(
        &ctx.path,
        &format!("Filebucketed {} to {name} with sum {hex}", path.display()),
    );
    Ok(hex)
}

/// The directory of `digest` in a local bucket: one directory per each of its first eight
/// characters, then the digest.
///
/// ```
/// # use std::path::Path;
/// let d = puppet_agent::apply::file::bucket_dir(Path::new("/b"), "01d09d19c2139a46");
/// assert_eq!(d, Path::new("/b/0/1/d/0/9/d/1/9/01d09d19c2139a46"));
/// ```
pub fn bucket_dir(bucket: &Path, digest: &str) -> PathBuf {
    let mut d = bucket.to_path_buf();
    for c in digest.chars().take(8) {
        d.push(c.to_string());
    }
    d.push(digest);
    d
}

/// Puppet's local bucket `save`: `contents` (0440, written once; a duplicate is only
/// touched), and the original path appended to `paths` (0640) under an exclusive lock.
fn store_local(
    bucket: &Path,
    sum: Sum,
    hex: &str,
    path: &Path,
    original: &str,
    ctx: &Context<'_>,
) -> Result<(), String> {
    let dir = bucket_dir(bucket, hex);
    let contents = dir.join("contents");
    let paths = dir.join("paths");
    // HEAD: the contents are there and list this path.
    if contents.exists()
        && std::fs::read_to_string(&paths)
            .map(|t| t.lines().any(|l| l == original))
            .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut list = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .open(&paths)
        .map_err(|e| format!("{}: {e}", paths.display()))?;
    let lock = nix::fcntl::Flock::lock(
        list.try_clone().map_err(|e| e.to_string())?,
        nix::fcntl::FlockArg::LockExclusive,
    )
    .map_err(|(_, e)| format!("{}: {e}", paths.display()))?;
    if contents.exists() {
        let same = files_equal(&contents, path).unwrap_or(false);
        let full = format!("{{{}}}{hex}", sum.name());
        if same {
            ctx.log
                .info("Puppet", &format!("FileBucket got a duplicate file {full}"));
            let _ = std::fs::File::options()
                .write(true)
                .open(&contents)
                .and_then(|f| {
                    f.set_times(
                        std::fs::FileTimes::new().set_modified(std::time::SystemTime::now()),
                    )
                });
        } else if sum.of_file(&contents, None).ok().as_deref() == Some(full.as_str()) {
            ctx.log.err(
                "Puppet",
                &format!(
                    "Unable to verify existing FileBucket backup at '{}'.",
                    contents.display()
                ),
            );
            return Err(format!(
                "Existing backup and new file have different content but same checksum, {full}. Verify existing backup and remove if incorrect."
            ));
        } else {
            ctx.log.warning(
                "Puppet",
                &format!(
                    "Existing backup does not match its expected sum, {full}. Overwriting corrupted backup."
                ),
            );
            copy_into(&contents, path)?;
        }
    } else {
        copy_into(&contents, path)?;
    }
    let mut listed = String::new();
    list.rewind().map_err(|e| e.to_string())?;
    list.read_to_string(&mut listed)
        .map_err(|e| e.to_string())?;
    if !listed.lines().any(|l| l == original) {
        list.write_all(format!("{original}\n").as_bytes())
            .map_err(|e| format!("{}: {e}", paths.display()))?;
        list.sync_all().map_err(|e| e.to_string())?;
    }
    drop(lock);
    Ok(())
}

fn files_equal(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

/// Copies `from` to `contents` through a temporary file (mode 0440).
fn copy_into(contents: &Path, from: &Path) -> Result<(), String> {
    let dir = contents.parent().unwrap_or(Path::new("/"));
    let fail = |e: std::io::Error| format!("{}: {e}", contents.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".contents")
        .tempfile_in(dir)
        .map_err(fail)?;
    let mut src = std::fs::File::open(from).map_err(fail)?;
    std::io::copy(&mut src, tmp.as_file_mut()).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o440))
        .map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(contents).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backup_values_munge_as_puppet() {
        use serde_json::json;
        assert_eq!(Backup::parse(None), Ok(Backup::Off));
        assert_eq!(Backup::parse(Some(&json!(false))), Ok(Backup::Off));
        assert_eq!(Backup::parse(Some(&json!("false"))), Ok(Backup::Off));
        assert_eq!(
            Backup::parse(Some(&json!(true))),
            Ok(Backup::Suffix(".puppet-bak".into()))
        );
        assert_eq!(
            Backup::parse(Some(&json!(".bak"))),
            Ok(Backup::Suffix(".bak".into()))
        );
        assert_eq!(
            Backup::parse(Some(&json!("main"))),
            Ok(Backup::Bucket("main".into()))
        );
        assert!(Backup::parse(Some(&json!(3))).is_err());
    }
}
