//! A custom master in under 40 lines (its own compiler and classifier over the test
//! master's defaults), and Debian's real Puppet agent run against it: it bootstraps, is put
//! in the environment the classifier chooses (Puppet's server-specified environment),
//! applies the compiled catalog and reports; a second run changes nothing.

#![allow(clippy::unwrap_used)]

// ---- the custom master: everything a downstream crate writes ----
use puppet_catalog::{CatalogBuilder, Declaration};
use puppet_master::testing::TestMaster;
use puppet_protocol::server::{NodeInfo, classifier_fn, compiler_fn};

use crate::support::{agent_command, finish, show};

/// A master whose catalog is one file under the node's `puppet_rs_target` fact naming its OS
/// and environment, and whose classifier sends nodes with the `role` fact `canary` to the
/// `canary` environment (the rest where they ask).
async fn custom_master() -> TestMaster {
    let compiler = compiler_fn(|req| {
        let fact = |path| req.fact(path).and_then(|v| v.as_str()).unwrap_or("");
        let (env, dir) = (&req.environment, fact("puppet_rs_target"));
        let text = format!("{} runs {} in {env}\n", req.certname, fact("os.family"));
        let mut b = CatalogBuilder::new(&req.certname).environment(env);
        let motd = b.add(Declaration::class("motd"))?;
        let file = Declaration::new("file", format!("{dir}/motd")).param("content", text);
        b.add(file.within(&motd))?;
        b.build()
    });
    let classifier = classifier_fn(|name, asked, facts| {
        let canary = facts
            .and_then(|f| f.get("role")?.as_str())
            .filter(|r| *r == "canary");
        NodeInfo::new(name, canary.or(asked).unwrap_or("production"))
    });
    TestMaster::builder()
        .ca_settings(|ca| ca.autosign = puppet_ca::Autosign::On)
        .services(|s| (s.compiler, s.classifier) = (compiler, classifier))
        .start()
        .await
        .unwrap()
}
// ---- end of the custom master ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_runs_against_a_custom_master() {
    let Some(puppet) = crate::support::real_puppet("real_agent_runs_against_a_custom_master")
    else {
        return;
    };
    let master = custom_master().await;
    // The environment the classifier chooses exists for the file server (pluginsync).
    std::fs::create_dir_all(master.environments().join("canary/modules")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (root, target) = (dir.path().join("agent"), dir.path().join("managed"));
    std::fs::create_dir_all(&target).unwrap();
    let port = master.addr().port();
    let run = || {
        let mut cmd = agent_command(&puppet, &root, port, "canary1.example.test");
        cmd.env("FACTER_puppet_rs_target", &target)
            .env("FACTER_role", "canary");
        finish(cmd)
    };
    let first = run().await;
    assert_eq!(first.status.code(), Some(2), "{}", show(&first));
    let motd = std::fs::read_to_string(target.join("motd")).unwrap();
    assert!(
        motd.starts_with("canary1.example.test runs ") && motd.ends_with(" in canary\n"),
        "{motd:?}"
    );
    let second = run().await;
    assert_eq!(second.status.code(), Some(0), "{}", show(&second));
    // The report reached the master, from the environment the classifier chose.
    master.storage().flush().await;
    let reports = master.storage().reports("canary1.example.test").unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].environment, "canary");
}
