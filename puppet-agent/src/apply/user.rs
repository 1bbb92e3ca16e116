//! `user` (Puppet's `useradd` provider on Debian, with Ruby's shadow library present as
//! Debian's puppet package has it): `ensure`, `uid`, `gid` (name or number), `groups` with
//! `membership` (`minimum`, the default, or `inclusive`), `home`, `managehome`, `shell`,
//! `comment`, `password` (a hash; always sensitive), `password_min_age`,
//! `password_max_age`, `password_warn_days`, `expiry`, `system`, `allowdupe`.
//!
//! State is read from `/etc/passwd`, `/etc/shadow` and `/etc/group`; changes are made with
//! `useradd` (one command with every property, flags in Puppet's order: sorted by property
//! name), `usermod` (one command per changed property, in the type's property order),
//! `chage` (password ages), `chpasswd -e` (the hash on stdin, the command logged as
//! `[redacted]`) and `userdel` (`-r` with `managehome`). Messages and events are Puppet's:
//! `created` (`user_created`), `removed` (`user_removed`), `uid changed 1001 to 1002`,
//! `groups changed  to ['staff', 'users']` (the current list unquoted),
//! `changed [redacted] to [redacted]` (`password_changed`, `redacted: true`).

use puppet_catalog::Resource;
use serde_json::Value;

use super::accounts::{
    CommandChange, Databases, change_by_command, change_sensitive, change_shown, execute,
    execute_unless_noop, run, which,
};
use super::group::ensure_of;
use super::values::{param_bool, param_list, param_str};
use super::{Context, format_value};

/// A `gid` as the `user` type munges it: a number, or a group name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gid {
    Number(i64),
    Name(String),
}

impl Gid {
    fn value(&self) -> Value {
        match self {
            Gid::Number(n) => (*n).into(),
            Gid::Name(s) => s.clone().into(),
        }
    }

    fn text(&self) -> String {
        match self {
            Gid::Number(n) => n.to_string(),
            Gid::Name(s) => s.clone(),
        }
    }
}

/// What the catalog asks of a user.
#[derive(Debug, Default)]
struct Should {
    uid: Option<i64>,
    gid: Option<Gid>,
    groups: Option<Vec<String>>,
    inclusive: bool,
    home: Option<String>,
    shell: Option<String>,
    comment: Option<String>,
    password: Option<String>,
    min_age: Option<i64>,
    max_age: Option<i64>,
    warn_days: Option<i64>,
    /// `absent` or `YYYY-MM-DD`.
    expiry: Option<String>,
    managehome: bool,
    system: bool,
    allowdupe: bool,
}

fn int_param(resource: &Resource, name: &str, what: &str) -> Result<Option<i64>, String> {
    let fail = |v: &dyn std::fmt::Display| {
        format!(
            "Parameter {name} failed on {}: {what} must be provided as a number, not {v}",
            resource.reference()
        )
    };
    match resource.parameter(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| fail(n)),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| fail(s)),
        Some(other) => Err(fail(other)),
    }
}

fn should(resource: &Resource) -> Result<Should, String> {
    let r = resource.reference();
    let gid = match resource.parameter("gid") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().map(Gid::Number),
        Some(_) => param_str(resource, "gid").map(|s| match s.parse::<i64>() {
            Ok(n) => Gid::Number(n),
            Err(_) => Gid::Name(s),
        }),
    };
    let groups = match resource.parameter("groups") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let list = param_list(resource, "groups");
            for g in &list {
                let problem = if !g.is_empty() && g.chars().all(|c| c.is_ascii_digit()) {
                    Some("Group names must be provided, not GID numbers.")
                } else if g.contains(',') {
                    Some("Group names must be provided as an array, not a comma-separated list.")
                } else if g.is_empty() {
                    Some(
                        "Group names must not be empty. If you want to specify \"no groups\" pass an empty array",
                    )
                } else {
                    None
                };
                if let Some(p) = problem {
                    return Err(format!("Parameter groups failed on {r}: {p}"));
                }
            }
            Some(list)
        }
    };
    let inclusive = match param_str(resource, "membership").as_deref() {
        None | Some("minimum") => false,
        Some("inclusive") => true,
        Some(other) => {
            return Err(format!(
                "Parameter membership failed on {r}: Invalid value \"{other}\". Valid values are inclusive, minimum."
            ));
        }
    };
    let password = param_str(resource, "password");
    if password.as_deref().is_some_and(|p| p.contains(':')) {
        return Err(format!(
            "Parameter password failed on {r}: Passwords cannot include ':'"
        ));
    }
    let expiry = param_str(resource, "expiry");
    if let Some(e) = &expiry
        && e != "absent"
        && !is_date(e)
    {
        return Err(format!(
            "Parameter expiry failed on {r}: Expiry dates must be YYYY-MM-DD or the string \"absent\""
        ));
    }
    let uid = match resource.parameter("uid") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => {
            let s = param_str(resource, "uid").unwrap_or_default();
            Some(
                s.parse::<i64>()
                    .map_err(|_| format!("Parameter uid failed on {r}: Invalid UID {s}"))?,
            )
        }
    };
    Ok(Should {
        uid,
        gid,
        groups,
        inclusive,
        home: param_str(resource, "home"),
        shell: param_str(resource, "shell"),
        comment: param_str(resource, "comment"),
        password,
        min_age: int_param(resource, "password_min_age", "Password minimum age")?,
        max_age: int_param(resource, "password_max_age", "Password maximum age")?,
        warn_days: int_param(resource, "password_warn_days", "Password warning days")?,
        expiry,
        managehome: param_bool(resource, "managehome").unwrap_or(false),
        system: param_bool(resource, "system").unwrap_or(false),
        allowdupe: param_bool(resource, "allowdupe").unwrap_or(false),
    })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A shadow `expire` field (days since 1970-01-01; `-1` = never) as Puppet shows it.
fn expiry_text(days: i64) -> String {
    if days < 0 {
        return "absent".into();
    }
    // Julian day 2440588 is 1970-01-01.
    let date = days
        .checked_add(2_440_588)
        .and_then(|j| i32::try_from(j).ok())
        .and_then(|j| time::Date::from_julian_day(j).ok());
    match date {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        None => days.to_string(),
    }
}

/// The group list as `Puppet::Property::List#should` gives it: the wanted groups, plus the
/// current ones unless `membership => inclusive`, sorted, once each.
fn wanted_groups(want: &[String], current: &[String], inclusive: bool) -> Vec<String> {
    let mut all: Vec<String> = want.to_vec();
    if !inclusive {
        all.extend(current.iter().cloned());
    }
    all.sort();
    all.dedup();
    all
}

/// Puppet's `check_valid_shell`.
fn check_shell(shell: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(shell).map_err(|_| format!("Shell {shell} must exist"))?;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("Shell {shell} must be executable"));
    }
    Ok(())
}

/// Evaluates a `user`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use puppet_agent::{Logger, apply::{Context, user}};
/// let catalog = puppet_catalog::Catalog::from_json(br#"{"name": "n", "edges": [], "resources": [
///   {"type": "User", "title": "root", "parameters": {"uid": 0, "gid": "0"}}]}"#).unwrap();
/// let log = Logger::capturing(puppet_report::LogLevel::Notice);
/// let mut ctx = Context::new(&log, &catalog, "/User[root]");
/// user::evaluate(&catalog.resources[0], &mut ctx).await.unwrap();
/// assert!(ctx.events.is_empty()); // in sync: nothing to do
/// # });
/// ```
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    evaluate_with(resource, ctx, &Databases::default()).await
}

async fn chpasswd(ctx: &Context<'_>, name: &str, hash: &str) -> Result<(), String> {
    let input = format!("{name}:{hash}\n");
    let (_, output, _) = run(
        ctx,
        &[which("chpasswd"), "-e".into()],
        Some(input.as_bytes()),
        true,
    )
    .await
    .map_err(|e| format!("Could not set password on user[{name}]: {e}"))?;
    // chpasswd's output (not its exit code) says whether it failed, as Puppet reads it.
    if output.is_empty() {
        Ok(())
    } else {
        Err(format!("chpasswd said {output}"))
    }
}

async fn create(
    ctx: &Context<'_>,
    db: &Databases,
    name: &str,
    want: &Should,
) -> Result<(), String> {
    if let Some(shell) = &want.shell {
        check_shell(shell)?;
    }
    let mut argv = vec![which("useradd")];
    if want.gid.is_none() && db.gid_of(name)?.is_some() {
        argv.extend(["-g".into(), name.to_string()]);
    }
    // Puppet adds the properties sorted by name: comment, expiry, gid, groups, home, shell, uid.
    if let Some(c) = want.comment.as_ref().filter(|c| !c.is_empty()) {
        argv.extend(["-c".into(), c.clone()]);
    }
    if let Some(e) = &want.expiry {
        let v = if e == "absent" {
            String::new()
        } else {
            e.clone()
        };
        argv.extend(["-e".into(), v]);
    }
    if let Some(g) = &want.gid {
        argv.extend(["-g".into(), g.text()]);
    }
    if let Some(groups) = &want.groups {
        let current = db.groups_of(name)?;
        let list = wanted_groups(groups, &current, want.inclusive).join(",");
        if !list.is_empty() {
            argv.extend(["-G".into(), list]);
        }
    }
    if let Some(h) = want.home.as_ref().filter(|h| !h.is_empty()) {
        argv.extend(["-d".into(), h.clone()]);
    }
    if let Some(s) = want.shell.as_ref().filter(|s| !s.is_empty()) {
        argv.extend(["-s".into(), s.clone()]);
    }
    if let Some(u) = want.uid {
        argv.extend(["-u".into(), u.to_string()]);
    }
    if want.allowdupe {
        argv.push("-o".into());
    }
    argv.push(if want.managehome { "-m" } else { "-M" }.into());
    if want.system {
        argv.push("-r".into());
    }
    argv.push(name.to_string());
    let sensitive = want.password.is_some();
    let failed = |e: String| format!("Could not create user {name}: {e}");
    execute(ctx, &argv, None, sensitive).await.map_err(failed)?;
    let ages: Vec<String> = [
        ("-m", want.min_age),
        ("-M", want.max_age),
        ("-W", want.warn_days),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.map(|v| [f.to_string(), v.to_string()]))
    .flatten()
    .collect();
    if !ages.is_empty() {
        let mut argv = vec![which("chage")];
        argv.extend(ages);
        argv.push(name.to_string());
        execute(ctx, &argv, None, sensitive).await.map_err(failed)?;
    }
    if let Some(hash) = &want.password {
        chpasswd(ctx, name, hash).await?;
    }
    Ok(())
}

/// `usermod`/`chage <flag> <value> <name>` and how its failure reads.
fn modify_argv(command: &str, param: &str, args: Vec<String>, name: &str) -> (Vec<String>, String) {
    let mut argv = vec![which(command)];
    argv.extend(args);
    argv.push(name.to_string());
    (argv, format!("Could not set {param} on user[{name}]"))
}

/// Runs `usermod`/`chage <flag> <value> <name>` unless in noop.
async fn modify(
    ctx: &Context<'_>,
    command: &str,
    param: &str,
    args: Vec<String>,
    name: &str,
) -> Result<(), String> {
    let (argv, failure) = modify_argv(command, param, args, name);
    execute_unless_noop(ctx, &argv, &failure).await
}

/// A property changed by one `usermod`/`chage` call (the shared noop-or-execute-then-change
/// step).
async fn modify_change(
    ctx: &mut Context<'_>,
    (command, args): (&str, Vec<String>),
    name: &str,
    property: &str,
    values: (Value, Value),
    message: String,
) {
    let (argv, failure) = modify_argv(command, property, args, name);
    let event = format!("{property}_changed");
    let change = CommandChange {
        property,
        values,
        name: &event,
        message,
    };
    change_by_command(ctx, &argv, &failure, change).await;
}

pub(crate) async fn evaluate_with(
    resource: &Resource,
    ctx: &mut Context<'_>,
    db: &Databases,
) -> Result<(), String> {
    let name = param_str(resource, "name").unwrap_or_else(|| resource.title.clone());
    let present = ensure_of(resource)?;
    let want = should(resource)?;
    let current = db.user(&name)?;
    let Some(user) = current else {
        if present {
            let result = if ctx.noop {
                Ok(())
            } else {
                create(ctx, db, &name, &want).await
            };
            ctx.change(
                "ensure",
                "absent".into(),
                "present".into(),
                "user_created",
                "created".into(),
                || result,
            );
        }
        return Ok(());
    };
    if !present {
        let mut argv = vec![which("userdel")];
        if want.managehome {
            argv.push("-r".into());
        }
        argv.push(name.clone());
        let change = CommandChange {
            property: "ensure",
            values: ("present".into(), "absent".into()),
            name: "user_removed",
            message: "removed".into(),
        };
        change_by_command(ctx, &argv, &format!("Could not delete user {name}"), change).await;
        return Ok(());
    }
    // /etc/shadow is read only when a shadow property is managed (it is root's to read).
    let shadow = if want.password.is_some()
        || want.min_age.is_some()
        || want.max_age.is_some()
        || want.warn_days.is_some()
        || want.expiry.is_some()
    {
        db.shadow(&name)?
    } else {
        None
    };
    let dupe = || -> Vec<String> {
        if want.allowdupe {
            vec!["-o".into()]
        } else {
            Vec::new()
        }
    };

    // The type's property order: home, uid, gid, comment, shell, password, password ages,
    // groups, expiry.
    if let Some(home) = want.home.as_ref().filter(|h| **h != user.home) {
        let msg = format!(
            "home changed {} to {}",
            format_value(&user.home.clone().into()),
            format_value(&home.clone().into())
        );
        let args = vec!["-d".into(), home.clone()];
        let values = (user.home.clone().into(), home.clone().into());
        modify_change(ctx, ("usermod", args), &name, "home", values, msg).await;
    }
    if let Some(uid) = want.uid.filter(|u| *u != user.uid) {
        let mut args = vec!["-u".to_string(), uid.to_string()];
        args.extend(dupe());
        let msg = format!("uid changed {} to {uid}", user.uid);
        let values = (user.uid.into(), uid.into());
        modify_change(ctx, ("usermod", args), &name, "uid", values, msg).await;
    }
    if let Some(gid) = &want.gid {
        let number = db.gid_of(&gid.text())?;
        if number != Some(user.gid) {
            let r = match number {
                Some(n) => {
                    modify(
                        ctx,
                        "usermod",
                        "gid",
                        vec!["-g".into(), n.to_string()],
                        &name,
                    )
                    .await
                }
                None if ctx.noop => Ok(()),
                None => Err(format!("Could not find group(s) {}", gid.text())),
            };
            let msg = format!("gid changed {} to {}", user.gid, format_value(&gid.value()));
            ctx.change(
                "gid",
                user.gid.into(),
                gid.value(),
                "gid_changed",
                msg,
                || r,
            );
        }
    }
    if let Some(comment) = want.comment.as_ref().filter(|c| **c != user.gecos) {
        let msg = format!(
            "comment changed {} to {}",
            format_value(&user.gecos.clone().into()),
            format_value(&comment.clone().into())
        );
        let args = vec!["-c".into(), comment.clone()];
        let values = (user.gecos.clone().into(), comment.clone().into());
        modify_change(ctx, ("usermod", args), &name, "comment", values, msg).await;
    }
    if let Some(shell) = want.shell.as_ref().filter(|s| **s != user.shell) {
        let r = match check_shell(shell) {
            Err(e) if !ctx.noop => Err(e),
            _ => {
                modify(
                    ctx,
                    "usermod",
                    "shell",
                    vec!["-s".into(), shell.clone()],
                    &name,
                )
                .await
            }
        };
        let msg = format!(
            "shell changed {} to {}",
            format_value(&user.shell.clone().into()),
            format_value(&shell.clone().into())
        );
        ctx.change(
            "shell",
            user.shell.clone().into(),
            shell.clone().into(),
            "shell_changed",
            msg,
            || r,
        );
    }
    if let Some(hash) = &want.password {
        let is = shadow.as_ref().map(|s| s.password.as_str());
        if is != Some(hash.as_str()) {
            let r = if ctx.noop {
                Ok(())
            } else {
                chpasswd(ctx, &name, hash).await
            };
            change_sensitive(ctx, "password", "password_changed", r);
        }
    }
    let ages = [
        (
            "password_min_age",
            "-m",
            want.min_age,
            shadow.as_ref().map(|s| s.min),
        ),
        (
            "password_max_age",
            "-M",
            want.max_age,
            shadow.as_ref().map(|s| s.max),
        ),
        (
            "password_warn_days",
            "-W",
            want.warn_days,
            shadow.as_ref().map(|s| s.warn),
        ),
    ];
    for (property, flag, should, is) in ages {
        let Some(should) = should else { continue };
        let is = is.unwrap_or(-1);
        if is == should {
            continue;
        }
        let args = vec![flag.into(), should.to_string()];
        let msg = format!("{property} changed {is} to {should}");
        let values = (is.into(), should.into());
        modify_change(ctx, ("chage", args), &name, property, values, msg).await;
    }
    if let Some(groups) = &want.groups {
        let current = db.groups_of(&name)?;
        let wanted = wanted_groups(groups, &current, want.inclusive);
        let mut sorted = current.clone();
        sorted.sort();
        if sorted.join(",") != wanted.join(",") {
            let joined = wanted.join(",");
            let r = modify(
                ctx,
                "usermod",
                "groups",
                vec!["-G".into(), joined.clone()],
                &name,
            )
            .await;
            let shown: Vec<Value> = wanted.iter().cloned().map(Value::from).collect();
            let msg = format!(
                "groups changed {} to {}",
                current.join(","),
                format_value(&Value::Array(shown))
            );
            let is = Value::Array(current.iter().cloned().map(Value::from).collect());
            let should_shown = format_value(&joined.clone().into());
            change_shown(
                ctx,
                "groups",
                is,
                joined.into(),
                (&current.join(","), &should_shown),
                "groups_changed",
                msg,
                r,
            );
        }
    }
    if let Some(expiry) = &want.expiry {
        let is = expiry_text(shadow.as_ref().map_or(-1, |s| s.expire));
        if is != *expiry {
            let value = if expiry == "absent" {
                String::new()
            } else {
                expiry.clone()
            };
            let msg = if is == "absent" {
                format!(
                    "defined 'expiry' as {}",
                    format_value(&expiry.clone().into())
                )
            } else if expiry == "absent" {
                format!(
                    "undefined 'expiry' from {}",
                    format_value(&is.clone().into())
                )
            } else {
                format!(
                    "expiry changed {} to {}",
                    format_value(&is.clone().into()),
                    format_value(&expiry.clone().into())
                )
            };
            let values = (is.into(), expiry.clone().into());
            let args = vec!["-e".into(), value];
            modify_change(ctx, ("usermod", args), &name, "expiry", values, msg).await;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expiry_days_are_dates() {
        assert_eq!(expiry_text(-1), "absent");
        assert_eq!(expiry_text(0), "1970-01-01");
        assert_eq!(expiry_text(20_819), "2027-01-01");
        assert!(is_date("2027-01-01") && !is_date("2027-1-01") && !is_date("absent"));
    }

    #[test]
    fn minimum_membership_keeps_current_groups() {
        let want = vec!["users".to_string(), "staff".to_string()];
        let cur = vec!["adm".to_string(), "users".to_string()];
        assert_eq!(wanted_groups(&want, &cur, false), ["adm", "staff", "users"]);
        assert_eq!(wanted_groups(&want, &cur, true), ["staff", "users"]);
    }
}
