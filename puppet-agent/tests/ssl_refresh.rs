//! CRL and CA refresh as Puppet does them (`crl_refresh_interval`, `ca_refresh_interval`,
//! `certificate_revocation`, `hostcrl`), a certificate revoked by the CA after the agent
//! bootstrapped, and the `http_debug` trace: against our own master (puppet-master's
//! `TestMaster`, its CA really revoking).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use puppet_agent::settings::Revocation;
use puppet_agent::{AgentError, Logger, Settings, SslErrorKind};
use puppet_master::testing::TestMaster;
use puppet_report::LogLevel;

use crate::common::agent_settings;

const CERTNAME: &str = "agent1.example.test";

async fn master() -> TestMaster {
    let master = TestMaster::builder()
        .ca_settings(|s| s.autosign = puppet_ca::Autosign::On)
        .start()
        .await
        .unwrap();
    let env = master.environments().join("production");
    std::fs::create_dir_all(&env).unwrap();
    let code = serde_json::json!({
        "classes": {"demo": [{"type": "Notify", "title": "greeting", "parameters": {"message": "hello"}}]},
        "nodes": [{"certname": "*", "classes": ["demo"]}]
    });
    std::fs::write(env.join("resources.json"), code.to_string()).unwrap();
    master
}

fn settings(master: &TestMaster, root: &Path, extra: &[(&str, &str)]) -> Settings {
    agent_settings(root, "127.0.0.1", master.addr().port(), CERTNAME, extra)
}

/// Makes `path` look last updated `ago`.
fn age(path: &Path, ago: Duration) {
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

fn has(lines: &[String], prefix: &str) -> bool {
    lines.iter().any(|l| l.starts_with(prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_refresh_finds_a_revoked_certificate_and_stops() {
    let master = master().await;
    let root = tempfile::tempdir().unwrap();
    let crl = root.path().join("ssl/crl.pem");

    // Puppet 7.23's default: the CRL is downloaded once and never refreshed.
    let plain = settings(&master, root.path(), &[]);
    assert_eq!(plain.crl_refresh_interval, None);
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&plain, &log).await.unwrap();
    assert!(outcome.completed, "{:#?}", log.lines());
    let first_crl = std::fs::read_to_string(&crl).unwrap();

    // Not due yet (1 day, the file is fresh): no request, same file.
    let daily = settings(&master, root.path(), &[("crl_refresh_interval", "1d")]);
    let log = Logger::capturing(LogLevel::Info);
    puppet_agent::run::run_once(&daily, &log).await.unwrap();
    assert!(
        !has(&log.lines(), "Info: Refreshing CRL"),
        "{:#?}",
        log.lines()
    );

    // The CA revokes us. The agent's CRL is older than the interval: it refreshes it,
    // saves the new one, and stops with Puppet's message.
    master.ca().revoke(CERTNAME).unwrap();
    age(&crl, Duration::from_secs(2 * 86_400));
    let log = Logger::capturing(LogLevel::Info);
    let err = puppet_agent::run::run_once(&daily, &log).await.unwrap_err();
    let lines = log.lines();
    assert!(
        matches!(
            err,
            AgentError::Ssl {
                kind: SslErrorKind::Revoked,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("Certificate 'CN={CERTNAME}' is revoked")
    );
    assert!(has(&lines, "Info: Refreshing CRL"), "{lines:#?}");
    // As the real 7.23 agent prints it: `Info: Refreshing CRL`, then the error.
    assert!(!has(&lines, "Info: Refreshed CRL"), "{lines:#?}");
    let new_crl = std::fs::read_to_string(&crl).unwrap();
    assert_ne!(new_crl, first_crl);
    let cert =
        std::fs::read_to_string(root.path().join(format!("ssl/certs/{CERTNAME}.pem"))).unwrap();
    assert!(puppet_agent::ssl::check_not_revoked(&cert, &new_crl).is_err());
    // The mtime is "now": no refresh before the next interval.
    let since = SystemTime::now()
        .duration_since(std::fs::metadata(&crl).unwrap().modified().unwrap())
        .unwrap_or_default();
    assert!(since < Duration::from_secs(3600));
    // Nothing was run: no report of this run.
    assert!(!has(&lines, "Info: Using environment"), "{lines:#?}");
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_failures_keep_the_old_files_and_revocation_off_skips_the_crl() {
    let master = master().await;
    let root = tempfile::tempdir().unwrap();
    let plain = settings(&master, root.path(), &[]);
    let log = Logger::capturing(LogLevel::Info);
    assert!(
        puppet_agent::run::run_once(&plain, &log)
            .await
            .unwrap()
            .completed
    );
    let crl = root.path().join("ssl/crl.pem");
    let before = std::fs::read_to_string(&crl).unwrap();

    // The CA server cannot be reached: a warning, the old CRL, and the run goes on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let s = settings(
        &master,
        root.path(),
        &[("crl_refresh_interval", "60"), ("ca_port", &port)],
    );
    age(&crl, Duration::from_secs(3600));
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&s, &log).await.unwrap();
    let lines = log.lines();
    assert!(outcome.completed, "{lines:#?}");
    assert!(
        has(
            &lines,
            "Warning: Failed to refresh CRL, using existing CRL: "
        ),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(&crl).unwrap(), before);

    // CA refresh (ca_refresh_interval): a new download forces a CRL refresh too.
    let s = settings(&master, root.path(), &[("ca_refresh_interval", "60")]);
    age(
        &root.path().join("ssl/certs/ca.pem"),
        Duration::from_secs(3600),
    );
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&s, &log).await.unwrap();
    let lines = log.lines();
    assert!(outcome.completed, "{lines:#?}");
    let refreshing: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Info: Refresh"))
        .collect();
    assert_eq!(refreshing.len(), 3, "{lines:#?}");
    assert_eq!(refreshing[0], "Info: Refreshing CA certificate");
    assert!(refreshing[1].starts_with("Info: Refreshed CA certificate: "));
    assert_eq!(refreshing[2], "Info: Refreshing CRL");

    // certificate_revocation = false: no CRL is fetched or checked.
    let other = tempfile::tempdir().unwrap();
    let s = settings(
        &master,
        other.path(),
        &[
            ("certificate_revocation", "false"),
            ("certname", "agent2.example.test"),
        ],
    );
    assert_eq!(s.certificate_revocation, Revocation::Off);
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&s, &log).await.unwrap();
    let lines = log.lines();
    assert!(outcome.completed, "{lines:#?}");
    assert!(
        lines.contains(&"Info: Certificate revocation is disabled, skipping CRL download".into()),
        "{lines:#?}"
    );
    assert!(!other.path().join("ssl/crl.pem").exists());

    // hostcrl elsewhere, leaf checking.
    let third = tempfile::tempdir().unwrap();
    let hostcrl = third.path().join("elsewhere/crl.pem");
    std::fs::create_dir_all(hostcrl.parent().unwrap()).unwrap();
    let s = settings(
        &master,
        third.path(),
        &[
            ("certificate_revocation", "leaf"),
            ("hostcrl", hostcrl.to_str().unwrap()),
            ("certname", "agent3.example.test"),
        ],
    );
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&s, &log).await.unwrap();
    assert!(outcome.completed, "{:#?}", log.lines());
    assert!(hostcrl.is_file());
    assert!(!third.path().join("ssl/crl.pem").exists());
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_debug_traces_requests_and_answers_without_bodies_or_keys() {
    let master = master().await;
    let root = tempfile::tempdir().unwrap();
    let mut s = settings(&master, root.path(), &[]);
    let traced = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = traced.clone();
    s.http_trace = Some(puppet_protocol::client::Tracer::new(move |l| {
        sink.lock().unwrap().push(l.to_string())
    }));
    let log = Logger::capturing(LogLevel::Info);
    assert!(
        puppet_agent::run::run_once(&s, &log)
            .await
            .unwrap()
            .completed
    );
    let lines = traced.lock().unwrap().clone();
    let port = master.addr().port();
    for want in [
        format!("opening connection to 127.0.0.1:{port}..."),
        "opened".to_string(),
        format!("starting SSL for 127.0.0.1:{port}..."),
        r#"-> "HTTP/1.1 200 OK\r\n""#.to_string(),
        r#"-> "\r\n""#.to_string(),
        "Conn keep-alive".to_string(),
    ] {
        assert!(lines.contains(&want), "{want:?} not in {lines:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SSL established, protocol: TLSv1.")),
        "{lines:#?}"
    );
    // A request is one quoted line: request line, headers, blank line.
    let request = |start: &str| lines.iter().find(|l| l.starts_with(start)).cloned();
    let ca = request(r#"<- "GET /puppet-ca/v1/certificate/ca HTTP/1.1\r\n"#)
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(ca.contains(r"\r\nx-puppet-version: 7.23.0\r\n"), "{ca}");
    assert!(ca.ends_with(r#"\r\n\r\n""#), "{ca}");
    for start in [
        r#"<- "PUT /puppet-ca/v1/certificate_request/agent1.example.test HTTP/1.1\r\n"#,
        r#"<- "POST /puppet/v3/catalog/agent1.example.test?"#,
        r#"<- "PUT /puppet/v3/report/agent1.example.test?"#,
    ] {
        assert!(request(start).is_some(), "{start} not in {lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("read ")));
    // Headers only: no key, no certificate, no body (the CSR, the facts, the catalog).
    for l in &lines {
        assert!(
            l.starts_with("opening connection")
                || l == "opened"
                || l.starts_with("starting SSL for ")
                || l.starts_with("SSL established, ")
                || l.starts_with("reading ")
                || l.starts_with("read ")
                || l.starts_with("Conn ")
                || l.starts_with("<- \"")
                || l.starts_with("-> \""),
            "{l}"
        );
        assert!(!l.contains("-----BEGIN"), "{l}");
        assert!(!l.contains("\"message\""), "{l}");
    }
    master.shutdown().await;
}
