//! Requests per second and latency of a Puppet master over mTLS keep-alive connections, as a
//! Puppet 7 agent talks to it: the catalog POST (the agent's form body, facts encoded twice)
//! and `file_metadata` of a module file, with 1 and 8 clients: a quick check of a running
//! master with the `client` feature (the side-by-side with Puppetserver is
//! `bench/master-vs-puppetserver.sh`).
//!
//! ```text
//! master_bench --addr 127.0.0.1:8140 --ca ca.pem --cert node.pem --key node.key \
//!   --certname bench1000.example.test --facts facts.json --file modules/bench/data.txt \
//!   [--seconds 10] [--label ours]
//! ```
//! Prints one tab-separated line per row: label, request, clients, requests, req/s, p50 ms,
//! p99 ms.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use puppet_protocol::client::{Client, Identity};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn need(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| {
        eprintln!("missing {name}");
        std::process::exit(2)
    })
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// name, method, path, content type, body.
type Row = (
    &'static str,
    &'static str,
    String,
    Option<&'static str>,
    Vec<u8>,
);

async fn run(
    client: &Client,
    clients: usize,
    seconds: u64,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> (usize, f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let path = path.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = client.connect().await.unwrap();
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let a = conn
                    .request(method, &path, content_type, body.clone())
                    .await
                    .unwrap();
                assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: usize| {
        all.get((all.len() * p / 100).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    (all.len(), all.len() as f64 / wall, pct(50), pct(99))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = need(&args, "--addr").parse().unwrap();
    let ca = std::fs::read_to_string(need(&args, "--ca")).unwrap();
    let identity = Identity {
        cert_pem: std::fs::read_to_string(need(&args, "--cert")).unwrap(),
        key_pem: std::fs::read_to_string(need(&args, "--key")).unwrap(),
    };
    let certname = need(&args, "--certname");
    let facts_path = need(&args, "--facts");
    let file = need(&args, "--file");
    let seconds: u64 = arg(&args, "--seconds").map_or(10, |s| s.parse().unwrap());
    let label = arg(&args, "--label").unwrap_or_else(|| "master".into());
    let client = Client::new(addr, "localhost", &ca, Some(&identity)).unwrap();

    let values: serde_json::Value =
        serde_json::from_slice(&std::fs::read(facts_path).unwrap()).unwrap();
    let facts = serde_json::json!({
        "name": certname,
        "values": values,
        "timestamp": "2026-11-22T17:46:14.598794758+00:00",
        "expiration": "2026-11-22T18:16:14.598844758+00:00"
    });
    let once = encode(&facts.to_string());
    let form = format!(
        "facts_format=application%2Fjson&facts={}&environment=production&configured_environment=production&check_environment=true&transaction_uuid=0b3b6c3e-0000-4000-8000-000000000000&job_uuid=&static_catalog=true&checksum_type=sha256.sha384.sha512.sha224.md5",
        encode(&once)
    );
    let rows: [Row; 2] = [
        (
            "catalog POST",
            "POST",
            format!("/puppet/v3/catalog/{certname}?environment=production"),
            Some("application/x-www-form-urlencoded"),
            form.into_bytes(),
        ),
        (
            "file_metadata",
            "GET",
            format!(
                "/puppet/v3/file_metadata/{file}?links=manage&checksum_type=sha256&source_permissions=ignore&environment=production"
            ),
            None,
            Vec::new(),
        ),
    ];
    for (name, method, path, ct, body) in rows {
        // Warm-up.
        let _ = run(&client, 1, 1, method, path.clone(), ct, body.clone()).await;
        for clients in [1usize, 8] {
            let (n, rps, p50, p99) = run(
                &client,
                clients,
                seconds,
                method,
                path.clone(),
                ct,
                body.clone(),
            )
            .await;
            println!("{label}\t{name}\t{clients}\t{n}\t{rps:.1}\t{p50:.2}\t{p99:.2}");
        }
    }
}
