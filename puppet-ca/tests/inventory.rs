//! `inventory.txt` is appended to, one fsynced line per certificate (as Puppetserver adds
//! to it), never rewritten; and what a crash can leave of an append never lets a serial be
//! issued twice or a certificate go unrecorded.

use std::fs;
use std::os::unix::fs::MetadataExt;

use der::Decode;
use puppet_ca::{CaError, CaSettings, CertificateAuthority, CsrBuilder, KeyType};
use x509_cert::Certificate;

fn ca(dir: &std::path::Path) -> CertificateAuthority {
    CertificateAuthority::setup(
        dir,
        CaSettings {
            key: KeyType::EcP256,
            ..CaSettings::new("Puppet CA: inventory.test")
        },
    )
    .unwrap()
}

fn submit(ca: &CertificateAuthority, certname: &str) {
    let csr = CsrBuilder::new(certname)
        .unwrap()
        .key_type(KeyType::EcP256)
        .build()
        .unwrap()
        .csr_pem;
    ca.submit_csr(certname, csr.as_bytes()).unwrap();
}

fn serial_of(pem: &str) -> u64 {
    let der = puppet_ca::certificate_der(pem).unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    cert.tbs_certificate
        .serial_number
        .as_bytes()
        .iter()
        .fold(0u64, |n, b| (n << 8) | u64::from(*b))
}

#[test]
fn each_certificate_appends_one_line_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let path = dir.path().join("inventory.txt");
    let ino = fs::metadata(&path).unwrap().ino();
    for name in ["a.example.test", "b.example.test", "c.example.test"] {
        let before = fs::read_to_string(&path).unwrap();
        submit(&ca, name);
        let pem = ca.sign(name).unwrap();
        let after = fs::read_to_string(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().ino(),
            ino,
            "the same file, appended to (a rewrite renames a new one over it)"
        );
        let added = after
            .strip_prefix(before.as_str())
            .expect("what was there is kept byte for byte");
        assert_eq!(
            added.lines().count(),
            1,
            "one line per certificate: {added:?}"
        );
        assert!(added.ends_with('\n'));
        let fields: Vec<&str> = added.trim_end().splitn(4, ' ').collect();
        assert_eq!(fields[3], format!("/CN={name}"));
        assert_eq!(fields[0], format!("0x{:04x}", serial_of(&pem)));
    }
}

/// A crash after the inventory line was made durable but before the `serial` rename was:
/// the line names the serial that `serial` still holds, and no certificate has it. That
/// serial is not issued again (the next signature is refused until `serial` is repaired).
#[test]
fn crash_after_the_append_never_reissues_its_serial() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    submit(&ca, "a.example.test");
    ca.sign("a.example.test").unwrap();
    let path = dir.path().join("inventory.txt");
    let serial = u64::from_str_radix(
        fs::read_to_string(dir.path().join("serial"))
            .unwrap()
            .trim(),
        16,
    )
    .unwrap();
    let mut inventory = fs::read_to_string(&path).unwrap();
    inventory.push_str(&format!(
        "0x{serial:04x} 2026-11-21T17:44:14UTC 2031-11-21T17:44:14UTC /CN=lost.example.test\n"
    ));
    fs::write(&path, &inventory).unwrap();

    submit(&ca, "b.example.test");
    let err = ca.sign("b.example.test").unwrap_err();
    assert!(
        matches!(err, CaError::CorruptSerial { .. }),
        "refused, not issued twice: {err}"
    );
    assert!(!dir.path().join("signed/b.example.test.pem").exists());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        inventory,
        "nothing appended"
    );
    assert_eq!(ca.pending().unwrap(), ["b.example.test"], "still pending");

    // Repaired (serial moved past the recorded one): the next serial, one line more.
    fs::write(dir.path().join("serial"), format!("{:04X}", serial + 1)).unwrap();
    let pem = ca.sign("b.example.test").unwrap();
    assert_eq!(serial_of(&pem), serial + 1);
    assert_eq!(
        fs::read_to_string(&path).unwrap().lines().count(),
        inventory.lines().count() + 1
    );
}

/// A crash in the middle of an append leaves part of a line: the inventory is refused as
/// corrupt (nothing is issued, no serial used, the bytes left as found for the operator).
#[test]
fn torn_append_is_refused_and_nothing_is_issued() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let path = dir.path().join("inventory.txt");
    let mut torn = fs::read(&path).unwrap();
    torn.extend_from_slice(b"0x0002 2026-11-21T17:4");
    fs::write(&path, &torn).unwrap();
    let serial_before = fs::read(dir.path().join("serial")).unwrap();

    submit(&ca, "a.example.test");
    let err = ca.sign("a.example.test").unwrap_err();
    assert!(matches!(err, CaError::CorruptInventory { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), torn);
    assert_eq!(fs::read(dir.path().join("serial")).unwrap(), serial_before);
    assert!(!dir.path().join("signed/a.example.test.pem").exists());
}
