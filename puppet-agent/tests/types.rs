//! Each type's check and apply on temporary directories.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::common::{catalog, run, status};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn file_content_create_change_and_idempotence() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.txt");
    let t = p.to_str().unwrap();
    let c = catalog(&[(
        "File",
        t,
        json!({"ensure": "file", "content": "one\n", "mode": "0640"}),
    )]);
    let (lines, applied) = run(&c, false).await;
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\n");
    assert_eq!(mode(&p), 0o640);
    let want = format!(
        "Notice: /Stage[main]/Main/File[{t}]/ensure: defined content as '{{sha256}}2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806'"
    );
    assert!(lines.contains(&want), "{lines:#?}");
    let s = status(&applied, &format!("File[{t}]"));
    assert_eq!(s.events[0].name.as_deref(), Some("file_created"));
    assert_eq!(
        s.containment_path,
        ["Stage[main]", "Main", &format!("File[{t}]")]
    );

    // Nothing to do the second time.
    let (_, applied) = run(&c, false).await;
    assert!(!status(&applied, &format!("File[{t}]")).changed);

    // Drift: content and mode are repaired, with Puppet's messages.
    std::fs::write(&p, "two\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (lines, applied) = run(&c, false).await;
    assert!(lines.iter().any(|l| l.ends_with(&format!(
        "File[{t}]/content: content changed '{{sha256}}27dd8ed44a83ff94d557f9fd0412ed5a8cbca69ea04922d88c01184a07300a5a' to '{{sha256}}2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806'"
    ))), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("mode: mode changed '0644' to '0640'")),
        "{lines:#?}"
    );
    let s = status(&applied, &format!("File[{t}]"));
    assert_eq!(s.change_count, 2);
    // Puppet writes the desired content checksum base64-encoded in the event.
    assert_eq!(
        s.events[0].desired_value,
        json!(
            "e3NoYTI1Nn0yYzhiMDhkYTVjZTYwMzk4ZTFmMTlhZjBlNWRjY2M3NDRkZjI3NGI4MjZhYmU1ODVlYWJhNjhjNTI1NDM0ODA2"
        )
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\n");
    assert_eq!(mode(&p), 0o640);
}

#[tokio::test]
async fn file_md5_checksum_and_replace_false() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.txt");
    let t = p.to_str().unwrap();
    let c = catalog(&[("File", t, json!({"content": "one\n", "checksum": "md5"}))]);
    let (lines, _) = run(&c, false).await;
    assert!(
        lines
            .iter()
            .any(|l| l
                .ends_with("ensure: defined content as '{md5}5bbf5a52328e7439ae6e719dfe712200'")),
        "{lines:#?}"
    );
    std::fs::write(&p, "local\n").unwrap();
    let c = catalog(&[("File", t, json!({"content": "one\n", "replace": false}))]);
    let (_, applied) = run(&c, false).await;
    assert!(!status(&applied, &format!("File[{t}]")).changed);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "local\n");
}

#[tokio::test]
async fn file_directory_link_absent_and_symbolic_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let l = dir.path().join("l");
    let gone = dir.path().join("gone");
    std::fs::write(&gone, "x").unwrap();
    let (dt, lt, gt) = (
        d.to_str().unwrap(),
        l.to_str().unwrap(),
        gone.to_str().unwrap(),
    );
    let c = catalog(&[
        (
            "File",
            dt,
            json!({"ensure": "directory", "mode": "u=rwx,go=rx"}),
        ),
        ("File", lt, json!({"ensure": "link", "target": dt})),
        ("File", gt, json!({"ensure": "absent"})),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(d.is_dir());
    assert_eq!(mode(&d), 0o755);
    assert_eq!(std::fs::read_link(&l).unwrap(), d);
    assert!(!gone.exists());
    assert_eq!(
        status(&applied, &format!("File[{dt}]")).events[0]
            .name
            .as_deref(),
        Some("directory_created")
    );
    assert_eq!(
        status(&applied, &format!("File[{lt}]")).events[0]
            .name
            .as_deref(),
        Some("link_created")
    );
    assert_eq!(
        status(&applied, &format!("File[{gt}]")).events[0]
            .name
            .as_deref(),
        Some("file_removed")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("File[{gt}]/ensure: removed")))
    );

    // Retarget the link.
    let c = catalog(&[("File", lt, json!({"ensure": "link", "target": "/tmp"}))]);
    let (lines, _) = run(&c, false).await;
    assert!(
        lines
            .iter()
            .any(|x| x.ends_with(&format!("target: target changed '{dt}' to '/tmp'"))),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn file_recursive_local_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "a\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "b\n").unwrap();
    let dst = dir.path().join("dst");
    let t = dst.to_str().unwrap();
    let c = catalog(&[(
        "File",
        t,
        json!({"ensure": "directory", "recurse": true, "source": src.to_str().unwrap()}),
    )]);
    let (_, applied) = run(&c, false).await;
    assert_eq!(
        std::fs::read_to_string(dst.join("sub/b.txt")).unwrap(),
        "b\n"
    );
    let keys: Vec<&str> = applied
        .statuses
        .iter()
        .map(|s| s.resource.as_str())
        .collect();
    let a = format!("File[{t}/a.txt]");
    let sub = format!("File[{t}/sub]");
    assert!(
        keys.contains(&a.as_str()) && keys.contains(&sub.as_str()),
        "{keys:?}"
    );
    assert!(status(&applied, &a).changed);
}

#[tokio::test]
async fn noop_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("n.txt");
    let t = p.to_str().unwrap();
    let c = catalog(&[("File", t, json!({"content": "x"}))]);
    let (lines, applied) = run(&c, true).await;
    assert!(!p.exists());
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("ensure: current_value 'absent', should be 'file' (noop)")),
        "{lines:#?}"
    );
    let s = status(&applied, &format!("File[{t}]"));
    assert!(!s.changed && s.out_of_sync);
}

#[tokio::test]
async fn exec_checks_refresh_and_failure_propagation() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let refreshed = dir.path().join("refreshed");
    let never = dir.path().join("never");
    let f = flag.to_str().unwrap();
    let c = catalog(&[
        (
            "Exec",
            "make-flag",
            json!({"command": format!("touch {f}"), "creates": f, "path": ["/usr/bin", "/bin"]}),
        ),
        (
            "Exec",
            "on-refresh",
            json!({"command": format!("touch {}", refreshed.display()), "refreshonly": true,
            "path": "/usr/bin:/bin", "subscribe": "Exec[make-flag]"}),
        ),
        ("Exec", "fails", json!({"command": "/bin/false"})),
        (
            "Exec",
            "after",
            json!({"command": format!("/usr/bin/touch {}", never.display()), "require": "Exec[fails]"}),
        ),
        (
            "Exec",
            "skipped",
            json!({"command": "/bin/false", "unless": "/bin/true"}),
        ),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(flag.exists() && refreshed.exists());
    assert!(!never.exists(), "a dependent of a failure must not run");
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Exec[make-flag]/returns: executed successfully".to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Exec[on-refresh]: Triggered 'refresh' from 1 event"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"Error: '/bin/false' returned 1 instead of one of [0]".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"Warning: /Stage[main]/Main/Exec[after]: Skipping because of failed dependencies"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(status(&applied, "Exec[fails]").failed);
    assert!(status(&applied, "Exec[after]").skipped);
    assert!(!status(&applied, "Exec[skipped]").changed);
    let r = status(&applied, "Exec[on-refresh]");
    assert!(r.restarted && r.changed);
    assert_eq!(r.events[0].name.as_deref(), Some("refresh"));

    // Second run: creates is satisfied, nothing refreshes.
    std::fs::remove_file(&refreshed).unwrap();
    let (_, applied) = run(&c, false).await;
    assert!(!status(&applied, "Exec[make-flag]").changed);
    assert!(!refreshed.exists());
}

#[tokio::test]
async fn exec_timeout_returns_logoutput_and_unqualified() {
    let c = catalog(&[
        (
            "Exec",
            "slow",
            json!({"command": "/bin/sleep 5", "timeout": 1}),
        ),
        (
            "Exec",
            "two",
            json!({"command": "/bin/sh -c 'echo out; exit 2'", "returns": [0, 2], "logoutput": true}),
        ),
        ("Exec", "bare", json!({"command": "true"})),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(status(&applied, "Exec[slow]").failed);
    assert!(lines.contains(&"Error: /Stage[main]/Main/Exec[slow]/returns: change from 'notrun' to ['0'] failed: Command exceeded timeout".to_string()), "{lines:#?}");
    assert!(
        lines.contains(&"Notice: /Stage[main]/Main/Exec[two]/returns: out".to_string()),
        "{lines:#?}"
    );
    assert!(status(&applied, "Exec[two]").changed);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("'true' is not qualified and no path was specified")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn notify_message_and_default_resources() {
    let c = catalog(&[("Notify", "greeting", json!({"message": "hello"}))]);
    let (lines, applied) = run(&c, false).await;
    assert!(lines.contains(&"Notice: hello".to_string()));
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Notify[greeting]/message: defined 'message' as 'hello'"
                .to_string()
        )
    );
    let keys: Vec<&str> = applied
        .statuses
        .iter()
        .map(|s| s.resource.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "Notify[greeting]",
            "Schedule[puppet]",
            "Schedule[hourly]",
            "Schedule[daily]",
            "Schedule[weekly]",
            "Schedule[monthly]",
            "Schedule[never]",
            "Filebucket[puppet]"
        ]
    );
}

#[tokio::test]
async fn cycle_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    let t = p.to_str().unwrap();
    let c = catalog(&[
        ("File", t, json!({"content": "x", "require": "Notify[b]"})),
        ("Notify", "b", json!({"require": format!("File[{t}]")})),
    ]);
    let log = puppet_agent::Logger::capturing(puppet_report::LogLevel::Info);
    let err = puppet_agent::apply::apply(
        &c,
        &puppet_agent::apply::ApplyOptions::new("production"),
        &log,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, puppet_agent::AgentError::Catalog(_)));
    assert!(
        log.lines()[0].starts_with("Error: Found 1 dependency cycle:"),
        "{:?}",
        log.lines()
    );
    assert!(log.lines()[0].contains(&format!("File[{t}]")));
    assert!(!p.exists());
}

#[tokio::test]
async fn unknown_type_fails_only_itself() {
    let c = catalog(&[
        ("Mount", "/mnt/nothing", json!({"ensure": "mounted"})),
        ("Notify", "n", json!({})),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(status(&applied, "Mount[/mnt/nothing]").failed);
    assert!(lines.contains(&"Error: /Stage[main]/Main/Mount[/mnt/nothing]: Could not evaluate: resource type 'mount' is not supported by this agent".to_string()), "{lines:#?}");
    assert!(status(&applied, "Notify[n]").changed);
}

#[tokio::test]
async fn package_installed_is_in_sync_and_noop_shows_the_change() {
    if !std::path::Path::new("/usr/bin/dpkg-query").exists() {
        eprintln!("skipping the package test: no dpkg-query (not Debian)");
        return;
    }
    // dpkg itself is always installed: no change, no apt-get. A missing package in noop:
    // Puppet's noop line, nothing run.
    let c = catalog(&[
        ("Package", "dpkg", json!({"ensure": "installed"})),
        (
            "Package",
            "puppet-rs-no-such-package",
            json!({"ensure": "present"}),
        ),
    ]);
    let (lines, applied) = run(&c, true).await;
    let dpkg = status(&applied, "Package[dpkg]");
    assert!(!dpkg.out_of_sync && dpkg.events.is_empty());
    assert_eq!(dpkg.provider_used.as_deref(), Some("apt"));
    assert!(lines.contains(&"Notice: /Stage[main]/Main/Package[puppet-rs-no-such-package]/ensure: current_value 'purged', should be 'present' (noop)".to_string()), "{lines:#?}");
    assert!(status(&applied, "Package[puppet-rs-no-such-package]").out_of_sync);
}

#[tokio::test]
async fn service_base_provider_start_stop_and_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("running");
    let log = dir.path().join("log");
    let (s, l) = (state.display(), log.display());
    let params = |ensure: &str| {
        json!({"ensure": ensure, "provider": "base",
            "start": format!("touch {s}; echo start >> {l}"),
            "stop": format!("rm -f {s}; echo stop >> {l}"),
            "status": format!("test -f {s}"),
            "restart": format!("echo restart >> {l}")})
    };
    // Started in this run: the refresh from the file is dropped (Puppet's invalidate_refreshes).
    let f = dir.path().join("conf");
    let ft = f.to_str().unwrap();
    let mut svc = params("running");
    svc["subscribe"] = json!(format!("File[{ft}]"));
    let c = catalog(&[
        ("File", ft, json!({"content": "a"})),
        ("Service", "refsvc", svc.clone()),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(state.exists());
    assert!(lines.contains(&"Notice: /Stage[main]/Main/Service[refsvc]/ensure: ensure changed 'stopped' to 'running'".to_string()), "{lines:#?}");
    assert!(
        lines.contains(
            &"Info: /Stage[main]/Main/Service[refsvc]: Unscheduling refresh on Service[refsvc]"
                .to_string()
        ),
        "{lines:#?}"
    );
    let st = status(&applied, "Service[refsvc]");
    assert_eq!(st.events[0].name.as_deref(), Some("service_started"));
    assert_eq!(st.provider_used.as_deref(), Some("base"));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "start\n");

    // Running, the file changes: restarted.
    let c = catalog(&[
        ("File", ft, json!({"content": "b"})),
        ("Service", "refsvc", svc),
    ]);
    let (lines, applied) = run(&c, false).await;
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Service[refsvc]: Triggered 'refresh' from 1 event"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(status(&applied, "Service[refsvc]").restarted);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "start\nrestart\n");

    // Stopped.
    let c = catalog(&[("Service", "refsvc", params("stopped"))]);
    let (lines, _) = run(&c, false).await;
    assert!(!state.exists());
    assert!(lines.contains(&"Notice: /Stage[main]/Main/Service[refsvc]/ensure: ensure changed 'running' to 'stopped'".to_string()), "{lines:#?}");
}

#[tokio::test]
async fn host_create_change_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n# a comment\n\n::1 localhost ip6-localhost ip6-loopback\n",
    )
    .unwrap();
    let h = hosts.to_str().unwrap();
    let c = catalog(&[(
        "Host",
        "web.example.test",
        json!({"ip": "192.0.2.10", "host_aliases": ["web"], "target": h}),
    )]);
    let (lines, applied) = run(&c, false).await;
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Host[web.example.test]/ensure: created".to_string()
        ),
        "{lines:#?}"
    );
    assert_eq!(
        status(&applied, "Host[web.example.test]").events[0]
            .name
            .as_deref(),
        Some("host_created")
    );
    let text = std::fs::read_to_string(&hosts).unwrap();
    let body: Vec<&str> = text.lines().skip(3).collect();
    assert!(text.starts_with("# HEADER: This file was autogenerated at "));
    assert_eq!(
        body,
        [
            "127.0.0.1\tlocalhost",
            "# a comment",
            "",
            "::1\tlocalhost\tip6-localhost ip6-loopback",
            "192.0.2.10\tweb.example.test\tweb"
        ]
    );

    let c = catalog(&[(
        "Host",
        "web.example.test",
        json!({"ip": "192.0.2.11", "host_aliases": ["web", "www"], "target": h}),
    )]);
    let (lines, _) = run(&c, false).await;
    assert!(lines.contains(&"Notice: /Stage[main]/Main/Host[web.example.test]/ip: ip changed '192.0.2.10' to '192.0.2.11'".to_string()), "{lines:#?}");
    assert!(lines.contains(&"Notice: /Stage[main]/Main/Host[web.example.test]/host_aliases: host_aliases changed web to 'web www'".to_string()), "{lines:#?}");
    let (_, applied) = run(&c, false).await;
    assert!(!status(&applied, "Host[web.example.test]").changed);

    let c = catalog(&[(
        "Host",
        "web.example.test",
        json!({"ensure": "absent", "target": h}),
    )]);
    let (lines, _) = run(&c, false).await;
    assert!(
        lines.contains(
            &"Notice: /Stage[main]/Main/Host[web.example.test]/ensure: removed".to_string()
        )
    );
    assert!(
        !std::fs::read_to_string(&hosts)
            .unwrap()
            .contains("web.example.test")
    );
}

/// `schedule => daily`: evaluated when never checked, skipped (no event) when `state.yaml`
/// says it was checked a minute ago, evaluated again a day later.
#[tokio::test]
async fn scheduled_resources_follow_their_last_check() {
    let c = catalog(&[(
        "Notify",
        "daily",
        json!({"message": "once a day", "schedule": "daily"}),
    )]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let apply_with = |last: Option<i64>| {
        let c = c.clone();
        async move {
            let mut options = puppet_agent::apply::ApplyOptions::new("production");
            if let Some(t) = last {
                options.last_checked.insert("Notify[daily]".into(), t);
            }
            let log = puppet_agent::Logger::capturing(puppet_report::LogLevel::Info);
            let applied = puppet_agent::apply::apply(&c, &options, &log, None)
                .await
                .unwrap();
            let s = applied
                .statuses
                .into_iter()
                .find(|s| s.resource == "Notify[daily]")
                .unwrap();
            (s.skipped, s.changed)
        }
    };
    assert_eq!(apply_with(None).await, (false, true));
    assert_eq!(apply_with(Some(now - 60)).await, (true, false));
    assert_eq!(apply_with(Some(now - 86_401)).await, (false, true));
}
