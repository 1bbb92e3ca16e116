//! Embedded default storage on the local filesystem: each node's last facts, last catalog and
//! every report, plus the file bucket. Every write goes to a temporary file in the same
//! directory, is fsynced, then renamed into place. Last facts and catalogs are written in the
//! background (latest wins, one writer per file; reads see a queued document at once);
//! reports and bucket contents are on disk before the request is answered.
//!
//! Layout below the storage root:
//!
//! ```text
//! facts/<certname>.json                      last facts document (as the agent sent it)
//! catalogs/<certname>.json                   last catalog served (Sensitive values left out)
//! reports/<certname>/<UTC time>-<n>.json     every report, report format 12 JSON (redacted events keep no value)
//! bucket/<algorithm>/<hex digest>            file bucket contents
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use puppet_facts::Facts;

use puppet_protocol::ProtocolError;
use puppet_protocol::server::{CatalogArchive, FactStore, FileBucket, ReportSink};

use crate::blocking;

/// The filesystem store (see the module docs for the layout).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use puppet_master::FsStorage;
/// use puppet_protocol::server::FactStore;
/// let dir = tempfile::tempdir().unwrap();
/// let store = FsStorage::new(dir.path());
/// let facts = puppet_facts::Facts::from_json(br#"{"name": "n1.example.test", "values": {"os": {"family": "Debian"}}}"#).unwrap();
/// store.save_facts("n1.example.test", &facts).await.unwrap();
/// assert_eq!(store.facts("n1.example.test").await.unwrap(), Some(facts));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
    /// Last facts and catalogs waiting to be written, by path: a newer document for the same
    /// node replaces one not yet written (latest wins, one writer per path).
    pending: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, Vec<u8>>>>,
    /// SHA-256 of the document last written to each path by this store: an identical document
    /// is not written again while the file is still there with that length.
    written: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, [u8; 32]>>>,
}

/// Makes report names unique within the process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl FsStorage {
    /// A store rooted at `root` (directories are created on first write).
    pub fn new(root: impl Into<PathBuf>) -> FsStorage {
        FsStorage {
            root: root.into(),
            pending: Default::default(),
            written: Default::default(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the temporary files a crash left behind (writes that never reached their
    /// rename), anywhere below the root; returns how many. Call it before serving.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir_all(dir.path().join("facts")).unwrap();
    /// std::fs::write(dir.path().join("facts/.tmp-puppet-master-x1y2"), "half").unwrap();
    /// let store = puppet_master::FsStorage::new(dir.path());
    /// assert_eq!(store.sweep_temp_files().unwrap(), 1);
    /// ```
    pub fn sweep_temp_files(&self) -> std::io::Result<usize> {
        fn sweep(dir: &Path, depth: u32) -> std::io::Result<usize> {
            let mut removed = 0;
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if kind.is_dir() && depth < 3 {
                    removed += sweep(&entry.path(), depth + 1)?;
                } else if kind.is_file() && name.starts_with(TEMP_PREFIX) {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        }
        sweep(&self.root, 0)
    }

    /// Paths of every stored report of `certname`, oldest first.
    pub fn report_paths(&self, certname: &str) -> Result<Vec<PathBuf>, ProtocolError> {
        checked(certname)?;
        let dir = self.root.join("reports").join(certname);
        let mut out = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "json") {
                        out.push(path);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir, e)),
        }
        out.sort();
        Ok(out)
    }

    /// Every stored report of `certname`, parsed, oldest first.
    pub fn reports(&self, certname: &str) -> Result<Vec<puppet_report::Report>, ProtocolError> {
        self.report_paths(certname)?
            .iter()
            .map(|p| {
                let bytes = std::fs::read(p).map_err(|e| io_error(p, e))?;
                puppet_report::Report::from_json(&bytes)
                    .map_err(|e| ProtocolError::Internal(format!("{}: {e}", p.display())))
            })
            .collect()
    }

    /// The last catalog served to `certname`.
    pub fn last_catalog(
        &self,
        certname: &str,
    ) -> Result<Option<puppet_catalog::Catalog>, ProtocolError> {
        checked(certname)?;
        let path = self.root.join("catalogs").join(format!("{certname}.json"));
        match self.read_latest(&path) {
            Ok(bytes) => puppet_catalog::Catalog::from_json(&bytes)
                .map(Some)
                .map_err(|e| ProtocolError::Internal(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// Stores file bucket contents under their digest.
    pub fn bucket_put(
        &self,
        algorithm: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(), ProtocolError> {
        let path = self.bucket_path(algorithm, digest)?;
        write_atomic(&path, bytes)
    }

    /// File bucket contents by digest.
    pub fn bucket_get(
        &self,
        algorithm: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let path = self.bucket_path(algorithm, digest)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn bucket_path(&self, algorithm: &str, digest: &str) -> Result<PathBuf, ProtocolError> {
        let ok = |s: &str| {
            !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !ok(algorithm) || !ok(digest) {
            return Err(ProtocolError::BadRequest(format!(
                "Invalid file bucket key {algorithm}/{digest}"
            )));
        }
        Ok(self
            .root
            .join("bucket")
            .join(algorithm)
            .join(digest.to_ascii_lowercase()))
    }
}

impl FsStorage {
    fn pending(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<PathBuf, Vec<u8>>> {
        match self.pending.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Queues `bytes` for `path` and returns at once; a background task writes the latest
    /// queued document atomically, and keeps going while newer ones arrive.
    fn write_latest(&self, path: PathBuf, bytes: Vec<u8>) {
        let first = self.pending().insert(path.clone(), bytes).is_none();
        if !first {
            return;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                let Some(bytes) = me.pending().get(&path).cloned() else {
                    return;
                };
                me.write_if_changed(&path, &bytes);
                let mut pending = me.pending();
                if pending.get(&path) == Some(&bytes) {
                    pending.remove(&path);
                    return;
                }
            }
        });
    }

    /// Writes `bytes` to `path` atomically unless this store last wrote the same bytes there
    /// and the file still has their length.
    fn write_if_changed(&self, path: &Path, bytes: &[u8]) {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(bytes).into();
        let lock = || match self.written.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let same = lock().get(path) == Some(&digest)
            && std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if same {
            return;
        }
        match write_atomic(path, bytes) {
            Ok(()) => {
                lock().insert(path.to_path_buf(), digest);
            }
            Err(e) => {
                lock().remove(path);
                tracing::error!("{e}");
            }
        }
    }

    /// A queued document not yet on disk, or the file's content.
    fn read_latest(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if let Some(bytes) = self.pending().get(path) {
            return Ok(bytes.clone());
        }
        std::fs::read(path)
    }

    /// Waits until every queued document is written (for a clean shutdown, or a reader that
    /// goes to the files directly).
    pub async fn flush(&self) {
        while !self.pending().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

fn checked(certname: &str) -> Result<(), ProtocolError> {
    puppet_ca::validate_certname(certname)
        .map_err(|e| ProtocolError::BadRequest(format!("Invalid certname {certname:?}: {e}")))
}

fn io_error(path: &Path, e: std::io::Error) -> ProtocolError {
    ProtocolError::io(path.display().to_string(), e)
}

/// Prefix of the temporary files of [`write_atomic`] (swept by [`FsStorage::sweep_temp_files`]).
const TEMP_PREFIX: &str = ".tmp-puppet-master-";

/// Writes `bytes` to `path` atomically: a temporary file (mode 0600, a short name whatever
/// the certname's length) in the same directory, fsync, rename, fsync of the directory.
/// Directories are created 0700: stored facts, catalogs and reports may hold secrets.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProtocolError> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    let dir = path
        .parent()
        .ok_or_else(|| ProtocolError::Internal(format!("{} has no parent", path.display())))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, e))?;
    tmp.write_all(bytes).map_err(|e| io_error(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io_error(path, e))?;
    tmp.persist(path).map_err(|e| io_error(path, e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

fn to_vec(value: &impl serde::Serialize) -> Result<Vec<u8>, ProtocolError> {
    serde_json::to_vec(value).map_err(|e| ProtocolError::Internal(e.to_string()))
}

#[async_trait]
impl FactStore for FsStorage {
    async fn save_facts(&self, certname: &str, facts: &Facts) -> Result<(), ProtocolError> {
        checked(certname)?;
        let path = self.root.join("facts").join(format!("{certname}.json"));
        self.write_latest(path, to_vec(facts)?);
        Ok(())
    }

    async fn facts(&self, certname: &str) -> Result<Option<Facts>, ProtocolError> {
        checked(certname)?;
        let path = self.root.join("facts").join(format!("{certname}.json"));
        let me = self.clone();
        blocking(move || match me.read_latest(&path) {
            Ok(bytes) => Facts::from_json(&bytes)
                .map(Some)
                .map_err(|e| ProtocolError::Internal(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        })
        .await
    }
}

#[async_trait]
impl ReportSink for FsStorage {
    async fn store_report(
        &self,
        certname: &str,
        report: &puppet_report::Report,
        raw: &[u8],
    ) -> Result<Vec<String>, ProtocolError> {
        checked(certname)?;
        // Reports are for other readers: an event the agent marked `redacted` keeps no value
        // (Puppet's agent sends them redacted already; another client might not).
        let marked = report
            .resource_statuses
            .values()
            .any(|s| s.events.iter().any(|e| e.redacted == Some(true)));
        let bytes = if marked {
            let mut redacted = report.clone();
            redacted.redact_sensitive();
            redacted
                .to_json()
                .map_err(|e| ProtocolError::Internal(format!("encode the report: {e}")))?
        } else {
            raw.to_vec()
        };
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}.{:09}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.nanosecond()
        );
        let root = self.root.clone();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = root
            .join("reports")
            .join(certname)
            .join(format!("{stamp}-{n}.json"));
        blocking(move || write_atomic(&path, &bytes)).await?;
        Ok(vec!["store".to_string()])
    }
}

#[async_trait]
impl CatalogArchive for FsStorage {
    /// Archives the catalog as sent, except that Sensitive values are left out
    /// ([`puppet_catalog::Catalog::redacted`]), as PuppetDB receives them: the archive is for
    /// other readers.
    async fn save_catalog(
        &self,
        certname: &str,
        catalog: &puppet_catalog::Catalog,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        checked(certname)?;
        let path = self.root.join("catalogs").join(format!("{certname}.json"));
        let bytes = if catalog.has_sensitive() {
            to_vec(&catalog.redacted())?
        } else {
            json.to_vec()
        };
        self.write_latest(path, bytes);
        Ok(())
    }
}

#[async_trait]
impl FileBucket for FsStorage {
    async fn put(&self, algorithm: &str, digest: &str, bytes: &[u8]) -> Result<(), ProtocolError> {
        let (me, a, d, b) = (
            self.clone(),
            algorithm.to_string(),
            digest.to_string(),
            bytes.to_vec(),
        );
        blocking(move || me.bucket_put(&a, &d, &b)).await
    }

    async fn get(&self, algorithm: &str, digest: &str) -> Result<Option<Vec<u8>>, ProtocolError> {
        let (me, a, d) = (self.clone(), algorithm.to_string(), digest.to_string());
        blocking(move || me.bucket_get(&a, &d)).await
    }
}
