//! A master built from small in-test services (no defaults from another crate), over a real
//! EC CA, on a free loopback port; and raw TLS helpers to talk to it as a hostile client would.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
use puppet_ca::{CertState, CertStatus, Expirations};
use puppet_catalog::Catalog;
use puppet_facts::Facts;
use puppet_protocol::ProtocolError;
use puppet_protocol::ca::DesiredState;
use puppet_protocol::client::{Client, Identity};
use puppet_protocol::files::{FileMetadata, MetadataOptions};
use puppet_protocol::server::{
    CaService, CatalogArchive, CatalogCompiler, CompileRequest, FactStore, FileBucket, FileServer,
    Limits, Master, MasterOptions, NodeClassifier, NodeInfo, ReportSink, RunningMaster, Services,
    TlsFiles, TlsSource,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the in-test services saw, and the knobs of the slow compiler.
#[derive(Default)]
pub struct Seen {
    pub compiles: Mutex<Vec<CompileRequest>>,
    pub reports: Mutex<Vec<String>>,
    pub csrs: Mutex<Vec<String>>,
    pub facts: Mutex<HashMap<String, Facts>>,
    /// Each compile sleeps this long first.
    pub compile_delay: Mutex<Duration>,
    /// Fired when a compile future is dropped before it finished (the client left).
    pub compile_cancelled: tokio::sync::Notify,
    /// Fired when a compile starts.
    pub compile_started: tokio::sync::Notify,
}

struct Ca {
    ca: Arc<CertificateAuthority>,
    seen: Arc<Seen>,
}

fn internal(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Internal(e.to_string())
}

#[async_trait]
impl CaService for Ca {
    async fn ca_certificate(&self) -> Result<String, ProtocolError> {
        self.ca.ca_certificate_pem().map_err(internal)
    }
    async fn crl(&self) -> Result<String, ProtocolError> {
        self.ca.crl_pem().map_err(internal)
    }
    async fn submit_csr(&self, certname: &str, csr_pem: Vec<u8>) -> Result<bool, ProtocolError> {
        self.seen.csrs.lock().unwrap().push(certname.to_string());
        self.ca
            .submit_csr(certname, &csr_pem)
            .map_err(|e| ProtocolError::BadRequest(e.to_string()))?;
        Ok(false)
    }
    async fn csr(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        self.ca.csr_pem(certname).map_err(internal)
    }
    async fn certificate(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        self.ca.certificate_pem(certname).map_err(internal)
    }
    async fn status(&self, _: &str) -> Result<Option<CertStatus>, ProtocolError> {
        Ok(None)
    }
    async fn statuses(&self, _: Option<CertState>) -> Result<Vec<CertStatus>, ProtocolError> {
        Ok(Vec::new())
    }
    async fn set_state(&self, _: &str, _: DesiredState) -> Result<(), ProtocolError> {
        Err(ProtocolError::NotFound("no state changes here".into()))
    }
    async fn clean(&self, _: &str) -> Result<bool, ProtocolError> {
        Ok(false)
    }
    async fn delete(&self, _: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
    async fn expirations(&self) -> Result<Expirations, ProtocolError> {
        Err(ProtocolError::NotFound("no expirations here".into()))
    }
    async fn renew(&self, _: &[u8]) -> Result<String, ProtocolError> {
        Err(ProtocolError::NotFound("no renewal here".into()))
    }
}

/// Fires `compile_cancelled` when dropped unless disarmed.
struct CancelGuard(Option<Arc<Seen>>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(seen) = self.0.take() {
            seen.compile_cancelled.notify_one();
        }
    }
}

struct Compiler(Arc<Seen>);

#[async_trait]
impl CatalogCompiler for Compiler {
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError> {
        let mut guard = CancelGuard(Some(self.0.clone()));
        self.0.compile_started.notify_one();
        let delay = *self.0.compile_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        guard.0 = None;
        self.0.compiles.lock().unwrap().push(request.clone());
        let doc = json!({
            "tags": ["settings"], "name": request.certname, "version": 1,
            "code_id": "c1", "catalog_uuid": "0b1e6f1c-0000-4000-8000-000000000001",
            "catalog_format": 2, "environment": request.environment,
            "resources": [{"type": "Notify", "title": "hello", "tags": ["notify"],
                           "exported": false, "parameters": {"message": "hi"}}],
            "edges": [], "classes": ["settings"]
        });
        Catalog::from_json(&serde_json::to_vec(&doc).unwrap()).map_err(internal)
    }
}

struct Classifier;

#[async_trait]
impl NodeClassifier for Classifier {
    async fn classify(
        &self,
        certname: &str,
        environment: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError> {
        Ok(NodeInfo {
            name: certname.to_string(),
            environment: environment.unwrap_or("production").to_string(),
            classes: vec!["role::web".into()],
            parameters: facts.map(|f| f.values.clone()),
        })
    }
}

struct Store(Arc<Seen>);

#[async_trait]
impl ReportSink for Store {
    async fn store_report(
        &self,
        certname: &str,
        _: &puppet_report::Report,
        _: &[u8],
    ) -> Result<Vec<String>, ProtocolError> {
        self.0.reports.lock().unwrap().push(certname.to_string());
        Ok(vec!["store".into()])
    }
}

#[async_trait]
impl FactStore for Store {
    async fn save_facts(&self, certname: &str, facts: &Facts) -> Result<(), ProtocolError> {
        self.0
            .facts
            .lock()
            .unwrap()
            .insert(certname.into(), facts.clone());
        Ok(())
    }
    async fn facts(&self, certname: &str) -> Result<Option<Facts>, ProtocolError> {
        Ok(self.0.facts.lock().unwrap().get(certname).cloned())
    }
}

#[async_trait]
impl CatalogArchive for Store {
    async fn save_catalog(&self, _: &str, _: &Catalog, _: &[u8]) -> Result<(), ProtocolError> {
        Ok(())
    }
}

#[async_trait]
impl FileBucket for Store {
    async fn put(&self, _: &str, _: &str, _: &[u8]) -> Result<(), ProtocolError> {
        Ok(())
    }
    async fn get(&self, _: &str, _: &str) -> Result<Option<Vec<u8>>, ProtocolError> {
        Ok(None)
    }
}

/// One module file, `modules/m/hello.txt`, in memory.
struct Files;

pub const HELLO: &[u8] = b"hello from the in-test file server\n";

/// `modules/m/big.bin`: 16 MiB that gzip cannot shrink much.
pub const BIG_LEN: usize = 16 * 1024 * 1024;

pub fn big() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..BIG_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn hello_metadata(relative: Option<&str>) -> FileMetadata {
    serde_json::from_value(json!({
        "path": "/srv/modules/m/files/hello.txt", "relative_path": relative,
        "links": "manage", "owner": 0, "group": 0, "mode": 420,
        "checksum": {"type": "sha256", "value": "{sha256}00"}, "type": "file",
        "destination": null
    }))
    .unwrap()
}

#[async_trait]
impl FileServer for Files {
    async fn metadata(
        &self,
        _: &str,
        path: &str,
        _: &MetadataOptions,
    ) -> Result<FileMetadata, ProtocolError> {
        match path {
            "modules/m/hello.txt" => Ok(hello_metadata(None)),
            _ => Err(ProtocolError::NotFound(format!(
                "Could not find file_metadata {path}"
            ))),
        }
    }
    async fn metadatas(
        &self,
        _: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<Vec<FileMetadata>, ProtocolError> {
        if path != "modules/m" {
            return Err(ProtocolError::NotFound(format!(
                "Could not find file_metadatas {path}"
            )));
        }
        let mut root = hello_metadata(Some("."));
        root.file_type = puppet_protocol::files::FileType::Directory;
        root.path = "/srv/modules/m/files".into();
        let mut out = vec![root];
        if options.recurse {
            out.push(hello_metadata(Some("hello.txt")));
        }
        Ok(out)
    }
    async fn content(&self, _: &str, path: &str) -> Result<Vec<u8>, ProtocolError> {
        match path {
            "modules/m/hello.txt" => Ok(HELLO.to_vec()),
            "modules/m/big.bin" => Ok(big()),
            _ => Err(ProtocolError::NotFound(format!(
                "Could not find file_content {path}"
            ))),
        }
    }
    async fn static_content(
        &self,
        _certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<Vec<u8>, ProtocolError> {
        Ok(format!("{env} {path} {code_id}").into_bytes())
    }
    fn content_uri(&self, _: &str) -> Option<String> {
        None
    }
    async fn environments(&self) -> Result<Vec<String>, ProtocolError> {
        Ok(vec!["production".into()])
    }
    fn environment_dir(&self, _: &str) -> Option<std::path::PathBuf> {
        None
    }
}

pub struct TestMaster {
    pub dir: tempfile::TempDir,
    pub ca: Arc<CertificateAuthority>,
    pub ca_pem: String,
    pub seen: Arc<Seen>,
    pub running: RunningMaster,
    pub tls: Arc<rustls::ServerConfig>,
}

impl TestMaster {
    pub fn port(&self) -> u16 {
        self.running.local_addr().port()
    }

    pub fn identity(&self, name: &str) -> Identity {
        let (key_pem, cert_pem) = self.ca.generate(name, &[]).unwrap();
        Identity { cert_pem, key_pem }
    }

    /// A typed client for `localhost:<port>`, resolved by name.
    pub fn client(&self, identity: Option<Identity>) -> Client {
        let mut b = Client::builder("localhost", self.port()).ca_pem(&self.ca_pem);
        if let Some(id) = identity {
            b = b.identity(id);
        }
        b.build().unwrap()
    }
}

/// The master's TLS material over a fresh CA: (ca, TlsSource, dir).
pub fn tls_material() -> (tempfile::TempDir, Arc<CertificateAuthority>, TlsFiles) {
    let dir = tempfile::tempdir().unwrap();
    let settings = CaSettings {
        key: KeyType::EcP256,
        ..CaSettings::new("Puppet CA: master.example.test")
    };
    let ca = Arc::new(CertificateAuthority::setup(&dir.path().join("ca"), settings).unwrap());
    let (key_pem, cert_pem) = ca
        .generate(
            "master.example.test",
            &["localhost".into(), "IP:127.0.0.1".into()],
        )
        .unwrap();
    let files = TlsFiles {
        cert_pem,
        key_pem,
        ca_pem: ca.ca_certificate_pem().unwrap(),
        crl_path: dir.path().join("ca/ca_crl.pem"),
    };
    (dir, ca, files)
}

pub async fn start(limits: Limits) -> TestMaster {
    let (dir, ca, files) = tls_material();
    let tls_config = TlsSource::new(files.clone()).unwrap().current();
    let tls = TlsSource::new(files).unwrap();
    let seen = Arc::new(Seen::default());
    let store = Arc::new(Store(seen.clone()));
    let services = Services {
        ca: Arc::new(Ca {
            ca: ca.clone(),
            seen: seen.clone(),
        }),
        compiler: Arc::new(Compiler(seen.clone())),
        classifier: Arc::new(Classifier),
        reports: store.clone(),
        facts: store.clone(),
        catalogs: store.clone(),
        files: Arc::new(Files),
        bucket: store,
        file_sync: None,
    };
    let options = MasterOptions {
        limits,
        ..MasterOptions::default()
    };
    let running = Master::new(tls, services, options)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ca_pem = ca.ca_certificate_pem().unwrap();
    TestMaster {
        dir,
        ca,
        ca_pem,
        seen,
        running,
        tls: tls_config,
    }
}

pub type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A raw TLS connection to the master, without a client certificate.
pub async fn raw_tls(m: &TestMaster) -> Tls {
    raw_tls_to(m.running.local_addr(), &m.ca_pem).await
}

pub async fn raw_tls_to(addr: std::net::SocketAddr, ca_pem: &str) -> Tls {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    handshake(tcp, ca_pem).await.unwrap()
}

pub async fn handshake(tcp: tokio::net::TcpStream, ca_pem: &str) -> std::io::Result<Tls> {
    handshake_as(tcp, ca_pem, None).await
}

/// A raw TLS connection to the master with a client certificate.
pub async fn raw_tls_as(m: &TestMaster, identity: &Identity) -> Tls {
    let tcp = tokio::net::TcpStream::connect(m.running.local_addr())
        .await
        .unwrap();
    handshake_as(tcp, &m.ca_pem, Some(identity)).await.unwrap()
}

pub async fn handshake_as(
    tcp: tokio::net::TcpStream,
    ca_pem: &str,
    identity: Option<&Identity>,
) -> std::io::Result<Tls> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(id) => {
            let certs = rustls_pki_types::CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                .map(|c| c.unwrap())
                .collect();
            let key =
                rustls_pki_types::PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
            config.with_client_auth_cert(certs, key).unwrap()
        }
        None => config.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
}

/// Reads an HTTP/1.1 response head and as much body as `Content-Length` says (or until EOF);
/// `None` if the connection ended first.
pub async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<(u16, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some((status, head, body))
}

/// Whether the peer closes the connection within `within` (EOF or reset), reading and
/// discarding whatever comes first.
pub async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    within: Duration,
) -> bool {
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Writes all of `bytes`, ignoring a peer that stopped reading.
pub async fn send<S: tokio::io::AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}
