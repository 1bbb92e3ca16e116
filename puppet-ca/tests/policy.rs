//! Autosign policies, CRL refresh, renewal refusals, and concurrent signing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use der::Decode;
use puppet_ca::{
    Autosign, CaError, CaSettings, CertState, CertificateAuthority, CsrOutcome, KeyType,
};
use x509_cert::crl::CertificateList;

use crate::support::{fixture, openssl_csr};

fn settings(autosign: Autosign) -> CaSettings {
    CaSettings {
        key: KeyType::EcP256,
        autosign,
        allow_auto_renewal: true,
        ..CaSettings::new("Puppet CA: policy.test")
    }
}

#[test]
fn autosign_off_on_and_whitelist() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("agent-csr-plain.pem");
    let ca = CertificateAuthority::setup(dir.path(), settings(Autosign::Off)).unwrap();
    assert_eq!(
        ca.submit_csr("agent1.example.test", &plain).unwrap(),
        CsrOutcome::Pending
    );
    assert_eq!(
        ca.status("agent1.example.test").unwrap().unwrap().state,
        CertState::Requested
    );
    ca.clean("agent1.example.test").unwrap();

    let conf = dir.path().join("autosign.conf");
    let ca =
        CertificateAuthority::open(dir.path(), settings(Autosign::Globs(conf.clone()))).unwrap();
    // Missing whitelist: nothing is signed.
    assert_eq!(
        ca.submit_csr("agent1.example.test", &plain).unwrap(),
        CsrOutcome::Pending
    );
    ca.clean("agent1.example.test").unwrap();
    fs::write(&conf, "# autosign.conf\n*.other.test\n").unwrap();
    assert_eq!(
        ca.submit_csr("agent1.example.test", &plain).unwrap(),
        CsrOutcome::Pending
    );
    ca.clean("agent1.example.test").unwrap();
    fs::write(&conf, "# autosign.conf\n*.example.test\n").unwrap();
    let CsrOutcome::Signed(pem) = ca.submit_csr("agent1.example.test", &plain).unwrap() else {
        panic!("whitelisted")
    };
    assert_eq!(
        ca.certificate_pem("agent1.example.test").unwrap(),
        Some(pem)
    );
    assert_eq!(
        ca.csr_pem("agent1.example.test").unwrap(),
        None,
        "autosigned CSR left in requests/"
    );
}

#[test]
fn autosign_policy_executable_gets_certname_and_csr() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("policy.log");
    let policy = dir.path().join("policy.sh");
    // Signs names starting with "ok-" whose CSR arrives on stdin; logs what it was given.
    fs::write(
        &policy,
        format!(
            "#!/bin/sh\ncsr=$(cat)\necho \"$1 $(printf '%s' \"$csr\" | head -1)\" >> {}\ncase \"$1\" in ok-*) exit 0;; *) exit 1;; esac\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        Autosign::from_setting(policy.to_str().unwrap()),
        Autosign::Executable(policy.clone())
    );
    let ca = CertificateAuthority::setup(
        &dir.path().join("ca"),
        settings(Autosign::Executable(policy)),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    assert!(matches!(
        ca.submit_csr(
            "ok-1.example.test",
            &openssl_csr(work.path(), "ok-1.example.test", &[])
        )
        .unwrap(),
        CsrOutcome::Signed(_)
    ));
    assert_eq!(
        ca.submit_csr(
            "no-1.example.test",
            &openssl_csr(work.path(), "no-1.example.test", &[])
        )
        .unwrap(),
        CsrOutcome::Pending
    );
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "ok-1.example.test -----BEGIN CERTIFICATE REQUEST-----\nno-1.example.test -----BEGIN CERTIFICATE REQUEST-----\n"
    );

    let missing = CertificateAuthority::open(
        &dir.path().join("ca"),
        settings(Autosign::Executable("/nonexistent/policy".into())),
    )
    .unwrap();
    let err = missing
        .submit_csr(
            "ok-2.example.test",
            &openssl_csr(work.path(), "ok-2.example.test", &[]),
        )
        .unwrap_err();
    assert!(matches!(err, CaError::Autosign { .. }), "{err:?}");
}

fn crl_number_and_next_update(ca: &CertificateAuthority) -> (Vec<u8>, std::time::SystemTime) {
    let crl = CertificateList::from_der(
        &der::pem::decode_vec(ca.crl_pem().unwrap().as_bytes())
            .unwrap()
            .1,
    )
    .unwrap();
    let number = crl.tbs_cert_list.crl_extensions.unwrap()[0]
        .extn_value
        .as_bytes()
        .to_vec();
    (
        number,
        crl.tbs_cert_list.next_update.unwrap().to_system_time(),
    )
}

#[test]
fn crl_is_resigned_before_its_next_update_even_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    // Fresh CRLs (5 years) are served as they are.
    let ca = CertificateAuthority::setup(dir.path(), settings(Autosign::Off)).unwrap();
    let first = ca.crl_pem().unwrap();
    assert_eq!(ca.crl_pem().unwrap(), first);

    // A CRL valid 6 s with a 3 s refresh window: once inside the window it is re-signed with
    // the next CRL number and a next update in the future, without any revocation.
    let short = CaSettings {
        crl_ttl: Duration::from_secs(6),
        crl_refresh_before: Duration::from_secs(3),
        ..settings(Autosign::Off)
    };
    // The CAs read the time from a clock the test moves on (no sleeping).
    let offset = Arc::new(AtomicU64::new(0));
    let clock = {
        let offset = offset.clone();
        move || SystemTime::now() + Duration::from_millis(offset.load(Ordering::SeqCst))
    };
    let ca = CertificateAuthority::open(dir.path(), short.clone())
        .unwrap()
        .with_clock(clock.clone());
    // A second CA set up with those settings: its infrastructure CRL is short-lived too.
    let dir2 = tempfile::tempdir().unwrap();
    let ca2 = CertificateAuthority::setup(dir2.path(), short)
        .unwrap()
        .with_clock(clock);
    ca.generate("a.example.test", &[]).unwrap();
    ca.revoke("a.example.test").unwrap(); // CRL number 1, next update in 6 s
    let (n1, next1) = crl_number_and_next_update(&ca);
    assert_eq!(n1, [2, 1, 1]);
    assert_eq!(crl_number_and_next_update(&ca).0, n1, "re-signed too early");
    offset.store(3100, Ordering::SeqCst);
    let (n2, next2) = crl_number_and_next_update(&ca);
    assert_eq!(n2, [2, 1, 2], "CRL not re-signed inside the refresh window");
    assert!(next2 > next1);
    assert_eq!(
        ca.status("a.example.test").unwrap().unwrap().state,
        CertState::Revoked,
        "re-signing lost the entry"
    );
    // The infrastructure CRL is re-signed the same way: not the first CA's (made at setup with
    // 5 years), the second one's.
    let infra = |ca: &CertificateAuthority| {
        let crl = CertificateList::from_der(
            &der::pem::decode_vec(ca.infra_crl_pem().unwrap().as_bytes())
                .unwrap()
                .1,
        )
        .unwrap();
        crl.tbs_cert_list.crl_extensions.unwrap()[0]
            .extn_value
            .as_bytes()
            .to_vec()
    };
    assert_eq!(infra(&ca), [2, 1, 0], "a 5-year infra CRL is not re-signed");
    assert_eq!(
        infra(&ca2),
        [2, 1, 1],
        "the infra CRL was not re-signed near its next update"
    );
}

#[test]
fn renewal_refuses_foreign_and_revoked_certificates() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(a.path(), settings(Autosign::Off)).unwrap();
    let other = CertificateAuthority::setup(b.path(), settings(Autosign::Off)).unwrap();
    let (_, foreign) = other.generate("x.example.test", &[]).unwrap();
    assert!(matches!(
        ca.renew(foreign.as_bytes()),
        Err(CaError::RenewalRefused { .. })
    ));
    let (_, mine) = ca.generate("y.example.test", &[]).unwrap();
    ca.revoke("y.example.test").unwrap();
    assert!(matches!(
        ca.renew(mine.as_bytes()),
        Err(CaError::RenewalRefused { .. })
    ));
    assert!(matches!(
        ca.renew(b"garbage"),
        Err(CaError::Malformed { .. })
    ));
}

#[test]
fn threads_signing_at_once_never_share_a_serial() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertificateAuthority::setup(dir.path(), settings(Autosign::On)).unwrap());
    let work = Arc::new(tempfile::tempdir().unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (ca, work) = (Arc::clone(&ca), Arc::clone(&work));
            std::thread::spawn(move || {
                for i in 0..5 {
                    let name = format!("t{t}-{i}.example.test");
                    let csr = openssl_csr(work.path(), &name, &[]);
                    assert!(matches!(
                        ca.submit_csr(&name, &csr).unwrap(),
                        CsrOutcome::Signed(_)
                    ));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let serials: BTreeSet<u64> = ca
        .list()
        .unwrap()
        .iter()
        .map(|s| s.serial_number.unwrap())
        .collect();
    assert_eq!(serials, (2..22).collect());
    assert_eq!(
        fs::read_to_string(dir.path().join("serial")).unwrap(),
        "0016"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("inventory.txt"))
            .unwrap()
            .lines()
            .count(),
        21
    );
}

#[test]
fn files_keep_the_owner_of_the_ca_directory() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let cadir = dir.path().join("ca");
    let ca = CertificateAuthority::setup(&cadir, settings(Autosign::On)).unwrap();
    // Hand the directory and its files to another user, as Puppetserver's `puppet` owns them.
    let mut paths = vec![cadir.clone()];
    for d in [cadir.clone(), cadir.join("signed"), cadir.join("requests")] {
        paths.extend(fs::read_dir(d).unwrap().map(|e| e.unwrap().path()));
    }
    let given = paths
        .iter()
        .all(|p| std::os::unix::fs::chown(p, Some(4242), Some(4242)).is_ok());
    ca.generate("a.example.test", &[]).unwrap();
    ca.revoke("a.example.test").unwrap();
    let me = fs::metadata(dir.path()).unwrap();
    // As root the files stay the directory owner's; otherwise (chown refused) they are ours.
    let want = if given {
        (4242, 4242)
    } else {
        (me.uid(), me.gid())
    };
    for f in [
        "serial",
        "inventory.txt",
        "ca_crl.pem",
        "signed/a.example.test.pem",
        ".puppet-ca.lock",
    ] {
        let m = fs::metadata(cadir.join(f)).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            want,
            "{f} owner (directory given away: {given})"
        );
    }
}

#[test]
fn racing_submissions_for_one_name_issue_one_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertificateAuthority::setup(dir.path(), settings(Autosign::On)).unwrap());
    let work = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let name = format!("race{round}.example.test");
        let csrs: Vec<Vec<u8>> = (0..2)
            .map(|i| {
                let sub = work.path().join(format!("{round}-{i}"));
                fs::create_dir(&sub).unwrap();
                openssl_csr(&sub, &name, &[])
            })
            .collect();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = csrs
                .iter()
                .map(|csr| s.spawn(|| ca.submit_csr(&name, csr)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let signed = results
            .iter()
            .filter(|r| matches!(r, Ok(CsrOutcome::Signed(_))))
            .count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(CaError::AlreadyHasCertificate { .. })))
            .count();
        assert_eq!((signed, refused), (1, 1), "round {round}: {results:?}");
        let Some(Ok(CsrOutcome::Signed(pem))) = results
            .iter()
            .find(|r| matches!(r, Ok(CsrOutcome::Signed(_))))
        else {
            unreachable!()
        };
        assert_eq!(
            ca.certificate_pem(&name).unwrap().as_ref(),
            Some(pem),
            "round {round}: the file is not the winner's certificate"
        );
    }
    let inventory = fs::read_to_string(dir.path().join("inventory.txt")).unwrap();
    let serials: Vec<&str> = inventory
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let unique: BTreeSet<&str> = serials.iter().copied().collect();
    assert_eq!(serials.len(), unique.len(), "a serial was recorded twice");
    assert_eq!(serials.len(), 11, "the CA and one certificate per round");
}

#[test]
fn infrastructure_certnames_are_revoked_in_the_infra_crl_too() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::setup(dir.path(), settings(Autosign::Off)).unwrap();
    fs::write(
        dir.path().join("infra_inventory.txt"),
        "compiler1.example.test\n",
    )
    .unwrap();
    ca.generate("compiler1.example.test", &[]).unwrap();
    ca.generate("agent1.example.test", &[]).unwrap();
    ca.revoke("compiler1.example.test").unwrap();
    ca.revoke("agent1.example.test").unwrap();
    let serials = |file: &str| -> Vec<Vec<u8>> {
        let pem = fs::read_to_string(dir.path().join(file)).unwrap();
        let crl =
            CertificateList::from_der(&der::pem::decode_vec(pem.as_bytes()).unwrap().1).unwrap();
        crl.tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes().to_vec())
            .collect()
    };
    assert_eq!(serials("ca_crl.pem"), [vec![2], vec![3]]);
    assert_eq!(
        serials("infra_crl.pem"),
        [vec![2]],
        "only the infrastructure certname"
    );
}

#[test]
fn hung_autosign_policy_is_killed_and_the_csr_kept_pending() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("policy.pid");
    let policy = dir.path().join("hang.sh");
    // Never reads its input, never exits (exec: the policy process itself is the sleeper).
    fs::write(
        &policy,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 600\n",
            pidfile.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755)).unwrap();
    let ca = CertificateAuthority::setup(
        &dir.path().join("ca"),
        CaSettings {
            autosign_timeout: Duration::from_secs(1),
            ..settings(Autosign::Executable(policy))
        },
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let csr = openssl_csr(work.path(), "hang.example.test", &[]);
    assert_eq!(
        ca.submit_csr("hang.example.test", &csr).unwrap(),
        CsrOutcome::Pending
    );
    assert!(ca.certificate_pem("hang.example.test").unwrap().is_none());
    assert!(ca.csr_pem("hang.example.test").unwrap().is_some());
    // On a very loaded machine the policy may be killed before it writes its pid.
    if let Ok(pid) = fs::read_to_string(&pidfile) {
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "the hung policy (pid {}) is still there",
            pid.trim()
        );
    }
    assert_eq!(
        CaSettings::new("x").autosign_timeout,
        Duration::from_secs(30)
    );
}

fn not_after(pem: &str) -> std::time::SystemTime {
    let der = der::pem::decode_vec(pem.as_bytes()).unwrap().1;
    x509_cert::Certificate::from_der(&der)
        .unwrap()
        .tbs_certificate
        .validity
        .not_after
        .to_system_time()
}

#[test]
fn renewal_uses_auto_renewal_cert_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let day = Duration::from_secs(24 * 60 * 60);
    assert_eq!(CaSettings::new("x").auto_renewal_cert_ttl, day * 90);
    let ca = CertificateAuthority::setup(
        dir.path(),
        CaSettings {
            auto_renewal_cert_ttl: day * 10,
            ..settings(Autosign::Off)
        },
    )
    .unwrap();
    let now = std::time::SystemTime::now();
    let (_, old) = ca.generate("renew.example.test", &[]).unwrap();
    let first = not_after(&old).duration_since(now).unwrap();
    assert!(first > day * 364 * 5, "generate uses ca_ttl: {first:?}");
    let new = ca.renew(old.as_bytes()).unwrap();
    let renewed = not_after(&new).duration_since(now).unwrap();
    assert!(
        renewed > day * 9 && renewed <= day * 10 + Duration::from_secs(60),
        "renewal uses auto_renewal_cert_ttl: {renewed:?}"
    );
}
