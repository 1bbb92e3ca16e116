//! End-to-end tests of the `puppet-filesync` binary: Puppetserver's `versioned-code` contract
//! (`code-id ENV`, `code-content ENV CODE_ID PATH`: stdout, exit codes, argument checks), the
//! `publish` reply, an unreadable staging file (as `nobody` when run as root), and a crash test
//! that SIGKILLs `puppet-filesync publish` at random points.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use puppet_filesync::{CodeId, Store};

const BIN: &str = env!("CARGO_BIN_EXE_puppet-filesync");

fn run(store: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env("PUPPET_FILESYNC_STORE", store)
        .args(args)
        .output()
        .expect("run puppet-filesync")
}

fn ok(store: &Path, args: &[&str]) -> Vec<u8> {
    let out = run(store, args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "puppet-filesync {args:?}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A refusal: exit 1, nothing on stdout, one line on stderr naming `needle`.
fn refused(store: &Path, args: &[&str], needle: &str) {
    let out = run(store, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr} should mention {needle}");
}

fn stage(root: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let path = root.join("environments").join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, c).unwrap();
    }
}

#[test]
fn versioned_code_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (staging, store) = (dir.path().join("staging"), dir.path().join("store"));
    stage(
        &staging,
        &[
            ("production/modules/motd/files/motd", "hello\n"),
            ("production/manifests/site.pp", "include motd\n"),
            ("testing/manifests/site.pp", "\n"),
        ],
    );
    let out = ok(&store, &["publish", "--staging", staging.to_str().unwrap()]);
    let reply: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let id = reply["environments"]["production"]["code_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reply["environments"]["production"]["status"], "published");
    assert_eq!(reply["environments"]["testing"]["status"], "published");

    // code-id: the code_id and a newline, nothing else.
    assert_eq!(
        ok(&store, &["code-id", "production"]),
        format!("{id}\n").as_bytes()
    );
    assert!(puppet_filesync::is_puppet_code_id(&id));
    // code-content: the exact bytes.
    let motd = ok(
        &store,
        &["code-content", "production", &id, "modules/motd/files/motd"],
    );
    assert_eq!(motd, b"hello\n");

    // A new version; the old code_id still serves the old content.
    stage(&staging, &[("production/modules/motd/files/motd", "bye\n")]);
    let out = ok(
        &store,
        &[
            "publish",
            "--staging",
            staging.to_str().unwrap(),
            "--environment",
            "production",
        ],
    );
    let reply: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let id2 = reply["environments"]["production"]["code_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reply["environments"].get("testing").is_none());
    assert_ne!(id, id2);
    assert_eq!(
        ok(
            &store,
            &["code-content", "production", &id, "modules/motd/files/motd"]
        ),
        b"hello\n"
    );
    assert_eq!(
        ok(
            &store,
            &[
                "code-content",
                "production",
                &id2,
                "modules/motd/files/motd"
            ]
        ),
        b"bye\n"
    );
    let again = ok(&store, &["publish", "--staging", staging.to_str().unwrap()]);
    assert!(
        String::from_utf8(again)
            .unwrap()
            .contains("\"status\":\"unchanged\"")
    );

    // Argument checks: exit 1 with one line on stderr, nothing on stdout.
    refused(&store, &["code-id", "nosuch"], "nosuch");
    refused(&store, &["code-id", "prod/../x"], "invalid environment");
    refused(
        &store,
        &["code-content", "production", "not.valid", "x"],
        "invalid code_id",
    );
    refused(
        &store,
        &[
            "code-content",
            "production",
            &"0".repeat(64),
            "manifests/site.pp",
        ],
        "has no version",
    );
    refused(
        &store,
        &["code-content", "production", &id, "../../lock"],
        "invalid path",
    );
    refused(
        &store,
        &["code-content", "production", &id, "manifests"],
        "is not a file",
    );
    refused(
        &store,
        &["code-content", "production", &id, "modules/motd/files/nope"],
        "is not a file",
    );
    refused(
        &dir.path().join("nostore"),
        &["code-id", "production"],
        "no puppet-filesync store",
    );
    // Wrong number of arguments: clap's usage error, exit 2.
    assert_eq!(
        run(&store, &["code-content", "production", &id])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&store, &["code-id"]).status.code(), Some(2));

    // Installed as puppet-filesync-code-id / -code-content, Puppetserver's argument order works.
    let bin_dir = dir.path().join("bin");
    fs::create_dir(&bin_dir).unwrap();
    for verb in ["code-id", "code-content"] {
        std::os::unix::fs::symlink(BIN, bin_dir.join(format!("puppet-filesync-{verb}"))).unwrap();
    }
    let out = Command::new(bin_dir.join("puppet-filesync-code-id"))
        .arg("production")
        .env("PUPPET_FILESYNC_STORE", &store)
        .output()
        .unwrap();
    assert_eq!(out.stdout, format!("{id2}\n").as_bytes());
    let out = Command::new(bin_dir.join("puppet-filesync-code-content"))
        .args(["production", &id, "modules/motd/files/motd"])
        .env("PUPPET_FILESYNC_STORE", &store)
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello\n");

    // A corrupted blob is never printed.
    let s = Store::open(&store).unwrap();
    let blob = s.blob_path(&puppet_filesync::Digest::of(b"bye\n")).unwrap();
    let mut perms = fs::metadata(&blob).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    fs::set_permissions(&blob, perms).unwrap();
    fs::write(&blob, "BYE\n").unwrap();
    refused(
        &store,
        &[
            "code-content",
            "production",
            &id2,
            "modules/motd/files/motd",
        ],
        "expected",
    );
    refused(
        &store,
        &["verify", "--environment", "production"],
        "modules/motd/files/motd",
    );
}

#[test]
fn unreadable_staging_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (staging, store) = (dir.path().join("staging"), dir.path().join("store"));
    stage(
        &staging,
        &[("production/a", "a\n"), ("production/secret", "s\n")],
    );
    ok(&store, &["publish", "--staging", staging.to_str().unwrap()]);
    let before = ok(&store, &["code-id", "production"]);
    let secret = staging.join("environments/production/secret");
    fs::write(&secret, "changed\n").unwrap();
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let mut cmd = Command::new(BIN);
    let is_root = fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if is_root {
        // root reads anything: drop to nobody, who owns the store but not the secret.
        chown_tree(&store, 65534);
        chown_tree(&staging, 65534);
        std::os::unix::fs::chown(&secret, Some(0), Some(0)).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), None).unwrap();
        cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
    }
    let out = cmd
        .args([
            "--store",
            store.to_str().unwrap(),
            "publish",
            "--staging",
            staging.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("secret: cannot be read"), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert_eq!(ok(&store, &["code-id", "production"]), before);
}

fn chown_tree(p: &Path, uid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(uid)).unwrap();
    if fs::symlink_metadata(p).unwrap().is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

/// kill -9 of `puppet-filesync publish` at random points: the old version stays live and
/// verifiable, and the next publish works.
#[test]
fn crash_during_publish_leaves_old_version_live() {
    let dir = tempfile::tempdir().unwrap();
    let (staging, store) = (dir.path().join("staging"), dir.path().join("store"));
    let write_version = |n: usize| {
        for i in 0..300 {
            let content = format!("version {n} file {i}\n").repeat(200);
            let p = staging.join(format!(
                "environments/production/modules/m{}/files/f{i}",
                i % 10
            ));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
    };
    let publish = || {
        Command::new(BIN)
            .args([
                "--store",
                store.to_str().unwrap(),
                "publish",
                "--staging",
                staging.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    write_version(0);
    let t = Instant::now();
    assert!(publish().wait().unwrap().success());
    let full = t.elapsed().max(Duration::from_millis(5));
    let s = Store::open(&store).unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut live_contents: Vec<(CodeId, usize)> =
        vec![(s.live("production").unwrap().unwrap().code_id, 0)];
    let mut killed_mid_way = 0;
    for n in 1..=12 {
        write_version(n);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = full.mul_f64((seed % 1000) as f64 / 1000.0 * 1.2);
        let mut child = publish();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        if !finished {
            killed_mid_way += 1;
        }
        // Whatever is live is whole, verifies, and is one version's content.
        let live = s.live("production").unwrap().unwrap();
        s.verify("production", &live.code_id).unwrap();
        let text = String::from_utf8(
            s.content("production", &live.code_id, "modules/m3/files/f13")
                .unwrap(),
        )
        .unwrap();
        let version: usize = text.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            version == n || version == live_contents.last().unwrap().1,
            "live is version {version} after publishing {n}"
        );
        for i in [0, 150, 299] {
            let f = fs::read_to_string(live.path.join(format!("modules/m{}/files/f{i}", i % 10)))
                .unwrap();
            assert!(
                f.starts_with(&format!("version {version} ")),
                "mixed version in {}",
                live.code_id
            );
        }
        live_contents.push((live.code_id, version));
        // The next publish (not killed) always works and publishes this version.
        if n % 3 == 0 {
            assert!(publish().wait().unwrap().success());
            let live = s.live("production").unwrap().unwrap();
            s.verify("production", &live.code_id).unwrap();
            let text = String::from_utf8(
                s.content("production", &live.code_id, "modules/m3/files/f13")
                    .unwrap(),
            )
            .unwrap();
            assert!(text.starts_with(&format!("version {n} ")));
            live_contents.push((live.code_id, n));
        }
    }
    assert!(publish().wait().unwrap().success());
    assert!(killed_mid_way > 0, "no publish was interrupted");
    // Nothing left behind once a publish completed.
    assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    let leftovers = fs::read_dir(store.join("versions"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count();
    assert_eq!(leftovers, 0);
}
