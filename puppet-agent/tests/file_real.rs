//! The `file` type beside the real Puppet agent: `puppet apply` (under its own confdir,
//! vardir, ssldir, logdir and rundir in a temporary directory, with `--show_diff`) and our
//! engine apply the same resources to two identical trees; their log lines about those
//! resources (backups, diffs, purges, content changes), the trees and the clientbuckets must
//! be the same. And the real agent backing up to our master's filebucket.
//!
//! Skipped with one line when `puppet` is absent, unless `PUPPET_RS_REQUIRE_REAL=1`.

use std::path::Path;

use puppet_agent::apply::file::FileSettings;
use serde_json::{Value, json};

use crate::common::{Level, have_real_puppet, puppet_apply, run_with};
use crate::file::normalize;

/// The same starting tree in `root`.
fn make_tree(root: &Path) {
    for (f, body) in [
        ("a", "old\n"),
        ("b", "old\n"),
        ("c", "one\ntwo\nthree\n"),
        ("e", "old\n"),
        ("s", "a\nb\n"),
        ("e2", "x\n"),
        ("m", "local\n"),
        ("src/f1", "s1\n"),
        ("src/skip.tmp", "i\n"),
        ("src/sub/f2", "s2\n"),
        ("src/sub/deep/f3", "s3\n"),
        ("dst/junk", "x\n"),
        ("dst/keep.tmp", "k\n"),
        ("dst/extra/z", "y\n"),
        ("dst/sub/f2", "changed\n"),
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    for (link, target) in [("lk", "e2"), ("lk2", "e2"), ("lk3", "e2")] {
        std::os::unix::fs::symlink(root.join(target), root.join(link)).unwrap();
    }
}

/// `(title, parameters)` of the resources under test, paths under `root`.
fn resources(root: &Path) -> Vec<(String, Value)> {
    let p = |n: &str| root.join(n).to_str().unwrap().to_string();
    vec![
        (p("a"), json!({"content": "new\n", "backup": "puppet"})),
        (p("b"), json!({"content": "new\n", "backup": ".bak"})),
        (p("c"), json!({"content": "one\n2\nthree\n"})),
        (p("e"), json!({"ensure": "absent", "backup": "puppet"})),
        // Links: followed (the target is in sync), replaced by a file with or without content.
        (
            p("lk"),
            json!({"ensure": "file", "content": "x\n", "links": "follow"}),
        ),
        (p("lk2"), json!({"ensure": "file", "content": "y\n"})),
        (p("lk3"), json!({"ensure": "file"})),
        // Sensitive content: the diff and the values are redacted.
        (p("s"), json!({"content": "a\nsecret\n", "sensitive": true})),
        (p("s2"), json!({"content": "new\n", "sensitive": true})),
        (
            p("m"),
            json!({"source": p("src/f1"), "checksum": "md5", "backup": true}),
        ),
        (
            p("dst"),
            json!({"ensure": "directory", "source": p("src"), "recurse": true, "purge": true,
                   "ignore": "*.tmp", "recurselimit": 2, "backup": "puppet", "show_diff": true}),
        ),
    ]
}

fn puppet_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn manifest(root: &Path) -> String {
    let mut out = String::new();
    for (title, params) in resources(root) {
        out.push_str(&format!("file {{ '{title}':\n"));
        let sensitive = params.get("sensitive").is_some();
        for (k, v) in params.as_object().unwrap() {
            if k == "sensitive" {
                continue;
            }
            let value = match v {
                Value::String(s) if s.contains('\n') => {
                    format!("\"{}\"", s.replace('\n', "\\n"))
                }
                other => puppet_value(other),
            };
            let value = if sensitive && k == "content" {
                format!("Sensitive({value})")
            } else {
                value
            };
            out.push_str(&format!("  {k} => {value},\n"));
        }
        out.push_str("}\n");
    }
    out
}

/// Every file below `root` with its content (directories as `<dir>`, links as `-> target`),
/// sorted.
fn listing(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                let t = t.strip_prefix(root).unwrap_or(&t).display().to_string();
                out.push((rel, format!("-> {t}")));
            } else if p.is_dir() {
                stack.push(p);
                out.push((rel, "<dir>".into()));
            } else {
                out.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// The lines about the tree (log lines naming `<dir>`), as both agents print them.
fn about_tree(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| l.contains("<dir>"))
        .map(|l| l.replace("+++ /tmp/<tmp>", "+++ <tmp>"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_messages_trees_and_buckets_as_puppet_apply() {
    if !have_real_puppet("same_messages_trees_and_buckets_as_puppet_apply") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (real, ours) = (work.path().join("real"), work.path().join("ours"));
    let tree = |side: &Path| side.join("t");
    make_tree(&tree(&real));
    make_tree(&tree(&ours));

    // The real agent.
    let m = real.join("m.pp");
    std::fs::write(&m, manifest(&tree(&real))).unwrap();
    let run = puppet_apply(
        &real.join("state"),
        Level::Verbose,
        &["--show_diff", m.to_str().unwrap()],
    );
    assert!(run.success, "puppet apply failed: {}", run.text);
    // A diff's message ends with the diff's own newline.
    let real_lines: Vec<String> = run
        .lines
        .into_iter()
        .map(|l| {
            if l.contains("\n@@") {
                format!("{l}\n")
            } else {
                l
            }
        })
        .collect();

    // Ours.
    let ours_resources = resources(&tree(&ours));
    let catalog = crate::common::catalog(
        &ours_resources
            .iter()
            .map(|(t, p)| {
                let mut p = p.clone();
                p.as_object_mut().unwrap().remove("sensitive");
                ("File", t.as_str(), p)
            })
            .collect::<Vec<_>>(),
    );
    // Sensitive parameters are listed in `sensitive_parameters`, as Puppet's catalog does.
    let mut doc: Value = serde_json::from_str(&catalog.to_json().unwrap()).unwrap();
    for r in doc["resources"].as_array_mut().unwrap() {
        let sensitive = ours_resources
            .iter()
            .any(|(t, p)| r["title"] == json!(t) && p.get("sensitive").is_some());
        if sensitive {
            r["sensitive_parameters"] = json!(["content"]);
        }
    }
    let catalog = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();
    let settings = FileSettings::new(ours.join("state/var/clientbucket"), true);
    let (our_lines, _) = run_with(&catalog, settings, false).await;

    let theirs = about_tree(normalize(&real_lines, &tree(&real)));
    let mine = about_tree(normalize(&our_lines, &tree(&ours)));
    assert_eq!(mine, theirs, "ours:\n{mine:#?}\nreal:\n{theirs:#?}");
    insta::assert_debug_snapshot!(mine);
    assert_eq!(listing(&tree(&ours)), listing(&tree(&real)));
    // The clientbuckets hold the same contents and paths (paths relative to each tree).
    let bucket = |side: &Path| -> Vec<(String, String)> {
        listing(&side.join("state/var/clientbucket"))
            .into_iter()
            .map(|(p, c)| (p, c.replace(tree(side).to_str().unwrap(), "<dir>")))
            .collect()
    };
    let real_bucket = bucket(&real);
    assert!(!real_bucket.is_empty());
    assert_eq!(bucket(&ours), real_bucket);
}

/// The real agent's backup to a remote filebucket (`HEAD` then `PUT`
/// `file_bucket_file/sha256/<sum>//<path>`) against our master: the master stores what the
/// real agent sends, under the sum the real agent logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_agent_backs_up_to_our_masters_filebucket() {
    if !have_real_puppet("the_real_agent_backs_up_to_our_masters_filebucket") {
        return;
    }
    let master = puppet_master::testing::TestMaster::builder()
        .ca_settings(|s| s.autosign = puppet_ca::Autosign::On)
        .start()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let s = |d: &str| work.path().join(d).to_str().unwrap().to_string();
    for d in ["conf", "var", "log", "run", "pub"] {
        std::fs::create_dir_all(work.path().join(d)).unwrap();
    }
    let port = master.addr().port().to_string();
    // Our bootstrap makes the ssldir (Puppet's layout) the real agent then uses.
    let settings = puppet_agent::Settings::load(&[
        ("confdir".into(), s("conf")),
        ("vardir".into(), s("ourvar")),
        ("ssldir".into(), s("ssl")),
        ("server".into(), "127.0.0.1".into()),
        ("masterport".into(), port.clone()),
        ("certname".into(), "real.example.test".into()),
        ("keylength".into(), "2048".into()),
    ])
    .unwrap();
    let log = puppet_agent::Logger::capturing(puppet_report::LogLevel::Info);
    puppet_agent::ssl::bootstrap(&settings, &log).await.unwrap();

    let motd = work.path().join("motd");
    std::fs::write(&motd, "old motd\n").unwrap();
    let m = work.path().join("m.pp");
    std::fs::write(
        &m,
        format!(
            "filebucket {{ 'main': path => false, server => '127.0.0.1', port => {port} }}\n\
             file {{ '{}': content => \"new motd\\n\", backup => 'main' }}\n",
            motd.display()
        ),
    )
    .unwrap();
    let run = puppet_apply(
        work.path(),
        Level::Verbose,
        &["--certname", "real.example.test", "--server", "127.0.0.1"]
            .into_iter()
            .chain(["--serverport", &port, m.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let text = run.text;
    assert!(run.success, "puppet apply failed: {text}");
    let sum = puppet_protocol::files::digest(b"old motd\n", "sha256");
    assert!(
        text.contains(&format!(
            "Filebucketed {} to main with sum {sum}",
            motd.display()
        )),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "new motd\n");
    let held = master
        .client_for("reader.example.test")
        .unwrap()
        .file_bucket_get("production", "sha256", &sum)
        .await
        .unwrap();
    assert_eq!(held, b"old motd\n");
    master.shutdown().await;
}
