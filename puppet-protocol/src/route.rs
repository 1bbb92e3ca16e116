//! The endpoints of `/puppet/v3`, `/puppet-ca/v1`, `/status/v1` and `/file-sync/v1`, parsed from a request path.

use crate::ProtocolError;
use crate::form::decode_path;

/// One endpoint, with the name or file path it addresses (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/puppet-ca/v1/certificate/:name` (`ca` is the CA's own certificate).
    Certificate(String),
    /// `/puppet-ca/v1/certificate_revocation_list/ca`.
    CertificateRevocationList,
    /// `/puppet-ca/v1/certificate_request/:name`.
    CertificateRequest(String),
    /// `/puppet-ca/v1/certificate_status/:name`.
    CertificateStatus(String),
    /// `/puppet-ca/v1/certificate_statuses/:any`.
    CertificateStatuses,
    /// `/puppet-ca/v1/certificate_renewal`.
    CertificateRenewal,
    /// `/puppet-ca/v1/clean`.
    Clean,
    /// `/puppet-ca/v1/expirations`.
    Expirations,
    /// `/puppet/v3/node/:name`.
    Node(String),
    /// `/puppet/v3/catalog/:name`.
    Catalog(String),
    /// `/puppet/v3/facts/:name`.
    Facts(String),
    /// `/puppet/v3/report/:name`.
    Report(String),
    /// `/puppet/v3/file_metadata/:mount/:path`.
    FileMetadata(String),
    /// `/puppet/v3/file_metadatas/:mount/:path`.
    FileMetadatas(String),
    /// `/puppet/v3/file_content/:mount/:path`.
    FileContent(String),
    /// `/puppet/v3/static_file_content/:path` (a catalog's `content_uri` path).
    StaticFileContent(String),
    /// `/puppet/v3/file_bucket_file/:algorithm/:checksum[/:path]`.
    FileBucketFile(String),
    /// `/puppet/v3/environments`.
    Environments,
    /// `/puppet/v3/status/:name`.
    PuppetStatus(String),
    /// `/status/v1/simple`.
    StatusSimple,
    /// `/status/v1/services`.
    StatusServices,
    /// `POST /file-sync/v1/publish` (a file sync primary; admins only).
    FileSyncPublish,
    /// `GET /file-sync/v1/latest`: the live code_id of every environment.
    FileSyncLatest,
    /// `GET /file-sync/v1/manifest/:environment/:code_id`: one version's manifest.
    FileSyncManifest {
        /// The environment (Puppet's rule: lower-case letters, digits, `_`).
        environment: String,
        /// The version (Puppetserver's code_id characters `[_-:;a-zA-Z0-9]`).
        code_id: String,
    },
    /// `GET /file-sync/v1/blob/:sha256`: one file's content by its SHA-256 (64 lower-case hex).
    FileSyncBlob(String),
}

impl Endpoint {
    /// Parses a request path (without the query).
    ///
    /// ```
    /// use puppet_protocol::Endpoint;
    /// assert_eq!(Endpoint::parse("/puppet/v3/catalog/n1.example.test").unwrap(),
    ///            Endpoint::Catalog("n1.example.test".into()));
    /// assert_eq!(Endpoint::parse("/puppet/v3/file_content/modules/m/a%20b.txt").unwrap(),
    ///            Endpoint::FileContent("modules/m/a b.txt".into()));
    /// assert!(Endpoint::parse("/puppet/v3/file_content/modules/m/../../x").is_err());
    /// assert!(Endpoint::parse("/nope").is_err());
    /// assert_eq!(Endpoint::parse("/file-sync/v1/latest").unwrap(), Endpoint::FileSyncLatest);
    /// assert!(Endpoint::parse("/file-sync/v1/blob/../../x").is_err());
    /// ```
    pub fn parse(path: &str) -> Result<Endpoint, ProtocolError> {
        let no_route = || ProtocolError::NoRoute {
            method: String::new(),
            path: path.to_string(),
        };
        if path == "/status/v1/simple" || path.starts_with("/status/v1/simple/") {
            return Ok(Endpoint::StatusSimple);
        }
        if path == "/status/v1/services" || path.starts_with("/status/v1/services/") {
            return Ok(Endpoint::StatusServices);
        }
        if let Some(rest) = path.strip_prefix("/puppet-ca/v1/") {
            let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let name = || single_name(tail, head);
            return match head {
                "certificate" => Ok(Endpoint::Certificate(name()?)),
                "certificate_revocation_list" => Ok(Endpoint::CertificateRevocationList),
                "certificate_request" => Ok(Endpoint::CertificateRequest(name()?)),
                "certificate_status" => Ok(Endpoint::CertificateStatus(name()?)),
                "certificate_statuses" => Ok(Endpoint::CertificateStatuses),
                "certificate_renewal" if tail.is_empty() => Ok(Endpoint::CertificateRenewal),
                "clean" if tail.is_empty() => Ok(Endpoint::Clean),
                "expirations" if tail.is_empty() => Ok(Endpoint::Expirations),
                _ => Err(no_route()),
            };
        }
        if let Some(rest) = path.strip_prefix("/puppet/v3/") {
            let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let name = || single_name(tail, head);
            let file = || file_path(tail, head);
            return match head {
                "node" => Ok(Endpoint::Node(name()?)),
                "catalog" => Ok(Endpoint::Catalog(name()?)),
                "facts" => Ok(Endpoint::Facts(name()?)),
                "report" => Ok(Endpoint::Report(name()?)),
                "file_metadata" => Ok(Endpoint::FileMetadata(file()?)),
                "file_metadatas" => Ok(Endpoint::FileMetadatas(file()?)),
                "file_content" => Ok(Endpoint::FileContent(file()?)),
                "static_file_content" => Ok(Endpoint::StaticFileContent(file()?)),
                "file_bucket_file" => Ok(Endpoint::FileBucketFile(decode_path(tail, head)?)),
                "environments" if tail.is_empty() => Ok(Endpoint::Environments),
                "status" => Ok(Endpoint::PuppetStatus(name()?)),
                _ => Err(no_route()),
            };
        }
        if let Some(rest) = path.strip_prefix("/file-sync/v1/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let bad = |what: &str, v: &str| {
                ProtocolError::BadRequest(format!("Invalid {what} {v:?} for file-sync"))
            };
            return match parts.as_slice() {
                ["publish"] => Ok(Endpoint::FileSyncPublish),
                ["latest"] => Ok(Endpoint::FileSyncLatest),
                ["manifest", env, code_id] => {
                    if !is_environment(env) {
                        return Err(bad("environment", env));
                    }
                    if !is_code_id(code_id) {
                        return Err(bad("code_id", code_id));
                    }
                    Ok(Endpoint::FileSyncManifest {
                        environment: (*env).to_string(),
                        code_id: (*code_id).to_string(),
                    })
                }
                ["blob", digest] => {
                    if digest.len() != 64
                        || !digest
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    {
                        return Err(bad("sha256", digest));
                    }
                    Ok(Endpoint::FileSyncBlob((*digest).to_string()))
                }
                _ => Err(no_route()),
            };
        }
        Err(no_route())
    }

    /// The certname this endpoint is about, for the endpoints whose default rule is "only the
    /// node itself" (node, catalog, facts, report).
    pub fn node_name(&self) -> Option<&str> {
        match self {
            Endpoint::Node(n) | Endpoint::Catalog(n) | Endpoint::Facts(n) | Endpoint::Report(n) => {
                Some(n)
            }
            _ => None,
        }
    }
}

/// An environment name as Puppet allows it: lower-case letters, digits, `_`, 1 to 128.
fn is_environment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A code_id as Puppetserver allows it: `[_-:;a-zA-Z0-9]`, 1 to 256 characters.
fn is_code_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b';'))
}

/// One name segment (a certname, `ca`, a status name): decoded, not empty, no `/`, not `.`
/// or `..`.
fn single_name(tail: &str, endpoint: &str) -> Result<String, ProtocolError> {
    let name = decode_path(tail, endpoint)?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(ProtocolError::BadRequest(format!(
            "Invalid name {name:?} for {endpoint}"
        )));
    }
    Ok(name)
}

/// A file path below a mount: decoded, relative, without `.`/`..` segments or NUL.
fn file_path(tail: &str, endpoint: &str) -> Result<String, ProtocolError> {
    let decoded = decode_path(tail, endpoint)?;
    let trimmed = decoded.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(ProtocolError::BadRequest(format!(
            "No file path given for {endpoint}"
        )));
    }
    if trimmed.starts_with('/')
        || trimmed.contains('\0')
        || trimmed
            .split('/')
            .any(|s| s == ".." || s == "." || s.is_empty())
    {
        return Err(ProtocolError::BadRequest(format!(
            "Invalid file path {trimmed:?} for {endpoint}: no '..', '.' or empty segments allowed"
        )));
    }
    Ok(trimmed.to_string())
}
