//! Making, opening and importing a CA directory.

use std::path::Path;
use std::sync::Arc;

use der::Encode;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use crate::keys::{self, PrivateKey};
use crate::store::{self, CaLock, Layout};
use crate::{CaError, CaSettings, CertificateAuthority, Clock, SystemClock, cert};

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
        Self::setup_with_clock(cadir, settings, SystemClock)
    }

    /// [`Self::setup`] at the time `clock` gives (the CA certificate's validity and its first
    /// CRL), the CA then reading that clock as after [`Self::with_clock`].
    ///
    /// ```
    /// # use puppet_ca::*;
    /// use std::time::{Duration, SystemTime};
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: test") };
    /// let long_ago = SystemTime::now() - Duration::from_secs(10 * 365 * 24 * 3600);
    /// let ca = CertificateAuthority::setup_with_clock(dir.path(), settings, move || long_ago)?;
    /// let expires = &ca.expirations()?.ca_certs["Puppet CA: test"];
    /// assert!(expires.as_str() < "2025", "a 5-year CA made 10 years ago: {expires}");
    /// # Ok::<(), CaError>(())
    /// ```
    pub fn setup_with_clock(
        cadir: &Path,
        settings: CaSettings,
        clock: impl Clock + 'static,
    ) -> Result<Self, CaError> {
        let (layout, _lock) = new_cadir(cadir)?;
        let key = PrivateKey::generate(settings.key)?;
        let now = clock.now();
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
            clock: Arc::new(clock),
            signer: Default::default(),
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
        sweep(&layout)?;
        Ok(CertificateAuthority {
            layout,
            settings,
            key,
            cert,
            clock: Arc::new(SystemClock),
            signer: Default::default(),
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
        let (layout, _lock) = new_cadir(cadir)?;
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
            clock: Arc::new(SystemClock),
            signer: Default::default(),
        };
        ca.write_initial_files(&bundle_pem, Some(&crl_pem), 1, false)?;
        Ok(ca)
    }

    pub(crate) fn write_initial_files(
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
                let now = self.now();
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
}

/// Whether a CRL verifies with the key of `issuer`.
fn crl_signed_by(crl: &CertificateList, issuer: &Certificate) -> Result<bool, CaError> {
    let der = crl.to_der().map_err(CaError::encode("CRL"))?;
    cert::signed_by(&der, issuer)
}

/// Removes the temp files a crash left in the CA directory, `signed/` and `requests/`. Looks
/// first without the lock (opening must keep working for a user who may only read); takes
/// the lock only when there is something to remove. In `signed/` only those older than
/// [`store::TEMP_GRACE`]: certificates are written there outside the lock.
fn sweep(layout: &Layout) -> Result<(), CaError> {
    let dirs = [
        (layout.dir.clone(), std::time::Duration::ZERO),
        (layout.signed_dir(), store::TEMP_GRACE),
        (layout.requests_dir(), std::time::Duration::ZERO),
    ];
    let orphaned = dirs.iter().any(|(d, _)| {
        std::fs::read_dir(d).is_ok_and(|mut entries| {
            entries.any(|e| {
                e.is_ok_and(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(store::TEMP_PREFIX))
                })
            })
        })
    });
    if !orphaned {
        return Ok(());
    }
    let Ok(_lock) = CaLock::acquire(layout) else {
        return Ok(());
    };
    for (dir, grace) in &dirs {
        store::sweep_temp_files(dir, *grace)?;
    }
    Ok(())
}

/// Creates `cadir` (when missing) and locks it for a new CA: [`CaError::CaExists`] when it
/// holds a CA certificate or key already.
fn new_cadir(cadir: &Path) -> Result<(Layout, CaLock), CaError> {
    let layout = Layout {
        dir: cadir.to_path_buf(),
    };
    store::create_dir(cadir)?;
    let lock = CaLock::acquire(&layout)?;
    if layout.cert().exists() || layout.key().exists() {
        return Err(CaError::CaExists {
            cadir: cadir.to_path_buf(),
        });
    }
    Ok((layout, lock))
}
