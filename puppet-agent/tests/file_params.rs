//! `file`'s `source_permissions`, `validate_cmd`/`validate_replacement` and `content =>
//! '{sha256}...'` (from the filebucket) beside the real Puppet: `puppet apply --catalog` and
//! our engine apply the same catalog to two identical trees; the resource messages, the
//! warnings, the report statuses, the trees (content, mode, owner) and the clientbuckets must
//! be the same.
//!
//! Skipped with one line when `puppet` is absent, unless `PUPPET_RS_REQUIRE_REAL=1`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use puppet_agent::Logger;
use puppet_agent::apply::file::FileSettings;
use puppet_agent::apply::{ApplyOptions, apply};
use puppet_report::LogLevel;
use serde_json::{Value, json};

use crate::common::{catalog_doc, have_real_puppet, our_statuses, real_apply, report_statuses};

const NAMES: [&str; 16] = [
    "src", "new", "exist", "keep", "ign", "v1", "v2", "v3", "v4", "a", "b", "c", "d", "e", "f", "g",
];

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    for (name, body, mode) in [
        ("src", "src\n", 0o600),
        ("exist", "old\n", 0o644),
        ("keep", "old\n", 0o644),
        ("ign", "old\n", 0o644),
        ("v2", "keep\n", 0o644),
        ("a", "bucketed\n", 0o644),
        ("c", "zzz\n", 0o644),
    ] {
        let p = root.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // The source belongs to nobody (65534).
    nix::unistd::chown(&root.join("src"), Some(65534.into()), None).unwrap();
}

fn catalog(root: &Path) -> Value {
    let p = |n: &str| root.join(n).display().to_string();
    let bucketed = "{sha256}e2e93857ae932d37394a407e6c583b59d706d7b5551bdfcda6e9a160cf6b2973";
    let resources = vec![
        (
            "File",
            p("new"),
            json!({"source": p("src"), "source_permissions": "use"}),
        ),
        (
            "File",
            p("exist"),
            json!({"source": p("src"), "source_permissions": "use"}),
        ),
        (
            "File",
            p("keep"),
            json!({"source": p("src"), "source_permissions": "use_when_creating"}),
        ),
        (
            "File",
            p("ign"),
            json!({"source": p("src"), "source_permissions": "ignore"}),
        ),
        (
            "File",
            p("v1"),
            json!({"content": "ok\n", "validate_cmd": "/bin/grep -q ok %"}),
        ),
        (
            "File",
            p("v2"),
            json!({"content": "bad\n", "validate_cmd": "/bin/sh -c 'echo nope; exit 3' XX",
                   "validate_replacement": "XX"}),
        ),
        (
            "File",
            p("v3"),
            json!({"content": "x\n", "validate_cmd": "/bin/false %"}),
        ),
        (
            "File",
            p("v4"),
            json!({"content": "y\n", "validate_cmd": "/bin/echo checked %"}),
        ),
        (
            "File",
            p("a"),
            json!({"content": "new\n", "backup": "puppet"}),
        ),
        (
            "File",
            p("b"),
            json!({"content": bucketed, "backup": "puppet", "require": format!("File[{}]", p("a"))}),
        ),
        (
            "File",
            p("c"),
            json!({"content": bucketed, "backup": "puppet", "require": format!("File[{}]", p("a"))}),
        ),
        (
            "File",
            p("d"),
            json!({"content": format!("{{sha256}}{}", "0".repeat(64)), "backup": "puppet"}),
        ),
        (
            "File",
            p("e"),
            json!({"content": "{md5}fbbe6330e979cbc948778b3cc34fb61c", "backup": "puppet"}),
        ),
        ("File", p("f"), json!({"content": bucketed})),
        (
            "File",
            p("g"),
            json!({"content": bucketed, "backup": ".bak"}),
        ),
    ];
    let list: Vec<(&str, &str, Value)> = resources
        .iter()
        .map(|(t, n, v)| (*t, n.as_str(), v.clone()))
        .collect();
    let mut doc = catalog_doc(&list);
    // Manifest locations: the deprecation warnings name them.
    for (i, r) in doc["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        r["file"] = json!("/etc/puppet/code/site.pp");
        r["line"] = json!(i + 1);
    }
    doc
}

/// `line` with `root` as `<dir>` and temporary file names (ours `.v2XXXXXX.puppettmp`,
/// Puppet's `v220261203-123-abc`) as `<tmp>`.
fn normalize(line: &str, root: &Path) -> String {
    let dir = format!("{}/", root.display());
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(&dir) {
        out.push_str(&rest[..i]);
        let after = &rest[i + dir.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '\'' || c == ']' || c == '"')
            .unwrap_or(after.len());
        let token = &after[..end];
        out.push_str("<dir>/");
        out.push_str(if NAMES.contains(&token) || token.is_empty() {
            token
        } else {
            "<tmp>"
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Resource lines, warnings and errors (not debug), and the `Executing` lines of validation.
fn interesting(lines: &[String], root: &Path) -> (Vec<String>, Vec<String>) {
    let mut resource = Vec::new();
    let mut warnings = Vec::new();
    for l in lines {
        let n = normalize(l, root);
        if n.starts_with("Error: Facter: ") {
            continue;
        }
        if n.starts_with("Warning: ") && !n.starts_with("Warning: /") {
            warnings.push(n);
        } else if n.starts_with("Notice: /Stage")
            || n.starts_with("Error: ")
            || n.starts_with("Warning: /")
            || n.starts_with("Info: FileBucket read")
            || n.starts_with("Info: /Stage[main]/Main/File[<dir>/")
            || (n.starts_with("Debug: Executing: ") && n.contains("<dir>"))
            || (n.starts_with("Debug: /Stage[main]/Main/File[<dir>/v4]: ") && n.contains("checked"))
        {
            resource.push(n);
        }
    }
    warnings.sort();
    (resource, warnings)
}

/// Name, content, mode and owner of every file in `root`, and the clientbucket's files.
fn state(root: &Path, bucket: &Path) -> Vec<(String, String, u32, u32)> {
    let mut out = Vec::new();
    for name in NAMES
        .iter()
        .map(|n| n.to_string())
        .chain(["g.bak".to_string()])
    {
        if let Ok(m) = std::fs::symlink_metadata(root.join(&name)) {
            let body = std::fs::read_to_string(root.join(&name)).unwrap_or_default();
            out.push((name, body, m.mode() & 0o7777, m.uid()));
        }
    }
    let mut stack = vec![bucket.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(bucket).unwrap().display().to_string();
                let body = std::fs::read_to_string(&p)
                    .unwrap_or_default()
                    .replace(&root.display().to_string(), "<dir>");
                out.push((format!("bucket/{rel}"), body, 0, 0));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_validation_and_bucket_content_as_puppet() {
    if !have_real_puppet("permissions_validation_and_bucket_content_as_puppet") {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() != Ok("1"),
            "root is required (PUPPET_RS_REQUIRE_REAL=1)"
        );
        eprintln!("skipping permissions_validation_and_bucket_content_as_puppet: not root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (real, ours) = (work.path().join("real/t"), work.path().join("ours/t"));
    make_tree(&real);
    make_tree(&ours);

    let (real_lines, report) = real_apply(&work.path().join("real/p"), &catalog(&real), &[]);
    let real_bucket = work.path().join("real/p/var/clientbucket");

    let doc = catalog(&ours);
    let catalog = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();
    let log = Logger::capturing(LogLevel::Debug);
    let mut options = ApplyOptions::new("production");
    let our_bucket = work.path().join("ours/p/var/clientbucket");
    options.file = FileSettings::new(&our_bucket, false);
    let applied = apply(&catalog, &options, &log, None).await.unwrap();

    let (theirs, their_warnings) = interesting(&real_lines, &real);
    let (mine, my_warnings) = interesting(&log.lines(), &ours);
    assert_eq!(mine, theirs, "ours: {mine:#?}\nreal: {theirs:#?}");
    assert_eq!(my_warnings, their_warnings);
    // What Puppet did, for the reader.
    assert!(
        theirs
            .iter()
            .any(|l| l.ends_with("<dir>/exist]/mode: mode changed '0644' to '0600'"))
    );
    assert!(theirs.iter().any(|l| l.starts_with(
        "Error: Execution of '/bin/sh -c 'echo nope; exit 3' <dir>/<tmp>' returned 3: nope"
    )));
    assert!(
        theirs
            .iter()
            .any(|l| l.contains("FileBucket read e2e93857"))
    );
    assert_eq!(their_warnings.len(), 9, "{their_warnings:#?}");

    let statuses = |v: Vec<crate::common::StatusKey>, root: &Path| -> Vec<_> {
        let mut v: Vec<_> = v
            .into_iter()
            .filter(|s| s.0.starts_with("File["))
            .map(|mut s| {
                s.0 = normalize(&s.0, root);
                s
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        statuses(our_statuses(&applied), &ours),
        statuses(report_statuses(&report), &real)
    );
    assert_eq!(state(&ours, &our_bucket), state(&real, &real_bucket));
}
