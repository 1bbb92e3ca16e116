//! CA throughput on one core: CSR verify + sign + store per second with an RSA-4096 CA key
//! (what Puppetserver does per autosigned agent), and CRL regeneration with 10,000 revoked
//! serials; and the RSA-4096 signature alone (the floor of the time per certificate). The
//! CA directory lives on the filesystem of the system temp dir, with every write fsynced as
//! in production.
//!
//! Run: `cargo bench -p puppet-ca --bench ca`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use puppet_ca::{Autosign, CaSettings, CertificateAuthority, CsrOutcome};

/// An agent-like CSR (RSA 4096 key, as Puppet's default) for `cn`.
fn agent_csr(dir: &Path, cn: &str) -> Vec<u8> {
    let key = dir.join("agent.key");
    if !key.exists() {
        let st = Command::new("openssl")
            .args(["genrsa", "-out", key.to_str().unwrap(), "4096"])
            .output()
            .unwrap();
        assert!(st.status.success());
    }
    let out = dir.join(format!("{cn}.csr"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-sha256",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(st.status.success());
    std::fs::read(out).unwrap()
}

fn sign(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // One CSR re-signed over and over (allow_duplicate_certs): each iteration is the full
    // submit path: size and name checks, PEM/DER parse, signature verification, extension
    // policy, autosign, serial reservation, certificate signing, inventory and cert writes.
    let settings = CaSettings {
        autosign: Autosign::On,
        allow_duplicate_certs: true,
        ..CaSettings::new("Puppet CA: bench.test")
    };
    let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    let csr = agent_csr(work.path(), "agent.example.test");
    let mut group = c.benchmark_group("ca");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("submit_autosign_rsa4096_ca", |b| {
        b.iter(|| {
            let out = ca.submit_csr("agent.example.test", &csr).unwrap();
            assert!(matches!(out, CsrOutcome::Signed(_)));
        })
    });
    // The same on two threads (the master signs concurrent requests in parallel: the lock is
    // released while the RSA signature is computed). Time per certificate, both cores busy.
    group.bench_function("submit_autosign_rsa4096_ca_2_threads", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters.div_ceil(2) {
                            ca.submit_csr("agent.example.test", &csr).unwrap();
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

fn crl(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ca =
        CertificateAuthority::setup(dir.path(), CaSettings::new("Puppet CA: bench.test")).unwrap();
    let serials: Vec<u64> = (2..10_002).collect();
    assert_eq!(ca.revoke_serials(&serials).unwrap(), 10_000);
    let mut group = c.benchmark_group("ca");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    // Each iteration revokes one more serial: read and parse the 10,000-entry CRL, re-sign it
    // (RSA-4096) with the next CRL number, write it atomically.
    let mut next = 10_002u64;
    group.bench_function("crl_regenerate_10000_revoked", |b| {
        b.iter(|| {
            assert_eq!(ca.revoke_serials(&[next]).unwrap(), 1);
            next += 1;
        })
    });
    group.finish();
}

/// The RSA-4096 signature alone (aws-lc-rs, PKCS#1 v1.5 SHA-256, as the CA signs a
/// certificate), over a message the size of an agent certificate's TBS part: the floor of
/// the time per certificate on one thread, whatever the files and the HTTP around it cost.
fn signature(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let key = RsaKeyPair::generate(KeySize::Rsa4096).unwrap();
    let rng = SystemRandom::new();
    let tbs = vec![0x5a_u8; 1_100];
    let mut sig = vec![0; key.public_modulus_len()];
    let mut group = c.benchmark_group("ca");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("rsa4096_sha256_signature_only", |b| {
        b.iter(|| key.sign(&RSA_PKCS1_SHA256, &rng, &tbs, &mut sig).unwrap())
    });
    group.finish();
}

criterion_group!(benches, signature, sign, crl);
criterion_main!(benches);
