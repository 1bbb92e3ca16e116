//! `CsrBuilder`: CSRs made as the Puppet agent makes them, accepted by the CA with their
//! extensions carried, verified by OpenSSL, equal in content to a real agent's.

use std::fs;
use std::path::Path;

use puppet_ca::{
    Autosign, CaSettings, CertificateAuthority, Csr, CsrAttributes, CsrBuilder, CsrOutcome, KeyType,
};

use crate::support::{fixture, openssl};

fn attributes() -> CsrAttributes {
    CsrAttributes::parse(&String::from_utf8(fixture("csr_attributes.yaml")).unwrap()).unwrap()
}

fn openssl_text(args: &[&str], input: &Path) -> (bool, String) {
    let mut args = args.to_vec();
    args.extend(["-in", input.to_str().unwrap()]);
    openssl(&args)
}

#[test]
fn built_csr_matches_a_real_agents_and_is_signed_with_its_extensions() {
    let made = CsrBuilder::new("agent2.example.test")
        .unwrap()
        .key_type(KeyType::Rsa(2048))
        .attributes(attributes())
        .build()
        .unwrap();
    assert!(made.key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(!format!("{made:?}").contains("PRIVATE KEY"), "key in Debug");
    // The same content as the CSR the real Puppet agent made from the same yaml.
    let ours = Csr::from_pem(made.csr_pem.as_bytes()).unwrap();
    let agents = Csr::from_pem(&fixture("agent-csr-attributes.pem")).unwrap();
    assert_eq!(ours.common_name(), agents.common_name());
    assert_eq!(ours.challenge_password(), agents.challenge_password());
    assert_eq!(ours.extension_requests(), agents.extension_requests());

    // OpenSSL checks the self-signature.
    let dir = tempfile::tempdir().unwrap();
    let csr_path = dir.path().join("csr.pem");
    fs::write(&csr_path, &made.csr_pem).unwrap();
    let (ok, out) = openssl_text(&["req", "-verify", "-noout", "-text"], &csr_path);
    assert!(ok, "{out}");
    assert!(
        out.contains("verify OK") || out.contains("Certificate request self-signature verify OK"),
        "{out}"
    );
    assert!(out.contains("challengePassword"), "{out}");
    assert!(
        out.contains("CN = agent2.example.test") || out.contains("CN=agent2.example.test"),
        "{out}"
    );

    // Our CA signs it and the certificate carries the requested extensions.
    let cadir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        cadir.path(),
        CaSettings {
            key: KeyType::EcP256,
            autosign: Autosign::On,
            ..CaSettings::new("Puppet CA: builder.test")
        },
    )
    .unwrap();
    let CsrOutcome::Signed(cert) = ca
        .submit_csr("agent2.example.test", made.csr_pem.as_bytes())
        .unwrap()
    else {
        panic!("autosign is on")
    };
    let cert_path = dir.path().join("cert.pem");
    fs::write(&cert_path, &cert).unwrap();
    let (ok, text) = openssl_text(&["x509", "-noout", "-text"], &cert_path);
    assert!(ok, "{text}");
    for (oid, value) in [
        ("1.3.6.1.4.1.34380.1.1.13", "webserver"),
        ("1.3.6.1.4.1.34380.1.1.12", "production"),
        (
            "1.3.6.1.4.1.34380.1.1.1",
            "ED803750-E3C7-44F5-BB08-41A04433FE2E",
        ),
        ("1.3.6.1.4.1.34380.1.1.19", "lab1"),
        ("1.3.6.1.4.1.34380.1.2.1", "my-private-extension"),
    ] {
        let at = text
            .find(oid)
            .unwrap_or_else(|| panic!("{oid} missing:\n{text}"));
        assert!(text[at..].contains(value), "{oid} without {value}:\n{text}");
    }
}

#[test]
fn given_key_and_alt_names() {
    let first = CsrBuilder::new("server1.example.test")
        .unwrap()
        .key_type(KeyType::EcP384)
        .build()
        .unwrap();
    let again = CsrBuilder::new("server1.example.test")
        .unwrap()
        .key_pem(first.key_pem.as_bytes())
        .dns_alt_names(["puppet", "IP:127.0.0.1"])
        .build()
        .unwrap();
    assert_eq!(again.key_pem, first.key_pem, "the given key is kept");
    let a = Csr::from_pem(first.csr_pem.as_bytes()).unwrap();
    let b = Csr::from_pem(again.csr_pem.as_bytes()).unwrap();
    assert_eq!(
        b.subject_alt_names(),
        ["DNS:puppet", "IP:127.0.0.1", "DNS:server1.example.test"]
    );
    // Same key: the DER differs only after the public key.
    let key_len = 120; // a P-384 SubjectPublicKeyInfo is 120 bytes
    let spki = |der: &[u8]| {
        der.windows(key_len)
            .position(|w| w.starts_with(&[0x30, 0x76, 0x30, 0x10]))
            .map(|i| der[i..i + key_len].to_vec())
    };
    assert_eq!(spki(a.der()), spki(b.der()));
    assert!(spki(a.der()).is_some());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csr.pem");
    fs::write(&path, &again.csr_pem).unwrap();
    let (ok, out) = openssl_text(&["req", "-verify", "-noout"], &path);
    assert!(ok, "{out}");
}

#[test]
fn bad_attribute_names_are_refused() {
    let attrs = CsrAttributes::parse("extension_requests:\n  pp_no_such_name: x\n").unwrap();
    let err = CsrBuilder::new("a.example.test")
        .unwrap()
        .key_type(KeyType::EcP256)
        .attributes(attrs)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("pp_no_such_name"), "{err}");
    assert!(CsrBuilder::new("../etc/passwd").is_err());
}
