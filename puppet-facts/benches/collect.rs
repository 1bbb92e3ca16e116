//! Time of each fact family's collection on this machine (library call, no process start).

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use puppet_facts::collect::{Options, collect, family_names};

fn families(c: &mut Criterion) {
    // One full collection first, to print per-family times from the library's own timer.
    let options = Options {
        external_facts: false,
        environment: false,
        ..Options::default()
    };
    let collection = collect(&options);
    for t in &collection.timings {
        eprintln!("{:<16} {:>10.1} µs", t.name, t.elapsed.as_secs_f64() * 1e6);
    }
    let names: Vec<&str> = family_names().collect();
    eprintln!("families: {}", names.join(", "));
    c.bench_function("collect all families, sequential", |b| {
        b.iter(|| collect(&options))
    });
    let concurrent = Options {
        concurrent: true,
        ..options.clone()
    };
    c.bench_function("collect all families, concurrent", |b| {
        b.iter(|| collect(&concurrent))
    });
    for name in names {
        c.bench_function(&format!("family {name}"), |b| {
            b.iter(|| puppet_facts::collect::collect_family(name))
        });
    }
}

criterion_group!(benches, families);
criterion_main!(benches);
