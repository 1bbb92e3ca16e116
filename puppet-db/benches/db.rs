//! puppet-db's speed: `replace catalog` of 1,000 resources and `store report` with 100
//! events (parse + durable transaction, WAL + synchronous=FULL), and query latency over
//! 10,000 nodes (inventory by a structured fact, resources by type).
//!
//! `cargo bench -p puppet-db` (the database lives in a temp dir: put TMPDIR on the disk
//! you want to measure). On PostgreSQL: `PUPPET_DB_BENCH_DATABASE=postgres://user@host/db
//! cargo bench -p puppet-db --features postgres`, each of the two groups on a new, empty
//! database (`--bench db commands`, then `--bench db queries` on another).

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use puppet_db::{Paging, PuppetDb};
use serde_json::{Value, json};

fn catalog(certname: &str, resources: usize, ts: &str) -> Value {
    let resources: Vec<Value> = (0..resources)
        .map(|i| {
            json!({"type": if i % 10 == 0 { "Exec" } else { "File" }, "title": format!("/srv/app/file-{i}"),
                "tags": ["file", "class", "app"], "exported": false,
                "file": "/etc/puppet/code/environments/production/manifests/site.pp", "line": i,
                "parameters": {"ensure": "file", "mode": "0644", "owner": "root", "content": format!("content {i}")}})
        })
        .collect();
    let edges: Vec<Value> = (1..resources.len())
        .map(|i| json!({"source": {"type": "Class", "title": "Main"},
            "target": {"type": "File", "title": format!("/srv/app/file-{i}")}, "relationship": "contains"}))
        .collect();
    json!({"certname": certname, "version": "1", "environment": "production",
        "transaction_uuid": "5b1a7d36-0d3c-4c8b-9c3e-6f1f5d7f1a10", "catalog_uuid": "0d3c4c8b-5b1a-7d36-9c3e-6f1f5d7f1a11",
        "code_id": null, "job_id": null, "producer_timestamp": ts, "producer": "puppet",
        "resources": resources, "edges": edges})
}

fn report(certname: &str, events: usize, n: u64) -> Value {
    let resources: Vec<Value> = (0..events)
        .map(|i| json!({"skipped": false, "timestamp": "2026-12-02T10:00:01.000Z", "resource_type": "File",
            "resource_title": format!("/srv/app/file-{i}"), "file": "/site.pp", "line": i,
            "containment_path": ["Stage[main]", "Main", format!("File[/srv/app/file-{i}]")],
            "corrective_change": false,
            "events": [{"status": "success", "timestamp": "2026-12-02T10:00:01.000Z", "name": "content_changed",
                "property": "content", "new_value": "{sha256}a", "old_value": "{sha256}b",
                "corrective_change": false, "message": "content changed"}]}))
        .collect();
    json!({"certname": certname, "environment": "production", "puppet_version": "7.23.0", "report_format": 12,
        "configuration_version": "1", "start_time": "2026-12-02T10:00:00.000Z", "end_time": "2026-12-02T10:00:03.000Z",
        "producer_timestamp": "2026-12-02T10:00:03.000Z", "producer": "puppet", "corrective_change": false,
        "noop": false, "noop_pending": false, "transaction_uuid": format!("run-{n}"), "catalog_uuid": null,
        "code_id": null, "job_id": null, "cached_catalog_status": "not_used", "status": "changed",
        "logs": [], "metrics": [{"category": "resources", "name": "total", "value": events}], "resources": resources})
}

fn facts(certname: &str, i: usize) -> Value {
    let family = if i.is_multiple_of(3) {
        "Debian"
    } else {
        "RedHat"
    };
    let mut values = serde_json::Map::new();
    for k in 0..40 {
        values.insert(
            format!("custom_fact_{k}"),
            json!(format!("value {k} of {certname}")),
        );
    }
    values.insert(
        "os".into(),
        json!({"family": family, "name": family, "release": {"major": "12", "full": "12.8"}}),
    );
    values.insert("kernel".into(), json!("Linux"));
    values.insert(
        "networking".into(),
        json!({"hostname": certname, "ip": "10.0.0.1", "interfaces": {"eth0": {"ip": "10.0.0.1"}}}),
    );
    values.insert(
        "trusted".into(),
        json!({"certname": certname, "authenticated": "remote", "extensions": {}}),
    );
    json!({"certname": certname, "environment": "production", "producer_timestamp": "2026-12-02T10:00:00.000Z",
        "producer": "puppet", "values": values})
}

/// The database under test: SQLite in `dir`, or `PUPPET_DB_BENCH_DATABASE`.
fn open(dir: &std::path::Path) -> PuppetDb {
    match std::env::var("PUPPET_DB_BENCH_DATABASE") {
        Ok(url) => puppet_db::config::Database::parse(&url)
            .and_then(|d| d.open())
            .expect("PUPPET_DB_BENCH_DATABASE"),
        Err(_) => PuppetDb::open_sqlite(dir.join("bench.sqlite")).expect("db"),
    }
}

fn params<'a>(command: &'a str, version: &'a str, certname: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("command", command),
        ("version", version),
        ("certname", certname),
    ]
}

fn commands(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let mut g = c.benchmark_group("commands");
    g.sample_size(30);
    let body = catalog("node-0", 1000, "2026-12-02T10:00:00.000Z")
        .to_string()
        .into_bytes();
    g.bench_function("replace catalog, 1000 resources", |b| {
        b.iter(|| {
            db.submit(&params("replace catalog", "9", "node-0"), &body)
                .expect("submit")
        })
    });
    let n = AtomicU64::new(0);
    g.bench_function("store report, 100 events", |b| {
        b.iter_batched(
            || {
                report("node-0", 100, n.fetch_add(1, Ordering::Relaxed))
                    .to_string()
                    .into_bytes()
            },
            |body| {
                db.submit(&params("store report", "8", "node-0"), &body)
                    .expect("submit")
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    for i in 0..10_000 {
        let name = format!("node-{i:05}.example.test");
        db.submit(
            &params("replace facts", "5", &name),
            facts(&name, i).to_string().as_bytes(),
        )
        .expect("facts");
        db.submit(
            &params("replace catalog", "9", &name),
            catalog(&name, 20, "2026-12-02T10:00:00.000Z")
                .to_string()
                .as_bytes(),
        )
        .expect("catalog");
    }
    let mut g = c.benchmark_group("queries at 10,000 nodes");
    g.sample_size(30);
    let inventory = r#"inventory[certname] { facts.os.family = "Debian" }"#;
    let answer = db
        .query("", Some(inventory), &Paging::default())
        .expect("query");
    assert_eq!(answer.rows.len(), 3334);
    g.bench_function(
        "inventory[certname] { facts.os.family = \"Debian\" }",
        |b| {
            b.iter(|| {
                db.query("", Some(inventory), &Paging::default())
                    .expect("query")
            })
        },
    );
    let resources =
        r#"resources[certname, title] { type = "Exec" and certname = "node-04242.example.test" }"#;
    g.bench_function("resources of one node by type", |b| {
        b.iter(|| {
            db.query("", Some(resources), &Paging::default())
                .expect("query")
        })
    });
    let all_exec = r#"resources[certname, title] { type = "Exec" }"#;
    g.bench_function(
        "resources[certname, title] { type = \"Exec\" } (20,000 rows)",
        |b| {
            b.iter(|| {
                db.query("", Some(all_exec), &Paging::default())
                    .expect("query")
            })
        },
    );
    g.finish();
}

/// A catalog shaped as the load client's (`tests/examples/pdbload.rs`): `Class[main]`, then
/// `resources` File/Exec resources of which the first ten change with `n`, one edge each.
fn pdbload_catalog(certname: &str, resources: usize, ts: &str, n: usize) -> Value {
    let mut all = vec![
        json!({"type": "Class", "title": "main", "tags": ["class"], "exported": false,
        "parameters": {"name": "main", "alias": ["main"]}}),
    ];
    all.extend((0..resources).map(|i| {
        json!({"type": if i % 10 == 0 { "Exec" } else { "File" }, "title": format!("/srv/app/file-{i}"),
            "tags": ["file", "class", "app"], "exported": false,
            "file": "/etc/puppet/code/environments/production/manifests/site.pp", "line": i,
            "parameters": {"ensure": "file", "mode": "0644", "owner": "root",
                "content": if i < 10 { format!("content {i} of {n}") } else { format!("content {i}") }}})
    }));
    let edges: Vec<Value> = (0..resources)
        .map(|i| json!({"source": {"type": "Class", "title": "main"},
            "target": {"type": if i % 10 == 0 { "Exec" } else { "File" }, "title": format!("/srv/app/file-{i}")},
            "relationship": "contains"}))
        .collect();
    json!({"version": "1796265799", "code_id": null,
        "catalog_uuid": format!("0d3c4c8b-5b1a-4d36-9c3e-{n:012}"), "resources": all, "edges": edges,
        "job_id": null, "certname": certname,
        "transaction_uuid": format!("5b1a7d36-0d3c-4c8b-9c3e-{n:012}"), "environment": "production",
        "producer_timestamp": ts, "producer": "puppet.example.test"})
}

/// Gzipped as the terminus (and the load client) sends a command body.
fn gzipped(v: &Value) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(v.to_string().as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

/// The CPU of one command before the database: gunzip, JSON parse and checks, and (for
/// catalogs) the resources' hashes; then a stored node's catalog replaced with ten changed
/// resources, the whole command (the durable commit included).
fn parse_and_hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse and hash");
    g.sample_size(30);
    let catalog = gzipped(&pdbload_catalog(
        "node-0",
        1000,
        "2026-12-02T10:00:00.000Z",
        0,
    ));
    g.bench_function("replace catalog, 1000 resources, gzipped: parse", |b| {
        b.iter(|| {
            puppet_db::Command::from_request(&params("replace catalog", "9", "node-0"), &catalog)
                .expect("command")
        })
    });
    let facts_body = gzipped(&facts("node-0", 0));
    g.bench_function("replace facts, gzipped: parse", |b| {
        b.iter(|| {
            puppet_db::Command::from_request(&params("replace facts", "5", "node-0"), &facts_body)
                .expect("command")
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.submit(&params("replace catalog", "9", "node-0"), &catalog)
        .expect("submit");
    let n = AtomicU64::new(1);
    g.bench_function(
        "replace catalog, stored node, 10 of 1000 resources changed",
        |b| {
            b.iter_batched(
                || {
                    let n = n.fetch_add(1, Ordering::Relaxed);
                    let ts = format!(
                        "2026-12-02T{:02}:{:02}:{:02}.{:03}Z",
                        10 + n / 3_600_000,
                        n / 60_000 % 60,
                        n / 1000 % 60,
                        n % 1000
                    );
                    gzipped(&pdbload_catalog("node-0", 1000, &ts, n as usize))
                },
                |body| {
                    db.submit(&params("replace catalog", "9", "node-0"), &body)
                        .expect("submit")
                },
                BatchSize::SmallInput,
            )
        },
    );
    g.finish();
}

criterion_group!(benches, parse_and_hash, commands, queries);
criterion_main!(benches);
