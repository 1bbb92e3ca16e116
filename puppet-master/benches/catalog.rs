//! The master's per-request work for a 1,000-resource catalog, without the network: decoding
//! the agent's form (facts encoded twice), compiling from data, serializing the catalog.

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use puppet_master::compiler::compile_data;
use puppet_protocol::form::{CatalogRequest, Params};
use puppet_protocol::server::{CompileRequest, NodeInfo};

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let resources: Vec<serde_json::Value> = (1..=1000)
        .map(|i| {
            serde_json::json!({"type": "File", "title": format!("/tmp/pp-bench/d1/f{i}"),
                "parameters": {"ensure": "file", "content": format!("bench file {i} on ${{facts.os.family}}\n"), "mode": "0644"}})
        })
        .collect();
    let data = serde_json::json!({"classes": {"bench": resources}, "nodes": [{"certname": "bench*", "classes": ["bench"]}]});
    let mut values = serde_json::Map::new();
    for i in 0..300 {
        values.insert(
            format!("fact{i}"),
            serde_json::json!({"a": i, "b": "some text value"}),
        );
    }
    values.insert("os".into(), serde_json::json!({"family": "Debian"}));
    let facts = serde_json::json!({"name": "bench1000.example.test", "values": values});
    let form = format!(
        "facts_format=application%2Fjson&facts={}&environment=production&static_catalog=true&checksum_type=sha256.md5",
        encode(&encode(&facts.to_string()))
    );
    c.bench_function("catalog form decode (facts encoded twice)", |b| {
        b.iter(|| CatalogRequest::from_params(&Params::parse(&form).unwrap()).unwrap())
    });
    let req = CompileRequest {
        certname: "bench1000.example.test".into(),
        environment: "production".into(),
        facts: Some(puppet_facts::Facts::from_value(facts.clone()).unwrap()),
        node: NodeInfo::default(),
        transaction_uuid: None,
        static_catalog: true,
        checksum_types: vec!["sha256".into()],
    };
    c.bench_function("compile_data 1000 resources", |b| {
        b.iter(|| compile_data(&data, &req, &[]).unwrap())
    });
    let catalog = compile_data(&data, &req, &[]).unwrap();
    c.bench_function("serialize 1000-resource catalog", |b| {
        b.iter(|| serde_json::to_vec(&catalog).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
