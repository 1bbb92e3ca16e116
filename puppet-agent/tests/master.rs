//! Our agent against our own master (puppet-master's `TestMaster`, autosigning): bootstrap,
//! run, report, the files Puppet writes, the second run, a revoked certificate, waitforcert 0.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use puppet_agent::{AgentError, Logger, Settings, SslErrorKind};
use puppet_master::testing::TestMaster;
use puppet_report::{LogLevel, RunStatus};

use crate::common::agent_settings;
use serde_json::json;

const CERTNAME: &str = "agent1.example.test";

async fn master(autosign: bool) -> TestMaster {
    TestMaster::builder()
        .ca_settings(move |s| {
            if autosign {
                s.autosign = puppet_ca::Autosign::On;
            }
        })
        .start()
        .await
        .unwrap()
}

fn settings(master: &TestMaster, root: &Path) -> Settings {
    agent_settings(root, "127.0.0.1", master.addr().port(), CERTNAME, &[])
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn write_code(master: &TestMaster, target: &Path) {
    let env = master.environments().join("production");
    let files = env.join("modules/demo/files/tree/sub");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(env.join("modules/demo/files/tree/a.txt"), "a\n").unwrap();
    std::fs::write(files.join("b.txt"), "b\n").unwrap();
    let t = target.to_str().unwrap();
    let code = json!({
        "classes": {
            "demo": [
                {"type": "File", "title": t, "parameters": {"ensure": "directory", "mode": "0755"}},
                {"type": "File", "title": format!("{t}/content.txt"),
                 "parameters": {"ensure": "file", "content": "greeting=${certname}\n", "mode": "0600"}},
                {"type": "File", "title": format!("{t}/tree"),
                 "parameters": {"ensure": "directory", "recurse": true, "source": "puppet:///modules/demo/tree"}},
                {"type": "File", "title": format!("{t}/link"),
                 "parameters": {"ensure": "link", "target": format!("{t}/content.txt")}},
                {"type": "Exec", "title": "make-flag",
                 "parameters": {"command": format!("touch {t}/flag"), "creates": format!("{t}/flag"), "path": ["/usr/bin", "/bin"]}},
                {"type": "Exec", "title": "on-refresh",
                 "parameters": {"command": format!("touch {t}/refreshed"), "refreshonly": true, "path": ["/usr/bin", "/bin"],
                                "subscribe": format!("File[{t}/content.txt]")}},
                {"type": "Notify", "title": "greeting", "parameters": {"message": "hello ${certname}"}}
            ]
        },
        "nodes": [{"certname": "*", "classes": ["demo"]}]
    });
    std::fs::write(env.join("resources.json"), code.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_run_report_and_second_run() {
    let master = master(true).await;
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target");
    write_code(&master, &target);
    let settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    let lines = log.lines();
    assert_eq!(outcome.exit_code(true), 2, "{lines:#?}");
    let report = outcome.report.unwrap();
    assert_eq!(report.status, RunStatus::Changed);

    // The ssldir, in Puppet's layout and modes.
    let ssl = root.path().join("ssl");
    for f in [
        "certs/ca.pem",
        "crl.pem",
        "certs/agent1.example.test.pem",
        "private_keys/agent1.example.test.pem",
        "public_keys/agent1.example.test.pem",
    ] {
        assert!(ssl.join(f).is_file(), "{f}");
    }
    assert_eq!(mode(&ssl.join("private_keys")), 0o750);
    assert_eq!(
        mode(&ssl.join("private_keys/agent1.example.test.pem")),
        0o640
    );
    assert!(
        !ssl.join("certificate_requests/agent1.example.test.pem")
            .exists()
    );
    assert!(
        lines.contains(&format!("Info: Creating a new RSA SSL key for {CERTNAME}")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Info: Certificate Request fingerprint (SHA256): "))
    );
    assert!(lines.iter().all(|l| !l.contains("PRIVATE KEY")));

    // What the catalog asked for.
    assert_eq!(
        std::fs::read_to_string(target.join("content.txt")).unwrap(),
        format!("greeting={CERTNAME}\n")
    );
    assert_eq!(mode(&target.join("content.txt")), 0o600);
    assert_eq!(
        std::fs::read_to_string(target.join("tree/sub/b.txt")).unwrap(),
        "b\n"
    );
    assert_eq!(
        std::fs::read_link(target.join("link")).unwrap(),
        target.join("content.txt")
    );
    assert!(target.join("flag").exists() && target.join("refreshed").exists());
    assert!(lines.contains(&"Info: Using environment 'production'".to_string()));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Notice: Applied catalog in "))
    );
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Demo/Exec[on-refresh]: Triggered 'refresh' from 1 event"
                .to_string()
        ),
        "{lines:#?}"
    );

    // Changes: dir, content, tree, tree/a.txt, tree/sub, tree/sub/b.txt, link, make-flag,
    // on-refresh (refresh), notify.
    let changes = report
        .metrics
        .value("changes", "total")
        .and_then(|n| n.as_u64());
    assert_eq!(
        changes,
        Some(10),
        "{:?}",
        report.resource_statuses.keys().collect::<Vec<_>>()
    );

    // The files Puppet writes.
    let var = root.path().join("var");
    assert!(root.path().join("public/last_run_summary.yaml").is_file());
    assert!(var.join("state/last_run_report.yaml").is_file());
    // A static catalog: the master inlined the tree's metadata and gave a code_id, so the
    // agent fetched the files by code_id (static_file_content).
    let cached =
        std::fs::read_to_string(var.join(format!("client_data/catalog/{CERTNAME}.json"))).unwrap();
    let cached: serde_json::Value = serde_json::from_str(&cached).unwrap();
    assert!(
        cached["code_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("sha256:")),
        "{cached}"
    );
    assert!(
        cached["recursive_metadata"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "{cached}"
    );
    assert!(
        cached["recursive_metadata"]
            .to_string()
            .contains("\"content_uri\":\"puppet:///modules/demo/"),
        "{cached}"
    );
    assert_eq!(report.code_id.as_deref(), cached["code_id"].as_str());
    assert!(
        std::fs::read_to_string(var.join("state/classes.txt"))
            .unwrap()
            .contains("demo")
    );
    assert!(
        std::fs::read_to_string(var.join("state/resources.txt"))
            .unwrap()
            .contains("exec[make-flag]\n")
    );
    assert!(!var.join("state/agent_catalog_run.lock").exists());
    let state = std::fs::read_to_string(var.join("state/state.yaml")).unwrap();
    assert!(
        state.starts_with("---\n\"Exec[make-flag]\":\n  :checked: ")
            || state.contains("\"Exec[make-flag]\":\n  :checked: "),
        "{state}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Info: Creating state file "))
    );

    // The master stored the report.
    let stored = master.storage().reports(CERTNAME).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, RunStatus::Changed);

    // Second run: only the notify changes.
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    let report = outcome.report.unwrap();
    assert_eq!(
        report
            .metrics
            .value("changes", "total")
            .and_then(|n| n.as_u64()),
        Some(1),
        "{:#?}",
        log.lines()
    );

    // A second agent while the lock is held by a live process (PID 1).
    std::fs::write(settings.run_lock(), "1").unwrap();
    let err = puppet_agent::run::run_once(&settings, &Logger::capturing(LogLevel::Info))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Run of Puppet configuration client already in progress; skipping  (")
    );
    std::fs::remove_file(settings.run_lock()).unwrap();

    // Disabled.
    puppet_agent::run::disable(&settings, Some("maintenance")).unwrap();
    let err = puppet_agent::run::run_once(&settings, &Logger::capturing(LogLevel::Info))
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Disabled(ref m) if m == "maintenance"));
    puppet_agent::run::enable(&settings).unwrap();

    // Revoked: the agent says so and stops (with a fresh CRL).
    master.ca().revoke(CERTNAME).unwrap();
    std::fs::remove_file(root.path().join("ssl/crl.pem")).unwrap();
    let err = puppet_agent::run::run_once(&settings, &Logger::capturing(LogLevel::Info))
        .await
        .unwrap_err();
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
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waitforcert_zero_exits_when_not_signed() {
    let master = master(false).await;
    let root = tempfile::tempdir().unwrap();
    let settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let err = puppet_agent::run::run_once(&settings, &log)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AgentError::Ssl {
            kind: SslErrorKind::NotSigned,
            ..
        }
    ));
    let lines = log.lines();
    assert!(
        lines.contains(&format!(
            "Info: Certificate for {CERTNAME} has not been signed yet"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"Exiting now because the waitforcert setting is set to 0.".to_string())
    );
    assert!(
        root.path()
            .join("ssl/certificate_requests/agent1.example.test.pem")
            .is_file()
    );
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_exits_one_and_applies_nothing() {
    let master = master(true).await;
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("never");
    let t = target.to_str().unwrap();
    let code = json!({
        "classes": {"c": [
            {"type": "File", "title": t, "parameters": {"content": "x", "require": "Notify[b]"}},
            {"type": "Notify", "title": "b", "parameters": {"require": format!("File[{t}]")}}
        ]},
        "nodes": [{"certname": "*", "classes": ["c"]}]
    });
    std::fs::write(
        master.environments().join("production/resources.json"),
        code.to_string(),
    )
    .unwrap();
    let settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert_eq!(outcome.exit_code(true), 1);
    assert!(!target.exists());
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Error: Found 1 dependency cycle:") && l.contains("Notify[b]")),
        "{lines:#?}"
    );
    assert!(lines.contains(&"Error: Failed to apply catalog: One or more resource dependency cycles detected in graph".to_string()));
    assert_eq!(outcome.report.unwrap().status, RunStatus::Failed);
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_source_fails_its_resource_and_cache_on_failure() {
    let master = master(true).await;
    let root = tempfile::tempdir().unwrap();
    let ok = root.path().join("ok.txt");
    let bad = root.path().join("bad.txt");
    let code = json!({
        "classes": {"c": [
            {"type": "File", "title": bad, "parameters": {"source": "puppet:///modules/demo/missing.txt"}},
            {"type": "File", "title": ok, "parameters": {"content": "ok\n"}}
        ]},
        "nodes": [{"certname": "*", "classes": ["c"]}]
    });
    let resources = master.environments().join("production/resources.json");
    std::fs::write(&resources, code.to_string()).unwrap();
    let mut settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    // Changes and failures: 6, the independent file applied, no half-written file.
    assert_eq!(outcome.exit_code(true), 6, "{:#?}", log.lines());
    assert_eq!(std::fs::read_to_string(&ok).unwrap(), "ok\n");
    assert!(!bad.exists());
    let report = outcome.report.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    let lines = log.lines();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("Error: /Stage[main]/C/File[{}]: Could not evaluate: Could not retrieve information from environment production source(s) puppet:///modules/demo/missing.txt", bad.display()))),
        "{lines:#?}"
    );

    // The master cannot compile any more: the cached catalog is used (usecacheonfailure) ...
    std::fs::write(&resources, "{ not json").unwrap();
    std::fs::remove_file(&ok).unwrap();
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert!(
        log.lines()
            .contains(&"Info: Using cached catalog from environment 'production'".to_string()),
        "{:#?}",
        log.lines()
    );
    assert!(outcome.completed);
    assert_eq!(
        outcome.report.unwrap().cached_catalog_status.as_deref(),
        Some("on_failure")
    );
    assert!(ok.exists());

    // ... unless it is off (--test): exit 1, Puppet's lines.
    settings.usecacheonfailure = false;
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert_eq!(outcome.exit_code(true), 1);
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Error: Could not retrieve catalog from remote server: ")),
        "{lines:#?}"
    );
    assert!(lines.contains(&"Warning: Not using cache on failed catalog".to_string()));
    assert!(lines.contains(&"Error: Could not retrieve catalog; skipping run".to_string()));
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_the_masters_filebucket() {
    let master = master(true).await;
    let root = tempfile::tempdir().unwrap();
    let motd = root.path().join("motd");
    std::fs::write(&motd, "old motd\n").unwrap();
    let code = json!({
        "classes": {"c": [
            {"type": "Filebucket", "title": "main", "parameters": {"path": false, "server": "127.0.0.1"}},
            {"type": "File", "title": motd, "parameters": {"content": "new motd\n", "backup": "main"}}
        ]},
        "nodes": [{"certname": "*", "classes": ["c"]}]
    });
    std::fs::write(
        master.environments().join("production/resources.json"),
        code.to_string(),
    )
    .unwrap();
    let settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert_eq!(outcome.exit_code(true), 2, "{:#?}", log.lines());
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "new motd\n");
    let sum = puppet_protocol::files::digest(b"old motd\n", "sha256");
    let lines = log.lines();
    assert!(
        lines.contains(&format!(
            "Info: /Stage[main]/C/File[{}]: Filebucketed {} to main with sum {sum}",
            motd.display(),
            motd.display()
        )),
        "{lines:#?}"
    );
    // Nothing in the local clientbucket: the backup went to the master.
    assert!(!root.path().join("var/clientbucket").exists());
    // Any authenticated node may read it back by its sum.
    let other = master.client_for("other.example.test").unwrap();
    let back = other
        .file_bucket_get("production", "sha256", &sum)
        .await
        .unwrap();
    assert_eq!(back, b"old motd\n");
    assert!(
        other
            .file_bucket_head("production", "sha256", &sum, Some(motd.to_str().unwrap()))
            .await
            .unwrap()
    );
    // md5 keys as older agents (digest_algorithm = md5) send them; a wrong digest is refused.
    let md5 = puppet_protocol::files::digest(b"x\n", "md5");
    other
        .file_bucket_put("production", "md5", &md5, Some("/x"), b"x\n".to_vec())
        .await
        .unwrap();
    assert_eq!(
        other
            .file_bucket_get("production", "md5", &md5)
            .await
            .unwrap(),
        b"x\n"
    );
    let err = other
        .file_bucket_put("production", "md5", &md5, None, b"y\n".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let missing = puppet_protocol::files::digest(b"never\n", "sha256");
    assert!(
        !other
            .file_bucket_head("production", "sha256", &missing, None)
            .await
            .unwrap()
    );
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_source_from_the_master_with_ignore_recurselimit_and_purge() {
    let master = master(true).await;
    let root = tempfile::tempdir().unwrap();
    let files = master
        .environments()
        .join("production/modules/demo/files/tree");
    for (f, body) in [
        ("a.txt", "a\n"),
        ("b.tmp", "b\n"),
        ("sub/c.txt", "c\n"),
        ("sub/deep/d.txt", "d\n"),
    ] {
        let p = files.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let target = root.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("junk"), "j\n").unwrap();
    let code = json!({
        "classes": {"c": [
            {"type": "File", "title": target, "parameters": {
                "ensure": "directory", "source": "puppet:///modules/demo/tree", "recurse": true,
                "ignore": "*.tmp", "recurselimit": 2, "purge": true, "max_files": 100}}
        ]},
        "nodes": [{"certname": "*", "classes": ["c"]}]
    });
    std::fs::write(
        master.environments().join("production/resources.json"),
        code.to_string(),
    )
    .unwrap();
    let settings = settings(&master, root.path());
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert_eq!(outcome.exit_code(true), 2, "{:#?}", log.lines());
    assert_eq!(
        std::fs::read_to_string(target.join("a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("sub/c.txt")).unwrap(),
        "c\n"
    );
    assert!(target.join("sub/deep").is_dir());
    assert!(!target.join("sub/deep/d.txt").exists());
    assert!(!target.join("b.tmp").exists());
    assert!(!target.join("junk").exists());
    // The second run changes nothing.
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    assert_eq!(outcome.exit_code(true), 0, "{:#?}", log.lines());
    master.shutdown().await;
}
