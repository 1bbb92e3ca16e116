//! Facts parsing speed: `Facts::from_json` (and the typed views) beside a bare
//! `serde_json::Value` parse of the same bytes, the floor for any JSON reader.
//!
//! Inputs: the agent's document from `fixtures/facts/upload.json` (about 5 kB), and a large
//! synthetic one (its values repeated under 400 custom facts, about 2 MB).

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use puppet_facts::Facts;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/facts/upload.json");

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let small = std::fs::read(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let facts = Facts::from_json(&small).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let mut big = facts.clone();
    for i in 0..400 {
        big.values
            .insert(format!("custom_{i}"), Value::Object(facts.values.clone()));
    }
    let big = big.to_json().unwrap_or_else(|e| panic!("{e}")).into_bytes();
    vec![("agent", small), ("large", big)]
}

fn bench(c: &mut Criterion) {
    for (name, bytes) in inputs() {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("serde_json::Value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)))
        });
        group.bench_function("Facts::from_json", |b| {
            b.iter(|| Facts::from_json(black_box(&bytes)))
        });
        group.bench_function("from_json+views", |b| {
            b.iter(|| {
                let facts = Facts::from_json(black_box(&bytes)).unwrap_or_else(|e| panic!("{e}"));
                let os = facts
                    .os()
                    .ok()
                    .flatten()
                    .and_then(|o| o.family)
                    .map(str::len);
                let net = facts
                    .networking()
                    .ok()
                    .flatten()
                    .map(|n| n.interfaces.len());
                (os, net, facts.memory().is_ok(), facts.processors().is_ok())
            })
        });
        let facts = Facts::from_json(&bytes).unwrap_or_else(|e| panic!("{e}"));
        group.bench_function("to_json", |b| b.iter(|| black_box(&facts).to_json()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
