//! The store: blobs, manifests, materialized versions and live pointers in one directory.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tempfile::NamedTempFile;

use crate::digest::Hasher;
use crate::manifest::{check_environment, check_path};
use crate::statcache::StatCache;
use crate::walk::{StagedKind, Stat, walk};
use crate::{CodeId, Digest, Entry, EntryKind, Error, Manifest, Refusal};

const BLOBS: &str = "blobs";
const TMP: &str = "tmp";
const MANIFESTS: &str = "manifests";
const VERSIONS: &str = "versions";
const ENVIRONMENTS: &str = "environments";
const STATE: &str = "state";
const LOCK: &str = "lock";
const TMP_PREFIX: &str = ".tmp-";
const SPARE_PREFIX: &str = ".spare-";
/// Suffix of the read-only executable (`0o555`) copy of a blob.
const EXEC_SUFFIX: &str = ".x";
const READ_BUF: usize = 256 * 1024;
/// Up to this many files or directories to make durable, each is fsynced; above, one
/// `syncfs(2)` (which also waits for other writers' data on the same file system).
const SMALL_SYNC: usize = 64;
const HISTORY_MAX: usize = 1000;

/// A code store in one directory:
///
/// ```text
/// blobs/ab/cdef…            file contents by SHA-256, read-only (0444; `….x`: 0555 copy)
/// manifests/<env>/<id>.json one manifest per version
/// versions/<env>_<id>/      materialized versions: hard links to blobs, read-only
/// environments/<env>        live pointer: symlink to ../versions/<env>_<id>
///                           (usable as Puppet's environmentpath)
/// state/<env>.statcache     stat cache of the staging tree last published
/// state/<env>.history       when each version went live
/// tmp/                      temporary files, swept by the next writer
/// lock                      flock: one writer at a time
/// ```
///
/// Readers take no lock: a materialized version never changes once its directory exists, and
/// the live pointer changes by one `rename`. Writers (publish, install, retain) hold an
/// exclusive `flock` on `lock`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// What this process remembers between calls (shared by the clones of this `Store`).
    memo: Arc<Memo>,
}

/// Parsed manifests this many at most are remembered.
const MEMO_MANIFESTS: usize = 6;

/// In-memory copies of what the store keeps on disk, so that a small publish or install does
/// not read and parse megabytes again. Only facts that cannot go stale are kept: a manifest
/// never changes once written (its file is still checked to exist before the copy is used,
/// since retention removes it), and a stat cache entry says what a staging file with that
/// exact stat contained, whoever published it.
#[derive(Default)]
struct Memo {
    manifests: Mutex<Vec<(String, CodeId, Arc<Manifest>)>>,
    /// Per environment: the stat cache, and whether it still has to be written to disk.
    stat: Mutex<HashMap<String, (StatCache, bool)>>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

fn lock_memo<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tuning of [`Store::publish_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PublishOptions {
    /// Threads that read the tree's directories and hash files (default: the machine's available parallelism).
    pub threads: usize,
    /// A file whose ctime is this close to (or after) the moment it was hashed is hashed again
    /// at the next publish even if its stat is unchanged, because a write in the same
    /// timestamp tick would not change its stat (Git's "racily clean" problem). Default 1 s,
    /// which covers coarse file system clocks.
    pub racy_window: Duration,
    /// Keep the stat cache of this publish in the `Store`'s memory and write it at the next
    /// [`Store::prepare`] of the environment (off the critical path) or the next publish
    /// without this option, instead of before the publish returns. Default `false`. Losing it
    /// (a crash before) costs the next publish from another process a full read of the tree,
    /// never a wrong digest.
    pub defer_stat_cache: bool,
}

impl PublishOptions {
    /// Sets [`PublishOptions::threads`] (at least 1).
    ///
    /// ```
    /// let opts = puppet_filesync::PublishOptions::default().threads(2).racy_window(std::time::Duration::ZERO);
    /// assert_eq!(opts.threads, 2);
    /// ```
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Sets [`PublishOptions::racy_window`].
    pub fn racy_window(mut self, d: Duration) -> Self {
        self.racy_window = d;
        self
    }

    /// Sets [`PublishOptions::defer_stat_cache`].
    pub fn defer_stat_cache(mut self, defer: bool) -> Self {
        self.defer_stat_cache = defer;
        self
    }
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            racy_window: Duration::from_secs(1),
            defer_stat_cache: false,
        }
    }
}

/// Whether a publish or install changed the live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The environment's live pointer now names this version.
    Published,
    /// This version was already live; nothing changed.
    Unchanged,
}

impl Status {
    /// `published` or `unchanged`, as the issue's publish endpoint spells them.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Published => "published",
            Status::Unchanged => "unchanged",
        }
    }
}

/// Counters of one publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishStats {
    /// Regular files in the tree.
    pub files: u64,
    /// Directories in the tree.
    pub dirs: u64,
    /// Symbolic links in the tree.
    pub links: u64,
    /// Total size of the files.
    pub bytes: u64,
    /// Files that were read and hashed (the others came from the stat cache).
    pub hashed_files: u64,
    /// Bytes read and hashed.
    pub hashed_bytes: u64,
    /// Blobs that were new to the store.
    pub new_blobs: u64,
    /// Where the time went, phase by phase in order (`walk`, `hash`, `sync blobs`, …): for a
    /// benchmark or a log line.
    pub phases: Vec<(&'static str, Duration)>,
}

/// Records the time since the previous mark under a phase name.
struct Clock(std::time::Instant);

impl Clock {
    fn new() -> Clock {
        Clock(std::time::Instant::now())
    }
    fn mark(&mut self, phases: &mut Vec<(&'static str, Duration)>, name: &'static str) {
        let now = std::time::Instant::now();
        phases.push((name, now - self.0));
        self.0 = now;
    }
}

/// The outcome of [`Store::publish`] or [`Store::install`].
#[derive(Debug, Clone)]
pub struct Published {
    /// The environment.
    pub environment: String,
    /// The live version's code_id.
    pub code_id: CodeId,
    /// Whether it changed.
    pub status: Status,
    /// What it took.
    pub stats: PublishStats,
}

/// A materialized version: a whole, immutable tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The environment.
    pub environment: String,
    /// The version.
    pub code_id: CodeId,
    /// Its directory (`<store>/versions/<env>_<code_id>`), to read files from.
    pub path: PathBuf,
}

/// Which old versions [`Store::retain`] keeps.
///
/// A version is removed only when it is not live, not among the `keep` most recently
/// published versions of its environment, and was superseded more than `min_age` ago (so an
/// agent that got a catalog for it just before the publish can still fetch its files).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Retention {
    /// Versions kept per environment regardless of age (the live one included). Default 5.
    pub keep: usize,
    /// How long a superseded version is kept. Default one hour.
    pub min_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep: 5,
            min_age: Duration::from_secs(3600),
        }
    }
}

impl Retention {
    /// A policy with both limits.
    pub fn new(keep: usize, min_age: Duration) -> Retention {
        Retention { keep, min_age }
    }
}

/// What [`Store::retain`] removed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Retained {
    /// Removed versions (environment, code_id).
    pub removed_versions: Vec<(String, CodeId)>,
    /// Number of blob files removed (no longer referenced by any version).
    pub removed_blobs: u64,
}

struct Hashed {
    idx: usize,
    digest: Digest,
    size: u64,
    stat: Stat,
    started: SystemTime,
    written: Written,
}

/// Where [`hash_one`] copied a staging file.
enum Written {
    /// A temporary file in `tmp/` (removed when dropped), renamed to its blob name later.
    Temp(tempfile::TempPath),
    /// Its place in the version being built (a cold publish: [`Build`]); its blob name
    /// becomes a hard link to it, so the content is written once and named twice, without
    /// a rename.
    Placed(PathBuf),
}

impl Written {
    fn path(&self) -> &Path {
        match self {
            Written::Temp(t) => t,
            Written::Placed(p) => p,
        }
    }
}

/// A version being built from scratch (a publish with no spare copy to change): a temporary
/// directory beside the versions, holding the tree's directories from the start, so that
/// the hashing threads write new contents straight to their place in it.
struct Build {
    dir: tempfile::TempDir,
}

fn ns_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))
}

/// Makes every directory under `path` writable again, then removes the tree.
fn remove_tree(path: &Path) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    if meta.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(d) = stack.pop() {
            set_mode(&d, 0o755)?;
            for item in fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
                let item = item.map_err(|e| Error::io(&d, e))?;
                if item
                    .file_type()
                    .map_err(|e| Error::io(item.path(), e))?
                    .is_dir()
                {
                    stack.push(item.path());
                }
            }
        }
        fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
    } else {
        fs::remove_file(path).map_err(|e| Error::io(path, e))
    }
}

fn fsync_dir(path: &Path) -> Result<(), Error> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(path, e))
}

impl Store {
    /// Opens the store in `dir`, creating its layout if needed.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = puppet_filesync::Store::open(dir.path().join("store"))?;
    /// assert!(store.live("production")?.is_none());
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, Error> {
        let root = dir.into();
        for sub in [TMP, MANIFESTS, VERSIONS, ENVIRONMENTS, STATE] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        let blobs = root.join(BLOBS);
        if !blobs.join("ff").is_dir() {
            for i in 0..256 {
                let p = blobs.join(format!("{i:02x}"));
                fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        Ok(Store {
            root,
            memo: Arc::default(),
        })
    }

    /// Opens an existing store without creating anything (for readers such as Puppetserver's
    /// hook, which may not be allowed to write).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(puppet_filesync::Store::open_existing(dir.path()).is_err());
    /// puppet_filesync::Store::open(dir.path())?;
    /// assert!(puppet_filesync::Store::open_existing(dir.path()).is_ok());
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn open_existing(dir: impl Into<PathBuf>) -> Result<Store, Error> {
        let root = dir.into();
        if !root.join(VERSIONS).is_dir() || !root.join(ENVIRONMENTS).is_dir() {
            return Err(Error::io(
                &root,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no puppet-filesync store here",
                ),
            ));
        }
        Ok(Store {
            root,
            memo: Arc::default(),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory to use as Puppet's `environmentpath`: one symlink per environment to its
    /// live version.
    pub fn environments_dir(&self) -> PathBuf {
        self.root.join(ENVIRONMENTS)
    }

    fn lock(&self, exclusive: bool) -> Result<File, Error> {
        let path = self.root.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if exclusive {
            fs4::fs_std::FileExt::lock_exclusive(&file)
        } else {
            fs4::fs_std::FileExt::lock_shared(&file)
        }
        .map_err(|e| Error::io(&path, e))?;
        Ok(file)
    }

    /// Removes what an interrupted writer left: temporary files, half-built versions,
    /// temporary symlinks. Called with the exclusive lock held.
    fn sweep(&self) -> Result<(), Error> {
        let tmp = self.root.join(TMP);
        for item in fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
            let item = item.map_err(|e| Error::io(&tmp, e))?;
            remove_tree(&item.path())?;
        }
        for sub in [VERSIONS, ENVIRONMENTS] {
            let dir = self.root.join(sub);
            for item in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let item = item.map_err(|e| Error::io(&dir, e))?;
                let name = item.file_name().to_string_lossy().into_owned();
                if name.starts_with(TMP_PREFIX) {
                    remove_tree(&item.path())?;
                } else if let Some(rest) = name.strip_prefix(SPARE_PREFIX) {
                    // A spare is only good while the version it copies is live.
                    let current = rest.rsplit_once('_').is_some_and(|(env, id)| {
                        self.live(env)
                            .ok()
                            .flatten()
                            .is_some_and(|v| v.code_id.as_str() == id)
                    });
                    if !current {
                        remove_tree(&item.path())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the stat cache a deferred publish left in memory. With the lock held.
    fn save_stat_cache(&self, env: &str) -> Result<(), Error> {
        let mut memo = lock_memo(&self.memo.stat);
        if let Some((cache, unsaved)) = memo.get_mut(env)
            && *unsaved
        {
            let path = self.root.join(STATE).join(format!("{env}.statcache"));
            cache.save(&path, &self.root.join(TMP))?;
            *unsaved = false;
        }
        Ok(())
    }

    fn spare_dir(&self, env: &str, code_id: &CodeId) -> PathBuf {
        self.root
            .join(VERSIONS)
            .join(format!("{SPARE_PREFIX}{env}_{code_id}"))
    }

    /// Prepares the next publish of `env`: builds a spare copy of the live version (hard links,
    /// as a version), so that the next publish applies only the differences to it (a few
    /// operations for a one-file change) instead of linking every file of the tree. Meant to
    /// run off the critical path, e.g. in the background after each publish; the next writer
    /// removes a spare whose version is no longer live. Returns whether a spare was built
    /// (`false`: none needed, or no live version).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// # std::fs::write(staging.path().join("site.pp"), "1").unwrap();
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// store.publish("production", staging.path())?;
    /// assert!(store.prepare("production")?);
    /// std::fs::write(staging.path().join("site.pp"), "2").unwrap();
    /// let v2 = store.publish("production", staging.path())?.code_id; // uses the spare
    /// store.verify("production", &v2)?;
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn prepare(&self, env: &str) -> Result<bool, Error> {
        check_environment(env)?;
        let _lock = self.lock(true)?;
        self.sweep()?;
        self.save_stat_cache(env)?;
        let Some(live) = self.live(env)? else {
            return Ok(false);
        };
        let spare = self.spare_dir(env, &live.code_id);
        if spare.is_dir() {
            return Ok(false);
        }
        let manifest =
            self.manifest_cached(env, &live.code_id)?
                .ok_or_else(|| Error::UnknownVersion {
                    environment: env.to_owned(),
                    code_id: live.code_id.to_string(),
                })?;
        self.materialize(&manifest, &spare)?;
        // Durable now, so that the publish that consumes it only has to sync what it changes.
        self.sync()?;
        Ok(true)
    }

    /// Turns the spare copy of `old` into `manifest`'s version at `vdir`: moved aside under a
    /// temporary name (swept if this is interrupted), changed entries removed and added, parents
    /// made writable for the while, then renamed into place. Returns the directories whose
    /// entries changed.
    fn apply_spare(
        &self,
        spare: &Path,
        old: &Manifest,
        manifest: &Manifest,
        vdir: &Path,
    ) -> Result<Vec<PathBuf>, Error> {
        let versions = self.root.join(VERSIONS);
        let work = versions.join(format!(
            "{TMP_PREFIX}spare-{}-{}",
            std::process::id(),
            ns_since_epoch(SystemTime::now())
        ));
        fs::rename(spare, &work).map_err(|e| Error::io(spare, e))?;
        let removed: Vec<&Entry> = old
            .entries()
            .iter()
            .filter(|e| manifest.get(&e.path) != Some(*e))
            .collect();
        let added: Vec<&Entry> = manifest
            .entries()
            .iter()
            .filter(|e| old.get(&e.path) != Some(*e))
            .collect();
        let parent = |p: &str| {
            p.rsplit_once('/')
                .map_or(String::new(), |(d, _)| d.to_owned())
        };
        let mut touched: Vec<String> = removed
            .iter()
            .chain(added.iter())
            .map(|e| parent(&e.path))
            .collect();
        touched.sort();
        touched.dedup();
        let at = |p: &str| {
            if p.is_empty() {
                work.clone()
            } else {
                work.join(p)
            }
        };
        for d in &touched {
            let p = at(d);
            if p.is_dir() {
                set_mode(&p, 0o755)?;
            }
        }
        for e in removed.iter().rev() {
            let p = work.join(&e.path);
            let r = if e.kind == EntryKind::Dir {
                fs::remove_dir(&p)
            } else {
                fs::remove_file(&p)
            };
            r.map_err(|err| Error::io(&p, err))?;
        }
        let mut read_only: Vec<PathBuf> = Vec::new();
        for e in &added {
            let dest = work.join(&e.path);
            match &e.kind {
                EntryKind::Dir => {
                    fs::create_dir(&dest).map_err(|err| Error::io(&dest, err))?;
                    read_only.push(dest);
                }
                EntryKind::Link { target } => std::os::unix::fs::symlink(target, &dest)
                    .map_err(|err| Error::io(&dest, err))?,
                EntryKind::File { sha256, .. } => self.place(sha256, e, &dest)?,
            }
        }
        for d in &touched {
            let p = at(d);
            if p.is_dir() {
                read_only.push(p);
            }
        }
        read_only.sort();
        read_only.dedup();
        for p in read_only.iter().rev() {
            set_mode(p, 0o555)?;
        }
        fs::rename(&work, vdir).map_err(|e| Error::io(vdir, e))?;
        // The directories whose entries changed, under their final path.
        Ok(read_only
            .iter()
            .map(|p| vdir.join(p.strip_prefix(&work).unwrap_or(Path::new(""))))
            .collect())
    }

    /// Makes everything written so far durable: one `syncfs(2)` of the store's file system
    /// instead of an `fsync` per file.
    fn sync(&self) -> Result<(), Error> {
        let f = File::open(&self.root).map_err(|e| Error::io(&self.root, e))?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        rustix::fs::syncfs(&f).map_err(|e| Error::io(&self.root, e.into()))?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            rustix::fs::sync();
            f.sync_all().map_err(|e| Error::io(&self.root, e))?;
        }
        Ok(())
    }

    fn blob_file(&self, digest: &Digest, executable: bool) -> PathBuf {
        let hex = digest.to_string();
        let mut p = self.root.join(BLOBS);
        p.push(&hex[..2]);
        if executable {
            p.push(format!("{}{EXEC_SUFFIX}", &hex[2..]));
        } else {
            p.push(&hex[2..]);
        }
        p
    }

    /// Whether the blob is in the store.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_file(digest, false).is_file()
    }

    /// Where the blob is, if it is in the store. Its content is not checked here: read it with
    /// [`Store::read_blob`] to serve it.
    pub fn blob_path(&self, digest: &Digest) -> Option<PathBuf> {
        let p = self.blob_file(digest, false);
        p.is_file().then_some(p)
    }

    /// Reads a blob and checks its digest; a blob that does not match is never returned.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        let p = self.blob_file(digest, false);
        let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", p.display()),
                expected: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Stores a blob read from `content` (for a replica that fetched it), if its SHA-256 is
    /// `expected`; otherwise nothing is stored and [`Error::DigestMismatch`] is returned.
    /// Returns whether the blob was new. The blob is durable when this returns.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// let d = puppet_filesync::Digest::of(b"abc");
    /// assert!(store.put_blob(&d, &b"abd"[..]).is_err());
    /// assert!(store.put_blob(&d, &b"abc"[..])?);
    /// assert_eq!(store.read_blob(&d)?, b"abc");
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn put_blob(&self, expected: &Digest, mut content: impl Read) -> Result<bool, Error> {
        let _lock = self.lock(false)?;
        let tmp_dir = self.root.join(TMP);
        let mut tmp = NamedTempFile::new_in(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        let mut h = Hasher::default();
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("blob {expected}"), e)),
            };
            h.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| Error::io(tmp.path(), e))?;
        }
        let actual = h.finish();
        if actual != *expected {
            return Err(Error::DigestMismatch {
                what: format!("blob {expected}"),
                expected: *expected,
                actual,
            });
        }
        let dest = self.blob_file(expected, false);
        if dest.is_file() {
            return Ok(false);
        }
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o444))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| Error::io(tmp.path(), e))?;
        match tmp.persist_noclobber(&dest) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(&dest, e.error)),
        }
    }

    /// The digests a manifest needs that are not in the store, each once (one `stat` per
    /// blob; see [`Store::missing_blobs_for`] for a new version of an environment).
    pub fn missing_blobs(&self, manifest: &Manifest) -> Vec<Digest> {
        let mut seen = HashSet::new();
        manifest
            .digests()
            .filter(|d| seen.insert(**d) && !self.has_blob(d))
            .copied()
            .collect()
    }

    /// As [`Store::missing_blobs`], for a manifest meant to become `env`'s next version: the
    /// blobs of `env`'s live version are known to be present (retention keeps every blob of a
    /// kept version, and the live one is always kept), so only the digests the live version
    /// does not use are looked up: a one-file change costs one `stat`, not one per file.
    ///
    /// ```
    /// # let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    /// # std::fs::write(dirs[1].path().join("a"), "1").unwrap();
    /// use puppet_filesync::{Digest, Manifest, Store};
    /// let store = Store::open(dirs[0].path())?;
    /// store.publish("production", dirs[1].path())?;
    /// std::fs::write(dirs[1].path().join("b"), "2").unwrap();
    /// let other = Store::open(dirs[2].path())?;
    /// let v2 = other.publish("production", dirs[1].path())?.code_id;
    /// let m2 = Manifest::parse(&other.manifest_bytes("production", &v2)?.unwrap())?;
    /// assert_eq!(store.missing_blobs_for("production", &m2)?, [Digest::of(b"2")]);
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn missing_blobs_for(&self, env: &str, manifest: &Manifest) -> Result<Vec<Digest>, Error> {
        let Some(live) = self.live_manifest(env)? else {
            return Ok(self.missing_blobs(manifest));
        };
        let mut seen: HashSet<&Digest> = live.digests().collect();
        Ok(manifest
            .digests()
            .filter(|d| seen.insert(*d) && !self.has_blob(d))
            .copied()
            .collect())
    }

    fn version_dir(&self, env: &str, code_id: &CodeId) -> PathBuf {
        self.root.join(VERSIONS).join(format!("{env}_{code_id}"))
    }

    fn manifest_file(&self, env: &str, code_id: &CodeId) -> PathBuf {
        self.root
            .join(MANIFESTS)
            .join(env)
            .join(format!("{code_id}.json"))
    }

    /// The live version of an environment: one `readlink`, no lock.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// # std::fs::write(staging.path().join("environment.conf"), "").unwrap();
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// let published = store.publish("production", staging.path())?;
    /// let live = store.live("production")?.unwrap();
    /// assert_eq!(live.code_id, published.code_id);
    /// assert!(live.path.join("environment.conf").is_file());
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn live(&self, env: &str) -> Result<Option<Version>, Error> {
        check_environment(env)?;
        let link = self.root.join(ENVIRONMENTS).join(env);
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&link, e)),
        };
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let code_id = name
            .strip_prefix(env)
            .and_then(|r| r.strip_prefix('_'))
            .and_then(|c| CodeId::parse(c).ok())
            .ok_or_else(|| {
                Error::io(
                    &link,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("live pointer names {target:?}, not a version of {env}"),
                    ),
                )
            })?;
        Ok(Some(Version {
            environment: env.to_owned(),
            path: self.root.join(VERSIONS).join(name),
            code_id,
        }))
    }

    /// A materialized version, if the store holds it.
    pub fn version(&self, env: &str, code_id: &CodeId) -> Result<Option<Version>, Error> {
        check_environment(env)?;
        let path = self.version_dir(env, code_id);
        Ok(path.is_dir().then(|| Version {
            environment: env.to_owned(),
            code_id: code_id.clone(),
            path,
        }))
    }

    /// The environments with a live version, sorted.
    pub fn environments(&self) -> Result<Vec<String>, Error> {
        let dir = self.root.join(ENVIRONMENTS);
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let item = item.map_err(|e| Error::io(&dir, e))?;
            if let Some(name) = item.file_name().to_str()
                && check_environment(name).is_ok()
            {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The materialized versions of an environment on disk (live and retained), sorted by
    /// code_id.
    pub fn versions(&self, env: &str) -> Result<Vec<CodeId>, Error> {
        check_environment(env)?;
        let dir = self.root.join(VERSIONS);
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let item = item.map_err(|e| Error::io(&dir, e))?;
            if let Some(c) = item
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(env))
                .and_then(|r| r.strip_prefix('_'))
                .and_then(|c| CodeId::parse(c).ok())
            {
                out.push(c);
            }
        }
        out.sort();
        Ok(out)
    }

    /// A version's manifest in its serialized form (what a replica fetches), checked to hash
    /// to `code_id`.
    pub fn manifest_bytes(&self, env: &str, code_id: &CodeId) -> Result<Option<Vec<u8>>, Error> {
        check_environment(env)?;
        let p = self.manifest_file(env, code_id);
        let bytes = match fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&p, e)),
        };
        let actual = Digest::of(&bytes);
        if actual.to_string() != code_id.as_str() {
            return Err(Error::CodeIdMismatch {
                expected: code_id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(bytes))
    }

    /// A version's manifest.
    pub fn manifest(&self, env: &str, code_id: &CodeId) -> Result<Option<Manifest>, Error> {
        // Every manifest in the store was checked canonical before it was written (made by
        // `to_bytes`, or parsed by `install`), and these bytes hash to their code_id.
        self.manifest_bytes(env, code_id)?
            .map(|b| Manifest::parse_stored(&b))
            .transpose()
    }

    /// A version's manifest, from memory when this process read or wrote it recently (its
    /// file is still checked to exist: one `stat`).
    fn manifest_cached(&self, env: &str, code_id: &CodeId) -> Result<Option<Arc<Manifest>>, Error> {
        if !self.manifest_file(env, code_id).is_file() {
            return Ok(None);
        }
        {
            let mut memo = lock_memo(&self.memo.manifests);
            if let Some(i) = memo.iter().position(|(e, c, _)| e == env && c == code_id) {
                let hit = memo.remove(i);
                let m = hit.2.clone();
                memo.push(hit);
                return Ok(Some(m));
            }
        }
        let Some(m) = self.manifest(env, code_id)? else {
            return Ok(None);
        };
        let m = Arc::new(m);
        self.remember_manifest(env, code_id, m.clone());
        Ok(Some(m))
    }

    fn remember_manifest(&self, env: &str, code_id: &CodeId, m: Arc<Manifest>) {
        let mut memo = lock_memo(&self.memo.manifests);
        memo.retain(|(e, c, _)| !(e == env && c == code_id));
        if memo.len() >= MEMO_MANIFESTS {
            memo.remove(0);
        }
        memo.push((env.to_owned(), code_id.clone(), m));
    }

    /// The live version's manifest of `env`, if any.
    fn live_manifest(&self, env: &str) -> Result<Option<Arc<Manifest>>, Error> {
        match self.live(env)? {
            Some(v) => self.manifest_cached(env, &v.code_id),
            None => Ok(None),
        }
    }

    /// The content of `path` (relative to the environment, links inside the tree followed) in
    /// one version, checked against the manifest's digest: what Puppetserver's
    /// `code-content-command` prints.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// std::fs::create_dir_all(staging.path().join("modules/m/files")).unwrap();
    /// std::fs::write(staging.path().join("modules/m/files/motd"), "hello\n").unwrap();
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// let v1 = store.publish("production", staging.path())?.code_id;
    /// std::fs::write(staging.path().join("modules/m/files/motd"), "bye\n").unwrap();
    /// let v2 = store.publish("production", staging.path())?.code_id;
    /// assert_eq!(store.content("production", &v1, "modules/m/files/motd")?, b"hello\n");
    /// assert_eq!(store.content("production", &v2, "modules/m/files/motd")?, b"bye\n");
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn content(&self, env: &str, code_id: &CodeId, path: &str) -> Result<Vec<u8>, Error> {
        check_environment(env)?;
        check_path(path)?;
        let manifest = self
            .manifest(env, code_id)?
            .ok_or_else(|| Error::UnknownVersion {
                environment: env.to_owned(),
                code_id: code_id.to_string(),
            })?;
        let not_a_file = || Error::NotAFile {
            environment: env.to_owned(),
            code_id: code_id.to_string(),
            path: path.to_owned(),
        };
        match manifest.resolve(path) {
            Some(Entry {
                kind: EntryKind::File { sha256, .. },
                ..
            }) => self.read_blob(sha256),
            _ => Err(not_a_file()),
        }
    }

    /// Publishes every environment of a staging codedir (`<codedir>/environments/<env>/`), in
    /// name order, or only `only`. Stops at the first refusal (environments before it stay
    /// published).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// for env in ["production", "testing"] {
    ///     std::fs::create_dir_all(staging.path().join("environments").join(env).join("manifests")).unwrap();
    /// }
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// let all = store.publish_codedir(staging.path(), None)?;
    /// assert_eq!(all.iter().map(|p| p.environment.as_str()).collect::<Vec<_>>(), ["production", "testing"]);
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn publish_codedir(
        &self,
        codedir: &Path,
        only: Option<&str>,
    ) -> Result<Vec<Published>, Error> {
        self.publish_codedir_with(codedir, only, &PublishOptions::default())
    }

    /// [`Store::publish_codedir`] with options (see [`Store::publish_with`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir_all(staging.path().join("environments/production")).unwrap();
    /// use puppet_filesync::{PublishOptions, Store};
    /// let store = Store::open(dir.path())?;
    /// let opts = PublishOptions::default().defer_stat_cache(true);
    /// store.publish_codedir_with(staging.path(), Some("production"), &opts)?;
    /// store.prepare("production")?; // writes the stat cache, builds the spare
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn publish_codedir_with(
        &self,
        codedir: &Path,
        only: Option<&str>,
        opts: &PublishOptions,
    ) -> Result<Vec<Published>, Error> {
        let envs_dir = codedir.join("environments");
        let names = match only {
            Some(e) => vec![e.to_owned()],
            None => {
                let mut v = Vec::new();
                for item in fs::read_dir(&envs_dir).map_err(|e| Error::io(&envs_dir, e))? {
                    let item = item.map_err(|e| Error::io(&envs_dir, e))?;
                    if item.path().is_dir() {
                        v.push(item.file_name().to_string_lossy().into_owned());
                    }
                }
                v.sort();
                v
            }
        };
        names
            .iter()
            .map(|env| self.publish_with(env, &envs_dir.join(env), opts))
            .collect()
    }

    /// Publishes a staging directory as the new live version of `env`, with default options.
    /// See [`Store::publish_with`].
    pub fn publish(&self, env: &str, staging: &Path) -> Result<Published, Error> {
        self.publish_with(env, staging, &PublishOptions::default())
    }

    /// Publishes a staging directory (laid out as an environment: `manifests/`, `modules/`,
    /// …) as the new live version of `env`.
    ///
    /// Only files whose stat changed since the last publish from the same tree are read
    /// (in parallel); new contents become blobs; the manifest is written; the version is
    /// materialized as `versions/<env>_<code_id>/` (hard links to the blobs, read-only); the
    /// store is synced; then the live pointer is swapped with one `rename`. A crash at any
    /// point leaves the previous version live and intact, and the next writer sweeps what was
    /// left behind. A tree that cannot be published (symlink out of the tree, FIFO, unreadable
    /// or non-UTF-8 name…) is refused with [`Error::Refused`] naming the path, and nothing is
    /// published.
    pub fn publish_with(
        &self,
        env: &str,
        staging: &Path,
        opts: &PublishOptions,
    ) -> Result<Published, Error> {
        check_environment(env)?;
        let mut clock = Clock::new();
        let mut phases = Vec::new();
        let _lock = self.lock(true)?;
        self.sweep()?;
        clock.mark(&mut phases, "lock, sweep");
        let staged = walk(staging, opts.threads)?;
        clock.mark(&mut phases, "walk");
        let state = self.root.join(STATE);
        let cache_path = state.join(format!("{env}.statcache"));
        let remembered = lock_memo(&self.memo.stat).remove(env);
        let cache = match remembered {
            Some((c, _)) => c,
            None => StatCache::load(&cache_path),
        };
        // When the version made from the cached tree is still here, every digest in the
        // cache has its blob (retention keeps a version's blobs).
        let cache_blobs_present = cache
            .code_id
            .as_deref()
            .and_then(|c| CodeId::parse(c).ok())
            .is_some_and(|c| self.version_dir(env, &c).is_dir());
        let mut new_cache = StatCache::default();
        let mut stats = PublishStats::default();
        let mut entries = Vec::with_capacity(staged.len());
        let mut jobs: Vec<(usize, Stat)> = Vec::new();
        for s in staged {
            match s.kind {
                StagedKind::Dir => {
                    stats.dirs += 1;
                    entries.push(Entry::dir(s.path));
                }
                StagedKind::Link { target } => {
                    stats.links += 1;
                    entries.push(Entry::link(s.path, target));
                }
                StagedKind::File { stat, executable } => {
                    stats.files += 1;
                    match cache.entries.get(&s.path) {
                        Some((cached, digest))
                            if *cached == stat
                                && (cache_blobs_present || self.has_blob(digest)) =>
                        {
                            stats.bytes += stat.size;
                            new_cache.entries.insert(s.path.clone(), (stat, *digest));
                            entries.push(Entry::file(s.path, stat.size, *digest, executable));
                        }
                        _ => {
                            jobs.push((entries.len(), stat));
                            entries.push(Entry::file(
                                s.path,
                                0,
                                Digest::from_bytes([0; 32]),
                                executable,
                            ));
                        }
                    }
                }
            }
        }
        clock.mark(&mut phases, "stat cache");
        // Without a spare copy of the live version to change (a first publish, or the
        // spare not prepared yet), the new version is built from scratch: new contents are
        // written straight into it.
        let spare_usable = self
            .live(env)?
            .is_some_and(|v| self.spare_dir(env, &v.code_id).is_dir());
        let build = if !jobs.is_empty() && !spare_usable {
            Some(self.start_build(&entries)?)
        } else {
            None
        };
        clock.mark(&mut phases, "directories");
        let hashed = self.hash_files(staging, &entries, &jobs, opts.threads, build.as_ref())?;
        clock.mark(&mut phases, "hash, copy");
        let racy = i64::try_from(opts.racy_window.as_nanos()).unwrap_or(i64::MAX);
        let mut pending: HashMap<Digest, Written> = HashMap::new();
        for h in hashed {
            let e = &mut entries[h.idx];
            e.kind = EntryKind::File {
                size: h.size,
                sha256: h.digest,
            };
            stats.hashed_files += 1;
            stats.hashed_bytes += h.size;
            stats.bytes += h.size;
            if h.stat.ctime_ns < ns_since_epoch(h.started).saturating_sub(racy)
                && h.stat.size == h.size
            {
                new_cache.entries.insert(e.path.clone(), (h.stat, h.digest));
            }
            if !pending.contains_key(&h.digest) && !self.has_blob(&h.digest) {
                pending.insert(h.digest, h.written);
            } else if let Written::Placed(p) = h.written {
                // Content the store has (or another file of this tree): the version gets a
                // link to that blob instead, one inode per content.
                fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        stats.new_blobs = pending.len() as u64;
        let manifest = Manifest::new(entries)?;
        let bytes = manifest.to_bytes();
        let code_id = CodeId::from_digest(Digest::of(&bytes));
        new_cache.code_id = Some(code_id.to_string());
        clock.mark(&mut phases, "manifest");
        let status = self.commit(
            env,
            &manifest,
            &bytes,
            &code_id,
            (pending, build),
            (&mut clock, &mut phases),
        )?;
        self.remember_manifest(env, &code_id, Arc::new(manifest));
        if !opts.defer_stat_cache {
            new_cache.save(&cache_path, &self.root.join(TMP))?;
        }
        lock_memo(&self.memo.stat).insert(env.to_owned(), (new_cache, opts.defer_stat_cache));
        clock.mark(&mut phases, "save stat cache");
        stats.phases = phases;
        Ok(Published {
            environment: env.to_owned(),
            code_id,
            status,
            stats,
        })
    }

    /// Reads, hashes and copies the files `jobs` names, on `threads` threads: into their place
    /// in `build` when there is one (executable files aside: they need a `0o555` blob of their
    /// own), otherwise into temporary blob files.
    fn hash_files(
        &self,
        staging: &Path,
        entries: &[Entry],
        jobs: &[(usize, Stat)],
        threads: usize,
        build: Option<&Build>,
    ) -> Result<Vec<Hashed>, Error> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let tmp_dir = self.root.join(TMP);
        let threads = threads.clamp(1, jobs.len().max(1));
        let results: Vec<Vec<Hashed>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut buf = vec![0u8; READ_BUF];
                        let mut out = Vec::new();
                        while !failed.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(idx, _)) = jobs.get(i) else { break };
                            let rel = &entries[idx].path;
                            let place = build
                                .filter(|_| !entries[idx].executable())
                                .map(|b| b.dir.path().join(rel));
                            match hash_one(&staging.join(rel), rel, &tmp_dir, place, &mut buf) {
                                Ok((digest, size, stat, started, written)) => out.push(Hashed {
                                    idx,
                                    digest,
                                    size,
                                    stat,
                                    started,
                                    written,
                                }),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    if let Ok(mut slot) = first_error.lock() {
                                        slot.get_or_insert(e);
                                    }
                                    break;
                                }
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        let all: Vec<Hashed> = results.into_iter().flatten().collect();
        if all.len() != jobs.len() {
            return Err(Error::io(
                staging,
                std::io::Error::other("a hashing thread stopped early"),
            ));
        }
        Ok(all)
    }

    /// A new version's temporary directory beside the versions (swept if this is
    /// interrupted), with every directory of `entries` made.
    fn start_build(&self, entries: &[Entry]) -> Result<Build, Error> {
        let versions = self.root.join(VERSIONS);
        let dir = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(&versions)
            .map_err(|e| Error::io(&versions, e))?;
        let mut dirs: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .map(|e| e.path.as_str())
            .collect();
        // A parent sorts before what it holds.
        dirs.sort_unstable();
        for d in dirs {
            let p = dir.path().join(d);
            fs::create_dir(&p).map_err(|e| Error::io(&p, e))?;
        }
        Ok(Build { dir })
    }

    /// Makes `manifest` the live version of `env`: blobs in `pending` (temporary files, or
    /// files already in their place in `build`) and the manifest are made durable and named,
    /// the version is materialized (`build` completed, or the spare changed, or made from
    /// the blobs), the store synced, the pointer swapped.
    fn commit(
        &self,
        env: &str,
        manifest: &Manifest,
        bytes: &[u8],
        code_id: &CodeId,
        (pending, build): (HashMap<Digest, Written>, Option<Build>),
        (clock, phases): (&mut Clock, &mut Vec<(&'static str, Duration)>),
    ) -> Result<Status, Error> {
        let code_id = code_id.clone();
        let previous = self.live(env)?;
        if previous.as_ref().is_some_and(|v| v.code_id == code_id) {
            return Ok(Status::Unchanged);
        }
        let vdir = self.version_dir(env, &code_id);
        let mfile = self.manifest_file(env, &code_id);
        if !vdir.is_dir() || !mfile.is_file() {
            let tmp_dir = self.root.join(TMP);
            let new_tmp = || NamedTempFile::new_in(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e));
            // Executable files need a 0555 inode of their own.
            let mut variants: Vec<(PathBuf, NamedTempFile)> = Vec::new();
            let mut seen = HashSet::new();
            for e in manifest.entries() {
                if let EntryKind::File { sha256, .. } = &e.kind
                    && e.executable()
                    && seen.insert(*sha256)
                {
                    let dest = self.blob_file(sha256, true);
                    if !dest.is_file() {
                        let src = match pending.get(sha256) {
                            Some(w) => w.path().to_path_buf(),
                            None => self.blob_file(sha256, false),
                        };
                        let t = new_tmp()?;
                        fs::copy(&src, t.path()).map_err(|e| Error::io(&src, e))?;
                        set_mode(t.path(), 0o555)?;
                        variants.push((dest, t));
                    }
                }
            }
            let mut mtemp = new_tmp()?;
            mtemp
                .write_all(bytes)
                .map_err(|e| Error::io(mtemp.path(), e))?;
            set_mode(mtemp.path(), 0o444)?;
            clock.mark(phases, "executable copies, manifest");
            // Contents durable before any of them gets its final name.
            if pending.len() + variants.len() < SMALL_SYNC {
                for p in pending
                    .values()
                    .map(Written::path)
                    .chain(variants.iter().map(|(_, t)| t.path()))
                {
                    File::open(p)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| Error::io(p, e))?;
                }
                mtemp
                    .as_file()
                    .sync_all()
                    .map_err(|e| Error::io(mtemp.path(), e))?;
            } else {
                self.sync()?;
            }
            clock.mark(phases, "sync blobs");
            // Files of `build` that are their blob's own inode (the others get links).
            let mut own: HashSet<PathBuf> = HashSet::new();
            let moves: Vec<(PathBuf, Written)> = pending
                .into_iter()
                .map(|(d, w)| {
                    if let Written::Placed(p) = &w {
                        own.insert(p.clone());
                    }
                    (self.blob_file(&d, false), w)
                })
                .chain(
                    variants
                        .into_iter()
                        .map(|(d, t)| (d, Written::Temp(t.into_temp_path()))),
                )
                .collect();
            // Directories whose entries changed, to fsync before the pointer moves.
            let mut dirty: HashSet<PathBuf> = moves
                .iter()
                .filter_map(|(d, _)| d.parent().map(Path::to_path_buf))
                .collect();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = moves.len().div_ceil(threads).max(1);
            let mut moves = moves;
            std::thread::scope(|s| {
                let mut handles = Vec::new();
                while !moves.is_empty() {
                    let part: Vec<_> = moves.drain(..chunk.min(moves.len())).collect();
                    handles.push(s.spawn(move || -> Result<(), Error> {
                        for (dest, w) in part {
                            let named = match w {
                                Written::Temp(t) => t.persist_noclobber(&dest).map_err(|e| e.error),
                                // Named by a second link: no rename, and the content stays
                                // where the version needs it.
                                Written::Placed(p) => fs::hard_link(&p, &dest),
                            };
                            match named {
                                Ok(()) => {}
                                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                                Err(e) => return Err(Error::io(&dest, e)),
                            }
                        }
                        Ok(())
                    }));
                }
                handles.into_iter().try_for_each(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::io(
                            &tmp_dir,
                            std::io::Error::other("a renaming thread panicked"),
                        ))
                    })
                })
            })?;
            let mdir = self.root.join(MANIFESTS).join(env);
            fs::create_dir_all(&mdir).map_err(|e| Error::io(&mdir, e))?;
            mtemp
                .persist(&mfile)
                .map_err(|e| Error::io(&mfile, e.error))?;
            dirty.insert(mdir);
            dirty.insert(self.root.join(MANIFESTS));
            clock.mark(phases, "name blobs, manifest");
            let mut whole_tree = false;
            if let Some(build) = build.filter(|_| !vdir.is_dir()) {
                self.complete(manifest, build, &own, &vdir)?;
                whole_tree = true;
            } else if !vdir.is_dir() {
                let spare = previous
                    .as_ref()
                    .map(|v| (self.spare_dir(env, &v.code_id), &v.code_id))
                    .filter(|(p, _)| p.is_dir());
                let old = match &spare {
                    Some((_, id)) => self.manifest_cached(env, id)?,
                    None => None,
                };
                match (spare, old) {
                    (Some((dir, _)), Some(old)) => {
                        dirty.extend(self.apply_spare(&dir, &old, manifest, &vdir)?);
                        dirty.insert(self.root.join(VERSIONS));
                    }
                    _ => {
                        self.materialize(manifest, &vdir)?;
                        whole_tree = true;
                    }
                }
            }
            clock.mark(phases, "materialize");
            // Names and the whole tree durable before the pointer moves.
            if whole_tree || dirty.len() >= SMALL_SYNC {
                self.sync()?;
            } else {
                for d in &dirty {
                    fsync_dir(d)?;
                }
            }
            clock.mark(phases, "sync tree");
        }
        self.flip(env, &code_id)?;
        self.record_history(env, &code_id)?;
        clock.mark(phases, "flip, history");
        Ok(Status::Published)
    }

    /// Builds `vdir` from the blobs: in a temporary directory beside it, renamed into place
    /// once complete and read-only.
    fn materialize(&self, manifest: &Manifest, vdir: &Path) -> Result<(), Error> {
        let versions = self.root.join(VERSIONS);
        let tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(&versions)
            .map_err(|e| Error::io(&versions, e))?;
        self.fill(manifest, tmp, false, &HashSet::new(), vdir)
    }

    /// Completes a version whose directories and new contents `build` holds (`own`: its
    /// files that are their blob's inode), then renames it to `vdir`.
    fn complete(
        &self,
        manifest: &Manifest,
        build: Build,
        own: &HashSet<PathBuf>,
        vdir: &Path,
    ) -> Result<(), Error> {
        self.fill(manifest, build.dir, true, own, vdir)
    }

    /// Makes `tmp` the tree of `manifest` (its directories already made if `dirs_made`; the
    /// files in `own` already in place), read-only, and renames it to `vdir`.
    fn fill(
        &self,
        manifest: &Manifest,
        tmp: tempfile::TempDir,
        dirs_made: bool,
        own: &HashSet<PathBuf>,
        vdir: &Path,
    ) -> Result<(), Error> {
        let base = tmp.path();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for e in manifest.entries() {
            let dest = base.join(&e.path);
            match &e.kind {
                EntryKind::Dir => {
                    if !dirs_made {
                        fs::create_dir(&dest).map_err(|err| Error::io(&dest, err))?;
                    }
                    dirs.push(dest);
                }
                EntryKind::Link { target } => std::os::unix::fs::symlink(target, &dest)
                    .map_err(|err| Error::io(&dest, err))?,
                EntryKind::File { .. } => {
                    if !own.contains(&dest) {
                        files.push(e);
                    }
                }
            }
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let chunk = files.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<(), Error> {
                        for e in part {
                            if let EntryKind::File { sha256, .. } = &e.kind {
                                self.place(sha256, e, &base.join(&e.path))?;
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::io(
                        base,
                        std::io::Error::other("a linking thread panicked"),
                    ))
                })
            })
        })?;
        for d in dirs.iter().rev() {
            set_mode(d, 0o555)?;
        }
        set_mode(base, 0o555)?;
        let kept = tmp.keep();
        fs::rename(&kept, vdir).map_err(|e| Error::io(vdir, e))?;
        Ok(())
    }

    /// One file of a version: a hard link to its blob, or a copy where linking fails (other
    /// file system, too many links).
    fn place(&self, digest: &Digest, e: &Entry, dest: &Path) -> Result<(), Error> {
        let src = self.blob_file(digest, e.executable());
        if fs::hard_link(&src, dest).is_ok() {
            return Ok(());
        }
        fs::copy(&src, dest).map_err(|err| Error::io(&src, err))?;
        set_mode(dest, e.materialized_mode())
    }

    /// Points `environments/<env>` at the version: a new symlink renamed over the old one,
    /// then the directory fsynced.
    fn flip(&self, env: &str, code_id: &CodeId) -> Result<(), Error> {
        let dir = self.root.join(ENVIRONMENTS);
        let tmp = dir.join(format!(
            "{TMP_PREFIX}{env}-{}-{}",
            std::process::id(),
            ns_since_epoch(SystemTime::now())
        ));
        let target = Path::new("..")
            .join(VERSIONS)
            .join(format!("{env}_{code_id}"));
        std::os::unix::fs::symlink(&target, &tmp).map_err(|e| Error::io(&tmp, e))?;
        let link = dir.join(env);
        fs::rename(&tmp, &link).map_err(|e| Error::io(&link, e))?;
        fsync_dir(&dir)
    }

    fn history_file(&self, env: &str) -> PathBuf {
        self.root.join(STATE).join(format!("{env}.history"))
    }

    /// (unix seconds, code_id) of each time a version went live, oldest first.
    fn history(&self, env: &str) -> Vec<(u64, String)> {
        let text = fs::read_to_string(self.history_file(env)).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (t, c) = l.split_once(' ')?;
                Some((t.parse().ok()?, c.to_owned()))
            })
            .collect()
    }

    fn write_history(&self, env: &str, h: &[(u64, String)]) -> Result<(), Error> {
        let mut s = String::new();
        for (t, c) in h.iter().skip(h.len().saturating_sub(HISTORY_MAX)) {
            s.push_str(&format!("{t} {c}\n"));
        }
        let tmp_dir = self.root.join(TMP);
        let mut tmp = NamedTempFile::new_in(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        tmp.write_all(s.as_bytes())
            .map_err(|e| Error::io(tmp.path(), e))?;
        let dest = self.history_file(env);
        tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
        Ok(())
    }

    fn record_history(&self, env: &str, code_id: &CodeId) -> Result<(), Error> {
        let mut h = self.history(env);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        h.push((now, code_id.to_string()));
        self.write_history(env, &h)
    }

    /// Installs a version fetched from another store (a replica): `manifest` in its serialized
    /// form, which must hash to `code_id`, and whose blobs were stored with
    /// [`Store::put_blob`] beforehand ([`Store::missing_blobs`] lists them;
    /// [`Error::MissingBlobs`] when some are still absent). Then materialized and made live
    /// exactly as [`Store::publish`] does.
    ///
    /// ```
    /// # let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    /// # std::fs::write(dirs[2].path().join("site.pp"), "notify { 'hi': }\n").unwrap();
    /// use puppet_filesync::{Manifest, Store};
    /// let primary = Store::open(dirs[0].path())?;
    /// let replica = Store::open(dirs[1].path())?;
    /// let v = primary.publish("production", dirs[2].path())?.code_id;
    /// let bytes = primary.manifest_bytes("production", &v)?.unwrap();
    /// for d in replica.missing_blobs(&Manifest::parse(&bytes)?) {
    ///     replica.put_blob(&d, &primary.read_blob(&d)?[..])?;
    /// }
    /// replica.install("production", &bytes, &v)?;
    /// assert_eq!(replica.live("production")?.unwrap().code_id, v);
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn install(
        &self,
        env: &str,
        manifest: &[u8],
        code_id: &CodeId,
    ) -> Result<Published, Error> {
        check_environment(env)?;
        let actual = Digest::of(manifest).to_string();
        if actual != code_id.as_str() {
            return Err(Error::CodeIdMismatch {
                expected: code_id.to_string(),
                actual,
            });
        }
        let parsed = Manifest::parse(manifest)?;
        let _lock = self.lock(true)?;
        self.sweep()?;
        let missing = self.missing_blobs_for(env, &parsed)?;
        if !missing.is_empty() {
            return Err(Error::MissingBlobs {
                code_id: code_id.to_string(),
                missing,
            });
        }
        let mut phases = Vec::new();
        let status = self.commit(
            env,
            &parsed,
            manifest,
            code_id,
            (HashMap::new(), None),
            (&mut Clock::new(), &mut phases),
        )?;
        let parsed = Arc::new(parsed);
        self.remember_manifest(env, code_id, parsed.clone());
        let stats = PublishStats {
            files: parsed.digests().count() as u64,
            dirs: parsed
                .entries()
                .iter()
                .filter(|e| e.kind == EntryKind::Dir)
                .count() as u64,
            links: parsed
                .entries()
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::Link { .. }))
                .count() as u64,
            bytes: parsed.total_size(),
            phases,
            ..PublishStats::default()
        };
        Ok(Published {
            environment: env.to_owned(),
            code_id: code_id.clone(),
            status,
            stats,
        })
    }

    /// Removes old versions by `policy` (see [`Retention`]), then every blob no remaining
    /// version uses. The live version is always kept.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// use puppet_filesync::{Retention, Store};
    /// use std::time::Duration;
    /// let store = Store::open(dir.path())?;
    /// for i in 0..4 {
    ///     std::fs::write(staging.path().join("v"), i.to_string()).unwrap();
    ///     store.publish("production", staging.path())?;
    /// }
    /// let gone = store.retain(&Retention::new(2, Duration::ZERO))?;
    /// assert_eq!(gone.removed_versions.len(), 2);
    /// assert_eq!(store.versions("production")?.len(), 2);
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn retain(&self, policy: &Retention) -> Result<Retained, Error> {
        let _lock = self.lock(true)?;
        self.sweep()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut out = Retained::default();
        let mut envs: HashSet<String> = self.environments()?.into_iter().collect();
        let mdir = self.root.join(MANIFESTS);
        for item in fs::read_dir(&mdir).map_err(|e| Error::io(&mdir, e))? {
            let item = item.map_err(|e| Error::io(&mdir, e))?;
            if let Some(n) = item.file_name().to_str()
                && check_environment(n).is_ok()
            {
                envs.insert(n.to_owned());
            }
        }
        let mut referenced: HashSet<Digest> = HashSet::new();
        for env in envs {
            let live = self.live(&env)?.map(|v| v.code_id);
            let history = self.history(&env);
            // Last time each version went live, and when it was superseded.
            let mut last: HashMap<&str, (u64, usize, Option<u64>)> = HashMap::new();
            for (i, (t, c)) in history.iter().enumerate() {
                let superseded = history[i + 1..]
                    .iter()
                    .find(|(_, c2)| c2 != c)
                    .map(|(t2, _)| *t2);
                last.insert(c.as_str(), (*t, i + 1, superseded));
            }
            let mut on_disk: Vec<(CodeId, (u64, usize), Option<u64>)> = Vec::new();
            let mut ids: HashSet<CodeId> = self.versions(&env)?.into_iter().collect();
            let menv = mdir.join(&env);
            if let Ok(rd) = fs::read_dir(&menv) {
                for item in rd.flatten() {
                    if let Some(c) = item
                        .file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".json"))
                        .and_then(|c| CodeId::parse(c).ok())
                    {
                        ids.insert(c);
                    }
                }
            }
            for c in ids {
                let (t, sup) = match last.get(c.as_str()) {
                    Some(&(t, pos, sup)) => ((t, pos), sup),
                    None => {
                        // Not in the history (a crash before it was recorded): its directory's
                        // age stands for both.
                        let t = fs::symlink_metadata(self.version_dir(&env, &c))
                            .map(|m| u64::try_from(m.mtime()).unwrap_or(0))
                            .unwrap_or(0);
                        ((t, 0), Some(t))
                    }
                };
                on_disk.push((c, t, sup));
            }
            on_disk.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (rank, (c, _, sup)) in on_disk.into_iter().enumerate() {
                let keep = live.as_ref() == Some(&c)
                    || rank < policy.keep
                    || sup.is_none_or(|s| now.saturating_sub(s) < policy.min_age.as_secs());
                if keep {
                    if let Some(m) = self.manifest(&env, &c)? {
                        referenced.extend(m.digests().copied());
                    }
                } else {
                    remove_tree(&self.version_dir(&env, &c))?;
                    let mf = self.manifest_file(&env, &c);
                    match fs::remove_file(&mf) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(Error::io(&mf, e)),
                    }
                    out.removed_versions.push((env.clone(), c));
                }
            }
        }
        let blobs = self.root.join(BLOBS);
        for sub in fs::read_dir(&blobs).map_err(|e| Error::io(&blobs, e))? {
            let sub = sub.map_err(|e| Error::io(&blobs, e))?;
            let prefix = sub.file_name().to_string_lossy().into_owned();
            let Ok(rd) = fs::read_dir(sub.path()) else {
                continue;
            };
            for item in rd.flatten() {
                let name = item.file_name().to_string_lossy().into_owned();
                let hex = format!(
                    "{prefix}{}",
                    name.strip_suffix(EXEC_SUFFIX).unwrap_or(&name)
                );
                let keep = Digest::from_hex(&hex).is_some_and(|d| referenced.contains(&d));
                if !keep {
                    fs::remove_file(item.path()).map_err(|e| Error::io(item.path(), e))?;
                    out.removed_blobs += 1;
                }
            }
        }
        Ok(out)
    }

    /// Re-reads a materialized version and compares it with its manifest: kinds, read-only
    /// modes, sizes, SHA-256 of every file, link targets, and nothing extra.
    /// [`Error::Verify`] lists every difference with its path and digests.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let staging = tempfile::tempdir().unwrap();
    /// # std::fs::write(staging.path().join("site.pp"), "").unwrap();
    /// let store = puppet_filesync::Store::open(dir.path())?;
    /// let v = store.publish("production", staging.path())?.code_id;
    /// store.verify("production", &v)?;
    /// # Ok::<(), puppet_filesync::Error>(())
    /// ```
    pub fn verify(&self, env: &str, code_id: &CodeId) -> Result<(), Error> {
        let unknown = || Error::UnknownVersion {
            environment: env.to_owned(),
            code_id: code_id.to_string(),
        };
        let manifest = self.manifest(env, code_id)?.ok_or_else(unknown)?;
        let vdir = self.version_dir(env, code_id);
        if !vdir.is_dir() {
            return Err(unknown());
        }
        let mut problems = Vec::new();
        let mut push = |path: &str, kind| {
            problems.push(crate::VerifyProblem {
                path: path.to_owned(),
                kind,
            })
        };
        use crate::ProblemKind as P;
        let kind_name = |m: &fs::Metadata| {
            let ft = m.file_type();
            if ft.is_dir() {
                "dir"
            } else if ft.is_file() {
                "file"
            } else if ft.is_symlink() {
                "link"
            } else {
                "special file"
            }
        };
        let mut to_hash: Vec<(&str, PathBuf, Digest)> = Vec::new();
        for e in manifest.entries() {
            let p = vdir.join(&e.path);
            let m = match fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    push(&e.path, P::Missing);
                    continue;
                }
                Err(err) => {
                    push(&e.path, P::Unreadable(err.to_string()));
                    continue;
                }
            };
            let actual_kind = kind_name(&m);
            if actual_kind != e.kind.name() {
                push(
                    &e.path,
                    P::Kind {
                        expected: e.kind.name(),
                        actual: actual_kind,
                    },
                );
                continue;
            }
            if !matches!(e.kind, EntryKind::Link { .. })
                && m.mode() & 0o7777 != e.materialized_mode()
            {
                push(
                    &e.path,
                    P::Mode {
                        expected: e.materialized_mode(),
                        actual: m.mode() & 0o7777,
                    },
                );
            }
            match &e.kind {
                EntryKind::File { size, sha256 } => {
                    if m.len() != *size {
                        push(
                            &e.path,
                            P::Size {
                                expected: *size,
                                actual: m.len(),
                            },
                        );
                        continue;
                    }
                    to_hash.push((e.path.as_str(), p, *sha256));
                }
                EntryKind::Link { target } => match fs::read_link(&p) {
                    Ok(t) if t.to_str() == Some(target.as_str()) => {}
                    Ok(t) => push(
                        &e.path,
                        P::LinkTarget {
                            expected: target.clone(),
                            actual: t.to_string_lossy().into_owned(),
                        },
                    ),
                    Err(err) => push(&e.path, P::Unreadable(err.to_string())),
                },
                EntryKind::Dir => {}
            }
        }
        // Contents, hashed on all cores.
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let found: Vec<(String, ProblemKindOrErr)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((path, p, expected)) = to_hash.get(i) else {
                                break;
                            };
                            match digest_file(p) {
                                Ok(d) if d == *expected => {}
                                Ok(d) => out.push(((*path).to_owned(), Ok((*expected, d)))),
                                Err(err) => out.push(((*path).to_owned(), Err(err.to_string()))),
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (path, r) in found {
            match r {
                Ok((expected, actual)) => push(&path, P::Digest { expected, actual }),
                Err(err) => push(&path, P::Unreadable(err)),
            }
        }
        // Anything on disk the manifest does not list.
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let d = if rel.is_empty() {
                vdir.clone()
            } else {
                vdir.join(&rel)
            };
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for item in rd.flatten() {
                let name = item.file_name().to_string_lossy().into_owned();
                let path = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                match manifest.get(&path) {
                    None => push(&path, P::Unexpected),
                    Some(e) if e.kind == EntryKind::Dir => stack.push(path),
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        problems.truncate(crate::VerifyError::MAX_PROBLEMS);
        Err(crate::VerifyError {
            environment: env.to_owned(),
            code_id: code_id.to_string(),
            problems,
        }
        .into())
    }
}

/// A digest mismatch (expected, actual) or a read error.
type ProblemKindOrErr = Result<(Digest, Digest), String>;

fn digest_file(p: &Path) -> std::io::Result<Digest> {
    let mut f = File::open(p)?;
    let mut h = Hasher::default();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(h.finish()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads one staging file (without following a symlink that replaced it, without blocking on a
/// FIFO that replaced it), hashing it and copying it to `place` (a new read-only file in a
/// version being built) or, without one, into a temporary file of the store.
fn hash_one(
    path: &Path,
    rel: &str,
    tmp_dir: &Path,
    place: Option<PathBuf>,
    buf: &mut [u8],
) -> Result<(Digest, u64, Stat, SystemTime, Written), Error> {
    use rustix::fs::{Mode, OFlags};
    let started = SystemTime::now();
    let unreadable = |e: std::io::Error| Error::refused(rel, Refusal::Unreadable(e));
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| unreadable(e.into()))?;
    let mut file = File::from(fd);
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Error::refused(
            rel,
            Refusal::SpecialFile {
                kind: "special file",
            },
        ));
    }
    let stat = Stat::of(&meta);
    let (mut out, written) = match place {
        Some(p) => {
            let f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(&p)
                .map_err(|e| Error::io(&p, e))?;
            (f, Written::Placed(p))
        }
        None => {
            let (f, tmp) = NamedTempFile::new_in(tmp_dir)
                .map_err(|e| Error::io(tmp_dir, e))?
                .into_parts();
            (f, Written::Temp(tmp))
        }
    };
    // Blobs are read-only (whatever the umask); set now, through the descriptor that still
    // writes, rather than by path later.
    out.set_permissions(fs::Permissions::from_mode(0o444))
        .map_err(|e| Error::io(written.path(), e))?;
    let mut h = Hasher::default();
    let mut size = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(written.path(), e))?;
        size += n as u64;
    }
    Ok((h.finish(), size, stat, started, written))
}
