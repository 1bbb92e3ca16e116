//! Reading the CA: its certificate, statuses, lists, pending requests, expirations.

use std::collections::HashSet;
use std::path::Path;

use crate::status::{self, CertStatus, Expirations};
use crate::store;
use crate::{CaError, CaSettings, CertificateAuthority, Csr, cert, csr, validate_certname};

impl CertificateAuthority {
    /// The CA directory.
    pub fn cadir(&self) -> &Path {
        &self.layout.dir
    }

    /// The settings the CA was opened with.
    pub fn settings(&self) -> &CaSettings {
        &self.settings
    }

    /// `ca_crt.pem`: the CA certificate, followed by its issuers' when imported with a chain.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert!(ca.ca_certificate_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----\n"));
    /// ```
    pub fn ca_certificate_pem(&self) -> Result<String, CaError> {
        store::read_string_opt(&self.layout.cert())?.ok_or_else(|| CaError::NoCa {
            cadir: self.layout.dir.clone(),
        })
    }

    /// When the CA certificates and CRLs expire, for `GET /puppet-ca/v1/expirations`.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let e = ca.expirations().unwrap();
    /// assert!(e.ca_certs["Puppet CA: t"].ends_with("UTC"));
    /// assert!(e.crls.contains_key("Puppet CA: t"));
    /// ```
    pub fn expirations(&self) -> Result<Expirations, CaError> {
        let name = |n: &x509_cert::name::Name| csr::common_name(n).unwrap_or_else(|| n.to_string());
        let mut ca_certs = std::collections::BTreeMap::new();
        for (c, _) in cert::parse_certs(&self.ca_certificate_pem()?, "ca_crt.pem")? {
            let t = cert::puppet_time(&c.tbs_certificate.validity.not_after);
            ca_certs.insert(name(&c.tbs_certificate.subject), t);
        }
        let mut crls = std::collections::BTreeMap::new();
        for c in cert::parse_crls(&self.crl_pem()?, "ca_crl.pem")? {
            if let Some(next) = &c.tbs_cert_list.next_update {
                crls.insert(name(&c.tbs_cert_list.issuer), cert::puppet_time(next));
            }
        }
        Ok(Expirations { ca_certs, crls })
    }

    /// The pending CSR for `certname`, if any.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert_eq!(ca.csr_pem("agent1.example.test").unwrap(), None);
    /// ```
    pub fn csr_pem(&self, certname: &str) -> Result<Option<String>, CaError> {
        validate_certname(certname)?;
        store::read_string_opt(&self.layout.request(certname))
    }

    /// The signed certificate of `certname` (`signed/<certname>.pem`), if any.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert_eq!(ca.certificate_pem("agent1.example.test").unwrap(), None);
    /// ```
    pub fn certificate_pem(&self, certname: &str) -> Result<Option<String>, CaError> {
        validate_certname(certname)?;
        store::read_string_opt(&self.layout.signed(certname))
    }

    /// The status of `certname`: requested, signed or revoked, with fingerprints, alt names
    /// and authorization extensions; `None` when the CA knows nothing of it.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// ca.generate("node1.example.test", &["DNS:puppet".to_string()]).unwrap();
    /// let s = ca.status("node1.example.test").unwrap().unwrap();
    /// assert_eq!(s.dns_alt_names, ["DNS:puppet", "DNS:node1.example.test"]);
    /// assert_eq!(s.fingerprint, s.fingerprints.sha256);
    /// ```
    pub fn status(&self, certname: &str) -> Result<Option<CertStatus>, CaError> {
        validate_certname(certname)?;
        let revoked = self.revoked_serials()?;
        self.status_with(certname, &revoked)
    }

    pub(crate) fn status_with(
        &self,
        certname: &str,
        revoked: &HashSet<Vec<u8>>,
    ) -> Result<Option<CertStatus>, CaError> {
        if let Some(pem) = store::read_string_opt(&self.layout.signed(certname))? {
            let (cert, der) = cert::parse_certs(&pem, &format!("signed/{certname}.pem"))?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    CaError::malformed(format!("signed/{certname}.pem"), "no certificate")
                })?;
            let is_revoked = revoked.contains(cert.tbs_certificate.serial_number.as_bytes());
            return Ok(Some(status::from_certificate(
                certname, &cert, &der, is_revoked,
            )));
        }
        if let Some(pem) = store::read_opt(&self.layout.request(certname))? {
            let csr = Csr::parse(&pem, &format!("requests/{certname}.pem"))?;
            return Ok(Some(status::from_csr(certname, &csr)));
        }
        Ok(None)
    }

    /// The status of every pending request and every signed certificate, sorted by name.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// ca.generate("b.example.test", &[]).unwrap();
    /// ca.generate("a.example.test", &[]).unwrap();
    /// let names: Vec<_> = ca.list().unwrap().into_iter().map(|s| s.name).collect();
    /// assert_eq!(names, ["a.example.test", "b.example.test"]);
    /// ```
    pub fn list(&self) -> Result<Vec<CertStatus>, CaError> {
        let revoked = self.revoked_serials()?;
        let mut names = std::collections::BTreeSet::new();
        for dir in [self.layout.signed_dir(), self.layout.requests_dir()] {
            let entries = std::fs::read_dir(&dir).map_err(|e| CaError::io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| CaError::io(&dir, e))?;
                let file = entry.file_name();
                let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".pem")) else {
                    continue;
                };
                if validate_certname(name).is_ok() {
                    names.insert(name.to_string());
                }
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(s) = self.status_with(&name, &revoked)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The certnames with a pending CSR, sorted.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-plain.pem")).unwrap();
    /// ca.submit_csr("agent1.example.test", &csr).unwrap();
    /// assert_eq!(ca.pending().unwrap(), ["agent1.example.test"]);
    /// ```
    pub fn pending(&self) -> Result<Vec<String>, CaError> {
        let dir = self.layout.requests_dir();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| CaError::io(&dir, e))? {
            let entry = entry.map_err(|e| CaError::io(&dir, e))?;
            let file = entry.file_name();
            if let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".pem"))
                && validate_certname(name).is_ok()
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}
