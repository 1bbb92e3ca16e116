//! Snapshots of the decoded structure of what the CA issues (extensions, CRL), with the random
//! parts (keys, key identifiers, dates) checked by assertions and left out of the snapshots.

#![allow(clippy::unwrap_used)]

use std::fs;

use der::asn1::{Ia5String, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Tagged};
use puppet_ca::{Autosign, CaSettings, CertificateAuthority, CsrOutcome, KeyType};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName,
    SubjectKeyIdentifier,
};

use crate::support::fixture;

fn cert_of(pem: &str) -> Certificate {
    Certificate::from_der(&der::pem::decode_vec(pem.as_bytes()).unwrap().1).unwrap()
}

fn key_id(cert: &Certificate) -> Vec<u8> {
    sha1_by_openssl(
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
}

fn sha1_by_openssl(data: &[u8]) -> Vec<u8> {
    // SHA-1 by openssl, independent of the crate's own implementation.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d");
    fs::write(&f, data).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha1", "-binary", f.to_str().unwrap()])
        .output()
        .unwrap();
    out.stdout
}

/// One line per extension: OID, name, criticality, decoded value. Key identifiers are checked
/// against `issuer_key_id` / the subject's key and printed symbolically.
fn describe(cert: &Certificate, issuer: &Certificate) -> String {
    let mut out = String::new();
    let tbs = &cert.tbs_certificate;
    out.push_str(&format!(
        "version: {:?}\nserial: {}\n",
        tbs.version,
        hex(tbs.serial_number.as_bytes())
    ));
    out.push_str(&format!(
        "signature: {}\nissuer: {}\nsubject: {}\n",
        tbs.signature.oid, tbs.issuer, tbs.subject
    ));
    for ext in tbs.extensions.iter().flatten() {
        out.push_str(&format!(
            "- {} critical={} {}\n",
            ext.extn_id,
            ext.critical,
            value(ext, cert, issuer)
        ));
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn value(ext: &Extension, cert: &Certificate, issuer: &Certificate) -> String {
    let v = ext.extn_value.as_bytes();
    match ext.extn_id.to_string().as_str() {
        "2.5.29.17" => {
            let names: Vec<String> = SubjectAltName::from_der(v)
                .unwrap()
                .0
                .into_iter()
                .map(|n| match n {
                    GeneralName::DnsName(d) => format!("DNS:{}", d.as_str()),
                    GeneralName::IpAddress(ip) => format!("IP:{:?}", ip.as_bytes()),
                    other => format!("{other:?}"),
                })
                .collect();
            format!("subjectAltName {names:?}")
        }
        "2.16.840.1.113730.1.13" => format!(
            "netscapeComment IA5String {:?}",
            Ia5String::from_der(v).unwrap().as_str()
        ),
        "2.5.29.35" => {
            let aki = AuthorityKeyIdentifier::from_der(v).unwrap();
            assert_eq!(
                aki.key_identifier.as_ref().map(OctetString::as_bytes),
                Some(&key_id(issuer)[..]),
                "AKI keyid is not the issuer's key id"
            );
            let dir = aki
                .authority_cert_issuer
                .map(|names| format!("{names:?}").contains("DirectoryName"));
            if let Some(serial) = &aki.authority_cert_serial_number {
                assert_eq!(serial, &issuer.tbs_certificate.serial_number);
            }
            format!(
                "authorityKeyIdentifier keyid=<issuer key id> dirname={} serial={}",
                dir.map_or("-".to_string(), |_| issuer
                    .tbs_certificate
                    .issuer
                    .to_string()),
                aki.authority_cert_serial_number
                    .map_or("-".to_string(), |s| hex(s.as_bytes()))
            )
        }
        "2.5.29.14" => {
            let ski = SubjectKeyIdentifier::from_der(v).unwrap();
            assert_eq!(
                ski.0.as_bytes(),
                &key_id(cert)[..],
                "SKI is not SHA-1 of the public key"
            );
            "subjectKeyIdentifier <sha1 of subject public key>".to_string()
        }
        "2.5.29.19" => format!(
            "basicConstraints {:?}",
            BasicConstraints::from_der(v).unwrap()
        ),
        "2.5.29.37" => {
            let eku = ExtendedKeyUsage::from_der(v).unwrap();
            format!(
                "extKeyUsage {:?}",
                eku.0
                    .iter()
                    .map(ObjectIdentifier::to_string)
                    .collect::<Vec<_>>()
            )
        }
        "2.5.29.15" => {
            let ku = KeyUsage::from_der(v).unwrap();
            format!(
                "keyUsage digitalSignature={} keyEncipherment={} keyCertSign={} cRLSign={}",
                ku.digital_signature(),
                ku.key_encipherment(),
                ku.key_cert_sign(),
                ku.crl_sign()
            )
        }
        oid => {
            let name = puppet_ca::oids::short_name(oid).unwrap_or("-");
            let any = der::asn1::Any::from_der(v).unwrap();
            format!(
                "{name} {:?} {:?}",
                any.tag(),
                String::from_utf8_lossy(any.value())
            )
        }
    }
}

#[test]
fn agent_certificate_from_a_real_puppet_csr() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CaSettings {
        autosign: Autosign::On,
        ..CaSettings::new("Puppet CA: puppet.example.test")
    };
    let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    let ca_cert = cert_of(&ca.ca_certificate_pem().unwrap());
    insta::assert_snapshot!("ca_certificate", describe(&ca_cert, &ca_cert));

    let CsrOutcome::Signed(pem) = ca
        .submit_csr("agent2.example.test", &fixture("agent-csr-attributes.pem"))
        .unwrap()
    else {
        panic!()
    };
    let cert = cert_of(&pem);
    insta::assert_snapshot!(
        "agent_certificate_with_csr_attributes",
        describe(&cert, &ca_cert)
    );
    // Validity: notBefore a day back, notAfter ca_ttl ahead.
    let v = &cert.tbs_certificate.validity;
    let span = v.not_after.to_unix_duration() - v.not_before.to_unix_duration();
    assert_eq!(
        span.as_secs(),
        puppet_ca::DEFAULT_CA_TTL.as_secs() + 24 * 3600
    );
}

#[test]
fn server_certificate_from_generate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            key: KeyType::EcP256,
            ..CaSettings::new("Puppet CA: puppet.example.test")
        },
    )
    .unwrap();
    let ca_cert = cert_of(&ca.ca_certificate_pem().unwrap());
    let (_, pem) = ca
        .generate(
            "puppet.example.test",
            &["IP:127.0.0.1".into(), "localhost".into(), "puppet".into()],
        )
        .unwrap();
    insta::assert_snapshot!(
        "server_certificate_from_generate",
        describe(&cert_of(&pem), &ca_cert)
    );
}

#[test]
fn csr_attributes_of_a_real_agent() {
    let csr = puppet_ca::Csr::from_pem(&fixture("agent-csr-attributes.pem")).unwrap();
    assert_eq!(csr.challenge_password(), Some("s3cr3t-Challenge"));
    insta::assert_json_snapshot!("agent_csr_extension_requests", csr.extension_requests());
}

#[test]
fn crl_structure_after_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            key: KeyType::EcP256,
            ..CaSettings::new("Puppet CA: puppet.example.test")
        },
    )
    .unwrap();
    let ca_cert = cert_of(&ca.ca_certificate_pem().unwrap());
    for n in ["a.example.test", "b.example.test", "c.example.test"] {
        ca.generate(n, &[]).unwrap();
    }
    ca.revoke("a.example.test").unwrap();
    ca.revoke("c.example.test").unwrap();
    ca.revoke("c.example.test").unwrap(); // idempotent: no new CRL number
    let crl = CertificateList::from_der(
        &der::pem::decode_vec(ca.crl_pem().unwrap().as_bytes())
            .unwrap()
            .1,
    )
    .unwrap();
    let tbs = &crl.tbs_cert_list;
    let mut out = format!(
        "version: {:?}\nissuer: {}\nsignature: {}\n",
        tbs.version, tbs.issuer, tbs.signature.oid
    );
    let next = tbs.next_update.unwrap().to_unix_duration() - tbs.this_update.to_unix_duration();
    assert_eq!(next, puppet_ca::DEFAULT_CA_TTL);
    for ext in tbs.crl_extensions.iter().flatten() {
        let v = match ext.extn_id.to_string().as_str() {
            "2.5.29.20" => format!(
                "cRLNumber {}",
                hex(Uint::from_der(ext.extn_value.as_bytes())
                    .unwrap()
                    .as_bytes())
            ),
            _ => value(ext, &ca_cert, &ca_cert),
        };
        out.push_str(&format!(
            "- {} critical={} {v}\n",
            ext.extn_id, ext.critical
        ));
    }
    for r in tbs.revoked_certificates.iter().flatten() {
        let exts: Vec<String> = r
            .crl_entry_extensions
            .iter()
            .flatten()
            .map(|e| format!("{}={}", e.extn_id, hex(e.extn_value.as_bytes())))
            .collect();
        out.push_str(&format!(
            "revoked serial {} {exts:?}\n",
            hex(r.serial_number.as_bytes())
        ));
    }
    insta::assert_snapshot!("crl_after_two_revocations", out);
}

#[test]
fn certificate_status_json_in_puppets_shape() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CaSettings {
        key: KeyType::EcP256,
        allow_authorization_extensions: true,
        ..CaSettings::new("Puppet CA: puppet.example.test")
    };
    let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    ca.submit_csr(
        "admin1.example.test",
        &fixture("agent-csr-auth-extension.pem"),
    )
    .unwrap();
    // A pending request: every field is a function of the fixture's bytes.
    insta::assert_json_snapshot!(
        "status_requested",
        ca.status("admin1.example.test").unwrap().unwrap()
    );
    ca.sign("admin1.example.test").unwrap();
    let mut signed =
        serde_json::to_value(ca.status("admin1.example.test").unwrap().unwrap()).unwrap();
    for field in ["fingerprint", "not_before", "not_after"] {
        assert!(signed[field].is_string());
        signed[field] = "<varies>".into();
    }
    signed["fingerprints"] = "<varies>".into();
    insta::assert_json_snapshot!("status_signed", signed);
}
