//! A small HTTPS client (feature `client`): TLS with an optional client certificate,
//! HTTP/1.1 keep-alive, the headers a Puppet 7 agent sends, gzip decoding.
//!
//! ```no_run
//! # async fn run() -> Result<(), puppet_protocol::client::ClientError> {
//! use puppet_protocol::client::Client;
//! let ca = std::fs::read_to_string("ssl/certs/ca.pem").unwrap();
//! let client = Client::new("127.0.0.1:8140".parse().unwrap(), "localhost", &ca, None)?;
//! let mut conn = client.connect().await?;
//! let answer = conn.request("GET", "/status/v1/simple", None, Vec::new()).await?;
//! assert_eq!(answer.body, b"running");
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Client errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A certificate or key could not be used.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// Connecting, the TLS handshake or the HTTP exchange failed.
    #[error("{0}")]
    Transport(String),
}

/// A client's certificate and key (PEM).
#[derive(Debug, Clone)]
pub struct Identity {
    /// Certificate chain, PEM.
    pub cert_pem: String,
    /// Private key, PEM.
    pub key_pem: String,
}

/// A master's address and the TLS settings to reach it.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    server_name: rustls_pki_types::ServerName<'static>,
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
    /// The body.
    pub body: Vec<u8>,
}

impl Client {
    /// A client trusting `ca_pem`, presenting `identity` if given, verifying the server's
    /// certificate for `server_name`.
    pub fn new(
        addr: SocketAddr,
        server_name: &str,
        ca_pem: &str,
        identity: Option<&Identity>,
    ) -> Result<Client, ClientError> {
        let cfg = |e: &dyn std::fmt::Display| ClientError::Config(e.to_string());
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(cert.map_err(|e| cfg(&e))?).map_err(|e| cfg(&e))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| cfg(&e))?
            .with_root_certificates(roots);
        let config = match identity {
            Some(id) => {
                let certs = rustls_pemfile::certs(&mut id.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| cfg(&e))?;
                let key = rustls_pemfile::private_key(&mut id.key_pem.as_bytes())
                    .map_err(|e| cfg(&e))?
                    .ok_or_else(|| ClientError::Config("no private key".into()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| cfg(&e))?
            }
            None => builder.with_no_client_auth(),
        };
        let server_name =
            rustls_pki_types::ServerName::try_from(server_name.to_string()).map_err(|e| cfg(&e))?;
        Ok(Client {
            config: Arc::new(config),
            addr,
            server_name,
        })
    }

    /// Opens a keep-alive connection (TCP, TLS handshake, HTTP/1.1).
    pub async fn connect(&self) -> Result<Connection, ClientError> {
        let t = |e: &dyn std::fmt::Display| ClientError::Transport(e.to_string());
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| t(&e))?;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let tls = connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| t(&e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| t(&e))?;
        tokio::spawn(conn);
        Ok(Connection { sender })
    }
}

/// An open connection; requests on it are sent one after the other.
#[derive(Debug)]
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Sends one request with the agent's `Accept`, `Accept-Encoding` and `X-Puppet-Version`
    /// headers and reads the whole answer.
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
        let t = |e: &dyn std::fmt::Display| ClientError::Transport(e.to_string());
        let defaults = [
            ("host", "localhost"),
            (
                "accept",
                "application/vnd.puppet.rich+json, application/json, text/pson",
            ),
            ("accept-encoding", "gzip;q=1.0,deflate;q=0.6,identity;q=0.3"),
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
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| t(&e))?;
        self.sender.ready().await.map_err(|e| t(&e))?;
        let resp = self.sender.send_request(req).await.map_err(|e| t(&e))?;
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let content_type = header("content-type");
        let puppet_version = header("x-puppet-version");
        let gzipped = header("content-encoding").as_deref() == Some("gzip");
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| t(&e))?
            .to_bytes();
        let body = if gzipped {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| t(&e))?;
            out
        } else {
            raw.to_vec()
        };
        Ok(Answer {
            status,
            content_type,
            puppet_version,
            gzipped,
            body,
        })
    }
}
