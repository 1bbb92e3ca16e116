//! What the examples share (`mod common;` in each): the client side of mTLS from the
//! `--ca`, `--cert` and `--key` arguments, as a `puppet_protocol` client (pdbdiff, pdbload)
//! or as a rustls configuration (loadgen, which speaks HTTP with hyper itself).
//!
//! Each example uses part of it: what one of them leaves unused is not dead code.
#![allow(dead_code)]

use std::error::Error;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use puppet_protocol::client::{ClientBuilder, Identity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The examples' error: anything, with its message.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The client certificate, its key and the CA, as command-line arguments
/// (`#[command(flatten)]` into an example's arguments).
#[derive(clap::Args, Debug)]
pub struct TlsArgs {
    /// CA certificate (PEM) that signed the server's certificate
    #[arg(long)]
    pub ca: PathBuf,
    /// Client certificate (PEM)
    #[arg(long)]
    pub cert: PathBuf,
    /// Client private key (PEM)
    #[arg(long)]
    pub key: PathBuf,
}

/// A file's text; the error names the file.
pub fn read(path: &Path) -> Result<String, BoxError> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// A file's bytes; the error names the file.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, BoxError> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

impl TlsArgs {
    /// A `puppet_protocol` client for `host:port` trusting the CA and presenting the
    /// certificate; the caller adds its timeouts (and trace) and builds it.
    pub fn client_builder(&self, host: &str, port: u16) -> Result<ClientBuilder, BoxError> {
        Ok(puppet_protocol::client::Client::builder(host, port)
            .ca_pem(&read(&self.ca)?)
            .identity(Identity {
                cert_pem: read(&self.cert)?,
                key_pem: read(&self.key)?,
            }))
    }

    /// A rustls client configuration trusting the CA and presenting the certificate (aws-lc-rs,
    /// rustls' safe default protocol versions).
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, BoxError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&read_bytes(&self.ca)?) {
            roots.add(cert?)?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read_bytes(&self.cert)?).collect::<Result<_, _>>()?;
        let key: PrivateKeyDer<'static> = PrivateKeyDer::from_pem_slice(&read_bytes(&self.key)?)
            .map_err(|e| format!("{}: {e}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?)
    }
}
