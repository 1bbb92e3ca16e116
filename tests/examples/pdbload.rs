//! A load generator for PuppetDB's API (the real PuppetDB or our `puppet-db`): N keep-alive
//! mTLS connections submitting commands as the Puppetserver terminus does (gzipped, with its
//! query parameters, through `puppet_protocol::client::Client::pdb_command`), or asking
//! queries. Prints one line of `key=value` pairs. `bench/puppetdb-vs-puppet-db.sh` runs it
//! against both.
//!
//! ```text
//! cargo run --release -p puppet-conformance-tests --example pdbload -- \
//!   --port 8081 --ca ca.pem --cert client.pem --key client.key \
//!   --kind catalog --clients 8 --commands 400 --resources 1000
//! cargo run --release -p puppet-conformance-tests --example pdbload -- ... \
//!   --kind query --clients 1 --commands 200 --query 'inventory[certname] { facts.os.family = "Debian" }'
//! ```
//!
//! Commands: `facts` (`replace facts` v5, ~100 facts), `catalog` (`replace catalog` v9 of
//! `--resources` resources), `report` (`store report` v8 with `--events` events), each for
//! certnames `bench-<i % nodes>.example.test` with increasing producer timestamps. The time
//! of a command run ends when the server's queue is empty (`queue_depth` of
//! `/status/v1/services/puppetdb-status`): PuppetDB answers a command when it is queued, ours
//! when it is stored, so commands/s counts stored commands for both.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use puppet_protocol::client::{Client, PdbCommand};
use serde_json::{Value, json};

mod common;
use common::{BoxError, TlsArgs};

/// Load generator for PuppetDB's command and query API.
#[derive(Parser, Debug)]
#[command(name = "pdbload")]
struct Args {
    /// Server host name (its certificate must be valid for it)
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Server port
    #[arg(long)]
    port: u16,
    #[command(flatten)]
    tls: TlsArgs,
    /// facts, catalog, report or query
    #[arg(long)]
    kind: String,
    /// Concurrent keep-alive connections
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Commands (or queries) in all
    #[arg(long, default_value_t = 100)]
    commands: usize,
    /// Distinct nodes the commands are for (default: as many as commands)
    #[arg(long)]
    nodes: Option<usize>,
    /// First node number (to load nodes in several runs)
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// Resources per catalog
    #[arg(long, default_value_t = 1000)]
    resources: usize,
    /// Events per report
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// The query (PQL) for --kind query
    #[arg(long)]
    query: Option<String>,
    /// Mixed into what changes between commands (the fact `uptime_seconds`, 10 resources'
    /// content): a second round for the same nodes sends changed documents, not the same ones
    #[arg(long, default_value_t = 0)]
    round: usize,
    /// A label printed with the result
    #[arg(long, default_value = "db")]
    label: String,
}

fn facts(certname: &str, i: usize, ts: &str, n: usize) -> Value {
    let family = if i.is_multiple_of(3) {
        "Debian"
    } else {
        "RedHat"
    };
    let mut values = serde_json::Map::new();
    values.insert("kernel".into(), json!("Linux"));
    // Changes with every command, as `uptime_seconds` does between runs.
    values.insert("uptime_seconds".into(), json!(n));
    values.insert(
        "os".into(),
        json!({"family": family, "name": family, "release": {"major": "12", "full": "12.7"}}),
    );
    values.insert(
        "networking".into(),
        json!({"fqdn": certname, "ip": format!("10.0.{}.{}", i / 250 % 250, i % 250),
               "interfaces": {"eth0": {"ip": "10.0.0.1", "mtu": 1500}, "lo": {"ip": "127.0.0.1", "mtu": 65536}}}),
    );
    for k in 0..95 {
        values.insert(
            format!("custom_fact_{k}"),
            json!(format!("value {k} of {i}")),
        );
    }
    values.insert(
        "trusted".into(),
        json!({"authenticated": "remote", "certname": certname, "extensions": {},
               "hostname": certname.split('.').next().unwrap_or(certname), "domain": "example.test", "external": {}}),
    );
    json!({"certname": certname, "values": values, "environment": "production",
           "producer_timestamp": ts, "producer": "puppet.example.test"})
}

fn catalog(certname: &str, resources: usize, ts: &str, n: usize) -> Value {
    let resources: Vec<Value> = (0..resources)
        .map(|i| {
            json!({"type": if i % 10 == 0 { "Exec" } else { "File" }, "title": format!("/srv/app/file-{i}"),
                "tags": ["file", "class", "app"], "exported": false,
                "file": "/etc/puppet/code/environments/production/manifests/site.pp", "line": i,
                // The first ten change with every command (a catalog PuppetDB must store,
                // not one it recognizes by its hash).
                "parameters": {"ensure": "file", "mode": "0644", "owner": "root",
                    "content": if i < 10 { format!("content {i} of {n}") } else { format!("content {i}") }}})
        })
        .collect();
    let edges: Vec<Value> = (0..resources.len())
        .map(|i| json!({"source": {"type": "Class", "title": "main"},
            "target": {"type": if i % 10 == 0 { "Exec" } else { "File" }, "title": format!("/srv/app/file-{i}")},
            "relationship": "contains"}))
        .collect();
    let mut all = vec![
        json!({"type": "Class", "title": "main", "tags": ["class"], "exported": false,
        "parameters": {"name": "main", "alias": ["main"]}}),
    ];
    all.extend(resources);
    json!({"version": "1796265799", "code_id": null,
        "catalog_uuid": format!("0d3c4c8b-5b1a-4d36-9c3e-{n:012}"), "resources": all, "edges": edges,
        "job_id": null, "certname": certname,
        "transaction_uuid": format!("5b1a7d36-0d3c-4c8b-9c3e-{n:012}"), "environment": "production",
        "producer_timestamp": ts, "producer": "puppet.example.test"})
}

fn report(certname: &str, events: usize, ts: &str, n: usize) -> Value {
    let resources: Vec<Value> = (0..events)
        .map(|i| {
            json!({"skipped": false, "timestamp": ts, "resource_type": "File",
            "resource_title": format!("/srv/app/file-{i}"), "file": "/site.pp", "line": i,
            "containment_path": ["Stage[main]", "Main", format!("File[/srv/app/file-{i}]")],
            "corrective_change": false,
            "events": [{"status": "success", "timestamp": ts, "name": "content_changed",
                "property": "content", "new_value": "{sha256}a", "old_value": "{sha256}b",
                "corrective_change": false, "message": "content changed"}]})
        })
        .collect();
    json!({"certname": certname, "job_id": null, "puppet_version": "7.23.0", "report_format": 12,
        "configuration_version": "1796265799", "producer_timestamp": ts, "start_time": ts, "end_time": ts,
        "environment": "production", "transaction_uuid": format!("7b1a7d36-0d3c-4c8b-9c3e-{n:012}"),
        "status": "changed", "noop": false, "noop_pending": false, "corrective_change": false,
        "logs": [{"file": null, "line": null, "level": "info", "message": "Applying configuration version '1796265799'",
                  "source": "Puppet", "tags": ["info"], "time": ts}],
        "metrics": [{"category": "resources", "name": "total", "value": events},
                    {"category": "time", "name": "total", "value": 3.5}],
        "resources": resources, "catalog_uuid": null, "code_id": null,
        "cached_catalog_status": "not_used", "producer": "puppet.example.test"})
}

/// A producer timestamp `n` milliseconds after `base`.
fn stamp(base: time::OffsetDateTime, n: usize) -> String {
    let t = base + time::Duration::milliseconds(n as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

async fn queue_depth(client: &Client) -> Result<u64, BoxError> {
    let answer = client
        .request(
            "GET",
            "/status/v1/services/puppetdb-status",
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await?;
    let v: Value = serde_json::from_slice(&answer.body)?;
    Ok(v["status"]["queue_depth"].as_u64().unwrap_or(0))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args = Arc::new(Args::parse());
    if args.clients == 0 || args.commands == 0 {
        return Err("--clients and --commands must be at least 1".into());
    }
    let template = args
        .tls
        .client_builder(&args.host, args.port)?
        .read_timeout(Duration::from_secs(300))
        .build()?;
    let nodes = args.nodes.unwrap_or(args.commands).max(1);
    let base = time::OffsetDateTime::now_utc();
    // Every command's document is built before the clock starts: the run measures the
    // server, and with one connection the client's CPU (building a 1,000-resource catalog
    // with `json!`) was part of every command's time. Sending still serializes and gzips
    // each one, as the terminus does.
    let mut documents = Vec::new();
    if args.kind != "query" {
        for n in 0..args.commands {
            let i = args.first + n % nodes;
            let certname = format!("bench-{i}.example.test");
            let ts = stamp(base, n);
            // What changes with every command (and every round).
            let n_changing = n + args.round * 1_000_000;
            let (command, version, payload) = match args.kind.as_str() {
                "facts" => ("replace facts", 5, facts(&certname, i, &ts, n_changing)),
                "catalog" => (
                    "replace catalog",
                    9,
                    catalog(&certname, args.resources, &ts, n_changing),
                ),
                "report" => ("store report", 8, report(&certname, args.events, &ts, n)),
                other => return Err(format!("unknown --kind {other}").into()),
            };
            documents.push((command, version, certname, ts, payload));
        }
    }
    let documents = Arc::new(documents);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let client = template.with_own_connection();
        let (args, next, documents) = (args.clone(), next.clone(), documents.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= args.commands {
                    break;
                }
                let t0 = Instant::now();
                if args.kind == "query" {
                    let q = args.query.as_deref().unwrap_or("nodes {}");
                    let path = format!("/pdb/query/v4?query={}", puppet_protocol::form::encode(q));
                    let answer = client
                        .request("GET", &path, &[("accept", "application/json")], Vec::new())
                        .await?;
                    if answer.status != 200 {
                        return Err(format!(
                            "query answered {}: {}",
                            answer.status,
                            String::from_utf8_lossy(&answer.body)
                        )
                        .into());
                    }
                } else if let Some((command, version, certname, ts, payload)) = documents.get(n) {
                    client
                        .pdb_command(&PdbCommand {
                            command,
                            version: *version,
                            certname,
                            producer_timestamp: ts,
                            payload,
                        })
                        .await?;
                }
                latencies.push(t0.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let answered = start.elapsed();
    if args.kind != "query" {
        // Stored, not only queued.
        let status = template.with_own_connection();
        while queue_depth(&status).await? > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    println!(
        "label={} kind={} clients={} commands={} seconds={:.3} answered_seconds={:.3} per_s={:.1} p50_ms={:.2} p99_ms={:.2}",
        args.label,
        args.kind,
        args.clients,
        args.commands,
        elapsed.as_secs_f64(),
        answered.as_secs_f64(),
        args.commands as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    Ok(())
}
