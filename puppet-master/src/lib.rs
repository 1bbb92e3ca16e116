//! One Puppet master's choices, built on the HTTP+TLS framework and service traits of
//! [`puppet_protocol::server`]:
//!
//! - [`DataCompiler`]: catalogs from data (complete catalog documents per node, or resources
//!   matched to nodes), and [`DefaultClassifier`];
//! - [`ModuleFileServer`]: the `modules` mount and the pluginsync mounts of an environment's
//!   modules;
//! - [`FsStorage`]: each node's last facts and catalog, every report, the file bucket, on disk;
//! - [`LocalCa`]: the CA endpoints over a [`puppet_ca::CertificateAuthority`];
//! - [`filesync`]: file sync, a primary and its replicas serving versions of the code by
//!   code_id (`file_sync = primary | replica` in `puppet.conf`);
//! - [`puppetdb`]: facts, catalogs and reports sent to PuppetDB (or `puppet-db`) as
//!   Puppetserver's PuppetDB terminus sends them (`storeconfigs`, `reports = puppetdb`);
//! - [`confdir::MasterSetup`]: all of the above composed from a Puppet confdir, as the
//!   `puppet-master` binary runs it;
//! - `testing::TestMaster` (feature `testing`): an in-process master for harness tests.
//!
//! A custom master keeps the defaults it wants and replaces the rest:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
//! use puppet_protocol::server::{Master, MasterOptions, TlsFiles, TlsSource};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: m") };
//! let ca = Arc::new(CertificateAuthority::setup(&dir.path().join("ca"), settings).unwrap());
//! let (key_pem, cert_pem) = ca.generate("m.example.test", &["localhost".into()]).unwrap();
//! let tls = TlsSource::new(TlsFiles {
//!     cert_pem, key_pem,
//!     ca_pem: ca.ca_certificate_pem().unwrap(),
//!     crl_path: dir.path().join("ca/ca_crl.pem"),
//! }).unwrap();
//! let mut services = puppet_master::default_services(ca, dir.path().join("environments"), dir.path().join("data"));
//! services.classifier = Arc::new(puppet_master::DefaultClassifier);
//! let running = Master::new(tls, services, MasterOptions::default())
//!     .bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
//! assert_ne!(running.local_addr().port(), 0);
//! running.shutdown().await;
//! # });
//! ```

pub mod ca;
pub mod compiler;
pub mod confdir;
mod error;
pub mod files;
pub mod filesync;
pub mod puppetdb;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;

pub use ca::LocalCa;
pub use compiler::{DataCompiler, DefaultClassifier};
pub use error::MasterError;
pub use files::ModuleFileServer;
pub use storage::FsStorage;

use puppet_protocol::server::Services;

/// The default services: [`LocalCa`] over `ca`, [`DataCompiler`] and [`ModuleFileServer`]
/// over the `environments` directory (Puppet's `environmentpath`; the compiler inlines
/// static catalogs' metadata from that file server), [`DefaultClassifier`],
/// and one [`FsStorage`] in `storage` for facts, catalogs, reports and the file bucket.
/// Replace any field to customize (see the crate docs).
pub fn default_services(
    ca: Arc<puppet_ca::CertificateAuthority>,
    environments: impl Into<PathBuf>,
    storage: impl Into<PathBuf>,
) -> Services {
    services_with_storage(ca, environments, FsStorage::new(storage))
}

/// As [`default_services`], with a store the caller keeps (clones of an [`FsStorage`]
/// share its queue of pending writes, so the caller reads what the master stored).
pub fn services_with_storage(
    ca: Arc<puppet_ca::CertificateAuthority>,
    environments: impl Into<PathBuf>,
    storage: FsStorage,
) -> Services {
    services_with_ca_service(Arc::new(LocalCa::new(ca)), environments, storage)
}

/// As [`services_with_storage`], with any CA service (a file sync replica has no CA of its
/// own: [`filesync::ReplicaCa`]).
pub fn services_with_ca_service(
    ca: Arc<dyn puppet_protocol::server::CaService>,
    environments: impl Into<PathBuf>,
    storage: FsStorage,
) -> Services {
    let environments = environments.into();
    let storage = Arc::new(storage);
    let files = Arc::new(ModuleFileServer::new(&environments));
    Services {
        ca,
        compiler: Arc::new(DataCompiler::new(&environments).with_file_server(files.clone())),
        classifier: Arc::new(DefaultClassifier),
        reports: storage.clone(),
        facts: storage.clone(),
        catalogs: storage.clone(),
        files,
        bucket: storage,
        file_sync: None,
    }
}

/// Locks `m`; a lock poisoned by a panicking holder is taken over as it is (what it guards
/// here is a cache or a map that each writer leaves whole).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` on tokio's blocking threads (file system work off the async ones); a panic in it
/// becomes a service error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, puppet_protocol::ProtocolError> + Send + 'static,
) -> Result<T, puppet_protocol::ProtocolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(puppet_protocol::ProtocolError::service)?
}
