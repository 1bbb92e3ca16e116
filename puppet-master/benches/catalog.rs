//! The master's per-request work for a 1,000-resource catalog, without the network: decoding
//! the agent's form (facts encoded twice), compiling from data, serializing the catalog; and
//! each step of a request the catalog cache answers (`hit: ...`): what is left to make
//! faster once the catalog is not compiled again.

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
    let json = serde_json::to_vec(&catalog).unwrap();
    c.bench_function(
        "gzip 1000-resource catalog (fast level; once per cache miss)",
        |b| {
            b.iter(|| {
                use std::io::Write;
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&json).unwrap();
                enc.finish().unwrap()
            })
        },
    );

    // The steps of a cache hit, in the router's order.
    let params = CatalogRequest::from_params(&Params::parse(&form).unwrap()).unwrap();
    let facts_value = params.facts.clone().unwrap();
    c.bench_function(
        "hit: facts from the form's JSON value (Facts::from_value)",
        |b| b.iter(|| puppet_facts::Facts::from_value(facts_value.clone()).unwrap()),
    );
    let parsed = puppet_facts::Facts::from_value(facts_value).unwrap();
    c.bench_function("hit: save_facts' encoding and digest (FsStorage)", |b| {
        b.iter(|| {
            use sha2::Digest;
            let bytes = serde_json::to_vec(&parsed).unwrap();
            sha2::Sha256::digest(&bytes)
        })
    });
    c.bench_function(
        "hit: default classifier (stored facts as parameters)",
        |b| b.iter(|| parsed.values.clone()),
    );
    let dir = tempfile::tempdir().unwrap();
    let cats = dir.path().join("production/catalogs");
    std::fs::create_dir_all(&cats).unwrap();
    std::fs::write(cats.join("bench1000.example.test.json"), &json).unwrap();
    let compiler = puppet_master::DataCompiler::new(dir.path());
    use puppet_protocol::server::CatalogCompiler;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(compiler.cache_key(&req)).is_some());
    c.bench_function("hit: DataCompiler::cache_key (catalog document)", |b| {
        b.iter(|| rt.block_on(compiler.cache_key(&req)).unwrap())
    });
    std::fs::write(
        dir.path().join("production/resources.json"),
        data.to_string(),
    )
    .unwrap();
    std::fs::remove_file(cats.join("bench1000.example.test.json")).unwrap();
    assert!(rt.block_on(compiler.cache_key(&req)).is_some());
    c.bench_function(
        "hit: DataCompiler::cache_key (data file, fact values)",
        |b| b.iter(|| rt.block_on(compiler.cache_key(&req)).unwrap()),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
