//! File sync: the master compiles and serves files from versions of a
//! [`puppet_filesync::Store`], never from a tree that is being changed.
//!
//! - A **primary** ([`SyncedCode::primary`]) publishes its staging codedir
//!   (`<staging>/environments/<env>/`) into its store on `POST /file-sync/v1/publish`
//!   ([`PrimaryFileSync`]), and gives its versions to replicas (`latest`, `manifest`, `blob`).
//! - A **replica** ([`SyncedCode::replica`]) asks the primary for its latest code_ids before
//!   it answers anything that reads code (one cheap request; concurrent requests share one
//!   check, but only a check *sent after* the request arrived, so a request that arrives
//!   after a publish returned sees that publish). A new version's manifest and missing blobs
//!   are fetched over mTLS, their digests checked (a blob that does not match is never
//!   stored, let alone served), and the version is installed with the store's own atomic
//!   swap. With the primary unreachable (or a copy refused: a digest that does not match)
//!   the replica serves its newest complete version and logs it once (and once when the
//!   primary is back); for one second after a failed check it does not ask again, so a
//!   primary that is down does not cost every request a connect timeout. It also fetches the
//!   primary's CRL every minute.
//!   A replica also keeps a long poll open on its primary ([`SyncedCode::follow`]), answered
//!   the moment a publish changes a live version, so the copy starts at once instead of at
//!   the next request (that request's check then finds it done or joins it: the long poll
//!   speeds the copy up, the per-request check keeps the guarantee). A replica serves
//!   `/file-sync/v1` (all but `publish`) to replicas of its own: chains and trees. Its
//!   `latest` asks its own primary first, naming the replicas the question came through
//!   (`x-puppet-file-sync-chain`): replicas whose `file_sync_primary` settings form a ring
//!   refuse the question that comes back to them (508, Puppet's JSON error body naming the
//!   loop, an error in each one's log) instead of passing it round or waiting on it.
//!
//! On both, [`SyncedCompiler`] compiles each catalog from one materialized version, stamps it
//! with that version's code_id, inlines static metadata from the same version, and reuses a
//! compiled catalog per (node, environment) while the code_id is unchanged (facts changing
//! does not cause a new compile: the code is what the catalog is a function of).
//! [`SyncedFileServer`] serves `file_metadata(s)`/`file_content` from the live version and
//! `static_file_content` from any version the store still holds.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use puppet_master::filesync::{PrimaryFileSync, SyncedCode, SyncedFileServer};
//! use puppet_protocol::server::{FileServer, FileSync};
//! let dir = tempfile::tempdir().unwrap();
//! let staging = dir.path().join("staging");
//! std::fs::create_dir_all(staging.join("environments/production/modules/m/files")).unwrap();
//! std::fs::write(staging.join("environments/production/modules/m/files/a"), "v1").unwrap();
//! let store = puppet_filesync::Store::open(dir.path().join("store")).unwrap();
//! let code = SyncedCode::primary(store, &staging);
//! let answer = PrimaryFileSync::new(code.clone()).publish(None).await.unwrap();
//! let code_id = answer.environments["production"].code_id.clone();
//! let files = SyncedFileServer::new(code);
//! assert_eq!(files.content("production", "modules/m/a").await.unwrap(), b"v1");
//! assert_eq!(files.static_content("n1", "production", "modules/m/files/a", &code_id).await.unwrap(), b"v1");
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use puppet_catalog::Catalog;
use puppet_filesync::{
    CodeId, Digest, Manifest, PublishOptions, Retention, Status, Store, Version,
};
use puppet_protocol::ProtocolError;
use puppet_protocol::client::{Client, ClientError};
use puppet_protocol::files::{FileMetadata, MetadataOptions, pick_checksum};
use puppet_protocol::filesync::{
    LOOP_MESSAGE, Latest, LatestEnvironment, PublishAnswer, PublishStatus, PublishedEnvironment,
};
use puppet_protocol::server::{CaService, CatalogCompiler, CompileRequest, FileServer, FileSync};

use crate::{DataCompiler, ModuleFileServer, blocking, lock};

/// After a failed check, a replica serves its local versions without asking again for this
/// long (so a primary that is down does not cost every request a connect timeout).
const RETRY_AFTER: Duration = Duration::from_secs(1);

fn store_error(e: puppet_filesync::Error) -> ProtocolError {
    match e {
        puppet_filesync::Error::Refused { .. }
        | puppet_filesync::Error::InvalidEnvironment { .. } => {
            ProtocolError::BadRequest(e.to_string())
        }
        other => ProtocolError::Internal(other.to_string()),
    }
}

/// Why a replica could not copy the primary's latest versions.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("{0}")]
    Client(Box<ClientError>),
    #[error("{0}")]
    Store(Box<puppet_filesync::Error>),
    #[error("the primary does not have version {code_id} of {environment} any more")]
    Gone {
        environment: String,
        code_id: String,
    },
    #[error("{0}")]
    Task(String),
    /// The question went round a ring of replicas (the message names it).
    #[error("{0}")]
    Loop(String),
}

/// The message of a `508` that says the question went round a ring of replicas.
fn loop_message(e: &ClientError) -> Option<&str> {
    match e {
        ClientError::Status {
            status: 508,
            message,
            ..
        } if message.starts_with(LOOP_MESSAGE) => Some(message),
        _ => None,
    }
}

impl From<ClientError> for SyncError {
    fn from(e: ClientError) -> Self {
        SyncError::Client(Box::new(e))
    }
}

impl From<puppet_filesync::Error> for SyncError {
    fn from(e: puppet_filesync::Error) -> Self {
        SyncError::Store(Box::new(e))
    }
}

struct Replica {
    primary: Client,
    /// This replica's id in the chains of `latest` questions it asks ([`CHAIN_HEADER`](puppet_protocol::filesync::CHAIN_HEADER)):
    /// its certname and a number drawn at start, so that two replicas that share a
    /// certificate still tell each other apart.
    id: String,
    /// Idle clients (each its own connection) that pass a downstream replica's question on:
    /// such a question never waits for a connection another question holds, so questions
    /// that go round a ring cannot wait on each other.
    relays: Mutex<Vec<Client>>,
    /// Why the last check failed, and whether that was a loop of replicas.
    problem: Mutex<Option<(bool, String)>>,
    /// Serializes checks; waiters that arrived before the running check began run their own.
    check: tokio::sync::Mutex<()>,
    /// Checks begun (the number of the latest).
    started: AtomicU64,
    /// The number of the latest check that finished.
    completed: AtomicU64,
    down: AtomicBool,
    failed_at: Mutex<Option<Instant>>,
    /// Where the primary's CRL is kept (the replica's TLS reads it), and when it was fetched.
    crl: Option<(PathBuf, Mutex<Option<Instant>>)>,
    /// The replica itself, for the task that follows the primary ([`SyncedCode::follow`]).
    this: std::sync::Weak<SyncedCode>,
    /// Whether that task was started.
    following: AtomicBool,
}

/// Connections a replica fetches blobs over in parallel (a first copy of a large tree).
const FETCH_LANES: usize = 4;

/// How often old versions are removed (after a publish or install).
const RETAIN_EVERY: Duration = Duration::from_secs(60);

/// How often a replica fetches the primary's CRL.
const CRL_EVERY: Duration = Duration::from_secs(60);

/// How long a replica's long poll asks the primary to hold it.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);

/// The versioned code a master serves: its store, and whether it is the primary (publishes
/// from a staging codedir) or a replica (copies the primary's versions).
pub struct SyncedCode {
    store: Store,
    staging: Option<PathBuf>,
    replica: Option<Replica>,
    retained_at: Mutex<Option<Instant>>,
    /// Background tasks running, and their end signalled.
    background: Arc<(Mutex<usize>, std::sync::Condvar)>,
    /// Counts the publishes and installs that changed a live version: the long polls of
    /// replicas wait on it.
    changed: tokio::sync::watch::Sender<u64>,
    /// Dropped with this value: ends the task that follows the primary.
    stop: tokio::sync::watch::Sender<()>,
}

impl std::fmt::Debug for SyncedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedCode")
            .field("store", &self.store.root())
            .field("staging", &self.staging)
            .field("replica", &self.replica.is_some())
            .finish()
    }
}

impl SyncedCode {
    /// A primary: serves the live versions of `store`, publishes from `staging` (a codedir:
    /// `environments/<env>/...`).
    pub fn primary(store: Store, staging: impl Into<PathBuf>) -> Arc<SyncedCode> {
        Arc::new(SyncedCode {
            store,
            staging: Some(staging.into()),
            replica: None,
            retained_at: Mutex::new(None),
            background: Arc::default(),
            changed: tokio::sync::watch::channel(0).0,
            stop: tokio::sync::watch::channel(()).0,
        })
    }

    /// A replica: copies into `store` the versions of the primary that `primary` (a client
    /// with the replica's certificate) reaches. With `crl_path`, the primary's CRL is fetched
    /// there every minute (written atomically; the replica's TLS re-reads it when it changes).
    ///
    /// Started inside a tokio runtime, the replica also follows the primary at once
    /// ([`SyncedCode::follow`]); otherwise from its first request.
    pub fn replica(store: Store, primary: Client, crl_path: Option<PathBuf>) -> Arc<SyncedCode> {
        let id = format!(
            "{}/{}",
            primary.certname().unwrap_or("replica"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let code = Arc::new_cyclic(|this| SyncedCode {
            store,
            staging: None,
            replica: Some(Replica {
                primary,
                id,
                relays: Mutex::new(Vec::new()),
                problem: Mutex::new(None),
                check: tokio::sync::Mutex::new(()),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                down: AtomicBool::new(false),
                failed_at: Mutex::new(None),
                crl: crl_path.map(|p| (p, Mutex::new(None))),
                this: this.clone(),
                following: AtomicBool::new(false),
            }),
            retained_at: Mutex::new(None),
            background: Arc::default(),
            changed: tokio::sync::watch::channel(0).0,
            stop: tokio::sync::watch::channel(()).0,
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            code.follow();
        }
        code
    }

    /// On a replica, starts (once) the task that follows the primary: a long poll
    /// (`GET /file-sync/v1/latest?known=…&wait=30`, on a connection of its own) that the
    /// primary answers the moment a publish changes a live version, upon which the replica
    /// copies and installs it at once. This only makes the copy start early: the guarantee
    /// that a request arriving after a publish returned is answered from the new version
    /// comes from the check every request makes ([`SyncedCode::refresh`]), which then finds
    /// the copy done or joins it. Must be called inside a tokio runtime; ends when this
    /// value is dropped. On a primary, nothing.
    pub fn follow(&self) {
        let Some(r) = &self.replica else {
            return;
        };
        if r.following.swap(true, Ordering::SeqCst) {
            return;
        }
        let client = r.primary.with_own_connection();
        let this = r.this.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            // No tag names nothing: the first answer comes at once.
            let mut known = "0".repeat(64);
            loop {
                let asked = Instant::now();
                let answer = tokio::select! {
                    a = client.file_sync_latest_changed(&known, FOLLOW_WAIT) => a,
                    _ = stop.changed() => return,
                };
                let pause = match answer {
                    Ok(latest) => {
                        let tag = latest.tag();
                        let same = tag == known;
                        if !same {
                            known = tag;
                            let Some(code) = this.upgrade() else { return };
                            code.refresh().await;
                        }
                        // A primary that does not hold long polls answers at once: ask it
                        // again only after a pause.
                        same && asked.elapsed() < Duration::from_secs(1)
                    }
                    Err(e) => {
                        tracing::debug!("file sync: long poll of the primary: {e}");
                        true
                    }
                };
                if pause {
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        });
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The staging codedir (a primary's).
    pub fn staging(&self) -> Option<&Path> {
        self.staging.as_deref()
    }

    /// On a replica, makes sure the live versions are the primary's as of a check sent
    /// after this call began (or that the primary is unreachable, then the local versions
    /// stay); on a primary, nothing. Concurrent callers share one check.
    pub async fn refresh(&self) {
        let Some(r) = &self.replica else {
            return;
        };
        self.follow();
        let arrived = r.started.load(Ordering::SeqCst);
        let _turn = r.check.lock().await;
        if r.completed.load(Ordering::SeqCst) > arrived {
            return;
        }
        if lock(&r.failed_at).is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return;
        }
        let n = r.started.fetch_add(1, Ordering::SeqCst) + 1;
        match self.sync_from_primary(r).await {
            Ok(()) => {
                self.checked(r);
                if let Some((path, fetched)) = &r.crl {
                    let due = lock(fetched).is_none_or(|t| t.elapsed() >= CRL_EVERY);
                    if due {
                        *lock(fetched) = Some(Instant::now());
                        let client = r.primary.clone();
                        let path = path.clone();
                        tokio::spawn(async move { refresh_crl(&client, &path).await });
                    }
                }
            }
            Err(e) => self.failed(r, &e),
        }
        r.completed.store(n, Ordering::SeqCst);
    }

    /// After a check that reached the primary.
    fn checked(&self, r: &Replica) {
        *lock(&r.failed_at) = None;
        *lock(&r.problem) = None;
        if r.down.swap(false, Ordering::SeqCst) {
            tracing::info!("file sync: the primary is reachable again");
        }
    }

    /// After a check that failed: logged when the problem is new (a loop of replicas is an
    /// error: it lasts until the settings are fixed).
    fn failed(&self, r: &Replica, e: &SyncError) {
        *lock(&r.failed_at) = Some(Instant::now());
        let is_loop = matches!(e, SyncError::Loop(_));
        let text = e.to_string();
        let new = {
            let mut problem = lock(&r.problem);
            // A loop is logged once until it is fixed (its members see it named from
            // each one's side: the text alone would flap).
            let new = problem.as_ref().is_none_or(|(l, _)| *l != is_loop);
            *problem = Some((is_loop, text));
            new
        };
        let first = !r.down.swap(true, Ordering::SeqCst);
        if is_loop && new {
            tracing::error!(
                "file sync: replica {}: {e}; serving the newest complete local versions until file_sync_primary is fixed",
                r.id
            );
        } else if first || new {
            tracing::warn!(
                "file sync: cannot get the primary's latest code ({e}); serving the newest complete local versions until it answers"
            );
        }
    }

    /// This replica's id in the chains of `latest` questions ([`CHAIN_HEADER`](puppet_protocol::filesync::CHAIN_HEADER)): its
    /// certname, `/`, and a number drawn at start. `None` on a primary.
    pub fn id(&self) -> Option<&str> {
        self.replica.as_ref().map(|r| r.id.as_str())
    }

    /// On a replica, why the last check of its primary failed (the primary unreachable, a
    /// copy refused, a loop of replicas…); `None` after a check that succeeded, and on a
    /// primary.
    pub fn problem(&self) -> Option<String> {
        let r = self.replica.as_ref()?;
        lock(&r.problem).as_ref().map(|(_, t)| t.clone())
    }

    /// One check: the primary's latest code_ids (asked with this replica's id as the
    /// chain); every environment whose live version differs is copied (manifest, missing
    /// blobs, digests checked) and installed.
    async fn sync_from_primary(&self, r: &Replica) -> Result<(), SyncError> {
        let latest = r
            .primary
            .file_sync_latest_via(std::slice::from_ref(&r.id))
            .await
            .map_err(|e| match loop_message(&e) {
                Some(m) => SyncError::Loop(m.to_string()),
                None => e.into(),
            })?;
        self.sync_latest(&r.primary, latest).await
    }

    /// Makes every environment of `latest` (the primary's) live here, copying what is missing.
    async fn sync_latest(&self, primary: &Client, latest: Latest) -> Result<(), SyncError> {
        // Every environment is tried; the first failure is reported after the others.
        let mut first_error = None;
        for (env, l) in latest.environments {
            if puppet_filesync::check_environment(&env).is_err() {
                continue;
            }
            if let Err(e) = self.sync_environment(primary, env, &l.code_id).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Makes `code_id` the live version of `env`, copying it from the primary if needed.
    async fn sync_environment(
        &self,
        primary: &Client,
        env: String,
        code_id: &str,
    ) -> Result<(), SyncError> {
        let started = Instant::now();
        let code_id = CodeId::parse(code_id)?;
        let store = self.store.clone();
        let (e, c) = (env.clone(), code_id.clone());
        let local = tokio::task::spawn_blocking(move || -> Result<_, SyncError> {
            if store.live(&e)?.is_some_and(|v| v.code_id == c) {
                return Ok(None);
            }
            // A version still held (a rollback on the primary): no need to fetch it.
            Ok(Some(store.manifest_bytes(&e, &c)?))
        })
        .await
        .map_err(|e| SyncError::Task(e.to_string()))??;
        let bytes = match local {
            None => return Ok(()),
            Some(Some(bytes)) => bytes,
            Some(None) => primary
                .file_sync_manifest(&env, &code_id)
                .await?
                .ok_or_else(|| SyncError::Gone {
                    environment: env.clone(),
                    code_id: code_id.to_string(),
                })?,
        };
        let bytes = Arc::new(bytes);
        // Only what the live version lacks is looked up (one stat per new digest).
        let missing = {
            let (store, env, bytes) = (self.store.clone(), env.clone(), bytes.clone());
            tokio::task::spawn_blocking(move || -> Result<_, SyncError> {
                Ok(store.missing_blobs_for(&env, &Manifest::parse(&bytes)?)?)
            })
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??
        };
        // A few connections in parallel when there are many blobs (a first copy).
        let lanes = if missing.len() > 16 { FETCH_LANES } else { 1 };
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..lanes {
            let client = if lane == 0 {
                primary.clone()
            } else {
                primary.with_own_connection()
            };
            let digests: Vec<Digest> = missing.iter().skip(lane).step_by(lanes).copied().collect();
            let store = self.store.clone();
            let gone = SyncError::Gone {
                environment: env.clone(),
                code_id: code_id.to_string(),
            };
            tasks.spawn(async move {
                for digest in digests {
                    let Some(content) = client.file_sync_blob(&digest).await? else {
                        return Err(gone);
                    };
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || store.put_blob(&digest, &content[..]))
                        .await
                        .map_err(|e| SyncError::Task(e.to_string()))??;
                }
                Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| SyncError::Task(e.to_string()))??;
        }
        let store = self.store.clone();
        let installed = tokio::task::spawn_blocking(move || store.install(&env, &bytes, &code_id))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??;
        if installed.status == Status::Published {
            tracing::info!(
                "file sync: {} is now at {} ({} new files, {:.1} ms)",
                installed.environment,
                installed.code_id,
                missing.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            self.after_change(vec![installed.environment]);
        }
        Ok(())
    }

    /// Off the critical path, after new versions of `envs` went live: removes old versions
    /// (the store's default retention, at most once a minute) and prepares a spare copy of
    /// each new live version, so the next publish or install of a small change costs a few
    /// file operations instead of one link per file ([`Store::prepare`]).
    fn after_change(&self, envs: Vec<String>) {
        if !envs.is_empty() {
            self.changed.send_modify(|n| *n += 1);
        }
        let store = self.store.clone();
        let retain = {
            let mut last = lock(&self.retained_at);
            let due = last.is_none_or(|t| t.elapsed() >= RETAIN_EVERY);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        *lock(&self.background.0) += 1;
        let background = self.background.clone();
        let done = background.clone();
        // A thread of its own at a lower priority (nice 10): the spare copy (one link per
        // file) must not slow down what matters right after a publish, the replicas copying
        // the new version and the requests being answered.
        let spawned = std::thread::Builder::new()
            .name("filesync-background".into())
            .spawn(move || {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                let _ = rustix::process::setpriority_process(
                    rustix::process::Pid::from_raw(rustix::thread::gettid().as_raw_nonzero().get()),
                    10,
                );
                if retain && let Err(e) = store.retain(&Retention::default()) {
                    tracing::warn!("file sync: retention: {e}");
                }
                for env in envs {
                    if let Err(e) = store.prepare(&env) {
                        tracing::warn!("file sync: preparing the next version of {env}: {e}");
                    }
                }
                *lock(&background.0) -= 1;
                background.1.notify_all();
            });
        if let Err(e) = spawned {
            tracing::warn!("file sync: cannot start the background work: {e}");
            *lock(&done.0) -= 1;
            done.1.notify_all();
        }
    }

    /// Waits until the background work after the last publish or install (retention, the
    /// spare copy for the next one) is done: for a benchmark or a test that wants publishes
    /// spaced as they are in life.
    pub async fn settle(&self) {
        let background = self.background.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut pending = lock(&background.0);
            while *pending > 0 {
                pending = background
                    .1
                    .wait(pending)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        })
        .await;
    }

    /// The live version of `env`, after [`SyncedCode::refresh`].
    pub async fn live(&self, env: &str) -> Result<Version, ProtocolError> {
        self.refresh().await;
        let store = self.store.clone();
        let e = env.to_string();
        blocking(move || store.live(&e).map_err(store_error))
            .await?
            .ok_or_else(|| ProtocolError::EnvironmentNotFound(env.to_string()))
    }

    /// The version `code_id` of `env`, if the store holds it (a code_id this store could not
    /// have made is simply not held).
    pub async fn version(
        &self,
        env: &str,
        code_id: &str,
    ) -> Result<Option<Version>, ProtocolError> {
        let Ok(id) = CodeId::parse(code_id) else {
            return Ok(None);
        };
        let store = self.store.clone();
        let e = env.to_string();
        let found = {
            let (store, e, id) = (store.clone(), e.clone(), id.clone());
            blocking(move || store.version(&e, &id).map_err(store_error)).await?
        };
        if found.is_some() || self.replica.is_none() {
            return Ok(found);
        }
        // A replica may not have seen a version another master compiled a catalog for.
        self.refresh().await;
        blocking(move || store.version(&e, &id).map_err(store_error)).await
    }

    /// The live code_id of every environment of the store (no check of the primary).
    async fn local_latest(&self) -> Result<Latest, ProtocolError> {
        let store = self.store.clone();
        blocking(move || {
            let mut environments = BTreeMap::new();
            for env in store.environments().map_err(store_error)? {
                if let Some(v) = store.live(&env).map_err(store_error)? {
                    environments.insert(
                        env,
                        LatestEnvironment {
                            code_id: v.code_id.to_string(),
                        },
                    );
                }
            }
            Ok(Latest { environments })
        })
        .await
    }

    /// Before a `latest` answer: on a replica, the primary's latest code is made live here,
    /// asked with `chain` (the servers the question came through) and this replica's id; a
    /// chain that holds this replica's id already is a loop, refused (508 Loop Detected) with a message
    /// that names it, and so is a question whose answer was that loop further on. Without a
    /// chain (a client that is no file sync server) this is [`SyncedCode::refresh`], and a
    /// loop that check met is the answer. With the primary unreachable, the local versions
    /// stand, as for any request.
    async fn before_latest(&self, chain: &[String]) -> Result<(), ProtocolError> {
        let Some(r) = &self.replica else {
            return Ok(());
        };
        let looped = |r: &Replica| {
            lock(&r.problem)
                .as_ref()
                .and_then(|(l, t)| l.then(|| ProtocolError::LoopDetected(t.clone())))
        };
        if chain.contains(&r.id) {
            let path: Vec<&str> = chain
                .iter()
                .map(String::as_str)
                .chain([r.id.as_str()])
                .collect();
            let message = format!(
                "{LOOP_MESSAGE} {}: the question of the latest code came back to replica {}; each replica's file_sync_primary leads to the next, and a replica's primary must never lead back to it",
                path.join(" -> "),
                r.id
            );
            // Each member logs the loop as an error once, when its own check meets it.
            tracing::debug!("file sync: refused GET /file-sync/v1/latest: {message}");
            return Err(ProtocolError::LoopDetected(message));
        }
        if chain.is_empty() {
            self.refresh().await;
            return looped(r).map_or(Ok(()), Err);
        }
        if lock(&r.failed_at).is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return looped(r).map_or(Ok(()), Err);
        }
        let mut via = chain.to_vec();
        via.push(r.id.clone());
        let relay = lock(&r.relays)
            .pop()
            .unwrap_or_else(|| r.primary.with_own_connection());
        let answer = relay.file_sync_latest_via(&via).await;
        {
            let mut idle = lock(&r.relays);
            if idle.len() < FETCH_LANES {
                idle.push(relay);
            }
        }
        let latest = match answer {
            Ok(latest) => latest,
            Err(e) => {
                let e = match loop_message(&e) {
                    Some(m) => SyncError::Loop(m.to_string()),
                    None => e.into(),
                };
                self.failed(r, &e);
                return match e {
                    SyncError::Loop(m) => Err(ProtocolError::LoopDetected(m)),
                    _ => Ok(()),
                };
            }
        };
        let store = self.store.clone();
        let wanted = latest.clone();
        let current = blocking(move || {
            for (env, l) in &wanted.environments {
                let live = store.live(env).map_err(store_error)?;
                if live.is_none_or(|v| v.code_id.as_str() != l.code_id) {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await?;
        if current {
            self.checked(r);
        } else {
            // Copied as a check copies (one at a time), from the answer just received.
            let _turn = r.check.lock().await;
            match self.sync_latest(&r.primary, latest).await {
                Ok(()) => self.checked(r),
                Err(e) => self.failed(r, &e),
            }
        }
        Ok(())
    }

    /// The environments with a live version.
    pub async fn environments(&self) -> Result<Vec<String>, ProtocolError> {
        self.refresh().await;
        let store = self.store.clone();
        blocking(move || store.environments().map_err(store_error)).await
    }
}

/// Whether a catalog holds a Sensitive value: a resource's `sensitive_parameters`, or a
/// rich-data `Sensitive` anywhere in its parameters.
fn holds_sensitive(catalog: &Catalog) -> bool {
    fn rich(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                m.get("__ptype").and_then(|t| t.as_str()) == Some("Sensitive")
                    || m.values().any(rich)
            }
            serde_json::Value::Array(a) => a.iter().any(rich),
            _ => false,
        }
    }
    catalog.resources.iter().any(|r| {
        r.sensitive_parameters.is_some()
            || r.parameters.as_ref().is_some_and(|p| p.values().any(rich))
    })
}

/// Writes `bytes` to `path` readable by this user only (temp file, fsync, rename).
fn write_kept(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Fetches the primary's CRL and writes it to `path` (temp file, fsync, rename) when it
/// changed.
async fn refresh_crl(primary: &Client, path: &Path) {
    let pem = match primary.crl().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("file sync: cannot fetch the primary's CRL: {e}");
            return;
        }
    };
    if !pem.contains("-----BEGIN X509 CRL-----") {
        tracing::warn!(
            "file sync: the primary's CRL is not a PEM CRL; keeping {}",
            path.display()
        );
        return;
    }
    let path = path.to_path_buf();
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
        if std::fs::read_to_string(&path).is_ok_and(|old| old == pem) {
            return Ok(false);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, pem.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(true)
    })
    .await;
    match written {
        Ok(Ok(true)) => tracing::info!("file sync: updated the CRL from the primary"),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!("file sync: cannot write the CRL: {e}"),
        Err(e) => tracing::warn!("file sync: CRL task: {e}"),
    }
}

/// The file server of file sync (see the module docs).
#[derive(Debug, Clone)]
pub struct SyncedFileServer {
    code: Arc<SyncedCode>,
}

impl SyncedFileServer {
    /// Serves `code`'s versions.
    pub fn new(code: Arc<SyncedCode>) -> SyncedFileServer {
        SyncedFileServer { code }
    }
}

#[async_trait]
impl FileServer for SyncedFileServer {
    async fn metadata(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<FileMetadata, ProtocolError> {
        let v = self.code.live(env).await?;
        ModuleFileServer::pinned(env, v.path)
            .metadata(env, path, options)
            .await
    }

    async fn metadatas(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<Vec<FileMetadata>, ProtocolError> {
        let v = self.code.live(env).await?;
        ModuleFileServer::pinned(env, v.path)
            .metadatas(env, path, options)
            .await
    }

    async fn content(&self, env: &str, path: &str) -> Result<Vec<u8>, ProtocolError> {
        let v = self.code.live(env).await?;
        ModuleFileServer::pinned(env, v.path)
            .content(env, path)
            .await
    }

    /// Any version the store still holds; a code_id never published here, or removed by
    /// retention: 404.
    async fn static_content(
        &self,
        _certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<Vec<u8>, ProtocolError> {
        let Some(v) = self.code.version(env, code_id).await? else {
            return Err(ProtocolError::NotFound(format!(
                "Could not find file content for {path} at code_id {code_id} in environment {env}"
            )));
        };
        let server = ModuleFileServer::pinned(env, v.path);
        let (env, path) = (env.to_string(), path.to_string());
        blocking(move || server.content_sync(&env, &path, true)).await
    }

    fn content_uri(&self, source_path: &str) -> Option<String> {
        crate::files::module_content_uri(source_path)
    }

    async fn environments(&self) -> Result<Vec<String>, ProtocolError> {
        self.code.environments().await
    }

    fn environment_dir(&self, env: &str) -> Option<PathBuf> {
        puppet_filesync::check_environment(env).ok()?;
        Some(self.code.store.environments_dir().join(env))
    }
}

#[derive(Debug)]
struct Reused {
    code_id: CodeId,
    checksum: String,
    catalog: Arc<Catalog>,
}

/// The compiler of file sync: each catalog from one materialized version, stamped with its
/// code_id, and reused per (node, environment) while the code_id and the checksum type are
/// unchanged (see the module docs).
#[derive(Debug, Clone)]
pub struct SyncedCompiler {
    code: Arc<SyncedCode>,
    compiler: DataCompiler,
    /// Where compiled catalogs are kept across a restart (`<dir>/<env>/<certname>.json`,
    /// 0600): a node's catalog is reused after a restart when it was compiled from the live
    /// code_id. Catalogs holding a Sensitive value are never written.
    keep_dir: Option<PathBuf>,
    reuse: Arc<Mutex<HashMap<(String, String), Reused>>>,
    compiles: Arc<AtomicU64>,
}

impl SyncedCompiler {
    /// Compiles with `compiler` (its environments directory is not used: each catalog is
    /// compiled from a version of `code`).
    pub fn new(code: Arc<SyncedCode>, compiler: DataCompiler) -> SyncedCompiler {
        SyncedCompiler {
            code,
            compiler,
            keep_dir: None,
            reuse: Arc::default(),
            compiles: Arc::default(),
        }
    }

    /// Keeps compiled catalogs in `dir` so they are reused after a restart while the code_id
    /// is unchanged (a catalog holding a Sensitive value is not written: it is compiled again
    /// after a restart).
    pub fn keep_in(mut self, dir: impl Into<PathBuf>) -> SyncedCompiler {
        self.keep_dir = Some(dir.into());
        self
    }

    fn kept_path(&self, certname: &str, env: &str) -> Option<PathBuf> {
        let dir = self.keep_dir.as_ref()?;
        puppet_ca::validate_certname(certname).ok()?;
        puppet_filesync::check_environment(env).ok()?;
        Some(dir.join(env).join(format!("{certname}.json")))
    }

    /// The node's kept catalog, when it is one of `code_id` whose static metadata uses
    /// `checksum`.
    async fn kept(
        &self,
        certname: &str,
        env: &str,
        code_id: &CodeId,
        checksum: &str,
    ) -> Option<Catalog> {
        let path = self.kept_path(certname, env)?;
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .ok()?
            .ok()?;
        let catalog = Catalog::from_json(&bytes).ok()?;
        let same_code = catalog.code_id.as_ref().and_then(|v| v.as_str()) == Some(code_id.as_str());
        let same_env = catalog.environment.as_deref() == Some(env);
        let metadata = catalog.metadata.as_ref()?;
        let same_checksum = metadata
            .values()
            .all(|m| m.pointer("/checksum/type").and_then(|t| t.as_str()) == Some(checksum));
        (same_code && same_env && same_checksum && catalog.recursive_metadata.is_some())
            .then_some(catalog)
    }

    /// Writes the catalog for a restart (temp file 0600, fsync, rename), in the background;
    /// not a catalog holding a Sensitive value.
    fn keep(&self, certname: &str, env: &str, catalog: &Catalog) {
        let Some(path) = self.kept_path(certname, env) else {
            return;
        };
        if holds_sensitive(catalog) {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(catalog) else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = write_kept(&path, &bytes) {
                tracing::warn!("file sync: cannot keep {}: {e}", path.display());
            }
        });
    }

    /// How many catalogs were compiled (not reused) so far.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl CatalogCompiler for SyncedCompiler {
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError> {
        let v = self.code.live(&request.environment).await?;
        let checksum = pick_checksum(&request.checksum_types);
        let key = (request.certname.clone(), request.environment.clone());
        if let Some(hit) = lock(&self.reuse).get(&key)
            && hit.code_id == v.code_id
            && hit.checksum == checksum
        {
            return Ok(Catalog::clone(&hit.catalog));
        }
        if let Some(catalog) = self
            .kept(
                &request.certname,
                &request.environment,
                &v.code_id,
                &checksum,
            )
            .await
        {
            lock(&self.reuse).insert(
                key,
                Reused {
                    code_id: v.code_id,
                    checksum,
                    catalog: Arc::new(catalog.clone()),
                },
            );
            return Ok(catalog);
        }
        // Always with the static metadata (the route strips it for an agent that did not
        // ask), so the kept catalog suits every request.
        let mut req = request.clone();
        req.static_catalog = true;
        let files = ModuleFileServer::pinned(&request.environment, &v.path);
        let catalog = self
            .compiler
            .compile_from(v.path.clone(), Some(v.code_id.as_str()), Some(&files), &req)
            .await?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.keep(&request.certname, &request.environment, &catalog);
        lock(&self.reuse).insert(
            key,
            Reused {
                code_id: v.code_id,
                checksum,
                catalog: Arc::new(catalog.clone()),
            },
        );
        Ok(catalog)
    }
}

/// The `/file-sync/v1` service: a primary publishes its staging codedir; a primary or a
/// replica gives its versions to replicas (so replicas can form a chain or a tree: a
/// replica's `latest` first checks its own primary, and its long poll answers when it has
/// installed a new version).
#[derive(Debug, Clone)]
pub struct PrimaryFileSync {
    code: Arc<SyncedCode>,
}

impl PrimaryFileSync {
    /// Over a primary's ([`SyncedCode::primary`]) or a replica's code
    /// ([`SyncedCode::replica`]: publishing there answers 404).
    pub fn new(code: Arc<SyncedCode>) -> PrimaryFileSync {
        PrimaryFileSync { code }
    }
}

#[async_trait]
impl FileSync for PrimaryFileSync {
    async fn publish(&self, environment: Option<&str>) -> Result<PublishAnswer, ProtocolError> {
        let staging = self.code.staging.clone().ok_or_else(|| {
            ProtocolError::NotFound(
                "This master is not a file sync primary: publish on the primary".into(),
            )
        })?;
        let envs_dir = staging.join("environments");
        if let Some(env) = environment
            && !envs_dir.join(env).is_dir()
        {
            return Err(ProtocolError::EnvironmentNotFound(env.to_string()));
        }
        let store = self.code.store.clone();
        let only = environment.map(String::from);
        let published = blocking(move || {
            store
                // The stat cache is written with the spare copy, after the reply
                // (`after_change`).
                .publish_codedir_with(
                    &staging,
                    only.as_deref(),
                    &PublishOptions::default().defer_stat_cache(true),
                )
                .map_err(store_error)
        })
        .await?;
        let mut answer = PublishAnswer::default();
        for p in published {
            tracing::info!(
                "file sync: published {} at {} ({})",
                p.environment,
                p.code_id,
                p.status.as_str()
            );
            answer.environments.insert(
                p.environment,
                PublishedEnvironment {
                    code_id: p.code_id.to_string(),
                    status: match p.status {
                        Status::Published => PublishStatus::Published,
                        _ => PublishStatus::Unchanged,
                    },
                },
            );
        }
        let changed = answer
            .environments
            .iter()
            .filter(|(_, p)| p.status == PublishStatus::Published)
            .map(|(e, _)| e.clone())
            .collect();
        self.code.after_change(changed);
        Ok(answer)
    }

    /// On a replica, after a check of its own primary (a replica of this replica then sees
    /// what a request here would: a publish that returned before it asked).
    async fn latest(&self) -> Result<Latest, ProtocolError> {
        self.latest_via(&[]).await
    }

    /// On a replica, after a check of its own primary asked with `chain` and this replica's
    /// id ([`CHAIN_HEADER`](puppet_protocol::filesync::CHAIN_HEADER)): a chain that holds this replica already is a loop of replicas,
    /// refused with a 508 that names it.
    async fn latest_via(&self, chain: &[String]) -> Result<Latest, ProtocolError> {
        self.code.before_latest(chain).await?;
        self.code.local_latest().await
    }

    async fn latest_changed(&self, known: &str, wait: Duration) -> Result<Latest, ProtocolError> {
        let mut changed = self.code.changed.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            changed.borrow_and_update();
            let latest = self.code.local_latest().await?;
            if latest.tag() != known {
                return Ok(latest);
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return Ok(latest),
            }
        }
    }

    async fn manifest(
        &self,
        environment: &str,
        code_id: &CodeId,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let (store, env, id) = (
            self.code.store.clone(),
            environment.to_string(),
            code_id.clone(),
        );
        blocking(move || store.manifest_bytes(&env, &id).map_err(store_error)).await
    }

    async fn blob(&self, digest: &Digest) -> Result<Option<Vec<u8>>, ProtocolError> {
        let (store, d) = (self.code.store.clone(), *digest);
        blocking(move || {
            if !store.has_blob(&d) {
                return Ok(None);
            }
            // read_blob checks the digest: a damaged blob is an error, never content.
            store.read_blob(&d).map(Some).map_err(store_error)
        })
        .await
    }
}

/// The CA endpoints of a replica, which has no CA: the CA certificate and CRL it holds
/// (`certs/ca.pem`, `crl.pem` of its ssldir); everything else is the CA server's (404).
#[derive(Debug, Clone)]
pub struct ReplicaCa {
    ssldir: PathBuf,
}

impl ReplicaCa {
    /// Over a replica's ssldir.
    pub fn new(ssldir: impl Into<PathBuf>) -> ReplicaCa {
        ReplicaCa {
            ssldir: ssldir.into(),
        }
    }

    fn read(&self, rel: &str) -> Result<String, ProtocolError> {
        let p = self.ssldir.join(rel);
        std::fs::read_to_string(&p).map_err(|e| ProtocolError::io(p.display().to_string(), e))
    }
}

fn no_ca() -> ProtocolError {
    ProtocolError::NotFound(
        "This master is a file sync replica and has no CA: use the primary (ca_server)".into(),
    )
}

#[async_trait]
impl CaService for ReplicaCa {
    async fn ca_certificate(&self) -> Result<String, ProtocolError> {
        self.read("certs/ca.pem")
    }
    async fn crl(&self) -> Result<String, ProtocolError> {
        self.read("crl.pem")
    }
    async fn submit_csr(&self, _: &str, _: Vec<u8>) -> Result<bool, ProtocolError> {
        Err(no_ca())
    }
    async fn csr(&self, _: &str) -> Result<Option<String>, ProtocolError> {
        Err(no_ca())
    }
    async fn certificate(&self, _: &str) -> Result<Option<String>, ProtocolError> {
        Err(no_ca())
    }
    async fn status(&self, _: &str) -> Result<Option<puppet_ca::CertStatus>, ProtocolError> {
        Err(no_ca())
    }
    async fn statuses(
        &self,
        _: Option<puppet_ca::CertState>,
    ) -> Result<Vec<puppet_ca::CertStatus>, ProtocolError> {
        Err(no_ca())
    }
    async fn set_state(
        &self,
        _: &str,
        _: puppet_protocol::ca::DesiredState,
    ) -> Result<(), ProtocolError> {
        Err(no_ca())
    }
    async fn clean(&self, _: &str) -> Result<bool, ProtocolError> {
        Err(no_ca())
    }
    async fn delete(&self, _: &str) -> Result<(), ProtocolError> {
        Err(no_ca())
    }
    async fn expirations(&self) -> Result<puppet_ca::Expirations, ProtocolError> {
        Err(no_ca())
    }
    async fn renew(&self, _: &[u8]) -> Result<String, ProtocolError> {
        Err(no_ca())
    }
}

/// Replaces the compiler and the file server of `services` by those of file sync over
/// `code` (the compiler keeps `compiler`'s caches, and with `keep_dir` keeps its catalogs
/// there for reuse after a restart: [`SyncedCompiler::keep_in`]), and sets the `/file-sync/v1` service (a replica serves its versions to replicas of its
/// own). Returns the
/// compiler (to count its compiles).
pub fn use_file_sync(
    services: &mut puppet_protocol::server::Services,
    code: Arc<SyncedCode>,
    compiler: DataCompiler,
    keep_dir: Option<PathBuf>,
) -> SyncedCompiler {
    let mut synced = SyncedCompiler::new(code.clone(), compiler);
    if let Some(dir) = keep_dir {
        synced = synced.keep_in(dir);
    }
    services.files = Arc::new(SyncedFileServer::new(code.clone()));
    services.compiler = Arc::new(synced.clone());
    services.file_sync = Some(Arc::new(PrimaryFileSync::new(code)));
    synced
}
