//! Publish benchmark (issue 9): a 10,000-file / 200 MB tree published into an empty store, then
//! one file changed and republished (after `Store::prepare`, and without it). Prints MB/s next to `openssl speed sha256` (single core,
//! 16 KiB blocks) on this machine, and the ratio.
//!
//! `cargo bench -p puppet-filesync --bench publish` (under `cargo test --benches`, a small smoke
//! run); `FILES=… MB=… BENCH_DIR=…` to change the
//! tree size or where it is built (default: the system temp dir). "Cold" means an empty store
//! and no stat cache; the staging tree itself is in the page cache (it was just written), as it
//! is after a `git checkout` or r10k deploy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use puppet_filesync::{PublishOptions, Store};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn file_path(i: usize) -> String {
    format!(
        "modules/mod{:03}/files/d{}/f{i}.dat",
        i / 100,
        (i / 10) % 10
    )
}

/// `files` files averaging `total / files` bytes (1/2 to 3/2 of the average), random content.
fn make_tree(root: &Path, files: usize, total: usize) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let avg = total / files;
    let mut written = 0;
    let mut buf = Vec::new();
    for i in 0..files {
        let size = avg / 2 + (rng.next() as usize % avg.max(1));
        buf.clear();
        while buf.len() < size {
            buf.extend_from_slice(&rng.next().to_le_bytes());
        }
        buf.truncate(size);
        let p = root.join(file_path(i));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, &buf).expect("write");
        written += size;
    }
    std::fs::write(root.join("environment.conf"), "modulepath = modules\n").expect("write");
    written
}

/// `openssl speed -bytes 16384 sha256`, in MB/s (10^6 bytes).
fn openssl_sha256() -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "-bytes", "16384", "sha256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with("sha256"))?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kb * 1000.0 / 1e6)
}

/// User + system CPU time of this process so far (all threads), from /proc (USER_HZ = 100).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn phases(p: &[(&'static str, Duration)]) -> String {
    p.iter()
        .map(|(n, d)| format!("{n} {:.1}", d.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cp -a` of the staging tree beside the store, then `sync`: the plain copy a publish must
/// at least do (every byte written once, durably). Returns (copy, copy + sync). The copy is
/// left in place: removing it here would make the publish measured next pay for it (ext4
/// without a journal, as here, scans the inodes freed in the last minutes for every inode
/// it allocates: `recently_deleted` in `find_inode_bit`), and `cp -a` did not.
fn plain_copy(staging: &Path, dest: &Path) -> Option<(Duration, Duration)> {
    let t = Instant::now();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(staging)
        .arg(dest)
        .status()
        .ok()?
        .success();
    let copy = t.elapsed();
    let synced = Command::new("sync").status().ok()?.success();
    let all = t.elapsed();
    (ok && synced).then_some((copy, all))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then a small smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let files = env_usize("FILES", if full { 10_000 } else { 300 });
    let mb = env_usize("MB", if full { 200 } else { 3 });
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let staging = dir.path().join("staging");
    let t = Instant::now();
    let bytes = make_tree(&staging, files, mb * 1_000_000);
    println!(
        "tree: {files} files, {:.1} MB, written in {:.2?}",
        bytes as f64 / 1e6,
        t.elapsed()
    );
    // Past the stat cache's racy window, so unchanged files are trusted on the republish.
    std::thread::sleep(Duration::from_millis(1100));

    let openssl = openssl_sha256();
    // Nothing else dirty before each measurement.
    let _ = Command::new("sync").status();
    let copy = plain_copy(&staging, &dir.path().join("copy"));
    let _ = Command::new("sync").status();
    let store = Store::open(dir.path().join("store")).expect("store");
    // As a master and the CLI do: the stat cache is written by the next `prepare`.
    let opts = PublishOptions::default().defer_stat_cache(true);
    println!(
        "load average before the cold publish: {} ({} cores)",
        load(),
        opts.threads
    );
    let cpu0 = cpu_time();
    let t = Instant::now();
    let cold = store
        .publish_with("production", &staging, &opts)
        .expect("publish");
    let cold_time = t.elapsed();
    assert_eq!(cold.stats.hashed_files as usize, files + 1);
    let cold_cpu = cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    let cold_mbs = bytes as f64 / 1e6 / cold_time.as_secs_f64();
    println!(
        "cold publish: {:.3?} = {cold_mbs:.0} MB/s ({} threads; CPU time {:.2?} = {:.2} s per 200 MB)",
        cold_time,
        opts.threads,
        cold_cpu.unwrap_or_default(),
        cold_cpu.unwrap_or_default().as_secs_f64() * 200e6 / bytes as f64
    );
    println!("  phases (ms): {}", phases(&cold.stats.phases));
    if let Some((c, s)) = copy {
        let mbs = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
        println!(
            "plain copy of the tree: cp -a {:.3?} = {:.0} MB/s; cp -a + sync {:.3?} = {:.0} MB/s; ratio publish/(cp -a + sync) = {:.0}%",
            c,
            mbs(c),
            s,
            mbs(s),
            cold_mbs / mbs(s) * 100.0
        );
    }
    match openssl {
        Some(o) => println!(
            "openssl speed sha256 (1 core, 16 KiB blocks): {o:.0} MB/s; ratio publish/openssl = {:.0}%",
            cold_mbs / o * 100.0
        ),
        None => println!("openssl speed sha256: not available"),
    }

    let t = Instant::now();
    let same = store
        .publish_with("production", &staging, &opts)
        .expect("publish");
    println!(
        "unchanged republish: {:.1?} (hashed {} files)",
        t.elapsed(),
        same.stats.hashed_files
    );

    let mut times = Vec::new();
    let mut cpu = Duration::ZERO;
    let mut prepares = Vec::new();
    for round in 0..10 {
        // Off the critical path (a master does it in the background after each publish).
        let t = Instant::now();
        store.prepare("production").expect("prepare");
        prepares.push(t.elapsed());
        let p = staging.join(file_path(round * 997 % files));
        let mut content = std::fs::read(&p).expect("read");
        content[0] ^= 0xff;
        std::fs::write(&p, content).expect("write");
        // Past the racy window of the changed file (an edit, then a publish a second later).
        std::thread::sleep(Duration::from_millis(1100));
        let c0 = cpu_time();
        let t = Instant::now();
        let one = store
            .publish_with("production", &staging, &opts)
            .expect("publish");
        times.push(t.elapsed());
        cpu += cpu_time()
            .zip(c0)
            .map_or(Duration::ZERO, |(b, a)| b.saturating_sub(a));
        assert_eq!(one.stats.hashed_files, 1, "round {round}: {:?}", one.stats);
        println!("  one-file phases (ms): {}", phases(&one.stats.phases));
    }
    println!("load average: {}", load());
    println!(
        "one-file change republished: median {:.1?} of {} (min {:.1?}, max {:.1?})",
        median(times.clone()),
        times.len(),
        times.iter().min().expect("times"),
        times.iter().max().expect("times")
    );
    println!(
        "  CPU time (all threads, user + system) per one-file publish: {:.1?} (a lower bound of its time on an idle machine, fsync waits aside)",
        cpu / times.len() as u32
    );
    println!(
        "  (Store::prepare before each, off the critical path: median {:.1?})",
        median(prepares)
    );
    let mut full_times = Vec::new();
    for round in 0..3 {
        let p = staging.join(file_path(round * 1009 % files));
        let mut content = std::fs::read(&p).expect("read");
        content[1] ^= 0xff;
        std::fs::write(&p, content).expect("write");
        std::thread::sleep(Duration::from_millis(1100));
        let t = Instant::now();
        store
            .publish_with("production", &staging, &opts)
            .expect("publish");
        full_times.push(t.elapsed());
    }
    println!(
        "one-file change republished without a prepared spare (all {files} files linked): median {:.1?}",
        median(full_times)
    );
    let live = store.live("production").expect("live").expect("live");
    let t = Instant::now();
    store.verify("production", &live.code_id).expect("verify");
    println!("verify of the live version: {:.2?}", t.elapsed());
}
