//! Regressions of the security review: revocation cannot be undone by renewal, renewal only
//! when enabled and for valid certificates, long certnames, temp files, directory modes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use der::Decode;
use puppet_ca::{
    Autosign, CaError, CaSettings, CertState, CertificateAuthority, CsrBuilder, CsrOutcome, KeyType,
};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

fn settings() -> CaSettings {
    CaSettings {
        key: KeyType::EcP256,
        allow_auto_renewal: true,
        ..CaSettings::new("Puppet CA: revocation.test")
    }
}

fn serial_of(pem: &str) -> Vec<u8> {
    let der = puppet_ca::certificate_der(pem).unwrap();
    Certificate::from_der(&der)
        .unwrap()
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec()
}

fn crl_serials(ca: &CertificateAuthority) -> Vec<Vec<u8>> {
    let crl = CertificateList::from_der(
        &der::pem::decode_vec(ca.crl_pem().unwrap().as_bytes())
            .unwrap()
            .1,
    )
    .unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| r.serial_number.as_bytes().to_vec())
        .collect()
}

fn csr(certname: &str) -> Vec<u8> {
    CsrBuilder::new(certname)
        .unwrap()
        .key_type(KeyType::EcP256)
        .build()
        .unwrap()
        .csr_pem
        .into_bytes()
}

#[test]
fn revoke_after_renewal_revokes_the_old_certificate_too() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let (_, first) = ca.generate("node.example.test", &[]).unwrap();
    let renewed = ca.renew(first.as_bytes()).unwrap();
    ca.revoke("node.example.test").unwrap();
    let revoked = crl_serials(&ca);
    assert!(
        revoked.contains(&serial_of(&first)),
        "first serial not revoked"
    );
    assert!(
        revoked.contains(&serial_of(&renewed)),
        "renewed serial not revoked"
    );
    // The node cannot renew itself back to "signed" with either certificate.
    for cert in [&first, &renewed] {
        assert!(matches!(
            ca.renew(cert.as_bytes()),
            Err(CaError::RenewalRefused { .. })
        ));
    }
    assert_eq!(
        ca.status("node.example.test").unwrap().unwrap().state,
        CertState::Revoked
    );
}

#[test]
fn clean_revokes_every_serial_of_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let (_, first) = ca.generate("node.example.test", &[]).unwrap();
    let renewed = ca.renew(first.as_bytes()).unwrap();
    let (_, other) = ca.generate("other.example.test", &[]).unwrap();
    assert!(ca.clean("node.example.test").unwrap().revoked);
    let revoked = crl_serials(&ca);
    assert!(revoked.contains(&serial_of(&first)));
    assert!(revoked.contains(&serial_of(&renewed)));
    assert!(
        !revoked.contains(&serial_of(&other)),
        "another name's certificate revoked"
    );
    // Revoking again adds nothing (no new CRL number).
    let crl = ca.crl_pem().unwrap();
    ca.generate("node.example.test", &[]).unwrap();
    ca.revoke("node.example.test").unwrap();
    assert_eq!(crl_serials(&ca).len(), 3);
    assert_ne!(ca.crl_pem().unwrap(), crl);
}

#[test]
fn a_revoked_certificate_is_never_revived_by_a_delete() {
    // delete (Puppetserver's DELETE certificate_status) removes files but not inventory
    // lines: revoke still finds the serials.
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let (_, first) = ca.generate("node.example.test", &[]).unwrap();
    ca.delete("node.example.test").unwrap();
    ca.revoke("node.example.test").unwrap();
    assert!(crl_serials(&ca).contains(&serial_of(&first)));
    assert!(matches!(
        ca.revoke("never.example.test"),
        Err(CaError::NoCertificate { .. })
    ));
}

#[test]
fn renewal_only_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let off = CaSettings {
        allow_auto_renewal: false,
        ..settings()
    };
    let ca = CertificateAuthority::setup(dir.path(), off).unwrap();
    let (_, cert) = ca.generate("node.example.test", &[]).unwrap();
    let before = fs::read(dir.path().join("serial")).unwrap();
    assert!(matches!(
        ca.renew(cert.as_bytes()),
        Err(CaError::RenewalDisabled)
    ));
    assert_eq!(fs::read(dir.path().join("serial")).unwrap(), before);
}

#[test]
fn renewal_refuses_expired_and_not_yet_valid_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let (_, cert) = ca.generate("node.example.test", &[]).unwrap();
    let year = Duration::from_secs(365 * 24 * 60 * 60);
    let future = CertificateAuthority::open(dir.path(), settings())
        .unwrap()
        .with_clock(move || SystemTime::now() + year * 6);
    let err = future.renew(cert.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let past = CertificateAuthority::open(dir.path(), settings())
        .unwrap()
        .with_clock(move || SystemTime::now() - Duration::from_secs(3 * 24 * 60 * 60));
    let err = past.renew(cert.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("not valid yet"), "{err}");
}

#[test]
fn a_250_character_certname_is_signed_once_without_burning_serials() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            autosign: Autosign::On,
            ..settings()
        },
    )
    .unwrap();
    let name = format!("{}.test", "n".repeat(245));
    assert_eq!(name.len(), 250);
    let request = csr(&name);
    let outcome = ca.submit_csr(&name, &request).unwrap();
    assert!(matches!(outcome, CsrOutcome::Signed(_)), "{outcome:?}");
    assert_eq!(
        fs::read_to_string(dir.path().join("serial")).unwrap(),
        "0003"
    );
    let inventory = fs::read_to_string(dir.path().join("inventory.txt")).unwrap();
    // Retries are refused before a serial is reserved.
    for _ in 0..3 {
        assert!(matches!(
            ca.submit_csr(&name, &request),
            Err(CaError::AlreadyHasCertificate { .. })
        ));
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("serial")).unwrap(),
        "0003"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("inventory.txt")).unwrap(),
        inventory
    );
    ca.revoke(&name).unwrap();
    assert!(ca.clean(&name).is_ok());
}

#[test]
fn temp_files_left_by_a_crash_are_swept_at_open() {
    let dir = tempfile::tempdir().unwrap();
    CertificateAuthority::setup(dir.path(), settings()).unwrap();
    let orphans = [
        dir.path().join(".puppet-ca.tmp.AbC123"),
        dir.path().join("signed/.puppet-ca.tmp.XyZ789"),
        dir.path().join("requests/.puppet-ca.tmp.q1w2e3"),
    ];
    // Certificates are written to temp files in signed/ outside the lock, by the threads
    // that signed them: only one older than ten minutes there is a crash's leftover.
    let eleven_minutes_ago = SystemTime::now() - Duration::from_secs(660);
    for o in &orphans {
        fs::write(o, b"half-written").unwrap();
        fs::File::options()
            .write(true)
            .open(o)
            .unwrap()
            .set_modified(eleven_minutes_ago)
            .unwrap();
    }
    let young = dir.path().join("signed/.puppet-ca.tmp.InUse1");
    fs::write(&young, b"being written").unwrap();
    fs::write(dir.path().join("signed/keep.example.test.pem"), b"x").unwrap();
    CertificateAuthority::open(dir.path(), settings()).unwrap();
    for o in &orphans {
        assert!(!o.exists(), "{} not swept", o.display());
    }
    assert!(young.exists(), "a young temp file in signed/ may be in use");
    assert!(dir.path().join("signed/keep.example.test.pem").exists());
}

#[test]
fn private_keys_directory_is_0750_and_keys_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let cadir = tmp.path().join("ca");
    let ca = CertificateAuthority::setup(&cadir, settings()).unwrap();
    let ssldir = tmp.path().join("ssl");
    let (key, cert) = ca.generate("puppet.example.test", &[]).unwrap();
    ca.save_to_ssldir(&ssldir, "puppet.example.test", &key, &cert)
        .unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ssldir.join("private_keys")), 0o750);
    assert_eq!(
        mode(&ssldir.join("private_keys/puppet.example.test.pem")),
        0o600
    );
    assert_eq!(mode(&cadir.join("ca_key.pem")), 0o600);
    assert_eq!(mode(&cadir), 0o750);
}

#[test]
fn bad_subjects_and_wildcard_names_are_typed_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            allow_subject_alt_names: true,
            ..settings()
        },
    )
    .unwrap();
    // A certname Puppet allows as a file name but Puppetserver does not sign.
    let err = ca
        .submit_csr("bad-.example.test", &csr("bad-.example.test"))
        .unwrap_err();
    assert!(matches!(err, CaError::InvalidSubject { .. }), "{err:?}");
    let wildcard = CsrBuilder::new("node.example.test")
        .unwrap()
        .key_type(KeyType::EcP256)
        .dns_alt_names(["*.example.test"])
        .build()
        .unwrap();
    let err = ca
        .submit_csr("node.example.test", wildcard.csr_pem.as_bytes())
        .unwrap_err();
    assert!(matches!(err, CaError::InvalidAltName { .. }), "{err:?}");
    assert!(err.to_string().contains("wildcard"), "{err}");
}
