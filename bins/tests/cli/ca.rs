//! End-to-end tests of the `puppet-ca` binary: a CA directory taken through setup, submit, list,
//! sign, revoke and clean, checked on disk and with `openssl`; refusals that must leave the
//! directory untouched; and a crash test that SIGKILLs the signer at random points.
//!
//! `openssl` (the command) must be on PATH: it makes the CSRs and is the independent judge of
//! every certificate, CRL and key the CA writes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_puppet-ca");

fn run(cadir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--cadir")
        .arg(cadir)
        .args(args)
        .output()
        .expect("run puppet-ca")
}

/// Runs puppet-ca and requires success; returns stdout.
fn ok(cadir: &Path, args: &[&str]) -> String {
    let out = run(cadir, args);
    assert!(
        out.status.success(),
        "puppet-ca {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs puppet-ca and requires a refusal: non-zero exit, one line on stderr. Returns stderr.
fn refused(cadir: &Path, args: &[&str]) -> String {
    let out = run(cadir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "puppet-ca {args:?} should have been refused"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "puppet-ca {args:?}: want one error line, got {stderr:?}"
    );
    stderr
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl")
}

fn openssl_ok(args: &[&str]) -> String {
    let out = openssl(args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A fresh 2048-bit key and CSR for `cn`, as an agent makes them. Returns the CSR path.
fn make_csr(dir: &Path, cn: &str) -> PathBuf {
    let (key, csr) = (dir.join(format!("{cn}.key")), dir.join(format!("{cn}.csr")));
    let subj = format!("/CN={cn}");
    openssl_ok(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &subj,
        "-keyout",
        p(&key),
        "-out",
        p(&csr),
    ]);
    csr
}

/// `AA:BB:...` SHA-256 of a PEM object's DER (`kind` is `x509` or `req`), as Puppet prints it.
fn fingerprint(kind: &str, pem: &Path) -> String {
    let der = pem.with_extension("der");
    openssl_ok(&[kind, "-in", p(pem), "-outform", "DER", "-out", p(&der)]);
    let hex = openssl_ok(&["dgst", "-sha256", "-r", p(&der)]);
    let hex = hex
        .split_whitespace()
        .next()
        .expect("digest")
        .to_uppercase();
    hex.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).expect("hex"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The CA's CRL as `openssl crl -text` prints it.
fn crl_text(cadir: &Path) -> String {
    openssl_ok(&[
        "crl",
        "-in",
        p(&cadir.join("ca_crl.pem")),
        "-noout",
        "-text",
    ])
}

/// Asserts with `openssl crl -CAfile` that the CA's CRL is signed by its certificate.
fn check_crl(cadir: &Path) {
    let crl = cadir.join("ca_crl.pem");
    openssl_ok(&[
        "crl",
        "-in",
        p(&crl),
        "-CAfile",
        p(&cadir.join("ca_crt.pem")),
        "-noout",
    ]);
}

fn cert_serial(pem: &Path) -> u128 {
    let out = openssl_ok(&["x509", "-in", p(pem), "-noout", "-serial"]);
    u128::from_str_radix(out.trim().trim_start_matches("serial="), 16).expect("hex serial")
}

/// `openssl verify -crl_check` of a leaf against the CA's chain and CRL: `Ok` or openssl's words.
fn verify(cadir: &Path, cert: &Path) -> Result<(), String> {
    let out = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        p(&cadir.join("ca_crt.pem")),
        "-CRLfile",
        p(&cadir.join("ca_crl.pem")),
        p(cert),
    ]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Every file under `dir` with its bytes: to prove that a refused command changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).expect("read"));
            }
        }
    }
    files
}

fn new_ca(tmp: &Path) -> PathBuf {
    let cadir = tmp.join("ca");
    let out = ok(
        &cadir,
        &[
            "setup",
            "--ca-name",
            "Puppet CA: test.example",
            "--keylength",
            "2048",
        ],
    );
    assert_eq!(
        out,
        format!(
            "Generation succeeded. Find your files in {}\n",
            cadir.display()
        )
    );
    cadir
}

#[test]
fn setup_submit_list_sign_revoke_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    for f in [
        "ca_crt.pem",
        "ca_key.pem",
        "ca_crl.pem",
        "serial",
        "inventory.txt",
    ] {
        assert!(cadir.join(f).is_file(), "{f} missing after setup");
    }
    assert!(cadir.join("signed").is_dir() && cadir.join("requests").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(cadir.join("ca_key.pem"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "ca_key.pem readable by others: {mode:o}");
    }
    let subject = openssl_ok(&[
        "x509",
        "-in",
        p(&cadir.join("ca_crt.pem")),
        "-noout",
        "-subject",
    ]);
    assert!(subject.contains("Puppet CA: test.example"), "{subject}");
    check_crl(&cadir);
    assert_eq!(ok(&cadir, &["list", "--all"]), "No certificates to list\n");

    let csr1 = make_csr(tmp.path(), "agent1.example.test");
    let csr2 = make_csr(tmp.path(), "agent22.example.test");
    for (name, csr) in [
        ("agent1.example.test", &csr1),
        ("agent22.example.test", &csr2),
    ] {
        let out = ok(&cadir, &["submit", "--certname", name, "--csr", p(csr)]);
        assert_eq!(
            out,
            format!("Successfully submitted certificate request for {name}\n")
        );
        let stored = cadir.join("requests").join(format!("{name}.pem"));
        let subj = openssl_ok(&["req", "-in", p(&stored), "-noout", "-verify", "-subject"]);
        assert!(subj.contains(&format!("CN = {name}")), "{subj}");
    }

    // Puppetserver's layout: name padded to the longest name + 6, "(SHA256)", two spaces, digest.
    let (fp1, fp2) = (fingerprint("req", &csr1), fingerprint("req", &csr2));
    let listed = ok(&cadir, &["list"]);
    assert_eq!(
        listed,
        format!(
            "Requested Certificates:\n    agent1.example.test        (SHA256)  {fp1}\n    agent22.example.test       (SHA256)  {fp2}\n"
        )
    );

    let serial_before = fs::read_to_string(cadir.join("serial")).expect("serial");
    let out = ok(&cadir, &["sign", "--certname", "agent1.example.test"]);
    assert_eq!(
        out,
        "Successfully signed certificate request for agent1.example.test\n"
    );
    let cert1 = cadir.join("signed/agent1.example.test.pem");
    assert!(
        !cadir.join("requests/agent1.example.test.pem").exists(),
        "CSR left behind after signing"
    );
    verify(&cadir, &cert1).expect("signed cert verifies with CRL check");
    let serial1 = cert_serial(&cert1);
    assert_eq!(
        serial1,
        u128::from_str_radix(serial_before.trim(), 16).expect("hex serial")
    );
    let inventory = fs::read_to_string(cadir.join("inventory.txt")).expect("inventory");
    let line = inventory.lines().last().expect("inventory line");
    assert!(line.ends_with(" /CN=agent1.example.test"), "{line}");
    assert_eq!(
        u128::from_str_radix(
            line.trim_start_matches("0x")
                .split(' ')
                .next()
                .expect("serial"),
            16
        ),
        Ok(serial1)
    );
    let next = u128::from_str_radix(
        fs::read_to_string(cadir.join("serial"))
            .expect("serial")
            .trim(),
        16,
    );
    assert_eq!(next, Ok(serial1 + 1));

    assert!(!ok(&cadir, &["list"]).contains("agent1.example.test"));
    let all = ok(&cadir, &["list", "--all"]);
    let fpc = fingerprint("x509", &cert1);
    let want_signed =
        format!("Signed Certificates:\n    agent1.example.test       (SHA256)  {fpc}");
    assert!(
        all.starts_with(&format!(
            "Requested Certificates:\n    agent22.example.test       (SHA256)  {fp2}\n"
        )),
        "{all}"
    );
    assert!(all.contains(&want_signed), "{all}\nwant {want_signed}");
    assert!(!all.contains("Revoked Certificates:"), "{all}");

    let out = ok(&cadir, &["revoke", "--certname", "agent1.example.test"]);
    assert_eq!(
        out,
        "Certificate for agent1.example.test has been revoked\n"
    );
    let err = verify(&cadir, &cert1).expect_err("revoked cert must fail the CRL check");
    assert!(err.contains("certificate revoked"), "{err}");
    let crl = crl_text(&cadir);
    assert!(
        crl.contains(&format!("Serial Number: {serial1:02X}")),
        "{crl}"
    );
    let all = ok(&cadir, &["list", "--all"]);
    assert!(
        all.contains(&format!(
            "Revoked Certificates:\n    agent1.example.test       (SHA256)  {fpc}"
        )),
        "{all}"
    );

    let out = ok(&cadir, &["clean", "--certname", "agent1.example.test"]);
    assert!(
        out.ends_with("Cleaned files related to agent1.example.test\n"),
        "{out}"
    );
    assert!(!cert1.exists(), "clean left the certificate");
    let crl = crl_text(&cadir);
    assert!(
        crl.contains(&format!("Serial Number: {serial1:02X}")),
        "clean dropped the revocation: {crl}"
    );
    assert!(!ok(&cadir, &["list", "--all"]).contains("agent1.example.test"));

    // Clean of a signed, unrevoked certificate revokes it first, as Puppetserver does.
    ok(&cadir, &["sign", "--certname", "agent22.example.test"]);
    let cert2 = cadir.join("signed/agent22.example.test.pem");
    let serial2 = cert_serial(&cert2);
    let out = ok(&cadir, &["clean", "--certname", "agent22.example.test"]);
    assert_eq!(
        out,
        "Certificate for agent22.example.test has been revoked\nCleaned files related to agent22.example.test\n"
    );
    let crl = crl_text(&cadir);
    assert!(
        crl.contains(&format!("Serial Number: {serial2:02X}")),
        "{crl}"
    );
    assert_eq!(ok(&cadir, &["list", "--all"]), "No certificates to list\n");
}

#[test]
fn refusals_exit_nonzero_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    let csr1 = make_csr(tmp.path(), "agent1.example.test");
    let csr2 = make_csr(tmp.path(), "agent2.example.test");
    ok(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent1.example.test",
            "--csr",
            p(&csr1),
        ],
    );
    ok(&cadir, &["sign", "--certname", "agent1.example.test"]);
    ok(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent2.example.test",
            "--csr",
            p(&csr2),
        ],
    );
    let garbage = tmp.path().join("garbage.pem");
    fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n",
    )
    .expect("write");
    let before = snapshot(&cadir);

    let err = refused(&cadir, &["sign", "--certname", "nosuch.example.test"]);
    assert!(err.contains("nosuch.example.test"), "{err}");
    refused(&cadir, &["sign", "--certname", "agent1.example.test"]);
    refused(&cadir, &["revoke", "--certname", "nosuch.example.test"]);
    refused(&cadir, &["revoke", "--certname", "agent2.example.test"]);
    refused(&cadir, &["clean", "--certname", "nosuch.example.test"]);
    let err = refused(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent3.example.test",
            "--csr",
            p(&csr2),
        ],
    );
    assert!(err.contains("agent3.example.test"), "{err}");
    refused(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent3.example.test",
            "--csr",
            p(&garbage),
        ],
    );
    refused(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent3.example.test",
            "--csr",
            p(&tmp.path().join("absent.csr")),
        ],
    );
    refused(
        &cadir,
        &[
            "submit",
            "--certname",
            "agent1.example.test",
            "--csr",
            p(&csr1),
        ],
    );
    refused(
        &cadir,
        &[
            "submit",
            "--certname",
            "Agent2.example.test",
            "--csr",
            p(&csr2),
        ],
    );
    refused(&cadir, &["setup", "--keylength", "2048"]);
    let ssl = tmp.path().join("ssl-refused");
    refused(
        &cadir,
        &[
            "generate",
            "--certname",
            "agent1.example.test",
            "--ssldir",
            p(&ssl),
        ],
    );
    assert!(
        !ssl.join("private_keys/agent1.example.test.pem").exists(),
        "refused generate wrote a key"
    );
    // Argument errors (clap prints usage on several lines, so only the exit status is checked).
    for args in [
        &["sign"][..],
        &["sign", "--all", "--certname", "x"],
        &["revoke"],
        &["list", "--bogus"],
    ] {
        assert!(!run(&cadir, args).status.success(), "{args:?} accepted");
    }
    assert_eq!(
        snapshot(&cadir),
        before,
        "a refused command changed the CA directory"
    );

    // Nothing to sign is a refusal too (Puppetserver exits 24).
    ok(&cadir, &["sign", "--all"]);
    let before = snapshot(&cadir);
    refused(&cadir, &["sign", "--all"]);
    assert_eq!(snapshot(&cadir), before);

    // A directory that is not a CA is refused, and not turned into one.
    let empty = tmp.path().join("not-a-ca");
    fs::create_dir(&empty).expect("mkdir");
    refused(&empty, &["list"]);
    refused(
        &empty,
        &[
            "submit",
            "--certname",
            "agent2.example.test",
            "--csr",
            p(&csr2),
        ],
    );
    assert!(snapshot(&empty).is_empty());
}

#[test]
fn sign_all_generate_and_import() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    let names = ["a.example.test", "b.example.test", "c.example.test"];
    for name in names {
        let csr = make_csr(tmp.path(), name);
        ok(&cadir, &["submit", "--certname", name, "--csr", p(&csr)]);
    }
    let out = ok(&cadir, &["sign", "--all"]);
    let want: String = names
        .iter()
        .map(|n| format!("Successfully signed certificate request for {n}\n"))
        .collect();
    assert_eq!(out, want);
    let serials: BTreeSet<u128> = names
        .iter()
        .map(|n| cert_serial(&cadir.join(format!("signed/{n}.pem"))))
        .collect();
    assert_eq!(serials.len(), 3, "serials reused: {serials:?}");

    let ssldir = tmp.path().join("ssl");
    let out = ok(
        &cadir,
        &[
            "generate",
            "--certname",
            "gen.example.test",
            "--subject-alt-names",
            "alt.example.test,IP:127.0.0.1",
            "--ssldir",
            p(&ssldir),
        ],
    );
    assert!(
        out.contains("Successfully saved private key for gen.example.test"),
        "{out}"
    );
    let cert = cadir.join("signed/gen.example.test.pem");
    verify(&cadir, &cert).expect("generated cert verifies");
    let text = openssl_ok(&["x509", "-in", p(&cert), "-noout", "-ext", "subjectAltName"]);
    for san in [
        "DNS:alt.example.test",
        "IP Address:127.0.0.1",
        "DNS:gen.example.test",
    ] {
        assert!(text.contains(san), "{san} missing: {text}");
    }
    let key = ssldir.join("private_keys/gen.example.test.pem");
    let key_mod = openssl_ok(&["pkey", "-in", p(&key), "-pubout"]);
    let cert_mod = openssl_ok(&[
        "x509",
        "-in",
        p(&ssldir.join("certs/gen.example.test.pem")),
        "-noout",
        "-pubkey",
    ]);
    assert_eq!(
        key_mod, cert_mod,
        "generated key does not match generated cert"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "generated private key readable by others: {mode:o}"
        );
    }

    // Import: a second CA directory from the first CA's bundle, key and CRL chain.
    let imported = tmp.path().join("imported");
    let out = ok(
        &imported,
        &[
            "import",
            "--cert-bundle",
            p(&cadir.join("ca_crt.pem")),
            "--private-key",
            p(&cadir.join("ca_key.pem")),
            "--crl-chain",
            p(&cadir.join("ca_crl.pem")),
        ],
    );
    assert!(out.starts_with("Import succeeded"), "{out}");
    let csr = make_csr(tmp.path(), "d.example.test");
    ok(
        &imported,
        &["submit", "--certname", "d.example.test", "--csr", p(&csr)],
    );
    ok(&imported, &["sign", "--certname", "d.example.test"]);
    // Signed by the imported key: verifies against the original CA's certificate and CRL.
    verify(&cadir, &imported.join("signed/d.example.test.pem")).expect("imported CA signs");
}

/// Tiny xorshift generator: the kill points must be random but a failure reproducible (the seed
/// is printed; `PUPPET_CA_KILL_SEED` replays it).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn sigkill_at_random_points_leaves_a_consistent_ca() {
    const KILLS: usize = 40;
    const PER_ROUND: usize = 3;
    let seed = std::env::var("PUPPET_CA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill test seed {seed} (PUPPET_CA_KILL_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    let key = tmp.path().join("agent.key");
    openssl_ok(&["genrsa", "-out", p(&key), "2048"]);
    let mut names = Vec::new();
    let submit = |names: &mut Vec<String>| {
        let name = format!("k{}.example.test", names.len());
        let csr = tmp.path().join(format!("{name}.csr"));
        openssl_ok(&[
            "req",
            "-new",
            "-key",
            p(&key),
            "-subj",
            &format!("/CN={name}"),
            "-out",
            p(&csr),
        ]);
        ok(&cadir, &["submit", "--certname", &name, "--csr", p(&csr)]);
        names.push(name);
    };

    // How long one unkilled `sign --all` of a round takes: kill points are drawn from 0..1.5x that.
    for _ in 0..PER_ROUND {
        submit(&mut names);
    }
    let start = Instant::now();
    ok(&cadir, &["sign", "--all"]);
    let span = (start.elapsed().as_micros() as u64 * 3 / 2).max(1_000);

    let mut killed_running = 0;
    for round in 0..KILLS {
        for _ in 0..PER_ROUND {
            submit(&mut names);
        }
        // Every fourth round kills a revoke instead: the CRL and inventory writers crash too.
        let args: Vec<String> = if round % 4 == 3 {
            vec!["revoke".into(), "--certname".into(), names[round].clone()]
        } else {
            vec!["sign".into(), "--all".into()]
        };
        let mut child = Command::new(BIN)
            .arg("--cadir")
            .arg(&cadir)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        if child.try_wait().expect("try_wait").is_none() {
            killed_running += 1;
        }
        child.kill().ok(); // SIGKILL on Unix
        child.wait().expect("wait");
    }
    eprintln!("{killed_running} of {KILLS} processes were killed while running");
    assert!(
        killed_running > 0,
        "no kill landed while the CA was working; the test proves nothing"
    );

    // The CA must still work after the crashes: what is pending gets signed.
    let out = run(&cadir, &["sign", "--all"]);
    eprintln!(
        "recovery sign --all: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&cadir, &["list", "--all"]);
    for name in &names {
        assert!(
            cadir.join(format!("signed/{name}.pem")).is_file(),
            "{name} never signed after recovery"
        );
    }

    // Every PEM the CA would read parses; no half-written file.
    let mut signed_serials = BTreeSet::new();
    for (dir, kind) in [("signed", "x509"), ("requests", "req")] {
        for entry in fs::read_dir(cadir.join(dir)).expect("read_dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_owned();
            if !name.ends_with(".pem") {
                assert!(
                    name.starts_with('.'),
                    "stray file the CA may read: {}",
                    path.display()
                );
                continue;
            }
            openssl_ok(&[kind, "-in", p(&path), "-noout"]);
            if kind == "x509" {
                let serial = cert_serial(&path);
                assert!(
                    signed_serials.insert(serial),
                    "serial {serial:X} used by two files in signed/"
                );
            }
        }
    }
    openssl_ok(&["x509", "-in", p(&cadir.join("ca_crt.pem")), "-noout"]);
    openssl_ok(&["pkey", "-in", p(&cadir.join("ca_key.pem")), "-noout"]);
    check_crl(&cadir);

    // inventory.txt: whole lines only, each serial once; the serial file is past all of them.
    let inventory = fs::read_to_string(cadir.join("inventory.txt")).expect("inventory");
    let mut inventory_serials = BTreeSet::new();
    for line in inventory.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(
            fields.len() >= 4 && fields[0].starts_with("0x") && fields[3].starts_with("/CN="),
            "bad line {line:?}"
        );
        let serial = u128::from_str_radix(&fields[0][2..], 16).expect("hex serial");
        assert!(
            inventory_serials.insert(serial),
            "serial {serial:X} twice in inventory.txt"
        );
    }
    assert!(
        inventory.is_empty() || inventory.ends_with('\n'),
        "inventory.txt ends mid-line"
    );
    let next = u128::from_str_radix(
        fs::read_to_string(cadir.join("serial"))
            .expect("serial")
            .trim(),
        16,
    )
    .expect("serial");
    let max = signed_serials
        .iter()
        .chain(&inventory_serials)
        .max()
        .copied()
        .unwrap_or(0);
    assert!(
        next > max,
        "serial file {next:X} not past issued serial {max:X}"
    );
    for serial in &signed_serials {
        assert!(
            inventory_serials.contains(serial),
            "signed serial {serial:X} missing from inventory.txt"
        );
    }
}

#[test]
fn alt_names_need_the_flag_and_show_in_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    let (key, csr) = (tmp.path().join("srv.key"), tmp.path().join("srv.csr"));
    openssl_ok(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=srv.example.test",
        "-addext",
        "subjectAltName=DNS:puppet,DNS:srv.example.test",
        "-keyout",
        p(&key),
        "-out",
        p(&csr),
    ]);
    let before = snapshot(&cadir);
    let err = refused(
        &cadir,
        &["submit", "--certname", "srv.example.test", "--csr", p(&csr)],
    );
    assert!(err.contains("allow-subject-alt-names"), "{err}");
    assert_eq!(snapshot(&cadir), before);
    ok(
        &cadir,
        &[
            "--allow-subject-alt-names",
            "submit",
            "--certname",
            "srv.example.test",
            "--csr",
            p(&csr),
        ],
    );
    let listed = ok(&cadir, &["list"]);
    assert!(
        listed.ends_with("\talt names: [\"DNS:puppet\", \"DNS:srv.example.test\"]\n"),
        "{listed:?}"
    );
    // Signing checks the policy again: refused without the flag, done with it.
    refused(&cadir, &["sign", "--certname", "srv.example.test"]);
    ok(
        &cadir,
        &[
            "sign",
            "--certname",
            "srv.example.test",
            "--allow-subject-alt-names",
        ],
    );
    let text = openssl_ok(&[
        "x509",
        "-in",
        p(&cadir.join("signed/srv.example.test.pem")),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    assert!(text.contains("DNS:puppet, DNS:srv.example.test"), "{text}");
}

#[test]
fn help_names_the_platform_default_cadir() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run puppet-ca");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(help.contains("/etc/puppet/puppetserver/ca"), "{help}");
    assert!(help.contains("/etc/puppetlabs/puppetserver/ca"), "{help}");
}

#[test]
fn submit_of_a_non_pem_file_says_so() {
    // Regression: a DER CSR (or any binary file) was reported as "NUL byte".
    let tmp = tempfile::tempdir().expect("tempdir");
    let cadir = new_ca(tmp.path());
    let pem = make_csr(tmp.path(), "agent1.example.test");
    let der = tmp.path().join("agent1.der");
    openssl_ok(&["req", "-in", p(&pem), "-outform", "DER", "-out", p(&der)]);
    let binary = tmp.path().join("binary.pem");
    fs::write(&binary, b"\0\x01not a csr\xff\0").expect("write");
    let text = tmp.path().join("text.pem");
    fs::write(&text, "just some text\n").expect("write");
    let before = snapshot(&cadir);
    for file in [der.as_path(), binary.as_path(), text.as_path()] {
        let err = refused(
            &cadir,
            &[
                "submit",
                "--certname",
                "agent1.example.test",
                "--csr",
                p(file),
            ],
        );
        assert!(err.contains("not a PEM CSR"), "{err}");
        assert!(err.contains(p(file)), "the file is not named: {err}");
        assert!(!err.contains("NUL"), "{err}");
    }
    assert_eq!(snapshot(&cadir), before, "a refused submit changed the CA");
}
