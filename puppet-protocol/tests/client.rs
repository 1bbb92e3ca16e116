//! The typed client against the server framework (with small in-test services), against a
//! bare TLS peer that records what the client sends, and against the catalog request body a
//! real Puppet 7.23 agent sent (`fixtures/agent-catalog-request.form`, captured with
//! `--http_debug` from `puppet agent -t` against Puppetserver 7.9.5).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{self, HELLO, start};
use puppet_protocol::client::{CatalogOptions, Client, ClientError, MetadataQuery, TimeoutKind};
use puppet_protocol::form::{CatalogRequest, Params};
use puppet_protocol::server::Limits;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AGENT_FORM: &[u8] = include_bytes!("fixtures/agent-catalog-request.form");
const AGENT1_CSR: &str = include_str!("fixtures/agent1-csr.pem");

fn agent_request() -> CatalogRequest {
    let text = std::str::from_utf8(AGENT_FORM).unwrap();
    CatalogRequest::from_params(&Params::parse(text).unwrap()).unwrap()
}

#[test]
fn encoder_writes_the_agents_form_body_byte_for_byte() {
    let request = agent_request();
    assert_eq!(
        request.transaction_uuid.as_deref(),
        Some("96d54227-48eb-40cf-a3a1-ed73c4f4a121")
    );
    assert!(request.check_environment && request.static_catalog);
    assert_eq!(request.to_form().unwrap().as_bytes(), AGENT_FORM);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_against_the_framework() {
    let m = start(Limits::default()).await;
    let client = m.client(Some(m.identity("n1.example.test")));
    assert_eq!(client.certname(), Some("n1.example.test"));
    assert_eq!(m.client(None).certname(), None);

    // CA bootstrap.
    assert_eq!(client.ca_certificate().await.unwrap(), m.ca_pem);
    assert!(
        client
            .crl()
            .await
            .unwrap()
            .starts_with("-----BEGIN X509 CRL-----")
    );
    assert_eq!(
        client.certificate("nobody.example.test").await.unwrap(),
        None
    );
    client
        .submit_csr("agent1.example.test", AGENT1_CSR)
        .await
        .unwrap();
    assert_eq!(*m.seen.csrs.lock().unwrap(), vec!["agent1.example.test"]);
    m.ca.sign("agent1.example.test").unwrap();
    let pem = client
        .certificate("agent1.example.test")
        .await
        .unwrap()
        .unwrap();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(
        puppet_protocol::cert::certname(&der).as_deref(),
        Some("agent1.example.test")
    );

    // Catalog: the compiler gets the facts and options the client sent.
    let mut values = serde_json::Map::new();
    values.insert("kernel".into(), "Linux".into());
    values.insert("tricky".into(), "a b&c=d%e+f/ü~".into());
    let facts = puppet_facts::Facts::new("n1.example.test", values.clone());
    let options = CatalogOptions {
        transaction_uuid: Some("t-1".into()),
        ..CatalogOptions::default()
    };
    let catalog = client
        .catalog("n1.example.test", "production", &facts, &options)
        .await
        .unwrap();
    assert_eq!(catalog.name, "n1.example.test");
    assert_eq!(catalog.resources[0].title, "hello");
    {
        let compiles = m.seen.compiles.lock().unwrap();
        let seen = &compiles[0];
        assert_eq!(seen.facts.as_ref().map(|f| &f.values), Some(&values));
        assert_eq!(seen.transaction_uuid.as_deref(), Some("t-1"));
        assert!(seen.static_catalog);
        assert_eq!(seen.checksum_types[0], "sha256");
    }

    // Node: the classifier's answer, with the facts stored by the catalog request.
    let node = client
        .node("n1.example.test", Some("production"))
        .await
        .unwrap();
    assert_eq!(
        (node.name.as_str(), node.environment.as_str()),
        ("n1.example.test", "production")
    );
    assert_eq!(node.classes, Some(serde_json::json!(["role::web"])));
    assert_eq!(node.parameters, values);

    // Report.
    let mut report = puppet_report::Report::from_json(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/reports/noop.json"
        ))
        .unwrap(),
    )
    .unwrap();
    report.host = "n1.example.test".into();
    assert_eq!(client.put_report(&report).await.unwrap(), vec!["store"]);
    assert_eq!(*m.seen.reports.lock().unwrap(), vec!["n1.example.test"]);

    // Files.
    let one = client
        .file_metadata(
            "production",
            "modules/m/hello.txt",
            &MetadataQuery::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (one.path.as_str(), one.relative_path.as_deref()),
        ("/srv/modules/m/files/hello.txt", None)
    );
    assert_eq!(one.mode, Some(420));
    let query = MetadataQuery {
        recurse: true,
        ..MetadataQuery::default()
    };
    let many = client
        .file_metadatas("production", "modules/m", &query)
        .await
        .unwrap();
    let relative: Vec<_> = many.iter().map(|f| f.relative_path.as_deref()).collect();
    assert_eq!(relative, vec![Some("."), Some("hello.txt")]);
    assert_eq!(
        client
            .file_content("production", "modules/m/hello.txt")
            .await
            .unwrap(),
        HELLO
    );
    // The code_id of the catalog just served ("c1") is the one static content is served for.
    let content = client
        .static_file_content("production", "c1", "puppet:///modules/m/files/hello.txt")
        .await
        .unwrap();
    assert_eq!(content, b"production modules/m/files/hello.txt c1");

    // Errors: Puppet's JSON error body parsed; a 403 in plain text kept as the message.
    match client
        .file_content("production", "modules/m/missing.txt")
        .await
    {
        Err(ClientError::Status {
            status: 404,
            error: Some(body),
            ..
        }) => {
            assert_eq!(body.issue_kind, "RESOURCE_NOT_FOUND");
            assert!(
                body.message.contains("modules/m/missing.txt"),
                "{}",
                body.message
            );
        }
        other => panic!("{other:?}"),
    }
    match client.node("someone.else.test", None).await {
        Err(ClientError::Status {
            status: 403,
            error: None,
            message,
            ..
        }) => {
            assert!(message.starts_with("Forbidden request"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // gzip: asked for, sent, decoded.
    let answer = client
        .request("GET", "/puppet/v3/environments", &[], vec![])
        .await
        .unwrap();
    assert!(answer.gzipped);
    let envs: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(envs["environments"]["production"].is_object(), "{envs}");
}

/// The kept-alive connection closed by the master's idle timeout is replaced, not reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closed_by_the_idle_timeout_is_replaced() {
    let limits = Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let m = start(limits).await;
    let client = m.client(Some(m.identity("n1.example.test")));
    let facts = puppet_facts::Facts::new("n1.example.test", serde_json::Map::new());
    for _ in 0..2 {
        assert_eq!(client.ca_certificate().await.unwrap(), m.ca_pem);
        let catalog = client
            .catalog(
                "n1.example.test",
                "production",
                &facts,
                &CatalogOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(catalog.name, "n1.example.test");
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
}

/// What the bare TLS peer saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: Vec<u8>,
    sni: Option<String>,
}

/// A TLS peer with the master's certificate that answers every request with `answer` (sent
/// gzipped), counting connections and recording requests. `silent`: never answers.
async fn bare_peer(
    silent: bool,
    answer: &'static [u8],
) -> (
    std::net::SocketAddr,
    String,
    Arc<Mutex<Vec<Seen>>>,
    Arc<Mutex<usize>>,
) {
    let (_dir, _ca, files) = support::tls_material();
    let ca_pem = files.ca_pem.clone();
    let config = puppet_protocol::server::TlsSource::new(files)
        .unwrap()
        .current();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(Mutex::new(0usize));
    let (seen2, accepted2) = (seen.clone(), accepted.clone());
    tokio::spawn(async move {
        let _dir = _dir;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            *accepted2.lock().unwrap() += 1;
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(String::from);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + len {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[end..end + len].to_vec();
                    buf.drain(..end + len);
                    seen.lock().unwrap().push(Seen {
                        head,
                        body,
                        sni: sni.clone(),
                    });
                    if silent {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let mut gz =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    std::io::Write::write_all(&mut gz, answer).unwrap();
                    let z = gz.finish().unwrap();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                        z.len()
                    );
                    if tls.write_all(resp.as_bytes()).await.is_err()
                        || tls.write_all(&z).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, ca_pem, seen, accepted)
}

const CATALOG: &[u8] = br#"{"tags":["settings"],"name":"agent1.example.test","version":1,"code_id":null,"catalog_uuid":"u","catalog_format":2,"environment":"production","resources":[],"edges":[],"classes":[]}"#;

/// Sent by a real agent and by our client, side by side: the same form body bytes and the
/// same headers, `Host` with the port, SNI and certificate verification for the name, and one
/// keep-alive connection for several calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_request_is_the_agents_on_one_connection() {
    let (addr, ca_pem, seen, accepted) = bare_peer(false, CATALOG).await;
    let client = Client::builder("localhost", addr.port())
        .resolve_to(addr)
        .ca_pem(&ca_pem)
        .build()
        .unwrap();
    let agent = agent_request();
    let facts = puppet_facts::Facts::from_value(agent.facts.clone().unwrap()).unwrap();
    let options = CatalogOptions {
        transaction_uuid: agent.transaction_uuid.clone(),
        ..CatalogOptions::default()
    };
    for _ in 0..3 {
        let catalog = client
            .catalog("agent1.example.test", "production", &facts, &options)
            .await
            .unwrap();
        assert_eq!(catalog.name, "agent1.example.test");
    }
    assert_eq!(
        *accepted.lock().unwrap(),
        1,
        "the keep-alive connection was not reused"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let first = &seen[0];
    assert_eq!(
        first.body, AGENT_FORM,
        "form body differs from the real agent's"
    );
    assert_eq!(first.sni.as_deref(), Some("localhost"));
    let head = first.head.to_ascii_lowercase();
    assert!(
        head.starts_with(
            "post /puppet/v3/catalog/agent1.example.test?environment=production http/1.1\r\n"
        ),
        "{head}"
    );
    // The header values the real agent sent (fixtures' exchanges.json), Host with our port.
    for line in [
        format!("host: localhost:{}", addr.port()),
        "accept: application/vnd.puppet.rich+json, application/json, text/pson".into(),
        "content-type: application/x-www-form-urlencoded".into(),
        "accept-encoding: gzip;q=1.0,deflate;q=0.6,identity;q=0.3".into(),
        "x-puppet-version: 7.23.0".into(),
        format!("content-length: {}", AGENT_FORM.len()),
    ] {
        assert!(
            head.contains(&format!("{line}\r\n")),
            "missing {line:?} in {head}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_certificate_must_match_the_host_name() {
    let (addr, ca_pem, _, _) = bare_peer(false, b"[]").await;
    let client = Client::builder("wrong.example.test", addr.port())
        .resolve_to(addr)
        .ca_pem(&ca_pem)
        .build()
        .unwrap();
    match client.node("n1", None).await {
        Err(ClientError::Tls { host, .. }) => assert_eq!(host, "wrong.example.test"),
        other => panic!("{other:?}"),
    }
    // By IP address: verified against the certificate's IP SAN.
    let client = Client::builder("127.0.0.1", addr.port())
        .ca_pem(&ca_pem)
        .build()
        .unwrap();
    assert!(
        client
            .file_metadatas("production", "x", &MetadataQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_connect_errors_are_typed() {
    // The peer takes the request and never answers.
    let (addr, ca_pem, _, _) = bare_peer(true, b"[]").await;
    let client = Client::builder("localhost", addr.port())
        .resolve_to(addr)
        .ca_pem(&ca_pem)
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), client.node("n1", None))
        .await
        .unwrap()
    {
        Err(ClientError::Timeout {
            kind: TimeoutKind::Read,
            after,
        }) => {
            assert_eq!(after, Duration::from_millis(300));
        }
        other => panic!("{other:?}"),
    }
    // A TCP peer that never speaks TLS.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = Client::builder("localhost", mute.local_addr().unwrap().port())
        .resolve_to(mute.local_addr().unwrap())
        .ca_pem(&ca_pem)
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), client.ca_certificate())
        .await
        .unwrap()
    {
        Err(ClientError::Timeout {
            kind: TimeoutKind::Connect,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Nobody listening.
    let port = mute.local_addr().unwrap().port();
    drop(mute);
    let client = Client::builder("localhost", port)
        .ca_pem(&ca_pem)
        .build()
        .unwrap();
    match client.ca_certificate().await {
        Err(ClientError::Connect { addr, .. }) => assert_eq!(addr.port(), port),
        other => panic!("{other:?}"),
    }
}
