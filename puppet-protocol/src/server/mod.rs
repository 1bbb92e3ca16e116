//! The HTTPS master framework (feature `server`).
//!
//! [`Master`] serves `/puppet/v3`, `/puppet-ca/v1` and `/status/v1` over TLS (rustls) and
//! HTTP/1.1 keep-alive (hyper 1). Each part is an async trait held in [`Services`], so a
//! master is composed from them: [`CatalogCompiler`], [`NodeClassifier`], [`ReportSink`],
//! [`FactStore`], [`CatalogArchive`], [`FileServer`], [`FileBucket`], [`CaService`] and,
//! optionally, [`FileSync`] (`/file-sync/v1`).
//! This crate holds no implementation of them: the `puppet-master` crate has defaults that
//! work from files (catalogs from data, the module file server, on-disk storage, a CA over
//! `puppet-ca`) and composes a master from a Puppet confdir.

mod cache;
pub mod generic;
mod http;
mod limits;
mod routes;
mod service_fn;
mod stream;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use puppet_ca::{CertState, CertStatus, Expirations};
use puppet_catalog::Catalog;
use puppet_facts::Facts;
use serde_json::{Map, Value};

pub use limits::Limits;
pub use service_fn::{classifier_fn, compiler_fn};
pub use tls::{TlsFiles, TlsSource};

use crate::ca::DesiredState;
use crate::files::{FileMetadata, MetadataOptions};
use crate::{AuthPolicy, ProtocolError};

/// Errors while setting a master up (not while serving: those are [`ProtocolError`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path or address.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CRL could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// What the node classifier says about a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeInfo {
    /// The certname.
    pub name: String,
    /// The environment the node is in: the catalog is compiled there, whatever the agent
    /// asked for (Puppet's server-specified environment; the agent switches to it).
    pub environment: String,
    /// Classes to add to its catalog.
    pub classes: Vec<String>,
    /// Parameters (the stored fact values for the default classifier).
    pub parameters: Option<Map<String, Value>>,
}

impl NodeInfo {
    /// A node in `environment`, with no classes or parameters.
    ///
    /// ```
    /// use puppet_protocol::server::NodeInfo;
    /// assert_eq!(NodeInfo::new("n1", "production").environment, "production");
    /// ```
    pub fn new(name: impl Into<String>, environment: impl Into<String>) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            environment: environment.into(),
            ..NodeInfo::default()
        }
    }

    /// The node document as `GET /puppet/v3/node/:name` answers it.
    ///
    /// ```
    /// use puppet_protocol::server::NodeInfo;
    /// let node = NodeInfo { name: "n1".into(), environment: "production".into(), ..NodeInfo::default() };
    /// assert_eq!(node.to_json(), serde_json::json!({"name": "n1", "environment": "production"}));
    /// ```
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert(
            "environment".into(),
            Value::String(self.environment.clone()),
        );
        if !self.classes.is_empty() {
            m.insert(
                "classes".into(),
                Value::Array(self.classes.iter().cloned().map(Value::String).collect()),
            );
        }
        if let Some(p) = &self.parameters {
            m.insert("parameters".into(), Value::Object(p.clone()));
        }
        Value::Object(m)
    }
}

/// Everything a compiler gets for one catalog request.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileRequest {
    /// The node's certname (the authenticated client).
    pub certname: String,
    /// The environment to compile in: the classifier's ([`NodeInfo::environment`]).
    pub environment: String,
    /// The node's facts: those sent with the request, else the last stored ones.
    pub facts: Option<Facts>,
    /// What the classifier said.
    pub node: NodeInfo,
    /// The agent's `transaction_uuid`.
    pub transaction_uuid: Option<String>,
    /// `static_catalog=true`: inline file metadata for a catalog with a `code_id`.
    pub static_catalog: bool,
    /// The agent's checksum preference list.
    pub checksum_types: Vec<String>,
}

impl CompileRequest {
    /// The node's fact at a dotted path (`os.family`, `networking.interfaces.lo.ip`), as
    /// [`Facts::get`] finds it.
    pub fn fact(&self, path: &str) -> Option<&serde_json::Value> {
        self.facts.as_ref()?.get(path)
    }
}

/// Compiles a catalog for a node.
#[async_trait]
pub trait CatalogCompiler: Send + Sync {
    /// The catalog for this request. A catalog with a `code_id` string is a static catalog:
    /// when the request asks for one, the compiler inlines the file metadata (`metadata`,
    /// `recursive_metadata`); the master strips them when it does not.
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError>;

    /// Whether the catalog for `request` may be served again without compiling, and under
    /// which key: two requests of the same node in the same environment that get the same
    /// key must get the same catalog, byte for byte (so a compiler that returns a key makes
    /// its output a function of what the key covers: no per-compile UUID or timestamp). The
    /// master then keeps the last catalog it sent each node, encoded and gzipped, and sends it
    /// again while the key stays the same, skipping the compile, the encoding and the
    /// archive (which already holds it). The key must change whenever the output would:
    /// code, data, the facts the catalog depends on, the classifier's answer, the request's
    /// `static_catalog` and checksum types.
    ///
    /// Default: `None`, compile every time. Called on every catalog request (and once more
    /// after a compile, to check that nothing changed meanwhile), so it must be cheap: a few
    /// `stat`s and a hash, not a compile; blocking work goes to a blocking thread. A wrapper
    /// around another compiler should return `None` unless it knows what its own output
    /// depends on.
    ///
    /// ```
    /// use async_trait::async_trait;
    /// use puppet_catalog::Catalog;
    /// use puppet_protocol::ProtocolError;
    /// use puppet_protocol::server::{CatalogCompiler, CompileRequest};
    ///
    /// /// The same catalog for every node (named for it) while `version` is unchanged.
    /// struct Fixed { version: u64, catalog: Catalog }
    ///
    /// #[async_trait]
    /// impl CatalogCompiler for Fixed {
    ///     async fn compile(&self, r: &CompileRequest) -> Result<Catalog, ProtocolError> {
    ///         let mut c = self.catalog.clone();
    ///         c.name = r.certname.clone();
    ///         Ok(c)
    ///     }
    ///     async fn cache_key(&self, _r: &CompileRequest) -> Option<String> {
    ///         Some(format!("v{}", self.version))
    ///     }
    /// }
    /// ```
    async fn cache_key(&self, request: &CompileRequest) -> Option<String> {
        let _ = request;
        None
    }
}

/// Classifies a node: environment, classes, parameters.
#[async_trait]
pub trait NodeClassifier: Send + Sync {
    /// Classifies `certname`, given the environment it asked for and its facts.
    async fn classify(
        &self,
        certname: &str,
        environment: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError>;
}

/// Receives reports.
#[async_trait]
pub trait ReportSink: Send + Sync {
    /// Stores one report (already parsed and checked; `raw` is the body as sent). Returns
    /// the names of the report processors that ran (Puppetserver answers `["store"]`).
    async fn store_report(
        &self,
        certname: &str,
        report: &puppet_report::Report,
        raw: &[u8],
    ) -> Result<Vec<String>, ProtocolError>;
}

/// Stores each node's last facts.
#[async_trait]
pub trait FactStore: Send + Sync {
    /// Saves the facts of `certname` (already parsed, and named for it).
    async fn save_facts(&self, certname: &str, facts: &Facts) -> Result<(), ProtocolError>;
    /// The last facts of `certname`.
    async fn facts(&self, certname: &str) -> Result<Option<Facts>, ProtocolError>;
    /// Saves the facts an agent sent for a run in `environment` (with its catalog request,
    /// or `PUT /puppet/v3/facts`), as Puppetserver's facts terminus receives them (PuppetDB's
    /// `replace facts` names the environment). Default: [`FactStore::save_facts`].
    async fn save_facts_for(
        &self,
        certname: &str,
        facts: &Facts,
        environment: &str,
    ) -> Result<(), ProtocolError> {
        let _ = environment;
        self.save_facts(certname, facts).await
    }
    /// Saves the facts an agent sent, as [`FactStore::save_facts_for`], knowing the
    /// certificate (DER) the agent's request was made with, `None` without one. Puppetserver
    /// makes the node's `trusted` data from that certificate (`trusted.extensions`: its Puppet
    /// extensions, `pp_role` and the like), and its PuppetDB terminus stores it with the facts.
    /// The master calls this for the facts of a catalog request and of `PUT /facts`. Default:
    /// [`FactStore::save_facts_for`].
    async fn save_client_facts(
        &self,
        certname: &str,
        facts: &Facts,
        environment: &str,
        client_cert_der: Option<&[u8]>,
    ) -> Result<(), ProtocolError> {
        let _ = client_cert_der;
        self.save_facts_for(certname, facts, environment).await
    }
}

/// Keeps each node's last catalog.
#[async_trait]
pub trait CatalogArchive: Send + Sync {
    /// Saves the catalog served to `certname`; `json` is the document as it was sent.
    async fn save_catalog(
        &self,
        certname: &str,
        catalog: &Catalog,
        json: &[u8],
    ) -> Result<(), ProtocolError>;
    /// Saves the catalog compiled for `request` (the node, its environment, the run's
    /// `transaction_uuid`), as Puppetserver's catalog terminus receives it. Default:
    /// [`CatalogArchive::save_catalog`].
    async fn save_compiled(
        &self,
        request: &CompileRequest,
        catalog: &Catalog,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        self.save_catalog(&request.certname, catalog, json).await
    }
    /// Told when the master sends `request`'s node the catalog it sent last time again,
    /// without compiling (see [`CatalogCompiler::cache_key`]); `json` is the catalog as sent.
    /// Puppetserver would have compiled and saved it again: an archive that forwards each
    /// run's catalog (to PuppetDB) does so here. Default: nothing (the archive holds it).
    async fn catalog_resent(
        &self,
        request: &CompileRequest,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        let _ = (request, json);
        Ok(())
    }
}

/// Serves files: metadata and content by mount path (`modules/<m>/<path>`, `plugins/...`).
#[async_trait]
pub trait FileServer: Send + Sync {
    /// `file_metadata`: one entry, `relative_path` null.
    async fn metadata(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<FileMetadata, ProtocolError>;
    /// `file_metadatas`: the root as `"."`, then, with `recurse`, everything below it.
    async fn metadatas(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<Vec<FileMetadata>, ProtocolError>;
    /// `file_content`.
    async fn content(&self, env: &str, path: &str) -> Result<Vec<u8>, ProtocolError>;
    /// `file_content` as the master sends it: the bytes, or an open file that is streamed to
    /// the client (never held in memory whole). Default: [`FileServer::content`]'s bytes.
    async fn content_body(&self, env: &str, path: &str) -> Result<FileContent, ProtocolError> {
        self.content(env, path).await.map(FileContent::Bytes)
    }
    /// `static_file_content` (a `content_uri` path) at code version `code_id`, for the
    /// node `certname`. Which versions are served is the file server's decision (one that
    /// keeps only the current code refuses any other `code_id` with 404).
    async fn static_content(
        &self,
        certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<Vec<u8>, ProtocolError>;
    /// `static_file_content` as the master sends it (see [`FileServer::content_body`]).
    /// Default: [`FileServer::static_content`]'s bytes.
    async fn static_content_body(
        &self,
        certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<FileContent, ProtocolError> {
        self.static_content(certname, env, path, code_id)
            .await
            .map(FileContent::Bytes)
    }
    /// Told after a catalog with `code_id` was served to `certname` in `env`, so the file
    /// server knows which code version that node's agent will ask for. Default: nothing.
    fn catalog_served(&self, certname: &str, env: &str, code_id: &str) {
        let _ = (certname, env, code_id);
    }
    /// The `content_uri` path (without `puppet:///`) for a source path, when static catalogs
    /// can inline it; `None` otherwise.
    fn content_uri(&self, source_path: &str) -> Option<String>;
    /// The environments that exist.
    async fn environments(&self) -> Result<Vec<String>, ProtocolError>;
    /// The directory of an environment, for the `environments` answer.
    fn environment_dir(&self, env: &str) -> Option<PathBuf>;
}

/// A file's content as a [`FileServer`] gives it to the master.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileContent {
    /// The bytes.
    Bytes(Vec<u8>),
    /// An open file, read from where it stands to its end: small files are read and sent
    /// gzipped as other answers, larger ones are sent in chunks as they are read (not
    /// gzipped), so that a large file never sits in memory whole.
    File(std::fs::File),
}

/// The file bucket (`file_bucket_file`): contents by digest.
#[async_trait]
pub trait FileBucket: Send + Sync {
    /// Stores contents whose digest has been checked.
    async fn put(&self, algorithm: &str, digest: &str, bytes: &[u8]) -> Result<(), ProtocolError>;
    /// Contents by digest.
    async fn get(&self, algorithm: &str, digest: &str) -> Result<Option<Vec<u8>>, ProtocolError>;
}

/// The CA endpoints' backend. Errors of a [`puppet_ca::CertificateAuthority`] go through
/// [`ProtocolError::ca`], which answers them as Puppetserver does.
#[async_trait]
pub trait CaService: Send + Sync {
    /// The CA certificate (bundle), PEM.
    async fn ca_certificate(&self) -> Result<String, ProtocolError>;
    /// The CRL, PEM.
    async fn crl(&self) -> Result<String, ProtocolError>;
    /// Submits a CSR; `true` when it was autosigned.
    async fn submit_csr(&self, certname: &str, csr_pem: Vec<u8>) -> Result<bool, ProtocolError>;
    /// A pending CSR.
    async fn csr(&self, certname: &str) -> Result<Option<String>, ProtocolError>;
    /// A signed certificate.
    async fn certificate(&self, certname: &str) -> Result<Option<String>, ProtocolError>;
    /// The status of `certname` (`certificate_status`).
    async fn status(&self, certname: &str) -> Result<Option<CertStatus>, ProtocolError>;
    /// Every status (`certificate_statuses`), optionally only those in one state.
    async fn statuses(&self, state: Option<CertState>) -> Result<Vec<CertStatus>, ProtocolError>;
    /// Signs or revokes (`PUT certificate_status`).
    async fn set_state(&self, certname: &str, desired: DesiredState) -> Result<(), ProtocolError>;
    /// Revokes and deletes the signed certificate of `certname` (and any pending CSR), as
    /// `PUT /puppet-ca/v1/clean` does; `false` when there is no signed certificate (then
    /// nothing is done).
    async fn clean(&self, certname: &str) -> Result<bool, ProtocolError>;
    /// Deletes the certificate and CSR of `certname` **without** revoking, as Puppetserver's
    /// `DELETE /puppet-ca/v1/certificate_status/:name` does; 404 when there is nothing.
    async fn delete(&self, certname: &str) -> Result<(), ProtocolError>;
    /// `GET /puppet-ca/v1/expirations`.
    async fn expirations(&self) -> Result<Expirations, ProtocolError>;
    /// Renews the client's certificate (DER, as presented in the TLS handshake); the new
    /// certificate as PEM.
    async fn renew(&self, cert_der: &[u8]) -> Result<String, ProtocolError>;
}

/// File sync (`/file-sync/v1`): a primary publishes staged code and gives its versions to
/// replicas. Authorization is the router's: `publish` only for the admin certnames, the
/// rest for any client certificate of the CA (not revoked). A master without file sync has
/// `None` in [`Services::file_sync`] and answers these endpoints 404.
#[async_trait]
pub trait FileSync: Send + Sync {
    /// Publishes the staging codedir: `environment`, or every staged environment.
    async fn publish(
        &self,
        environment: Option<&str>,
    ) -> Result<crate::filesync::PublishAnswer, ProtocolError>;
    /// The live code_id of every environment.
    async fn latest(&self) -> Result<crate::filesync::Latest, ProtocolError>;
    /// [`FileSync::latest`] for a request that came through the file sync servers `chain`
    /// names ([`CHAIN_HEADER`](crate::filesync::CHAIN_HEADER), oldest first; empty: from a
    /// client that is no file sync server). A server that would ask another must refuse a
    /// chain holding its own id (a loop). The default ignores the chain.
    async fn latest_via(&self, chain: &[String]) -> Result<crate::filesync::Latest, ProtocolError> {
        let _ = chain;
        self.latest().await
    }
    /// A version's manifest, serialized (it hashes to `code_id`); `None` when that version
    /// is unknown or gone.
    async fn manifest(
        &self,
        environment: &str,
        code_id: &puppet_filesync::CodeId,
    ) -> Result<Option<Vec<u8>>, ProtocolError>;
    /// A blob whose content has been checked against `digest`; `None` when absent. A blob
    /// that does not match its digest is an error, never content.
    async fn blob(
        &self,
        digest: &puppet_filesync::Digest,
    ) -> Result<Option<Vec<u8>>, ProtocolError>;
    /// The long poll of `GET /file-sync/v1/latest?known=TAG&wait=SECONDS`: the live code_ids
    /// as soon as their [`Latest::tag`](crate::filesync::Latest::tag) differs from `known`
    /// (at once if it already does), or when `wait` runs out. A replica keeps one open so
    /// that it starts copying a new version the moment it is published. The default answers
    /// at once (no waiting: the replica then asks again after its pause).
    async fn latest_changed(
        &self,
        known: &str,
        wait: std::time::Duration,
    ) -> Result<crate::filesync::Latest, ProtocolError> {
        let _ = (known, wait);
        self.latest().await
    }
}

/// The parts a master is made of.
#[derive(Clone)]
pub struct Services {
    /// CA endpoints.
    pub ca: Arc<dyn CaService>,
    /// Catalogs.
    pub compiler: Arc<dyn CatalogCompiler>,
    /// Node classification.
    pub classifier: Arc<dyn NodeClassifier>,
    /// Reports.
    pub reports: Arc<dyn ReportSink>,
    /// Facts.
    pub facts: Arc<dyn FactStore>,
    /// Last catalogs.
    pub catalogs: Arc<dyn CatalogArchive>,
    /// Files.
    pub files: Arc<dyn FileServer>,
    /// File bucket.
    pub bucket: Arc<dyn FileBucket>,
    /// File sync (`None`: the `/file-sync/v1` endpoints answer 404).
    pub file_sync: Option<Arc<dyn FileSync>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Services { .. }")
    }
}

/// Limits and identity of a master.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: u64,
    /// Authorization rules.
    pub auth: AuthPolicy,
    /// The `X-Puppet-Version` sent.
    pub puppet_version: String,
    /// The default environment.
    pub default_environment: String,
    /// Body limits per endpoint, timeouts, the connection cap and the shutdown grace.
    pub limits: Limits,
}

impl Default for MasterOptions {
    fn default() -> Self {
        MasterOptions {
            max_body_bytes: 32 * 1024 * 1024,
            auth: AuthPolicy::default(),
            puppet_version: crate::PUPPET_VERSION.to_string(),
            default_environment: "production".into(),
            limits: Limits::default(),
        }
    }
}

/// A master: TLS, services and options, ready to bind.
#[derive(Clone)]
pub struct Master {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) tls: TlsSource,
    pub(crate) services: Services,
    pub(crate) options: MasterOptions,
    /// The last catalog sent to each node, for compilers that give a cache key.
    pub(crate) catalogs: cache::CatalogCache,
    /// Becomes `true` when the master starts draining: a long poll answers at once.
    pub(crate) draining: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Master {
    /// A master from its parts. (`puppet_master::default_services` gives a set of parts
    /// that work from files; its crate docs compose and bind a master in a runnable
    /// example.)
    pub fn new(tls: TlsSource, services: Services, options: MasterOptions) -> Master {
        Master {
            inner: Arc::new(Inner {
                catalogs: cache::CatalogCache::new(options.limits.catalog_cache_bytes),
                draining: tokio::sync::watch::channel(false).0,
                tls,
                services,
                options,
            }),
        }
    }

    /// Binds `addr` and starts serving in the background.
    pub async fn bind(&self, addr: SocketAddr) -> Result<RunningMaster, ServerError> {
        let running = bind_serving(addr, self.inner.clone()).await?;
        tracing::info!(addr = %running.local_addr(), "puppet master listening");
        Ok(running)
    }
}

/// Binds `addr` and runs the accept loop of `server` in the background.
pub(crate) async fn bind_serving<S: http::Serve>(
    addr: SocketAddr,
    server: Arc<S>,
) -> Result<RunningMaster, ServerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Io {
            what: format!("bind {addr}"),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServerError::Io {
        what: "local address".into(),
        source,
    })?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(http::accept_loop(listener, server, stopped));
    Ok(RunningMaster {
        addr: local,
        stop,
        task,
    })
}

/// A master that is serving.
#[derive(Debug)]
pub struct RunningMaster {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningMaster {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Graceful shutdown: stops accepting (the listening socket is closed), lets the
    /// requests in flight finish and closes idle keep-alive connections, waits up to
    /// [`Limits::shutdown_grace`] for them, closes whatever is still open, then returns.
    /// See [`RunningMaster::run_until`] for a binary's SIGTERM.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Serves until the process ends.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}
