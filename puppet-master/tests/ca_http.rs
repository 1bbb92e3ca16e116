//! The CA's HTTP side (`/puppet-ca/v1`) through a real TLS connection: CSR submission and
//! lookup, signing and revoking through `certificate_status`, clean, renewal, and Puppet's
//! status codes and plain-text errors. CSRs come from the `openssl` command line.

use std::path::Path;

use puppet_master::testing::TestMaster;

/// A CSR for `cn` made by `openssl req`.
fn openssl_csr(dir: &Path, cn: &str) -> Vec<u8> {
    openssl_csr_with(dir, cn, &[])
}

/// A CSR for `cn` made by `openssl req` with extra arguments (`-addext ...`).
fn openssl_csr_with(dir: &Path, cn: &str, extra: &[&str]) -> Vec<u8> {
    let key = dir.join(format!("{cn}.key"));
    let csr = dir.join(format!("{cn}.csr"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .output()
        .expect("openssl is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(csr).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csr_sign_revoke_clean_over_http() {
    let f = TestMaster::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let anonymous = f.client(None).unwrap();
    let mut conn = anonymous.connect().await.unwrap();

    // The CA certificate and CRL, open to anyone, gzipped as Puppetserver does.
    let ca = conn
        .request("GET", "/puppet-ca/v1/certificate/ca", None, vec![])
        .await
        .unwrap();
    assert_eq!(ca.status, 200);
    assert!(ca.gzipped);
    assert_eq!(ca.content_type.as_deref(), Some("text/plain"));
    assert_eq!(ca.puppet_version.as_deref(), Some("7.23.0"));
    assert_eq!(String::from_utf8(ca.body).unwrap(), f.ca_pem());
    let crl0 = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate_revocation_list/ca",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(crl0.status, 200);
    assert!(String::from_utf8_lossy(&crl0.body).starts_with("-----BEGIN X509 CRL-----"));

    // Autosign is off: the CSR waits; the certificate is not there yet.
    let csr = openssl_csr(tmp.path(), "node1.example.test");
    let put = anonymous
        .connect()
        .await
        .unwrap()
        .request(
            "PUT",
            "/puppet-ca/v1/certificate_request/node1.example.test",
            Some("text/plain"),
            csr.clone(),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200);
    assert!(put.body.is_empty());
    let mut conn = anonymous.connect().await.unwrap();
    let missing = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate/node1.example.test",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        missing.body,
        b"Could not find certificate node1.example.test"
    );
    let pending = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate_request/node1.example.test",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pending.status, 200);
    assert_eq!(pending.body, csr);

    // A garbage CSR: 400 in plain text, nothing stored.
    let garbage = conn
        .request(
            "PUT",
            "/puppet-ca/v1/certificate_request/node2.example.test",
            Some("text/plain"),
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                .to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.content_type.as_deref(), Some("text/plain"));
    assert!(f.ca().csr_pem("node2.example.test").unwrap().is_none());

    // Admin endpoints: refused to anonymous clients and agents, allowed to the admin.
    let status_path = "/puppet-ca/v1/certificate_status/node1.example.test";
    let denied = conn
        .request("GET", status_path, None, vec![])
        .await
        .unwrap();
    assert_eq!(denied.status, 403);
    let agent = f.client_for("agent.example.test").unwrap();
    let denied = agent
        .connect()
        .await
        .unwrap()
        .request("GET", status_path, None, vec![])
        .await
        .unwrap();
    assert_eq!(denied.status, 403);
    let admin = f.client_for("admin.example.test").unwrap();
    let mut admin = admin.connect().await.unwrap();
    let status = admin
        .request("GET", status_path, None, vec![])
        .await
        .unwrap();
    assert_eq!(status.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(json["state"], "requested");

    // Sign through the API: 204, then the certificate is there.
    let sign = br#"{"desired_state":"signed"}"#.to_vec();
    let signed = admin
        .request("PUT", status_path, Some("application/json"), sign.clone())
        .await
        .unwrap();
    assert_eq!(
        signed.status,
        204,
        "{}",
        String::from_utf8_lossy(&signed.body)
    );
    let cert = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate/node1.example.test",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cert.status, 200);
    assert!(String::from_utf8_lossy(&cert.body).starts_with("-----BEGIN CERTIFICATE-----"));
    // Signing again: no request left (409).
    let again = admin
        .request("PUT", status_path, Some("application/json"), sign)
        .await
        .unwrap();
    assert_eq!(again.status, 409);
    assert!(String::from_utf8_lossy(&again.body).contains("without a certificate request"));
    // A bad desired state is a 400.
    let bad = admin
        .request(
            "PUT",
            status_path,
            Some("application/json"),
            br#"{"desired_state":"x"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400);

    // Revoke: 204, the state and the CRL change.
    let revoked = admin
        .request(
            "PUT",
            status_path,
            Some("application/json"),
            br#"{"desired_state":"revoked"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, 204);
    let json: serde_json::Value = serde_json::from_slice(
        &admin
            .request("GET", status_path, None, vec![])
            .await
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(json["state"], "revoked");
    let crl1 = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate_revocation_list/ca",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_ne!(crl1.body, crl0.body);

    // The list, filtered by state.
    let list = admin
        .request(
            "GET",
            "/puppet-ca/v1/certificate_statuses/any?state=revoked",
            None,
            vec![],
        )
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "node1.example.test");

    // Clean through DELETE, and through the clean endpoint.
    let deleted = admin
        .request("DELETE", status_path, None, vec![])
        .await
        .unwrap();
    assert_eq!(deleted.status, 204);
    let gone = admin
        .request("GET", status_path, None, vec![])
        .await
        .unwrap();
    assert_eq!(gone.status, 404);
    f.identity("node3.example.test").unwrap();
    let cleaned = admin
        .request(
            "PUT",
            "/puppet-ca/v1/clean",
            Some("application/json"),
            br#"{"certnames":["node3.example.test"]}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(cleaned.status, 200);
    assert!(
        f.ca()
            .certificate_pem("node3.example.test")
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_renewal_needs_and_renews_the_client_certificate() {
    // Off by default, as Puppetserver 7: 404 with Puppet's error body.
    let off = TestMaster::start().await.unwrap();
    let identity = off.identity("renew.example.test").unwrap();
    let mut conn = off
        .client(Some(&identity))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = conn
        .request(
            "POST",
            "/puppet-ca/v1/certificate_renewal",
            Some("text/plain"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 404);

    let f = TestMaster::builder()
        .ca_settings(|s| s.allow_auto_renewal = true)
        .start()
        .await
        .unwrap();
    let identity = f.identity("renew.example.test").unwrap();
    let mut conn = f.client(Some(&identity)).unwrap().connect().await.unwrap();
    let renewed = conn
        .request(
            "POST",
            "/puppet-ca/v1/certificate_renewal",
            Some("text/plain"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        renewed.status,
        200,
        "{}",
        String::from_utf8_lossy(&renewed.body)
    );
    let pem = String::from_utf8(renewed.body).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_ne!(pem, identity.cert_pem);
    assert_eq!(
        f.ca()
            .certificate_pem("renew.example.test")
            .unwrap()
            .as_deref(),
        Some(pem.as_str())
    );
    // Without a certificate: 403.
    let mut anon = f.client(None).unwrap().connect().await.unwrap();
    let refused = anon
        .request(
            "POST",
            "/puppet-ca/v1/certificate_renewal",
            Some("text/plain"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.content_type, None);
}

/// Puppetserver's `DELETE certificate_status` deletes without revoking; `PUT clean` revokes
/// then deletes, and names (without failing) the certnames it has no certificate for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_does_not_revoke_but_clean_does() {
    let f = TestMaster::start().await.unwrap();
    let mut admin = f
        .client_for("admin.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let crl = |f: &TestMaster| f.ca().crl_pem().unwrap();

    f.identity("deleted.example.test").unwrap();
    let crl_before = crl(&f);
    let path = "/puppet-ca/v1/certificate_status/deleted.example.test";
    let deleted = admin.request("DELETE", path, None, vec![]).await.unwrap();
    assert_eq!(deleted.status, 204);
    assert!(
        f.ca()
            .certificate_pem("deleted.example.test")
            .unwrap()
            .is_none()
    );
    assert_eq!(crl(&f), crl_before, "DELETE must not revoke");
    let again = admin.request("DELETE", path, None, vec![]).await.unwrap();
    assert_eq!(again.status, 404);
    assert_eq!(
        String::from_utf8_lossy(&again.body),
        "Invalid certificate subject."
    );
    let bad = admin
        .request(
            "DELETE",
            "/puppet-ca/v1/certificate_status/Bad..Name",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400);

    f.identity("cleaned.example.test").unwrap();
    let cleaned = admin
        .request(
            "PUT",
            "/puppet-ca/v1/clean",
            Some("application/json"),
            br#"{"certnames":["cleaned.example.test","never.example.test"]}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(cleaned.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&cleaned.body),
        r#"The following certs do not exist and cannot be revoked: ["never.example.test"]"#
    );
    assert!(
        f.ca()
            .certificate_pem("cleaned.example.test")
            .unwrap()
            .is_none()
    );
    assert_ne!(crl(&f), crl_before, "clean revokes before deleting");
}

/// `GET /puppet-ca/v1/expirations`: admins only, JSON as Puppetserver 7 sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expirations_are_served_to_admins() {
    let f = TestMaster::start().await.unwrap();
    let mut agent = f
        .client_for("agent.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = agent
        .request("GET", "/puppet-ca/v1/expirations", None, vec![])
        .await
        .unwrap();
    assert_eq!(refused.status, 403);
    let mut admin = f
        .client_for("admin.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let answer = admin
        .request("GET", "/puppet-ca/v1/expirations", None, vec![])
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let expected = serde_json::to_value(f.ca().expirations().unwrap()).unwrap();
    assert_eq!(json, expected);
    assert!(json["ca-certs"].as_object().is_some_and(|m| !m.is_empty()));
    assert!(json["crls"].as_object().is_some_and(|m| !m.is_empty()));
}

/// Submits a CSR on a connection of its own (the master closes it after a CSR, quirk Q1).
async fn submit(
    client: &puppet_protocol::client::Client,
    name: &str,
    csr: Vec<u8>,
) -> puppet_protocol::client::Answer {
    let mut conn = client.connect().await.unwrap();
    conn.request(
        "PUT",
        &format!("/puppet-ca/v1/certificate_request/{name}"),
        Some("text/plain"),
        csr,
    )
    .await
    .unwrap()
}

/// Regression: a CSR whose subject Puppetserver refuses, or with a wildcard DNS alternative
/// name, was answered 500; Puppetserver answers 400 with its words, in plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_csrs_are_400_with_puppets_words() {
    let f = TestMaster::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let anonymous = f.client(None).unwrap();

    let bad_subject = "web-.example.test";
    let answer = submit(
        &anonymous,
        bad_subject,
        openssl_csr(tmp.path(), bad_subject),
    )
    .await;
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        String::from_utf8_lossy(&answer.body),
        "Subject hostname format is invalid"
    );

    let name = "san.example.test";
    let csr = openssl_csr_with(
        tmp.path(),
        name,
        &[
            "-addext",
            "subjectAltName=DNS:san.example.test,DNS:*.example.test",
        ],
    );
    let answer = submit(&anonymous, name, csr).await;
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.content_type.as_deref(), Some("text/plain"));
    assert!(
        String::from_utf8_lossy(&answer.body).contains(name),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(f.ca().csr_pem(name).unwrap().is_none(), "nothing stored");
}

/// Regression: a CSR over the CA's size limit is 413 (it was 400 on one path and 413 on
/// another).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_csr_is_413() {
    let f = TestMaster::start().await.unwrap();
    let anonymous = f.client(None).unwrap();
    let limit = f.ca().settings().max_csr_bytes;
    let mut body = b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec();
    body.resize(limit + 1, b'A');
    let answer = submit(&anonymous, "big.example.test", body).await;
    assert_eq!(answer.status, 413);
    assert!(f.ca().csr_pem("big.example.test").unwrap().is_none());
}

/// Puppetserver's 409s: signing without a pending request, revoking without a signed
/// certificate, and a manual sign refused by the CSR policy (404 only for a name the CA
/// knows nothing about).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_sign_and_revoke_conflicts_are_409() {
    let f = TestMaster::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let anonymous = f.client(None).unwrap();
    let mut admin = f
        .client_for("admin.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let set = |state: &str| format!(r#"{{"desired_state":"{state}"}}"#).into_bytes();

    // A pending request, never signed: revoking it is a conflict.
    let name = "pending.example.test";
    assert_eq!(
        submit(&anonymous, name, openssl_csr(tmp.path(), name))
            .await
            .status,
        200
    );
    let path = format!("/puppet-ca/v1/certificate_status/{name}");
    let revoke = admin
        .request("PUT", &path, Some("application/json"), set("revoked"))
        .await
        .unwrap();
    assert_eq!(revoke.status, 409);
    assert_eq!(revoke.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        String::from_utf8_lossy(&revoke.body),
        format!("Cannot revoke certificate for host {name} without a signed certificate")
    );

    // A request with alternative names (placed in requests/ as an admin tool would; the CA
    // refuses it on submission): a manual sign refuses it with 409.
    let san = "alt.example.test";
    let csr = openssl_csr_with(
        tmp.path(),
        san,
        &[
            "-addext",
            "subjectAltName=DNS:alt.example.test,DNS:other.example.test",
        ],
    );
    std::fs::write(f.dir().join(format!("ca/requests/{san}.pem")), csr).unwrap();
    let sign = admin
        .request(
            "PUT",
            &format!("/puppet-ca/v1/certificate_status/{san}"),
            Some("application/json"),
            set("signed"),
        )
        .await
        .unwrap();
    assert_eq!(sign.status, 409, "{}", String::from_utf8_lossy(&sign.body));
    assert!(String::from_utf8_lossy(&sign.body).contains("other.example.test"));

    // Nothing at all for the name: 404.
    let nobody = admin
        .request(
            "PUT",
            "/puppet-ca/v1/certificate_status/nobody.example.test",
            Some("application/json"),
            set("signed"),
        )
        .await
        .unwrap();
    assert_eq!(nobody.status, 404);
    assert_eq!(
        String::from_utf8_lossy(&nobody.body),
        "Invalid certificate subject."
    );
}

/// After a CSR, the connection is closed for a Ruby agent (whose Net::HTTP would otherwise
/// wait for the idle timeout, quirk Q1) and kept for other clients, which go on to fetch
/// their certificate on it as they would from Puppetserver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csr_closes_only_for_ruby_agents() {
    let f = TestMaster::builder()
        .ca_settings(|s| s.autosign = puppet_ca::Autosign::On)
        .start()
        .await
        .unwrap();
    let client = f.client(None).unwrap();
    let csr = |name: &str| {
        puppet_ca::CsrBuilder::new(name)
            .unwrap()
            .key_type(puppet_ca::KeyType::EcP256)
            .build()
            .unwrap()
            .csr_pem
            .into_bytes()
    };
    let put = |name: &str| format!("/puppet-ca/v1/certificate_request/{name}");

    let mut conn = client.connect().await.unwrap();
    let ruby = conn
        .request_with(
            "PUT",
            &put("ruby.example.test"),
            &[
                ("content-type", "text/plain"),
                (
                    "user-agent",
                    "Puppet/7.23.0 Ruby/3.1.7-p261 (x86_64-linux-gnu)",
                ),
            ],
            csr("ruby.example.test"),
        )
        .await
        .unwrap();
    assert_eq!(ruby.status, 200);
    assert!(ruby.close, "closed for the Ruby agent");

    let mut conn = client.connect().await.unwrap();
    let other = conn
        .request_with(
            "PUT",
            &put("curl.example.test"),
            &[
                ("content-type", "text/plain"),
                ("user-agent", "curl/7.88.1"),
            ],
            csr("curl.example.test"),
        )
        .await
        .unwrap();
    assert_eq!(other.status, 200);
    assert!(!other.close, "kept for other clients");
    let cert = conn
        .request(
            "GET",
            "/puppet-ca/v1/certificate/curl.example.test",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cert.status, 200);
    assert!(String::from_utf8_lossy(&cert.body).starts_with("-----BEGIN CERTIFICATE-----"));
}
