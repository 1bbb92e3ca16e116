//! The CA side of the protocol (`/puppet-ca/v1`) over a [`puppet_ca::CertificateAuthority`].

use std::sync::Arc;

use async_trait::async_trait;
use puppet_ca::{CaError, CertificateAuthority, CsrOutcome};
use serde_json::Value;

use super::CaService;
use crate::ProtocolError;

/// The one mapping of [`CaError`] to protocol errors (and so to HTTP statuses): bad input is
/// 400, a missing request 409 (as Puppetserver's "Cannot sign ... without a certificate
/// request"), a missing certificate 404, the rest 500.
pub fn ca_error(e: CaError) -> ProtocolError {
    match e {
        CaError::InvalidCertname { .. }
        | CaError::Malformed { .. }
        | CaError::CsrTooLarge { .. }
        | CaError::CsrSignature { .. }
        | CaError::UnsupportedAlgorithm { .. }
        | CaError::CertnameMismatch { .. }
        | CaError::SubjectAltNamesNotAllowed { .. }
        | CaError::AuthorizationExtensionNotAllowed { .. }
        | CaError::ExtensionNotAllowed { .. }
        | CaError::AlreadyHasCertificate { .. }
        | CaError::RenewalRefused { .. } => ProtocolError::BadRequest(e.to_string()),
        CaError::NoCsr { certname } => ProtocolError::Conflict(format!(
            "Cannot sign certificate for host {certname} without a certificate request"
        )),
        CaError::NoCertificate { .. } | CaError::NothingToClean { .. } => {
            ProtocolError::CaNotFound(e.to_string())
        }
        other => ProtocolError::Internal(other.to_string()),
    }
}

/// The mapping of the endpoints that only delete or read: the same as [`ca_error`] (404 for
/// a name the CA does not know, 400 for bad input, 500 for the CA's own faults).
///
/// ```
/// let e = puppet_ca::CaError::NothingToClean { certname: "n".into() };
/// assert_eq!(puppet_protocol::server::ca::ca_status_error(e).status(), 404);
/// ```
pub fn ca_status_error(e: CaError) -> ProtocolError {
    ca_error(e)
}

/// [`CaService`] over a CA directory. Every CA call runs on the blocking pool.
#[derive(Debug, Clone)]
pub struct LocalCa {
    ca: Arc<CertificateAuthority>,
}

impl LocalCa {
    /// Wraps an opened CA.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
    /// use puppet_protocol::server::{CaService, LocalCa};
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") };
    /// let ca = LocalCa::new(Arc::new(CertificateAuthority::setup(dir.path(), settings).unwrap()));
    /// assert!(ca.ca_certificate().await.unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    /// assert_eq!(ca.certificate("nobody.example.test").await.unwrap(), None);
    /// # });
    /// ```
    pub fn new(ca: Arc<CertificateAuthority>) -> LocalCa {
        LocalCa { ca }
    }

    /// The CA.
    pub fn authority(&self) -> &Arc<CertificateAuthority> {
        &self.ca
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&CertificateAuthority) -> Result<T, CaError> + Send + 'static,
    ) -> Result<T, ProtocolError> {
        let ca = self.ca.clone();
        tokio::task::spawn_blocking(move || f(&ca))
            .await
            .map_err(|e| ProtocolError::Internal(format!("CA task: {e}")))?
            .map_err(ca_error)
    }
}

fn status_json(s: &puppet_ca::CertStatus) -> Result<Value, CaError> {
    serde_json::to_value(s).map_err(|e| CaError::Crypto(format!("status JSON: {e}")))
}

#[async_trait]
impl CaService for LocalCa {
    async fn ca_certificate(&self) -> Result<String, ProtocolError> {
        self.run(|ca| ca.ca_certificate_pem()).await
    }

    async fn crl(&self) -> Result<String, ProtocolError> {
        self.run(|ca| ca.crl_pem()).await
    }

    async fn submit_csr(&self, certname: &str, csr_pem: Vec<u8>) -> Result<bool, ProtocolError> {
        let name = certname.to_string();
        self.run(move |ca| {
            Ok(matches!(
                ca.submit_csr(&name, &csr_pem)?,
                CsrOutcome::Signed(_)
            ))
        })
        .await
    }

    async fn csr(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        let name = certname.to_string();
        self.run(move |ca| ca.csr_pem(&name)).await
    }

    async fn certificate(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        let name = certname.to_string();
        self.run(move |ca| ca.certificate_pem(&name)).await
    }

    async fn status(&self, certname: &str) -> Result<Option<Value>, ProtocolError> {
        let name = certname.to_string();
        self.run(move |ca| ca.status(&name)?.as_ref().map(status_json).transpose())
            .await
    }

    async fn statuses(&self, state: Option<&str>) -> Result<Vec<Value>, ProtocolError> {
        let state = state.map(String::from);
        self.run(move |ca| {
            ca.list()?
                .iter()
                .filter(|s| state.as_deref().is_none_or(|w| s.state.as_str() == w))
                .map(status_json)
                .collect()
        })
        .await
    }

    async fn set_state(&self, certname: &str, desired: &str) -> Result<(), ProtocolError> {
        let name = certname.to_string();
        match desired {
            "signed" => self.run(move |ca| ca.sign(&name).map(|_| ())).await,
            "revoked" => self.run(move |ca| ca.revoke(&name)).await,
            other => Err(ProtocolError::BadRequest(format!(
                "State {other} invalid; Must specify desired state of 'signed' or 'revoked' for host {certname}."
            ))),
        }
    }

    async fn clean(&self, certname: &str) -> Result<bool, ProtocolError> {
        let name = certname.to_string();
        self.run(move |ca| {
            if ca.certificate_pem(&name)?.is_none() {
                return Ok(false);
            }
            match ca.clean(&name) {
                Ok(_) => Ok(true),
                // Deleted by someone else in between: as if it had never been there.
                Err(CaError::NothingToClean { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn delete(&self, certname: &str) -> Result<(), ProtocolError> {
        let ca = self.ca.clone();
        let name = certname.to_string();
        tokio::task::spawn_blocking(move || ca.delete(&name))
            .await
            .map_err(|e| ProtocolError::Internal(format!("CA task: {e}")))?
            .map_err(|e| match e {
                // Puppetserver's answer for a name it has no files for.
                CaError::NothingToClean { .. } => {
                    ProtocolError::CaNotFound("Invalid certificate subject.".into())
                }
                other => ca_status_error(other),
            })
    }

    async fn expirations(&self) -> Result<Value, ProtocolError> {
        self.run(|ca| {
            serde_json::to_value(ca.expirations()?)
                .map_err(|e| CaError::Crypto(format!("expirations JSON: {e}")))
        })
        .await
    }

    async fn renew(&self, cert_pem: Vec<u8>) -> Result<String, ProtocolError> {
        self.run(move |ca| ca.renew(&cert_pem)).await
    }
}
