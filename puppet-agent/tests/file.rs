//! The `file` type's backup, show_diff, recursion and checksums on real files in temporary
//! directories, with the log lines snapshotted (paths, temporary names and times replaced).

use std::path::Path;

use puppet_agent::apply::file::{FileSettings, Sum, bucket_dir};
use serde_json::json;

use crate::common::{catalog, run_with, status};

/// Log lines with `dir` as `<dir>`, the diff's temporary file and times replaced, debug
/// lines dropped.
pub fn normalize(lines: &[String], dir: &Path) -> Vec<String> {
    let d = dir.to_str().unwrap();
    lines
        .iter()
        .filter(|l| !l.starts_with("Debug: "))
        .map(|l| {
            let mut out = Vec::new();
            for line in l.replace(d, "<dir>").split('\n') {
                let line = if line.starts_with("--- ") || line.starts_with("+++ ") {
                    let (name, _) = line.split_once('\t').unwrap_or((line, ""));
                    let name = match name.find("/puppet-file") {
                        Some(i) => format!("{}<tmp>", &name[..i + 1]),
                        None => name.to_string(),
                    };
                    let name = name.replace("+++ /tmp/<tmp>", "+++ <tmp>");
                    format!("{name}\t<time>")
                } else {
                    line.to_string()
                };
                out.push(line);
            }
            out.join("\n")
        })
        .collect()
}

fn settings(dir: &Path, show_diff: bool) -> FileSettings {
    FileSettings::new(dir.join("clientbucket"), show_diff)
}

#[tokio::test]
async fn backup_to_the_local_bucket_suffixes_and_false() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    std::fs::create_dir(&root).unwrap();
    for n in ["a", "b", "c", "d", "e"] {
        std::fs::write(root.join(n), "old\n").unwrap();
    }
    let p = |n: &str| root.join(n).to_str().unwrap().to_string();
    let c = catalog(&[
        (
            "File",
            &p("a"),
            json!({"content": "new\n", "backup": "puppet"}),
        ),
        (
            "File",
            &p("b"),
            json!({"content": "new\n", "backup": ".bak"}),
        ),
        ("File", &p("c"), json!({"content": "new\n", "backup": true})),
        (
            "File",
            &p("d"),
            json!({"content": "new\n", "backup": false}),
        ),
        (
            "File",
            &p("e"),
            json!({"ensure": "absent", "backup": "puppet"}),
        ),
    ]);
    let (lines, applied) = run_with(&c, settings(dir.path(), false), false).await;
    insta::assert_debug_snapshot!(normalize(&lines, dir.path()));
    // Puppet's layout: one directory per each of the first eight hex digits.
    let sum = "01d09d19c2139a46aebfb577780d123d7396e97201bc7ead210a2ebff8239dee";
    let held = bucket_dir(&dir.path().join("clientbucket"), sum);
    assert_eq!(
        std::fs::read_to_string(held.join("contents")).unwrap(),
        "old\n"
    );
    assert_eq!(
        std::fs::read_to_string(held.join("paths")).unwrap(),
        format!("{}\n{}\n", p("a"), p("e"))
    );
    assert_eq!(
        std::fs::read_to_string(root.join("b.bak")).unwrap(),
        "old\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("c.puppet-bak")).unwrap(),
        "old\n"
    );
    assert!(!root.join("d.bak").exists() && !root.join("d.puppet-bak").exists());
    assert!(!root.join("e").exists());
    for n in ["a", "b", "c", "d"] {
        assert_eq!(std::fs::read_to_string(root.join(n)).unwrap(), "new\n");
        assert!(status(&applied, &format!("File[{}]", p(n))).changed);
    }

    // Again with the old content: the backup of `new` is made; an old `.bak` is replaced.
    for n in ["a", "b"] {
        std::fs::write(root.join(n), "newer\n").unwrap();
    }
    let (lines, _) = run_with(&c, settings(dir.path(), false), false).await;
    let lines = normalize(&lines, dir.path());
    assert!(
        lines.contains(
            &"Info: /Stage[main]/Main/File[<dir>/t/b]: Removing old backup of type file"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("b.bak")).unwrap(),
        "newer\n"
    );

    // A filebucket the catalog does not have fails the resource.
    let c = catalog(&[("File", &p("a"), json!({"content": "x\n", "backup": "main"}))]);
    let (lines, applied) = run_with(&c, settings(dir.path(), false), false).await;
    assert!(status(&applied, &format!("File[{}]", p("a"))).failed);
    assert!(
        lines.iter().any(|l| l
            .ends_with("Could not evaluate: Could not find filebucket main specified in backup")),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "new\n");
}

#[tokio::test]
async fn show_diff_as_diff_u_and_sensitive_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for n in ["a", "b", "c", "d"] {
        std::fs::write(dir.path().join(n), "one\ntwo\nthree\n").unwrap();
    }
    let mut sensitive = json!({"type": "File", "title": p("c"),
        "parameters": {"content": "one\nsecret\nthree\n"}, "sensitive_parameters": ["content"]});
    let mut c = catalog(&[
        ("File", &p("a"), json!({"content": "one\n2\nthree\n"})),
        (
            "File",
            &p("b"),
            json!({"content": "one\n2\nthree\n", "show_diff": false}),
        ),
        (
            "File",
            &p("d"),
            json!({"content": "one\ntwo\nthree\nfour\n"}),
        ),
    ]);
    sensitive["tags"] = json!(["file", "class"]);
    let mut doc: serde_json::Value = serde_json::from_str(&c.to_json().unwrap()).unwrap();
    doc["resources"].as_array_mut().unwrap().push(sensitive);
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": "Class[Main]", "target": format!("File[{}]", p("c"))}));
    c = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();

    // noop shows the diff and changes nothing.
    let (lines, _) = run_with(&c, settings(dir.path(), true), true).await;
    insta::assert_debug_snapshot!("show_diff_noop", normalize(&lines, dir.path()));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a")).unwrap(),
        "one\ntwo\nthree\n"
    );
    // The show_diff setting off: no diff at all.
    let (lines, _) = run_with(&c, settings(dir.path(), false), false).await;
    assert!(!lines.iter().any(|l| l.contains("@@")), "{lines:#?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("c")).unwrap(),
        "one\nsecret\nthree\n"
    );
}

#[tokio::test]
async fn recurse_purge_ignore_recurselimit_force_and_sourceselect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (f, body) in [
        ("src/f1", "s1\n"),
        ("src/skip.tmp", "i\n"),
        ("src/sub/f2", "s2\n"),
        ("src/sub/deep/f3", "s3\n"),
        ("src2/f1", "other\n"),
        ("src2/only2", "o\n"),
        ("dst/junk", "x\n"),
        ("dst/extra/z", "y\n"),
        ("dst/keep.tmp", "k\n"),
        ("dst2/extra/z", "y\n"),
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let s = |n: &str| d.join(n).to_str().unwrap().to_string();
    let c = catalog(&[
        (
            "File",
            &s("dst"),
            json!({"ensure": "directory", "source": s("src"), "recurse": true, "purge": true,
                   "ignore": "*.tmp", "recurselimit": 2, "backup": "puppet"}),
        ),
        (
            "File",
            &s("dst2"),
            json!({"ensure": "directory", "source": [s("src"), s("src2")], "sourceselect": "all",
                   "recurse": "true", "purge": true, "force": true}),
        ),
    ]);
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    insta::assert_debug_snapshot!(normalize(&lines, d));
    // recurselimit 2: sub/deep is made, not what is in it; *.tmp neither copied nor purged.
    assert!(d.join("dst/sub/deep").is_dir());
    assert!(!d.join("dst/sub/deep/f3").exists());
    assert!(!d.join("dst/skip.tmp").exists());
    assert!(d.join("dst/keep.tmp").exists());
    // No force: the unmanaged directory stays (its files are purged).
    assert!(d.join("dst/extra").is_dir() && !d.join("dst/extra/z").exists());
    assert!(!d.join("dst/junk").exists());
    // sourceselect all: the first source wins a name; force purges directories.
    assert_eq!(std::fs::read_to_string(d.join("dst2/f1")).unwrap(), "s1\n");
    assert_eq!(
        std::fs::read_to_string(d.join("dst2/only2")).unwrap(),
        "o\n"
    );
    assert!(d.join("dst2/sub/deep/f3").exists());
    assert!(!d.join("dst2/extra").exists());
    assert!(
        applied
            .statuses
            .iter()
            .any(|s| s.resource == format!("File[{}]", d.join("dst2/only2").display()))
    );
    // The second run changes nothing.
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    let changed: Vec<_> = applied.statuses.iter().filter(|s| s.changed).collect();
    // Puppet reports the kept directory as removed again each run, as it does.
    assert_eq!(
        changed
            .iter()
            .map(|s| s.resource.clone())
            .collect::<Vec<_>>(),
        [format!("File[{}]", d.join("dst/extra").display())],
        "{lines:#?}"
    );
}

#[tokio::test]
async fn max_files_warns_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("many")).unwrap();
    for i in 0..1001 {
        std::fs::write(d.join(format!("many/f{i}")), "x").unwrap();
    }
    let m = d.join("many").to_str().unwrap().to_string();
    let c = catalog(&[(
        "File",
        &m,
        json!({"ensure": "directory", "recurse": true, "mode": "0644"}),
    )]);
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    let lines = normalize(&lines, d);
    assert!(lines.contains(&"Warning: The directory '<dir>/many' contains 1001 entries, which exceeds the default soft limit 1000 and may cause excessive resource consumption and degraded performance. To remove this warning set a value for `max_files` parameter or consider using an alternate method to manage large directory trees".to_string()), "{:#?}", &lines[..3]);
    // recurse without source manages the mode of what is there.
    assert_eq!(applied.statuses.len(), 1 + 1001 + 7);
    let c = catalog(&[(
        "File",
        &m,
        json!({"ensure": "directory", "recurse": true, "max_files": 10}),
    )]);
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    // As Puppet's transaction: the resource is applied, no child is, the run is failed.
    assert!(!status(&applied, &format!("File[{m}]")).failed);
    assert!(applied.resources_failed_to_generate);
    assert_eq!(applied.statuses.len(), 1 + 7);
    let want = format!(
        "Error: /Stage[main]/Main/File[{m}]: Failed to generate additional resources using 'eval_generate': The directory '{m}' contains 1001 entries, which exceeds the limit of 10 specified by the max_files parameter for this resource. The limit may be increased, but be aware that large number of file resources can result in excessive resource consumption and degraded performance. Consider using an alternate method to manage large directory trees"
    );
    assert!(lines.contains(&want), "{lines:#?}");
    let c = catalog(&[(
        "File",
        &m,
        json!({"ensure": "directory", "recurse": true, "max_files": -1}),
    )]);
    let (lines, _) = run_with(&c, settings(d, false), false).await;
    assert!(!lines.iter().any(|l| l.contains("entries")));
}

#[tokio::test]
async fn checksums_mtime_and_checksum_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("src"), "new\n").unwrap();
    std::fs::write(d.join("dst"), "old\n").unwrap();
    let set_mtime = |p: &Path, secs: u64| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    set_mtime(&d.join("src"), 1_700_000_000);
    set_mtime(&d.join("dst"), 1_700_000_100);
    let s = |n: &str| d.join(n).to_str().unwrap().to_string();
    // mtime: the local file is newer than the source: in sync.
    let c = catalog(&[(
        "File",
        &s("dst"),
        json!({"source": s("src"), "checksum": "mtime"}),
    )]);
    let (_, applied) = run_with(&c, settings(d, false), false).await;
    assert!(!status(&applied, &format!("File[{}]", s("dst"))).changed);
    // Older: replaced, with the times in the message.
    set_mtime(&d.join("dst"), 1_600_000_000);
    let (lines, _) = run_with(&c, settings(d, false), false).await;
    assert!(
        lines.iter().any(|l| l.ends_with(
            "content: content changed '{mtime}2020-09-13 12:26:40 +0000' to '{mtime}2023-11-14 22:13:20 +0000'"
        )),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(d.join("dst")).unwrap(), "new\n");

    // checksum_value: the content is compared with the value given, not the source's.
    std::fs::write(d.join("cv"), "old\n").unwrap();
    let md5 = |b: &[u8]| Sum::Md5.of(b).trim_start_matches("{md5}").to_string();
    let (old_md5, new_md5) = (md5(b"old\n"), md5(b"new\n"));
    let c = catalog(&[(
        "File",
        &s("cv"),
        json!({"ensure": "file", "source": s("src"), "checksum": "md5", "checksum_value": new_md5}),
    )]);
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    let st = status(&applied, &format!("File[{}]", s("cv")));
    assert_eq!(st.events[0].property.as_deref(), Some("checksum_value"));
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "checksum_value: checksum_value changed '{old_md5}' to '{new_md5}'"
        ))),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(d.join("cv")).unwrap(), "new\n");
    // Invalid values and combinations fail the resource.
    let c = catalog(&[
        (
            "File",
            &s("x1"),
            json!({"source": s("src"), "checksum": "md5", "checksum_value": "zz"}),
        ),
        (
            "File",
            &s("x2"),
            json!({"content": "a", "checksum": "mtime"}),
        ),
        (
            "File",
            &s("x3"),
            json!({"source": s("src"), "checksum": "none"}),
        ),
        (
            "File",
            &s("x4"),
            json!({"ensure": "directory", "recurse": "remote"}),
        ),
    ]);
    let (lines, _) = run_with(&c, settings(d, false), false).await;
    insta::assert_debug_snapshot!(
        normalize(&lines, d)
            .into_iter()
            .filter(|l| l.starts_with("Error"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn links_follow_manages_what_a_link_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("target"), "x\n").unwrap();
    std::os::unix::fs::symlink(d.join("target"), d.join("l")).unwrap();
    std::fs::create_dir(d.join("realdir")).unwrap();
    std::fs::write(d.join("realdir/f"), "f\n").unwrap();
    std::fs::create_dir(d.join("src")).unwrap();
    std::os::unix::fs::symlink(d.join("realdir"), d.join("src/linked")).unwrap();
    let s = |n: &str| d.join(n).to_str().unwrap().to_string();
    // follow: the target's content is in sync, the link stays.
    let c = catalog(&[
        (
            "File",
            &s("l"),
            json!({"ensure": "file", "content": "x\n", "links": "follow"}),
        ),
        (
            "File",
            &s("copy"),
            json!({"ensure": "directory", "source": s("src"), "recurse": true, "links": "follow"}),
        ),
    ]);
    let (lines, applied) = run_with(&c, settings(d, false), false).await;
    assert!(
        !status(&applied, &format!("File[{}]", s("l"))).changed,
        "{lines:#?}"
    );
    assert!(
        std::fs::symlink_metadata(d.join("l"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A linked directory in the source is copied as a directory with its files.
    assert!(
        std::fs::symlink_metadata(d.join("copy/linked"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("copy/linked/f")).unwrap(),
        "f\n"
    );
    // manage (the default): the link is replaced by a file (Puppet's ensure message shows the
    // content), or without content, with `ensure changed`.
    std::os::unix::fs::symlink(d.join("target"), d.join("l2")).unwrap();
    let c = catalog(&[
        ("File", &s("l"), json!({"ensure": "file", "content": "x\n"})),
        ("File", &s("l2"), json!({"ensure": "file"})),
    ]);
    let (lines, _) = run_with(&c, settings(d, false), false).await;
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "File[{}]/ensure: defined content as '{}'",
            s("l"),
            Sum::Sha256.of(b"x\n")
        ))),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("l2]/ensure: ensure changed 'link' to 'file'")),
        "{lines:#?}"
    );
    assert!(std::fs::symlink_metadata(d.join("l")).unwrap().is_file());
}

#[tokio::test]
async fn a_child_the_catalog_manages_is_left_to_that_resource() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (f, body) in [("src/f1", "s1\n"), ("src/f2", "s2\n"), ("dst/gone", "g\n")] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let s = |n: &str| d.join(n).to_str().unwrap().to_string();
    let c = catalog(&[
        (
            "File",
            &s("dst"),
            json!({"ensure": "directory", "source": s("src"), "recurse": true, "purge": true}),
        ),
        ("File", &s("dst/f1"), json!({"content": "mine\n"})),
        ("File", &s("dst/gone"), json!({"ensure": "file"})),
    ]);
    let (lines, _) = run_with(&c, settings(d, false), false).await;
    assert_eq!(
        std::fs::read_to_string(d.join("dst/f1")).unwrap(),
        "mine\n",
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(d.join("dst/f2")).unwrap(), "s2\n");
    // Not purged: the catalog manages it.
    assert!(d.join("dst/gone").exists());
}
