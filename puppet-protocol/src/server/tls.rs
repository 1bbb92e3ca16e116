//! rustls server configuration: the master's chain, client certificates verified against the
//! CA and its CRL (asked for, not required), and the CRL reloaded when its file changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::ServerError;
use crate::ClientIdentity;
use crate::cert::{pem_certificates, pem_crls, pem_private_key};

/// The files the TLS side is built from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The master's certificate (PEM); the CA certificate is appended to the chain it presents.
    pub cert_pem: String,
    /// The master's private key (PEM).
    pub key_pem: String,
    /// The CA certificate(s) that client certificates must chain to (PEM).
    pub ca_pem: String,
    /// The CA's CRL file (`ca_crl.pem`), re-read whenever it changes. An empty path means
    /// no CRL (a service such as PuppetDB started without `ssl-crl-path`).
    pub crl_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino: m.ino(),
    })
}

/// Builds and caches the [`ServerConfig`]; [`TlsSource::current`] rebuilds it when the CRL
/// file changed since the last build, so a revocation is enforced on the next connection.
#[derive(Debug)]
pub struct TlsSource {
    files: TlsFiles,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<rustls::RootCertStore>,
    state: Mutex<(Option<Stamp>, Arc<ServerConfig>)>,
}

fn pem_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    pem_certificates(pem.as_bytes(), what).map_err(|e| ServerError::Tls(e.to_string()))
}

impl TlsSource {
    /// Parses the PEMs and builds the first configuration.
    pub fn new(files: TlsFiles) -> Result<TlsSource, ServerError> {
        let mut chain = pem_certs(&files.cert_pem, "server certificate")?;
        let ca = pem_certs(&files.ca_pem, "CA certificate")?;
        chain.extend(ca.iter().cloned());
        let key = pem_private_key(files.key_pem.as_bytes(), "server key")
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in ca {
            roots
                .add(cert)
                .map_err(|e| ServerError::Tls(format!("CA certificate: {e}")))?;
        }
        let roots = Arc::new(roots);
        let crl_stamp = stamp(&files.crl_path);
        let config = build(&chain, &key, &roots, &files.crl_path)?;
        Ok(TlsSource {
            files,
            chain,
            key,
            roots,
            state: Mutex::new((crl_stamp, config)),
        })
    }

    /// The configuration for a new connection, rebuilt first if the CRL file changed. A CRL
    /// that cannot be read keeps the previous configuration (and is logged).
    pub fn current(&self) -> Arc<ServerConfig> {
        let now = stamp(&self.files.crl_path);
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now != state.0 {
            match build(&self.chain, &self.key, &self.roots, &self.files.crl_path) {
                Ok(config) => {
                    tracing::info!(crl = %self.files.crl_path.display(), "CRL changed: TLS configuration reloaded");
                    *state = (now, config);
                }
                Err(e) => tracing::error!("CRL reload failed, keeping the previous one: {e}"),
            }
        }
        state.1.clone()
    }
}

fn build(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    roots: &Arc<rustls::RootCertStore>,
    crl_path: &Path,
) -> Result<Arc<ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let crls = if crl_path.as_os_str().is_empty() {
        Vec::new()
    } else {
        let crl_pem = std::fs::read(crl_path)
            .map_err(|e| ServerError::Tls(format!("{}: {e}", crl_path.display())))?;
        pem_crls(&crl_pem, &crl_path.display().to_string())
            .map_err(|e| ServerError::Tls(e.to_string()))?
    };
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls)
        .allow_unknown_revocation_status()
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServerError::Tls(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| ServerError::Tls(format!("server certificate/key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The identity in a verified client certificate (DER): its certname and whether it carries
/// `pp_cli_auth=true`. The same rule as [`crate::cert::identity`], which it calls.
pub fn identity(cert_der: &[u8]) -> ClientIdentity {
    crate::cert::identity(cert_der)
}
