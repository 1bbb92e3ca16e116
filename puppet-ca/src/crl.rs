//! Revocation: the CRLs (`ca_crl.pem`, `infra_crl.pem`), revoke, clean and delete.

use std::collections::HashSet;
use std::path::Path;

use x509_cert::crl::CertificateList;
use x509_cert::serial_number::SerialNumber;

use crate::store::{self, CaLock};
use crate::{CaError, CertificateAuthority, CleanOutcome, cert, validate_certname};

impl CertificateAuthority {
    /// `ca_crl.pem`: the CA's CRL (and its issuers' when imported). The CA's own CRL is
    /// re-signed first (new CRL number, same entries) when its next update is closer than
    /// `crl_refresh_before`, so that agents never see an expired CRL.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert!(ca.crl_pem().unwrap().starts_with("-----BEGIN X509 CRL-----\n"));
    /// ```
    pub fn crl_pem(&self) -> Result<String, CaError> {
        self.fresh_crl(&self.layout.crl())
    }

    /// `infra_crl.pem`: Puppetserver's infrastructure CRL (revocations of the certnames in
    /// `infra_inventory.txt` only), re-signed before its next update like [`Self::crl_pem`].
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert!(ca.infra_crl_pem().unwrap().starts_with("-----BEGIN X509 CRL-----\n"));
    /// ```
    pub fn infra_crl_pem(&self) -> Result<String, CaError> {
        self.fresh_crl(&self.layout.infra_crl())
    }

    /// The CRL chain in `path`, the CA's own CRL re-signed first if it is near its next update.
    pub(crate) fn fresh_crl(&self, path: &Path) -> Result<String, CaError> {
        let (text, crls, index) = self.read_crls_at(path)?;
        if !self.crl_needs_refresh(&crls[index]) {
            return Ok(text);
        }
        let _lock = CaLock::acquire(&self.layout)?;
        let (text, mut crls, index) = self.read_crls_at(path)?;
        if !self.crl_needs_refresh(&crls[index]) {
            return Ok(text);
        }
        self.resign_crl_at(path, &mut crls, index, Vec::new())
    }

    pub(crate) fn crl_needs_refresh(&self, crl: &CertificateList) -> bool {
        match &crl.tbs_cert_list.next_update {
            None => false,
            Some(next) => {
                let refresh = self
                    .settings
                    .crl_refresh_before
                    .min(self.settings.crl_ttl / 2);
                self.now() + refresh >= next.to_system_time()
            }
        }
    }

    /// Reads `ca_crl.pem`: its text, the CRLs, and the index of the one issued by this CA.
    pub(crate) fn read_crls(&self) -> Result<(String, Vec<CertificateList>, usize), CaError> {
        self.read_crls_at(&self.layout.crl())
    }

    /// Reads a CRL chain file: its text, the CRLs, and the index of the one issued by this CA.
    pub(crate) fn read_crls_at(
        &self,
        path: &Path,
    ) -> Result<(String, Vec<CertificateList>, usize), CaError> {
        let what = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = store::read_string_opt(path)?
            .ok_or_else(|| CaError::io(path, std::io::ErrorKind::NotFound.into()))?;
        let crls = cert::parse_crls(&text, &what)?;
        let index = crls
            .iter()
            .position(|c| c.tbs_cert_list.issuer == self.cert.tbs_certificate.subject)
            .ok_or_else(|| CaError::malformed(what, "no CRL issued by this CA"))?;
        Ok((text, crls, index))
    }

    /// Re-signs the CA's CRL with the next CRL number, adding `add`; writes the chain.
    pub(crate) fn resign_crl(
        &self,
        crls: &mut [CertificateList],
        index: usize,
        add: Vec<cert::Revocation>,
    ) -> Result<String, CaError> {
        self.resign_crl_at(&self.layout.crl(), crls, index, add)
    }

    /// Re-signs the CRL at `index` of the chain in `path`, adding `add`; writes the chain.
    pub(crate) fn resign_crl_at(
        &self,
        path: &Path,
        crls: &mut [CertificateList],
        index: usize,
        add: Vec<cert::Revocation>,
    ) -> Result<String, CaError> {
        let old = &crls[index];
        let mut entries: Vec<cert::Revocation> = old
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| cert::Revocation {
                serial: r.serial_number.clone(),
                date: r.revocation_date,
                extensions: r.crl_entry_extensions.clone(),
            })
            .collect();
        entries.extend(add);
        let now = self.now();
        let number = cert::crl_number(old) + 1;
        crls[index] = cert::sign_crl(
            &self.issuer(),
            number,
            entries,
            now,
            now + self.settings.crl_ttl,
        )?;
        let mut text = String::new();
        for crl in crls.iter() {
            text.push_str(&cert::crl_pem(crl)?);
        }
        store::write_atomic(path, text.as_bytes(), store::PUBLIC_MODE)?;
        Ok(text)
    }

    /// The revoked serials of the CA's CRL.
    pub(crate) fn revoked_serials(&self) -> Result<HashSet<Vec<u8>>, CaError> {
        let (_, crls, index) = self.read_crls()?;
        Ok(crls[index]
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes().to_vec())
            .collect())
    }

    /// Revokes the certificate of `certname` and every other certificate ever issued to that
    /// name: each serial that `inventory.txt` holds for `/CN=<certname>` (an earlier
    /// certificate, one replaced by renewal) and the serial of `signed/<certname>.pem` are
    /// added (reason keyCompromise) to the CRL, which is re-signed once with the next CRL
    /// number and a new next update. Revoking a revoked certificate changes nothing.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// ca.generate("node1.example.test", &[]).unwrap();
    /// ca.revoke("node1.example.test").unwrap();
    /// assert_eq!(ca.status("node1.example.test").unwrap().unwrap().state, CertState::Revoked);
    /// assert!(matches!(ca.revoke("nobody.example.test"), Err(CaError::NoCertificate { .. })));
    /// ```
    pub fn revoke(&self, certname: &str) -> Result<(), CaError> {
        validate_certname(certname)?;
        let _lock = CaLock::acquire(&self.layout)?;
        self.revoke_locked(certname).map(|_| ())
    }

    /// Revokes under the lock every serial issued to `certname`; whether any was not
    /// revoked before. `NoCertificate` when the CA never issued one to the name.
    pub(crate) fn revoke_locked(&self, certname: &str) -> Result<bool, CaError> {
        let mut serials: Vec<SerialNumber> = Vec::new();
        if let Some(pem) = store::read_string_opt(&self.layout.signed(certname))? {
            let (cert, _) = cert::parse_certs(&pem, &format!("signed/{certname}.pem"))?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    CaError::malformed(format!("signed/{certname}.pem"), "no certificate")
                })?;
            serials.push(cert.tbs_certificate.serial_number);
        }
        let inv_path = self.layout.inventory();
        let inventory = store::read_string_opt(&inv_path)?.unwrap_or_default();
        for serial in store::inventory_serials_of(&inv_path, &inventory, certname)? {
            let serial = cert::serial_number(serial)?;
            if !serials.contains(&serial) {
                serials.push(serial);
            }
        }
        if serials.is_empty() {
            return Err(CaError::NoCertificate {
                certname: certname.to_string(),
            });
        }
        let (_, mut crls, index) = self.read_crls()?;
        let known: HashSet<&[u8]> = crls[index]
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes())
            .collect();
        let now = self.now();
        let add = serials
            .into_iter()
            .filter(|s| !known.contains(s.as_bytes()))
            .map(|s| cert::revocation(s, now))
            .collect::<Result<Vec<_>, _>>()?;
        if add.is_empty() {
            return Ok(false);
        }
        self.resign_crl(&mut crls, index, add.clone())?;
        // Puppetserver's infrastructure CRL: certnames listed in infra_inventory.txt are also
        // revoked in infra_crl.pem.
        let infra = store::read_string_opt(&self.layout.infra_inventory())?.unwrap_or_default();
        if infra.lines().any(|l| l.trim() == certname) && self.layout.infra_crl().exists() {
            let path = self.layout.infra_crl();
            let (_, mut crls, index) = self.read_crls_at(&path)?;
            let known: HashSet<Vec<u8>> = crls[index]
                .tbs_cert_list
                .revoked_certificates
                .iter()
                .flatten()
                .map(|r| r.serial_number.as_bytes().to_vec())
                .collect();
            let add: Vec<_> = add
                .into_iter()
                .filter(|r| !known.contains(r.serial.as_bytes()))
                .collect();
            if !add.is_empty() {
                self.resign_crl_at(&path, &mut crls, index, add)?;
            }
        }
        Ok(true)
    }

    /// Revokes certificates by serial number, in one CRL update (for certificates whose files
    /// are gone, or mass revocation). Serials already in the CRL are skipped; returns how many
    /// were added. The CRL is re-signed only if one was.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// assert_eq!(ca.revoke_serials(&[7, 8, 7]).unwrap(), 2);
    /// assert_eq!(ca.revoke_serials(&[8]).unwrap(), 0);
    /// ```
    pub fn revoke_serials(&self, serials: &[u64]) -> Result<usize, CaError> {
        let _lock = CaLock::acquire(&self.layout)?;
        let (_, mut crls, index) = self.read_crls()?;
        let mut known: HashSet<Vec<u8>> = crls[index]
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes().to_vec())
            .collect();
        let now = self.now();
        let mut add = Vec::new();
        for &n in serials {
            let serial = cert::serial_number(n)?;
            if known.insert(serial.as_bytes().to_vec()) {
                add.push(cert::revocation(serial, now)?);
            }
        }
        let count = add.len();
        if count > 0 {
            self.resign_crl(&mut crls, index, add)?;
        }
        Ok(count)
    }

    /// Puppetserver's clean: revokes the certificate if it is valid, then deletes its
    /// certificate and any pending CSR.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// ca.generate("node1.example.test", &[]).unwrap();
    /// assert!(ca.clean("node1.example.test").unwrap().revoked);
    /// assert_eq!(ca.status("node1.example.test").unwrap(), None);
    /// ```
    pub fn clean(&self, certname: &str) -> Result<CleanOutcome, CaError> {
        validate_certname(certname)?;
        let _lock = CaLock::acquire(&self.layout)?;
        let signed = self.layout.signed(certname);
        let request = self.layout.request(certname);
        if !signed.exists() && !request.exists() {
            return Err(CaError::NothingToClean {
                certname: certname.to_string(),
            });
        }
        // Every serial ever issued to the name, not only the one in signed/.
        let revoked = match self.revoke_locked(certname) {
            Ok(revoked) => revoked,
            Err(CaError::NoCertificate { .. }) => false,
            Err(e) => return Err(e),
        };
        store::remove(&signed)?;
        store::remove(&request)?;
        Ok(CleanOutcome { revoked })
    }

    /// Deletes the certificate and pending CSR of `certname` without revoking anything: what
    /// `DELETE /puppet-ca/v1/certificate_status/:certname` does in Puppetserver (revoke first
    /// with [`Self::revoke`], or use [`Self::clean`], to emulate `puppet cert clean`).
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// ca.generate("node1.example.test", &[]).unwrap();
    /// ca.delete("node1.example.test").unwrap();
    /// assert_eq!(ca.status("node1.example.test").unwrap(), None);
    /// assert!(matches!(ca.delete("node1.example.test"), Err(CaError::NothingToClean { .. })));
    /// ```
    pub fn delete(&self, certname: &str) -> Result<(), CaError> {
        validate_certname(certname)?;
        let _lock = CaLock::acquire(&self.layout)?;
        let signed = store::remove(&self.layout.signed(certname))?;
        let request = store::remove(&self.layout.request(certname))?;
        if signed || request {
            Ok(())
        } else {
            Err(CaError::NothingToClean {
                certname: certname.to_string(),
            })
        }
    }
}
