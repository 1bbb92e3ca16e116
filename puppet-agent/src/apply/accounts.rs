//! What `user`, `group` and `cron` share: the account databases read from `/etc/passwd`,
//! `/etc/shadow` and `/etc/group` (no command is run to read them), the provider commands
//! found through `PATH` (with `/usr/sbin` and `/sbin` appended, as Puppet's `path` setting
//! does) and run with their output combined, and the change events of sensitive properties.

use std::path::{Path, PathBuf};

use puppet_report::{Event, EventStatus};
use serde_json::Value;

use super::Context;

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    pub name: String,
    pub gid: i64,
    pub members: Vec<String>,
}

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: i64,
    pub gid: i64,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// One `/etc/shadow` entry; empty numeric fields are `-1`, as `getspnam` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShadowEntry {
    pub password: String,
    pub min: i64,
    pub max: i64,
    pub warn: i64,
    pub expire: i64,
}

/// The account databases (paths replaceable for tests).
#[derive(Debug, Clone)]
pub(crate) struct Databases {
    pub passwd: PathBuf,
    pub shadow: PathBuf,
    pub group: PathBuf,
}

impl Default for Databases {
    fn default() -> Databases {
        Databases {
            passwd: "/etc/passwd".into(),
            shadow: "/etc/shadow".into(),
            group: "/etc/group".into(),
        }
    }
}

fn read_lines(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("Could not read {}: {e}", path.display())),
    }
}

fn number(field: &str) -> i64 {
    field.trim().parse().unwrap_or(-1)
}

/// Entries of a colon-separated database whose first field is `name` (`None`: every entry).
fn entries<'a>(text: &'a str, name: Option<&'a str>) -> impl Iterator<Item = Vec<&'a str>> + 'a {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(move |f| name.is_none_or(|n| f[0] == n))
}

impl Databases {
    /// Every group, in file order.
    pub fn groups(&self) -> Result<Vec<GroupEntry>, String> {
        let text = read_lines(&self.group)?;
        Ok(entries(&text, None)
            .filter(|f| f.len() >= 3)
            .map(|f| GroupEntry {
                name: f[0].to_string(),
                gid: number(f[2]),
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Result<Option<GroupEntry>, String> {
        Ok(self.groups()?.into_iter().find(|g| g.name == name))
    }

    /// A group's number from its name or number, if such a group exists (Puppet's
    /// `Puppet::Util.gid`).
    pub fn gid_of(&self, group: &str) -> Result<Option<i64>, String> {
        let groups = self.groups()?;
        Ok(match group.parse::<i64>() {
            Ok(n) => groups.iter().find(|g| g.gid == n).map(|g| g.gid),
            Err(_) => groups.iter().find(|g| g.name == group).map(|g| g.gid),
        })
    }

    /// The user called `name`.
    pub fn user(&self, name: &str) -> Result<Option<PasswdEntry>, String> {
        let text = read_lines(&self.passwd)?;
        Ok(entries(&text, Some(name))
            .find(|f| f.len() >= 7)
            .map(|f| PasswdEntry {
                name: f[0].to_string(),
                uid: number(f[2]),
                gid: number(f[3]),
                gecos: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            }))
    }

    /// The name of the user with number `uid`.
    pub fn user_by_uid(&self, uid: i64) -> Result<Option<String>, String> {
        let text = read_lines(&self.passwd)?;
        Ok(entries(&text, None)
            .find(|f| f.len() >= 3 && number(f[2]) == uid)
            .map(|f| f[0].to_string()))
    }

    /// Whether a user called `name` exists.
    pub fn user_exists(&self, name: &str) -> Result<bool, String> {
        Ok(self.user(name)?.is_some())
    }

    /// The shadow entry of `name`.
    pub fn shadow(&self, name: &str) -> Result<Option<ShadowEntry>, String> {
        let text = read_lines(&self.shadow)?;
        Ok(entries(&text, Some(name)).find(|f| f.len() >= 2).map(|f| {
            let n = |i: usize| f.get(i).map_or(-1, |v| number(v));
            ShadowEntry {
                password: f[1].to_string(),
                min: n(3),
                max: n(4),
                warn: n(5),
                expire: n(7),
            }
        }))
    }

    /// The groups listing `user` as a member, in file order, once each (Puppet's
    /// `groups_of`).
    pub fn groups_of(&self, user: &str) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = Vec::new();
        for g in self.groups()? {
            if g.members.iter().any(|m| m == user) && !out.contains(&g.name) {
                out.push(g.name);
            }
        }
        Ok(out)
    }
}

/// The command `name` found in `PATH` with `/usr/sbin:/sbin` appended (Puppet resolves its
/// provider commands so and shows the full path in messages); the bare name when not found.
pub(crate) fn which(name: &str) -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    {
        if dir.is_empty() {
            continue;
        }
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return candidate.display().to_string();
            }
        }
    }
    name.to_string()
}

/// Runs `argv` (no shell) with stdout and stderr combined, as Puppet's `execute` with
/// `combine: true, failonfail: true`: `Executing: '<command>'` at debug (`[redacted]` when
/// `sensitive`), and on a non-zero exit `Execution of '<command>' returned <n>: <output>`.
pub(crate) async fn execute(
    ctx: &Context<'_>,
    argv: &[String],
    stdin: Option<&[u8]>,
    sensitive: bool,
) -> Result<String, String> {
    let (code, output, shown) = run(ctx, argv, stdin, sensitive).await?;
    match code {
        Some(0) => Ok(output),
        code => Err(format!(
            "Execution of '{shown}' returned {}: {}",
            code.map_or_else(|| "a signal".to_string(), |c| c.to_string()),
            output.trim()
        )),
    }
}

/// Runs `argv` as [`execute`] unless the resource is in noop (then nothing runs); a failure
/// reads `<failure>: <error>`, as the `useradd`/`groupadd` providers word them
/// (`Could not create group g: Execution of ...`).
pub(crate) async fn execute_unless_noop(
    ctx: &Context<'_>,
    argv: &[String],
    failure: &str,
) -> Result<(), String> {
    if ctx.noop {
        return Ok(());
    }
    execute(ctx, argv, None, false)
        .await
        .map(drop)
        .map_err(|e| format!("{failure}: {e}"))
}

/// A property change the `useradd`/`groupadd` family of providers makes with one command.
#[derive(Debug)]
pub(crate) struct CommandChange<'a> {
    /// The property (`ensure`, `gid`, ...).
    pub(crate) property: &'a str,
    /// Its current and desired values.
    pub(crate) values: (Value, Value),
    /// The event's name (`group_created`).
    pub(crate) name: &'a str,
    /// The change's message (`created`, `gid changed 1 to 2`).
    pub(crate) message: String,
}

/// The step every account change shares: [`execute_unless_noop`] with `argv`, then the change
/// recorded as [`Context::change`] does (a `noop` event, a `success` one, or the failure).
/// Whether the change was made.
pub(crate) async fn change_by_command(
    ctx: &mut Context<'_>,
    argv: &[String],
    failure: &str,
    change: CommandChange<'_>,
) -> bool {
    let result = execute_unless_noop(ctx, argv, failure).await;
    let (is, should) = change.values;
    ctx.change(
        change.property,
        is,
        should,
        change.name,
        change.message,
        || result,
    )
}

/// Runs `argv` and gives its exit code (`None`: killed by a signal), its combined output
/// and the command as shown in logs.
pub(crate) async fn run(
    ctx: &Context<'_>,
    argv: &[String],
    stdin: Option<&[u8]>,
    sensitive: bool,
) -> Result<(Option<i32>, String, String), String> {
    use tokio::io::AsyncWriteExt;
    let shown = if sensitive {
        "[redacted]".to_string()
    } else {
        argv.join(" ")
    };
    ctx.log.debug("Puppet", &format!("Executing: '{shown}'"));
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let failed = |e: std::io::Error| format!("Could not execute '{shown}': {e}");
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .kill_on_drop(true)
        .spawn()
        .map_err(failed)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await.map_err(failed)?;
        drop(pipe);
    }
    let out = child.wait_with_output().await.map_err(failed)?;
    let status = out.status;
    let mut output = out.stdout;
    output.extend_from_slice(&out.stderr);
    let output = String::from_utf8_lossy(&output).to_string();
    Ok((status.code(), output, shown))
}

/// Records the change of a sensitive property (user `password`) as Puppet does: values
/// `[redacted]` in the event (`redacted: true`), messages `changed [redacted] to [redacted]`,
/// `current_value [redacted], should be [redacted] (noop)` or `change from [redacted] to
/// [redacted] failed: <error>`. `result` is what the sync gave (not looked at in noop).
pub(crate) fn change_sensitive(
    ctx: &mut Context<'_>,
    property: &str,
    name: &str,
    result: Result<(), String>,
) {
    let source = format!("{}/{property}", ctx.path);
    let mut event = Event::new(EventStatus::Success)
        .with_property(property)
        .with_values("[redacted]", "[redacted]")
        .with_name(name);
    event.redacted = Some(true);
    let message = if ctx.noop {
        event.status = EventStatus::Noop;
        "current_value [redacted], should be [redacted] (noop)".to_string()
    } else {
        match result {
            Ok(()) => "changed [redacted] to [redacted]".to_string(),
            Err(err) => {
                ctx.log.err("Puppet", &err);
                event.status = EventStatus::Failure;
                format!("change from [redacted] to [redacted] failed: {err}")
            }
        }
    };
    if event.status == EventStatus::Failure {
        ctx.log.err(&source, &message);
    } else {
        ctx.log.notice(&source, &message);
    }
    ctx.events.push(event.with_message(message));
}

/// [`Context::change`] for properties whose `is_to_s`/`should_to_s` are not the generic value
/// display (list properties: user `groups`, cron `environment`): in noop the message is
/// `current_value <is_shown>, should be <should_shown> (noop)`; otherwise as
/// [`Context::change`] with `message`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn change_shown(
    ctx: &mut Context<'_>,
    property: &str,
    is: serde_json::Value,
    should: serde_json::Value,
    shown: (&str, &str),
    name: &str,
    message: String,
    result: Result<(), String>,
) {
    if !ctx.noop {
        ctx.change(property, is, should, name, message, || result);
        return;
    }
    let source = format!("{}/{property}", ctx.path);
    let text = format!("current_value {}, should be {} (noop)", shown.0, shown.1);
    ctx.log.notice(&source, &text);
    ctx.events.push(
        Event::new(EventStatus::Noop)
            .with_property(property)
            .with_values(is, should)
            .with_name(name)
            .with_message(text),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn databases_are_read_as_getpwnam_getgrnam_and_getspnam_give_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = Databases {
            passwd: dir.path().join("passwd"),
            shadow: dir.path().join("shadow"),
            group: dir.path().join("group"),
        };
        std::fs::write(
            &db.passwd,
            "root:x:0:0:root:/root:/bin/bash\nann:x:1001:100:Ann A,,,:/home/ann:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            &db.shadow,
            "ann:$6$salt$hash:20000:0:99999:7:::\nbob:!:20000::::::\n",
        )
        .unwrap();
        std::fs::write(
            &db.group,
            "root:x:0:\nusers:x:100:bob\nstaff:x:50:ann,bob\nadm:x:4:ann\n",
        )
        .unwrap();
        let ann = db.user("ann").unwrap().unwrap();
        assert_eq!(
            (ann.uid, ann.gid, ann.gecos.as_str(), ann.shell.as_str()),
            (1001, 100, "Ann A,,,", "/bin/sh")
        );
        assert!(db.user("an").unwrap().is_none());
        let s = db.shadow("ann").unwrap().unwrap();
        assert_eq!(
            (s.password.as_str(), s.min, s.max, s.warn, s.expire),
            ("$6$salt$hash", 0, 99999, 7, -1)
        );
        assert_eq!(db.shadow("bob").unwrap().unwrap().max, -1);
        assert_eq!(db.groups_of("ann").unwrap(), ["staff", "adm"]);
        assert_eq!(db.gid_of("staff").unwrap(), Some(50));
        assert_eq!(db.gid_of("4").unwrap(), Some(4));
        assert_eq!(db.gid_of("77").unwrap(), None);
        assert_eq!(db.group("users").unwrap().unwrap().members, ["bob"]);
    }

    #[test]
    fn which_finds_sbin_commands() {
        assert!(which("sh").ends_with("/sh"));
        assert_eq!(
            which("puppet-rs-no-such-command"),
            "puppet-rs-no-such-command"
        );
    }
}
