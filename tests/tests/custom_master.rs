//! A custom master in under 40 lines (its own compiler and classifier over the test
//! master's defaults), and Debian's real Puppet agent run against it: it bootstraps, is put
//! in the environment the classifier chooses (Puppet's server-specified environment),
//! applies the compiled catalog and reports; a second run changes nothing.

#![allow(clippy::unwrap_used)]

// ---- the custom master: everything a downstream crate writes ----
use std::sync::Arc;

use async_trait::async_trait;
use puppet_catalog::{Catalog, CatalogBuilder, Declaration};
use puppet_facts::Facts;
use puppet_master::testing::TestMaster;
use puppet_protocol::ProtocolError;
use puppet_protocol::server::{CatalogCompiler, CompileRequest, NodeClassifier, NodeInfo};

/// One file under the node's `puppet_rs_target` fact, naming its OS and environment.
struct MotdCompiler;

#[async_trait]
impl CatalogCompiler for MotdCompiler {
    async fn compile(&self, req: &CompileRequest) -> Result<Catalog, ProtocolError> {
        let fact = |p| {
            req.facts
                .as_ref()
                .and_then(|f| f.get(p)?.as_str())
                .unwrap_or("")
        };
        let (env, dir) = (&req.environment, fact("puppet_rs_target"));
        let text = format!("{} runs {} in {env}\n", req.certname, fact("os.family"));
        let build = || {
            let mut b = CatalogBuilder::new(&req.certname).environment(env);
            let motd = b.add(Declaration::class("motd"))?;
            b.add(
                Declaration::new("file", format!("{dir}/motd"))
                    .param("content", text)
                    .within(&motd),
            )?;
            b.build()
        };
        build().map_err(ProtocolError::service)
    }
}

/// Nodes whose `role` fact is `canary` go to `canary`, the rest where they ask.
struct RoleClassifier;

#[async_trait]
impl NodeClassifier for RoleClassifier {
    async fn classify(
        &self,
        name: &str,
        env: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError> {
        let canary = facts
            .and_then(|f| f.get("role"))
            .is_some_and(|r| r == "canary");
        let mut node = NodeInfo {
            name: name.into(),
            ..NodeInfo::default()
        };
        node.environment = if canary {
            "canary"
        } else {
            env.unwrap_or("production")
        }
        .into();
        Ok(node)
    }
}

async fn custom_master() -> TestMaster {
    let (compiler, classifier) = (Arc::new(MotdCompiler), Arc::new(RoleClassifier));
    let builder = TestMaster::builder().ca_settings(|ca| ca.autosign = puppet_ca::Autosign::On);
    let builder = builder.services(|s| (s.compiler, s.classifier) = (compiler, classifier));
    builder.start().await.unwrap()
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
    let run = || {
        let mut cmd = tokio::process::Command::new(&puppet);
        cmd.args([
            "agent",
            "--test",
            "--detailed-exitcodes",
            "--server",
            "localhost",
        ])
        .args(["--masterport", &master.addr().port().to_string()])
        .args(["--certname", "canary1.example.test", "--keylength", "2048"])
        .args(["--color", "false"]);
        for (flag, sub) in [
            ("--confdir", "conf"),
            ("--vardir", "var"),
            ("--ssldir", "ssl"),
            ("--publicdir", "public"),
            ("--logdir", "log"),
            ("--rundir", "run"),
        ] {
            cmd.arg(flag).arg(root.join(sub));
        }
        cmd.env("FACTER_puppet_rs_target", &target)
            .env("FACTER_role", "canary")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(300), cmd.output())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let show = |out: &std::process::Output| {
        format!(
            "exit {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
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
