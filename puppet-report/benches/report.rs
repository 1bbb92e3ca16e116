//! Reading, writing, building and summarizing a 10,000-resource report, beside a bare
//! `serde_json::Value` parse of the same bytes (the floor for any JSON reader).
//!
//! `cargo bench -p puppet-report --bench report`

use criterion::{Criterion, Throughput};
use puppet_report::{Event, EventStatus, Report, ReportBuilder, ResourceStatus, SummaryOptions};
use std::hint::black_box;

fn statuses(n: usize) -> Vec<ResourceStatus> {
    (0..n)
        .map(|i| {
            let mut s =
                ResourceStatus::new(["file", "exec", "package"][i % 3], &format!("/srv/app/{i}"));
            s.evaluation_time = Some(0.000_5 + i as f64 * 1e-7);
            s.containment_path = vec!["Stage[main]".into(), "App".into(), s.resource.clone()];
            if i % 4 == 0 {
                s.add_event(
                    Event::new(EventStatus::Success)
                        .with_property("content")
                        .with_values("{sha256}aaaa", "{sha256}bbbb")
                        .with_name("content_changed")
                        .with_message("content changed '{sha256}aaaa' to '{sha256}bbbb'"),
                );
            }
            s
        })
        .collect()
}

fn build(statuses: &[ResourceStatus]) -> Report {
    let mut b = ReportBuilder::new("node.example.test", "production");
    for s in statuses {
        b.add_resource_status(s.clone());
    }
    b.add_time("config_retrieval", 1.5).add_time("total", 3.0);
    b.finish()
}

fn bench(c: &mut Criterion) {
    let statuses = statuses(10_000);
    let report = build(&statuses);
    let bytes = report.to_json().expect("json");
    let mut g = c.benchmark_group("report-10k");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("bare serde_json::Value parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("json"))
    });
    g.bench_function("Report::from_json", |b| {
        b.iter(|| Report::from_json(black_box(&bytes)).expect("parse"))
    });
    g.bench_function("Report::to_json", |b| {
        b.iter(|| black_box(&report).to_json().expect("json"))
    });
    g.bench_function("ReportBuilder (10k statuses) + finish", |b| {
        b.iter(|| build(black_box(&statuses)))
    });
    g.bench_function("last_run_summary_yaml", |b| {
        b.iter(|| black_box(&report).last_run_summary_yaml(&SummaryOptions::agent(0)))
    });
    g.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
