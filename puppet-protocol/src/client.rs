//! A typed HTTPS client for a Puppet master (feature `client`), as a Puppet 7 agent talks to
//! Puppetserver: TLS (rustls) with an optional client certificate, the server's certificate
//! verified for the host name connected to, HTTP/1.1 with one keep-alive connection reused,
//! the agent's headers, gzip answers decoded, connect and read timeouts, and typed errors.
//!
//! ```no_run
//! # async fn run() -> Result<(), puppet_protocol::client::ClientError> {
//! use puppet_protocol::client::{CatalogOptions, Client, Identity};
//!
//! let ca = std::fs::read_to_string("ssl/certs/ca.pem").unwrap();
//! let identity = Identity {
//!     cert_pem: std::fs::read_to_string("ssl/certs/agent1.example.test.pem").unwrap(),
//!     key_pem: std::fs::read_to_string("ssl/private_keys/agent1.example.test.pem").unwrap(),
//! };
//! let client = Client::builder("puppet.example.test", 8140)
//!     .ca_pem(&ca)
//!     .identity(identity)
//!     .build()?;
//! let facts = puppet_facts::Facts::new("agent1.example.test", serde_json::Map::new());
//! let catalog = client
//!     .catalog("agent1.example.test", "production", &facts, &CatalogOptions::default())
//!     .await?;
//! println!("{} resources", catalog.resources.len());
//! # Ok(()) }
//! ```
//!
//! [`Client::request`] and [`Connection`] stay available for requests the typed calls do not
//! cover (and for tests that need to send what an agent would not).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use puppet_catalog::{Catalog, FileMetadata};
use puppet_facts::Facts;
use puppet_report::Report;
use serde_json::{Map, Value};

use crate::ErrorBody;
use crate::form::{CatalogRequest, Params, encode, encode_path};

/// The agent's `Accept` for documents that may come as rich JSON (catalogs).
const ACCEPT_RICH: &str = "application/vnd.puppet.rich+json, application/json, text/pson";
/// The agent's `Accept` for other JSON documents.
const ACCEPT_JSON: &str = "application/json, text/pson";
/// The agent's `Accept-Encoding`.
const ACCEPT_ENCODING: &str = "gzip;q=1.0,deflate;q=0.6,identity;q=0.3";

/// What timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// TCP connect and TLS handshake.
    Connect,
    /// Sending a request and reading its whole answer.
    Read,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connecting",
            TimeoutKind::Read => "waiting for the answer",
        })
    }
}

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A certificate, key or server name could not be used.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// The host name did not resolve (or resolved to nothing).
    #[error("could not resolve {host}: {source}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection failed.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address tried (the last one, when a name resolved to several).
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (the server's certificate is not trusted or not for the
    /// host name, or the server refused the client certificate).
    #[error("TLS handshake with {host} ({addr}) failed: {source}")]
    Tls {
        /// The host name verified.
        host: String,
        /// The address.
        addr: SocketAddr,
        /// The cause (rustls' error inside).
        #[source]
        source: std::io::Error,
    },
    /// A timeout ran out.
    #[error("timed out {kind} (after {after:?})")]
    Timeout {
        /// What timed out.
        kind: TimeoutKind,
        /// The timeout.
        after: Duration,
    },
    /// The HTTP exchange failed (connection closed mid-answer, malformed answer).
    #[error("HTTP: {source}")]
    Http {
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with an error status.
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        /// Method.
        method: String,
        /// Path and query.
        path: String,
        /// Status code.
        status: u16,
        /// Puppet's JSON error body, when the answer was one.
        error: Option<ErrorBody>,
        /// The error body's message, or the text of the body (at most 1 KiB).
        message: String,
    },
    /// An answer could not be read as what it should be.
    #[error("could not decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The answer's body is larger than the client accepts.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// [`ClientBuilder::max_response_bytes`].
        limit: u64,
    },
    /// Content fetched by digest (a file sync manifest or blob) does not hash to it: it is
    /// refused, never returned.
    #[error("{what}: the content's SHA-256 is {actual}, not {expected}")]
    DigestMismatch {
        /// What was fetched (the path).
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
}

impl ClientError {
    /// The HTTP status, for [`ClientError::Status`].
    ///
    /// ```
    /// use puppet_protocol::client::ClientError;
    /// let e = ClientError::Status { method: "GET".into(), path: "/x".into(), status: 404,
    ///     error: None, message: "Not Found".into() };
    /// assert_eq!(e.status(), Some(404));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn http(e: impl std::error::Error + Send + Sync + 'static) -> ClientError {
        ClientError::Http {
            source: Box::new(e),
        }
    }

    fn decode(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> ClientError {
        ClientError::Decode {
            what: what.to_string(),
            source: Box::new(e),
        }
    }
}

/// A client's certificate and key (PEM).
#[derive(Debug, Clone)]
pub struct Identity {
    /// Certificate chain, PEM.
    pub cert_pem: String,
    /// Private key, PEM.
    pub key_pem: String,
}

/// Where [`ClientBuilder::trace`] sends the lines of each exchange, in the shape of Puppet's
/// `--http_debug` (Ruby's `Net::HTTP` debug output): `opening connection to host:port...`,
/// `opened`, `starting SSL for host:port...`, `SSL established, protocol: TLSv1.3, cipher:
/// TLS_AES_256_GCM_SHA384`, the request line and headers as one quoted string (`<- "GET /path
/// HTTP/1.1\r\nAccept: ...\r\n\r\n"`), the answer's status line and each header quoted
/// (`-> "HTTP/1.1 200 OK\r\n"`), `reading N bytes...`, `read N bytes`, `Conn keep-alive`.
/// Unlike Puppet's, never a body (no key, CSR, facts, catalog or Sensitive value); the values of
/// `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and `X-Authentication` are
/// printed as `[redacted]`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = lines.clone();
/// let tracer = puppet_protocol::client::Tracer::new(move |l| sink.lock().unwrap().push(l.to_string()));
/// tracer.line("opened");
/// assert_eq!(lines.lock().unwrap()[0], "opened");
/// ```
#[derive(Clone)]
pub struct Tracer(Arc<dyn Fn(&str) + Send + Sync>);

impl Tracer {
    /// A tracer calling `f` with each line (no line ending).
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Tracer {
        Tracer(Arc::new(f))
    }

    /// A tracer writing each line to stderr, as `--http_debug` does.
    pub fn stderr() -> Tracer {
        Tracer::new(|l| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "{l}");
        })
    }

    /// Sends one line.
    pub fn line(&self, line: &str) {
        (self.0)(line)
    }

    /// `name: value\r\n`, the value redacted when it is a secret.
    fn header(name: &str, value: &str) -> String {
        const SECRET: &[&str] = &[
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "x-authentication",
        ];
        let value = if SECRET.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            "[redacted]"
        } else {
            value
        };
        format!("{name}: {value}\r\n")
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    host: String,
    port: u16,
    addr: Option<SocketAddr>,
    ca_pem: Option<String>,
    crl_pem: Option<String>,
    crl_leaf_only: bool,
    insecure: bool,
    identity: Option<Identity>,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_response_bytes: u64,
    trace: Option<Tracer>,
}

impl ClientBuilder {
    /// The CA certificate(s) the server's certificate must chain to (PEM). Required.
    pub fn ca_pem(mut self, pem: &str) -> Self {
        self.ca_pem = Some(pem.to_string());
        self
    }

    /// Certificate revocation lists (PEM, one or more) the server's certificate is checked
    /// against, as a Puppet agent checks its `crl.pem` (`certificate_revocation = chain`: every
    /// certificate of the chain must be covered by a CRL of its issuer).
    pub fn crl_pem(mut self, pem: &str) -> Self {
        self.crl_pem = Some(pem.to_string());
        self
    }

    /// Checks only the server's own certificate against the CRLs, not the CAs above it
    /// (Puppet's `certificate_revocation = leaf`).
    pub fn crl_leaf_only(mut self) -> Self {
        self.crl_leaf_only = true;
        self
    }

    /// Trusts any server certificate: only for what the Puppet agent fetches before it has a
    /// CA certificate (the CA certificate itself, `Info: ... from an insecure connection`);
    /// never together with an identity. [`ClientBuilder::ca_pem`] is then not needed.
    pub fn insecure_ca_bootstrap(mut self) -> Self {
        self.insecure = true;
        self
    }

    /// The client certificate and key to present (none: an agent before it has a
    /// certificate, which may only use the CA bootstrap endpoints).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Connects to `addr` instead of resolving the host name; the name is still the one sent
    /// as `Host` and SNI and verified in the server's certificate (as `curl --resolve`).
    pub fn resolve_to(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// TCP connect plus TLS handshake (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// From sending a request to the end of its answer (default 120 s: a catalog compile can
    /// take a while).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The largest answer body accepted, compressed and decompressed (default 256 MiB).
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Traces every exchange of the client (and of its [`Client::with_own_connection`]
    /// copies) to `tracer`: see [`Tracer`].
    pub fn trace(mut self, tracer: Tracer) -> Self {
        self.trace = Some(tracer);
        self
    }

    /// The client. Fails when the CA, the identity or the host name cannot be used.
    pub fn build(self) -> Result<Client, ClientError> {
        let cfg = |e: &dyn std::fmt::Display| ClientError::Config(e.to_string());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| cfg(&e))?;
        let builder = if self.insecure {
            if self.identity.is_some() {
                return Err(ClientError::Config(
                    "an insecure client may not present a certificate".into(),
                ));
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        } else {
            let ca_pem = self
                .ca_pem
                .as_deref()
                .ok_or_else(|| ClientError::Config("no CA certificate given".into()))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in crate::cert::pem_certificates(ca_pem.as_bytes(), "CA certificate")
                .map_err(|e| cfg(&e))?
            {
                roots.add(cert).map_err(|e| cfg(&e))?;
            }
            match self.crl_pem.as_deref() {
                Some(crl) => {
                    let crls = crate::cert::pem_crls(crl.as_bytes(), "CRL").map_err(|e| cfg(&e))?;
                    let mut verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    )
                    .with_crls(crls);
                    if self.crl_leaf_only {
                        verifier = verifier.only_check_end_entity_revocation();
                    }
                    let verifier = verifier.build().map_err(|e| cfg(&e))?;
                    builder.with_webpki_verifier(verifier)
                }
                None => builder.with_root_certificates(roots),
            }
        };
        let mut certname = None;
        let mut config = match &self.identity {
            Some(id) => {
                let certs =
                    crate::cert::pem_certificates(id.cert_pem.as_bytes(), "client certificate")
                        .map_err(|e| cfg(&e))?;
                certname = certs.first().and_then(|c| crate::cert::certname(c));
                let key = crate::cert::pem_private_key(id.key_pem.as_bytes(), "client key")
                    .map_err(|e| cfg(&e))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| cfg(&e))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = rustls_pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::Config(format!("server name {:?}: {e}", self.host)))?;
        let host_header = match server_name {
            rustls_pki_types::ServerName::IpAddress(rustls_pki_types::IpAddr::V6(_)) => {
                format!("[{}]:{}", self.host, self.port)
            }
            _ => format!("{}:{}", self.host, self.port),
        };
        Ok(Client {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                host: self.host,
                port: self.port,
                addr: self.addr,
                server_name,
                host_header,
                certname,
                connect_timeout: self.connect_timeout,
                read_timeout: self.read_timeout,
                max_response_bytes: self.max_response_bytes,
                trace: self.trace,
                pooled: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

/// A master's address, the TLS settings to reach it and one keep-alive connection, reused by
/// every call. Clones share the connection; calls on one client go one after the other (use
/// several clients for parallel requests).
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Arc<rustls::ClientConfig>,
    host: String,
    port: u16,
    addr: Option<SocketAddr>,
    server_name: rustls_pki_types::ServerName<'static>,
    host_header: String,
    certname: Option<String>,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_response_bytes: u64,
    trace: Option<Tracer>,
    pooled: tokio::sync::Mutex<Option<Connection>>,
}

/// One response, body decoded from gzip when it was sent so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `X-Puppet-Version`, if any.
    pub puppet_version: Option<String>,
    /// Whether the body came gzipped.
    pub gzipped: bool,
    /// The server asked to close the connection (`Connection: close`).
    pub close: bool,
    /// The body.
    pub body: Vec<u8>,
}

/// The options of a catalog request besides the node, environment and facts. The default is
/// what a Puppet 7 agent sends on a normal run: static catalogs welcome,
/// `check_environment=true`, checksums `sha256.sha384.sha512.sha224.md5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOptions {
    /// `transaction_uuid` (the run's id, repeated in its report).
    pub transaction_uuid: Option<String>,
    /// `job_uuid` (orchestrated runs).
    pub job_uuid: Option<String>,
    /// `configured_environment`; `None` sends the requested environment, as the agent does.
    pub configured_environment: Option<String>,
    /// `check_environment`.
    pub check_environment: bool,
    /// `static_catalog`.
    pub static_catalog: bool,
    /// `checksum_type`, most preferred first.
    pub checksum_types: Vec<String>,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            transaction_uuid: None,
            job_uuid: None,
            configured_environment: None,
            check_environment: true,
            static_catalog: true,
            checksum_types: ["sha256", "sha384", "sha512", "sha224", "md5"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// `links` of a file metadata request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LinksMode {
    /// Describe links as links (the default).
    #[default]
    Manage,
    /// Describe what links point to.
    Follow,
}

/// The query of `file_metadata(s)`, as the agent sends it (`links`, `checksum_type`,
/// `source_permissions`, and for `file_metadatas` `recurse`, `recurselimit`, `max_files`,
/// `ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataQuery {
    /// `links`.
    pub links: LinksMode,
    /// `checksum_type` (default `sha256`).
    pub checksum_type: String,
    /// `source_permissions=use` (default `ignore`).
    pub source_permissions_use: bool,
    /// `recurse` (`file_metadatas` only).
    pub recurse: bool,
    /// `recurselimit` (`file_metadatas` only).
    pub recurselimit: Option<u32>,
    /// `max_files` (`file_metadatas` only; the agent sends `-1` for pluginsync, `0` otherwise).
    pub max_files: Option<i64>,
    /// `ignore` patterns (`file_metadatas` only), each sent as its own `ignore=` pair.
    pub ignore: Vec<String>,
}

impl Default for MetadataQuery {
    fn default() -> Self {
        MetadataQuery {
            links: LinksMode::Manage,
            checksum_type: "sha256".into(),
            source_permissions_use: false,
            recurse: false,
            recurselimit: None,
            max_files: None,
            ignore: Vec::new(),
        }
    }
}

impl MetadataQuery {
    /// The query string (without `?`), in the agent's order, ending with `environment`.
    ///
    /// ```
    /// use puppet_protocol::client::{LinksMode, MetadataQuery};
    /// let pluginsync = MetadataQuery {
    ///     recurse: true, max_files: Some(-1), links: LinksMode::Follow,
    ///     ignore: vec![".svn".into(), "CVS".into(), ".git".into(), ".hg".into()],
    ///     ..MetadataQuery::default()
    /// };
    /// assert_eq!(pluginsync.to_query(true, "production"),
    ///     "recurse=true&max_files=-1&ignore=.svn&ignore=CVS&ignore=.git&ignore=.hg&links=follow&checksum_type=sha256&source_permissions=ignore&environment=production");
    /// ```
    pub fn to_query(&self, many: bool, environment: &str) -> String {
        let mut p = Params::default();
        if many {
            p.push("recurse", if self.recurse { "true" } else { "false" });
            if let Some(limit) = self.recurselimit {
                p.push("recurselimit", limit.to_string());
            }
            if let Some(max) = self.max_files {
                p.push("max_files", max.to_string());
            }
            for pattern in &self.ignore {
                p.push("ignore", pattern.clone());
            }
        }
        p.push(
            "links",
            match self.links {
                LinksMode::Manage => "manage",
                LinksMode::Follow => "follow",
            },
        );
        p.push("checksum_type", self.checksum_type.clone());
        p.push(
            "source_permissions",
            if self.source_permissions_use {
                "use"
            } else {
                "ignore"
            },
        );
        p.push("environment", environment);
        p.encode()
    }
}

/// The node document of `GET /puppet/v3/node/:name`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[non_exhaustive]
pub struct Node {
    /// The certname.
    pub name: String,
    /// The environment the classifier puts the node in (the server-specified environment).
    pub environment: String,
    /// Classes, as a list or as a map of class to parameters, as the classifier gave them.
    #[serde(default)]
    pub classes: Option<Value>,
    /// Parameters (the stored facts, for Puppetserver's default classifier).
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

impl Client {
    /// A builder for a client of the master at `host:port` (a DNS name or an IP address).
    /// The name is resolved at each connect (unless [`ClientBuilder::resolve_to`] is given),
    /// sent as `Host` and SNI, and the server's certificate must be valid for it.
    ///
    /// ```
    /// let err = puppet_protocol::client::Client::builder("puppet", 8140).build().unwrap_err();
    /// assert_eq!(err.to_string(), "TLS configuration: no CA certificate given");
    /// ```
    pub fn builder(host: &str, port: u16) -> ClientBuilder {
        ClientBuilder {
            host: host.to_string(),
            port,
            addr: None,
            ca_pem: None,
            crl_pem: None,
            crl_leaf_only: false,
            insecure: false,
            identity: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_response_bytes: 256 * 1024 * 1024,
            trace: None,
        }
    }

    /// A client with the same settings and identity but a keep-alive connection of its own
    /// (clones share one; calls on it go one after the other), for requests in parallel.
    ///
    /// ```
    /// use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") };
    /// let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    /// let client = puppet_protocol::client::Client::builder("puppet", 8140)
    ///     .ca_pem(&ca.ca_certificate_pem().unwrap())
    ///     .build()
    ///     .unwrap();
    /// let other = client.with_own_connection();
    /// assert_eq!(other.certname(), client.certname());
    /// ```
    pub fn with_own_connection(&self) -> Client {
        let s = &self.shared;
        Client {
            shared: Arc::new(Shared {
                config: s.config.clone(),
                host: s.host.clone(),
                port: s.port,
                addr: s.addr,
                server_name: s.server_name.clone(),
                host_header: s.host_header.clone(),
                certname: s.certname.clone(),
                connect_timeout: s.connect_timeout,
                read_timeout: s.read_timeout,
                max_response_bytes: s.max_response_bytes,
                trace: s.trace.clone(),
                pooled: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The certname this client's certificate speaks for ([`crate::cert::certname`], the rule
    /// the master authorizes by); `None` without a certificate.
    pub fn certname(&self) -> Option<&str> {
        self.shared.certname.as_deref()
    }

    /// A client trusting `ca_pem`, presenting `identity` if given, connecting to `addr` and
    /// verifying the server's certificate for `server_name`: `Client::builder(server_name,
    /// addr.port()).resolve_to(addr)...`.
    pub fn new(
        addr: SocketAddr,
        server_name: &str,
        ca_pem: &str,
        identity: Option<&Identity>,
    ) -> Result<Client, ClientError> {
        let mut b = Client::builder(server_name, addr.port())
            .resolve_to(addr)
            .ca_pem(ca_pem);
        if let Some(id) = identity {
            b = b.identity(id.clone());
        }
        b.build()
    }

    /// Opens a new connection (TCP, TLS handshake, HTTP/1.1), apart from the one the client
    /// reuses: for callers that want several connections, or to send requests an agent would
    /// not.
    pub async fn connect(&self) -> Result<Connection, ClientError> {
        let s = &self.shared;
        let after = s.connect_timeout;
        tokio::time::timeout(after, self.connect_inner())
            .await
            .map_err(|_| ClientError::Timeout {
                kind: TimeoutKind::Connect,
                after,
            })?
    }

    async fn connect_inner(&self) -> Result<Connection, ClientError> {
        let s = &self.shared;
        if let Some(t) = &s.trace {
            t.line(&format!("opening connection to {}...", s.host_header));
        }
        let addrs: Vec<SocketAddr> = match s.addr {
            Some(a) => vec![a],
            None => tokio::net::lookup_host((s.host.as_str(), s.port))
                .await
                .map_err(|source| ClientError::Resolve {
                    host: s.host_header.clone(),
                    source,
                })?
                .collect(),
        };
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(t) => {
                    tcp = Some((t, addr));
                    break;
                }
                Err(source) => last = Some(ClientError::Connect { addr, source }),
            }
        }
        let Some((tcp, addr)) = tcp else {
            return Err(last.unwrap_or_else(|| ClientError::Resolve {
                host: s.host_header.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            }));
        };
        let _ = tcp.set_nodelay(true);
        let connector = tokio_rustls::TlsConnector::from(s.config.clone());
        let tls = connector
            .connect(s.server_name.clone(), tcp)
            .await
            .map_err(|source| ClientError::Tls {
                host: s.host.clone(),
                addr,
                source,
            })?;
        if let Some(t) = &s.trace {
            let (_, session) = tls.get_ref();
            let version = match session.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
                Some(v) => format!("{v:?}"),
                None => "unknown".into(),
            };
            let cipher = session
                .negotiated_cipher_suite()
                .map(|c| {
                    let name = format!("{:?}", c.suite());
                    match name.strip_prefix("TLS13_") {
                        Some(rest) => format!("TLS_{rest}"),
                        None => name,
                    }
                })
                .unwrap_or_default();
            t.line("opened");
            t.line(&format!("starting SSL for {}...", s.host_header));
            t.line(&format!(
                "SSL established, protocol: {version}, cipher: {cipher}"
            ));
        }
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(ClientError::http)?;
        tokio::spawn(conn);
        Ok(Connection {
            sender,
            host_header: s.host_header.clone(),
            max_response_bytes: s.max_response_bytes,
            trace: s.trace.clone(),
        })
    }

    /// Sends one request on the reused keep-alive connection (opening it first if there is
    /// none or the server closed it) and reads the whole answer, whatever its status, within
    /// the read timeout. `headers` replace the agent's defaults of the same name (an empty
    /// value removes one). A GET, HEAD, PUT or DELETE that fails because the server had just
    /// closed the kept-alive connection is sent once more on a new one.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let s = &self.shared;
        let mut pooled = s.pooled.lock().await;
        let reused = pooled.as_ref().is_some_and(|c| !c.sender.is_closed());
        let mut conn = match pooled.take() {
            Some(c) if reused => c,
            _ => self.connect().await?,
        };
        let body = Bytes::from(body);
        let mut result = self
            .timed(&mut conn, method, path, headers, body.clone())
            .await;
        let idempotent = matches!(method, "GET" | "HEAD" | "PUT" | "DELETE");
        if reused
            && idempotent
            && let Err(ClientError::Http { .. }) = &result
        {
            conn = self.connect().await?;
            result = self.timed(&mut conn, method, path, headers, body).await;
        }
        if let Ok(answer) = &result
            && !answer.close
            && !conn.sender.is_closed()
        {
            *pooled = Some(conn);
        }
        result
    }

    async fn timed(
        &self,
        conn: &mut Connection,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, ClientError> {
        let after = self.shared.read_timeout;
        tokio::time::timeout(after, conn.send(method, path, headers, body))
            .await
            .map_err(|_| ClientError::Timeout {
                kind: TimeoutKind::Read,
                after,
            })?
    }

    /// [`Client::request`], with any status outside 2xx turned into [`ClientError::Status`].
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let answer = self.request(method, path, headers, body).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let error = serde_json::from_slice::<ErrorBody>(&answer.body).ok();
        let message = match &error {
            Some(e) => e.message.clone(),
            None => {
                let text = String::from_utf8_lossy(&answer.body);
                let mut end = text.len().min(1024);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text[..end].trim().to_string()
            }
        };
        Err(ClientError::Status {
            method: method.to_string(),
            path: path.to_string(),
            status: answer.status,
            error,
            message,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<T, ClientError> {
        let answer = self
            .call("GET", path, &[("accept", ACCEPT_JSON)], Vec::new())
            .await?;
        serde_json::from_slice(&answer.body).map_err(|e| ClientError::decode(what, e))
    }

    fn text(answer: Answer, what: &str) -> Result<String, ClientError> {
        String::from_utf8(answer.body).map_err(|e| ClientError::decode(what, e))
    }

    /// `POST /puppet/v3/catalog/:certname?environment=:env` with the form body a Puppet 7.23
    /// agent sends (the facts twice encoded, see [`CatalogRequest::to_form`]); the catalog
    /// the master compiled.
    pub async fn catalog(
        &self,
        certname: &str,
        environment: &str,
        facts: &Facts,
        options: &CatalogOptions,
    ) -> Result<Catalog, ClientError> {
        let facts = serde_json::to_value(facts).map_err(|e| ClientError::decode("facts", e))?;
        let request = CatalogRequest {
            facts: Some(facts),
            environment: Some(environment.to_string()),
            configured_environment: Some(
                options
                    .configured_environment
                    .clone()
                    .unwrap_or_else(|| environment.to_string()),
            ),
            transaction_uuid: options.transaction_uuid.clone(),
            job_uuid: options.job_uuid.clone(),
            check_environment: options.check_environment,
            static_catalog: options.static_catalog,
            checksum_types: options.checksum_types.clone(),
        };
        let form = request
            .to_form()
            .map_err(|e| ClientError::decode("facts", e))?;
        let path = format!(
            "/puppet/v3/catalog/{}?environment={}",
            encode_path(certname),
            encode(environment)
        );
        let answer = self
            .call(
                "POST",
                &path,
                &[
                    ("accept", ACCEPT_RICH),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                form.into_bytes(),
            )
            .await?;
        Catalog::from_json(&answer.body).map_err(|e| ClientError::decode("catalog", e))
    }

    /// `PUT /puppet/v3/report/:host?environment=:env` (both from the report); the names of
    /// the report processors that ran (Puppetserver: `["store"]`).
    pub async fn put_report(&self, report: &Report) -> Result<Vec<String>, ClientError> {
        let body = report
            .to_json()
            .map_err(|e| ClientError::decode("report", e))?;
        let path = format!(
            "/puppet/v3/report/{}?environment={}",
            encode_path(&report.host),
            encode(&report.environment)
        );
        let answer = self
            .call(
                "PUT",
                &path,
                &[
                    ("accept", ACCEPT_JSON),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await?;
        serde_json::from_slice(&answer.body)
            .map_err(|e| ClientError::decode("report processors", e))
    }

    /// `GET /puppet/v3/node/:certname`: what the classifier says about the node. With an
    /// environment, it is sent as the agent sends it (`environment` and
    /// `configured_environment`).
    pub async fn node(
        &self,
        certname: &str,
        environment: Option<&str>,
    ) -> Result<Node, ClientError> {
        let mut path = format!("/puppet/v3/node/{}", encode_path(certname));
        if let Some(env) = environment {
            let env = encode(env);
            path.push_str(&format!("?environment={env}&configured_environment={env}"));
        }
        self.get_json(&path, "node").await
    }

    /// `GET /puppet/v3/file_metadata/:path` (`path` is a mount path such as
    /// `modules/m/file.txt`).
    pub async fn file_metadata(
        &self,
        environment: &str,
        path: &str,
        query: &MetadataQuery,
    ) -> Result<FileMetadata, ClientError> {
        let p = format!(
            "/puppet/v3/file_metadata/{}?{}",
            encode_path(path),
            query.to_query(false, environment)
        );
        self.get_json(&p, "file metadata").await
    }

    /// `GET /puppet/v3/file_metadatas/:path`: the root (`relative_path` `.`), then with
    /// `recurse` everything below it.
    pub async fn file_metadatas(
        &self,
        environment: &str,
        path: &str,
        query: &MetadataQuery,
    ) -> Result<Vec<FileMetadata>, ClientError> {
        let p = format!(
            "/puppet/v3/file_metadatas/{}?{}",
            encode_path(path),
            query.to_query(true, environment)
        );
        self.get_json(&p, "file metadatas").await
    }

    /// `GET /puppet/v3/file_content/:path`.
    pub async fn file_content(
        &self,
        environment: &str,
        path: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let p = format!(
            "/puppet/v3/file_content/{}?environment={}",
            encode_path(path),
            encode(environment)
        );
        let answer = self
            .call("GET", &p, &[("accept", "application/octet-stream")], vec![])
            .await?;
        Ok(answer.body)
    }

    /// `GET /puppet/v3/static_file_content/:path?code_id=..`: a file of a static catalog's
    /// code version (`path` is the `content_uri` without `puppet:///`).
    pub async fn static_file_content(
        &self,
        environment: &str,
        code_id: &str,
        path: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let p = format!(
            "/puppet/v3/static_file_content/{}?code_id={}&environment={}",
            encode_path(path.strip_prefix("puppet:///").unwrap_or(path)),
            encode(code_id),
            encode(environment)
        );
        let answer = self
            .call("GET", &p, &[("accept", "application/octet-stream")], vec![])
            .await?;
        Ok(answer.body)
    }

    fn bucket_path(
        environment: &str,
        algorithm: &str,
        digest: &str,
        original_path: Option<&str>,
    ) -> String {
        let tail = original_path
            .map(|p| format!("/{}", encode_path(p)))
            .unwrap_or_default();
        format!(
            "/puppet/v3/file_bucket_file/{}/{}{tail}?environment={}",
            encode(algorithm),
            encode(digest),
            encode(environment)
        )
    }

    /// `HEAD /puppet/v3/file_bucket_file/:algorithm/:digest//:original_path`: whether the
    /// master's file bucket holds these contents (what Puppet's agent asks before a `PUT`).
    pub async fn file_bucket_head(
        &self,
        environment: &str,
        algorithm: &str,
        digest: &str,
        original_path: Option<&str>,
    ) -> Result<bool, ClientError> {
        let p = Self::bucket_path(environment, algorithm, digest, original_path);
        let answer = self
            .request(
                "HEAD",
                &p,
                &[("accept", "application/octet-stream")],
                vec![],
            )
            .await?;
        match answer.status {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(ClientError::Status {
                method: "HEAD".into(),
                path: p,
                status,
                error: None,
                message: String::new(),
            }),
        }
    }

    /// `PUT /puppet/v3/file_bucket_file/:algorithm/:digest//:original_path` with the file's
    /// bytes (`application/octet-stream`): a backup in the master's file bucket.
    ///
    /// ```no_run
    /// # async fn f(client: &puppet_protocol::client::Client) -> Result<(), puppet_protocol::client::ClientError> {
    /// let digest = puppet_protocol::files::digest(b"old\n", "sha256");
    /// if !client.file_bucket_head("production", "sha256", &digest, Some("/etc/motd")).await? {
    ///     client.file_bucket_put("production", "sha256", &digest, Some("/etc/motd"), b"old\n".to_vec()).await?;
    /// }
    /// assert_eq!(client.file_bucket_get("production", "sha256", &digest).await?, b"old\n");
    /// # Ok(()) }
    /// ```
    pub async fn file_bucket_put(
        &self,
        environment: &str,
        algorithm: &str,
        digest: &str,
        original_path: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<(), ClientError> {
        let p = Self::bucket_path(environment, algorithm, digest, original_path);
        self.call(
            "PUT",
            &p,
            &[
                ("accept", "application/octet-stream"),
                ("content-type", "application/octet-stream"),
            ],
            bytes,
        )
        .await?;
        Ok(())
    }

    /// `GET /puppet/v3/file_bucket_file/:algorithm/:digest`: contents from the master's file
    /// bucket (what `puppet filebucket get` and a `content => '{sha256}..'` ask).
    pub async fn file_bucket_get(
        &self,
        environment: &str,
        algorithm: &str,
        digest: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let p = Self::bucket_path(environment, algorithm, digest, None);
        let answer = self
            .call("GET", &p, &[("accept", "application/octet-stream")], vec![])
            .await?;
        Ok(answer.body)
    }

    /// `GET /puppet-ca/v1/certificate/ca`: the CA certificate (bundle), PEM.
    pub async fn ca_certificate(&self) -> Result<String, ClientError> {
        let answer = self
            .call(
                "GET",
                "/puppet-ca/v1/certificate/ca",
                &[("accept", "text/plain")],
                vec![],
            )
            .await?;
        Client::text(answer, "CA certificate")
    }

    /// `GET /puppet-ca/v1/certificate_revocation_list/ca`: the CRL, PEM.
    pub async fn crl(&self) -> Result<String, ClientError> {
        let answer = self
            .call(
                "GET",
                "/puppet-ca/v1/certificate_revocation_list/ca",
                &[("accept", "text/plain")],
                vec![],
            )
            .await?;
        Client::text(answer, "CRL")
    }

    /// `PUT /puppet-ca/v1/certificate_request/:certname` with a CSR (PEM).
    pub async fn submit_csr(&self, certname: &str, csr_pem: &str) -> Result<(), ClientError> {
        let path = format!(
            "/puppet-ca/v1/certificate_request/{}",
            encode_path(certname)
        );
        self.call(
            "PUT",
            &path,
            &[("accept", "text/plain"), ("content-type", "text/plain")],
            csr_pem.as_bytes().to_vec(),
        )
        .await?;
        Ok(())
    }

    /// `GET /puppet-ca/v1/certificate/:certname`: the signed certificate (PEM); `None` when
    /// the CA has none (404), as an agent waiting for signing sees it.
    pub async fn certificate(&self, certname: &str) -> Result<Option<String>, ClientError> {
        let path = format!("/puppet-ca/v1/certificate/{}", encode_path(certname));
        match self
            .call("GET", &path, &[("accept", "text/plain")], vec![])
            .await
        {
            Ok(answer) => Client::text(answer, "certificate").map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// File sync (`/file-sync/v1`, see [`crate::filesync`]): a replica copying its primary's
/// versions, and an admin publishing.
impl Client {
    /// `POST /file-sync/v1/publish`: publishes `environment` (or every staged environment)
    /// on a primary; the client's certname must be one of its admin certnames (else
    /// [`ClientError::Status`] 403).
    pub async fn file_sync_publish(
        &self,
        environment: Option<&str>,
    ) -> Result<crate::filesync::PublishAnswer, ClientError> {
        let body = match environment {
            Some(e) => serde_json::to_vec(&crate::filesync::PublishRequest {
                environment: Some(e.to_string()),
            })
            .map_err(|e| ClientError::decode("publish request", e))?,
            None => Vec::new(),
        };
        let answer = self
            .call(
                "POST",
                "/file-sync/v1/publish",
                &[
                    ("accept", "application/json"),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await?;
        serde_json::from_slice(&answer.body).map_err(|e| ClientError::decode("publish answer", e))
    }

    /// `GET /file-sync/v1/latest`: the primary's live code_id of every environment.
    pub async fn file_sync_latest(&self) -> Result<crate::filesync::Latest, ClientError> {
        self.get_json("/file-sync/v1/latest", "latest code_ids")
            .await
    }

    /// `GET /file-sync/v1/latest` asked on behalf of the file sync servers `chain` names
    /// (sent as [`CHAIN_HEADER`](crate::filesync::CHAIN_HEADER), oldest first): how a
    /// replica asks its primary, so that a ring of replicas is refused
    /// ([`LOOP_MESSAGE`](crate::filesync::LOOP_MESSAGE), 508) instead of going round.
    pub async fn file_sync_latest_via(
        &self,
        chain: &[String],
    ) -> Result<crate::filesync::Latest, ClientError> {
        let value = chain.join(",");
        let answer = self
            .call(
                "GET",
                "/file-sync/v1/latest",
                &[
                    ("accept", ACCEPT_JSON),
                    (crate::filesync::CHAIN_HEADER, &value),
                ],
                Vec::new(),
            )
            .await?;
        serde_json::from_slice(&answer.body).map_err(|e| ClientError::decode("latest code_ids", e))
    }

    /// The long poll `GET /file-sync/v1/latest?known=TAG&wait=SECONDS`: the primary's code_ids
    /// as soon as they differ from `known` ([`Latest::tag`](crate::filesync::Latest::tag) of
    /// what this replica has), or after `wait` (at most 60 s). Use a client of its own
    /// ([`Client::with_own_connection`]): the request holds its connection while it waits.
    pub async fn file_sync_latest_changed(
        &self,
        known: &str,
        wait: Duration,
    ) -> Result<crate::filesync::Latest, ClientError> {
        let path = format!(
            "/file-sync/v1/latest?known={}&wait={}",
            encode_path(known),
            wait.as_secs()
        );
        self.get_json(&path, "latest code_ids").await
    }

    /// `GET /file-sync/v1/manifest/:env/:code_id`: a version's serialized manifest, checked
    /// to hash to `code_id` ([`ClientError::DigestMismatch`] otherwise); `None` when the
    /// primary does not have that version (404).
    pub async fn file_sync_manifest(
        &self,
        environment: &str,
        code_id: &puppet_filesync::CodeId,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let path = format!(
            "/file-sync/v1/manifest/{}/{}",
            encode_path(environment),
            encode_path(code_id.as_str())
        );
        let body = match self
            .call(
                "GET",
                &path,
                &[("accept", "application/octet-stream")],
                vec![],
            )
            .await
        {
            Ok(a) => a.body,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let actual = puppet_filesync::Digest::of(&body).to_string();
        if actual != code_id.as_str() {
            return Err(ClientError::DigestMismatch {
                what: path,
                expected: code_id.to_string(),
                actual,
            });
        }
        Ok(Some(body))
    }

    /// `GET /file-sync/v1/blob/:sha256`: a file's content, checked against `digest`
    /// ([`ClientError::DigestMismatch`] otherwise); `None` when the primary has no such blob.
    pub async fn file_sync_blob(
        &self,
        digest: &puppet_filesync::Digest,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let path = format!("/file-sync/v1/blob/{digest}");
        let body = match self
            .call(
                "GET",
                &path,
                &[
                    ("accept", "application/octet-stream"),
                    ("accept-encoding", "identity"),
                ],
                vec![],
            )
            .await
        {
            Ok(a) => a.body,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let actual = puppet_filesync::Digest::of(&body);
        if actual != *digest {
            return Err(ClientError::DigestMismatch {
                what: path,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(body))
    }
}

/// A PuppetDB command as the Puppetserver terminus submits it to `POST /pdb/cmd/v1`.
#[derive(Debug, Clone, PartialEq)]
pub struct PdbCommand<'a> {
    /// The command's name with spaces (`replace facts`, `replace catalog`, `store report`,
    /// `deactivate node`); sent with underscores, as the terminus does.
    pub command: &'a str,
    /// Its version (`replace facts` 5, `replace catalog` 9, `store report` 8).
    pub version: u32,
    /// The node it is about.
    pub certname: &'a str,
    /// When it was produced, in PuppetDB's wire format (`2026-12-03T02:44:21.002Z`).
    pub producer_timestamp: &'a str,
    /// The command's document.
    pub payload: &'a Value,
}

/// PuppetDB (`/pdb/cmd/v1`): the commands a master sends, as Puppetserver's terminus sends
/// them.
impl Client {
    /// Submits a command the way the PuppetDB terminus does: the payload as JSON, gzipped,
    /// with `Content-Encoding: gzip` and `X-Uncompressed-Length`, the query parameters
    /// `checksum` (SHA-1 of the command envelope), `version`, `certname`, `command` and
    /// `producer-timestamp`. Returns the UUID PuppetDB answered with (`{"uuid": ...}`);
    /// any status outside 2xx is [`ClientError::Status`] with PuppetDB's text.
    ///
    /// ```no_run
    /// # async fn run(client: puppet_protocol::client::Client) -> Result<(), puppet_protocol::client::ClientError> {
    /// use puppet_protocol::client::PdbCommand;
    /// let payload = serde_json::json!({"certname": "web1", "values": {"kernel": "Linux"},
    ///     "environment": "production", "producer_timestamp": "2026-12-03T02:44:17.701Z",
    ///     "producer": "puppet.example.test"});
    /// let uuid = client.pdb_command(&PdbCommand {
    ///     command: "replace facts", version: 5, certname: "web1",
    ///     producer_timestamp: "2026-12-03T02:44:17.701Z", payload: &payload,
    /// }).await?;
    /// println!("queued as {uuid}");
    /// # Ok(()) }
    /// ```
    pub async fn pdb_command(&self, command: &PdbCommand<'_>) -> Result<String, ClientError> {
        use sha1::Digest;
        use std::io::Write;
        let body =
            serde_json::to_vec(command.payload).map_err(|e| ClientError::decode("command", e))?;
        // The terminus's checksum covers the command, version, certname and payload.
        let mut envelope = Map::new();
        envelope.insert("command".into(), Value::from(command.command));
        envelope.insert("version".into(), Value::from(command.version));
        envelope.insert("certname".into(), Value::from(command.certname));
        envelope.insert("payload".into(), command.payload.clone());
        let envelope = serde_json::to_vec(&Value::Object(envelope))
            .map_err(|e| ClientError::decode("command", e))?;
        let checksum: String = sha1::Sha1::digest(&envelope)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body)
            .map_err(|e| ClientError::decode("gzip body", e))?;
        let gzipped = gz
            .finish()
            .map_err(|e| ClientError::decode("gzip body", e))?;
        let path = format!(
            "/pdb/cmd/v1?checksum={checksum}&version={}&certname={}&command={}&producer-timestamp={}",
            command.version,
            encode(command.certname),
            encode(&command.command.replace(' ', "_")),
            encode(command.producer_timestamp),
        );
        let length = body.len().to_string();
        let answer = self
            .call(
                "POST",
                &path,
                &[
                    ("accept", "application/json"),
                    ("content-type", "application/json; charset=utf-8"),
                    ("content-encoding", "gzip"),
                    ("x-uncompressed-length", &length),
                    ("x-puppet-version", ""),
                ],
                gzipped,
            )
            .await?;
        #[derive(serde::Deserialize)]
        struct Queued {
            uuid: String,
        }
        serde_json::from_slice::<Queued>(&answer.body)
            .map(|q| q.uuid)
            .map_err(|e| ClientError::decode("command answer", e))
    }
}

/// The verifier of [`ClientBuilder::insecure_ca_bootstrap`]: any certificate, signatures
/// still checked by the provider (the handshake stays a handshake).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An open connection; requests on it are sent one after the other.
#[derive(Debug)]
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host_header: String,
    max_response_bytes: u64,
    trace: Option<Tracer>,
}

impl Connection {
    /// Sends one request with the agent's `Host`, `Accept`, `Accept-Encoding` and
    /// `X-Puppet-Version` headers and reads the whole answer (no timeout: see
    /// [`Client::request`] for one).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let ct = content_type.map(|c| [("content-type", c)]);
        self.request_with(method, path, ct.as_ref().map_or(&[][..], |c| &c[..]), body)
            .await
    }

    /// As [`Connection::request`], with `headers` replacing the agent's defaults of the same
    /// name (an empty value removes one).
    pub async fn request_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        self.send(method, path, headers, Bytes::from(body)).await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, ClientError> {
        let defaults = [
            ("host", self.host_header.as_str()),
            ("accept", ACCEPT_RICH),
            ("accept-encoding", ACCEPT_ENCODING),
            ("x-puppet-version", crate::PUPPET_VERSION),
        ];
        let mut req = hyper::Request::builder().method(method).uri(path);
        for (name, value) in defaults {
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                req = req.header(name, value);
            }
        }
        for (name, value) in headers {
            if !value.is_empty() {
                req = req.header(*name, *value);
            }
        }
        let req = req.body(Full::new(body)).map_err(ClientError::http)?;
        if let Some(t) = &self.trace {
            let mut block = format!("{method} {path} HTTP/1.1\r\n");
            for (name, value) in req.headers() {
                block.push_str(&Tracer::header(
                    name.as_str(),
                    value.to_str().unwrap_or("<binary>"),
                ));
            }
            block.push_str("\r\n");
            t.line(&format!("<- {block:?}"));
        }
        self.sender.ready().await.map_err(ClientError::http)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(ClientError::http)?;
        let status = resp.status().as_u16();
        if let Some(t) = &self.trace {
            t.line(&format!(
                "-> {:?}",
                format!(
                    "HTTP/1.1 {status} {}\r\n",
                    resp.status().canonical_reason().unwrap_or("")
                )
            ));
            for (name, value) in resp.headers() {
                let h = Tracer::header(name.as_str(), value.to_str().unwrap_or("<binary>"));
                t.line(&format!("-> {h:?}"));
            }
            t.line(r#"-> "\r\n""#);
        }
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let content_type = header("content-type");
        let puppet_version = header("x-puppet-version");
        let gzipped = header("content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let limit = self.max_response_bytes;
        let too_large = || ClientError::TooLarge { limit };
        let raw = Limited::new(
            resp.into_body(),
            usize::try_from(limit).unwrap_or(usize::MAX),
        )
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ClientError::Http { source: e }
            }
        })?
        .to_bytes();
        if let Some(t) = &self.trace {
            t.line(&format!("reading {} bytes...", raw.len()));
            t.line(&format!("read {} bytes", raw.len()));
            t.line(if close {
                "Conn close"
            } else {
                "Conn keep-alive"
            });
        }
        // A HEAD answer (or a 204) has no body to gunzip, whatever its headers say.
        let body = if gzipped && !raw.is_empty() {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .take(limit.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|e| ClientError::decode("gzip body", e))?;
            if out.len() as u64 > limit {
                return Err(too_large());
            }
            out
        } else {
            raw.to_vec()
        };
        Ok(Answer {
            status,
            content_type,
            puppet_version,
            gzipped,
            close,
            body,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod trace_tests {
    use std::sync::{Arc, Mutex};

    use super::Tracer;

    #[test]
    fn secret_header_values_are_redacted() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let t = Tracer::new(move |l| sink.lock().unwrap().push(l.to_string()));
        for (name, value) in [
            ("Authorization", "Bearer s3cret"),
            ("set-cookie", "session=s3cret"),
            ("X-Authentication", "s3cret"),
            ("accept", "application/json"),
        ] {
            t.line(&Tracer::header(name, value));
        }
        let lines = lines.lock().unwrap();
        assert_eq!(
            *lines,
            [
                "Authorization: [redacted]\r\n",
                "set-cookie: [redacted]\r\n",
                "X-Authentication: [redacted]\r\n",
                "accept: application/json\r\n",
            ]
        );
        assert!(lines.iter().all(|l| !l.contains("s3cret")));
    }
}
