//! `user`, `group` and `cron` on this machine for real (`useradd`, `groupadd`, `crontab`...):
//! accounts and crontab entries with unique `prs-test-<random>` names are created, changed,
//! checked in noop, left alone when in sync and removed, and the system state is read back
//! after each step. The side-by-side test applies the same catalogs with the real Puppet
//! (`puppet apply --catalog`, its own directories under a temporary directory) and with ours
//! and compares the resource messages and the resulting state.
//!
//! These need root, the shadow tools and cron's `crontab` (and `puppet` for the side-by-side
//! test); without them each test skips with one line, unless `PUPPET_RS_REQUIRE_REAL=1`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Level, real_apply, resource_lines, status};

fn require_real() -> bool {
    std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1")
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {cmd} || test -x /usr/sbin/{cmd}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether this test can change accounts and crontabs here; else one skip line (a failure with
/// `PUPPET_RS_REQUIRE_REAL=1`).
fn can_manage(test: &str, puppet: bool) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut missing: Vec<&str> = ["useradd", "groupadd", "chpasswd", "crontab"]
        .into_iter()
        .filter(|c| !have(c))
        .collect();
    if puppet && !have("puppet") {
        missing.push("puppet");
    }
    if root && missing.is_empty() {
        return true;
    }
    let why = if root {
        format!("missing {}", missing.join(", "))
    } else {
        "not root".to_string()
    };
    assert!(!require_real(), "{test}: {why} (PUPPET_RS_REQUIRE_REAL=1)");
    eprintln!("skipping {test}: {why}");
    false
}

/// `prs-test-<random>` (at most 21 characters: user names may have 32).
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "prs-test-{:06x}{:04x}",
        nanos & 0xff_ffff,
        std::process::id() & 0xffff
    )
}

/// `count` consecutive ids free as both uid and gid, from a start given by the process and
/// the test's `slot` (tests of one binary run at the same time).
fn free_ids(count: i64, slot: i64) -> i64 {
    let used: Vec<i64> = ["/etc/passwd", "/etc/group"]
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split(':').nth(2).and_then(|v| v.parse().ok()))
                .collect::<Vec<i64>>()
        })
        .collect();
    let mut start = 42_000 + i64::from(std::process::id() % 500) * 30 + slot * 10;
    while (start..start + count).any(|i| used.contains(&i)) {
        start += 15_000;
    }
    start
}

/// Removes the test's users, groups and crontabs, whatever happened.
struct Cleanup {
    users: Vec<String>,
    groups: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for u in &self.users {
            let _ = Command::new("crontab").args(["-u", u, "-r"]).output();
            let _ = Command::new("userdel").args(["-r", u]).output();
            // A table emptied by `ensure => absent` stays in the spool after its user is gone
            // (`crontab -u` no longer takes that user).
            let _ = std::fs::remove_file(Path::new("/var/spool/cron/crontabs").join(u));
        }
        for g in &self.groups {
            let _ = Command::new("groupdel").arg(g).output();
        }
    }
}

fn db_line(file: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|l| l.split(':').next() == Some(name))
        .map(String::from)
}

/// The shadow line without its last-change day.
fn shadow_line(name: &str) -> Option<String> {
    db_line("/etc/shadow", name).map(|l| {
        let mut f: Vec<&str> = l.split(':').collect();
        f[2] = "";
        f.join(":")
    })
}

fn groups_of(user: &str) -> Vec<String> {
    std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(':')
                .nth(3)
                .is_some_and(|m| m.split(',').any(|m| m == user))
        })
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// The user's crontab without the first header line (its time).
fn crontab(user: &str) -> String {
    let out = Command::new("crontab")
        .args(["-u", user, "-l"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("# HEADER: This file was autogenerated at ") => {
            rest.to_string()
        }
        _ => text,
    }
}

/// A catalog as Puppet's compiler writes it (so `puppet apply --catalog` takes it too):
/// `resources` (`[type, title, params]`) in `Class[Main]`, `password` marked sensitive.
fn catalog_json(resources: &[(&str, &str, Value)]) -> Value {
    let mut res = vec![
        json!({"type": "Stage", "title": "main", "tags": ["stage"], "exported": false, "parameters": {}}),
        json!({"type": "Class", "title": "Main", "tags": ["class"], "exported": false, "parameters": {}}),
    ];
    let mut edges = vec![json!({"source": "Stage[main]", "target": "Class[Main]"})];
    for (t, title, params) in resources {
        let mut r = json!({"type": t, "title": title, "tags": [t.to_lowercase(), "class"],
            "exported": false, "parameters": params});
        if params.get("password").is_some() {
            r["sensitive_parameters"] = json!(["password"]);
        }
        res.push(r);
        edges.push(json!({"source": "Class[Main]", "target": format!("{t}[{title}]")}));
    }
    json!({"tags": ["settings"], "name": "prs-test", "version": 1, "code_id": null,
        "catalog_uuid": "5a3e2f3c-0000-4000-8000-000000000001", "catalog_format": 1,
        "environment": "production", "resources": res, "edges": edges, "classes": ["settings"]})
}

fn parse(doc: &Value) -> puppet_catalog::Catalog {
    puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap()
}

/// Applies with our engine: (every log line, the statuses).
async fn ours(doc: &Value, noop: bool) -> (Vec<String>, puppet_agent::apply::Applied) {
    crate::common::run(&parse(doc), noop).await
}

/// The commands our engine ran that change something (reading a crontab does not).
fn changing_commands(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("Debug: Executing: ") && !l.ends_with(" -l'"))
        .cloned()
        .collect()
}

/// One event as both reports can be compared: (resource, property, name, status, redacted).
type EventKey = (String, String, String, String, String);

/// The events of a `last_run_report.yaml` Puppet wrote, in order.
fn report_events(yaml: &str) -> Vec<EventKey> {
    let mut out: Vec<EventKey> = Vec::new();
    let mut resource = String::new();
    let field = |line: &str, key: &str| {
        line.strip_prefix(&format!("      {key}:"))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    for line in yaml.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.ends_with("]:") {
            resource = line.trim().trim_end_matches(':').to_string();
        } else if line.starts_with("    - audited:") {
            out.push((
                resource.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ));
        } else if let Some(last) = out.last_mut() {
            if let Some(v) = field(line, "property") {
                last.1 = v;
            } else if let Some(v) = field(line, "name") {
                last.2 = v;
            } else if let Some(v) = field(line, "status") {
                last.3 = v;
            } else if let Some(v) = field(line, "redacted") {
                last.4 = v;
            }
        }
    }
    out
}

/// Our events in the same shape.
fn our_events(applied: &puppet_agent::apply::Applied) -> Vec<EventKey> {
    applied
        .statuses
        .iter()
        .flat_map(|s| {
            s.events.iter().map(|e| {
                (
                    s.resource.clone(),
                    e.property.clone().unwrap_or_default(),
                    e.name.clone().unwrap_or_default(),
                    serde_json::to_value(e.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    e.redacted.map(|r| r.to_string()).unwrap_or_default(),
                )
            })
        })
        .collect()
}

fn has(lines: &[String], line: &str) -> bool {
    lines.iter().any(|l| l == line)
}

#[tokio::test]
async fn group_and_user_create_change_noop_and_remove() {
    if !can_manage("group_and_user_create_change_noop_and_remove", false) {
        return;
    }
    let name = unique();
    let sys = format!("{name}s");
    let _cleanup = Cleanup {
        users: vec![name.clone()],
        groups: vec![name.clone(), sys.clone()],
    };
    let id = free_ids(3, 0);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let hash = "$6$prstest$0123456789abcdef";
    let user = |uid: i64, shell: &str, comment: &str, password: &str, groups: Value| {
        json!({"uid": uid, "gid": name, "groups": groups, "shell": shell, "comment": comment,
            "home": home.to_str().unwrap(), "managehome": true, "password": password,
            "expiry": "2030-01-01", "password_max_age": 90})
    };
    let first = catalog_json(&[
        ("Group", &name, json!({"gid": id})),
        (
            "User",
            &name,
            user(id, "/bin/sh", "PRS Test", hash, json!(["users"])),
        ),
        ("Group", &sys, json!({"system": true})),
    ]);
    let (lines, applied) = ours(&first, false).await;
    let p = |t: &str| format!("Notice: /Stage[main]/Main/{t}[{name}]");
    assert!(
        has(&lines, &format!("{}/ensure: created", p("Group"))),
        "{lines:#?}"
    );
    assert!(
        has(&lines, &format!("{}/ensure: created", p("User"))),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains(hash)),
        "the password hash must never be logged: {lines:#?}"
    );
    let g = status(&applied, &format!("Group[{name}]"));
    assert_eq!(g.events[0].name.as_deref(), Some("group_created"));
    assert_eq!(g.provider_used.as_deref(), Some("groupadd"));
    assert_eq!(
        status(&applied, &format!("User[{name}]")).events[0]
            .name
            .as_deref(),
        Some("user_created")
    );
    assert_eq!(
        db_line("/etc/passwd", &name).unwrap(),
        format!("{name}:x:{id}:{id}:PRS Test:{}:/bin/sh", home.display())
    );
    assert_eq!(
        db_line("/etc/group", &name).unwrap(),
        format!("{name}:x:{id}:")
    );
    assert_eq!(
        shadow_line(&name).unwrap(),
        format!("{name}:{hash}::0:90:7::21915:")
    );
    assert_eq!(groups_of(&name), ["users"]);
    assert!(home.is_dir(), "managehome creates the home directory");
    let sys_gid: i64 = db_line("/etc/group", &sys)
        .unwrap()
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(sys_gid < 1000, "a system group: {sys_gid}");

    // In sync: no change, no command that changes anything.
    let (lines, applied) = ours(&first, false).await;
    assert!(
        applied
            .statuses
            .iter()
            .all(|s| !s.changed && !s.out_of_sync)
    );
    assert!(changing_commands(&lines).is_empty(), "{lines:#?}");

    // Changes, first in noop (nothing changes), then for real.
    let new_hash = "$6$prstest$fedcba9876543210";
    let mut second_user = user(
        id + 2,
        "/bin/bash",
        "PRS Test 2",
        new_hash,
        json!(["staff"]),
    );
    second_user["expiry"] = json!("absent");
    let second = catalog_json(&[
        ("Group", &name, json!({"gid": id + 1})),
        ("User", &name, second_user),
    ]);
    let (lines, applied) = ours(&second, true).await;
    assert!(has(
        &lines,
        &format!(
            "{}/gid: current_value {id}, should be {} (noop)",
            p("Group"),
            id + 1
        )
    ));
    assert!(has(
        &lines,
        &format!(
            "{}/password: current_value [redacted], should be [redacted] (noop)",
            p("User")
        )
    ));
    assert!(
        has(
            &lines,
            &format!(
                "{}/groups: current_value users, should be 'staff,users' (noop)",
                p("User")
            )
        ),
        "{lines:#?}"
    );
    assert!(status(&applied, &format!("User[{name}]")).out_of_sync);
    assert!(changing_commands(&lines).is_empty(), "{lines:#?}");
    assert_eq!(
        db_line("/etc/group", &name).unwrap(),
        format!("{name}:x:{id}:")
    );

    let (lines, applied) = ours(&second, false).await;
    let want = [
        format!("{}/gid: gid changed {id} to {}", p("Group"), id + 1),
        format!("{}/uid: uid changed {id} to {}", p("User"), id + 2),
        format!(
            "{}/comment: comment changed 'PRS Test' to 'PRS Test 2'",
            p("User")
        ),
        format!(
            "{}/shell: shell changed '/bin/sh' to '/bin/bash'",
            p("User")
        ),
        format!("{}/password: changed [redacted] to [redacted]", p("User")),
        format!(
            "{}/groups: groups changed users to ['staff', 'users']",
            p("User")
        ),
        format!("{}/expiry: undefined 'expiry' from '2030-01-01'", p("User")),
    ];
    assert_eq!(resource_lines(&lines, &[]), want);
    assert!(lines.iter().all(|l| !l.contains(new_hash)));
    let u = status(&applied, &format!("User[{name}]"));
    let pw = u
        .events
        .iter()
        .find(|e| e.property.as_deref() == Some("password"))
        .unwrap();
    assert_eq!(pw.redacted, Some(true));
    assert_eq!(
        (pw.previous_value.clone(), pw.desired_value.clone()),
        (json!("[redacted]"), json!("[redacted]"))
    );
    assert_eq!(
        db_line("/etc/passwd", &name).unwrap(),
        format!(
            "{name}:x:{}:{}:PRS Test 2:{}:/bin/bash",
            id + 2,
            id + 1,
            home.display()
        )
    );
    assert_eq!(
        shadow_line(&name).unwrap(),
        format!("{name}:{new_hash}::0:90:7:::")
    );
    let mut groups = groups_of(&name);
    groups.sort();
    assert_eq!(groups, ["staff", "users"]);
    let (lines, applied) = ours(&second, false).await;
    assert!(applied.statuses.iter().all(|s| !s.changed));
    assert!(changing_commands(&lines).is_empty(), "{lines:#?}");

    // A failing change fails the resource with Puppet's messages.
    let bad = catalog_json(&[(
        "User",
        &name,
        json!({"shell": "/nonexistent/shell", "gid": "prs-test-no-such-group"}),
    )]);
    let (lines, applied) = ours(&bad, false).await;
    assert!(status(&applied, &format!("User[{name}]")).failed);
    assert!(
        has(
            &lines,
            &format!(
                "Error: /Stage[main]/Main/User[{name}]/gid: change from {} to 'prs-test-no-such-group' failed: Could not find group(s) prs-test-no-such-group",
                id + 1
            )
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            &lines,
            &format!(
                "Error: /Stage[main]/Main/User[{name}]/shell: change from '/bin/bash' to '/nonexistent/shell' failed: Shell /nonexistent/shell must exist"
            )
        ),
        "{lines:#?}"
    );

    // Removed (the home directory too, with managehome). Debian's userdel also removes the
    // user's own group (USERGROUPS_ENAB), so that group is then absent already, as with
    // Puppet.
    let gone = catalog_json(&[
        (
            "User",
            &name,
            json!({"ensure": "absent", "managehome": true}),
        ),
        ("Group", &name, json!({"ensure": "absent"})),
        ("Group", &sys, json!({"ensure": "absent"})),
    ]);
    let (lines, applied) = ours(&gone, false).await;
    assert_eq!(
        resource_lines(&lines, &[]),
        [
            format!("{}/ensure: removed", p("User")),
            format!("Notice: /Stage[main]/Main/Group[{sys}]/ensure: removed")
        ]
    );
    assert!(!status(&applied, &format!("Group[{name}]")).changed);
    assert_eq!(
        status(&applied, &format!("Group[{sys}]")).events[0]
            .name
            .as_deref(),
        Some("group_removed")
    );
    assert!(db_line("/etc/passwd", &name).is_none());
    assert!(db_line("/etc/group", &name).is_none());
    assert!(db_line("/etc/group", &sys).is_none());
    assert!(!home.exists());
    let (lines, _) = ours(&gone, false).await;
    assert!(resource_lines(&lines, &[]).is_empty() && changing_commands(&lines).is_empty());
}

#[tokio::test]
async fn cron_entries_are_written_as_puppet_writes_them_and_other_lines_kept() {
    if !can_manage("cron_entries_are_written_as_puppet_writes_them", false) {
        return;
    }
    let name = format!("{}c", unique());
    let _cleanup = Cleanup {
        users: vec![name.clone()],
        groups: vec![name.clone()],
    };
    assert!(
        Command::new("useradd")
            .args(["-M", &name])
            .status()
            .unwrap()
            .success()
    );
    // Someone's own lines, one of them the resource's job without a name.
    let mut child = Command::new("crontab")
        .args(["-u", &name, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"# mine\nSHELL=/bin/sh\n5 * * * * /usr/bin/mine\n0 1 * * * /usr/bin/adopted\n",
    )
    .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    let job = format!("{name}-job");
    let first = catalog_json(&[
        (
            "Cron",
            &job,
            json!({"command": "/usr/bin/backup", "user": name, "minute": 30, "hour": [3, 15],
                "weekday": "Mon", "environment": ["MAILTO=ops@example.test"]}),
        ),
        (
            "Cron",
            "adopted",
            json!({"command": "/usr/bin/adopted", "user": name, "minute": "0", "hour": "1"}),
        ),
    ]);
    let (lines, applied) = ours(&first, false).await;
    let p = format!("Notice: /Stage[main]/Main/Cron[{job}]");
    assert_eq!(
        resource_lines(&lines, &[]),
        [format!("{p}/ensure: created")]
    );
    let s = status(&applied, &format!("Cron[{job}]"));
    assert_eq!(s.events[0].name.as_deref(), Some("cron_created"));
    assert_eq!(s.provider_used.as_deref(), Some("crontab"));
    assert!(!status(&applied, "Cron[adopted]").changed);
    assert_eq!(
        crontab(&name),
        format!(
            "# HEADER: While it can still be managed manually, it is definitely not recommended.\n# HEADER: Note particularly that the comments starting with 'Puppet Name' should\n# HEADER: not be deleted, as doing so could cause duplicate cron jobs.\n# mine\nSHELL=/bin/sh\n5 * * * * /usr/bin/mine\n0 1 * * * /usr/bin/adopted\n# Puppet Name: {job}\nMAILTO=ops@example.test\n30 3,15 * * 1 /usr/bin/backup\n"
        )
    );

    // In sync: the table is read, not written.
    let (lines, applied) = ours(&first, false).await;
    assert!(applied.statuses.iter().all(|s| !s.changed));
    assert!(changing_commands(&lines).is_empty(), "{lines:#?}");

    // Changes in noop, then for real.
    let second = catalog_json(&[(
        "Cron",
        &job,
        json!({"command": "/usr/bin/backup --all", "user": name, "minute": "absent", "hour": 4,
            "weekday": "Tue", "month": "Jan", "environment": ["MAILTO=ops@example.test", "PATH=/bin"]}),
    )]);
    let (lines, _) = ours(&second, true).await;
    assert_eq!(
        resource_lines(&lines, &[]),
        [
            format!(
                "{p}/command: current_value '/usr/bin/backup', should be '/usr/bin/backup --all' (noop)"
            ),
            format!("{p}/minute: current_value ['30'], should be 'absent' (noop)"),
            format!("{p}/hour: current_value ['3', '15'], should be ['4'] (noop)"),
            format!("{p}/weekday: current_value ['1'], should be ['2'] (noop)"),
            format!("{p}/month: current_value 'absent', should be ['1'] (noop)"),
            format!(
                "{p}/environment: current_value ['MAILTO=ops@example.test'], should be MAILTO=ops@example.test,PATH=/bin (noop)"
            ),
        ]
    );
    assert!(changing_commands(&lines).is_empty());
    let (lines, _) = ours(&second, false).await;
    assert_eq!(
        resource_lines(&lines, &[]),
        [
            format!("{p}/command: command changed '/usr/bin/backup' to '/usr/bin/backup --all'"),
            format!("{p}/minute: undefined 'minute' from ['30']"),
            format!("{p}/hour: hour changed ['3', '15'] to ['4']"),
            format!("{p}/weekday: weekday changed ['1'] to ['2']"),
            format!("{p}/month: defined 'month' as ['1']"),
            format!(
                "{p}/environment: environment changed ['MAILTO=ops@example.test'] to MAILTO=ops@example.test,PATH=/bin"
            ),
        ]
    );
    assert!(crontab(&name).ends_with(&format!(
        "# Puppet Name: {job}\nMAILTO=ops@example.test\nPATH=/bin\n* 4 * 1 2 /usr/bin/backup --all\n"
    )));

    // Removed: the entry with its name and environment lines; the rest stays.
    let gone = catalog_json(&[("Cron", &job, json!({"ensure": "absent", "user": name}))]);
    let (lines, applied) = ours(&gone, false).await;
    assert_eq!(
        resource_lines(&lines, &[]),
        [format!("{p}/ensure: removed")]
    );
    assert_eq!(
        status(&applied, &format!("Cron[{job}]")).events[0]
            .name
            .as_deref(),
        Some("cron_removed")
    );
    assert!(
        crontab(&name).ends_with(
            "# mine\nSHELL=/bin/sh\n5 * * * * /usr/bin/mine\n0 1 * * * /usr/bin/adopted\n"
        )
    );
}

/// The real Puppet and ours apply the same four catalogs (create; changes in noop; the
/// changes; removal) to the same user, group and crontab entry, one after the other: the
/// resource messages, the events of the reports (property, name, status, redacted) and the
/// system state after each step must be the same.
#[tokio::test]
async fn real_puppet_and_ours_give_the_same_messages_and_state() {
    if !can_manage(
        "real_puppet_and_ours_give_the_same_messages_and_state",
        true,
    ) {
        return;
    }
    let name = format!("{}r", unique());
    let special = format!("{name}-special");
    let _cleanup = Cleanup {
        users: vec![name.clone()],
        groups: vec![name.clone()],
    };
    let id = free_ids(3, 1);
    let dir = tempfile::tempdir().unwrap();
    let home = |n: u8| dir.path().join(format!("home{n}")).display().to_string();
    let create = catalog_json(&[
        ("Group", &name, json!({"gid": id})),
        (
            "User",
            &name,
            json!({"uid": id, "gid": name, "groups": ["users"], "shell": "/bin/sh",
                "comment": "PRS T", "home": home(1), "managehome": true,
                "password": "$6$abc$def", "expiry": "2030-01-01", "password_max_age": 90}),
        ),
        (
            "Cron",
            &name,
            json!({"command": "/bin/true", "user": name, "minute": 30, "hour": [3, 15],
                "weekday": "Mon", "environment": ["MAILTO=a@b.c"]}),
        ),
        (
            "Cron",
            &special,
            json!({"command": "/bin/echo hi", "user": name, "special": "daily"}),
        ),
    ]);
    let change = catalog_json(&[
        ("Group", &name, json!({"gid": id + 1, "members": ["root"]})),
        (
            "User",
            &name,
            json!({"uid": id + 2, "gid": name, "groups": ["users", "staff"],
                "membership": "inclusive", "shell": "/bin/bash", "comment": "PRS T2",
                "home": home(2), "managehome": true, "password": "$6$abc$xyz",
                "expiry": "2031-01-01", "password_max_age": 60, "password_min_age": 1}),
        ),
        (
            "Cron",
            &name,
            json!({"command": "/bin/false", "user": name, "minute": "absent", "hour": [4],
                "weekday": "Tue", "month": "Jan", "environment": ["MAILTO=x@b.c", "PATH=/bin"]}),
        ),
        (
            "Cron",
            &special,
            json!({"command": "/bin/echo hi", "user": name, "special": "weekly"}),
        ),
    ]);
    // Removal: the entry first (while its user exists), then the user, then its group.
    let remove = catalog_json(&[
        ("Cron", &name, json!({"ensure": "absent", "target": name})),
        (
            "Cron",
            &special,
            json!({"ensure": "absent", "target": name}),
        ),
        ("User", &name, json!({"ensure": "absent"})),
        ("Group", &name, json!({"ensure": "absent"})),
    ]);
    let steps = [
        (&create, false),
        (&change, true),
        (&change, false),
        (&remove, false),
    ];
    let state = || {
        (
            db_line("/etc/passwd", &name),
            db_line("/etc/group", &name),
            shadow_line(&name),
            groups_of(&name),
            crontab(&name),
            Path::new(&home(1)).exists(),
        )
    };

    let root = tempfile::tempdir().unwrap();
    let mut theirs = Vec::new();
    for (i, (doc, noop)) in steps.iter().enumerate() {
        let extra: &[&str] = if *noop { &["--noop"] } else { &[] };
        let (lines, report) = real_apply(root.path(), doc, Level::Notice, extra);
        assert!(
            !resource_lines(&lines, &[]).is_empty(),
            "puppet apply step {i} changed nothing: {lines:#?}"
        );
        let events = report_events(&report);
        assert!(
            !events.is_empty(),
            "no events in Puppet's report of step {i}"
        );
        theirs.push((resource_lines(&lines, &[]), state(), events));
    }
    assert!(
        db_line("/etc/passwd", &name).is_none(),
        "the real run removed the user"
    );

    for (i, (doc, noop)) in steps.iter().enumerate() {
        let (lines, applied) = ours(doc, *noop).await;
        assert_eq!(
            resource_lines(&lines, &[]),
            theirs[i].0,
            "messages of step {i}"
        );
        assert_eq!(state(), theirs[i].1, "state after step {i}");
        assert_eq!(
            our_events(&applied),
            theirs[i].2,
            "report events of step {i}"
        );
        if i == 0 {
            // A second run of ours changes nothing, as Puppet's second run.
            let (lines, applied) = ours(doc, false).await;
            assert!(applied.statuses.iter().all(|s| !s.changed), "{lines:#?}");
            assert!(changing_commands(&lines).is_empty(), "{lines:#?}");
        }
    }
}

/// Moving a cron entry between users, beside the real Puppet: created for user A; then
/// `target => A, user => B` (Puppet: `user changed 'A' to 'B'`, A's table rewritten without
/// the entry, B's not written); again (created in A again); then `user => B` alone (created in
/// B, A's entry stays). Messages, report events and both crontabs after each step the same.
#[tokio::test]
async fn cron_user_changes_move_entries_as_puppet_does() {
    if !can_manage("cron_user_changes_move_entries_as_puppet_does", true) {
        return;
    }
    let base = unique();
    let (a, b) = (format!("{base}a"), format!("{base}b"));
    let _cleanup = Cleanup {
        users: vec![a.clone(), b.clone()],
        groups: vec![a.clone(), b.clone()],
    };
    for u in [&a, &b] {
        let out = Command::new("useradd").arg(u).output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let entry = |params: Value| {
        let mut p = json!({"command": "/bin/true", "minute": 5});
        p.as_object_mut()
            .unwrap()
            .extend(params.as_object().unwrap().clone());
        catalog_json(&[("Cron", "mv", p)])
    };
    // B has a table already (Puppet reads every table in the spool).
    let seed = |who: &str| {
        let _ = Command::new("crontab").args(["-u", &a, "-r"]).output();
        let mut child = Command::new("crontab")
            .args(["-u", &b, "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"1 1 * * * /bin/b\n")
            .unwrap();
        assert!(child.wait().unwrap().success(), "seed for {who}");
    };
    let steps = [
        entry(json!({"user": a})),
        entry(json!({"user": b, "target": a})),
        entry(json!({"user": b, "target": a})),
        entry(json!({"user": b})),
    ];
    let state = || (crontab(&a), crontab(&b));

    seed("real");
    let root = tempfile::tempdir().unwrap();
    let mut theirs = Vec::new();
    for (i, doc) in steps.iter().enumerate() {
        let (lines, report) = real_apply(&root.path().join("p"), doc, Level::Debug, &[]);
        let events = report_events(&report);
        assert!(!events.is_empty(), "step {i}: {lines:#?}");
        theirs.push((resource_lines(&lines, &[]), state(), events));
    }
    // What Puppet did, for the reader: the entry left A and went nowhere, then came back.
    assert!(theirs[1].0[0].ends_with(&format!("user: user changed '{a}' to '{b}'")));
    assert!(!theirs[1].1.0.contains("/bin/true") && !theirs[1].1.1.contains("/bin/true"));
    assert!(theirs[3].1.0.contains("/bin/true") && theirs[3].1.1.contains("/bin/true"));

    seed("ours");
    for (i, doc) in steps.iter().enumerate() {
        let (lines, applied) = ours(doc, false).await;
        assert_eq!(
            resource_lines(&lines, &[]),
            theirs[i].0,
            "messages of step {i}"
        );
        assert_eq!(state(), theirs[i].1, "crontabs after step {i}");
        assert_eq!(
            our_events(&applied),
            theirs[i].2,
            "report events of step {i}"
        );
    }
}
