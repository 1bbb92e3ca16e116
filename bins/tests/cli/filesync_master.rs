//! `puppet-master` as a file sync primary, killed with SIGKILL in the middle of a publish:
//! after a restart the old version is live and intact, and the next publish works.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use puppet_filesync::{CodeId, Store};
use puppet_protocol::client::Client;

use crate::support::{Running, master_client, start_master, write_puppet_conf};

const CERTNAME: &str = "primary.example.test";

fn start(confdir: &Path) -> Running {
    start_master(confdir, Stdio::null())
}

/// A client with the master's own certificate (the default `ca_admin_certnames`).
fn admin(confdir: &Path, port: u16) -> Client {
    master_client(confdir, port, Some(CERTNAME))
        .read_timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// `files` files of 1 MiB each, whose content depends on `seed`.
fn stage(confdir: &Path, seed: u8, files: usize) {
    let dir = confdir.join("code-staging/environments/production/modules/big/files");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..files {
        let mut content = vec![seed; 1 << 20];
        content[..8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("f{i:04}.bin")), content).unwrap();
    }
}

#[test]
fn kill_9_during_a_publish_leaves_the_old_version_live_and_the_next_publish_works() {
    let dir = tempfile::tempdir().unwrap();
    let confdir = dir.path();
    write_puppet_conf(confdir, CERTNAME, "file_sync = primary\n");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let master = start(confdir);
    stage(confdir, 1, 2);
    let v1 = rt.block_on(async {
        let a = admin(confdir, master.port)
            .file_sync_publish(None)
            .await
            .unwrap();
        a.environments["production"].code_id.clone()
    });

    // A large new version: the publish is killed while it runs.
    stage(confdir, 2, 96);
    let mut master = master;
    let outcome = rt.block_on(async {
        let client = admin(confdir, master.port);
        let publish = tokio::spawn(async move { client.file_sync_publish(None).await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let finished = publish.is_finished();
        master.child.kill().unwrap(); // SIGKILL
        master.child.wait().unwrap();
        (finished, publish.await.unwrap())
    });
    assert!(
        !outcome.0,
        "the publish finished before the kill: make the tree larger"
    );
    assert!(outcome.1.is_err(), "the publish cannot have answered");

    // Restarted: the old version is live and intact.
    let master = start(confdir);
    let store = Store::open(confdir.join("data/filesync")).unwrap();
    let live = store.live("production").unwrap().unwrap();
    assert_eq!(live.code_id.as_str(), v1);
    store.verify("production", &live.code_id).unwrap();
    let latest = rt
        .block_on(admin(confdir, master.port).file_sync_latest())
        .unwrap();
    assert_eq!(latest.environments["production"].code_id, v1);

    // The next publish works and its version is whole.
    let v2 = rt.block_on(async {
        let a = admin(confdir, master.port)
            .file_sync_publish(None)
            .await
            .unwrap();
        a.environments["production"].code_id.clone()
    });
    assert_ne!(v2, v1);
    let v2 = CodeId::parse(&v2).unwrap();
    assert_eq!(store.live("production").unwrap().unwrap().code_id, v2);
    store.verify("production", &v2).unwrap();
    let content = store
        .content("production", &v2, "modules/big/files/f0095.bin")
        .unwrap();
    assert_eq!(content.len(), 1 << 20);
    assert_eq!(content[100], 2);
}
