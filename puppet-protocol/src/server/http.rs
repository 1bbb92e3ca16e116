//! Connections and requests: TLS accept, HTTP/1.1 keep-alive, body limits, authorization,
//! gzip, `X-Puppet-Version`, the error mapping and one log line per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;

use super::Inner;
use crate::form::Params;
use crate::{ClientIdentity, Endpoint, ProtocolError};

/// What one connection knows about its client.
#[derive(Debug, Default)]
pub(crate) struct Peer {
    pub(crate) identity: ClientIdentity,
    pub(crate) cert_der: Option<Vec<u8>>,
}

/// A request as the routes see it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) method: &'a hyper::Method,
    pub(crate) path: &'a str,
    pub(crate) query: Params,
    pub(crate) headers: &'a hyper::HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) peer: &'a Peer,
}

impl Call<'_> {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response as the routes build it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: Vec<u8>,
    /// May be gzipped (Puppetserver gzips nearly everything, quirk Q2).
    pub(crate) gzip: bool,
    /// Close the connection after this response.
    pub(crate) close: bool,
}

impl Reply {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type),
            body: body.into(),
            gzip: true,
            close: false,
        }
    }

    pub(crate) fn no_gzip(mut self) -> Reply {
        self.gzip = false;
        self
    }
}

pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    inner: Arc<Inner>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    tokio::spawn(connection(tcp, addr, inner.clone()));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn connection(tcp: tokio::net::TcpStream, addr: SocketAddr, inner: Arc<Inner>) {
    let _ = tcp.set_nodelay(true);
    let acceptor = TlsAcceptor::from(inner.tls.current());
    let stream = match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!(peer = %addr, "TLS handshake refused: {e}");
            return;
        }
        Err(_) => {
            tracing::info!(peer = %addr, "TLS handshake timed out");
            return;
        }
    };
    let peer = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => Peer {
            identity: super::tls::identity(cert),
            cert_der: Some(cert.to_vec()),
        },
        None => Peer::default(),
    };
    let peer = Arc::new(peer);
    let service = service_fn(move |req| {
        let inner = inner.clone();
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(handle(&inner, &peer, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        tracing::debug!(peer = %addr, "connection ended: {e}");
    }
}

async fn read_body(
    body: Incoming,
    headers: &hyper::HeaderMap,
    limit: u64,
) -> Result<Bytes, ProtocolError> {
    if let Some(len) = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(ProtocolError::TooLarge { size: len, limit });
        }
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ProtocolError::TooLarge {
                    size: limit.saturating_add(1),
                    limit,
                })
            } else {
                Err(ProtocolError::BadRequest(format!(
                    "Could not read the request body: {e}"
                )))
            }
        }
    }
}

async fn handle(inner: &Inner, peer: &Peer, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let accept_gzip = crate::content::accepts_gzip(
        parts
            .headers
            .get(hyper::header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let result = async {
        let query = Params::parse(parts.uri.query().unwrap_or(""))?;
        let endpoint = Endpoint::parse(&path).map_err(|e| match e {
            ProtocolError::NoRoute { path, .. } => ProtocolError::NoRoute {
                method: parts.method.to_string(),
                path,
            },
            other => other,
        })?;
        inner
            .options
            .auth
            .check(&endpoint, parts.method.as_str(), &path, &peer.identity)?;
        let body = read_body(body, &parts.headers, inner.options.max_body_bytes).await?;
        let call = Call {
            method: &parts.method,
            path: &path,
            query,
            headers: &parts.headers,
            body,
            peer,
        };
        super::routes::dispatch(inner, &endpoint, &call).await
    }
    .await;
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            let status = e.status();
            if status >= 500 {
                tracing::error!(path = %path, "{e}");
            }
            let (content_type, text) = e.body_for(path.starts_with("/puppet-ca/"));
            Reply {
                status,
                content_type,
                body: text.into_bytes(),
                gzip: true,
                close: status == 413,
            }
        }
    };
    let status = reply.status;
    let response = build(inner, reply, accept_gzip);
    tracing::info!(
        target: "puppet_master::access",
        "{} {} {} {} {:.1}ms",
        parts.method,
        path,
        peer.identity.certname.as_deref().unwrap_or("-"),
        status,
        start.elapsed().as_secs_f64() * 1000.0
    );
    response
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

fn build(inner: &Inner, reply: Reply, accept_gzip: bool) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("X-Puppet-Version", inner.options.puppet_version.as_str());
    if let Some(ct) = reply.content_type {
        builder = builder.header(hyper::header::CONTENT_TYPE, ct);
    }
    if reply.close {
        builder = builder.header(hyper::header::CONNECTION, "close");
    }
    let mut body = reply.body;
    if reply.gzip && accept_gzip && !body.is_empty() {
        if let Some(z) = gzip(&body) {
            body = z;
            builder = builder
                .header(hyper::header::CONTENT_ENCODING, "gzip")
                .header(hyper::header::VARY, "Accept-Encoding, User-Agent");
        }
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
