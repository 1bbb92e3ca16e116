//! Staging trees that must be refused, naming the path, with nothing published.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use puppet_filesync::{Error, Refusal, Store};

use crate::util::{store, write_tree};

/// Publishes a good tree, breaks it with `breaker`, and checks the refusal names `path` and
/// that the live version, the versions on disk and the temp dir are as before.
fn refused(breaker: impl FnOnce(&Path), path: &str) -> Refusal {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(
        st.path(),
        &[
            ("manifests/site.pp", "node default { }\n"),
            ("modules/m/files/a", "a\n"),
        ],
    );
    let good = s.publish("production", st.path()).unwrap();
    write_tree(st.path(), &[("modules/m/files/new", "new content\n")]);
    breaker(st.path());
    let err = s.publish("production", st.path()).unwrap_err();
    assert!(err.to_string().contains(path), "{err} should name {path}");
    assert!(err.to_string().contains("nothing was published"), "{err}");
    assert_eq!(s.live("production").unwrap().unwrap().code_id, good.code_id);
    assert_eq!(
        s.versions("production").unwrap(),
        std::slice::from_ref(&good.code_id)
    );
    s.verify("production", &good.code_id).unwrap();
    // The new file's content never became a blob.
    assert!(!s.has_blob(&puppet_filesync::Digest::of(b"new content\n")));
    match err {
        Error::Refused { path: p, reason } => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("not a refusal: {other}"),
    }
}

#[test]
fn symlink_out_of_the_tree() {
    let r = refused(
        |p| {
            std::os::unix::fs::symlink("../../../../etc/passwd", p.join("modules/m/files/out"))
                .unwrap()
        },
        "modules/m/files/out",
    );
    assert!(matches!(r, Refusal::LinkOutOfTree { .. }), "{r}");
}

#[test]
fn symlink_out_through_another_symlink() {
    // `up` -> `.`, so `up/../..` leaves the tree although it looks one level deep.
    let r = refused(
        |p| {
            std::os::unix::fs::symlink(".", p.join("modules/up")).unwrap();
            std::os::unix::fs::symlink("up/../..", p.join("modules/sneaky")).unwrap();
        },
        "modules/sneaky",
    );
    assert!(matches!(r, Refusal::LinkOutOfTree { .. }), "{r}");
}

#[test]
fn absolute_symlink() {
    let r = refused(
        |p| std::os::unix::fs::symlink("/etc/passwd", p.join("abs")).unwrap(),
        "abs",
    );
    assert!(matches!(r, Refusal::AbsoluteLink { .. }), "{r}");
}

#[test]
fn symlink_loop() {
    let r = refused(
        |p| {
            std::os::unix::fs::symlink("b", p.join("a")).unwrap();
            std::os::unix::fs::symlink("a", p.join("b")).unwrap();
            std::os::unix::fs::symlink("a/x", p.join("c")).unwrap();
        },
        "a",
    );
    assert!(matches!(r, Refusal::LinkLoop { .. }), "{r}");
}

#[test]
fn fifo() {
    let r = refused(
        |p| {
            let status = std::process::Command::new("mkfifo")
                .arg(p.join("modules/m/files/pipe"))
                .status()
                .unwrap();
            assert!(status.success());
        },
        "modules/m/files/pipe",
    );
    assert!(matches!(r, Refusal::SpecialFile { kind: "FIFO" }), "{r}");
}

#[test]
fn socket() {
    let mut keep = None;
    let r = refused(
        |p| keep = Some(std::os::unix::net::UnixListener::bind(p.join("sock")).unwrap()),
        "sock",
    );
    assert!(matches!(r, Refusal::SpecialFile { kind: "socket" }), "{r}");
}

#[test]
fn non_utf8_name() {
    let r = refused(
        |p| {
            std::fs::write(
                p.join(std::ffi::OsStr::from_bytes(b"modules/m/files/caf\xe9")),
                "x",
            )
            .unwrap()
        },
        "modules/m/files/caf\u{fffd}",
    );
    assert!(matches!(r, Refusal::NotUtf8), "{r}");
}

#[test]
fn control_character_in_a_name() {
    let r = refused(
        |p| std::fs::write(p.join("bad\nname"), "x").unwrap(),
        "bad\nname",
    );
    assert!(matches!(r, Refusal::BadName(_)), "{r}");
}

#[test]
fn unreadable_file() {
    if rustix_is_root() {
        // root reads mode-000 files; bins/tests/filesync_cli.rs runs this case as `nobody`.
        eprintln!(
            "running as root: the unreadable-file case is covered by the CLI test under setpriv"
        );
        return;
    }
    let r = refused(
        |p| {
            std::fs::set_permissions(
                p.join("modules/m/files/new"),
                std::fs::Permissions::from_mode(0o000),
            )
            .unwrap()
        },
        "modules/m/files/new",
    );
    assert!(matches!(r, Refusal::Unreadable(_)), "{r}");
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn bad_environment_names() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    for name in ["", "..", "a/b", "prod-1", "caf\u{e9}"] {
        assert!(
            matches!(
                s.publish(name, st.path()),
                Err(Error::InvalidEnvironment { .. })
            ),
            "{name:?}"
        );
    }
}

#[test]
fn missing_staging_dir() {
    let (_d, s) = store();
    let err = Store::publish(&s, "production", Path::new("/nonexistent/staging")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/staging"), "{err}");
}
