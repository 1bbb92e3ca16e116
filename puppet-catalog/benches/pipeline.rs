//! Catalog pipeline throughput: bytes → typed `Catalog` → relationship graph → apply order,
//! against a bare `serde_json::Value` parse of the same bytes.
//!
//! Run with `cargo bench -p puppet-catalog --bench pipeline`. Besides criterion's figures it
//! prints resources per second, the pipeline/bare ratio and the 100k/10k cost ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use puppet_catalog::{Catalog, Graph};
use serde_json::{Map, Value, json};

/// xorshift64*: a fixed, dependency-free pseudo-random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A catalog shaped like a Puppetserver 7 one: `resources` resources in classes of about 50
/// (files, packages, services, execs, users, defined-type instances), `relationships`
/// relationship metaparameters pointing at earlier resources or classes (so it is acyclic).
fn generate(resources: usize, relationships: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_class = 50;
    let classes = resources.div_ceil(per_class);
    let mut res: Vec<Value> = Vec::with_capacity(resources + classes + 3);
    let mut edges: Vec<Value> = Vec::with_capacity(resources + classes + 3);
    let mut refs: Vec<String> = Vec::with_capacity(resources);
    let mut class_of: Vec<usize> = Vec::with_capacity(resources);
    let mut params_of: Vec<Map<String, Value>> = Vec::with_capacity(resources);
    let mut kinds: Vec<(&str, String, &str)> = Vec::with_capacity(resources);

    for i in 0..resources {
        let class = i / per_class;
        let module = format!("profile{class}");
        let (ty, title, kind, params) = match i % 10 {
            0..=4 => (
                "File",
                format!("/etc/{module}/conf.d/{i:06}-settings.conf"),
                "compilable_type",
                json!({
                    "ensure": "file",
                    "owner": "root",
                    "group": "root",
                    "mode": "0644",
                    "content": format!("# Managed by Puppet\nlisten_port = {}\nworkers = {}\nlog_level = info\n", 8000 + i % 1000, 1 + i % 16),
                }),
            ),
            5 => (
                "Package",
                format!("{module}-tools-{i}"),
                "compilable_type",
                json!({"ensure": "installed", "provider": "apt"}),
            ),
            6 => (
                "Service",
                format!("{module}-daemon-{i}"),
                "compilable_type",
                json!({"ensure": "running", "enable": true, "hasrestart": true}),
            ),
            7 => (
                "Exec",
                format!("{module}-reindex-{i}"),
                "compilable_type",
                json!({
                    "command": format!("/usr/local/bin/reindex --config /etc/{module}/conf.d --shard {i}"),
                    "refreshonly": true,
                    "path": ["/usr/bin", "/bin"],
                }),
            ),
            8 => (
                "User",
                format!("svc{i}"),
                "compilable_type",
                json!({"ensure": "present", "home": format!("/var/lib/svc{i}"), "shell": "/usr/sbin/nologin"}),
            ),
            _ => (
                "Profile::Vhost",
                format!("site{i}.example.com"),
                "defined_type",
                json!({"docroot": format!("/srv/www/site{i}"), "port": 443}),
            ),
        };
        let params = params.as_object().cloned().unwrap_or_default();
        refs.push(format!("{ty}[{title}]"));
        class_of.push(class);
        params_of.push(params);
        kinds.push((ty, title, kind));
    }

    // Relationships: to an earlier resource, or (one in ten) to an earlier class.
    let metas = ["require", "before", "notify", "subscribe"];
    for _ in 0..relationships {
        let i = 1 + rng.below(resources - 1);
        let meta = metas[rng.below(4)];
        let (holder, meta, value) = if rng.below(10) == 0 && class_of[i] > 0 {
            // A class declared earlier: required or subscribed to by the later resource.
            let meta = if meta == "notify" || meta == "subscribe" {
                "subscribe"
            } else {
                "require"
            };
            (i, meta, format!("Class[Profile{}]", rng.below(class_of[i])))
        } else {
            let j = rng.below(i);
            match meta {
                // `require`/`subscribe` go on the later resource, `before`/`notify` on the earlier.
                "require" | "subscribe" => (i, meta, refs[j].clone()),
                _ => (j, meta, refs[i].clone()),
            }
        };
        let slot = params_of[holder]
            .entry(meta)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = slot {
            list.push(Value::String(value));
        }
    }

    let tag = |s: &str| Value::String(s.to_lowercase());
    res.push(json!({"type": "Stage", "title": "main", "tags": ["stage"], "exported": false, "kind": "compilable_type"}));
    res.push(json!({"type": "Class", "title": "Settings", "tags": ["class", "settings"], "exported": false, "kind": "unknown"}));
    res.push(json!({"type": "Class", "title": "Main", "tags": ["class"], "exported": false, "kind": "unknown", "parameters": {"name": "main"}}));
    edges.push(json!({"source": "Stage[main]", "target": "Class[Settings]"}));
    edges.push(json!({"source": "Stage[main]", "target": "Class[Main]"}));
    let mut params_iter = params_of.into_iter();
    let mut i = 0;
    for class in 0..classes {
        let cname = format!("Profile{class}");
        res.push(json!({
            "type": "Class", "title": cname, "tags": ["class", tag(&cname)],
            "file": format!("/etc/puppetlabs/code/environments/production/modules/profile{class}/manifests/init.pp"),
            "line": 1, "exported": false, "kind": "class",
        }));
        edges.push(json!({"source": "Stage[main]", "target": format!("Class[{cname}]")}));
        while i < resources && class_of[i] == class {
            let (ty, title, kind) = &kinds[i];
            let params = params_iter.next().unwrap_or_default();
            res.push(json!({
                "type": ty, "title": title, "tags": [tag(ty), "class", tag(&cname)],
                "file": format!("/etc/puppetlabs/code/environments/production/modules/profile{class}/manifests/init.pp"),
                "line": 10 + i % 200, "exported": false, "kind": kind, "parameters": params,
            }));
            edges.push(json!({"source": format!("Class[{cname}]"), "target": refs[i]}));
            i += 1;
        }
    }
    let catalog = json!({
        "tags": ["settings", "class"],
        "name": "bench.example.test",
        "version": 1_700_000_000,
        "code_id": null,
        "catalog_uuid": "7d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        "catalog_format": 2,
        "environment": "production",
        "resources": res,
        "edges": edges,
        "classes": (0..classes).map(|c| format!("profile{c}")).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&catalog).unwrap_or_default()
}

fn bare(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null)
}

/// The typed parse, graph and order; returns the number of resources ordered.
fn pipeline(bytes: &[u8]) -> usize {
    let Ok(catalog) = Catalog::from_json(bytes) else {
        return 0;
    };
    let Ok(graph) = Graph::new(&catalog) else {
        return 0;
    };
    graph.apply_order().map(|o| o.len()).unwrap_or(0)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(runs: usize, f: impl Fn() -> usize) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let sizes = [(10_000usize, 20_000usize), (100_000, 200_000)];
    let inputs: Vec<(usize, Vec<u8>)> = sizes
        .iter()
        .map(|&(n, rels)| (n, generate(n, rels)))
        .collect();
    for (n, bytes) in &inputs {
        let ordered = pipeline(bytes);
        assert_eq!(
            ordered,
            n - n / 10,
            "the generated catalog must order (defined types excluded)"
        );
    }

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    for (n, bytes) in &inputs {
        let mut group = criterion.benchmark_group(format!("catalog_{}k", n / 1000));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        if *n >= 100_000 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(6));
        } else {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(3));
        }
        group.bench_with_input(
            BenchmarkId::new("bare_value_parse", n),
            bytes,
            |b, bytes| b.iter(|| bare(black_box(bytes))),
        );
        group.bench_with_input(
            BenchmarkId::new("typed_parse_graph_order", n),
            bytes,
            |b, bytes| b.iter(|| pipeline(black_box(bytes))),
        );
        group.finish();
    }
    criterion.final_summary();

    // Summary figures (only when benchmarking, not under `cargo test --benches`).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut costs = Vec::new();
    println!("\nsummary (medians of separate runs):");
    for (n, bytes) in &inputs {
        let runs = if *n >= 100_000 { 5 } else { 15 };
        let b = time(runs, || match bare(bytes) {
            Value::Object(m) => m.len(),
            _ => 0,
        });
        let p = time(runs, || pipeline(bytes));
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "  {n:>7} resources, {:.1} MB: bare {:>8.2} ms ({:>6.1} MB/s) | pipeline {:>8.2} ms ({:>6.1} MB/s, {:>9.0} resources/s) | pipeline/bare = {:.2}",
            mb,
            b.as_secs_f64() * 1e3,
            mb / b.as_secs_f64(),
            p.as_secs_f64() * 1e3,
            mb / p.as_secs_f64(),
            *n as f64 / p.as_secs_f64(),
            p.as_secs_f64() / b.as_secs_f64(),
        );
        costs.push((b, p));
    }
    if let [(b10, p10), (b100, p100)] = costs[..] {
        println!(
            "  linearity 100k/10k: pipeline {:.2}x, bare {:.2}x (10x the input)",
            p100.as_secs_f64() / p10.as_secs_f64(),
            b100.as_secs_f64() / b10.as_secs_f64()
        );
    }
    // Where the pipeline's time goes.
    for (n, bytes) in &inputs {
        let runs = if *n >= 100_000 { 5 } else { 15 };
        let parse = time(runs, || {
            Catalog::from_json(bytes)
                .map(|c| c.resources.len())
                .unwrap_or(0)
        });
        let Ok(catalog) = Catalog::from_json(bytes) else {
            return;
        };
        let build = time(runs, || Graph::new(&catalog).map(|g| g.len()).unwrap_or(0));
        let Ok(graph) = Graph::new(&catalog) else {
            return;
        };
        let order = time(runs, || graph.apply_order().map(|o| o.len()).unwrap_or(0));
        println!(
            "  {n:>7} split: typed parse {:.2} ms, Graph::new {:.2} ms, apply_order {:.2} ms",
            parse.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e3,
            order.as_secs_f64() * 1e3
        );
    }
}
