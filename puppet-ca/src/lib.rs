//! A Puppet certificate authority that keeps its state in Puppetserver 7's CA directory layout.
//!
//! [`CertificateAuthority`] opens (or sets up, or imports) a CA directory holding `ca_crt.pem`,
//! `ca_key.pem` (0600), `ca_pub.pem`, `ca_crl.pem`, `infra_crl.pem`, `infra_inventory.txt`,
//! `infra_serials`, `serial` (hexadecimal, `%04X`), `inventory.txt` (one
//! `0x0004 <notBefore> <notAfter> /CN=<name>` line per certificate), `requests/` and `signed/`,
//! so that Puppetserver and this crate can take over each other's directory. It verifies CSRs
//! (RSA PKCS#1 v1.5 with SHA-1/256/384/512, ECDSA P-256/P-384), checks certnames by Puppet's
//! rules, reads the challengePassword and Puppet's extension requests (arcs
//! 1.3.6.1.4.1.34380.1.1, .1.2 and the authorization arc .1.3), refuses subject alternative names
//! and authorization extensions unless allowed, signs with the extensions Puppetserver issues,
//! applies autosign policies, revokes (re-signing the CRL, which is also re-signed before its
//! next update), cleans, lists, renews and generates certificates.
//!
//! Every change happens under an exclusive file lock on the directory, and every file is
//! written atomically (temporary file, fsync, rename), so two processes never issue the same
//! serial and a crash never leaves a half-written file.
//!
//! ```
//! use puppet_ca::{Autosign, CaSettings, CertificateAuthority, CsrOutcome, KeyType};
//! # fn main() -> Result<(), puppet_ca::CaError> {
//! let dir = tempfile::tempdir().unwrap();
//! let settings = CaSettings { key: KeyType::EcP256, autosign: Autosign::On, ..CaSettings::new("Puppet CA: puppet.example.test") };
//! let ca = CertificateAuthority::setup(dir.path(), settings)?;
//! let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-attributes.pem")).unwrap();
//! let CsrOutcome::Signed(cert_pem) = ca.submit_csr("agent2.example.test", &csr)? else { panic!("autosign is on") };
//! assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let status = ca.status("agent2.example.test")?.unwrap();
//! assert_eq!(status.state, puppet_ca::CertState::Signed);
//! assert_eq!(status.serial_number, Some(2));
//! # Ok(()) }
//! ```

mod autosign;
mod cert;
mod certname;
mod csr;
mod error;
mod keys;
pub mod oids;
mod status;
mod store;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use der::Encode;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;

pub use autosign::{Autosign, whitelist_matches};
pub use cert::NETSCAPE_COMMENT;
pub use certname::{MAX_CERTNAME_LEN, validate_certname, validate_subject};
pub use csr::{Csr, RequestedExtension};
pub use error::CaError;
pub use keys::KeyType;
pub use status::{CertState, CertStatus, Expirations, Fingerprints, list_text};

use cert::{Issuer, LeafRequest};
use keys::PrivateKey;
use store::{CaLock, Layout};

/// Puppet's default `ca_ttl`: five years.
pub const DEFAULT_CA_TTL: Duration = Duration::from_secs(5 * 365 * 24 * 60 * 60);

/// How the CA behaves: Puppetserver's `ca.conf` and Puppet's CA settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSettings {
    /// Validity of issued certificates (and of the CA certificate made by `setup`).
    pub ca_ttl: Duration,
    /// The autosign policy for submitted CSRs.
    pub autosign: Autosign,
    /// Puppetserver's `allow-subject-alt-names`.
    pub allow_subject_alt_names: bool,
    /// Puppetserver's `allow-authorization-extensions`.
    pub allow_authorization_extensions: bool,
    /// Puppet's `allow_duplicate_certs`: a new CSR may replace an existing certificate.
    pub allow_duplicate_certs: bool,
    /// Key type for a new CA (and for `generate`).
    pub key: KeyType,
    /// CN of a new CA certificate (Puppet: `Puppet CA: <certname>`).
    pub ca_name: String,
    /// How long a CRL is valid (its next update); Puppetserver uses the CA TTL.
    pub crl_ttl: Duration,
    /// The CRL is re-signed when its next update is closer than this (at most half of
    /// `crl_ttl`), even if unchanged.
    pub crl_refresh_before: Duration,
    /// Largest CSR accepted, in bytes.
    pub max_csr_bytes: usize,
    /// How long an autosign policy executable may run; one still running then is killed
    /// and the CSR is not signed (kept as pending).
    pub autosign_timeout: Duration,
    /// Validity of certificates issued by renewal (Puppetserver's `auto-renewal-cert-ttl`,
    /// 90 days by default).
    pub auto_renewal_cert_ttl: Duration,
}

impl CaSettings {
    /// Puppet's defaults with the given CA name.
    ///
    /// ```
    /// let s = puppet_ca::CaSettings::new("Puppet CA: puppet.example.test");
    /// assert_eq!(s.ca_ttl, puppet_ca::DEFAULT_CA_TTL);
    /// assert_eq!(s.key, puppet_ca::KeyType::Rsa(4096));
    /// ```
    pub fn new(ca_name: impl Into<String>) -> Self {
        CaSettings {
            ca_ttl: DEFAULT_CA_TTL,
            autosign: Autosign::Off,
            allow_subject_alt_names: false,
            allow_authorization_extensions: false,
            allow_duplicate_certs: false,
            key: KeyType::default(),
            ca_name: ca_name.into(),
            crl_ttl: DEFAULT_CA_TTL,
            crl_refresh_before: Duration::from_secs(30 * 24 * 60 * 60),
            max_csr_bytes: 64 * 1024,
            autosign_timeout: Duration::from_secs(30),
            auto_renewal_cert_ttl: Duration::from_secs(90 * 24 * 60 * 60),
        }
    }
}

impl Default for CaSettings {
    /// Puppet's defaults; the CA name is `Puppet CA: <this host's name>`.
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        CaSettings::new(format!(
            "Puppet CA: {}",
            if host.is_empty() { "localhost" } else { &host }
        ))
    }
}

/// What happened to a submitted CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrOutcome {
    /// Autosigned: the certificate PEM.
    Signed(String),
    /// Stored in `requests/` for an administrator to sign.
    Pending,
}

/// What `clean` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanOutcome {
    /// The certificate was valid and has been revoked.
    pub revoked: bool,
}

/// A CA directory in Puppetserver 7's layout. Cheap to share between threads (`&self`
/// methods take the directory's lock for every change).
#[derive(Debug)]
pub struct CertificateAuthority {
    layout: Layout,
    settings: CaSettings,
    key: PrivateKey,
    cert: Certificate,
}

impl CertificateAuthority {
    /// Creates a new self-signed CA in `cadir` (created if needed): key per `settings.key`
    /// (RSA 4096 by default), certificate serial 1 valid for `ca_ttl` from a day ago, an empty
    /// CRL number 0, `serial` 0002 and the inventory line of the CA. Refuses a directory that
    /// already holds a CA.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: test") };
    /// let ca = CertificateAuthority::setup(dir.path(), settings.clone()).unwrap();
    /// assert_eq!(std::fs::read_to_string(dir.path().join("serial")).unwrap(), "0002");
    /// assert!(matches!(CertificateAuthority::setup(dir.path(), settings), Err(CaError::CaExists { .. })));
    /// ```
    pub fn setup(cadir: &Path, settings: CaSettings) -> Result<Self, CaError> {
        let layout = Layout {
            dir: cadir.to_path_buf(),
        };
        store::create_dir(cadir)?;
        let _lock = CaLock::acquire(&layout)?;
        if layout.cert().exists() || layout.key().exists() {
            return Err(CaError::CaExists {
                cadir: cadir.to_path_buf(),
            });
        }
        let key = PrivateKey::generate(settings.key)?;
        let now = SystemTime::now();
        let not_before = now - cert::BACKDATE;
        let cert = cert::self_signed_ca(
            &key,
            &settings.ca_name,
            1,
            not_before,
            now + settings.ca_ttl,
        )?;
        let ca = CertificateAuthority {
            layout,
            settings,
            key,
            cert,
        };
        ca.write_initial_files(&cert::cert_pem(&ca.cert)?, None, 2, true)?;
        Ok(ca)
    }

    /// Opens an existing CA directory (made by Puppetserver or by this crate). The key must
    /// match the first certificate of `ca_crt.pem`.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(matches!(CertificateAuthority::open(dir.path(), CaSettings::default()), Err(CaError::NoCa { .. })));
    /// ```
    pub fn open(cadir: &Path, settings: CaSettings) -> Result<Self, CaError> {
        let layout = Layout {
            dir: cadir.to_path_buf(),
        };
        let (Some(cert_text), Some(key_pem)) = (
            store::read_string_opt(&layout.cert())?,
            store::read_opt(&layout.key())?,
        ) else {
            return Err(CaError::NoCa {
                cadir: cadir.to_path_buf(),
            });
        };
        let cert = cert::parse_certs(&cert_text, "ca_crt.pem")?
            .into_iter()
            .next()
            .map(|(c, _)| c)
            .ok_or_else(|| CaError::malformed("ca_crt.pem", "no certificate"))?;
        let key = PrivateKey::from_pem(&key_pem, "ca_key.pem")?;
        let key_spki = key.spki_der()?;
        if cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(CaError::encode("public key"))?
            != key_spki
        {
            return Err(CaError::Key(
                "ca_key.pem does not match the certificate in ca_crt.pem".into(),
            ));
        }
        for dir in [layout.signed_dir(), layout.requests_dir()] {
            if !dir.is_dir() {
                store::create_dir(&dir)?;
            }
        }
        Ok(CertificateAuthority {
            layout,
            settings,
            key,
            cert,
        })
    }

    /// Opens the CA in `cadir`, or sets one up when there is none.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: test") };
    /// let first = CertificateAuthority::open_or_setup(dir.path(), settings.clone()).unwrap();
    /// let again = CertificateAuthority::open_or_setup(dir.path(), settings).unwrap();
    /// assert_eq!(first.ca_certificate_pem().unwrap(), again.ca_certificate_pem().unwrap());
    /// ```
    pub fn open_or_setup(cadir: &Path, settings: CaSettings) -> Result<Self, CaError> {
        if (Layout {
            dir: cadir.to_path_buf(),
        })
        .cert()
        .exists()
        {
            Self::open(cadir, settings)
        } else {
            Self::setup(cadir, settings)
        }
    }

    /// Imports an external CA (Puppetserver's `puppetserver ca import`): `cert_bundle` holds
    /// this CA's certificate first, then its issuers (intermediate CA chain); `key` is its
    /// private key; `crl_chain` holds a CRL issued by this CA and those of its issuers. The chain
    /// and the CRLs must verify. `ca_crt.pem` and `ca_crl.pem` keep the whole chains.
    /// The serial starts at 0001 and the inventory is empty, as after Puppetserver's import.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// let old = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") };
    /// CertificateAuthority::setup(old.path(), settings.clone()).unwrap();
    /// let read = |f: &str| std::fs::read(old.path().join(f)).unwrap();
    /// let new = tempfile::tempdir().unwrap();
    /// let ca = CertificateAuthority::import(new.path(), &read("ca_crt.pem"), &read("ca_key.pem"), &read("ca_crl.pem"), settings).unwrap();
    /// assert_eq!(ca.ca_certificate_pem().unwrap().as_bytes(), read("ca_crt.pem"));
    /// ```
    pub fn import(
        cadir: &Path,
        cert_bundle: &[u8],
        key: &[u8],
        crl_chain: &[u8],
        settings: CaSettings,
    ) -> Result<Self, CaError> {
        let bundle_text = std::str::from_utf8(cert_bundle)
            .map_err(|_| CaError::malformed("certificate bundle", "not UTF-8"))?;
        let certs = cert::parse_certs(bundle_text, "certificate bundle")?;
        let Some((ca_cert, _)) = certs.first().cloned() else {
            return Err(CaError::malformed("certificate bundle", "no certificate"));
        };
        for pair in certs.windows(2) {
            if !cert::signed_by(&pair[0].1, &pair[1].0)? {
                return Err(CaError::malformed(
                    "certificate bundle",
                    "a certificate is not signed by the next one in the bundle",
                ));
            }
        }
        let key = PrivateKey::from_pem(key, "private key")?;
        if ca_cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(CaError::encode("public key"))?
            != key.spki_der()?
        {
            return Err(CaError::Key(
                "the private key does not match the first certificate of the bundle".into(),
            ));
        }
        let crl_text = std::str::from_utf8(crl_chain)
            .map_err(|_| CaError::malformed("CRL chain", "not UTF-8"))?;
        let crls = cert::parse_crls(crl_text, "CRL chain")?;
        let ours = crls
            .iter()
            .find(|c| c.tbs_cert_list.issuer == ca_cert.tbs_certificate.subject)
            .ok_or_else(|| CaError::malformed("CRL chain", "no CRL issued by the imported CA"))?;
        if !crl_signed_by(ours, &ca_cert)? {
            return Err(CaError::malformed(
                "CRL chain",
                "the CA's CRL does not verify with its key",
            ));
        }
        let layout = Layout {
            dir: cadir.to_path_buf(),
        };
        store::create_dir(cadir)?;
        let _lock = CaLock::acquire(&layout)?;
        if layout.cert().exists() || layout.key().exists() {
            return Err(CaError::CaExists {
                cadir: cadir.to_path_buf(),
            });
        }
        let mut bundle_pem = String::new();
        for (_, der) in &certs {
            bundle_pem.push_str(&keys::pem("CERTIFICATE", der)?);
        }
        let mut crl_pem = String::new();
        for crl in &crls {
            crl_pem.push_str(&cert::crl_pem(crl)?);
        }
        let ca = CertificateAuthority {
            layout,
            settings,
            key,
            cert: ca_cert,
        };
        ca.write_initial_files(&bundle_pem, Some(&crl_pem), 1, false)?;
        Ok(ca)
    }

    fn write_initial_files(
        &self,
        ca_crt: &str,
        crl_chain: Option<&str>,
        next_serial: u64,
        with_inventory: bool,
    ) -> Result<(), CaError> {
        let l = &self.layout;
        store::create_dir(&l.signed_dir())?;
        store::create_dir(&l.requests_dir())?;
        store::write_atomic(&l.key(), self.key.to_pem()?.as_bytes(), store::KEY_MODE)?;
        store::write_atomic(
            &l.public_key(),
            keys::pem("PUBLIC KEY", &self.key.spki_der()?)?.as_bytes(),
            store::PUBLIC_MODE,
        )?;
        let crl = match crl_chain {
            Some(c) => c.to_string(),
            None => {
                let now = SystemTime::now();
                cert::crl_pem(&cert::sign_crl(
                    &self.issuer(),
                    0,
                    Vec::new(),
                    now,
                    now + self.settings.crl_ttl,
                )?)?
            }
        };
        store::write_atomic(&l.crl(), crl.as_bytes(), store::PUBLIC_MODE)?;
        store::write_atomic(&l.infra_crl(), crl.as_bytes(), store::PUBLIC_MODE)?;
        store::write_atomic(&l.infra_inventory(), b"", store::PRIVATE_MODE)?;
        store::write_atomic(&l.infra_serials(), b"", store::PUBLIC_MODE)?;
        let inventory = if with_inventory {
            let v = &self.cert.tbs_certificate.validity;
            store::inventory_line(
                1,
                &cert::puppet_time(&v.not_before),
                &cert::puppet_time(&v.not_after),
                &self.settings.ca_name,
            )
        } else {
            String::new()
        };
        store::write_atomic(&l.inventory(), inventory.as_bytes(), store::PRIVATE_MODE)?;
        store::write_atomic(
            &l.serial(),
            store::format_serial(next_serial).as_bytes(),
            store::PUBLIC_MODE,
        )?;
        // Last: a CA directory is complete once ca_crt.pem exists.
        store::write_atomic(&l.cert(), ca_crt.as_bytes(), store::PUBLIC_MODE)
    }

    fn issuer(&self) -> Issuer<'_> {
        Issuer {
            key: &self.key,
            cert: &self.cert,
        }
    }

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
    fn fresh_crl(&self, path: &Path) -> Result<String, CaError> {
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

    fn crl_needs_refresh(&self, crl: &CertificateList) -> bool {
        match &crl.tbs_cert_list.next_update {
            None => false,
            Some(next) => {
                let refresh = self
                    .settings
                    .crl_refresh_before
                    .min(self.settings.crl_ttl / 2);
                SystemTime::now() + refresh >= next.to_system_time()
            }
        }
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

    /// Reads `ca_crl.pem`: its text, the CRLs, and the index of the one issued by this CA.
    fn read_crls(&self) -> Result<(String, Vec<CertificateList>, usize), CaError> {
        self.read_crls_at(&self.layout.crl())
    }

    /// Reads a CRL chain file: its text, the CRLs, and the index of the one issued by this CA.
    fn read_crls_at(&self, path: &Path) -> Result<(String, Vec<CertificateList>, usize), CaError> {
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
    fn resign_crl(
        &self,
        crls: &mut [CertificateList],
        index: usize,
        add: Vec<cert::Revocation>,
    ) -> Result<String, CaError> {
        self.resign_crl_at(&self.layout.crl(), crls, index, add)
    }

    /// Re-signs the CRL at `index` of the chain in `path`, adding `add`; writes the chain.
    fn resign_crl_at(
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
        let now = SystemTime::now();
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
    fn revoked_serials(&self) -> Result<HashSet<Vec<u8>>, CaError> {
        let (_, crls, index) = self.read_crls()?;
        Ok(crls[index]
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes().to_vec())
            .collect())
    }

    /// Validates a CSR against the certname and the extension policy.
    fn check_csr(&self, certname: &str, csr_pem: &[u8]) -> Result<Csr, CaError> {
        validate_certname(certname)?;
        if csr_pem.len() > self.settings.max_csr_bytes {
            return Err(CaError::CsrTooLarge {
                certname: certname.to_string(),
                size: csr_pem.len(),
                limit: self.settings.max_csr_bytes,
            });
        }
        let csr = Csr::parse(csr_pem, &format!("CSR for {certname}"))?;
        if csr.common_name() != certname {
            return Err(CaError::CertnameMismatch {
                certname: certname.to_string(),
                cn: csr.common_name().to_string(),
            });
        }
        validate_subject(certname)?;
        self.check_extensions(certname, csr.extensions())?;
        Ok(csr)
    }

    /// Puppetserver's extension policy: subject alternative names only if allowed (or only
    /// `DNS:<certname>`), DNS and IP only, no wildcard; authorization extensions only if
    /// allowed, and never `pp_cli_auth`; Puppet's registered and private arcs; nothing else.
    fn check_extensions(&self, certname: &str, exts: &[Extension]) -> Result<(), CaError> {
        let mut refused = Vec::new();
        let mut seen = HashSet::new();
        for ext in exts {
            let oid = ext.extn_id.to_string();
            if !seen.insert(oid.clone()) {
                refused.push(format!("{oid} (duplicate)"));
            } else if ext.extn_id == oids::SUBJECT_ALT_NAME {
                let names =
                    csr::checked_alt_names(ext).map_err(|reason| CaError::InvalidAltName {
                        certname: certname.to_string(),
                        reason,
                    })?;
                let own = format!("DNS:{certname}");
                if !self.settings.allow_subject_alt_names && names != [own.clone()] {
                    let extra: Vec<String> = names.into_iter().filter(|n| *n != own).collect();
                    return Err(CaError::SubjectAltNamesNotAllowed {
                        certname: certname.to_string(),
                        names: extra.join(", "),
                    });
                }
            } else if oid == oids::PP_CLI_AUTH {
                refused.push(oid);
            } else if oids::is_under(&oid, oids::PP_AUTH_CERT_EXT) {
                if !self.settings.allow_authorization_extensions {
                    let shown = oids::short_name(&oid).map_or(oid.clone(), str::to_string);
                    return Err(CaError::AuthorizationExtensionNotAllowed {
                        certname: certname.to_string(),
                        oid: shown,
                    });
                }
            } else if !(oids::is_under(&oid, oids::PP_REG_CERT_EXT)
                || oids::is_under(&oid, oids::PP_PRIV_CERT_EXT))
            {
                refused.push(oid);
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(CaError::ExtensionNotAllowed {
                certname: certname.to_string(),
                oids: refused.join(", "),
            })
        }
    }

    /// Refuses a name that already has a certificate (unless `allow_duplicate_certs`).
    fn check_no_certificate(&self, certname: &str) -> Result<(), CaError> {
        if self.settings.allow_duplicate_certs {
            return Ok(());
        }
        if let Some(pem) = store::read_string_opt(&self.layout.signed(certname))? {
            let revoked = match cert::parse_certs(&pem, "signed certificate")?.first() {
                Some((c, _)) => self
                    .revoked_serials()?
                    .contains(c.tbs_certificate.serial_number.as_bytes()),
                None => false,
            };
            return Err(CaError::AlreadyHasCertificate {
                certname: certname.to_string(),
                state: if revoked { "revoked" } else { "signed" },
            });
        }
        Ok(())
    }

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
    /// (so that threads and processes sign in parallel): first the serial is reserved
    /// (`serial` + 1 written, after checking `serial` and `inventory.txt`), then, after
    /// signing, the inventory line and the certificate are written. A crash or an error can
    /// skip a serial but never issue one twice. With `exclusive`, a certificate that appeared
    /// for the name meanwhile makes this one refused.
    fn issue(
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
        // Content fsynced and renamed; the rename is made durable by the directory fsync
        // that also covers the inventory below, before the certificate is written. A crash
        // before then leaves no certificate with this serial, so nothing is issued twice.
        store::write_renamed(
            &serial_path,
            store::format_serial(next).as_bytes(),
            store::PUBLIC_MODE,
        )?;
        drop(lock);

        let now = SystemTime::now();
        let req = LeafRequest {
            subject: certname,
            public_key,
            requested,
            serial,
            not_before: now - cert::BACKDATE,
            not_after: now + ttl,
        };
        let cert = cert::sign_leaf(&self.issuer(), &req)?;
        let pem = cert::cert_pem(&cert)?;
        let v = &cert.tbs_certificate.validity;
        let line = store::inventory_line(
            serial,
            &cert::puppet_time(&v.not_before),
            &cert::puppet_time(&v.not_after),
            certname,
        );

        let _lock = CaLock::acquire(&self.layout)?;
        if exclusive {
            self.check_no_certificate(certname)?;
        }
        // The inventory line before the certificate: a certificate is never unrecorded.
        let current = store::read_string_opt(&inv_path)?.unwrap_or_default();
        if current != inventory {
            // Changed since the reservation (another signer): check it again.
            store::parse_inventory(&inv_path, &current)?;
        }
        store::write_renamed(
            &inv_path,
            format!("{current}{line}").as_bytes(),
            store::PRIVATE_MODE,
        )?;
        // One fsync of the CA directory makes both `serial` and `inventory.txt` durable.
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

    /// Revokes the certificate of `certname`: adds its serial (reason keyCompromise) to the
    /// CRL, which is re-signed with the next CRL number and a new next update. Revoking a
    /// revoked certificate changes nothing.
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

    /// Revokes under the lock; whether the certificate was valid before.
    fn revoke_locked(&self, certname: &str) -> Result<bool, CaError> {
        let pem = store::read_string_opt(&self.layout.signed(certname))?.ok_or_else(|| {
            CaError::NoCertificate {
                certname: certname.to_string(),
            }
        })?;
        let (cert, _) = cert::parse_certs(&pem, &format!("signed/{certname}.pem"))?
            .into_iter()
            .next()
            .ok_or_else(|| {
                CaError::malformed(format!("signed/{certname}.pem"), "no certificate")
            })?;
        let serial = cert.tbs_certificate.serial_number;
        let (_, mut crls, index) = self.read_crls()?;
        if crls[index]
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number == serial)
        {
            return Ok(false);
        }
        let entry = cert::revocation(serial, SystemTime::now())?;
        self.resign_crl(&mut crls, index, vec![entry.clone()])?;
        // Puppetserver's infrastructure CRL: certnames listed in infra_inventory.txt are also
        // revoked in infra_crl.pem.
        let infra = store::read_string_opt(&self.layout.infra_inventory())?.unwrap_or_default();
        if infra.lines().any(|l| l.trim() == certname) && self.layout.infra_crl().exists() {
            let path = self.layout.infra_crl();
            let (_, mut crls, index) = self.read_crls_at(&path)?;
            self.resign_crl_at(&path, &mut crls, index, vec![entry])?;
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
        let now = SystemTime::now();
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
        let revoked = if signed.exists() {
            self.revoke_locked(certname)?
        } else {
            false
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

    fn status_with(
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
            if let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".pem")) {
                if validate_certname(name).is_ok() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
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
    /// `certs/ca.pem`. Returns what was saved where.
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
            let path = dir.join(name);
            store::write_atomic(&path, pem.as_bytes(), mode)?;
            saved.push((what, path));
        }
        Ok(saved)
    }

    /// Puppet 7's certificate renewal: a new certificate (new serial and validity) for the
    /// same name, key and extensions as `cert_pem`, which must have been issued by this CA and
    /// not be revoked. It replaces `signed/<certname>.pem`.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let (_, old) = ca.generate("node1.example.test", &[]).unwrap();
    /// let new = ca.renew(old.as_bytes()).unwrap();
    /// assert_ne!(old, new);
    /// assert_eq!(ca.status("node1.example.test").unwrap().unwrap().serial_number, Some(3));
    /// ```
    pub fn renew(&self, cert_pem: &[u8]) -> Result<String, CaError> {
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

/// Whether a CRL verifies with the key of `issuer`.
fn crl_signed_by(crl: &CertificateList, issuer: &Certificate) -> Result<bool, CaError> {
    let der = crl.to_der().map_err(CaError::encode("CRL"))?;
    cert::signed_by(&der, issuer)
}

/// Parses a PEM certificate and returns its DER (helper for callers that need the bytes).
///
/// ```
/// assert!(puppet_ca::certificate_der("not pem").is_err());
/// ```
pub fn certificate_der(pem: &str) -> Result<Vec<u8>, CaError> {
    let (_, der) = cert::parse_certs(pem, "certificate")?
        .into_iter()
        .next()
        .ok_or_else(|| CaError::malformed("certificate", "no certificate"))?;
    Ok(der)
}

// The master shares one CA between its connection tasks.
const _: fn() = || {
    fn is<T: Send + Sync>() {}
    is::<CertificateAuthority>();
};
