//! Bad input is refused with a typed error, and the CA directory is left exactly as it was.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use der::{Decode, Encode};
use puppet_ca::{Autosign, CaError, CaSettings, CertificateAuthority, CsrOutcome, KeyType};
use x509_cert::request::CertReq;

use crate::support::{fixture, openssl_csr};

fn settings() -> CaSettings {
    CaSettings {
        key: KeyType::EcP256,
        ..CaSettings::new("Puppet CA: bad-input.test")
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Runs `f`, which must fail with an error matching `check`, and asserts no file changed.
fn refused(
    ca: &CertificateAuthority,
    f: impl FnOnce() -> Result<CsrOutcome, CaError>,
    check: impl Fn(&CaError) -> bool,
) -> CaError {
    let before = snapshot(ca.cadir());
    let err = f().expect_err("must be refused");
    assert!(check(&err), "unexpected error: {err:?}");
    assert_eq!(
        snapshot(ca.cadir()),
        before,
        "refusal changed the CA directory ({err})"
    );
    err
}

fn pem(der: &[u8]) -> Vec<u8> {
    der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, der)
        .unwrap()
        .into_bytes()
}

fn der_of(pem_bytes: &[u8]) -> Vec<u8> {
    der::pem::decode_vec(pem_bytes).unwrap().1
}

#[test]
fn malformed_tampered_and_mismatched_csrs() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let plain = fixture("agent-csr-plain.pem");
    let name = "agent1.example.test";

    refused(
        &ca,
        || ca.submit_csr(name, b"not a CSR"),
        |e| matches!(e, CaError::Malformed { .. }),
    );
    refused(
        &ca,
        || ca.submit_csr(name, b""),
        |e| matches!(e, CaError::Malformed { .. }),
    );
    let garbage =
        b"-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n";
    refused(
        &ca,
        || ca.submit_csr(name, garbage),
        |e| matches!(e, CaError::Malformed { .. }),
    );
    // A certificate is not a CSR.
    let cert = ca.ca_certificate_pem().unwrap();
    refused(
        &ca,
        || ca.submit_csr(name, cert.as_bytes()),
        |e| matches!(e, CaError::Malformed { .. }),
    );
    // Truncated DER.
    let der = der_of(&plain);
    let truncated = pem(&der[..der.len() - 10]);
    refused(
        &ca,
        || ca.submit_csr(name, &truncated),
        |e| matches!(e, CaError::Malformed { .. }),
    );

    // A flipped signature bit.
    let mut flipped = der.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    refused(
        &ca,
        || ca.submit_csr(name, &pem(&flipped)),
        |e| matches!(e, CaError::CsrSignature { .. }),
    );

    // Signed by another key: agent1's request carrying agent2's public key.
    let mut req = CertReq::from_der(&der).unwrap();
    let other = CertReq::from_der(&der_of(&fixture("agent-csr-attributes.pem"))).unwrap();
    req.info.public_key = other.info.public_key;
    let swapped = pem(&req.to_der().unwrap());
    refused(
        &ca,
        || ca.submit_csr(name, &swapped),
        |e| matches!(e, CaError::CsrSignature { .. }),
    );

    // CN not the certname; invalid certnames never reach a path.
    let err = refused(
        &ca,
        || ca.submit_csr("agent9.example.test", &plain),
        |e| matches!(e, CaError::CertnameMismatch { .. }),
    );
    assert_eq!(
        err.to_string(),
        "Instance name \"agent1.example.test\" does not match requested key \"agent9.example.test\""
    );
    for bad in [
        "../agent1",
        "Agent1.example.test",
        "a/b",
        "..",
        "*.example.test",
        "",
    ] {
        refused(
            &ca,
            || ca.submit_csr(bad, &plain),
            |e| matches!(e, CaError::InvalidCertname { .. }),
        );
    }

    // Over the size limit, checked before parsing.
    let small = CertificateAuthority::open(
        dir.path(),
        CaSettings {
            max_csr_bytes: 1000,
            ..settings()
        },
    )
    .unwrap();
    refused(
        &small,
        || small.submit_csr(name, &plain),
        |e| {
            matches!(
                e,
                CaError::CsrTooLarge {
                    size: 1598..,
                    limit: 1000,
                    ..
                }
            )
        },
    );
    let huge = vec![b'A'; 70 * 1024];
    refused(
        &ca,
        || ca.submit_csr(name, &huge),
        |e| matches!(e, CaError::CsrTooLarge { .. }),
    );

    // The good one still goes through after all that.
    assert_eq!(ca.submit_csr(name, &plain).unwrap(), CsrOutcome::Pending);
}

#[test]
fn forbidden_extensions_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let work = tempfile::tempdir().unwrap();

    let san = fixture("agent-csr-dns-alt-names.pem");
    let err = refused(
        &ca,
        || ca.submit_csr("server1.example.test", &san),
        |e| matches!(e, CaError::SubjectAltNamesNotAllowed { .. }),
    );
    assert!(
        err.to_string()
            .starts_with("CSR 'server1.example.test' contains extra subject alternative names (DNS:puppet), which are disallowed."),
        "{err}"
    );
    let auth = fixture("agent-csr-auth-extension.pem");
    let err = refused(
        &ca,
        || ca.submit_csr("admin1.example.test", &auth),
        |e| matches!(e, CaError::AuthorizationExtensionNotAllowed { .. }),
    );
    assert!(
        err.to_string().starts_with(
            "CSR 'admin1.example.test' contains an authorization extension, which is disallowed."
        ),
        "{err}"
    );
    let ca_ext = openssl_csr(
        work.path(),
        "evil.example.test",
        &["-addext", "basicConstraints=critical,CA:TRUE"],
    );
    let err = refused(
        &ca,
        || ca.submit_csr("evil.example.test", &ca_ext),
        |e| matches!(e, CaError::ExtensionNotAllowed { .. }),
    );
    assert_eq!(
        err.to_string(),
        "Found extensions that are not permitted: 2.5.29.19"
    );
    // pp_cli_auth is Puppetserver's own: never signed from a CSR, whatever the settings.
    let cli_auth = openssl_csr(
        work.path(),
        "cli.example.test",
        &["-addext", "1.3.6.1.4.1.34380.1.3.39=ASN1:UTF8String:true"],
    );
    let err = refused(
        &ca,
        || ca.submit_csr("cli.example.test", &cli_auth),
        |e| matches!(e, CaError::ExtensionNotAllowed { .. }),
    );
    assert_eq!(
        err.to_string(),
        "Found extensions that are not permitted: 1.3.6.1.4.1.34380.1.3.39"
    );
    // Only DNS and IP names; no wildcard.
    for (name, san, words) in [
        (
            "mail.example.test",
            "subjectAltName=email:root@example.test",
            "Only DNS and IP names are allowed",
        ),
        (
            "wild.example.test",
            "subjectAltName=DNS:*.example.test",
            "contains a wildcard",
        ),
    ] {
        let csr = openssl_csr(work.path(), name, &["-addext", san]);
        let err = refused(
            &ca,
            || ca.submit_csr(name, &csr),
            |e| matches!(e, CaError::InvalidAltName { .. }),
        );
        assert!(err.to_string().contains(words), "{err}");
    }
    // Certnames Puppet can store but Puppetserver does not sign for.
    for name in ["host_name-.example.test", "a..b"] {
        let csr = openssl_csr(work.path(), name, &[]);
        let err = refused(
            &ca,
            || ca.submit_csr(name, &csr),
            |e| matches!(e, CaError::InvalidSubject { .. }),
        );
        assert_eq!(err.to_string(), "Subject hostname format is invalid");
    }

    // A SAN that is only the certname itself is not an extra name.
    let own = openssl_csr(
        work.path(),
        "own.example.test",
        &["-addext", "subjectAltName=DNS:own.example.test"],
    );
    assert_eq!(
        ca.submit_csr("own.example.test", &own).unwrap(),
        CsrOutcome::Pending
    );

    // Allowed: signed, and carried into the certificate.
    let open = CaSettings {
        allow_subject_alt_names: true,
        allow_authorization_extensions: true,
        autosign: Autosign::On,
        ..settings()
    };
    let ca = CertificateAuthority::open(dir.path(), open).unwrap();
    assert!(matches!(
        ca.submit_csr("server1.example.test", &san).unwrap(),
        CsrOutcome::Signed(_)
    ));
    let s = ca.status("server1.example.test").unwrap().unwrap();
    assert_eq!(s.dns_alt_names, ["DNS:puppet", "DNS:server1.example.test"]);
    assert!(matches!(
        ca.submit_csr("admin1.example.test", &auth).unwrap(),
        CsrOutcome::Signed(_)
    ));
    let s = ca.status("admin1.example.test").unwrap().unwrap();
    assert_eq!(
        s.authorization_extensions
            .get("pp_auth_role")
            .map(String::as_str),
        Some("admin")
    );
    assert_eq!(
        s.authorization_extensions
            .get("pp_authorization")
            .map(String::as_str),
        Some("operators")
    );
    // Non-Puppet extensions and pp_cli_auth stay refused.
    refused(
        &ca,
        || ca.submit_csr("evil.example.test", &ca_ext),
        |e| matches!(e, CaError::ExtensionNotAllowed { .. }),
    );
    refused(
        &ca,
        || ca.submit_csr("cli.example.test", &cli_auth),
        |e| matches!(e, CaError::ExtensionNotAllowed { .. }),
    );
}

#[test]
fn names_that_already_have_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let first = openssl_csr(work.path(), "node.example.test", &[]);
    let second = openssl_csr(work.path(), "node.example.test", &[]);
    ca.submit_csr("node.example.test", &first).unwrap();
    // As Puppetserver: a pending name refuses any CSR, the very same one included.
    let again = refused(
        &ca,
        || ca.submit_csr("node.example.test", &first),
        |e| {
            matches!(
                e,
                CaError::AlreadyHasCertificate {
                    state: "requested",
                    ..
                }
            )
        },
    );
    assert_eq!(
        again.to_string(),
        "node.example.test already has a requested certificate; ignoring certificate request"
    );
    let err = refused(
        &ca,
        || ca.submit_csr("node.example.test", &second),
        |e| {
            matches!(
                e,
                CaError::AlreadyHasCertificate {
                    state: "requested",
                    ..
                }
            )
        },
    );
    assert_eq!(
        err.to_string(),
        "node.example.test already has a requested certificate; ignoring certificate request"
    );
    ca.sign("node.example.test").unwrap();
    refused(
        &ca,
        || ca.submit_csr("node.example.test", &second),
        |e| {
            matches!(
                e,
                CaError::AlreadyHasCertificate {
                    state: "signed",
                    ..
                }
            )
        },
    );
    refused(
        &ca,
        || ca.sign("node.example.test").map(CsrOutcome::Signed),
        |e| matches!(e, CaError::NoCsr { .. }),
    );
    ca.revoke("node.example.test").unwrap();
    refused(
        &ca,
        || ca.submit_csr("node.example.test", &second),
        |e| {
            matches!(
                e,
                CaError::AlreadyHasCertificate {
                    state: "revoked",
                    ..
                }
            )
        },
    );
    refused(
        &ca,
        || {
            ca.generate("node.example.test", &[])
                .map(|_| CsrOutcome::Pending)
        },
        |e| matches!(e, CaError::AlreadyHasCertificate { .. }),
    );
    // After clean the name is free again.
    ca.clean("node.example.test").unwrap();
    assert_eq!(
        ca.submit_csr("node.example.test", &second).unwrap(),
        CsrOutcome::Pending
    );
}

#[test]
fn corrupt_serial_and_inventory_are_errors_not_resets() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let work = tempfile::tempdir().unwrap();
    ca.submit_csr(
        "a.example.test",
        &openssl_csr(work.path(), "a.example.test", &[]),
    )
    .unwrap();
    ca.sign("a.example.test").unwrap();
    ca.submit_csr(
        "b.example.test",
        &openssl_csr(work.path(), "b.example.test", &[]),
    )
    .unwrap();
    let sign_b = || ca.sign("b.example.test").map(CsrOutcome::Signed);

    let serial = dir.path().join("serial");
    let good_serial = fs::read(&serial).unwrap();
    for bad in ["", "zz", "-3", "0"] {
        fs::write(&serial, bad).unwrap();
        refused(&ca, sign_b, |e| matches!(e, CaError::CorruptSerial { .. }));
    }
    fs::remove_file(&serial).unwrap();
    refused(&ca, sign_b, |e| matches!(e, CaError::CorruptSerial { .. }));
    // Rolled back to a serial already issued (0002 went to a.example.test).
    fs::write(&serial, "0002").unwrap();
    let err = refused(&ca, sign_b, |e| matches!(e, CaError::CorruptSerial { .. }));
    assert!(
        err.to_string().contains("already in inventory.txt"),
        "{err}"
    );
    fs::write(&serial, &good_serial).unwrap();

    let inventory = dir.path().join("inventory.txt");
    let good_inventory = fs::read(&inventory).unwrap();
    fs::write(&inventory, b"this is not an inventory\n").unwrap();
    refused(&ca, sign_b, |e| {
        matches!(e, CaError::CorruptInventory { line: 1, .. })
    });
    let mut partial = good_inventory.clone();
    partial.truncate(partial.len() - 5);
    fs::write(&inventory, &partial).unwrap();
    refused(&ca, sign_b, |e| {
        matches!(e, CaError::CorruptInventory { .. })
    });
    fs::write(&inventory, &good_inventory).unwrap();

    // Repaired: signing works and takes the next serial.
    ca.sign("b.example.test").unwrap();
    assert_eq!(
        ca.status("b.example.test").unwrap().unwrap().serial_number,
        Some(3)
    );
    assert_eq!(fs::read_to_string(&serial).unwrap(), "0004");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    CertificateAuthority::setup(a.path(), settings()).unwrap();
    CertificateAuthority::setup(b.path(), settings()).unwrap();
    fs::copy(b.path().join("ca_key.pem"), a.path().join("ca_key.pem")).unwrap();
    assert!(matches!(
        CertificateAuthority::open(a.path(), settings()),
        Err(CaError::Key(_))
    ));
    fs::write(a.path().join("ca_key.pem"), "garbage").unwrap();
    assert!(matches!(
        CertificateAuthority::open(a.path(), settings()),
        Err(CaError::Malformed { .. })
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Arbitrary bytes are an error, never a panic.
    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
        let _ = puppet_ca::Csr::from_pem(&bytes);
        let mut pem_wrapped = b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec();
        let b64 = der::pem::encode_string("X", der::pem::LineEnding::LF, &bytes).unwrap();
        pem_wrapped.extend(b64.lines().filter(|l| !l.starts_with("-----")).flat_map(|l| format!("{l}\n").into_bytes()));
        pem_wrapped.extend_from_slice(b"-----END CERTIFICATE REQUEST-----\n");
        proptest::prop_assert!(puppet_ca::Csr::from_pem(&pem_wrapped).is_err());
    }
}

/// Every single bit flipped anywhere in a real agent CSR makes it invalid (exhaustive).
#[test]
fn every_flipped_bit_is_refused() {
    let der = der_of(&fixture("agent-csr-plain.pem"));
    for pos in 0..der.len() {
        for bit in 0..8 {
            let mut flipped = der.clone();
            flipped[pos] ^= 1 << bit;
            assert!(
                puppet_ca::Csr::from_pem(&pem(&flipped)).is_err(),
                "flip at byte {pos} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn a_non_pem_csr_is_reported_as_not_pem() {
    // Regression: a DER or binary file was reported by the PEM decoder's own words.
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let der = der_of(&fixture("agent-csr-plain.pem"));
    for input in [der.as_slice(), b"\0\x01binary\xff", b"plain text\n"] {
        let err = ca.submit_csr("agent1.example.test", input).unwrap_err();
        assert!(matches!(err, CaError::Malformed { .. }), "{err:?}");
        assert!(err.to_string().contains("not a PEM CSR"), "{err}");
    }
}
