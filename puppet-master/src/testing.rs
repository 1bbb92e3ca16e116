//! A master for harness tests (feature `testing`): in-process, on a free loopback port, over
//! temporary directories and its own CA (EC P-256 keys, so it starts in milliseconds), with
//! the client TLS material a test needs.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let master = puppet_master::testing::TestMaster::start().await.unwrap();
//! let mut conn = master.client_for("n1.example.test").unwrap().connect().await.unwrap();
//! assert_eq!(conn.request("GET", "/status/v1/simple", None, vec![]).await.unwrap().body, b"running");
//! # });
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
use puppet_protocol::AuthPolicy;
use puppet_protocol::client::{Client, Identity};
use puppet_protocol::server::{
    Master, MasterOptions, RunningMaster, Services, TlsFiles, TlsSource,
};

use crate::filesync::{SyncedCode, SyncedCompiler};
use crate::{FsStorage, MasterError};

/// The test master's own certname (its certificate also names `localhost` and `127.0.0.1`).
pub const MASTER_CERTNAME: &str = "master.example.test";

/// The certname the test master accepts on the CA admin endpoints.
pub const ADMIN_CERTNAME: &str = "admin.example.test";

/// A running master over temporary directories, removed when it is dropped.
///
/// Layout below [`TestMaster::dir`]: `ca/` (the CA), `environments/<env>/...` (code, as
/// [`crate::ModuleFileServer`] and [`crate::DataCompiler`] read it; `production/modules`
/// exists) and `data/` (the [`FsStorage`]).
#[derive(Debug)]
pub struct TestMaster {
    running: Option<RunningMaster>,
    addr: SocketAddr,
    ca: Arc<CertificateAuthority>,
    ca_pem: String,
    /// The CA's CRL (the primary's, for a replica).
    crl_path: PathBuf,
    storage: FsStorage,
    environments: PathBuf,
    code: Option<Arc<SyncedCode>>,
    compiler: Option<SyncedCompiler>,
    // Last: removed after the master has stopped using it.
    dir: tempfile::TempDir,
}

/// How to start a [`TestMaster`]: the default services, then the caller's changes.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use puppet_master::testing::TestMaster;
/// let master = TestMaster::builder()
///     .services(|s| s.classifier = Arc::new(puppet_master::DefaultClassifier))
///     .options(|o| o.default_environment = "staging".into())
///     .start()
///     .await
///     .unwrap();
/// assert!(master.environments().ends_with("environments"));
/// # });
/// ```
#[must_use]
pub struct TestMasterBuilder {
    services: Vec<Edit<Services>>,
    options: Vec<Edit<MasterOptions>>,
    ca: Vec<Edit<CaSettings>>,
    sync: Option<Sync>,
    addr: SocketAddr,
}

/// The file sync role of a test master.
enum Sync {
    Primary,
    Replica {
        certname: String,
        ca: Arc<CertificateAuthority>,
        ca_pem: String,
        crl_path: PathBuf,
        primary: SocketAddr,
    },
}

/// A change the caller makes to the test master's parts before it starts.
type Edit<T> = Box<dyn FnOnce(&mut T) + Send>;

impl std::fmt::Debug for TestMasterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestMasterBuilder").finish_non_exhaustive()
    }
}

impl TestMasterBuilder {
    /// Changes the services (the defaults of [`crate::services_with_storage`] over the test
    /// master's directories) before the master starts.
    pub fn services(mut self, f: impl FnOnce(&mut Services) + Send + 'static) -> Self {
        self.services.push(Box::new(f));
        self
    }

    /// Changes the options (default: [`ADMIN_CERTNAME`] as the CA admin) before the master
    /// starts.
    pub fn options(mut self, f: impl FnOnce(&mut MasterOptions) + Send + 'static) -> Self {
        self.options.push(Box::new(f));
        self
    }

    /// Changes the CA's settings (default: EC P-256 keys, autosign off) before it is set
    /// up; for a real agent to bootstrap, `|s| s.autosign = puppet_ca::Autosign::On`.
    pub fn ca_settings(mut self, f: impl FnOnce(&mut CaSettings) + Send + 'static) -> Self {
        self.ca.push(Box::new(f));
        self
    }

    /// Makes the master a file sync primary ([`crate::filesync`]): code is staged in
    /// [`TestMaster::staging`] (`environments/production` exists), published by
    /// `POST /file-sync/v1/publish` (the admin is [`ADMIN_CERTNAME`]) into a store in
    /// `<dir>/filesync`, and compiled and served from its versions.
    pub fn file_sync_primary(mut self) -> Self {
        self.sync = Some(Sync::Primary);
        self
    }

    /// Makes the master a file sync replica of `primary` (a test master started with
    /// [`TestMasterBuilder::file_sync_primary`], or another replica: a chain): no CA of its own, its certificate for
    /// `certname` (also `localhost`, `127.0.0.1`) signed by the primary's CA, which its
    /// clients trust ([`TestMaster::ca`] is the primary's).
    pub fn file_sync_replica_of(mut self, primary: &TestMaster, certname: &str) -> Self {
        self.sync = Some(Sync::Replica {
            certname: certname.to_string(),
            ca: primary.ca.clone(),
            ca_pem: primary.ca_pem.clone(),
            crl_path: primary.crl_path.clone(),
            primary: primary.addr,
        });
        self
    }

    /// Makes the master a file sync replica whose primary is the master at `primary` (which
    /// may not be started yet: replicas whose primaries form a ring, to test that it is
    /// refused), with a certificate for `certname` signed by `ca_of`'s CA (as
    /// [`TestMasterBuilder::file_sync_replica_of`]).
    pub fn file_sync_replica_at(
        self,
        ca_of: &TestMaster,
        certname: &str,
        primary: SocketAddr,
    ) -> Self {
        self.file_sync_replica_of(ca_of, certname)
            .primary_at(primary)
    }

    fn primary_at(mut self, addr: SocketAddr) -> Self {
        if let Some(Sync::Replica { primary, .. }) = &mut self.sync {
            *primary = addr;
        }
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`, a free port).
    pub fn listen_on(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sets everything up and starts serving.
    pub async fn start(self) -> Result<TestMaster, MasterError> {
        let dir = tempfile::tempdir().map_err(|source| MasterError::Io {
            what: "create a temporary directory".into(),
            source,
        })?;
        let mut own_identity = None;
        let (ca, ca_pem, tls) = match &self.sync {
            Some(Sync::Replica {
                certname,
                ca,
                ca_pem,
                crl_path,
                ..
            }) => {
                let (key_pem, cert_pem) =
                    ca.generate(certname, &["localhost".into(), "IP:127.0.0.1".into()])?;
                let tls = TlsSource::new(TlsFiles {
                    cert_pem: cert_pem.clone(),
                    key_pem: key_pem.clone(),
                    ca_pem: ca_pem.clone(),
                    crl_path: crl_path.clone(),
                })?;
                own_identity = Some(Identity { cert_pem, key_pem });
                (ca.clone(), ca_pem.clone(), tls)
            }
            _ => {
                let mut settings = CaSettings {
                    key: KeyType::EcP256,
                    ..CaSettings::new(format!("Puppet CA: {MASTER_CERTNAME}"))
                };
                for f in self.ca {
                    f(&mut settings);
                }
                let ca = Arc::new(CertificateAuthority::setup(
                    &dir.path().join("ca"),
                    settings,
                )?);
                let (key_pem, cert_pem) = ca.generate(
                    MASTER_CERTNAME,
                    &["localhost".into(), "IP:127.0.0.1".into()],
                )?;
                let ca_pem = ca.ca_certificate_pem()?;
                let tls = TlsSource::new(TlsFiles {
                    cert_pem,
                    key_pem,
                    ca_pem: ca_pem.clone(),
                    crl_path: dir.path().join("ca/ca_crl.pem"),
                })?;
                (ca, ca_pem, tls)
            }
        };
        let environments = dir.path().join("environments");
        let modules = environments.join("production/modules");
        std::fs::create_dir_all(&modules).map_err(|source| MasterError::Io {
            what: format!("create {}", modules.display()),
            source,
        })?;
        let storage = FsStorage::new(dir.path().join("data"));
        let mut services = crate::services_with_storage(ca.clone(), &environments, storage.clone());
        let code = match &self.sync {
            None => None,
            Some(Sync::Primary) => {
                let staging = dir.path().join("code-staging");
                let production = staging.join("environments/production");
                std::fs::create_dir_all(&production).map_err(|source| MasterError::Io {
                    what: format!("create {}", production.display()),
                    source,
                })?;
                let store = puppet_filesync::Store::open(dir.path().join("filesync"))?;
                Some(SyncedCode::primary(store, staging))
            }
            Some(Sync::Replica {
                ca_pem, primary, ..
            }) => {
                // The replica presents its own certificate to the primary.
                let client = Client::new(*primary, "localhost", ca_pem, own_identity.as_ref())?;
                let store = puppet_filesync::Store::open(dir.path().join("filesync"))?;
                Some(SyncedCode::replica(store, client, None))
            }
        };
        let mut compiler = None;
        if let Some(code) = &code {
            compiler = Some(crate::filesync::use_file_sync(
                &mut services,
                code.clone(),
                crate::DataCompiler::new(&environments),
                Some(dir.path().join("data/catalog-reuse")),
            ));
        }
        for f in self.services {
            f(&mut services);
        }
        let mut options = MasterOptions {
            auth: AuthPolicy {
                admin_certnames: vec![ADMIN_CERTNAME.into()],
            },
            ..MasterOptions::default()
        };
        for f in self.options {
            f(&mut options);
        }
        let crl_path = match &self.sync {
            Some(Sync::Replica { crl_path, .. }) => crl_path.clone(),
            _ => dir.path().join("ca/ca_crl.pem"),
        };
        let running = Master::new(tls, services, options).bind(self.addr).await?;
        Ok(TestMaster {
            addr: running.local_addr(),
            running: Some(running),
            ca,
            ca_pem,
            crl_path,
            storage,
            environments,
            code,
            compiler,
            dir,
        })
    }
}

impl TestMaster {
    /// Starts a master with the default services.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use puppet_master::testing::TestMaster;
    /// let master = TestMaster::start().await.unwrap();
    /// std::fs::write(master.environments().join("production/resources.json"),
    ///     r#"{"classes": {"c": [{"type": "Notify", "title": "hi"}]}, "nodes": [{"classes": ["c"]}]}"#).unwrap();
    /// let mut conn = master.client_for("n1.example.test").unwrap().connect().await.unwrap();
    /// let answer = conn.request("GET", "/puppet/v3/catalog/n1.example.test?environment=production", None, vec![])
    ///     .await.unwrap();
    /// assert_eq!(answer.status, 200);
    /// assert!(String::from_utf8_lossy(&answer.body).contains("Notify"));
    /// master.shutdown().await;
    /// # });
    /// ```
    pub async fn start() -> Result<TestMaster, MasterError> {
        TestMaster::builder().start().await
    }

    /// A builder, to replace services or options first.
    pub fn builder() -> TestMasterBuilder {
        TestMasterBuilder {
            services: Vec::new(),
            options: Vec::new(),
            ca: Vec::new(),
            sync: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The address it listens on (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that clients trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA, to sign, revoke or look at certificates behind the master's back.
    pub fn ca(&self) -> &Arc<CertificateAuthority> {
        &self.ca
    }

    /// The store the master writes facts, catalogs, reports and the file bucket to.
    pub fn storage(&self) -> &FsStorage {
        &self.storage
    }

    /// The environments directory (`<dir>/environments`).
    pub fn environments(&self) -> &Path {
        &self.environments
    }

    /// File sync's code (a primary's or a replica's), if the master uses file sync.
    pub fn code(&self) -> Option<&Arc<SyncedCode>> {
        self.code.as_ref()
    }

    /// The staging codedir of a file sync primary (`<dir>/code-staging`).
    pub fn staging(&self) -> PathBuf {
        self.dir.path().join("code-staging")
    }

    /// The file sync compiler (to count compiles), if the master uses file sync.
    pub fn synced_compiler(&self) -> Option<&SyncedCompiler> {
        self.compiler.as_ref()
    }

    /// The temporary directory everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A key and a certificate signed by the master's CA for `certname` (as if the node had
    /// bootstrapped), to present as a client.
    pub fn identity(&self, certname: &str) -> Result<Identity, MasterError> {
        let (key_pem, cert_pem) = self.ca.generate(certname, &[])?;
        Ok(Identity { cert_pem, key_pem })
    }

    /// A client of this master, presenting `identity` if given (none: as an agent before
    /// its bootstrap).
    pub fn client(&self, identity: Option<&Identity>) -> Result<Client, MasterError> {
        Ok(Client::new(self.addr, "localhost", &self.ca_pem, identity)?)
    }

    /// A client presenting a new certificate for `certname`.
    pub fn client_for(&self, certname: &str) -> Result<Client, MasterError> {
        self.client(Some(&self.identity(certname)?))
    }

    /// Stops serving (also done, without waiting, when dropped).
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}
