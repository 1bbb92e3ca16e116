//! Against the real Puppetserver 7 (Debian's `puppetserver`, started once for this test
//! binary from a temporary directory on 127.0.0.1 by `scripts/lib-puppetserver.sh`), with
//! the real Puppet agent beside ours: bootstrap with autosign, apply, report; the files,
//! modes, links and the apply order compared with what the real agent makes from the same
//! code; the second run; a dependency cycle; each agent reusing the other's ssldir; then the
//! same with Puppetserver's versioned code on (`versioned-code.code-id-command` and
//! `code-content-command`: a static catalog with a code_id, file content fetched from
//! `static_file_content`), in an environment `versioned` of the same server (`production`
//! has `static_catalogs = false`, so its files come the classic way); and a CRL refresh that
//! Puppetserver answers `304 Not Modified`.
//!
//! Skipped with one line when `puppetserver` or `puppet` is absent, unless
//! `PUPPET_RS_REQUIRE_REAL=1`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use puppet_agent::{Logger, Settings};
use puppet_report::{LogLevel, RunStatus};

use crate::common::agent_settings;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A running Puppetserver, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
    lib: PathBuf,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lib-puppetserver.sh");
        let port = 20000 + (std::process::id() % 19000) as u16;
        let script = format!(
            ". {lib}; ps_configure {d} puppet.example.test true && write_code {d} && write_versioned {d} && ps_start {d}",
            lib = lib.display(),
            d = dir.path().display()
        );
        let server = Server { dir, port, lib };
        let out = Command::new("bash")
            .env("PS_PORT", port.to_string())
            .args([
                "-c",
                &format!("{} ; {} ; {script}", server.code_fn(), versioned_fn()),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "puppetserver did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    /// A shell function writing the Puppet code under test into the server's codedir.
    fn code_fn(&self) -> String {
        let modules = "$1/code/environments/production/modules/demo";
        format!(
            r#"write_code() {{
  mkdir -p "{modules}/manifests" "{modules}/files/tree/sub"
  printf 'a\n' > "{modules}/files/tree/a.txt"
  printf 'b\n' > "{modules}/files/tree/sub/b.txt"
  cat > "{modules}/manifests/init.pp" <<'PP'
class demo::base(String $target) {{
  file {{ $target: ensure => directory, mode => '0755' }}
  file {{ "${{target}}/content.txt": ensure => file, content => "hello\n", mode => '0640' }}
  file {{ "${{target}}/tree": ensure => directory, recurse => true, source => 'puppet:///modules/demo/tree' }}
  file {{ "${{target}}/link": ensure => link, target => "${{target}}/content.txt" }}
}}
define demo::thing(String $dir) {{
  file {{ "${{dir}}/${{title}}.thing": content => "thing ${{title}}\n", mode => 'u=rw,go=r' }}
}}
class demo(String $target) {{
  class {{ 'demo::base': target => $target }}
  exec {{ 'make-flag': command => "touch ${{target}}/flag", creates => "${{target}}/flag", path => ['/usr/bin', '/bin'], require => Class['demo::base'] }}
  exec {{ 'on-refresh': command => "touch ${{target}}/refreshed", refreshonly => true, path => ['/usr/bin', '/bin'], subscribe => File["${{target}}/content.txt"] }}
  notify {{ 'greeting': message => "hello ${{trusted['certname']}}" }}
  demo::thing {{ ['one', 'two']: dir => $target, require => Class['demo::base'] }}
  Demo::Thing['one'] -> Demo::Thing['two']
}}
PP
  cat > "$1/code/environments/production/manifests/site.pp" <<PP
node /^ours/ {{ class {{ 'demo': target => '$1/out/ours' }} }}
node /^real/ {{ class {{ 'demo': target => '$1/out/real' }} }}
node /^cycle/ {{
  notify {{ 'a': require => Notify['b'] }}
  notify {{ 'b': require => Notify['a'] }}
}}
node default {{ }}
PP
}}"#
        )
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

/// The code_id Puppetserver's code-id-command gives.
const CODE_ID: &str = "urn:puppet-rs:v1";

/// A shell function turning versioned code on: the code-id and code-content scripts in
/// puppetserver.conf, an environment `versioned` (a copy of production's modules with its
/// own nodes), and `static_catalogs = false` in production.
fn versioned_fn() -> String {
    let envs = "$1/code/environments";
    format!(
        r#"write_versioned() {{
  mkdir -p "$1/scripts" "{envs}/versioned/manifests"
  printf '#!/bin/sh
echo {CODE_ID}
' > "$1/scripts/code-id"
  printf '#!/bin/sh
[ "$2" = "{CODE_ID}" ] || exit 1
exec cat "%s/$1/$3"
' "{envs}" > "$1/scripts/code-content"
  chmod 755 "$1/scripts/code-id" "$1/scripts/code-content"
  cp -r "{envs}/production/modules" "{envs}/versioned/"
  printf 'static_catalogs = false
' > "{envs}/production/environment.conf"
  cat > "{envs}/versioned/manifests/site.pp" <<PP
node /^vours/ {{ class {{ 'demo': target => '$1/out/vours' }} }}
node /^vreal/ {{ class {{ 'demo': target => '$1/out/vreal' }} }}
node default {{ }}
PP
  cat >> "$1/ps/conf.d/puppetserver.conf" <<CONF

versioned-code: {{
    code-id-command: "$1/scripts/code-id"
    code-content-command: "$1/scripts/code-content"
}}
CONF
}}"#
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .args([
                "-c",
                &format!(
                    ". {}; ps_stop {}",
                    self.lib.display(),
                    self.dir.path().display()
                ),
            ])
            .status();
    }
}

fn our_settings(server: &Server, name: &str, certname: &str) -> Settings {
    let root = server.path(&format!("agents/{name}"));
    agent_settings(&root, "localhost", server.port, certname, &[])
}

/// `puppet agent --test` with its own directories; (exit code, stdout).
fn real_agent(server: &Server, name: &str, certname: &str, ssldir: Option<&Path>) -> (i32, String) {
    real_agent_in(server, name, certname, ssldir, &[])
}

/// [`real_agent`] with more arguments.
fn real_agent_in(
    server: &Server,
    name: &str,
    certname: &str,
    ssldir: Option<&Path>,
    extra: &[&str],
) -> (i32, String) {
    let root = server.path(&format!("agents/{name}"));
    let d = |x: &str| root.join(x).to_str().unwrap().to_string();
    std::fs::create_dir_all(root.join("conf")).unwrap();
    let ssl = ssldir
        .map(|p| p.to_str().unwrap().to_string())
        .unwrap_or_else(|| d("ssl"));
    let out = Command::new("puppet")
        .args(["agent", "--test", "--color", "false"])
        .args([
            "--confdir",
            &d("conf"),
            "--vardir",
            &d("var"),
            "--ssldir",
            &ssl,
        ])
        .args([
            "--publicdir",
            &d("public"),
            "--logdir",
            &d("log"),
            "--rundir",
            &d("run"),
        ])
        .args(["--codedir", &d("code"), "--server", "localhost"])
        .args([
            "--masterport",
            &server.port.to_string(),
            "--certname",
            certname,
        ])
        .args(["--keylength", "2048"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every path below `root`: relative path, kind, mode, content or link target.
fn tree(root: &Path) -> Vec<(String, String, u32, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                let t = t
                    .strip_prefix(root)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((rel, "link".into(), 0, t));
            } else if m.is_dir() {
                out.push((rel, "dir".into(), mode, String::new()));
                stack.push(p);
            } else {
                let c = std::fs::read_to_string(&p).unwrap_or_default();
                // The refresh exec writes nothing; its presence is what counts.
                out.push((rel, "file".into(), mode, c));
            }
        }
    }
    out.sort();
    out
}

/// The resources changed, in order, from console lines (`.../File[<target>/x]/ensure: ...`),
/// with the target directory replaced so two agents' runs compare.
fn changed_order(lines: &[String], target: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("Notice: /Stage[main]/") else {
            continue;
        };
        let Some(idx) = rest.rfind("]/").or_else(|| rest.rfind("]: Triggered")) else {
            continue;
        };
        // Containment path and resource, e.g. `Demo::Base/File[T/tree/a.txt]`.
        let res = rest[..=idx].replace(target, "T");
        if out.last() != Some(&res) {
            out.push(res);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_real_puppetserver() {
    if !have("puppetserver") || !have("puppet") {
        if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
            panic!("puppetserver and puppet are required (PUPPET_RS_REQUIRE_REAL=1)");
        }
        eprintln!("skipping the real-Puppetserver test: puppetserver or puppet is not installed");
        return;
    }
    let server = Server::start();
    let out = server.path("out");
    std::fs::create_dir_all(&out).unwrap();

    // The real agent first, from the same code.
    let (code, real_stdout) = real_agent(&server, "real", "real1.example.test", None);
    assert_eq!(code, 2, "real agent: {real_stdout}");

    // Ours: bootstrap (autosign), apply, report.
    let settings = our_settings(&server, "ours", "ours1.example.test");
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    let lines = log.lines();
    assert_eq!(outcome.exit_code(true), 2, "{lines:#?}");
    let report = outcome.report.unwrap();
    assert_eq!(report.status, RunStatus::Changed);
    // dir, content, tree + 3 children, link, make-flag, on-refresh, greeting, 2 things.
    assert_eq!(
        report
            .metrics
            .value("changes", "total")
            .and_then(|n| n.as_u64()),
        Some(12),
        "{lines:#?}"
    );

    // Same files, modes and links as the real agent made.
    assert_eq!(tree(&out.join("ours")), tree(&out.join("real")));

    // Same apply order as the real agent's run.
    let real_lines: Vec<String> = real_stdout.lines().map(String::from).collect();
    let real_target = out.join("real").to_str().unwrap().to_string();
    let our_target = out.join("ours").to_str().unwrap().to_string();
    assert_eq!(
        changed_order(&lines, &our_target),
        changed_order(&real_lines, &real_target),
        "ours: {lines:#?}\nreal: {real_stdout}"
    );

    // Puppetserver stored our report, `status: changed`.
    let stored: Vec<_> = [
        "psvar/reports/ours1.example.test",
        "var/reports/ours1.example.test",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(server.path(d)).ok())
    .flat_map(|r| r.flatten())
    .collect();
    assert_eq!(stored.len(), 1);
    let text = std::fs::read_to_string(stored[0].path()).unwrap();
    assert!(text.contains("status: changed"), "{text}");

    // Second runs: the same changes as the real agent's second run (the notify only).
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings, &log).await.unwrap();
    let ours2 = changed_order(&log.lines(), &our_target);
    let (_, real2) = real_agent(&server, "real", "real1.example.test", None);
    let real2: Vec<String> = real2.lines().map(String::from).collect();
    assert_eq!(ours2, changed_order(&real2, &real_target));
    assert_eq!(
        outcome
            .report
            .unwrap()
            .metrics
            .value("changes", "total")
            .and_then(|n| n.as_u64()),
        Some(1)
    );

    // A dependency cycle: exit 1, Puppet's message naming the resources, nothing applied.
    let settings_c = our_settings(&server, "cycle", "cycle1.example.test");
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&settings_c, &log)
        .await
        .unwrap();
    assert_eq!(outcome.exit_code(true), 1);
    let lines = log.lines();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "Error: Found 1 dependency cycle:\n(Notify[a] => Notify[b] => Notify[a])"
        )),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("defined 'message'")));

    // Our agent reuses the real agent's ssldir (no new key, no new CSR) ...
    let mut reuse = our_settings(&server, "ours-on-real-ssl", "real1.example.test");
    reuse.ssldir = server.path("agents/real/ssl");
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&reuse, &log).await.unwrap();
    assert!(outcome.completed, "{:#?}", log.lines());
    assert!(!log.lines().iter().any(|l| l.contains("Creating a new")));
    // ... and the real agent reuses ours.
    let (code, stdout) = real_agent(
        &server,
        "real-on-our-ssl",
        "ours1.example.test",
        Some(&settings.ssldir),
    );
    assert!(code == 0 || code == 2, "{stdout}");
    assert!(!stdout.contains("Creating a new"), "{stdout}");

    // A CRL refresh (crl_refresh_interval, the file older than that): Puppetserver answers
    // the agent's If-Modified-Since with 304, and the agent keeps its CRL.
    let mut refresh = our_settings(&server, "ours", "ours1.example.test");
    // Ours is made a second newer than the server's CRL (Puppetserver's Last-Modified: made
    // when it started, which may be less than a minute ago) and older than the interval.
    refresh.crl_refresh_interval = Some(std::time::Duration::from_secs(1));
    let crl = refresh.hostcrl();
    let before = std::fs::read_to_string(&crl).unwrap();
    let server_crl = std::fs::metadata(server.path("ca/ca_crl.pem"))
        .unwrap()
        .modified()
        .unwrap();
    let ours = server_crl + std::time::Duration::from_secs(1);
    while std::time::SystemTime::now() < ours + std::time::Duration::from_secs(2) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    std::fs::File::options()
        .append(true)
        .open(&crl)
        .unwrap()
        .set_modified(ours)
        .unwrap();
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&refresh, &log).await.unwrap();
    let lines = log.lines();
    assert!(outcome.completed, "{lines:#?}");
    assert!(
        lines.contains(&"Info: Refreshing CRL".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"Info: CRL is unmodified, using existing CRL".to_string()),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(&crl).unwrap(), before);

    // Versioned code: the real agent, then ours, in environment `versioned`.
    let (code, real_v) = real_agent_in(
        &server,
        "vreal",
        "vreal1.example.test",
        None,
        &["--environment", "versioned"],
    );
    assert_eq!(code, 2, "real agent, versioned: {real_v}");
    let mut versioned = our_settings(&server, "vours", "vours1.example.test");
    versioned.environment = "versioned".into();
    versioned.environment_given = true;
    let traced = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = traced.clone();
    versioned.http_trace = Some(puppet_protocol::client::Tracer::new(move |l| {
        sink.lock().unwrap().push(l.to_string())
    }));
    let log = Logger::capturing(LogLevel::Info);
    let outcome = puppet_agent::run::run_once(&versioned, &log).await.unwrap();
    let lines = log.lines();
    assert_eq!(outcome.exit_code(true), 2, "{lines:#?}");
    let report = outcome.report.unwrap();
    assert_eq!(report.code_id.as_deref(), Some(CODE_ID));
    // The catalog was static: a code_id and the tree's metadata inlined with content URIs.
    let cached = std::fs::read_to_string(versioned.catalog_cache()).unwrap();
    let cached: serde_json::Value = serde_json::from_str(&cached).unwrap();
    assert_eq!(cached["code_id"], CODE_ID, "{cached}");
    assert!(
        cached["recursive_metadata"]
            .to_string()
            .contains("puppet:///modules/demo/files/tree/a.txt"),
        "{cached}"
    );
    // Every file of the tree came from static_file_content with the catalog's code_id, none
    // from file_content.
    let trace = traced.lock().unwrap().clone();
    let requests: Vec<&String> = trace.iter().filter(|l| l.starts_with("<- \"")).collect();
    for file in ["a.txt", "sub/b.txt"] {
        let want = format!(
            "<- \"GET /puppet/v3/static_file_content/modules/demo/files/tree/{file}?code_id={}&environment=versioned HTTP/1.1\\r\\n",
            CODE_ID.replace(':', "%3A")
        );
        assert!(
            requests.iter().any(|l| l.starts_with(&want)),
            "{want} not in {requests:#?}"
        );
    }
    assert!(
        !requests
            .iter()
            .any(|l| l.contains("/puppet/v3/file_content/modules/demo")),
        "{requests:#?}"
    );
    // The same files as the real agent made from the same versioned code, in the same order.
    assert_eq!(tree(&out.join("vours")), tree(&out.join("vreal")));
    let real_v: Vec<String> = real_v.lines().map(String::from).collect();
    assert_eq!(
        changed_order(&lines, out.join("vours").to_str().unwrap()),
        changed_order(&real_v, out.join("vreal").to_str().unwrap()),
    );
    // The production runs above were not static (static_catalogs = false there).
    let cached = std::fs::read_to_string(settings.catalog_cache()).unwrap();
    assert!(!cached.contains("content_uri"), "{cached}");
}
