//! SSL bootstrap as Puppet 7's agent does it (`Puppet::SSL::StateMachine`), in Puppet's ssldir
//! layout: `certs/ca.pem`, `crl.pem`, `private_keys/<certname>.pem` (0640 in a 0750
//! directory), `public_keys/<certname>.pem`, `certificate_requests/<certname>.pem` and
//! `certs/<certname>.pem`.
//!
//! 1. CA certificate: loaded, or downloaded over an unverified connection (the agent has
//!    nothing to verify with yet) and saved; with `ca_refresh_interval` set, refreshed
//!    (`If-Modified-Since` the file's mtime) when `certs/ca.pem` is older than that;
//! 2. CRL (`hostcrl`): loaded, or downloaded over a connection verified with the CA and
//!    saved; with `crl_refresh_interval` set, refreshed when the file is older than that (its
//!    mtime is set to now first, so a failed refresh is not retried before the next
//!    interval; `304 Not Modified` keeps it); skipped with `certificate_revocation = false`;
//! 3. key: loaded, or generated (RSA `keylength`) and saved;
//! 4. certificate: loaded, or a CSR (with `csr_attributes.yaml`) submitted and the signed
//!    certificate fetched, waiting `waitforcert` between tries (0: exit as Puppet does);
//! 5. the certificate must belong to the key and must not be on the CRL: a certificate the
//!    CA revoked stops the agent with Puppet's `Certificate 'CN=<name>' is revoked` once the
//!    refreshed CRL lists it.
//!
//! Every later connection verifies the server against the CA and the CRL; private keys are
//! never logged.

use std::path::{Path, PathBuf};

use der::{Decode, Encode};
use puppet_ca::{CsrAttributes, CsrBuilder, KeyType};
use puppet_protocol::client::{Client, ClientError, Identity};
use sha2::Digest;

use crate::error::SslErrorKind;
use crate::fsutil::{ensure_dir, write_atomic};
use crate::settings::Revocation;
use crate::{AgentError, Logger, Settings};

/// The files of an ssldir.
#[derive(Debug, Clone)]
pub struct SslDir {
    root: PathBuf,
    certname: String,
}

impl SslDir {
    /// The ssldir at `root` for `certname`.
    pub fn new(root: impl Into<PathBuf>, certname: &str) -> SslDir {
        SslDir {
            root: root.into(),
            certname: certname.to_string(),
        }
    }
    /// `certs/ca.pem`.
    pub fn ca(&self) -> PathBuf {
        self.root.join("certs").join("ca.pem")
    }
    /// `crl.pem`.
    pub fn crl(&self) -> PathBuf {
        self.root.join("crl.pem")
    }
    /// `certs/<certname>.pem`.
    pub fn cert(&self) -> PathBuf {
        self.root
            .join("certs")
            .join(format!("{}.pem", self.certname))
    }
    /// `private_keys/<certname>.pem`.
    pub fn key(&self) -> PathBuf {
        self.root
            .join("private_keys")
            .join(format!("{}.pem", self.certname))
    }
    /// `public_keys/<certname>.pem`.
    pub fn public_key(&self) -> PathBuf {
        self.root
            .join("public_keys")
            .join(format!("{}.pem", self.certname))
    }
    /// `certificate_requests/<certname>.pem`.
    pub fn request(&self) -> PathBuf {
        self.root
            .join("certificate_requests")
            .join(format!("{}.pem", self.certname))
    }

    fn make_dirs(&self) -> Result<(), AgentError> {
        if !self.root.exists() {
            ensure_dir(&self.root, 0o771)?;
        }
        for (d, mode) in [
            ("certs", 0o755),
            ("public_keys", 0o755),
            ("certificate_requests", 0o755),
            ("private_keys", 0o750),
        ] {
            let p = self.root.join(d);
            if !p.exists() {
                ensure_dir(&p, mode)?;
            }
        }
        Ok(())
    }
}

/// What a bootstrapped agent holds: the CA certificate(s), the CRL, its certificate and key.
#[derive(Clone)]
pub struct SslContext {
    /// CA bundle, PEM.
    pub ca_pem: String,
    /// CRL chain, PEM (empty with `certificate_revocation = false`).
    pub crl_pem: String,
    /// Our certificate, PEM.
    pub cert_pem: String,
    key_pem: String,
    revocation: Revocation,
    trace: Option<puppet_protocol::client::Tracer>,
}

impl std::fmt::Debug for SslContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslContext")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SslContext {
    /// A client of `host:port` presenting our certificate, verifying the server against the
    /// CA and the CRL.
    pub fn client(&self, host: &str, port: u16) -> Result<Client, AgentError> {
        let builder = Client::builder(host, port)
            .ca_pem(&self.ca_pem)
            .identity(Identity {
                cert_pem: self.cert_pem.clone(),
                key_pem: self.key_pem.clone(),
            });
        Ok(verifying(builder, &self.crl_pem, self.revocation, &self.trace).build()?)
    }
}

/// The CRL check (`certificate_revocation`) and the trace (`http_debug`) of a client.
fn verifying(
    mut builder: puppet_protocol::client::ClientBuilder,
    crl_pem: &str,
    revocation: Revocation,
    trace: &Option<puppet_protocol::client::Tracer>,
) -> puppet_protocol::client::ClientBuilder {
    if revocation != Revocation::Off && !crl_pem.is_empty() {
        builder = builder.crl_pem(crl_pem);
        if revocation == Revocation::Leaf {
            builder = builder.crl_leaf_only();
        }
    }
    if let Some(t) = trace {
        builder = builder.trace(t.clone());
    }
    builder
}

/// A client of the CA server trusting `ca_pem` (and checking `crl_pem`), no identity.
fn ca_client(
    settings: &Settings,
    ca_pem: &str,
    crl_pem: &str,
    revocation: Revocation,
) -> Result<Client, AgentError> {
    let builder = Client::builder(&settings.ca_server, settings.ca_port).ca_pem(ca_pem);
    Ok(verifying(builder, crl_pem, revocation, &settings.http_trace).build()?)
}

/// The reason phrase of a status, as Puppet's `ResponseError` message is.
fn reason(status: u16) -> String {
    match status {
        400 => "Bad Request".into(),
        401 => "Unauthorized".into(),
        403 => "Forbidden".into(),
        404 => "Not Found".into(),
        500 => "Internal Server Error".into(),
        502 => "Bad Gateway".into(),
        503 => "Service Unavailable".into(),
        other => format!("HTTP {other}"),
    }
}

/// An HTTP date (`If-Modified-Since`): `Thu, 03 Dec 2026 09:02:46 GMT`.
///
/// ```
/// let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_288_566);
/// assert_eq!(puppet_agent::ssl::http_date(t), "Thu, 03 Dec 2026 09:02:46 GMT");
/// ```
pub fn http_date(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap_or_default()
}

/// What a refresh (`GET` with `If-Modified-Since`) gave.
enum Refreshed {
    /// A new document.
    New(String),
    /// `304 Not Modified`.
    Unmodified,
    /// The server answered with another error status (its reason phrase).
    Refused(String),
    /// The request failed (connection, TLS, timeout).
    Failed(String),
}

async fn refresh(client: &Client, path: &str, since: Option<std::time::SystemTime>) -> Refreshed {
    let date = since.map(http_date);
    let mut headers = vec![("accept", "text/plain")];
    if let Some(d) = &date {
        headers.push(("if-modified-since", d.as_str()));
    }
    match client.request("GET", path, &headers, Vec::new()).await {
        Ok(a) if a.status == 200 => match String::from_utf8(a.body) {
            Ok(s) => Refreshed::New(s),
            Err(e) => Refreshed::Failed(e.to_string()),
        },
        Ok(a) if a.status == 304 => Refreshed::Unmodified,
        Ok(a) => Refreshed::Refused(reason(a.status)),
        Err(e) => Refreshed::Failed(e.to_string()),
    }
}

/// The mtime of `path`, if it has one.
fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether a file last updated at `last` is due for a refresh every `ttl` (Puppet compares
/// whole seconds: due when now > last + ttl).
fn due(last: Option<std::time::SystemTime>, ttl: std::time::Duration) -> bool {
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    match last {
        None => true,
        Some(l) => secs(std::time::SystemTime::now()) > secs(l) + ttl.as_secs(),
    }
}

/// Sets the mtime of `path` to now (Puppet's `crl_last_update=`), best effort.
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

fn read_opt(path: &Path) -> Result<Option<String>, AgentError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AgentError::io("read", path)(e)),
    }
}

fn invalid(message: impl Into<String>) -> AgentError {
    AgentError::ssl(SslErrorKind::Invalid, message)
}

fn ca_error(message: impl Into<String>) -> AgentError {
    AgentError::ssl(SslErrorKind::Ca, message)
}

/// Colon-separated upper-case hex, as Puppet prints fingerprints.
fn fingerprint(der: &[u8]) -> String {
    let digest = sha2::Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn pem_der(pem: &str, what: &str) -> Result<Vec<u8>, AgentError> {
    let (_label, der) =
        der::pem::decode_vec(pem.as_bytes()).map_err(|e| invalid(format!("{what}: {e}")))?;
    Ok(der)
}

/// Every PEM block of `text` with `label`, as DER.
fn pem_blocks(text: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let Some(stop) = rest[start..].find(&end) else {
            break;
        };
        let block = &rest[start..start + stop + end.len()];
        if let Ok((_, der)) = der::pem::decode_vec(block.as_bytes()) {
            out.push(der);
        }
        rest = &rest[start + stop + end.len()..];
    }
    out
}

/// `CN=<name>` as Puppet prints a subject.
fn subject_of(cert: &x509_cert::Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Fails with Puppet's message when `cert_pem` is on a CRL of its issuer in `crl_pem`.
///
/// ```
/// use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
/// let dir = tempfile::tempdir().unwrap();
/// let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: m") }).unwrap();
/// let (_key, cert) = ca.generate("agent1.example.test", &[]).unwrap();
/// assert!(puppet_agent::ssl::check_not_revoked(&cert, &ca.crl_pem().unwrap()).is_ok());
/// ca.revoke("agent1.example.test").unwrap();
/// let err = puppet_agent::ssl::check_not_revoked(&cert, &ca.crl_pem().unwrap()).unwrap_err();
/// assert_eq!(err.to_string(), "Certificate 'CN=agent1.example.test' is revoked");
/// ```
pub fn check_not_revoked(cert_pem: &str, crl_pem: &str) -> Result<(), AgentError> {
    let der = pem_der(cert_pem, "certificate")?;
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| invalid(format!("Failed to parse certificate: {e}")))?;
    let issuer = &cert.tbs_certificate.issuer;
    let serial = &cert.tbs_certificate.serial_number;
    for crl_der in pem_blocks(crl_pem, "X509 CRL") {
        let crl = x509_cert::crl::CertificateList::from_der(&crl_der)
            .map_err(|e| invalid(format!("Failed to parse CRL: {e}")))?;
        if &crl.tbs_cert_list.issuer != issuer {
            continue;
        }
        let revoked = crl
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| &r.serial_number == serial);
        if revoked {
            return Err(AgentError::ssl(
                SslErrorKind::Revoked,
                format!("Certificate '{}' is revoked", subject_of(&cert)),
            ));
        }
    }
    Ok(())
}

/// Loads or makes the agent's SSL state in `settings.ssldir` (see the module docs).
///
/// ```no_run
/// # async fn f() -> Result<(), puppet_agent::AgentError> {
/// let settings = puppet_agent::Settings::load(&[])?;
/// let log = puppet_agent::Logger::console(puppet_report::LogLevel::Info, true);
/// let ssl = puppet_agent::ssl::bootstrap(&settings, &log).await?;
/// let client = ssl.client(&settings.server, settings.masterport)?;
/// # Ok(()) }
/// ```
pub async fn bootstrap(settings: &Settings, log: &Logger) -> Result<SslContext, AgentError> {
    let dir = SslDir::new(&settings.ssldir, &settings.certname);
    dir.make_dirs()?;
    let ca_url = format!(
        "https://{}:{}/puppet-ca/v1",
        settings.ca_server, settings.ca_port
    );

    // 1. CA certificate.
    log.debug("Puppet", "Loading CA certs");
    let mut force_crl_refresh = false;
    let ca_pem = match read_opt(&dir.ca())? {
        Some(pem) => match settings.ca_refresh_interval {
            Some(ttl) if due(mtime(&dir.ca()), ttl) => {
                let last = mtime(&dir.ca());
                touch(&dir.ca());
                log.info("Puppet", "Refreshing CA certificate");
                let client = ca_client(settings, &pem, "", Revocation::Off)?;
                match refresh(&client, "/puppet-ca/v1/certificate/ca", last).await {
                    Refreshed::New(new) => {
                        if pem_blocks(&new, "CERTIFICATE").is_empty() {
                            return Err(invalid("Failed to parse CA certificates as PEM"));
                        }
                        // Verified by building a client with it before it is saved.
                        ca_client(settings, &new, "", Revocation::Off)?;
                        write_atomic(&dir.ca(), new.as_bytes(), 0o644)?;
                        log.info(
                            "Puppet",
                            &format!("Refreshed CA certificate: {}", fingerprint(new.as_bytes())),
                        );
                        // A new CA may come with a CRL of its own.
                        force_crl_refresh = true;
                        new
                    }
                    Refreshed::Unmodified => {
                        log.info(
                            "Puppet",
                            "CA certificate is unmodified, using existing CA certificate",
                        );
                        pem
                    }
                    Refreshed::Refused(m) => {
                        log.info(
                            "Puppet",
                            &format!("Failed to refresh CA certificate, using existing CA certificate: {m}"),
                        );
                        pem
                    }
                    Refreshed::Failed(m) => {
                        log.warning(
                            "Puppet",
                            &format!("Failed to refresh CA certificate, using existing CA certificate: {m}"),
                        );
                        pem
                    }
                }
            }
            _ => pem,
        },
        None => {
            let mut insecure =
                Client::builder(&settings.ca_server, settings.ca_port).insecure_ca_bootstrap();
            if let Some(t) = &settings.http_trace {
                insecure = insecure.trace(t.clone());
            }
            let insecure = insecure.build()?;
            let pem = insecure
                .ca_certificate()
                .await
                .map_err(|e| match e.status() {
                    Some(404) => ca_error("CA certificate is missing from the server"),
                    _ => ca_error(format!("Could not download CA certificate: {e}")),
                })?;
            if pem_blocks(&pem, "CERTIFICATE").is_empty() {
                return Err(invalid("Failed to parse CA certificates as PEM"));
            }
            write_atomic(&dir.ca(), pem.as_bytes(), 0o644)?;
            pem
        }
    };

    // 2. CRL.
    log.debug("Puppet", "Loading CRLs");
    let revocation = settings.certificate_revocation;
    let hostcrl = settings.hostcrl();
    let crl_pem = if revocation == Revocation::Off {
        log.info(
            "Puppet",
            "Certificate revocation is disabled, skipping CRL download",
        );
        String::new()
    } else {
        match read_opt(&hostcrl)? {
            Some(pem) => {
                let last = mtime(&hostcrl);
                let wanted = force_crl_refresh
                    || settings
                        .crl_refresh_interval
                        .is_some_and(|ttl| due(last, ttl));
                if wanted {
                    // The time first, then a best effort (as Puppet: a failed refresh is not
                    // retried before the next interval).
                    touch(&hostcrl);
                    log.info("Puppet", "Refreshing CRL");
                    let client = ca_client(settings, &ca_pem, &pem, revocation)?;
                    match refresh(
                        &client,
                        "/puppet-ca/v1/certificate_revocation_list/ca",
                        last,
                    )
                    .await
                    {
                        Refreshed::New(new) => {
                            if pem_blocks(&new, "X509 CRL").is_empty() {
                                return Err(invalid("Failed to parse CRLs as PEM"));
                            }
                            // Verified by building a client with it before it is saved.
                            ca_client(settings, &ca_pem, &new, revocation)?;
                            write_atomic(&hostcrl, new.as_bytes(), 0o644)?;
                            // (Puppet 8 logs `Refreshed CRL: <digest>` here; 7.23 nothing.)
                            new
                        }
                        Refreshed::Unmodified => {
                            log.info("Puppet", "CRL is unmodified, using existing CRL");
                            pem
                        }
                        Refreshed::Refused(m) => {
                            log.info(
                                "Puppet",
                                &format!("Failed to refresh CRL, using existing CRL: {m}"),
                            );
                            pem
                        }
                        Refreshed::Failed(m) => {
                            log.warning(
                                "Puppet",
                                &format!("Failed to refresh CRL, using existing CRL: {m}"),
                            );
                            pem
                        }
                    }
                } else {
                    pem
                }
            }
            None => {
                let client = ca_client(settings, &ca_pem, "", Revocation::Off)?;
                let pem = client.crl().await.map_err(|e| match e.status() {
                    Some(404) => ca_error("CRL is missing from the server"),
                    _ => ca_error(format!("Could not download CRLs: {e}")),
                })?;
                if pem_blocks(&pem, "X509 CRL").is_empty() {
                    return Err(invalid("Failed to parse CRLs as PEM"));
                }
                write_atomic(&hostcrl, pem.as_bytes(), 0o644)?;
                pem
            }
        }
    };

    // 3. Key.
    log.debug("Puppet", "Loading/generating private key");
    let existing_key = read_opt(&dir.key())?;
    let finish = |cert_pem: String, key_pem: String| {
        finish(SslContext {
            ca_pem: ca_pem.clone(),
            crl_pem: crl_pem.clone(),
            cert_pem,
            key_pem,
            revocation,
            trace: settings.http_trace.clone(),
        })
    };
    if let (Some(key_pem), Some(cert_pem)) = (&existing_key, read_opt(&dir.cert())?) {
        return finish(cert_pem, key_pem.clone());
    }
    let ca_client = ca_client(settings, &ca_pem, &crl_pem, revocation)?;

    // A certificate may already wait for us (signed after an earlier run exited).
    let mut builder = CsrBuilder::new(&settings.certname)?;
    let key_pem = match existing_key {
        Some(k) => {
            builder = builder.key_pem(k.as_bytes().to_vec());
            Some(k)
        }
        None => {
            log.info(
                "Puppet",
                &format!("Creating a new RSA SSL key for {}", settings.certname),
            );
            builder = builder.key_type(KeyType::Rsa(settings.keylength));
            None
        }
    };

    // 4. CSR (the key is generated with it).
    let attrs_path = settings.csr_attributes();
    if let Some(text) = read_opt(&attrs_path)? {
        log.info(
            "Puppet",
            &format!("csr_attributes file loading from {}", attrs_path.display()),
        );
        builder = builder.attributes(CsrAttributes::parse(&text)?);
    }
    if !settings.dns_alt_names.is_empty() {
        builder = builder.dns_alt_names(&settings.dns_alt_names);
    }
    log.info(
        "Puppet",
        &format!(
            "Creating a new SSL certificate request for {}",
            settings.certname
        ),
    );
    let made = builder.build()?;
    let key_pem = match key_pem {
        Some(k) => k,
        None => {
            write_atomic(&dir.key(), made.key_pem.as_bytes(), 0o640)?;
            made.key_pem.clone()
        }
    };
    let csr_der = pem_der(&made.csr_pem, "certificate request")?;
    if let Ok(req) = x509_cert::request::CertReq::from_der(&csr_der)
        && let Ok(spki) = req.info.public_key.to_der()
        && let Ok(pem) = puppet_protocol::cert::pem_encode("PUBLIC KEY", &spki)
    {
        write_atomic(&dir.public_key(), pem.as_bytes(), 0o644)?;
    }
    log.info(
        "Puppet",
        &format!(
            "Certificate Request fingerprint (SHA256): {}",
            fingerprint(&csr_der)
        ),
    );
    match ca_client
        .submit_csr(&settings.certname, &made.csr_pem)
        .await
    {
        Ok(()) => write_atomic(&dir.request(), made.csr_pem.as_bytes(), 0o644)?,
        // Already submitted (or already signed): go on and fetch.
        Err(e) if e.status() == Some(400) => {}
        Err(e) => {
            return Err(match e.status() {
                Some(code) => ca_error(format!(
                    "Failed to submit the CSR, HTTP response was {code}"
                )),
                None => AgentError::from(e),
            });
        }
    }

    // 5. The signed certificate.
    loop {
        log.debug("Puppet", "Downloading client certificate");
        match ca_client.certificate(&settings.certname).await {
            Ok(Some(cert_pem)) => {
                log.info(
                    "Puppet",
                    &format!(
                        "Downloaded certificate for {} from {ca_url}",
                        settings.certname
                    ),
                );
                let ctx = finish(cert_pem.clone(), key_pem.clone())?;
                write_atomic(&dir.cert(), cert_pem.as_bytes(), 0o644)?;
                let _ = std::fs::remove_file(dir.request());
                return Ok(ctx);
            }
            Ok(None) => {
                log.info(
                    "Puppet",
                    &format!(
                        "Certificate for {} has not been signed yet",
                        settings.certname
                    ),
                );
                log.plain(&format!(
                    "Couldn't fetch certificate from CA server; you might still need to sign this agent's certificate ({}).",
                    settings.certname
                ));
            }
            Err(e) => return Err(wrap_cert_error(&settings.certname, e)),
        }
        if settings.waitforcert.is_zero() {
            log.plain("Exiting now because the waitforcert setting is set to 0.");
            return Err(AgentError::ssl(
                SslErrorKind::NotSigned,
                "Exiting now because the waitforcert setting is set to 0.",
            ));
        }
        log.info(
            "Puppet",
            &format!(
                "Will try again in {} seconds.",
                settings.waitforcert.as_secs()
            ),
        );
        tokio::time::sleep(settings.waitforcert).await;
    }
}

fn wrap_cert_error(certname: &str, e: ClientError) -> AgentError {
    match &e {
        ClientError::Status { message, .. } => ca_error(format!(
            "Failed to retrieve certificate for {certname}: {message}"
        )),
        _ => AgentError::from(e),
    }
}

/// Checks a certificate against the CRL and the key, and makes the context.
fn finish(ctx: SslContext) -> Result<SslContext, AgentError> {
    if ctx.revocation != Revocation::Off {
        check_not_revoked(&ctx.cert_pem, &ctx.crl_pem)?;
    }
    // rustls refuses a certificate whose public key is not the key's.
    match ctx.client("localhost", 1) {
        Ok(_) => Ok(ctx),
        Err(AgentError::Client(e))
            if matches!(&*e, ClientError::Config(m)
                if m.to_lowercase().contains("inconsistent") || m.to_lowercase().contains("match")) =>
        {
            let der = pem_der(&ctx.cert_pem, "certificate")?;
            let subject = x509_cert::Certificate::from_der(&der)
                .map(|c| subject_of(&c))
                .unwrap_or_default();
            Err(AgentError::ssl(
                SslErrorKind::KeyMismatch,
                format!("The certificate for '{subject}' does not match its private key"),
            ))
        }
        Err(e) => Err(e),
    }
}
