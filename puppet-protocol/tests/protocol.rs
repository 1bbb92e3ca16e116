//! The protocol pieces without a network: paths, forms, negotiation and error bodies
//! (property tests: no input panics).

use proptest::prelude::*;
use puppet_protocol::form::{CatalogRequest, Params};
use puppet_protocol::{Endpoint, ProtocolError, content};

proptest! {
    #[test]
    fn endpoint_parse_never_panics_and_never_yields_dot_dot(path in "(/[a-z_%.0-9/-]{0,40}){0,6}") {
        for prefix in ["", "/puppet/v3/file_content", "/puppet/v3/file_metadatas/modules", "/puppet-ca/v1/certificate"] {
            let full = format!("{prefix}{path}");
            if let Ok(Endpoint::FileContent(p) | Endpoint::FileMetadatas(p)) = Endpoint::parse(&full) {
                prop_assert!(!p.split('/').any(|s| s == ".." || s == "."), "{full} gave {p}");
            }
        }
    }

    #[test]
    fn forms_never_panic(body in "[a-z_=&%0-9A-F+.]{0,200}") {
        if let Ok(params) = Params::parse(&body) {
            let _ = CatalogRequest::from_params(&params);
        }
    }

    #[test]
    fn glob_match_agrees_with_the_naive_definition(pattern in "[ab*?]{0,8}", name in "[ab]{0,8}") {
        fn naive(p: &[u8], n: &[u8]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some(b'*'), _) => naive(&p[1..], n) || (!n.is_empty() && naive(p, &n[1..])),
                (Some(b'?'), Some(_)) => naive(&p[1..], &n[1..]),
                (Some(a), Some(b)) if a == b => naive(&p[1..], &n[1..]),
                _ => false,
            }
        }
        prop_assert_eq!(
            puppet_protocol::files::glob_match(&pattern, &name),
            naive(pattern.as_bytes(), name.as_bytes())
        );
    }

    #[test]
    fn negotiation_never_panics(accept in "[a-z/+*;=., 0-9]{0,80}") {
        let _ = content::negotiate(Some(&accept), true);
        let _ = content::accepts_gzip(Some(&accept));
    }
}

#[test]
fn double_encoded_facts_as_the_agent_sends_them() {
    // The agent URL-encodes the facts JSON, then the form encoding encodes it again.
    let facts = r#"{"name":"n1.example.test","values":{"os":{"family":"Debian"},"clientcert":"n1.example.test"},"timestamp":"2026-11-22T17:46:14.598794758+00:00","expiration":"2026-11-22T18:16:14.598844758+00:00"}"#;
    let once: String = facts
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let twice = once.replace('%', "%25");
    let body = format!(
        "facts_format=application%2Fjson&facts={twice}&environment=production&configured_environment=production&check_environment=true&transaction_uuid=5d1e&job_uuid=&static_catalog=true&checksum_type=sha256.sha384.sha512.sha224.md5"
    );
    let req = CatalogRequest::from_params(&Params::parse(&body).unwrap()).unwrap();
    let got = req.facts.unwrap();
    assert_eq!(got["values"]["os"]["family"], "Debian");
    assert_eq!(req.environment.as_deref(), Some("production"));
    assert_eq!(req.job_uuid, None);
    assert!(req.static_catalog);
    assert_eq!(
        req.checksum_types,
        ["sha256", "sha384", "sha512", "sha224", "md5"]
    );
}

#[test]
fn facts_in_another_format_are_refused() {
    let p = Params::parse("facts_format=text%2Fyaml&facts=x").unwrap();
    let err = CatalogRequest::from_params(&p).unwrap_err();
    assert_eq!(err.status(), 415);
}

#[test]
fn error_bodies_as_puppetserver_sends_them() {
    let cases = [
        ProtocolError::NotFound("Could not find file_metadata modules/ppdemo/nope.txt".into()),
        ProtocolError::BadRequest("Invalid file path \"a/../b\"".into()),
        ProtocolError::Forbidden {
            path: "/puppet/v3/node/other.example.test".into(),
            method: "get".into(),
        },
        ProtocolError::TooLarge {
            size: 2_000_000,
            limit: 1_000_000,
        },
        ProtocolError::CaNotFound("Could not find certificate manual1.example.org".into()),
    ];
    let rendered: Vec<_> = cases
        .iter()
        .map(|e| serde_json::json!({"status": e.status(), "content_type": e.body().0, "body": e.body().1}))
        .collect();
    insta::assert_json_snapshot!(rendered);
}

#[test]
fn puppetserver_default_auth_rules() {
    use puppet_protocol::{AuthPolicy, ClientIdentity};
    let policy = AuthPolicy {
        admin_certnames: vec!["admin.example.test".into()],
    };
    let who = |name: Option<&str>, cli_auth: bool| ClientIdentity {
        certname: name.map(String::from),
        cli_auth,
    };
    let anonymous = who(None, false);
    let node = who(Some("n1.example.test"), false);
    let admin = who(Some("admin.example.test"), false);
    let cli = who(Some("ops.example.test"), true);
    let ok = |path: &str, method: &str, c: &ClientIdentity| {
        policy
            .check(&Endpoint::parse(path).unwrap(), method, path, c)
            .is_ok()
    };
    // CA bootstrap and status: open.
    for path in [
        "/puppet-ca/v1/certificate/ca",
        "/puppet-ca/v1/certificate_revocation_list/ca",
        "/puppet-ca/v1/certificate_request/n9.example.test",
        "/status/v1/simple",
        "/puppet/v3/status/master",
    ] {
        assert!(ok(path, "GET", &anonymous), "{path}");
    }
    // Own documents only.
    for path in [
        "/puppet/v3/node/n1.example.test",
        "/puppet/v3/catalog/n1.example.test",
        "/puppet/v3/facts/n1.example.test",
        "/puppet/v3/report/n1.example.test",
    ] {
        assert!(ok(path, "GET", &node), "{path}");
        assert!(!ok(path, "GET", &anonymous), "{path}");
        assert!(!ok(path, "GET", &admin), "{path}: admins are not the node");
    }
    // Files and environments: any certificate.
    assert!(ok("/puppet/v3/file_content/modules/m/x", "GET", &node));
    assert!(!ok(
        "/puppet/v3/file_content/modules/m/x",
        "GET",
        &anonymous
    ));
    assert!(ok("/puppet/v3/environments", "GET", &node));
    // CA admin: configured certnames and pp_cli_auth only.
    for path in [
        "/puppet-ca/v1/certificate_status/n1.example.test",
        "/puppet-ca/v1/certificate_statuses/any",
        "/puppet-ca/v1/clean",
    ] {
        assert!(ok(path, "PUT", &admin), "{path}");
        assert!(ok(path, "PUT", &cli), "{path}");
        assert!(!ok(path, "PUT", &node), "{path}");
        assert!(!ok(path, "PUT", &anonymous), "{path}");
    }
    let denied = policy
        .check(
            &Endpoint::Catalog("x".into()),
            "POST",
            "/puppet/v3/catalog/x",
            &node,
        )
        .unwrap_err();
    assert_eq!(denied.status(), 403);
    assert_eq!(
        denied.to_string(),
        "Forbidden request: /puppet/v3/catalog/x (method :post). Please see the server logs for details."
    );
}

/// The one mapping of CA errors to HTTP: the status Puppetserver's CA answers each with in
/// each operation, always plain text on the CA API.
#[cfg(feature = "server")]
#[test]
fn ca_errors_map_as_puppetserver_answers_them() {
    use puppet_ca::CaError;
    use puppet_protocol::error::CaOperation as Op;
    let name = || "n1.example.test".to_string();
    let cases: Vec<(Op, CaError, u16)> = vec![
        (
            Op::SubmitCsr,
            CaError::InvalidCertname {
                name: name(),
                reason: "x",
            },
            400,
        ),
        (
            Op::SubmitCsr,
            CaError::CsrTooLarge {
                certname: name(),
                size: 2,
                limit: 1,
            },
            413,
        ),
        (
            Op::SubmitCsr,
            CaError::InvalidSubject {
                certname: name(),
                reason: "Subject hostname format is invalid".into(),
            },
            400,
        ),
        (
            Op::SubmitCsr,
            CaError::InvalidAltName {
                certname: name(),
                reason: "wildcard".into(),
            },
            400,
        ),
        (
            Op::SubmitCsr,
            CaError::AlreadyHasCertificate {
                certname: name(),
                state: "signed",
            },
            400,
        ),
        (
            Op::Sign,
            CaError::InvalidAltName {
                certname: name(),
                reason: "wildcard".into(),
            },
            409,
        ),
        (Op::Sign, CaError::NoCsr { certname: name() }, 409),
        (Op::Read, CaError::NoCsr { certname: name() }, 404),
        (Op::Revoke, CaError::NoCertificate { certname: name() }, 409),
        (Op::Read, CaError::NoCertificate { certname: name() }, 404),
        (
            Op::Delete,
            CaError::NothingToClean { certname: name() },
            404,
        ),
        (
            Op::Renew,
            CaError::RenewalRefused {
                certname: name(),
                reason: "x".into(),
            },
            403,
        ),
        (Op::Read, CaError::Crypto("x".into()), 500),
    ];
    for (op, e, status) in cases {
        let text = e.to_string();
        let err = puppet_protocol::ProtocolError::ca(op, e);
        assert_eq!(err.status(), status, "{op:?} {text}");
        let (ct, _) = err.body_for(true);
        assert_eq!(ct, Some("text/plain"));
        // The CA's error stays the source, typed.
        let source = std::error::Error::source(&err).unwrap();
        assert!(source.is::<CaError>());
    }
    let delete = puppet_protocol::ProtocolError::ca(
        Op::Delete,
        CaError::NothingToClean { certname: name() },
    );
    assert_eq!(delete.to_string(), "Invalid certificate subject.");
}

/// A custom service's error is kept as the source, not flattened into a string.
#[test]
fn service_errors_keep_their_source() {
    #[derive(Debug, thiserror::Error)]
    #[error("inventory database unreachable")]
    struct Unreachable;
    let err = ProtocolError::service(Unreachable);
    assert_eq!(err.status(), 500);
    assert_eq!(
        err.to_string(),
        "Server Error: inventory database unreachable"
    );
    assert!(std::error::Error::source(&err).unwrap().is::<Unreachable>());
    let (_, body) = err.body();
    assert!(body.contains("RUNTIME_ERROR"));
}

/// `FileMetadata` reads and writes the metadata Puppetserver inlines in a static catalog
/// (captured in fixtures/catalogs/static.json) byte for byte: keys, order, nulls.
#[test]
fn file_metadata_round_trips_puppetservers_documents() {
    use puppet_protocol::files::FileMetadata;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/catalogs/static.json");
    let catalog: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut entries: Vec<&serde_json::Value> =
        catalog["metadata"].as_object().unwrap().values().collect();
    for by_source in catalog["recursive_metadata"].as_object().unwrap().values() {
        for list in by_source.as_object().unwrap().values() {
            entries.extend(list.as_array().unwrap());
        }
    }
    assert!(entries.len() > 3, "{}", entries.len());
    for entry in entries {
        let typed: FileMetadata = serde_json::from_value(entry.clone()).unwrap();
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(entry).unwrap()
        );
    }
}

/// `glob_match` agrees with Ruby's own `File.fnmatch` (what Puppet matches `ignore` with) on
/// a few thousand generated pattern/name pairs. Skipped with one line when `ruby` is absent,
/// unless `PUPPET_RS_REQUIRE_REAL=1`.
#[test]
fn glob_match_agrees_with_rubys_fnmatch() {
    use std::io::Write;
    let have_ruby = std::process::Command::new("sh")
        .args(["-c", "command -v ruby"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_ruby {
        if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
            panic!("ruby is required (PUPPET_RS_REQUIRE_REAL=1)");
        }
        eprintln!("skipped: ruby (the real File.fnmatch) is not installed");
        return;
    }
    // A small deterministic generator (xorshift): patterns over glob syntax, names over a
    // few characters including a leading dot.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let pattern_chars = ['a', 'b', '.', '*', '?', '[', ']', '!', '-', 'c'];
    let name_chars = ['a', 'b', 'c', '.', '-'];
    let mut pairs = Vec::new();
    for _ in 0..4000 {
        let p: String = (0..next(7))
            .map(|_| pattern_chars[next(pattern_chars.len())])
            .collect();
        let n: String = (0..next(6))
            .map(|_| name_chars[next(name_chars.len())])
            .collect();
        pairs.push((p, n));
    }
    let mut child = std::process::Command::new("ruby")
        .args([
            "-e",
            "STDIN.each_line { |l| p, n = l.chomp.split(\"\\t\", -1); puts File.fnmatch(p, n) }",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for (p, n) in &pairs {
        input.push_str(&format!("{p}\t{n}\n"));
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let answers: Vec<bool> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "true")
        .collect();
    assert_eq!(answers.len(), pairs.len());
    let wrong: Vec<_> = pairs
        .iter()
        .zip(&answers)
        .filter(|((p, n), ruby)| puppet_protocol::files::glob_match(p, n) != **ruby)
        .take(10)
        .collect();
    assert!(wrong.is_empty(), "differs from Ruby: {wrong:?}");
}
