//! File sync with the real agent: a primary and a replica composed from confdirs as the
//! `puppet-master` binary does it (`file_sync = primary` / `replica` in `puppet.conf`), the
//! replica's certificate issued by the primary's CA; Debian's `puppet agent` bootstraps with
//! the primary's CA, gets its catalog from the replica and fetches the files of exactly the
//! catalog's code_id (`static_file_content`), before and after a publish.
//!
//! Skipped with one line when `puppet` is absent, unless `PUPPET_RS_REQUIRE_REAL=1`.

#![allow(clippy::unwrap_used)]

use crate::support::show;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use puppet_master::confdir::MasterSetup;
use puppet_protocol::client::{Client, Identity};
use puppet_protocol::server::RunningMaster;

const AGENT: &str = "agent1.example.test";
const ADMIN: &str = "admin.example.test";

async fn start(confdir: &Path, conf: &str) -> (MasterSetup, RunningMaster) {
    std::fs::create_dir_all(confdir).unwrap();
    std::fs::write(confdir.join("puppet.conf"), conf).unwrap();
    let setup = MasterSetup::from_confdir(confdir).unwrap();
    let running = setup
        .master
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (setup, running)
}

/// Version `n` of production in the primary's staging codedir.
fn stage(staging: &Path, n: u32) {
    let env = staging.join("environments/production");
    std::fs::create_dir_all(env.join("modules/m/files")).unwrap();
    std::fs::write(env.join("modules/m/files/f.txt"), format!("version {n}\n")).unwrap();
    std::fs::write(
        env.join("resources.json"),
        format!(
            r#"{{"classes": {{"base": [
              {{"type": "File", "title": "${{facts.puppet_rs_target}}/f.txt",
               "parameters": {{"ensure": "file", "source": "puppet:///modules/m/f.txt"}}}},
              {{"type": "Notify", "title": "code version {n}"}}]}},
             "nodes": [{{"certname": "*", "classes": ["base"]}}]}}"#
        ),
    )
    .unwrap();
}

async fn run_agent(puppet: &Path, root: &Path, replica: u16, primary: u16) -> Output {
    let mut cmd = crate::support::agent_command(puppet, root, replica, AGENT);
    cmd.arg("--http_debug")
        .args([
            "--ca_server",
            "localhost",
            "--ca_port",
            &primary.to_string(),
        ])
        .env("FACTER_puppet_rs_target", root.join("target"));
    crate::support::finish(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_gets_the_files_of_its_catalogs_code_id_from_a_replica() {
    let Some(puppet) = crate::support::real_puppet(
        "real_agent_gets_the_files_of_its_catalogs_code_id_from_a_replica",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (primary, primary_running) = start(
        &dir.path().join("primary"),
        &format!(
            "[server]\ncertname = puppet.example.test\nkeylength = 2048\nautosign = true\n\
             ca_admin_certnames = {ADMIN}\nfile_sync = primary\n"
        ),
    )
    .await;
    let primary_port = primary_running.local_addr().port();
    let ca = primary.ca.clone().unwrap();

    // The replica's identity, from the primary's CA, in its ssldir as Puppet lays it out.
    let replica_dir = dir.path().join("replica");
    let ssl = replica_dir.join("ssl");
    let (key, cert) = ca
        .generate(
            "replica1.example.test",
            &["localhost".into(), "IP:127.0.0.1".into()],
        )
        .unwrap();
    ca.save_to_ssldir(&ssl, "replica1.example.test", &key, &cert)
        .unwrap();
    std::fs::copy(
        primary.cadir.as_ref().unwrap().join("ca_crl.pem"),
        ssl.join("crl.pem"),
    )
    .unwrap();
    let (replica, replica_running) = start(
        &replica_dir,
        &format!(
            "[server]\ncertname = replica1.example.test\nfile_sync = replica\n\
             file_sync_primary = https://localhost:{primary_port}\n"
        ),
    )
    .await;
    assert!(replica.ca.is_none(), "a replica has no CA");
    assert!(
        !replica_dir.join("ca").exists(),
        "a replica never creates a CA"
    );
    let replica_port = replica_running.local_addr().port();

    let (key_pem, cert_pem) = ca.generate(ADMIN, &[]).unwrap();
    let admin = Client::new(
        primary_running.local_addr(),
        "localhost",
        &ca.ca_certificate_pem().unwrap(),
        Some(&Identity { cert_pem, key_pem }),
    )
    .unwrap();
    let staging = dir.path().join("primary/code-staging");
    let agent_root = dir.path().join("agent");
    std::fs::create_dir_all(agent_root.join("target")).unwrap();
    for n in 1..=2 {
        stage(&staging, n);
        let answer = admin.file_sync_publish(None).await.unwrap();
        let code_id = answer.environments["production"].code_id.clone();

        let out = run_agent(&puppet, &agent_root, replica_port, primary_port).await;
        assert_eq!(out.status.code(), Some(2), "run {n}\n{}", show(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("code version {n}")),
            "{}",
            show(&out)
        );
        assert_eq!(
            std::fs::read_to_string(agent_root.join("target/f.txt")).unwrap(),
            format!("version {n}\n")
        );
        // The agent fetched the file by the catalog's code_id from the replica.
        let debug = String::from_utf8_lossy(&out.stderr);
        assert!(
            debug.contains("static_file_content/modules/m/files/f.txt")
                && debug.contains(&format!("code_id={code_id}")),
            "{}",
            show(&out)
        );
        let catalog = replica.storage.last_catalog(AGENT).unwrap().unwrap();
        assert_eq!(catalog.code_id, Some(serde_json::json!(code_id)));
    }

    // A certificate revoked on the primary is refused by the replica once it has fetched the
    // primary's CRL (on its first check after a start, then every minute).
    let (key_pem, cert_pem) = ca.generate("revoked.example.test", &[]).unwrap();
    let revoked = Identity { cert_pem, key_pem };
    ca.revoke("revoked.example.test").unwrap();
    let (replica2, replica2_running) = {
        replica_running.shutdown().await;
        start(
            &replica_dir,
            &format!(
                "[server]\ncertname = replica1.example.test\nfile_sync = replica\n\
                 file_sync_primary = https://localhost:{primary_port}\n"
            ),
        )
        .await
    };
    let node = |id: &Identity| {
        Client::new(
            replica2_running.local_addr(),
            "localhost",
            &ca.ca_certificate_pem().unwrap(),
            Some(id),
        )
        .unwrap()
    };
    let (key_pem, cert_pem) = ca.generate("n1.example.test", &[]).unwrap();
    let good = node(&Identity { cert_pem, key_pem });
    good.file_content("production", "modules/m/f.txt")
        .await
        .unwrap();
    let primary_crl = primary.cadir.as_ref().unwrap().join("ca_crl.pem");
    let mut same = false;
    for _ in 0..100 {
        same = std::fs::read(&primary_crl).unwrap() == std::fs::read(ssl.join("crl.pem")).unwrap();
        if same {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(same, "the replica fetched the primary's CRL");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        node(&revoked)
            .file_content("production", "modules/m/f.txt")
            .await
            .is_err(),
        "a revoked certificate is refused by the replica"
    );
    drop(replica2);
    replica2_running.shutdown().await;
    primary_running.shutdown().await;
}
