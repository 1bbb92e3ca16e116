//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the CA. Every variant names what was refused and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// A file or directory of the CA could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A certname that Puppet would refuse (and that never touches a path).
    #[error("Certname {name:?} is invalid: {reason}")]
    InvalidCertname {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A PEM or DER document that cannot be parsed.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was being parsed (e.g. "CSR for agent1", "ca_crt.pem").
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A CSR larger than the configured limit.
    #[error("CSR for {certname} is {size} bytes, over the limit of {limit} bytes")]
    CsrTooLarge {
        /// The certname it was submitted for.
        certname: String,
        /// Its size.
        size: usize,
        /// The limit ([`crate::CaSettings::max_csr_bytes`]).
        limit: usize,
    },
    /// The CSR's signature does not verify with the public key it carries.
    #[error("CSR for {certname} contains a public key that does not correspond to the signing key")]
    CsrSignature {
        /// The certname it was submitted for.
        certname: String,
    },
    /// A key or signature algorithm the CA does not accept.
    #[error("{what}: unsupported algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where it was found.
        what: String,
        /// The algorithm's OID.
        oid: String,
    },
    /// The CSR's subject CN is not the certname it was submitted under.
    #[error("Instance name \"{cn}\" does not match requested key \"{certname}\"")]
    CertnameMismatch {
        /// The name it was submitted under.
        certname: String,
        /// The CN in its subject.
        cn: String,
    },
    /// Subject alternative names (other than `DNS:<certname>` alone) requested while
    /// `allow_subject_alt_names` is off.
    #[error(
        "CSR '{certname}' contains extra subject alternative names ({names}), which are disallowed. To allow subject alternative names, set allow-subject-alt-names to true in your ca.conf file. Then restart the puppetserver and try signing this certificate again."
    )]
    SubjectAltNamesNotAllowed {
        /// The certname.
        certname: String,
        /// The extra names, comma-separated as Puppetserver prints them.
        names: String,
    },
    /// A subject alternative name Puppetserver never signs (not DNS or IP, or a wildcard).
    #[error("CSR '{certname}': {reason}")]
    InvalidAltName {
        /// The certname.
        certname: String,
        /// Puppetserver's words.
        reason: String,
    },
    /// A certname that is a valid file name but not a host name Puppetserver signs for.
    #[error("{reason}")]
    InvalidSubject {
        /// The certname.
        certname: String,
        /// Puppetserver's words.
        reason: String,
    },
    /// An authorization extension (arc 1.3.6.1.4.1.34380.1.3) while `allow_authorization_extensions` is off.
    #[error(
        "CSR '{certname}' contains an authorization extension, which is disallowed. To allow authorization extensions, set allow-authorization-extensions to true in your ca.conf file. Then restart the puppetserver and try signing this certificate again."
    )]
    AuthorizationExtensionNotAllowed {
        /// The certname.
        certname: String,
        /// The extension's OID (or Puppet short name).
        oid: String,
    },
    /// Extensions outside Puppet's arcs and subjectAltName (and `pp_cli_auth`, which only
    /// Puppetserver puts in its own certificate).
    #[error("Found extensions that are not permitted: {oids}")]
    ExtensionNotAllowed {
        /// The certname.
        certname: String,
        /// The offending OIDs, comma-separated.
        oids: String,
    },
    /// A certificate (valid or revoked) already exists for the name.
    #[error("{certname} already has a {state} certificate; ignoring certificate request")]
    AlreadyHasCertificate {
        /// The certname.
        certname: String,
        /// "signed", "revoked" or "requested".
        state: &'static str,
    },
    /// No pending CSR for the name.
    #[error("Could not find certificate request for {certname}")]
    NoCsr {
        /// The certname.
        certname: String,
    },
    /// No signed certificate for the name.
    #[error("Could not find certificate for {certname}")]
    NoCertificate {
        /// The certname.
        certname: String,
    },
    /// Nothing to clean for the name.
    #[error("Could not find files to clean for {certname}")]
    NothingToClean {
        /// The certname.
        certname: String,
    },
    /// `setup` or `import` into a directory that already holds a CA.
    #[error("{}: a CA already exists here (ca_crt.pem or ca_key.pem present)", cadir.display())]
    CaExists {
        /// The CA directory.
        cadir: PathBuf,
    },
    /// `open` of a directory without a CA.
    #[error("{}: no CA here (ca_crt.pem and ca_key.pem are required)", cadir.display())]
    NoCa {
        /// The CA directory.
        cadir: PathBuf,
    },
    /// The `serial` file is not a positive hexadecimal number.
    #[error("{}: corrupt serial file: {reason}", path.display())]
    CorruptSerial {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A line of `inventory.txt` is not in Puppetserver's format, or the serial about to be
    /// issued is already in it.
    #[error("{}:{line}: corrupt inventory: {reason}", path.display())]
    CorruptInventory {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The CA's private key does not match its certificate, or cannot be used.
    #[error("CA key: {0}")]
    Key(String),
    /// A certificate presented for renewal was not issued by this CA or is revoked.
    #[error("Certificate for {certname} cannot be renewed: {reason}")]
    RenewalRefused {
        /// The certificate's CN.
        certname: String,
        /// Why.
        reason: String,
    },
    /// Renewal asked while [`crate::CaSettings::allow_auto_renewal`] is off.
    #[error("Certificate renewal is not enabled on this CA (allow-auto-renewal is false)")]
    RenewalDisabled,
    /// A `csr_attributes.yaml` outside the subset Puppet reads (two maps of strings).
    #[error("csr_attributes.yaml:{line}: {reason}")]
    CsrAttributes {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The autosign policy executable could not be run.
    #[error("autosign executable {}: {reason}", path.display())]
    Autosign {
        /// The executable.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A cryptographic operation failed (key generation, signing).
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// DER encoding of something the CA built failed.
    #[error("encoding {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The der error.
        #[source]
        source: der::Error,
    },
}

impl CaError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CaError::Io {
            path: path.into(),
            source,
        }
    }

    /// The same error again, for each job of a batch that one failure stopped (the source
    /// of an I/O error is copied as its kind and message).
    pub(crate) fn duplicate(&self) -> CaError {
        match self {
            CaError::Io { path, source } => CaError::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            CaError::CorruptSerial { path, reason } => CaError::CorruptSerial {
                path: path.clone(),
                reason: reason.clone(),
            },
            CaError::CorruptInventory { path, line, reason } => CaError::CorruptInventory {
                path: path.clone(),
                line: *line,
                reason: reason.clone(),
            },
            CaError::Malformed { what, reason } => CaError::Malformed {
                what: what.clone(),
                reason: reason.clone(),
            },
            other => CaError::Malformed {
                what: "CA directory".into(),
                reason: other.to_string(),
            },
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, reason: impl ToString) -> Self {
        CaError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn encode(what: &'static str) -> impl FnOnce(der::Error) -> Self {
        move |source| CaError::Encode { what, source }
    }
}
