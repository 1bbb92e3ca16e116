//! File sync between an in-process primary and replica over loopback TLS, on a 10,000-file /
//! 200 MB environment: how long after a publish of a one-file change returns the replica's
//! next request takes (it checks the primary, fetches the manifest and the one new blob,
//! installs the version, then answers), and the publish of that change over HTTP. The cold
//! copy of the whole tree to a new replica is printed once. Publishes are spaced as in life:
//! each waits for the background work of the previous one (retention, the spare copy that
//! makes the next small change cheap: `SyncedCode::settle`), outside the measurement.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use puppet_master::testing::{ADMIN_CERTNAME, TestMaster};

const FILES: usize = 10_000;
const SIZE: usize = 20 * 1024;

/// User + system CPU time of this process so far (all threads), from /proc (USER_HZ = 100).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((t(11) + t(12)) * 10)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn settle(primary: &TestMaster, replica: &TestMaster) {
    primary.code().unwrap().settle().await;
    replica.code().unwrap().settle().await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (primary, replica) = rt.block_on(async {
        let primary = TestMaster::builder()
            .file_sync_primary()
            .start()
            .await
            .unwrap();
        let replica = TestMaster::builder()
            .file_sync_replica_of(&primary, "replica1.example.test")
            .start()
            .await
            .unwrap();
        (primary, replica)
    });
    let files = primary
        .staging()
        .join("environments/production/modules/big/files");
    for i in 0..FILES {
        let dir = files.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let mut content = vec![(i % 251) as u8; SIZE];
        content[..8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("f{i:05}.bin")), content).unwrap();
    }
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    let node = replica.client_for("n1.example.test").unwrap();
    let changed = files.join("d00/f00000.bin");
    rt.block_on(async {
        let t = Instant::now();
        admin.file_sync_publish(Some("production")).await.unwrap();
        let publish = t.elapsed();
        let t = Instant::now();
        node.file_content("production", "modules/big/d00/f00000.bin")
            .await
            .unwrap();
        eprintln!(
            "cold: publish of {FILES} files / {} MB {:.0} ms; a new replica copies it in {:.0} ms",
            FILES * SIZE / 1_000_000,
            publish.as_secs_f64() * 1000.0,
            t.elapsed().as_secs_f64() * 1000.0
        );
        settle(&primary, &replica).await;
    });

    eprintln!("load average: {}", load());
    let mut n = 0u64;
    // CPU time of the whole process (primary, replica, client) per measured operation.
    let mut publish_cpu = (Duration::ZERO, 0u32);
    let mut pickup_cpu = (Duration::ZERO, 0u32);
    let mut group = c.benchmark_group("file sync, 10,000-file environment");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("publish a one-file change (HTTP)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                std::fs::write(&changed, format!("change {n}\n")).unwrap();
                let c = cpu_time();
                let t = Instant::now();
                rt.block_on(admin.file_sync_publish(Some("production")))
                    .unwrap();
                total += t.elapsed();
                publish_cpu.0 += cpu_time().saturating_sub(c);
                publish_cpu.1 += 1;
                // Let the replica catch up outside the measurement.
                rt.block_on(node.file_content("production", "modules/big/d00/f00000.bin"))
                    .unwrap();
                rt.block_on(settle(&primary, &replica));
            }
            total
        })
    });
    group.bench_function("replica's first answer after the publish returns", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let text = format!("change {n}\n");
                std::fs::write(&changed, &text).unwrap();
                rt.block_on(admin.file_sync_publish(Some("production")))
                    .unwrap();
                let c = cpu_time();
                let t = Instant::now();
                let got = rt
                    .block_on(node.file_content("production", "modules/big/d00/f00000.bin"))
                    .unwrap();
                total += t.elapsed();
                pickup_cpu.0 += cpu_time().saturating_sub(c);
                pickup_cpu.1 += 1;
                assert_eq!(got, text.as_bytes(), "strictly the new version");
                rt.block_on(settle(&primary, &replica));
            }
            total
        })
    });
    group.bench_function("replica answer, code unchanged (one check)", |b| {
        b.iter(|| {
            rt.block_on(node.file_content("production", "modules/big/d00/f00000.bin"))
                .unwrap()
        })
    });
    group.finish();
    let per = |(d, n): (Duration, u32)| d.as_secs_f64() * 1000.0 / f64::from(n.max(1));
    eprintln!(
        "CPU time (all threads) per one-file publish over HTTP: {:.1} ms; per replica pickup (from the publish reply to the answer, the replica's copy under way meanwhile): {:.1} ms; load average: {}",
        per(publish_cpu),
        per(pickup_cpu),
        load()
    );
    drop(replica);
    drop(primary);
}

criterion_group!(benches, bench);
criterion_main!(benches);
