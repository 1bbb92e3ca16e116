//! A load generator for Puppet masters: N keep-alive mTLS connections, each sending up to M
//! requests with the headers a Puppet 7.23 agent sends, every answer checked for status 200.
//! Prints one line of `key=value` pairs: requests/s, p50 and p99 latency, response bytes.
//! `bench/master-vs-puppetserver.sh` runs it against our master and against Puppetserver.
//!
//! ```text
//! cargo run --release -p puppet-conformance-tests --example loadgen -- \
//!   --addr 127.0.0.1:8140 --ca ca.pem --cert agent.pem --key agent.key \
//!   --clients 8 --requests 200 --method POST --body catalog-form.txt \
//!   --path '/puppet/v3/catalog/agent1.example.test?environment=production'
//! ```
//!
//! With `--body`, the request is sent as the agent sends the catalog POST: the urlencoded form
//! (the body file must already hold it, `facts` encoded twice), `Content-Type:
//! application/x-www-form-urlencoded` and `Accept: application/vnd.puppet.rich+json,
//! application/json, text/pson`. Without, as the agent's other GETs: `Accept: application/json,
//! text/pson`. Both ask for gzip, as the agent always does. Latency is measured from sending the
//! request to the last byte of the (still compressed) body.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

mod common;
use common::{BoxError, TlsArgs};

/// The headers Puppet 7.23 sends on every request (fixtures/http in the oracle capture).
const PUPPET_VERSION: &str = "7.23.0";
const USER_AGENT: &str = "Puppet/7.23.0 Ruby/3.1.7-p261 (x86_64-linux-gnu)";
const ACCEPT_ENCODING: &str = "gzip;q=1.0,deflate;q=0.6,identity;q=0.3";
const ACCEPT_CATALOG: &str = "application/vnd.puppet.rich+json, application/json, text/pson";
const ACCEPT_OTHER: &str = "application/json, text/pson";
const FORM: &str = "application/x-www-form-urlencoded";

/// Load generator for Puppet masters (mTLS, keep-alive, Puppet 7 agent headers).
#[derive(Parser, Debug)]
#[command(name = "loadgen")]
struct Args {
    /// Server address (IP:PORT)
    #[arg(long)]
    addr: SocketAddr,
    /// TLS server name to send and verify
    #[arg(long, default_value = "localhost")]
    server_name: String,
    #[command(flatten)]
    tls: TlsArgs,
    /// Concurrent keep-alive connections
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Requests per connection
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Stop each connection after this many seconds even if it has not sent all its requests
    #[arg(long)]
    seconds: Option<f64>,
    /// Untimed requests per connection before the measured ones
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Request path and query
    #[arg(long)]
    path: String,
    /// HTTP method (POST when --body is given, else GET)
    #[arg(long)]
    method: Option<String>,
    /// Request body, sent as the agent's urlencoded catalog form
    #[arg(long)]
    body: Option<PathBuf>,
    /// A label printed with the result
    #[arg(long, default_value = "master")]
    label: String,
}

/// What every connection sends.
struct Request {
    method: hyper::Method,
    path: String,
    host: String,
    accept: &'static str,
    body: Option<Bytes>,
}

/// One connection's measured requests.
struct Sample {
    latencies: Vec<Duration>,
    bytes: u64,
    start: Instant,
    end: Instant,
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: &Request,
) -> Result<u64, BoxError> {
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(req.path.as_str())
        .header("X-Puppet-Version", PUPPET_VERSION)
        .header("User-Agent", USER_AGENT)
        .header("Accept", req.accept)
        .header("Accept-Encoding", ACCEPT_ENCODING)
        .header("Host", req.host.as_str());
    if req.body.is_some() {
        builder = builder.header("Content-Type", FORM);
    }
    let request = builder.body(Full::new(req.body.clone().unwrap_or_default()))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != hyper::StatusCode::OK {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("{} {}: status {status}: {text}", req.method, req.path).into());
    }
    Ok(body.len() as u64)
}

async fn client(
    tls: tokio_rustls::TlsConnector,
    args: Arc<Args>,
    req: Arc<Request>,
    barrier: Arc<Barrier>,
) -> Result<Sample, BoxError> {
    let tcp = TcpStream::connect(args.addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(args.server_name.clone())?;
    let stream = tls.connect(name, tcp).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    for _ in 0..args.warmup {
        send(&mut sender, &req).await?;
    }
    barrier.wait().await;
    let start = Instant::now();
    let deadline = args.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut sample = Sample {
        latencies: Vec::with_capacity(args.requests),
        bytes: 0,
        start,
        end: start,
    };
    for _ in 0..args.requests {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let t = Instant::now();
        sample.bytes += send(&mut sender, &req).await?;
        sample.latencies.push(t.elapsed());
    }
    sample.end = Instant::now();
    drop(sender);
    driver.abort();
    Ok(sample)
}

/// The value below which `pct` percent of the sorted latencies fall (nearest rank), in ms.
fn percentile(sorted: &[Duration], pct: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * pct).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Arc::new(Args::parse());
    if args.clients == 0 || args.requests == 0 {
        return Err("--clients and --requests must be at least 1".into());
    }
    let body = match &args.body {
        Some(path) => Some(Bytes::from(common::read_bytes(path)?)),
        None => None,
    };
    let method = match (&args.method, &body) {
        (Some(m), _) => m.parse()?,
        (None, Some(_)) => hyper::Method::POST,
        (None, None) => hyper::Method::GET,
    };
    let req = Arc::new(Request {
        method,
        path: args.path.clone(),
        host: format!("{}:{}", args.server_name, args.addr.port()),
        accept: if body.is_some() {
            ACCEPT_CATALOG
        } else {
            ACCEPT_OTHER
        },
        body,
    });
    let tls = tokio_rustls::TlsConnector::from(Arc::new(args.tls.rustls_config()?));
    let barrier = Arc::new(Barrier::new(args.clients));
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| {
            tokio::spawn(client(
                tls.clone(),
                args.clone(),
                req.clone(),
                barrier.clone(),
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut bytes = 0;
    let mut span: Option<(Instant, Instant)> = None;
    for task in tasks {
        let sample = task.await??;
        latencies.extend(sample.latencies);
        bytes += sample.bytes;
        span = Some(match span {
            None => (sample.start, sample.end),
            Some((s, e)) => (s.min(sample.start), e.max(sample.end)),
        });
    }
    latencies.sort_unstable();
    let n = latencies.len();
    let wall = span.map_or(0.0, |(s, e)| (e - s).as_secs_f64());
    let rps = if wall > 0.0 { n as f64 / wall } else { 0.0 };
    println!(
        "label={} clients={} requests={n} seconds={wall:.3} rps={rps:.1} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} resp_bytes={}",
        args.label,
        args.clients,
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        if n > 0 { bytes / n as u64 } else { 0 },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50), 50.0);
        assert_eq!(percentile(&ms, 99), 99.0);
        assert_eq!(percentile(&ms[..1], 99), 1.0);
        assert_eq!(percentile(&[], 50), 0.0);
    }
}
