//! Response bodies written while they are sent (the [`generic`](super::generic) server's
//! streamed answers): [`ResponseWriter`] documents the model (bounded chunks with
//! backpressure; what an error does before and after the first byte).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::generic::HttpResponse;

/// How a streamed body is cut and how much of it may wait for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// A chunk's size: the writer hands its bytes on when it holds this many (default
    /// 64 KiB). It is also the largest answer sent whole, with a `Content-Length`.
    pub chunk_bytes: usize,
    /// Chunks written but not yet taken by the connection (default 4); the writer waits
    /// when that many wait for the client.
    pub chunks_in_flight: usize,
    /// Gzip a committed body as it is written (the client accepts gzip:
    /// [`HttpRequest::accepts_gzip`](super::generic::HttpRequest::accepts_gzip)). A body
    /// sent whole is gzipped, or not, as other bodies are.
    pub gzip: bool,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            chunk_bytes: 64 * 1024,
            chunks_in_flight: 4,
            gzip: false,
        }
    }
}

/// What travels from the writer to the connection.
enum Piece {
    Data(Bytes),
    /// The body is complete.
    End,
    /// The body failed after it was committed: abort the answer.
    Abort(String),
}

/// A streamed body as the connection sends it (the other end of a [`ResponseWriter`]);
/// [`HttpResponse::stream`] holds it.
pub struct BodyStream {
    rx: mpsc::Receiver<Piece>,
    /// Bytes handed to the channel by the writer, and bytes the connection took.
    sent: Arc<AtomicU64>,
    taken: u64,
    ended: bool,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("waiting_bytes", &self.waiting_bytes())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl BodyStream {
    /// Bytes written and waiting for the client to take them: at most
    /// [`StreamOptions::chunks_in_flight`] chunks in the channel and the one the writer is
    /// handing over (each a chunk's size plus at most one write; gzipped, at most twice
    /// that), however slowly the client reads.
    pub fn waiting_bytes(&self) -> u64 {
        self.sent.load(Ordering::Acquire).saturating_sub(self.taken)
    }

    /// The next piece of the body: `Ok(Some)` data, `Ok(None)` the end, `Err` an answer
    /// aborted (by [`ResponseWriter::fail`] or a writer dropped unfinished).
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Piece::Data(b))) => {
                self.taken += b.len() as u64;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Piece::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Piece::Abort(why))) => {
                self.ended = true;
                Poll::Ready(Some(Err(std::io::Error::other(why))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Err(std::io::Error::other(
                    "the answer was abandoned before its end",
                ))))
            }
        }
    }

    /// Whether the body is over.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// The next chunk, waiting for it: `None` at the end (a test, or a handler that wants
    /// the body itself). An aborted answer is an error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::io::Write;
    /// use puppet_protocol::server::generic::{ResponseWriter, StreamOptions};
    /// let options = StreamOptions { chunk_bytes: 4, ..StreamOptions::default() };
    /// let (mut w, pending) = ResponseWriter::new(200, "text/plain", options);
    /// std::thread::spawn(move || {
    ///     w.write_all(b"hello, world").unwrap();
    ///     w.finish().unwrap();
    /// });
    /// let mut stream = pending.response().await.stream.expect("committed: streamed");
    /// let mut body = Vec::new();
    /// while let Some(chunk) = stream.next_chunk().await {
    ///     body.extend_from_slice(&chunk.unwrap());
    /// }
    /// assert_eq!(body, b"hello, world");
    /// # });
    /// ```
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }
}

/// The response of a [`ResponseWriter`] once it is known: what the handler returns.
#[derive(Debug)]
pub struct PendingResponse {
    rx: oneshot::Receiver<HttpResponse>,
}

impl PendingResponse {
    /// Waits until the writer commits (the response with its [`BodyStream`]), finishes
    /// within its first chunk (the response with its whole body), fails before committing
    /// (the response given to [`ResponseWriter::fail`]) or is dropped before any of these
    /// (500).
    pub async fn response(self) -> HttpResponse {
        self.rx.await.unwrap_or_else(|_| {
            HttpResponse::new(
                500,
                "text/plain; charset=utf-8",
                b"The answer was abandoned before it started".to_vec(),
            )
        })
    }
}

/// Writes a response's body from a blocking thread while the connection sends it: status
/// and headers are set first, then the body is written with [`std::io::Write`], then
/// [`ResponseWriter::finish`] (or [`ResponseWriter::fail`]).
///
/// The writer cuts the body into chunks of [`StreamOptions::chunk_bytes`] and hands them to
/// the connection over a bounded channel: an answer of any size is held in at most
/// [`StreamOptions::chunks_in_flight`] chunks, the one being handed over and the one being
/// filled, and a client that reads slowly makes the writer wait (backpressure) instead of the
/// server buffering the rest ([`BodyStream::waiting_bytes`]). Its writes block then: use it
/// from a blocking thread (`tokio::task::spawn_blocking` or a thread of its own), never from
/// an async task. A write fails (`BrokenPipe`) once the client is gone, so the work producing
/// the body can stop. (A client that stops reading altogether is cut off by the server's
/// write timeout, [`Limits::write_timeout`](crate::server::Limits::write_timeout).)
///
/// The model is a servlet container's (Jetty's, which PuppetDB runs on). Until the first
/// chunk leaves, the response is not *committed*: headers can still be set and the whole
/// response can be replaced ([`ResponseWriter::fail`]: an error found by then gets its proper
/// status and error body). An answer that ends within its first chunk is sent whole, with a
/// `Content-Length`, gzipped as any other body. Once committed, the body goes out with
/// `Transfer-Encoding: chunked`, gzipped as it is written when [`StreamOptions::gzip`] says
/// so. An error after that can only abort the answer: the connection is closed before the
/// terminating chunk, so the client sees a truncated body and never takes a short answer for
/// the whole. A writer dropped without [`ResponseWriter::finish`] (a panic, an early return)
/// aborts the same way.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::io::Write;
/// use puppet_protocol::server::generic::{ResponseWriter, StreamOptions};
/// let (mut w, pending) = ResponseWriter::new(200, "application/json", StreamOptions::default());
/// std::thread::spawn(move || {
///     w.set_header("X-Records", "2");
///     w.write_all(b"[1,2]").unwrap();
///     w.finish().unwrap();
/// });
/// let r = pending.response().await;
/// // Within its first chunk: sent whole.
/// assert_eq!((r.status, r.body.as_slice(), r.stream.is_none()), (200, &b"[1,2]"[..], true));
/// assert_eq!(r.headers, vec![("X-Records".to_string(), "2".to_string())]);
/// # });
/// ```
pub struct ResponseWriter {
    /// Status, content type and headers until committed.
    head: Option<HttpResponse>,
    head_tx: Option<oneshot::Sender<HttpResponse>>,
    tx: mpsc::Sender<Piece>,
    /// The receiving end, until it goes out with the head.
    rx: Option<mpsc::Receiver<Piece>>,
    /// The body written and not yet sent (or gzipped).
    buf: Vec<u8>,
    gz: Option<flate2::write::GzEncoder<Vec<u8>>>,
    options: StreamOptions,
    sent: Arc<AtomicU64>,
    done: bool,
}

impl std::fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("committed", &self.committed())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn gone() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the client is gone: the answer is no longer sent",
    )
}

impl ResponseWriter {
    /// A writer of a `status` response with `content_type`, and the response its handler
    /// returns (once known: [`PendingResponse::response`]).
    pub fn new(
        status: u16,
        content_type: &str,
        options: StreamOptions,
    ) -> (ResponseWriter, PendingResponse) {
        let options = StreamOptions {
            chunk_bytes: options.chunk_bytes.max(1),
            chunks_in_flight: options.chunks_in_flight.max(1),
            ..options
        };
        let (tx, rx) = mpsc::channel(options.chunks_in_flight);
        let (head_tx, head_rx) = oneshot::channel();
        (
            ResponseWriter {
                head: Some(HttpResponse::new(status, content_type, Vec::new())),
                head_tx: Some(head_tx),
                tx,
                rx: Some(rx),
                buf: Vec::new(),
                gz: None,
                options,
                sent: Arc::new(AtomicU64::new(0)),
                done: false,
            },
            PendingResponse { rx: head_rx },
        )
    }

    /// Sets a header (`X-Records`); `false` once committed (too late: nothing changes).
    pub fn set_header(&mut self, name: &str, value: &str) -> bool {
        match &mut self.head {
            Some(head) => {
                head.headers.push((name.to_string(), value.to_string()));
                true
            }
            None => false,
        }
    }

    /// Whether the status and headers have left (the first chunk is on its way).
    pub fn committed(&self) -> bool {
        self.head.is_none()
    }

    /// Sends the status, headers and the receiving end of the body: from now on the body
    /// is chunked, gzipped if asked.
    fn commit(&mut self) -> std::io::Result<()> {
        let (Some(mut head), Some(head_tx), Some(rx)) =
            (self.head.take(), self.head_tx.take(), self.rx.take())
        else {
            return Ok(());
        };
        if self.options.gzip {
            head.headers
                .push(("Content-Encoding".to_string(), "gzip".to_string()));
            head.headers
                .push(("Vary".to_string(), "Accept-Encoding".to_string()));
            self.gz = Some(flate2::write::GzEncoder::new(
                Vec::with_capacity(self.options.chunk_bytes),
                flate2::Compression::fast(),
            ));
        }
        head.stream = Some(BodyStream {
            rx,
            sent: self.sent.clone(),
            taken: 0,
            ended: false,
        });
        head_tx.send(head).map_err(|_| gone())
    }

    /// The bytes ready to send (gzip's output once gzipping).
    fn out(&mut self) -> &mut Vec<u8> {
        match &mut self.gz {
            Some(gz) => gz.get_mut(),
            None => &mut self.buf,
        }
    }

    /// Sends what is ready when it is at least `min` bytes (waits while the channel is
    /// full). Gzipping, the body written so far is compressed first, in one piece (deflate
    /// is slow on the small writes a serializer makes).
    fn send_ready(&mut self, min: usize) -> std::io::Result<()> {
        let chunk = self.options.chunk_bytes;
        if let Some(gz) = &mut self.gz {
            gz.write_all(&self.buf)?;
            self.buf.clear();
        }
        let out = self.out();
        if out.is_empty() || out.len() < min {
            return Ok(());
        }
        let data = Bytes::from(std::mem::replace(out, Vec::with_capacity(chunk)));
        // Counted before it is in the channel: `waiting_bytes` never under-reports.
        self.sent.fetch_add(data.len() as u64, Ordering::AcqRel);
        self.tx.blocking_send(Piece::Data(data)).map_err(|_| gone())
    }

    /// Ends the body: an answer that never filled a chunk is sent whole; a committed one
    /// gets its last bytes and its end.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.done = true;
        if let (Some(mut head), Some(head_tx)) = (self.head.take(), self.head_tx.take()) {
            head.body = std::mem::take(&mut self.buf);
            return head_tx.send(head).map_err(|_| gone());
        }
        if let Some(mut gz) = self.gz.take() {
            gz.write_all(&self.buf)?;
            self.buf = gz.finish()?;
        }
        self.send_ready(1)?;
        self.tx.blocking_send(Piece::End).map_err(|_| gone())
    }

    /// The answer failed. Before it is committed, `response` is sent instead (an error's
    /// status and body), and this answers `true`; after, the body is aborted (the client
    /// sees a truncated answer, `why` goes to the server's log) and this answers `false`.
    pub fn fail(mut self, response: HttpResponse, why: &str) -> bool {
        self.done = true;
        if let (Some(_), Some(head_tx)) = (self.head.take(), self.head_tx.take()) {
            // The client may be gone: nothing more to do then.
            let _ = head_tx.send(response);
            return true;
        }
        let _ = self.tx.blocking_send(Piece::Abort(why.to_string()));
        false
    }
}

impl Write for ResponseWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.done {
            return Err(std::io::Error::other("the answer is finished"));
        }
        let chunk = self.options.chunk_bytes;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= chunk {
            self.commit()?;
            self.send_ready(chunk)?;
        }
        Ok(data.len())
    }

    /// Nothing: chunks leave when full, [`ResponseWriter::finish`] sends the rest.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ResponseWriter {
    fn drop(&mut self) {
        // Unfinished: a committed body is aborted (its receiver sees the channel close
        // without an end); an uncommitted one leaves its handler a 500.
        if !self.done && self.committed() {
            let _ = self
                .tx
                .try_send(Piece::Abort("the answer was abandoned".to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    /// Writes `rows` rows of about 20 bytes, then finishes; answers the body written.
    fn producer(mut w: ResponseWriter, rows: usize) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            for i in 0..rows {
                let row = format!("{{\"row\":{i:>10}}},");
                all.extend_from_slice(row.as_bytes());
                if w.write_all(row.as_bytes()).is_err() {
                    return all;
                }
            }
            w.finish().expect("finish");
            all
        })
    }

    #[test]
    fn a_slow_client_keeps_the_waiting_bytes_bounded() {
        let options = StreamOptions {
            chunk_bytes: 1024,
            chunks_in_flight: 2,
            gzip: false,
        };
        let (w, pending) = ResponseWriter::new(200, "application/json", options);
        let sent = w.sent.clone();
        let producer = producer(w, 50_000);
        let rt = runtime();
        let mut stream = rt
            .block_on(pending.response())
            .stream
            .expect("more than a chunk: streamed");
        // Two in the channel, one handed over.
        let bound = 3 * (1024 + 20);
        let mut body = Vec::new();
        let mut max_waiting = 0;
        let mut chunks = 0;
        loop {
            // The client reads nothing for a while: the writer stops at the bound.
            std::thread::sleep(std::time::Duration::from_millis(1));
            max_waiting = max_waiting.max(stream.waiting_bytes());
            assert!(
                stream.waiting_bytes() <= bound,
                "{} bytes wait for a client that does not read (bound {bound})",
                stream.waiting_bytes()
            );
            match rt.block_on(stream.next_chunk()) {
                Some(chunk) => body.extend_from_slice(&chunk.expect("chunk")),
                None => break,
            }
            chunks += 1;
            if chunks == 10 {
                // Midway, the writer has written no more than the bound ahead of the
                // client: the rest of the answer is not in memory.
                std::thread::sleep(std::time::Duration::from_millis(50));
                let ahead = sent.load(Ordering::Acquire) - body.len() as u64;
                assert!(ahead <= bound, "{ahead} bytes ahead");
            }
        }
        let all = producer.join().expect("producer");
        assert_eq!(body, all, "the whole answer, in order");
        assert!(max_waiting > 0);
    }

    #[test]
    fn a_short_answer_is_sent_whole_and_may_still_fail() {
        let rt = runtime();
        let (mut w, pending) = ResponseWriter::new(200, "application/json", Default::default());
        w.write_all(b"[1,").expect("write");
        assert!(!w.committed());
        assert!(w.fail(HttpResponse::new(400, "text/plain", b"bad".to_vec()), "bad"));
        let r = rt.block_on(pending.response());
        assert_eq!((r.status, r.body.as_slice()), (400, &b"bad"[..]));
        assert!(r.stream.is_none());

        let (w, pending) = ResponseWriter::new(200, "application/json", Default::default());
        drop(w);
        assert_eq!(rt.block_on(pending.response()).status, 500);
    }

    #[test]
    fn a_failure_after_commit_aborts_the_body() {
        let rt = runtime();
        let options = StreamOptions {
            chunk_bytes: 8,
            ..Default::default()
        };
        for fail in [true, false] {
            let (mut w, pending) = ResponseWriter::new(200, "application/json", options);
            let t = std::thread::spawn(move || {
                w.write_all(b"[1,2,3,4,5,6").expect("write");
                assert!(w.committed());
                if fail {
                    assert!(!w.fail(HttpResponse::new(500, "text/plain", Vec::new()), "boom"));
                }
                // Otherwise dropped unfinished.
            });
            let mut stream = rt.block_on(pending.response()).stream.expect("streamed");
            t.join().expect("writer");
            let mut last = None;
            while let Some(c) = rt.block_on(stream.next_chunk()) {
                last = Some(c.is_err());
            }
            assert_eq!(last, Some(true), "the body ends with an error, not its end");
        }
    }

    #[test]
    fn a_committed_body_is_gzipped_as_written() {
        use std::io::Read;
        let rt = runtime();
        let options = StreamOptions {
            chunk_bytes: 512,
            chunks_in_flight: 2,
            gzip: true,
        };
        let (w, pending) = ResponseWriter::new(200, "application/json", options);
        let producer = producer(w, 5_000);
        let r = rt.block_on(pending.response());
        assert!(
            r.headers
                .contains(&("Content-Encoding".to_string(), "gzip".to_string()))
        );
        let mut stream = r.stream.expect("streamed");
        let mut z = Vec::new();
        while let Some(c) = rt.block_on(stream.next_chunk()) {
            z.extend_from_slice(&c.expect("chunk"));
        }
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut body)
            .expect("gunzip");
        assert_eq!(body, producer.join().expect("producer"));
    }

    #[test]
    fn a_gone_client_stops_the_writer() {
        let options = StreamOptions {
            chunk_bytes: 64,
            chunks_in_flight: 1,
            gzip: false,
        };
        let (w, pending) = ResponseWriter::new(200, "application/json", options);
        let producer = producer(w, 1_000_000);
        let r = runtime().block_on(pending.response());
        drop(r);
        let written = producer.join().expect("producer");
        assert!(written.len() < 1_000_000 * 10, "stopped early");
    }
}
