#![doc = include_str!("../README.md")]

mod autosign;
mod builder;
mod cert;
mod certname;
mod clock;
mod crl;
mod csr;
mod csr_attributes;
mod error;
mod group;
mod keys;
pub mod oids;
mod paths;
mod policy;
mod query;
mod setup;
mod sign;
mod status;
mod store;

use std::sync::Arc;
use std::time::Duration;

use x509_cert::Certificate;

pub use autosign::{Autosign, whitelist_matches};
pub use builder::{CsrBuilder, GeneratedCsr};
pub use cert::NETSCAPE_COMMENT;
pub use certname::{MAX_CERTNAME_LEN, validate_certname, validate_subject};
pub use clock::{Clock, SystemClock};
pub use csr::{Csr, RequestedExtension};
pub use csr_attributes::CsrAttributes;
pub use error::CaError;
pub use keys::KeyType;
pub use paths::{default_cadir, default_ssldir};
pub use status::{CertState, CertStatus, Expirations, Fingerprints, list_text};

use cert::Issuer;
use keys::PrivateKey;
use store::Layout;

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
    /// Puppetserver's `allow-auto-renewal`: whether [`CertificateAuthority::renew`] (the
    /// `certificate_renewal` endpoint) issues anything. Off by default, as in Puppetserver 7.
    pub allow_auto_renewal: bool,
    /// How many serials one write of `serial` reserves, at least (1, the default: exactly
    /// the certificates being signed, as Puppetserver). With more, a busy CA writes and
    /// syncs `serial` (and the CA directory) once per that many certificates instead of once
    /// per batch. The serials reserved ahead are this CA value's alone; those still unused
    /// when it is dropped are given back (`serial` rewritten, unless another writer moved
    /// it on meanwhile), and those a crash or a kill leaves unused are skipped: gaps in the
    /// serials, never one issued twice.
    pub serial_block: u64,
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
            allow_auto_renewal: false,
            serial_block: 1,
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
/// methods take the directory's lock for every change), and meant to be: concurrent calls
/// that issue certificates share their fsyncs (group commit).
///
/// # Durability
///
/// Every file is written to a temp file, fsynced and renamed into place; the directory is
/// fsynced where the rename must survive a crash. For a certificate ([`Self::submit_csr`]
/// when autosigned, [`Self::sign`], [`Self::sign_many`], [`Self::generate`],
/// [`Self::renew`]):
///
/// - **Returned means durable.** When the call returns the certificate, `serial` is past
///   its serial, its line is in `inventory.txt` and `signed/<certname>.pem` holds it, all
///   fsynced: a crash (or power loss) after that loses none of it.
/// - **No serial is issued twice.** Serials are reserved by writing `serial` before the
///   signature, and that write is durable before any certificate bearing one of them is
///   put in `signed/`. A crash can skip serials (gaps), never reuse one.
/// - **No certificate without its record.** The inventory line is appended and fsynced
///   before the certificate is renamed into `signed/`. A crash in between can leave a line
///   for a certificate that nobody got (never the reverse); `inventory.txt` is only ever
///   appended to.
/// - **Shared fsyncs.** Threads issuing at the same time (the master's connections,
///   [`Self::sign_many`]) are batched: one `serial` write reserves the serials of all the
///   threads waiting at that moment; each thread signs and fsyncs its own certificate's
///   temp file in parallel; then one inventory append (and fsync of the CA directory when
///   a `serial` write is not yet durable) and one fsync of `signed/` commit all the
///   certificates waiting, before any of their calls returns. A call issuing alone records
///   its inventory line on a helper thread while it signs, so that it waits for two fsyncs
///   after its signature (its temp file, `signed/`) instead of three.
/// - With [`CaSettings::serial_block`] above 1, `serial` is written once per that many
///   serials; the ones reserved ahead are given back when the value is dropped and
///   skipped after a crash.
///
/// Between processes (the `puppet-ca` CLI beside a running master) the lock file
/// `.puppet-ca.lock` (flock) serialises every change; each process batches its own calls.
pub struct CertificateAuthority {
    layout: Layout,
    settings: CaSettings,
    key: PrivateKey,
    cert: Certificate,
    clock: Arc<dyn Clock>,
    signer: sign::Signer,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cadir", &self.layout.dir)
            .field("settings", &self.settings)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// The same CA reading the time from `clock` from now on (validity of what it issues,
    /// revocation dates, CRL refresh, renewal checks). The default is [`SystemClock`].
    ///
    /// ```
    /// # use puppet_ca::*;
    /// use std::time::{Duration, SystemTime};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") };
    /// let later = SystemTime::now() + Duration::from_secs(3600);
    /// let ca = CertificateAuthority::setup(dir.path(), settings)?.with_clock(move || later);
    /// let (_, pem) = ca.generate("node1.example.test", &[])?;
    /// let not_before = ca.status("node1.example.test")?.unwrap().not_before.unwrap();
    /// assert!(pem.starts_with("-----BEGIN CERTIFICATE-----") && not_before.ends_with("UTC"));
    /// # Ok::<(), CaError>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The current time by the CA's clock.
    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    fn issuer(&self) -> Issuer<'_> {
        Issuer {
            key: &self.key,
            cert: &self.cert,
        }
    }
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

/// The extensions of a certificate (DER), in its order, decoded as
/// [`Csr::extension_requests`] decodes a CSR's (Puppet's string values as text, the short
/// name of Puppet's OIDs). A master makes a node's `trusted.extensions` from these.
///
/// ```
/// # use puppet_ca::*;
/// # let dir = tempfile::tempdir().unwrap();
/// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
/// let attrs = CsrAttributes::parse("extension_requests:\n  pp_role: web\n").unwrap();
/// let csr = CsrBuilder::new("n1.example.test").unwrap().key_type(KeyType::EcP256).attributes(attrs).build().unwrap();
/// ca.submit_csr("n1.example.test", csr.csr_pem.as_bytes()).unwrap();
/// let der = certificate_der(&ca.sign("n1.example.test").unwrap()).unwrap();
/// let role = certificate_extensions(&der).unwrap().into_iter().find(|e| e.name == Some("pp_role")).unwrap();
/// assert_eq!(role.value, "web");
/// ```
pub fn certificate_extensions(der: &[u8]) -> Result<Vec<RequestedExtension>, CaError> {
    use der::Decode;
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|e| CaError::malformed("certificate", e))?;
    Ok(cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .map(csr::describe_extension)
        .collect())
}

// The master shares one CA between its connection tasks.
const _: fn() = || {
    fn is<T: Send + Sync>() {}
    is::<CertificateAuthority>();
};

impl Drop for CertificateAuthority {
    /// Gives back the serials reserved ahead and not used ([`CaSettings::serial_block`]).
    fn drop(&mut self) {
        self.give_back_serials();
    }
}
