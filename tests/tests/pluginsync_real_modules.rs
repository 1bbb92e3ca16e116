//! Pluginsync with real modules (Debian's `puppet-module-puppetlabs-*` packages in
//! `/usr/share/puppet/modules`): Puppet merges every module's `lib/` into the `plugins`
//! mount, so the real agent receives every plugin file (221 with Debian's eight modules;
//! it received 8 before the merge was fixed) and applies a catalog using a type from a
//! module (stdlib's `Anchor`; Debian's agent would also find it in its own
//! `/usr/share/puppet/modules`, so the file count is what proves the merge).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use puppet_master::testing::TestMaster;

use crate::support::{agent_command, finish, show};

const MODULES: &str = "/usr/share/puppet/modules";

/// Every file below the modules' `lib/`, by path relative to `lib/` (first module wins).
fn plugin_files(modules: &Path) -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, rel: &str, out: &mut std::collections::BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.path().is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for m in std::fs::read_dir(modules).unwrap().flatten() {
        walk(&m.path().join("lib"), "", &mut out);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_pluginsyncs_every_real_modules_plugins() {
    let Some(puppet) =
        crate::support::real_puppet("real_agent_pluginsyncs_every_real_modules_plugins")
    else {
        return;
    };
    if !Path::new(MODULES)
        .join("stdlib/lib/puppet/type/anchor.rb")
        .is_file()
    {
        return crate::support::skip_or_fail(
            "real_agent_pluginsyncs_every_real_modules_plugins",
            "puppet-module-puppetlabs-stdlib (and other Debian Puppet modules)",
        );
    }
    let master = TestMaster::builder()
        .ca_settings(|ca| ca.autosign = puppet_ca::Autosign::On)
        .start()
        .await
        .unwrap();
    let env = master.environments().join("production");
    for m in std::fs::read_dir(MODULES).unwrap().flatten() {
        std::os::unix::fs::symlink(m.path(), env.join("modules").join(m.file_name())).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("managed");
    std::fs::write(
        env.join("resources.json"),
        serde_json::json!({
            "classes": {"site": [
                {"type": "Anchor", "title": "site::begin"},
                {"type": "File", "title": target.join("done").to_str().unwrap(),
                 "parameters": {"ensure": "file", "content": "ok\n", "require": "Anchor[site::begin]"}}
            ]},
            "nodes": [{"classes": ["site"]}]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(&target).unwrap();
    let root = dir.path().join("agent");
    let out = finish(agent_command(
        &puppet,
        &root,
        master.addr().port(),
        "plugins1.example.test",
    ))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(
        std::fs::read_to_string(target.join("done")).unwrap(),
        "ok\n"
    );
    // Every plugin file of every module reached the agent's libdir.
    let expected = plugin_files(Path::new(MODULES));
    let synced = plugin_files_in(&root.join("var/lib"));
    let missing: Vec<_> = expected.difference(&synced).collect();
    assert!(
        missing.is_empty(),
        "{} of {} plugin files missing: {missing:?}",
        missing.len(),
        expected.len()
    );
}

/// Every file below `lib` (the agent's libdir), relative to it.
fn plugin_files_in(lib: &Path) -> std::collections::BTreeSet<String> {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("m");
    std::fs::create_dir_all(&module).unwrap();
    std::os::unix::fs::symlink(lib, module.join("lib")).unwrap();
    plugin_files(tmp.path())
}
