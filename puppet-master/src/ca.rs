//! The CA side of the protocol (`/puppet-ca/v1`) over a [`puppet_ca::CertificateAuthority`].

use std::sync::Arc;

use async_trait::async_trait;
use puppet_ca::{CaError, CertState, CertStatus, CertificateAuthority, CsrOutcome, Expirations};
use puppet_protocol::ca::DesiredState;

use puppet_protocol::ProtocolError;
use puppet_protocol::error::CaOperation;
use puppet_protocol::server::CaService;

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
    /// use puppet_master::LocalCa;
    /// use puppet_protocol::server::CaService;
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

    /// Runs `f` on the blocking pool; its error is answered as Puppetserver answers it in
    /// `operation` ([`ProtocolError::ca`]).
    async fn run<T: Send + 'static>(
        &self,
        operation: CaOperation,
        f: impl FnOnce(&CertificateAuthority) -> Result<T, CaError> + Send + 'static,
    ) -> Result<T, ProtocolError> {
        let ca = self.ca.clone();
        tokio::task::spawn_blocking(move || f(&ca))
            .await
            .map_err(ProtocolError::service)?
            .map_err(|e| ProtocolError::ca(operation, e))
    }
}

#[async_trait]
impl CaService for LocalCa {
    async fn ca_certificate(&self) -> Result<String, ProtocolError> {
        self.run(CaOperation::Read, |ca| ca.ca_certificate_pem())
            .await
    }

    async fn crl(&self) -> Result<String, ProtocolError> {
        self.run(CaOperation::Read, |ca| ca.crl_pem()).await
    }

    async fn submit_csr(&self, certname: &str, csr_pem: Vec<u8>) -> Result<bool, ProtocolError> {
        let name = certname.to_string();
        let signed = self
            .run(CaOperation::SubmitCsr, move |ca| {
                Ok(matches!(
                    ca.submit_csr(&name, &csr_pem)?,
                    CsrOutcome::Signed(_)
                ))
            })
            .await?;
        if signed {
            tracing::info!("autosigned the certificate request of {certname}");
        } else {
            tracing::info!("certificate request of {certname} waits to be signed");
        }
        Ok(signed)
    }

    async fn csr(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        let name = certname.to_string();
        self.run(CaOperation::Read, move |ca| ca.csr_pem(&name))
            .await
    }

    async fn certificate(&self, certname: &str) -> Result<Option<String>, ProtocolError> {
        let name = certname.to_string();
        self.run(CaOperation::Read, move |ca| ca.certificate_pem(&name))
            .await
    }

    async fn status(&self, certname: &str) -> Result<Option<CertStatus>, ProtocolError> {
        let name = certname.to_string();
        self.run(CaOperation::Read, move |ca| ca.status(&name))
            .await
    }

    async fn statuses(&self, state: Option<CertState>) -> Result<Vec<CertStatus>, ProtocolError> {
        self.run(CaOperation::Read, move |ca| {
            let mut list = ca.list()?;
            list.retain(|s| state.is_none_or(|w| s.state == w));
            Ok(list)
        })
        .await
    }

    async fn set_state(&self, certname: &str, desired: DesiredState) -> Result<(), ProtocolError> {
        let name = certname.to_string();
        match desired {
            DesiredState::Revoked => {
                self.run(CaOperation::Revoke, move |ca| ca.revoke(&name))
                    .await
            }
            DesiredState::Signed => {
                self.run(CaOperation::Sign, move |ca| ca.sign(&name).map(|_| ()))
                    .await
            }
        }
    }

    async fn clean(&self, certname: &str) -> Result<bool, ProtocolError> {
        let name = certname.to_string();
        self.run(CaOperation::Clean, move |ca| {
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
        let name = certname.to_string();
        self.run(CaOperation::Delete, move |ca| ca.delete(&name))
            .await
    }

    async fn expirations(&self) -> Result<Expirations, ProtocolError> {
        self.run(CaOperation::Read, |ca| ca.expirations()).await
    }

    async fn renew(&self, cert_der: &[u8]) -> Result<String, ProtocolError> {
        let cert_pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, cert_der)
            .map_err(|e| ProtocolError::BadRequest(format!("Certificate renewal: {e}")))?
            .into_bytes();
        self.run(CaOperation::Renew, move |ca| ca.renew(&cert_pem))
            .await
    }
}
