//! A CA directory made by the real Puppetserver 7.9.5 (`puppetserver ca setup`, captured by
//! `tests/fixtures/capture-puppetserver-ca.sh`: root CA, signing intermediate CA, CRL chain,
//! the server's certificate with `pp_cli_auth`) is opened, listed, signed into and revoked in,
//! and OpenSSL accepts the result with every level's CRL checked.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Command;

use puppet_ca::{CaSettings, CertState, CertificateAuthority};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            fs::copy(&path, &dest).unwrap();
        }
    }
}

fn verify(cadir: &Path, cert: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["verify", "-crl_check_all", "-CAfile"])
        .arg(cadir.join("ca_crt.pem"))
        .arg("-CRLfile")
        .arg(cadir.join("ca_crl.pem"))
        .arg(cert)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn puppetserver_made_directory_is_opened_signed_into_and_revoked_in() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let cadir = dir.path().join("ca");
    copy_dir(&fixtures.join("puppetserver-ca"), &cadir);
    let root_crl_before = fs::read_to_string(cadir.join("ca_crl.pem")).unwrap();
    let infra_before = fs::read(cadir.join("infra_crl.pem")).unwrap();

    let ca = CertificateAuthority::open(&cadir, CaSettings::new("unused when opening")).unwrap();
    // Puppetserver's own certificate, with its authorization extension.
    let list = ca.list().unwrap();
    assert_eq!(list.len(), 1);
    let server = &list[0];
    assert_eq!(
        (server.name.as_str(), server.state),
        ("puppet.fixture.test", CertState::Signed)
    );
    assert_eq!(server.serial_number, Some(1));
    assert_eq!(
        server
            .authorization_extensions
            .get("pp_cli_auth")
            .map(String::as_str),
        Some("true")
    );
    assert!(
        server
            .subject_alt_names
            .contains(&"DNS:puppet.fixture.test".to_string())
    );
    let (ok, out) = verify(&cadir, &cadir.join("signed/puppet.fixture.test.pem"));
    assert!(ok, "Puppetserver's own certificate: {out}");

    // Sign a real agent CSR: it continues Puppetserver's serial ("002") and inventory.
    ca.submit_csr(
        "agent1.example.test",
        &fs::read(fixtures.join("agent-csr-plain.pem")).unwrap(),
    )
    .unwrap();
    ca.sign("agent1.example.test").unwrap();
    assert_eq!(fs::read_to_string(cadir.join("serial")).unwrap(), "0003");
    let inventory = fs::read_to_string(cadir.join("inventory.txt")).unwrap();
    let lines: Vec<&str> = inventory.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with(" /CN=puppet.fixture.test"));
    assert!(
        lines[1].starts_with("0x0002 ") && lines[1].ends_with(" /CN=agent1.example.test"),
        "{inventory}"
    );
    let agent = cadir.join("signed/agent1.example.test.pem");
    let (ok, out) = verify(&cadir, &agent);
    assert!(ok, "{out}");

    // Revoke: the intermediate's CRL is re-signed, the root's CRL stays in the chain as it was.
    ca.revoke("agent1.example.test").unwrap();
    let (ok, out) = verify(&cadir, &agent);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let chain = fs::read_to_string(cadir.join("ca_crl.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN X509 CRL").count(), 2);
    let blocks = |t: &str| {
        t.split("-----END X509 CRL-----")
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (before, after) = (blocks(&root_crl_before), blocks(&chain));
    assert_ne!(
        before[0], after[0],
        "the intermediate's CRL was not re-signed"
    );
    assert_eq!(before[1], after[1], "the root's CRL changed");
    assert_eq!(
        fs::read(cadir.join("infra_crl.pem")).unwrap(),
        infra_before,
        "an agent is not infrastructure"
    );
    assert_eq!(
        ca.status("agent1.example.test").unwrap().unwrap().state,
        CertState::Revoked
    );
    let (ok, out) = verify(&cadir, &cadir.join("signed/puppet.fixture.test.pem"));
    assert!(ok, "Puppetserver's certificate after our revocation: {out}");
}
