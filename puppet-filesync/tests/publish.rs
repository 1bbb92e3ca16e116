//! Publishing: code_ids, the stat cache, materialized versions.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use puppet_filesync::{CodeId, EntryKind, Error, Status, Store};

use crate::util::{no_racy_window, store, write_tree};

const TREE: &[(&str, &str)] = &[
    ("environment.conf", "modulepath = modules\n"),
    ("manifests/site.pp", "include motd\n"),
    ("modules/motd/manifests/init.pp", "class motd { }\n"),
    ("modules/motd/files/motd", "hello\n"),
    ("modules/motd/files/same", "hello\n"),
    ("modules/motd/files/empty", ""),
];

#[test]
fn same_tree_same_code_id_on_two_stores() {
    let (_a, s1) = store();
    let (_b, s2) = store();
    let st1 = tempfile::tempdir().unwrap();
    let st2 = tempfile::tempdir().unwrap();
    write_tree(st1.path(), TREE);
    // Written in another order, with other mtimes and other permission bits on dirs.
    let mut rev = TREE.to_vec();
    rev.reverse();
    write_tree(st2.path(), &rev);
    std::fs::set_permissions(
        st2.path().join("modules"),
        std::fs::Permissions::from_mode(0o775),
    )
    .unwrap();
    let p1 = s1.publish("production", st1.path()).unwrap();
    let p2 = s2.publish("production", st2.path()).unwrap();
    assert_eq!(p1.code_id, p2.code_id);
    assert_eq!(p1.status, Status::Published);
    assert!(puppet_filesync::is_puppet_code_id(p1.code_id.as_str()));
    assert_eq!(p1.stats.files, 6);
    assert_eq!(p1.stats.hashed_files, 6);
    // Identical contents share one blob.
    assert_eq!(p1.stats.new_blobs, 5);
    // Another environment name, same tree: same code_id.
    let p3 = s1.publish("other_env", st1.path()).unwrap();
    assert_eq!(p3.code_id, p1.code_id);
}

#[test]
fn one_file_change_rehashes_only_that_file() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let opts = no_racy_window();
    let first = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(first.stats.hashed_files, 6);
    let again = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert_eq!(again.code_id, first.code_id);
    assert_eq!(again.stats.hashed_files, 0);

    std::fs::write(st.path().join("modules/motd/files/motd"), "bye\n").unwrap();
    let second = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(second.status, Status::Published);
    assert_ne!(second.code_id, first.code_id);
    assert_eq!(second.stats.hashed_files, 1);
    assert_eq!(second.stats.hashed_bytes, 4);
    assert_eq!(second.stats.new_blobs, 1);

    let live = s.live("production").unwrap().unwrap();
    assert_eq!(live.code_id, second.code_id);
    assert_eq!(
        std::fs::read_to_string(live.path.join("modules/motd/files/motd")).unwrap(),
        "bye\n"
    );
    // The first version is still whole.
    let old = s.version("production", &first.code_id).unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(old.path.join("modules/motd/files/motd")).unwrap(),
        "hello\n"
    );
    s.verify("production", &first.code_id).unwrap();
    s.verify("production", &second.code_id).unwrap();

    // Back to the first tree: the old version goes live again.
    std::fs::write(st.path().join("modules/motd/files/motd"), "hello\n").unwrap();
    let third = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(
        (third.status, &third.code_id),
        (Status::Published, &first.code_id)
    );
    assert_eq!(third.stats.new_blobs, 0);
}

#[test]
fn a_file_written_just_before_a_publish_is_hashed_again_next_time() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let opts = puppet_filesync::PublishOptions::default().racy_window(Duration::from_secs(3600));
    s.publish_with("production", st.path(), &opts).unwrap();
    // Every stat is "racy" with a one-hour window: nothing is trusted.
    let again = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(again.stats.hashed_files, 6);
}

#[test]
fn versions_are_read_only_and_modes_normalised() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    write_tree(st.path(), &[("modules/motd/files/run.sh", "#!/bin/sh\n")]);
    std::fs::set_permissions(
        st.path().join("modules/motd/files/run.sh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::set_permissions(
        st.path().join("environment.conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("motd", st.path().join("modules/motd/files/link")).unwrap();
    let p = s.publish("production", st.path()).unwrap();
    let m = s.manifest("production", &p.code_id).unwrap().unwrap();
    let mode = |path: &str| m.get(path).unwrap().mode;
    assert_eq!(mode("modules/motd/files/run.sh"), 0o755);
    assert_eq!(mode("environment.conf"), 0o644);
    assert_eq!(mode("modules"), 0o755);
    assert_eq!(
        m.get("modules/motd/files/link").unwrap().kind,
        EntryKind::Link {
            target: "motd".into()
        }
    );
    let v = s.live("production").unwrap().unwrap();
    let disk = |path: &str| {
        std::fs::symlink_metadata(v.path.join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(disk("modules/motd/files/run.sh"), 0o555);
    assert_eq!(disk("environment.conf"), 0o444);
    assert_eq!(disk("modules"), 0o555);
    assert_eq!(
        std::fs::read_link(v.path.join("modules/motd/files/link"))
            .unwrap()
            .to_str(),
        Some("motd")
    );
    assert_eq!(
        s.content("production", &p.code_id, "modules/motd/files/link")
            .unwrap(),
        b"hello\n"
    );
    s.verify("production", &p.code_id).unwrap();
    // The environments directory works as Puppet's environmentpath.
    assert!(
        s.environments_dir()
            .join("production/manifests/site.pp")
            .is_file()
    );
    assert_eq!(s.environments().unwrap(), ["production"]);
}

#[test]
fn verify_names_path_and_digests() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let p = s.publish("production", st.path()).unwrap();
    let v = s.live("production").unwrap().unwrap();
    let f = v.path.join("modules/motd/files/motd");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&f, "HELLO\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = s.verify("production", &p.code_id).unwrap_err();
    let Error::Verify(v) = &err else {
        panic!("{err}")
    };
    // `same` has the same content, so the same blob inode: both are reported.
    assert_eq!(v.problems.len(), 2, "{err}");
    assert_eq!(v.problems[0].path, "modules/motd/files/motd");
    assert_eq!(v.problems[1].path, "modules/motd/files/same");
    assert!(matches!(
        v.problems[0].kind,
        puppet_filesync::ProblemKind::Digest { expected, actual }
            if expected == puppet_filesync::Digest::of(b"hello\n") && actual == puppet_filesync::Digest::of(b"HELLO\n")
    ));
    assert!(err.to_string().contains("modules/motd/files/motd"), "{err}");
    // The tampered blob is never served.
    let served = s
        .content("production", &p.code_id, "modules/motd/files/motd")
        .unwrap_err();
    assert!(matches!(served, Error::DigestMismatch { .. }), "{served}");
}

#[test]
fn unknown_versions_and_paths() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let p = s.publish("production", st.path()).unwrap();
    let other = CodeId::parse(&"0".repeat(64)).unwrap();
    assert!(matches!(
        s.content("production", &other, "manifests/site.pp"),
        Err(Error::UnknownVersion { .. })
    ));
    assert!(matches!(
        s.content("production", &p.code_id, "manifests"),
        Err(Error::NotAFile { .. })
    ));
    assert!(matches!(
        s.content("production", &p.code_id, "nope"),
        Err(Error::NotAFile { .. })
    ));
    assert!(matches!(
        s.content("production", &p.code_id, "../store/lock"),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        s.content("production", &p.code_id, "/etc/passwd"),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        s.live("../x"),
        Err(Error::InvalidEnvironment { .. })
    ));
    assert!(s.live("staging").unwrap().is_none());
    assert!(
        Store::open(s.root())
            .unwrap()
            .live("production")
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_prepared_spare_becomes_the_next_version() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    write_tree(
        st.path(),
        &[
            ("gone/deep/file", "x\n"),
            ("becomes_dir", "file\n"),
            ("keep/a", "a\n"),
        ],
    );
    std::os::unix::fs::symlink("keep/a", st.path().join("link")).unwrap();
    let opts = no_racy_window();
    let v1 = s
        .publish_with("production", st.path(), &opts)
        .unwrap()
        .code_id;
    assert!(s.prepare("production").unwrap());
    assert!(!s.prepare("production").unwrap(), "already prepared");
    // Changes of every kind: content, removal of a subtree, file -> dir, new dirs, link target,
    // executable bit.
    std::fs::write(st.path().join("modules/motd/files/motd"), "changed\n").unwrap();
    std::fs::remove_dir_all(st.path().join("gone")).unwrap();
    std::fs::remove_file(st.path().join("becomes_dir")).unwrap();
    write_tree(
        st.path(),
        &[
            ("becomes_dir/inside", "in\n"),
            ("new/dir/f", "new\n"),
            ("keep/b", "b\n"),
        ],
    );
    std::fs::remove_file(st.path().join("link")).unwrap();
    std::os::unix::fs::symlink("keep/b", st.path().join("link")).unwrap();
    std::fs::set_permissions(
        st.path().join("manifests/site.pp"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let p2 = s.publish_with("production", st.path(), &opts).unwrap();
    s.verify("production", &p2.code_id).unwrap();
    s.verify("production", &v1).unwrap();
    // The same tree published into a store without a spare has the same code_id and content.
    let (_e, fresh) = store();
    let p3 = fresh.publish("production", st.path()).unwrap();
    assert_eq!(p3.code_id, p2.code_id);
    assert_eq!(
        s.content("production", &p2.code_id, "link").unwrap(),
        b"b\n"
    );
    assert_eq!(s.versions("production").unwrap().len(), 2);
    // No spare is left over, and a stale one is swept by the next writer.
    let spares = |s: &Store| {
        std::fs::read_dir(s.root().join("versions"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    };
    assert_eq!(spares(&s), 0);
    assert!(s.prepare("production").unwrap());
    assert_eq!(spares(&s), 1);
    // Going back to v1 (already materialized) leaves the spare of v2 stale: the next writer
    // removes it.
    let bytes = s.manifest_bytes("production", &v1).unwrap().unwrap();
    assert_eq!(
        s.install("production", &bytes, &v1).unwrap().status,
        Status::Published
    );
    assert_eq!(spares(&s), 1);
    s.retain(&puppet_filesync::Retention::default()).unwrap();
    assert_eq!(spares(&s), 0);
    s.verify("production", &v1).unwrap();
}

#[test]
fn a_deferred_stat_cache_is_kept_in_memory_and_written_by_prepare() {
    let (d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let opts = no_racy_window().defer_stat_cache(true);
    s.publish_with("production", st.path(), &opts).unwrap();
    let cache = d.path().join("store/state/production.statcache");
    assert!(!cache.exists(), "deferred: not written before prepare");
    // This store remembers it: a one-file change reads one file.
    std::fs::write(st.path().join("modules/motd/files/motd"), "bye\n").unwrap();
    let second = s.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(second.stats.hashed_files, 1);
    // Another process (a new Store) has no cache yet: it reads every file, and is right.
    let other = Store::open(d.path().join("store")).unwrap();
    std::fs::write(st.path().join("modules/motd/files/motd"), "bye again\n").unwrap();
    let third = other.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(third.stats.hashed_files, 6);
    assert!(other.prepare("production").unwrap());
    assert!(cache.is_file(), "prepare writes the deferred cache");
    // Now a third Store starts from that cache.
    std::fs::write(st.path().join("modules/motd/files/motd"), "bye once more\n").unwrap();
    let fresh = Store::open(d.path().join("store")).unwrap();
    let fourth = fresh.publish_with("production", st.path(), &opts).unwrap();
    assert_eq!(fourth.stats.hashed_files, 1);
    fresh.verify("production", &fourth.code_id).unwrap();
    assert!(!fourth.stats.phases.is_empty());
}

#[test]
fn missing_blobs_for_an_environment_looks_up_only_what_the_live_version_lacks() {
    let (_d, s) = store();
    let (_d2, other) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    s.publish("production", st.path()).unwrap();
    std::fs::write(st.path().join("modules/motd/files/new"), "new\n").unwrap();
    let v2 = other.publish("production", st.path()).unwrap().code_id;
    let m2 = puppet_filesync::Manifest::parse(
        &other.manifest_bytes("production", &v2).unwrap().unwrap(),
    )
    .unwrap();
    let want = vec![puppet_filesync::Digest::of(b"new\n")];
    assert_eq!(s.missing_blobs_for("production", &m2).unwrap(), want);
    assert_eq!(s.missing_blobs(&m2), want);
    // An environment with no live version: every blob is looked up.
    assert_eq!(
        s.missing_blobs_for("testing", &m2).unwrap(),
        s.missing_blobs(&m2)
    );
    // Installed once its blob is there.
    assert!(matches!(
        s.install(
            "production",
            &other.manifest_bytes("production", &v2).unwrap().unwrap(),
            &v2
        ),
        Err(Error::MissingBlobs { .. })
    ));
    s.put_blob(&want[0], &b"new\n"[..]).unwrap();
    s.install(
        "production",
        &other.manifest_bytes("production", &v2).unwrap().unwrap(),
        &v2,
    )
    .unwrap();
    s.verify("production", &v2).unwrap();
    assert!(s.missing_blobs_for("production", &m2).unwrap().is_empty());
}

/// The inode numbers of every file of a version and whether each is its blob's own inode.
fn files_share_their_blobs_inode(s: &Store, env: &str, code_id: &CodeId) -> Vec<(String, bool)> {
    use std::os::unix::fs::MetadataExt;
    let m = s.manifest(env, code_id).unwrap().unwrap();
    let vdir = s.version(env, code_id).unwrap().unwrap().path;
    m.entries()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File { sha256, .. } if e.mode & 0o111 == 0 => {
                let file = std::fs::metadata(vdir.join(&e.path)).unwrap().ino();
                let blob = std::fs::metadata(s.blob_path(sha256).unwrap())
                    .unwrap()
                    .ino();
                Some((e.path.clone(), file == blob))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_version_built_from_scratch_has_one_inode_per_content_and_leaves_nothing_behind() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), TREE);
    let run = st.path().join("modules/motd/files/run.sh");
    std::fs::write(&run, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A first publish writes new contents straight into the new version: each file there
    // is its blob (also `same`, whose content `motd` has too), and the executable has a
    // 0555 blob of its own.
    let v1 = s.publish("production", st.path()).unwrap();
    for (path, shared) in files_share_their_blobs_inode(&s, "production", &v1.code_id) {
        assert!(shared, "{path} is not a link to its blob");
    }
    s.verify("production", &v1.code_id).unwrap();
    let vdir = s.live("production").unwrap().unwrap().path;
    let mode = std::fs::metadata(vdir.join("modules/motd/files/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o555);
    // Without a spare, a change is built from scratch again; a content the store has
    // already (v1's `hello`) is linked, not copied again.
    std::fs::write(st.path().join("manifests/site.pp"), "hello\n").unwrap();
    let v2 = s.publish("production", st.path()).unwrap();
    assert_eq!(v2.stats.new_blobs, 0);
    for (path, shared) in files_share_their_blobs_inode(&s, "production", &v2.code_id) {
        assert!(shared, "{path} is not a link to its blob");
    }
    s.verify("production", &v2.code_id).unwrap();
    s.verify("production", &v1.code_id).unwrap();
    // Nothing temporary is left: no half-built version, no temporary blob.
    let hidden = |dir: &str| {
        std::fs::read_dir(s.root().join(dir))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    };
    assert_eq!(hidden("versions"), 0);
    assert_eq!(std::fs::read_dir(s.root().join("tmp")).unwrap().count(), 0);
    // A refused tree (a FIFO) built nothing either.
    let status = std::process::Command::new("mkfifo")
        .arg(st.path().join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(st.path().join("manifests/site.pp"), "changed\n").unwrap();
    assert!(matches!(
        s.publish("production", st.path()),
        Err(Error::Refused { .. })
    ));
    assert_eq!(hidden("versions"), 0);
    assert_eq!(s.live("production").unwrap().unwrap().code_id, v2.code_id);
}
