//! Issued certificates and CRLs checked by OpenSSL (`openssl verify -crl_check`, `openssl x509`).

#![allow(clippy::unwrap_used)]

use puppet_ca::{Autosign, CaSettings, CertState, CertificateAuthority, CsrOutcome, KeyType};

use crate::support::{fixture, openssl};

/// `openssl verify -crl_check` of `cert_pem` against the CA's ca_crt.pem and ca_crl.pem.
fn verify(ca: &CertificateAuthority, cert_pem: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, cert_pem).unwrap();
    let crl = dir.path().join("crl.pem");
    std::fs::write(&crl, ca.crl_pem().unwrap()).unwrap();
    let cafile = ca.cadir().join("ca_crt.pem");
    openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        cafile.to_str().unwrap(),
        "-CRLfile",
        crl.to_str().unwrap(),
        cert.to_str().unwrap(),
    ])
}

fn text(cert_pem: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, cert_pem).unwrap();
    let (ok, out) = openssl(&["x509", "-noout", "-text", "-in", cert.to_str().unwrap()]);
    assert!(ok, "{out}");
    out
}

#[test]
fn rsa4096_ca_signs_a_real_agent_csr_and_openssl_verifies_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CaSettings {
        autosign: Autosign::On,
        ..CaSettings::new("Puppet CA: puppet.example.test")
    };
    let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    // The CA itself, as Puppetserver makes it.
    let ca_text = text(&ca.ca_certificate_pem().unwrap());
    assert!(ca_text.contains("Public-Key: (4096 bit)"), "{ca_text}");
    assert!(
        ca_text.contains("CA:TRUE") && ca_text.contains("Certificate Sign, CRL Sign"),
        "{ca_text}"
    );

    let CsrOutcome::Signed(pem) = ca
        .submit_csr("agent2.example.test", &fixture("agent-csr-attributes.pem"))
        .unwrap()
    else {
        panic!("autosign on")
    };
    let (ok, out) = verify(&ca, &pem);
    assert!(ok, "openssl verify failed: {out}");
    let t = text(&pem);
    for want in [
        "Serial Number: 2 (0x2)",
        "Issuer: CN = Puppet CA: puppet.example.test",
        "Subject: CN = agent2.example.test",
        "DNS:agent2.example.test",
        "Puppet Server Internal Certificate",
        "CA:FALSE",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "Digital Signature, Key Encipherment",
        "1.3.6.1.4.1.34380.1.1.13:",
        "webserver",
        "ED803750-E3C7-44F5-BB08-41A04433FE2E",
        "my-private-extension",
    ] {
        assert!(t.contains(want), "{want:?} missing from\n{t}");
    }

    ca.revoke("agent2.example.test").unwrap();
    let (ok, out) = verify(&ca, &pem);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    assert_eq!(
        ca.status("agent2.example.test").unwrap().unwrap().state,
        CertState::Revoked
    );

    let dirp = tempfile::tempdir().unwrap();
    let crl = dirp.path().join("crl.pem");
    std::fs::write(&crl, ca.crl_pem().unwrap()).unwrap();
    let (ok, crl_text) = openssl(&["crl", "-noout", "-text", "-in", crl.to_str().unwrap()]);
    assert!(ok, "{crl_text}");
    assert!(
        crl_text.contains("X509v3 CRL Number: \n                1"),
        "{crl_text}"
    );
    assert!(
        crl_text.contains("Serial Number: 02") && crl_text.contains("Key Compromise"),
        "{crl_text}"
    );
}

#[test]
fn ec_ca_generate_and_renew_verify() {
    for key in [KeyType::EcP256, KeyType::EcP384] {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::setup(
            dir.path(),
            CaSettings {
                key,
                allow_auto_renewal: true,
                ..CaSettings::new("Puppet CA: ec")
            },
        )
        .unwrap();
        let (key_pem, cert_pem) = ca
            .generate(
                "puppet.example.test",
                &["puppet".into(), "IP:127.0.0.1".into()],
            )
            .unwrap();
        let (ok, out) = verify(&ca, &cert_pem);
        assert!(ok, "{key:?}: {out}");
        let t = text(&cert_pem);
        assert!(
            t.contains("DNS:puppet, IP Address:127.0.0.1, DNS:puppet.example.test"),
            "{t}"
        );
        // The key matches the certificate.
        let kd = tempfile::tempdir().unwrap();
        std::fs::write(kd.path().join("k.pem"), &key_pem).unwrap();
        let (ok, pubk) = openssl(&[
            "pkey",
            "-pubout",
            "-in",
            kd.path().join("k.pem").to_str().unwrap(),
        ]);
        assert!(ok, "{pubk}");
        std::fs::write(kd.path().join("c.pem"), &cert_pem).unwrap();
        let (_, cert_pub) = openssl(&[
            "x509",
            "-noout",
            "-pubkey",
            "-in",
            kd.path().join("c.pem").to_str().unwrap(),
        ]);
        assert_eq!(pubk, cert_pub);

        let renewed = ca.renew(cert_pem.as_bytes()).unwrap();
        let (ok, out) = verify(&ca, &renewed);
        assert!(ok, "{out}");
        assert!(
            text(&renewed).contains("DNS:puppet, IP Address:127.0.0.1, DNS:puppet.example.test")
        );
    }
}

#[test]
fn openssl_made_csrs_with_other_digests_and_ec_keys_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            key: KeyType::EcP256,
            autosign: Autosign::On,
            ..CaSettings::new("Puppet CA: t")
        },
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "rsa-sha384.example.test",
            &["-newkey", "rsa:2048"],
            "-sha384",
        ),
        (
            "rsa-sha512.example.test",
            &["-newkey", "rsa:2048"],
            "-sha512",
        ),
        ("rsa-sha1.example.test", &["-newkey", "rsa:2048"], "-sha1"),
        (
            "ec256.example.test",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "-sha256",
        ),
        (
            "ec384.example.test",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "-sha384",
        ),
    ];
    for (name, keyargs, digest) in cases {
        let csr = work.path().join(format!("{name}.csr"));
        let key = work.path().join(format!("{name}.key"));
        let mut args = vec!["req", "-new", "-nodes", "-subj"];
        let subj = format!("/CN={name}");
        args.push(&subj);
        args.extend_from_slice(keyargs);
        args.extend_from_slice(&[
            digest,
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
        ]);
        let (ok, out) = openssl(&args);
        assert!(ok, "{out}");
        let outcome = ca.submit_csr(name, &std::fs::read(&csr).unwrap()).unwrap();
        let CsrOutcome::Signed(pem) = outcome else {
            panic!("{name}: not signed")
        };
        let (ok, out) = verify(&ca, &pem);
        assert!(ok, "{name}: {out}");
    }
}
