//! Connections and requests: TLS accept, HTTP/1.1 keep-alive, body limits, authorization,
//! gzip, `X-Puppet-Version`, the error mapping and one log line per request.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
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
    pub(crate) body: Bytes,
    /// May be gzipped (Puppetserver gzips nearly everything, quirk Q2).
    pub(crate) gzip: bool,
    /// The body already gzipped (a cached catalog), sent as is to a client that takes gzip.
    pub(crate) gzipped: Option<Bytes>,
    /// A file streamed as the body (`body` is then empty): its length and the file.
    pub(crate) file: Option<(u64, tokio::fs::File)>,
    /// Close the connection after this response.
    pub(crate) close: bool,
}

impl Reply {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type),
            body: body.into(),
            gzip: true,
            gzipped: None,
            file: None,
            close: false,
        }
    }

    /// A file's content: read and sent as other bodies when it is small, streamed (not
    /// gzipped) when it is larger than [`STREAM_FROM`].
    pub(crate) async fn file(
        content_type: &'static str,
        content: super::FileContent,
        what: &str,
    ) -> Result<Reply, ProtocolError> {
        let file = match content {
            super::FileContent::Bytes(b) => return Ok(Reply::new(200, content_type, b)),
            super::FileContent::File(f) => f,
        };
        let what = what.to_string();
        let read = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let len = file.metadata()?.len();
            if len > STREAM_FROM {
                return Ok((len, Err(file)));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            (&file).take(STREAM_FROM + 1).read_to_end(&mut bytes)?;
            Ok((len, Ok(bytes)))
        })
        .await
        .map_err(ProtocolError::service)?
        .map_err(|e: std::io::Error| ProtocolError::io(what, e))?;
        match read {
            (_, Ok(bytes)) => Ok(Reply::new(200, content_type, bytes)),
            (len, Err(file)) => Ok(Reply {
                file: Some((len, tokio::fs::File::from_std(file))),
                ..Reply::new(200, content_type, Bytes::new()).no_gzip()
            }),
        }
    }

    /// A body sent as given, or as `gzipped` to a client that takes gzip.
    pub(crate) fn precompressed(
        content_type: &'static str,
        body: Bytes,
        gzipped: Option<Bytes>,
    ) -> Reply {
        Reply {
            gzipped,
            ..Reply::new(200, content_type, body)
        }
    }

    pub(crate) fn no_gzip(mut self) -> Reply {
        self.gzip = false;
        self
    }
}

/// Back-off after an accept error that is not about one connection (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM): 5 ms, doubling up to 1 s, reset by the next successful accept.
const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one warning about accept errors (and one about the connection cap) per period.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Errors that concern only the connection being accepted: try the next one at once.
fn per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// What the accept loop and connections need from a server: its TLS, its limits and how it
/// answers one request. The master ([`Inner`]) and the generic [`super::generic`] server
/// implement it, so both share the connection cap, timeouts and graceful shutdown.
pub(crate) trait Serve: Send + Sync + 'static {
    fn limits(&self) -> &super::Limits;
    fn tls_config(&self) -> Arc<rustls::ServerConfig>;
    /// Called once when the accept loop stops, before the requests in flight are let finish.
    fn draining(&self) {}
    fn serve<'a>(
        &'a self,
        peer: &'a Peer,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Body>> + Send + 'a;
}

impl Serve for Inner {
    fn limits(&self) -> &super::Limits {
        &self.options.limits
    }

    fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.current()
    }

    fn draining(&self) {
        self.draining.send_replace(true);
    }

    fn serve<'a>(
        &'a self,
        peer: &'a Peer,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Body>> + Send + 'a {
        handle(self, peer, req)
    }
}

/// Accepts connections until `stopped` says so (or its sender is dropped), at most
/// [`Limits::max_connections`](super::Limits::max_connections) at a time; then the graceful
/// part of the shutdown: the listener is closed, every connection is told to finish its
/// request in flight and close, and those still open after the grace period are dropped.
pub(crate) async fn accept_loop<S: Serve>(
    listener: tokio::net::TcpListener,
    inner: Arc<S>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let limits = inner.limits().clone();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (drain, draining) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff: Option<Duration> = None;
    let mut last_warned: Option<Instant> = None;
    let mut unlogged = 0u64;
    let mut cap_warned: Option<Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // At the cap the loop flaps as connections close: warn once a minute at most.
                if cap_warned.is_none_or(|t: Instant| t.elapsed() >= WARN_EVERY) {
                    tracing::warn!(
                        max = limits.max_connections,
                        "connection cap reached: not accepting until a connection closes"
                    );
                    cap_warned = Some(Instant::now());
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, addr)) => {
                backoff = None;
                connections.spawn(connection(
                    tcp,
                    addr,
                    inner.clone(),
                    draining.clone(),
                    permit,
                ));
            }
            Err(e) if per_connection(&e) => {
                tracing::debug!("accept: {e}");
            }
            Err(e) => {
                drop(permit);
                let delay = backoff.map_or(BACKOFF_START, |d| (d * 2).min(BACKOFF_MAX));
                backoff = Some(delay);
                // The condition (often the fd limit) lasts or comes back as connections
                // close: one warning per minute at most, counting the rest.
                if last_warned.is_none_or(|t: Instant| t.elapsed() >= WARN_EVERY) {
                    tracing::warn!(
                        "accept failed: {e}; backing off (up to {}s) until it works again ({} more since the last warning)",
                        BACKOFF_MAX.as_secs(),
                        unlogged
                    );
                    last_warned = Some(Instant::now());
                    unlogged = 0;
                } else {
                    unlogged += 1;
                    tracing::debug!("accept failed: {e}");
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    drop(listener);
    let open = connections.len();
    inner.draining();
    let _ = drain.send(true);
    if open > 0 {
        tracing::info!(
            connections = open,
            "shutting down: letting requests in flight finish"
        );
    }
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, finished)
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            grace_s = limits.shutdown_grace.as_secs_f64(),
            "shutdown grace over: closing the connections still open"
        );
        connections.shutdown().await;
    }
}

impl super::RunningMaster {
    /// Serves until `signal` completes, then shuts down gracefully
    /// ([`RunningMaster::shutdown`](super::RunningMaster::shutdown)). A binary passes its
    /// SIGTERM/SIGINT future (tokio's `signal` feature, which this crate does not need):
    ///
    /// ```no_run
    /// # async fn run(running: puppet_protocol::server::RunningMaster) -> std::io::Result<()> {
    /// use tokio::signal::unix::{SignalKind, signal};
    /// let mut term = signal(SignalKind::terminate())?;
    /// let mut int = signal(SignalKind::interrupt())?;
    /// running
    ///     .run_until(async move {
    ///         tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    ///     })
    ///     .await;
    /// // In-flight requests have finished (or the grace ran out): exit 0.
    /// # Ok(()) }
    /// ```
    ///
    /// It also returns if the accept loop ends on its own.
    pub async fn run_until<F>(mut self, signal: F)
    where
        F: std::future::Future<Output = ()>,
    {
        tokio::select! {
            _ = signal => {
                tracing::info!("shutdown requested");
                self.shutdown().await;
            }
            _ = &mut self.task => {}
        }
    }
}

/// One connection: TLS handshake (bounded), then HTTP/1.1 with keep-alive until the client
/// leaves, a timeout runs out, or the master drains.
///
/// A request's handling future belongs to its connection: when the client closes the
/// connection while its request is being handled, hyper notices the end of the stream and
/// the future is dropped, which cancels everything it awaits (a compile, a metadata walk). Work
/// a service moved to a blocking thread (`spawn_blocking`) cannot be cancelled that way: it
/// runs to its end and its result is discarded. (Half-closed connections are not kept: a
/// client that shuts down its sending side counts as gone.)
async fn connection<S: Serve>(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    inner: Arc<S>,
    mut draining: tokio::sync::watch::Receiver<bool>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    let limits = inner.limits();
    let acceptor = TlsAcceptor::from(inner.tls_config());
    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
    let stream = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::info!(peer = %addr, "TLS handshake refused: {e}");
                return;
            }
            Err(_) => {
                tracing::info!(peer = %addr, "TLS handshake timed out");
                return;
            }
        },
        _ = drained(&mut draining) => return,
    };
    let peer = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => Peer {
            identity: crate::cert::identity(cert),
            cert_der: Some(cert.to_vec()),
        },
        None => Peer::default(),
    };
    let peer = Arc::new(peer);
    let service_inner = inner.clone();
    let service = service_fn(move |req| {
        let inner = service_inner.clone();
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(inner.serve(&peer, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .half_close(false)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .serve_connection(
            TokioIo::new(WriteTimeout::new(stream, limits.write_timeout)),
            service,
        );
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = drained(&mut draining) => {
            // Finish the request in flight (if any), then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %addr, "connection ended: {e}");
    }
}

/// A stream whose writes fail with `TimedOut` when they make no progress for `timeout`: a
/// client that stops reading its answer cannot hold the connection (and the answer's
/// memory) forever.
struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteTimeout<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// After the inner write returned `Pending`: start (or check) the stall clock.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading its answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<R>(
        &mut self,
        r: Poll<std::io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<R>> {
        match r {
            Poll::Pending => self.pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(r, cx)
    }
}

/// Resolves when the master starts draining (or the accept loop is gone).
async fn drained(draining: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = draining.wait_for(|d| *d).await;
}

/// Reads a body of at most `limit` bytes within `timeout`. A `Content-Length` over the limit
/// is refused before anything is read; a longer (chunked) body is cut off at the limit.
pub(crate) async fn read_body(
    body: Incoming,
    headers: &hyper::HeaderMap,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, ProtocolError> {
    if let Some(len) = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(ProtocolError::TooLarge { size: len, limit });
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    let collected = tokio::time::timeout(timeout, limited.collect())
        .await
        .map_err(|_| {
            ProtocolError::RequestTimeout(format!(
                "the request body was not received within {}s",
                timeout.as_secs_f64()
            ))
        })?;
    match collected {
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

async fn handle(inner: &Inner, peer: &Peer, req: Request<Incoming>) -> Response<Body> {
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
        let limits = &inner.options.limits;
        let limit = limits
            .body_limit(&endpoint)
            .min(inner.options.max_body_bytes);
        let body = read_body(body, &parts.headers, limit, limits.body_timeout).await?;
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
                body: Bytes::from(text),
                gzip: true,
                gzipped: None,
                file: None,
                // The body may be unread (413) or half read (408): the connection cannot
                // carry another request.
                close: matches!(status, 408 | 413),
            }
        }
    };
    let status = reply.status;
    let response = build(inner, reply, accept_gzip).await;
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

/// Bodies up to this size are gzipped on the async thread; larger ones on a blocking
/// thread, so one large answer does not hold up the other connections' requests.
const INLINE_GZIP_MAX: usize = 16 * 1024;

/// `bytes` gzipped (fast level; even when that is not smaller: Puppetserver gzips nearly
/// everything), or `None` when it fails.
pub(crate) fn gzip(bytes: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).ok()?;
    enc.finish().ok().map(Bytes::from)
}

/// [`gzip`] on a blocking thread when `bytes` is large.
pub(crate) async fn gzip_off_thread(bytes: &Bytes) -> Option<Bytes> {
    if bytes.len() <= INLINE_GZIP_MAX {
        return gzip(bytes);
    }
    let b = bytes.clone();
    tokio::task::spawn_blocking(move || gzip(&b))
        .await
        .ok()
        .flatten()
}

async fn build(inner: &Inner, reply: Reply, accept_gzip: bool) -> Response<Body> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("X-Puppet-Version", inner.options.puppet_version.as_str());
    if let Some(ct) = reply.content_type {
        builder = builder.header(hyper::header::CONTENT_TYPE, ct);
    }
    if reply.close {
        builder = builder.header(hyper::header::CONNECTION, "close");
    }
    if let Some((len, file)) = reply.file {
        return builder
            .body(Body::File(FileBody {
                file,
                remaining: len,
                buf: vec![0; FILE_CHUNK],
            }))
            .unwrap_or_else(|_| Response::new(Body::Full(None)));
    }
    let mut body = reply.body;
    if reply.gzip && accept_gzip && !body.is_empty() {
        let z = match reply.gzipped {
            Some(z) => Some(z),
            None => gzip_off_thread(&body).await,
        };
        if let Some(z) = z {
            body = z;
            builder = builder
                .header(hyper::header::CONTENT_ENCODING, "gzip")
                .header(hyper::header::VARY, "Accept-Encoding, User-Agent");
        }
    }
    builder
        .body(Body::Full((!body.is_empty()).then_some(body)))
        .unwrap_or_else(|_| Response::new(Body::Full(None)))
}

/// Files larger than this are streamed rather than read whole (64 KiB).
pub(crate) const STREAM_FROM: u64 = 64 * 1024;
/// The chunk a streamed file is read and sent in.
const FILE_CHUNK: usize = 64 * 1024;

/// A response body: bytes in memory, or a file read chunk by chunk as the client takes it.
pub(crate) enum Body {
    /// The whole body (`None`: empty).
    Full(Option<Bytes>),
    /// A file streamed.
    File(FileBody),
    /// A body written while it is sent (the generic server's [`super::stream`]).
    Stream(super::stream::BodyStream),
}

/// A file sent as it is read: `remaining` bytes (its length when opened; a file that
/// shrinks meanwhile ends the answer with an error, so the client never takes a short body
/// for the whole file).
pub(crate) struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(hyper::body::Frame::data(b)))),
            // An error aborts the answer: hyper closes the connection before the last chunk.
            Body::Stream(s) => s
                .poll_chunk(cx)
                .map(|c| c.map(|c| c.map(hyper::body::Frame::data))),
            Body::File(f) => {
                if f.remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = usize::try_from(f.remaining)
                    .unwrap_or(usize::MAX)
                    .min(f.buf.len());
                let mut read = tokio::io::ReadBuf::new(&mut f.buf[..want]);
                match Pin::new(&mut f.file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) if read.filled().is_empty() => {
                        Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the file became shorter while it was sent",
                        ))))
                    }
                    Poll::Ready(Ok(())) => {
                        let chunk = Bytes::copy_from_slice(read.filled());
                        f.remaining -= chunk.len() as u64;
                        Poll::Ready(Some(Ok(hyper::body::Frame::data(chunk))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::File(f) => f.remaining == 0,
            Body::Stream(s) => s.is_ended(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(b) => {
                hyper::body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            Body::File(f) => hyper::body::SizeHint::with_exact(f.remaining),
            Body::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}
