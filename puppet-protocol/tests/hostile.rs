//! Regression tests for the framework's limits, each attacking a real master over TLS on
//! 127.0.0.1: body limits applied while reading, read timeouts, the connection cap, graceful
//! shutdown, and request work cancelled when the client leaves. Every wait is bounded.

use std::time::{Duration, Instant};

use crate::support::{self, closed_within, raw_tls, read_response, send, start};
use puppet_protocol::server::Limits;

const CSR_PATH: &str = "/puppet-ca/v1/certificate_request/attacker.example.test";
const MIB: usize = 1024 * 1024;

/// 40 clients without a certificate each try to PUT a 32 MiB CSR (chunked, so no
/// `Content-Length` tells the server in advance). Each gets 413 after the server has read
/// about the CSR limit (64 KiB), long before it could have buffered 32 MiB; the CA never sees
/// a CSR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_csr_bodies_are_cut_off_at_the_csr_limit() {
    let m = start(Limits::default()).await;
    let rss_before = rss_bytes();
    let mut clients = Vec::new();
    for _ in 0..40 {
        let stream = raw_tls(&m).await;
        clients.push(tokio::spawn(async move {
            let (mut rd, mut wr) = tokio::io::split(stream);
            let head = format!(
                "PUT {CSR_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            let writer = tokio::spawn(async move {
                let mut sent = 0usize;
                if !send(&mut wr, head.as_bytes()).await {
                    return sent;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "A".repeat(64 * 1024));
                while sent < 32 * MIB {
                    if !send(&mut wr, chunk.as_bytes()).await {
                        break;
                    }
                    sent += 64 * 1024;
                }
                sent
            });
            let answer = tokio::time::timeout(Duration::from_secs(30), read_response(&mut rd))
                .await
                .expect("no answer within 30 s");
            let sent = tokio::time::timeout(Duration::from_secs(30), writer)
                .await
                .expect("the server kept reading")
                .unwrap();
            (answer, sent)
        }));
    }
    for c in clients {
        let (answer, sent) = c.await.unwrap();
        let (status, head, body) = answer.expect("connection closed without an answer");
        assert_eq!(status, 413, "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("over the limit of 65536 bytes"), "{text}");
        // The server stopped reading at the limit: the client could not push the whole body
        // (only what the socket buffers hold before the server closed).
        assert!(sent < 32 * MIB, "client sent all {sent} bytes");
    }
    assert!(m.seen.csrs.lock().unwrap().is_empty());
    // Buffering the bodies (the bug) would have taken 40 x 32 MiB = 1.25 GiB.
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(grown < 256 * MIB as u64, "RSS grew by {grown} bytes");
}

/// This process's resident set size (the master runs in it).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// A `Content-Length` over the endpoint's limit is refused before a byte of the body is
/// read: the client sends only the head and gets 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_oversize_body_is_refused_before_reading() {
    let m = start(Limits::default()).await;
    let mut s = raw_tls(&m).await;
    let head = format!(
        "PUT {CSR_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        32 * MIB
    );
    assert!(send(&mut s, head.as_bytes()).await);
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("33554432 bytes"));
    assert!(closed_within(&mut s, Duration::from_secs(10)).await);
    // A catalog body of the same size is within the document limit: refused here only
    // because the client has no certificate (403, before any body is read).
    let mut s = raw_tls(&m).await;
    let head = format!(
        "POST /puppet/v3/catalog/x HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        32 * MIB
    );
    assert!(send(&mut s, head.as_bytes()).await);
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 403);
}

/// A client that asks for a large answer and stops reading it loses the connection after the
/// write timeout, without having received the whole answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_is_cut_off() {
    let limits = Limits {
        write_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let m = start(limits).await;
    let mut s = support::raw_tls_as(&m, &m.identity("n1.example.test")).await;
    let req = "GET /puppet/v3/file_content/modules/m/big.bin?environment=production HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(send(&mut s, req.as_bytes()).await);
    // Read nothing for 3 s: the answer stalls once the socket buffers are full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut s, &mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection stayed open");
    assert!(
        received < support::BIG_LEN,
        "the whole answer arrived: {received} bytes"
    );
}

/// A request head over `max_header_bytes` is refused with 431 and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_request_head_is_refused() {
    let m = start(Limits::default()).await;
    let mut s = raw_tls(&m).await;
    let head = format!(
        "GET /status/v1/simple HTTP/1.1\r\nHost: localhost\r\nX-Junk: {}\r\n\r\n",
        "j".repeat(200 * 1024)
    );
    let _ = send(&mut s, head.as_bytes()).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .unwrap();
    assert_eq!(answer.map(|a| a.0), Some(431));
    assert!(closed_within(&mut s, Duration::from_secs(5)).await);
}

/// A body sent at a few bytes a second is cut off by the body timeout with 408, and the
/// connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_is_cut_off() {
    let limits = Limits {
        body_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let m = start(limits).await;
    let s = raw_tls(&m).await;
    let (mut rd, mut wr) = tokio::io::split(s);
    let head = format!(
        "PUT {CSR_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
    );
    assert!(send(&mut wr, head.as_bytes()).await);
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            if !send(&mut wr, b"A").await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let (status, head, _) = tokio::time::timeout(Duration::from_secs(8), read_response(&mut rd))
        .await
        .expect("the slow body was not cut off")
        .unwrap();
    assert_eq!(status, 408, "{head}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(closed_within(&mut rd, Duration::from_secs(5)).await);
    drip.abort();
    assert!(m.seen.csrs.lock().unwrap().is_empty());
}

/// A connection that sends no request, or goes idle after one, is closed by the header
/// (keep-alive idle) timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed() {
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let m = start(limits).await;
    let mut silent = raw_tls(&m).await;
    assert!(closed_within(&mut silent, Duration::from_secs(6)).await);

    let mut idle = raw_tls(&m).await;
    let req = "GET /status/v1/simple HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(send(&mut idle, req.as_bytes()).await);
    let (status, _, body) = read_response(&mut idle).await.unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"running"[..]));
    assert!(closed_within(&mut idle, Duration::from_secs(6)).await);

    // Headers trickled in slower than the timeout are cut off too.
    let mut slow = raw_tls(&m).await;
    let drip = async {
        for b in b"GET /status/v1/simple HTTP/1.1\r\nHost: localhost\r\n".iter() {
            if !send(&mut slow, &[*b]).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), drip)
        .await
        .unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(2)).await);
}

/// At the connection cap the master stops accepting: a third connection's TLS handshake
/// waits until one of the first two closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_holds_new_connections_until_one_closes() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let m = start(limits).await;
    let first = raw_tls(&m).await;
    let _second = raw_tls(&m).await;
    let tcp = tokio::net::TcpStream::connect(m.running.local_addr())
        .await
        .unwrap();
    let ca = m.ca_pem.clone();
    let mut third = tokio::spawn(async move { support::handshake(tcp, &ca).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(800), &mut third)
            .await
            .is_err(),
        "a third connection was served over the cap"
    );
    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the third connection was not accepted after one closed")
        .unwrap()
        .unwrap();
    let req = "GET /status/v1/simple HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(send(&mut third, req.as_bytes()).await);
    assert_eq!(read_response(&mut third).await.unwrap().0, 200);
}

/// `shutdown()` stops accepting at once, lets the request in flight finish (its client gets
/// the catalog), then returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let m = start(Limits::default()).await;
    *m.seen.compile_delay.lock().unwrap() = Duration::from_millis(1500);
    let client = m.client(Some(m.identity("n1.example.test")));
    let facts = puppet_facts::Facts::new("n1.example.test", serde_json::Map::new());
    let started = m.seen.compile_started.notified();
    let in_flight = tokio::spawn(async move {
        client
            .catalog("n1.example.test", "production", &facts, &Default::default())
            .await
    });
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .unwrap();
    let addr = m.running.local_addr();
    let shutdown = tokio::spawn(m.running.shutdown());
    // Wait until the listener is gone: connecting is refused from then on.
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "still accepting after shutdown()");
    let catalog = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap()
        .expect("the request in flight did not finish");
    assert_eq!(catalog.name, "n1.example.test");
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown did not return")
        .unwrap();
}

/// A request still running when the grace runs out is dropped, and `shutdown()` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_grace_is_bounded() {
    let limits = Limits {
        shutdown_grace: Duration::from_millis(500),
        ..Limits::default()
    };
    let m = start(limits).await;
    *m.seen.compile_delay.lock().unwrap() = Duration::from_secs(3600);
    let client = m.client(Some(m.identity("n1.example.test")));
    let facts = puppet_facts::Facts::new("n1.example.test", serde_json::Map::new());
    let started = m.seen.compile_started.notified();
    let cancelled = m.seen.compile_cancelled.notified();
    let in_flight = tokio::spawn(async move {
        client
            .catalog("n1.example.test", "production", &facts, &Default::default())
            .await
    });
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), m.running.shutdown())
        .await
        .expect("shutdown waited past its grace");
    tokio::time::timeout(Duration::from_secs(5), cancelled)
        .await
        .expect("the compile went on after shutdown");
    let result = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err());
}

/// A client that leaves while its catalog is being compiled takes the compile with it: the
/// handling future is dropped, so the compiler's future is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_stops_when_the_client_leaves() {
    let m = start(Limits::default()).await;
    *m.seen.compile_delay.lock().unwrap() = Duration::from_secs(3600);
    let id = m.identity("n1.example.test");
    let client = m.client(Some(id));
    let mut conn = client.connect().await.unwrap();
    let started = m.seen.compile_started.notified();
    let cancelled = m.seen.compile_cancelled.notified();
    let request = tokio::spawn(async move {
        let _ = conn
            .request(
                "POST",
                "/puppet/v3/catalog/n1.example.test",
                Some("application/x-www-form-urlencoded"),
                b"environment=production".to_vec(),
            )
            .await;
    });
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .unwrap();
    // The client goes away: its connection (owned by the request task) is dropped.
    request.abort();
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), cancelled)
        .await
        .expect("the compile went on after the client left");
    assert!(m.seen.compiles.lock().unwrap().is_empty());
}

/// The error body of a refused body is Puppet's: JSON with `issue_kind` outside the CA API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_document_gets_puppets_json_error() {
    let limits = Limits {
        document_body_bytes: 1024,
        ..Limits::default()
    };
    let m = start(limits).await;
    let client = m.client(Some(m.identity("n1.example.test")));
    let mut conn = client.connect().await.unwrap();
    let answer = conn
        .request(
            "PUT",
            "/puppet/v3/facts/n1.example.test",
            Some("application/json"),
            vec![b' '; 4096],
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 413);
    let body: puppet_protocol::ErrorBody = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body.issue_kind, "RUNTIME_ERROR");
    assert!(
        body.message.contains("limit of 1024 bytes"),
        "{}",
        body.message
    );
    assert!(answer.close);
}
