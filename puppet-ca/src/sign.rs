//! Issuing certificates: submitted CSRs (autosign), signing, generation, renewal.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use x509_cert::ext::Extension;

use crate::cert::{self, LeafRequest};
use crate::keys::{self, PrivateKey};
use crate::store::{self, CaLock};
use crate::{
    CaError, CertificateAuthority, CsrOutcome, csr, oids, validate_certname, validate_subject,
};

impl CertificateAuthority {
    /// Handles a CSR submitted for `certname` (the agent's `PUT certificate_request`): checks
    /// the name, size, signature, CN and extensions, refuses a name that already has a
    /// certificate, then signs it if the autosign policy says so, else stores it in
    /// `requests/<certname>.pem`. On refusal nothing on disk changes.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-plain.pem")).unwrap();
    /// assert_eq!(ca.submit_csr("agent1.example.test", &csr).unwrap(), CsrOutcome::Pending);
    /// assert!(matches!(ca.submit_csr("other.example.test", &csr), Err(CaError::CertnameMismatch { .. })));
    /// ```
    pub fn submit_csr(&self, certname: &str, csr_pem: &[u8]) -> Result<CsrOutcome, CaError> {
        let csr = self.check_csr(certname, csr_pem)?;
        let pem = csr.to_pem()?;
        let sign = self
            .settings
            .autosign
            .decide(certname, &pem, self.settings.autosign_timeout)?;
        let lock = CaLock::acquire(&self.layout)?;
        self.check_no_certificate(certname)?;
        let request = self.layout.request(certname);
        // Puppetserver refuses any CSR for a name with a pending request, the very same
        // CSR included (`already has a requested certificate`).
        if request.exists() && !self.settings.allow_duplicate_certs {
            return Err(CaError::AlreadyHasCertificate {
                certname: certname.to_string(),
                state: "requested",
            });
        }
        if sign {
            let exclusive = !self.settings.allow_duplicate_certs;
            return self
                .issue(
                    lock,
                    certname,
                    csr.public_key(),
                    csr.extensions(),
                    exclusive,
                    self.settings.ca_ttl,
                )
                .map(CsrOutcome::Signed);
        }
        store::write_atomic(&request, pem.as_bytes(), store::PRIVATE_MODE)?;
        Ok(CsrOutcome::Pending)
    }

    /// Signs the pending CSR of `certname` (checked again against the current policy).
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// # let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-plain.pem")).unwrap();
    /// ca.submit_csr("agent1.example.test", &csr).unwrap();
    /// let pem = ca.sign("agent1.example.test").unwrap();
    /// assert_eq!(ca.certificate_pem("agent1.example.test").unwrap(), Some(pem));
    /// assert_eq!(ca.csr_pem("agent1.example.test").unwrap(), None);
    /// ```
    pub fn sign(&self, certname: &str) -> Result<String, CaError> {
        validate_certname(certname)?;
        let pem =
            store::read_opt(&self.layout.request(certname))?.ok_or_else(|| CaError::NoCsr {
                certname: certname.to_string(),
            })?;
        let csr = self.check_csr(certname, &pem)?;
        let lock = CaLock::acquire(&self.layout)?;
        self.check_no_certificate(certname)?;
        let exclusive = !self.settings.allow_duplicate_certs;
        self.issue(
            lock,
            certname,
            csr.public_key(),
            csr.extensions(),
            exclusive,
            self.settings.ca_ttl,
        )
    }

    /// Issues a certificate under `lock`, in two locked steps with the signature between them
    /// (so that threads and processes sign in parallel). First, under the caller's lock:
    /// `serial` and `inventory.txt` are checked and the certificate is built (everything
    /// that a request can make fail happens here), then the serial is reserved (`serial` + 1
    /// written). After signing, under the lock again, the inventory line is appended and
    /// the certificate written. A crash can skip a serial but never issue one twice. With
    /// `exclusive`, a certificate that appeared for the name meanwhile makes this one
    /// refused (and its serial skipped).
    pub(crate) fn issue(
        &self,
        lock: CaLock,
        certname: &str,
        public_key: &x509_cert::spki::SubjectPublicKeyInfoOwned,
        requested: &[Extension],
        exclusive: bool,
        ttl: Duration,
    ) -> Result<String, CaError> {
        let serial_path = self.layout.serial();
        let serial_text =
            store::read_string_opt(&serial_path)?.ok_or_else(|| CaError::CorruptSerial {
                path: serial_path.clone(),
                reason: "missing".into(),
            })?;
        let serial = store::parse_serial(&serial_path, &serial_text)?;
        let inv_path = self.layout.inventory();
        let inventory = store::read_string_opt(&inv_path)?.unwrap_or_default();
        if store::parse_inventory(&inv_path, &inventory)?.contains(&serial) {
            return Err(CaError::CorruptSerial {
                path: serial_path,
                reason: format!("serial 0x{serial:04X} is already in inventory.txt"),
            });
        }
        let next = serial
            .checked_add(1)
            .ok_or_else(|| CaError::CorruptSerial {
                path: serial_path.clone(),
                reason: "exhausted".into(),
            })?;
        let now = self.now();
        let req = LeafRequest {
            subject: certname,
            public_key,
            requested,
            serial,
            not_before: now - cert::BACKDATE,
            not_after: now + ttl,
        };
        let tbs = cert::leaf_tbs(&self.issuer(), &req)?;
        let line = store::inventory_line(
            serial,
            &cert::puppet_time(&tbs.validity.not_before),
            &cert::puppet_time(&tbs.validity.not_after),
            certname,
        );
        // The reservation. Content fsynced and renamed; the rename is made durable by the
        // directory fsync below, after the inventory line and before the certificate is
        // written. A crash before then leaves no certificate with this serial.
        store::write_renamed(
            &serial_path,
            store::format_serial(next).as_bytes(),
            store::PUBLIC_MODE,
        )?;
        drop(lock);

        let pem = cert::cert_pem(&cert::sign_tbs(&self.key, tbs)?)?;

        let _lock = CaLock::acquire(&self.layout)?;
        if exclusive {
            self.check_no_certificate(certname)?;
        }
        // The inventory line before the certificate: a certificate is never unrecorded.
        // Appended (one write, fsynced), as Puppetserver does: not the whole file rewritten.
        store::append_line(&inv_path, &line, store::PRIVATE_MODE)?;
        // Makes the `serial` rename (and a new inventory.txt) durable.
        store::sync_dir(&self.layout.dir)?;
        store::write_atomic(
            &self.layout.signed(certname),
            pem.as_bytes(),
            store::PUBLIC_MODE,
        )?;
        // Not synced: if a crash brings the request back, it sits beside its certificate
        // and is refused when signed (the name has a certificate).
        store::remove_unsynced(&self.layout.request(certname))?;
        Ok(pem)
    }

    /// Makes a key and a certificate for `certname` without a CSR (how a master gets its own
    /// certificate): key type per the settings, subject alternative names `alt_names`
    /// (`DNS:x`, `IP:x`, or bare DNS names) plus `DNS:<certname>`. Returns (key PEM, cert PEM).
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let (key, cert) = ca.generate("puppet.example.test", &["puppet".into(), "IP:127.0.0.1".into()]).unwrap();
    /// assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// assert!(ca.status("puppet.example.test").unwrap().unwrap().subject_alt_names.contains(&"IP:127.0.0.1".to_string()));
    /// ```
    pub fn generate(
        &self,
        certname: &str,
        alt_names: &[String],
    ) -> Result<(String, String), CaError> {
        validate_subject(certname)?;
        let mut names: Vec<String> = alt_names
            .iter()
            .map(|n| {
                if n.contains(':') {
                    n.clone()
                } else {
                    format!("DNS:{n}")
                }
            })
            .collect();
        let own = format!("DNS:{certname}");
        if !names.contains(&own) {
            names.push(own);
        }
        let san = cert::san_extension(&names)?;
        let key = PrivateKey::generate(self.settings.key)?;
        let spki = key.spki()?;
        let lock = CaLock::acquire(&self.layout)?;
        self.check_no_certificate(certname)?;
        let exclusive = !self.settings.allow_duplicate_certs;
        let cert = self.issue(
            lock,
            certname,
            &spki,
            &[san],
            exclusive,
            self.settings.ca_ttl,
        )?;
        Ok((key.to_pem()?, cert))
    }

    /// Saves a generated key and certificate into a Puppet ssldir as `puppetserver ca generate`
    /// does: `private_keys/<name>.pem` (0600), `public_keys/<name>.pem`, `certs/<name>.pem` and
    /// `certs/ca.pem`, with `private_keys/` 0750 as Puppet makes it. Returns what was saved
    /// where.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let ssldir = dir.path().join("ssl");
    /// let (key, cert) = ca.generate("puppet.example.test", &[]).unwrap();
    /// let saved = ca.save_to_ssldir(&ssldir, "puppet.example.test", &key, &cert).unwrap();
    /// assert_eq!(saved[0].1, ssldir.join("private_keys/puppet.example.test.pem"));
    /// ```
    pub fn save_to_ssldir(
        &self,
        ssldir: &Path,
        certname: &str,
        key_pem: &str,
        cert_pem: &str,
    ) -> Result<Vec<(&'static str, std::path::PathBuf)>, CaError> {
        validate_certname(certname)?;
        let key = PrivateKey::from_pem(key_pem.as_bytes(), "private key")?;
        let public = keys::pem("PUBLIC KEY", &key.spki_der()?)?;
        let ca = self.ca_certificate_pem()?;
        let file = format!("{certname}.pem");
        let items = [
            (
                "private key",
                "private_keys",
                file.as_str(),
                key_pem,
                store::KEY_MODE,
            ),
            (
                "public key",
                "public_keys",
                file.as_str(),
                public.as_str(),
                store::PUBLIC_MODE,
            ),
            (
                "certificate",
                "certs",
                file.as_str(),
                cert_pem,
                store::PUBLIC_MODE,
            ),
            (
                "CA certificate",
                "certs",
                "ca.pem",
                ca.as_str(),
                store::PUBLIC_MODE,
            ),
        ];
        let mut saved = Vec::new();
        for (what, sub, name, pem, mode) in items {
            let dir = ssldir.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| CaError::io(&dir, e))?;
            if sub == "private_keys" {
                // Puppet's private_keys/ is 0750 (rwxr-x---), its keys 0600.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(store::DIR_MODE))
                    .map_err(|e| CaError::io(&dir, e))?;
            }
            let path = dir.join(name);
            store::write_atomic(&path, pem.as_bytes(), mode)?;
            saved.push((what, path));
        }
        Ok(saved)
    }

    /// Puppet 7's certificate renewal (`POST /puppet-ca/v1/certificate_renewal`): a new
    /// certificate (new serial, validity `auto_renewal_cert_ttl`) for the same name, key and
    /// extensions as `cert_pem`. Only when [`crate::CaSettings::allow_auto_renewal`] is on
    /// ([`CaError::RenewalDisabled`] otherwise, where Puppetserver answers 404), and only for
    /// a certificate issued by this CA, valid now and not revoked
    /// ([`CaError::RenewalRefused`]). It replaces `signed/<certname>.pem`; the old serial
    /// stays in `inventory.txt`, so [`Self::revoke`] revokes both.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, allow_auto_renewal: true, ..CaSettings::new("Puppet CA: t") };
    /// let ca = CertificateAuthority::setup(dir.path(), settings)?;
    /// let (_, old) = ca.generate("node1.example.test", &[])?;
    /// let new = ca.renew(old.as_bytes())?;
    /// assert_ne!(old, new);
    /// assert_eq!(ca.status("node1.example.test")?.unwrap().serial_number, Some(3));
    /// # Ok::<(), CaError>(())
    /// ```
    pub fn renew(&self, cert_pem: &[u8]) -> Result<String, CaError> {
        if !self.settings.allow_auto_renewal {
            return Err(CaError::RenewalDisabled);
        }
        let text = std::str::from_utf8(cert_pem)
            .map_err(|_| CaError::malformed("certificate", "not UTF-8"))?;
        let (cert, der) = cert::parse_certs(text, "certificate")?
            .into_iter()
            .next()
            .ok_or_else(|| CaError::malformed("certificate", "no certificate"))?;
        let certname = csr::common_name(&cert.tbs_certificate.subject)
            .ok_or_else(|| CaError::malformed("certificate", "subject has no CN"))?;
        validate_certname(&certname)?;
        let refuse = |reason: &str| CaError::RenewalRefused {
            certname: certname.clone(),
            reason: reason.to_string(),
        };
        if cert.tbs_certificate.issuer != self.cert.tbs_certificate.subject
            || !cert::signed_by(&der, &self.cert)?
        {
            return Err(refuse("it was not issued by this CA"));
        }
        let validity = &cert.tbs_certificate.validity;
        let now = self.now();
        if now < validity.not_before.to_system_time() {
            return Err(refuse("it is not valid yet"));
        }
        if now > validity.not_after.to_system_time() {
            return Err(refuse("it has expired"));
        }
        let lock = CaLock::acquire(&self.layout)?;
        if self
            .revoked_serials()?
            .contains(cert.tbs_certificate.serial_number.as_bytes())
        {
            return Err(refuse("it is revoked"));
        }
        let carried: Vec<Extension> = cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| {
                let oid = e.extn_id.to_string();
                e.extn_id == oids::SUBJECT_ALT_NAME
                    || oids::is_under(&oid, oids::PP_REG_CERT_EXT)
                    || oids::is_under(&oid, oids::PP_PRIV_CERT_EXT)
                    || oids::is_under(&oid, oids::PP_AUTH_CERT_EXT)
            })
            .cloned()
            .collect();
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let ttl = self.settings.auto_renewal_cert_ttl;
        self.issue(lock, &certname, spki, &carried, false, ttl)
    }
}
