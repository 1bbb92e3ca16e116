//! A generic HTTPS server on the master's framework: the same TLS (client certificates
//! verified against the CA and its CRL), connection cap, timeouts, per-request body limit
//! enforced while reading, gzip and graceful shutdown, with a [`Handler`] answering every
//! request instead of the Puppet master's routes. A PuppetDB (`puppet-db`) is served this
//! way.
//!
//! A handler answers with a body in memory ([`HttpResponse::new`]) or with one written while
//! it is sent, in bounded memory, from a blocking thread ([`ResponseWriter`]: chunked, with
//! backpressure from the client; see its module's docs for what happens on an error before
//! and after the first byte).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::body::Incoming;

use super::http::{Body, Peer, Serve, gzip, read_body};
pub use super::stream::{BodyStream, PendingResponse, ResponseWriter, StreamOptions};
use super::{Limits, RunningMaster, ServerError, TlsSource};
use crate::form::Params;
use crate::{ClientIdentity, ProtocolError};

/// One request as a [`Handler`] gets it: the body is already read (within the handler's
/// [`Handler::body_limit`] and the body timeout), not gunzipped (the handler decides).
#[derive(Debug)]
pub struct HttpRequest {
    /// The method.
    pub method: hyper::Method,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query parameters, decoded.
    pub query: Params,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The verified client certificate's identity (certname `None` without one).
    pub client: ClientIdentity,
}

impl HttpRequest {
    /// Whether the client takes a gzipped answer (`Accept-Encoding`): what
    /// [`StreamOptions::gzip`] of a streamed answer follows.
    ///
    /// ```
    /// use puppet_protocol::server::generic::HttpRequest;
    /// let mut headers = hyper::HeaderMap::new();
    /// headers.insert("accept-encoding", "gzip, deflate".parse().unwrap());
    /// let r = HttpRequest {
    ///     method: hyper::Method::GET,
    ///     path: "/".into(),
    ///     query: Default::default(),
    ///     headers,
    ///     body: Default::default(),
    ///     client: Default::default(),
    /// };
    /// assert!(r.accepts_gzip());
    /// ```
    pub fn accepts_gzip(&self) -> bool {
        crate::content::accepts_gzip(
            self.headers
                .get(hyper::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        )
    }
}

/// A handler's answer.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// Other headers.
    pub headers: Vec<(String, String)>,
    /// The body (gzipped on the way out when the client accepts it).
    pub body: Vec<u8>,
    /// A body written while it is sent ([`ResponseWriter`]), then `body` is empty: sent
    /// chunked, as its writer encoded it.
    pub stream: Option<BodyStream>,
}

impl HttpResponse {
    /// A response with a content type and a body.
    ///
    /// ```
    /// use puppet_protocol::server::generic::HttpResponse;
    /// let r = HttpResponse::new(200, "application/json", b"[]".to_vec());
    /// assert_eq!((r.status, r.body.as_slice()), (200, &b"[]"[..]));
    /// ```
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
        HttpResponse {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body,
            stream: None,
        }
    }
}

/// Answers the requests of a [`GenericServer`].
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The largest body accepted for this request, decided before it is read (413 above).
    fn body_limit(&self, method: &hyper::Method, path: &str) -> u64;
    /// Answers one request.
    async fn handle(&self, request: HttpRequest) -> HttpResponse;
}

struct GenericInner {
    tls: TlsSource,
    limits: Limits,
    handler: Arc<dyn Handler>,
}

/// A TLS server whose every request goes to one [`Handler`] (see the module docs).
#[derive(Clone)]
pub struct GenericServer {
    inner: Arc<GenericInner>,
}

impl std::fmt::Debug for GenericServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericServer")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl GenericServer {
    /// A server from its TLS, its handler and its limits ([`Limits`]' body sizes per
    /// Puppet endpoint do not apply: the handler's [`Handler::body_limit`] does).
    ///
    /// ```no_run
    /// # async fn run(tls: puppet_protocol::server::TlsSource) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use puppet_protocol::server::Limits;
    /// use puppet_protocol::server::generic::{GenericServer, Handler, HttpRequest, HttpResponse};
    ///
    /// struct Hello;
    /// #[async_trait::async_trait]
    /// impl Handler for Hello {
    ///     fn body_limit(&self, _: &hyper::Method, _: &str) -> u64 { 0 }
    ///     async fn handle(&self, r: HttpRequest) -> HttpResponse {
    ///         let who = r.client.certname.unwrap_or_default();
    ///         HttpResponse::new(200, "text/plain", format!("hello {who}").into_bytes())
    ///     }
    /// }
    /// let running = GenericServer::new(tls, Arc::new(Hello), Limits::default())
    ///     .bind("127.0.0.1:0".parse()?)
    ///     .await?;
    /// running.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn new(tls: TlsSource, handler: Arc<dyn Handler>, limits: Limits) -> GenericServer {
        GenericServer {
            inner: Arc::new(GenericInner {
                tls,
                limits,
                handler,
            }),
        }
    }

    /// Binds `addr` and starts serving in the background.
    pub async fn bind(&self, addr: SocketAddr) -> Result<RunningMaster, ServerError> {
        super::bind_serving(addr, self.inner.clone()).await
    }
}

impl Serve for GenericInner {
    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.current()
    }

    fn serve<'a>(
        &'a self,
        peer: &'a Peer,
        req: hyper::Request<Incoming>,
    ) -> impl Future<Output = hyper::Response<Body>> + Send + 'a {
        handle(self, peer, req)
    }
}

async fn handle(
    inner: &GenericInner,
    peer: &Peer,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Body> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let accept_gzip = crate::content::accepts_gzip(
        parts
            .headers
            .get(hyper::header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let read = async {
        let query = Params::parse(parts.uri.query().unwrap_or(""))?;
        let limit = inner.handler.body_limit(&parts.method, &path);
        let body = read_body(body, &parts.headers, limit, inner.limits.body_timeout).await?;
        Ok::<_, ProtocolError>((query, body))
    }
    .await;
    let (response, close) = match read {
        Ok((query, body)) => {
            let request = HttpRequest {
                method: parts.method.clone(),
                path: path.clone(),
                query,
                headers: parts.headers.clone(),
                body,
                client: peer.identity.clone(),
            };
            (inner.handler.handle(request).await, false)
        }
        Err(e) => {
            let status = e.status();
            (
                HttpResponse::new(
                    status,
                    "text/plain; charset=utf-8",
                    e.to_string().into_bytes(),
                ),
                matches!(status, 408 | 413),
            )
        }
    };
    tracing::info!(
        target: "puppet_protocol::access",
        "{} {} {} {} {:.1}ms",
        parts.method,
        path,
        peer.identity.certname.as_deref().unwrap_or("-"),
        response.status,
        start.elapsed().as_secs_f64() * 1000.0
    );
    build(response, accept_gzip, close)
}

fn build(response: HttpResponse, accept_gzip: bool, close: bool) -> hyper::Response<Body> {
    let mut builder = hyper::Response::builder()
        .status(response.status)
        .header(hyper::header::CONTENT_TYPE, response.content_type.as_str());
    for (k, v) in &response.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if close {
        builder = builder.header(hyper::header::CONNECTION, "close");
    }
    if let Some(stream) = response.stream {
        // Written while it is sent: chunked (no length), gzipped by its writer if at all.
        return builder.body(Body::Stream(stream)).unwrap_or_else(|_| {
            let mut r = hyper::Response::new(Body::Full(None));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        });
    }
    let mut body = Bytes::from(response.body);
    if accept_gzip
        && body.len() > 256
        && let Some(z) = gzip(&body)
    {
        body = z;
        builder = builder
            .header(hyper::header::CONTENT_ENCODING, "gzip")
            .header(hyper::header::VARY, "Accept-Encoding");
    }
    builder
        .body(Body::Full((!body.is_empty()).then_some(body)))
        .unwrap_or_else(|_| {
            let mut r = hyper::Response::new(Body::Full(None));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}
