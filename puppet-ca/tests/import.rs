//! Import of an external CA with an intermediate chain made by OpenSSL (root → intermediate),
//! then signing and revoking with the imported intermediate, checked by OpenSSL with
//! `-crl_check_all` (every level's CRL).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Command;

use puppet_ca::{CaError, CaSettings, CertificateAuthority, KeyType};

fn sh(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CRL for the CA `name` (files name.pem / name.key) with `openssl ca -gencrl`.
fn crl(dir: &Path, name: &str) {
    fs::write(dir.join(format!("{name}.index")), "").unwrap();
    fs::write(dir.join(format!("{name}.crlnumber")), "01\n").unwrap();
    let conf = format!(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = {name}.index\ncrlnumber = {name}.crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n"
    );
    fs::write(dir.join(format!("{name}.cnf")), conf).unwrap();
    let (cnf, key, cert, out) = (
        format!("{name}.cnf"),
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("{name}.crl"),
    );
    sh(
        dir,
        &[
            "ca", "-gencrl", "-config", &cnf, "-keyfile", &key, "-cert", &cert, "-out", &out,
        ],
    );
}

fn external_chain(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut root = vec![
        "req",
        "-x509",
        "-days",
        "3650",
        "-subj",
        "/CN=External Root CA",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
    ];
    root.extend_from_slice(&ec);
    root.extend_from_slice(&[
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    sh(dir, &root);
    let mut int = vec![
        "req",
        "-new",
        "-subj",
        "/CN=Puppet CA: intermediate.example.test",
        "-keyout",
        "int.key",
        "-out",
        "int.csr",
    ];
    int.extend_from_slice(&ec);
    sh(dir, &int);
    fs::write(
        dir.join("int.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    sh(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-extfile",
            "int.ext",
            "-out",
            "int.pem",
        ],
    );
    crl(dir, "root");
    crl(dir, "int");
}

fn cat(dir: &Path, files: &[&str]) -> Vec<u8> {
    files
        .iter()
        .flat_map(|f| fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn imported_intermediate_ca_signs_and_revokes_with_its_chain() {
    let ext = tempfile::tempdir().unwrap();
    external_chain(ext.path());
    let bundle = cat(ext.path(), &["int.pem", "root.pem"]);
    let crls = cat(ext.path(), &["int.crl", "root.crl"]);
    let key = fs::read(ext.path().join("int.key")).unwrap();
    let settings = CaSettings {
        key: KeyType::EcP256,
        ..CaSettings::new("unused for imports")
    };

    // Refusals first: nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let cadir = dir.path().join("ca");
    let root_key = fs::read(ext.path().join("root.key")).unwrap();
    let reversed = cat(ext.path(), &["root.pem", "int.pem"]);
    let only_root_crl = fs::read(ext.path().join("root.crl")).unwrap();
    let bad: [(&[u8], &[u8], &[u8]); 3] = [
        (&bundle, &root_key, &crls),
        (&reversed, &key, &crls),
        (&bundle, &key, &only_root_crl),
    ];
    for (b, k, c) in bad {
        let err = CertificateAuthority::import(&cadir, b, k, c, settings.clone()).unwrap_err();
        assert!(
            matches!(err, CaError::Key(_) | CaError::Malformed { .. }),
            "{err:?}"
        );
        assert!(!cadir.join("ca_crt.pem").exists() && !cadir.join("ca_key.pem").exists());
    }

    let ca = CertificateAuthority::import(&cadir, &bundle, &key, &crls, settings.clone()).unwrap();
    assert_eq!(fs::read_to_string(cadir.join("serial")).unwrap(), "0001");
    assert_eq!(
        ca.ca_certificate_pem()
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    assert!(matches!(
        CertificateAuthority::import(&cadir, &bundle, &key, &crls, settings),
        Err(CaError::CaExists { .. })
    ));

    let (_, leaf) = ca.generate("node.example.test", &[]).unwrap();
    let leaf_path = dir.path().join("leaf.pem");
    fs::write(&leaf_path, &leaf).unwrap();
    let verify = |crl_file: &Path| {
        Command::new("openssl")
            .args(["verify", "-crl_check_all", "-CAfile"])
            .arg(cadir.join("ca_crt.pem"))
            .arg("-CRLfile")
            .arg(crl_file)
            .arg(&leaf_path)
            .output()
            .unwrap()
    };
    let crl_now = dir.path().join("crl.pem");
    fs::write(&crl_now, ca.crl_pem().unwrap()).unwrap();
    let out = verify(&crl_now);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ca.revoke("node.example.test").unwrap();
    let chain = ca.crl_pem().unwrap();
    assert_eq!(
        chain.matches("BEGIN X509 CRL").count(),
        2,
        "the root's CRL was dropped"
    );
    let body = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    let root_crl = fs::read_to_string(ext.path().join("root.crl")).unwrap();
    assert!(
        body(&chain).contains(&body(&root_crl)),
        "the root's CRL changed"
    );
    fs::write(&crl_now, &chain).unwrap();
    let out = verify(&crl_now);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("certificate revoked"),
        "{text}"
    );
}
