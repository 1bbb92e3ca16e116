//! At the file descriptor limit `accept` fails with EMFILE. The master must back off (and
//! say so once, not once per retry) instead of spinning warnings, and serve again once descriptors are free.
//!
//! Its own test binary: it lowers this process's soft `RLIMIT_NOFILE` (with util-linux's
//! `prlimit`), which would starve any test running beside it.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use puppet_protocol::server::Limits;
use support::{raw_tls, read_response, send, start};

/// Counts the warnings whose message starts with "accept failed".
struct AcceptWarnings(Arc<AtomicUsize>);

struct Message(bool);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}").starts_with("accept failed") {
            self.0 = true;
        }
    }
}

impl tracing::Subscriber for AcceptWarnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut m = Message(false);
        event.record(&mut m);
        if m.0 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn set_soft_nofile(limit: &str) -> bool {
    std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={limit}:"),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

fn soft_nofile() -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_at_the_fd_limit_backs_off_and_recovers() {
    let warnings = Arc::new(AtomicUsize::new(0));
    tracing::subscriber::set_global_default(AcceptWarnings(warnings.clone())).unwrap();
    let limits = Limits {
        max_connections: 100_000,
        handshake_timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let m = start(limits).await;
    let addr = m.running.local_addr();
    let original = soft_nofile();
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
    if !set_soft_nofile(&(open + 40).to_string()) {
        let require = std::env::var("PUPPET_RS_REQUIRE_REAL").is_ok_and(|v| v == "1");
        assert!(!require, "prlimit is needed to lower the fd limit");
        eprintln!("skipped: `prlimit --pid` is not available to lower the fd limit");
        return;
    }
    // Use up the descriptors with bare TCP connections (the master holds each in its TLS
    // handshake), then free one and connect again so that a connection waits in the
    // backlog while the master has no descriptor left to accept it.
    let mut clients = Vec::new();
    for _ in 0..200 {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(c) => clients.push(c),
            Err(_) => break,
        }
    }
    assert!(clients.len() < 200, "the fd limit was not reached");
    for _ in 0..3 {
        clients.pop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(c) = tokio::net::TcpStream::connect(addr).await {
            clients.push(c);
        }
    }
    // Long enough for a 50 ms retry loop to warn 30 times.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = warnings.load(Ordering::SeqCst);
    drop(clients);
    assert!(set_soft_nofile(&original));
    assert_eq!(
        during, 1,
        "accept errors must be logged once, not once per retry"
    );
    // Descriptors are back: the master serves again (its back-off is at most 1 s).
    let mut s = tokio::time::timeout(Duration::from_secs(10), raw_tls(&m))
        .await
        .expect("the master did not accept again");
    let req = "GET /status/v1/simple HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(send(&mut s, req.as_bytes()).await);
    let (status, _, body) = read_response(&mut s).await.unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"running"[..]));
}
