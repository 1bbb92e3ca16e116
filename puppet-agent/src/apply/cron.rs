//! `cron` (`cron_core`'s `crontab` provider): `ensure`, `command`, `special`, `minute`,
//! `hour`, `weekday`, `month`, `monthday` (each a list; `*` or `absent` for any), `environment`,
//! `user` and `target` (the crontab's user: `target`, else `user`, else the user running the
//! agent).
//!
//! The user's crontab is read with `crontab -l` (`crontab -u <user> -l` for another user; "no
//! crontab for" is an empty table) and, when a resource changed, written whole through
//! `crontab -` (`crontab -u <user> -`) as Puppet writes it: its four `# HEADER:` lines (old ones
//! dropped when read), every line it does not manage kept as it was, each managed entry
//! preceded by `# Puppet Name: <name>` and its `environment` lines. An entry without a name
//! that has the resource's command and times is adopted (and stays unnamed), as Puppet's
//! `match` does. Messages and events are Puppet's: `created` (`cron_created`), `removed`
//! (`cron_removed`), `hour changed ['2'] to ['3', '15']`, `defined 'weekday' as ['1']`,
//! `defined 'environment' as MAILTO=a` (`<property>_changed`).
//!
//! Moving an entry between users, as Puppet's provider does it. With `user` alone changed the
//! crontab read is the new user's (`target` defaults to `user`), so the entry is created there
//! and the old user's entry stays. With `target => <old user>, user => <new user>`, the entry
//! found in the old table gets `user changed 'old' to 'new'` (`user_changed`) and the old table
//! is rewritten without it; the new user's table is not written (Puppet's `user=` marks only
//! the old table for flushing, so the moved entry is written nowhere unless a later `cron` of
//! the same run rewrites the new user's table, which this engine does not model); the next run
//! creates it in `target` again.

use puppet_catalog::Resource;
use serde_json::Value;

use super::accounts::{Databases, change_shown, run, which};
use super::values::{param_list, param_str};
use super::{Context, format_value};

/// The time fields in crontab order, with their bounds and names.
const TIME_FIELDS: [(&str, i64, i64); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("monthday", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
];

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 13] = [
    "___placeholder",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const SPECIALS: [&str; 9] = [
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly", "absent",
];

/// A crontab entry. Time fields: `None` = `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    name: Option<String>,
    unmanaged: bool,
    special: Option<String>,
    times: [Option<Vec<String>>; 5],
    command: String,
    /// `None`: no environment lines (Puppet's `:absent`).
    environment: Option<Vec<String>>,
    /// Removed in this run (not written).
    removed: bool,
}

/// One line (or, for records, one entry with its name and environment lines) of a crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Text(String),
    Record(Record),
}

/// `text` without Puppet's `# HEADER` lines (from `# HEADER` to the end of its line, as
/// Puppet's filetype `read` removes them).
fn strip_headers(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(i) = out.find("# HEADER") {
        match out[i..].find('\n') {
            Some(j) => out.replace_range(i..i + j + 1, ""),
            None => break,
        }
    }
    out
}

fn is_word_assignment(line: &str) -> bool {
    let t = line.trim_start();
    let word = t
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .count();
    word > 0
        && t[t.char_indices().nth(word).map_or(t.len(), |(i, _)| i)..]
            .trim_start()
            .starts_with('=')
}

/// Parses a crontab as the `crontab` provider does (then its `prefetch_hook`).
fn parse(text: &str) -> Result<Vec<Line>, String> {
    let text = strip_headers(text);
    let mut raw: Vec<&str> = text.split('\n').collect();
    while raw.last().is_some_and(|l| l.is_empty()) {
        raw.pop();
    }
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut envs: Option<Vec<String>> = None;
    let mut unnamed = 0;
    for line in raw {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            if let Some(i) = line.find("Puppet Name: ") {
                let n = &line[i + "Puppet Name: ".len()..];
                if !n.is_empty() {
                    name = Some(n.to_string());
                    envs = Some(Vec::new());
                    continue;
                }
            }
            out.push(Line::Text(line.to_string()));
            continue;
        }
        if trimmed.trim_end().is_empty() {
            out.push(Line::Text(line.to_string()));
            continue;
        }
        if is_word_assignment(line) {
            match &mut envs {
                Some(e) => e.push(line.to_string()),
                None => out.push(Line::Text(line.to_string())),
            }
            continue;
        }
        let mut record = parse_entry(line)
            .ok_or_else(|| format!("Could not parse line {}", format_quoted(line)))?;
        match name.take() {
            Some(n) => record.name = Some(n),
            None => {
                unnamed += 1;
                record.name = Some(format!(
                    "unmanaged:{}-{unnamed}",
                    record
                        .command
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join("_")
                ));
                record.unmanaged = true;
            }
        }
        if let Some(e) = envs.as_ref().filter(|e| !e.is_empty()) {
            record.environment = Some(e.clone());
            envs = None;
        }
        out.push(Line::Record(record));
    }
    Ok(out)
}

/// A line as Ruby's `inspect` shows it (in parse errors).
fn format_quoted(line: &str) -> String {
    serde_json::to_string(line).unwrap_or_else(|_| line.to_string())
}

/// `<time> <command>`: `@special command` or five time fields then the command.
fn parse_entry(line: &str) -> Option<Record> {
    let rest = line.trim_start();
    let mut fields = Vec::new();
    let mut tail = rest;
    let count = if rest.starts_with('@') { 1 } else { 5 };
    for _ in 0..count {
        let end = tail.find(char::is_whitespace)?;
        fields.push(&tail[..end]);
        tail = tail[end..].trim_start();
    }
    if tail.is_empty() {
        return None;
    }
    let mut record = Record {
        name: None,
        unmanaged: false,
        special: None,
        times: Default::default(),
        command: tail.to_string(),
        environment: None,
        removed: false,
    };
    if count == 1 {
        let special = fields[0].strip_prefix('@')?;
        if special.is_empty() || !special.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        record.special = Some(special.to_string());
    } else {
        for (slot, f) in record.times.iter_mut().zip(fields) {
            *slot = (f != "*").then(|| f.split(',').map(String::from).collect());
        }
    }
    Some(record)
}

fn render_record(r: &Record) -> String {
    let mut s = String::new();
    if !r.unmanaged
        && let Some(n) = &r.name
    {
        s.push_str(&format!("# Puppet Name: {n}\n"));
    }
    for e in r.environment.iter().flatten() {
        s.push_str(e);
        s.push('\n');
    }
    match &r.special {
        Some(sp) => s.push_str(&format!("@{sp} {}", r.command)),
        None => {
            let times: Vec<String> = r
                .times
                .iter()
                .map(|t| t.as_ref().map_or_else(|| "*".to_string(), |v| v.join(",")))
                .collect();
            s.push_str(&format!("{} {}", times.join(" "), r.command));
        }
    }
    s
}

/// The crontab text Puppet writes: its header, then every line (removed entries left out).
fn render(lines: &[Line], now: std::time::SystemTime) -> String {
    let body: Vec<String> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Text(t) => Some(t.clone()),
            Line::Record(r) if r.removed => None,
            Line::Record(r) => Some(render_record(r)),
        })
        .collect();
    let mut text = body.join("\n");
    text.push('\n');
    // A vixie cron header is dropped (cron writes its own).
    if let Some(start) = text.find("# DO NOT EDIT THIS FILE")
        && let Some(v) = text[start..].find("Cron version")
        && let Some(x) = text[start + v..].find("vixie")
        && let Some(nl) = text[start + v + x..].find('\n')
    {
        text.replace_range(start..start + v + x + nl + 1, "");
    }
    let mut out = format!(
        "# HEADER: This file was autogenerated at {} by puppet.\n# HEADER: While it can still be managed manually, it is definitely not recommended.\n# HEADER: Note particularly that the comments starting with 'Puppet Name' should\n# HEADER: not be deleted, as doing so could cause duplicate cron jobs.\n",
        crate::fsutil::utc_time(now, false)
    );
    out.push_str(&text);
    // A TZ line goes first (Puppet's FreeBSD fix, applied everywhere).
    if let Some(i) = out
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|i| out[*i..].starts_with("TZ="))
        && let Some(len) = out[i..].find('\n')
    {
        let tz: String = out[i..i + len + 1].to_string();
        out.replace_range(i..i + len + 1, "");
        out.insert_str(0, &tz);
    }
    out
}

/// One time field's value as the type munges it; `None` = absent (`*`).
fn munge_time(field: &str, lower: i64, upper: i64, value: &str) -> Result<Option<String>, String> {
    if value == "absent" || value == "*" {
        return Ok(None);
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some(step) = value.strip_prefix("*/")
        && digits(step)
    {
        return Ok(Some(value.to_string()));
    }
    let (range, step) = value.split_once('/').unwrap_or((value, ""));
    if let Some((a, b)) = range.split_once('-')
        && digits(a)
        && digits(b)
        && (step.is_empty() && !value.contains('/') || digits(step))
    {
        return Ok(Some(value.to_string()));
    }
    let invalid = || format!("{value} is not a valid {field}");
    if digits(value) {
        let n: i64 = value.parse().map_err(|_| invalid())?;
        return if (lower..=upper).contains(&n) {
            Ok(Some(value.to_string()))
        } else {
            Err(invalid())
        };
    }
    let names: &[&str] = match field {
        "weekday" => &WEEKDAYS,
        "month" => &MONTHS,
        _ => return Err(invalid()),
    };
    let lower_value = value.to_lowercase();
    let index = if lower_value.chars().count() == 3 {
        names
            .iter()
            .position(|n| n.get(..3) == Some(lower_value.as_str()))
    } else {
        names.iter().position(|n| *n == lower_value)
    };
    index.map(|i| Some(i.to_string())).ok_or_else(invalid)
}

/// The user the agent runs as (Puppet's default crontab user).
fn running_user(db: &Databases) -> String {
    let uid = i64::from(nix::unistd::geteuid().as_raw());
    db.user_by_uid(uid)
        .ok()
        .flatten()
        .unwrap_or_else(|| "root".to_string())
}

/// `crontab` or `crontab -u <user>`: `-u` only for another user than the one running.
fn crontab_base(db: &Databases, user: &str) -> Vec<String> {
    let mut argv = vec![which("crontab")];
    let me = i64::from(nix::unistd::geteuid().as_raw());
    let uid = db.user(user).ok().flatten().map(|u| u.uid);
    if uid != Some(me) {
        argv.extend(["-u".to_string(), user.to_string()]);
    }
    argv
}

/// A value of an array property as shown in messages.
fn list_value(v: &Option<Vec<String>>) -> Value {
    match v {
        None => "absent".into(),
        Some(list) => Value::Array(list.iter().cloned().map(Value::from).collect()),
    }
}

/// Puppet's generic `change_to_s` for a property whose absent value is `absent`.
fn change_text(property: &str, is: &Value, should: &Value) -> String {
    let absent = |v: &Value| v.as_str() == Some("absent");
    if absent(is) {
        format!("defined '{property}' as {}", format_value(should))
    } else if absent(should) {
        format!("undefined '{property}' from {}", format_value(is))
    } else {
        format!(
            "{property} changed {} to {}",
            format_value(is),
            format_value(should)
        )
    }
}

/// Evaluates a `cron`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use puppet_agent::{Logger, apply::{Context, cron}};
/// // The entry of a user that does not exist: an empty table, nothing to remove.
/// let catalog = puppet_catalog::Catalog::from_json(br#"{"name": "n", "edges": [], "resources": [
///   {"type": "Cron", "title": "backup", "parameters":
///     {"ensure": "absent", "user": "prs-no-such-user", "command": "/usr/bin/backup"}}]}"#).unwrap();
/// let log = Logger::capturing(puppet_report::LogLevel::Notice);
/// let mut ctx = Context::new(&log, &catalog, "/Cron[backup]");
/// cron::evaluate(&catalog.resources[0], &mut ctx).await.unwrap();
/// assert!(ctx.events.is_empty());
/// # });
/// ```
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    evaluate_with(resource, ctx, &Databases::default()).await
}

/// What the resource asks for.
struct Should {
    command: Option<String>,
    special: Option<Option<String>>,
    times: [Option<Option<Vec<String>>>; 5],
    environment: Option<Vec<String>>,
}

fn should(resource: &Resource) -> Result<Should, String> {
    let r = resource.reference();
    let mut times: [Option<Option<Vec<String>>>; 5] = Default::default();
    for (slot, (field, lower, upper)) in times.iter_mut().zip(TIME_FIELDS) {
        if matches!(resource.parameter(field), None | Some(Value::Null)) {
            continue;
        }
        let mut values = Vec::new();
        for v in param_list(resource, field) {
            let m = munge_time(field, lower, upper, &v)
                .map_err(|e| format!("Parameter {field} failed on {r}: {e}"))?;
            values.push(m);
        }
        *slot = Some(match values.first() {
            None | Some(None) => None,
            Some(Some(_)) => Some(values.into_iter().flatten().collect()),
        });
    }
    let special = match param_str(resource, "special") {
        None => None,
        Some(s) if SPECIALS.contains(&s.as_str()) => Some(Some(s).filter(|s| s != "absent")),
        Some(s) => {
            return Err(format!(
                "Parameter special failed on {r}: Invalid special schedule {}",
                format_quoted(&s)
            ));
        }
    };
    if let Some(Some(_)) = special {
        for ((field, _, _), t) in TIME_FIELDS.iter().zip(&times) {
            if let Some(Some(_)) = t {
                return Err(format!(
                    "{r} cannot specify both a special schedule and a value for {field}"
                ));
            }
        }
    }
    let environment = match resource.parameter("environment") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let list = param_list(resource, "environment");
            for e in &list {
                if e != "absent" && !is_word_assignment(e) {
                    return Err(format!(
                        "Parameter environment failed on {r}: Invalid environment setting {}",
                        format_quoted(e)
                    ));
                }
            }
            Some(list)
        }
    };
    Ok(Should {
        command: param_str(resource, "command").map(|c| c.trim().to_string()),
        special,
        times,
        environment,
    })
}

/// Whether an unnamed entry is the resource's (Puppet's `match`): same command, and every
/// time field and `special` the resource sets equal.
fn matches(record: &Record, want: &Should) -> bool {
    if !record.unmanaged || want.command.as_deref() != Some(record.command.as_str()) {
        return false;
    }
    for (w, r) in want.times.iter().zip(&record.times) {
        if let Some(w) = w
            && w != r
        {
            return false;
        }
    }
    match &want.special {
        None => true,
        Some(None) => false,
        Some(s) => *s == record.special,
    }
}

pub(crate) async fn evaluate_with(
    resource: &Resource,
    ctx: &mut Context<'_>,
    db: &Databases,
) -> Result<(), String> {
    let name = param_str(resource, "name").unwrap_or_else(|| resource.title.clone());
    let present = match param_str(resource, "ensure").as_deref() {
        None | Some("present") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(format!(
                "Parameter ensure failed on {}: Invalid value \"{other}\". Valid values are present, absent.",
                resource.reference()
            ));
        }
    };
    let want = should(resource)?;
    let target = param_str(resource, "target")
        .or_else(|| param_str(resource, "user"))
        .unwrap_or_else(|| running_user(db));
    let user_exists = db.user_exists(&target)?;

    // Read the table.
    let text = if user_exists {
        let mut argv = crontab_base(db, &target);
        argv.push("-l".into());
        match run(ctx, &argv, None, false).await {
            Ok((Some(0), out, _)) => out,
            Ok((_, out, _)) if out.contains("no crontab for") => String::new(),
            Ok((_, out, _)) if out.contains("are not allowed to") => {
                ctx.log.debug(
                    "Puppet",
                    &format!("The {target} user is not authorized to use cron. Their crontab file is treated as empty in case Puppet authorizes them in the middle of the run (by, for example, modifying the cron.deny or cron.allow files)."),
                );
                String::new()
            }
            Ok((code, out, shown)) => {
                return Err(format!(
                    "Could not read crontab for {target}: Execution of '{shown}' returned {}: {}",
                    code.unwrap_or(-1),
                    out.trim()
                ));
            }
            Err(e) => return Err(format!("Could not read crontab for {target}: {e}")),
        }
    } else {
        ctx.log.debug(
            "Puppet",
            &format!("The {target} user does not exist. Treating their crontab file as empty in case Puppet creates them in the middle of the run."),
        );
        String::new()
    };
    let mut lines = parse(&text).map_err(|e| {
        format!("Could not prefetch cron provider 'crontab' target '{target}': {e}")
    })?;
    let found = lines
        .iter()
        .position(|l| matches!(l, Line::Record(r) if !r.unmanaged && r.name.as_deref() == Some(name.as_str())))
        .or_else(|| {
            lines
                .iter()
                .position(|l| matches!(l, Line::Record(r) if matches(r, &want)))
        });

    let mut changed = false;
    match (present, found) {
        (false, None) => return Ok(()),
        (false, Some(i)) => {
            if let Line::Record(r) = &mut lines[i] {
                r.removed = true;
            }
            changed |= ctx.change(
                "ensure",
                "present".into(),
                "absent".into(),
                "cron_removed",
                "removed".into(),
                || Ok(()),
            );
        }
        (true, None) => {
            let Some(command) = want.command.clone() else {
                if !ctx.noop {
                    ctx.log
                        .err(&ctx.path, "no command specified, cannot create");
                }
                ctx.change(
                    "ensure",
                    "absent".into(),
                    "present".into(),
                    "cron_created",
                    "created".into(),
                    || Ok(()),
                );
                return Ok(());
            };
            lines.push(Line::Record(Record {
                name: Some(name.clone()),
                unmanaged: false,
                special: want.special.clone().flatten(),
                times: want.times.clone().map(Option::flatten),
                command,
                environment: want
                    .environment
                    .clone()
                    .filter(|e| e.iter().all(|e| e != "absent")),
                removed: false,
            }));
            changed |= ctx.change(
                "ensure",
                "absent".into(),
                "present".into(),
                "cron_created",
                "created".into(),
                || Ok(()),
            );
        }
        (true, Some(i)) => {
            let Line::Record(record) = &mut lines[i] else {
                return Ok(());
            };
            if let Some(command) = want.command.as_ref().filter(|c| **c != record.command) {
                let (is, should) = (
                    Value::from(record.command.clone()),
                    Value::from(command.clone()),
                );
                let msg = change_text("command", &is, &should);
                changed |= ctx.change("command", is, should, "command_changed", msg, || Ok(()));
                record.command = command.clone();
            }
            if let Some(special) = want.special.as_ref().filter(|s| **s != record.special) {
                let is = record
                    .special
                    .clone()
                    .map_or_else(|| "absent".into(), Value::from);
                let should = special.clone().map_or_else(|| "absent".into(), Value::from);
                let msg = change_text("special", &is, &should);
                changed |= ctx.change("special", is, should, "special_changed", msg, || Ok(()));
                record.special = special.clone();
            }
            // The type's order: minute, hour, weekday, month, monthday.
            for index in [0usize, 1, 4, 3, 2] {
                let field = TIME_FIELDS[index].0;
                let Some(w) = &want.times[index] else {
                    continue;
                };
                if *w == record.times[index] {
                    continue;
                }
                let (is, should) = (list_value(&record.times[index]), list_value(w));
                let msg = change_text(field, &is, &should);
                changed |= ctx.change(field, is, should, &format!("{field}_changed"), msg, || {
                    Ok(())
                });
                record.times[index] = w.clone();
            }
            if let Some(env) = &want.environment {
                let wants_none = env.iter().all(|e| e == "absent");
                let in_sync = match &record.environment {
                    None => wants_none,
                    Some(cur) => {
                        let (mut a, mut b) = (cur.clone(), env.clone());
                        a.sort();
                        b.sort();
                        a == b
                    }
                };
                if !in_sync {
                    let is = list_value(&record.environment);
                    let should_shown = env.join(",");
                    let is_shown = format_value(&is);
                    let msg = if record.environment.is_none() {
                        format!("defined 'environment' as {should_shown}")
                    } else {
                        format!("environment changed {is_shown} to {should_shown}")
                    };
                    let should = Value::Array(env.iter().cloned().map(Value::from).collect());
                    let noop = ctx.noop;
                    change_shown(
                        ctx,
                        "environment",
                        is,
                        should,
                        (&is_shown, &should_shown),
                        "environment_changed",
                        msg,
                        Ok(()),
                    );
                    changed |= !noop;
                    record.environment = (!wants_none).then(|| env.clone());
                }
            }
            // `user`: the entry's user is its table's; another user moves it out of this table.
            if let Some(user) = param_str(resource, "user").filter(|u| *u != target) {
                let (is, should) = (Value::from(target.clone()), Value::from(user));
                let msg = change_text("user", &is, &should);
                if ctx.change("user", is, should, "user_changed", msg, || Ok(())) {
                    record.removed = true;
                    changed = true;
                }
            }
        }
    }
    if !changed || ctx.noop {
        return Ok(());
    }
    // Flush: the whole table, once for this resource.
    if !db.user_exists(&target)? {
        return Err(format!(
            "Cannot write the {target} user's crontab: The user does not exist"
        ));
    }
    let text = render(&lines, std::time::SystemTime::now());
    let mut argv = crontab_base(db, &target);
    argv.push("-".into());
    match run(ctx, &argv, Some(text.as_bytes()), false).await? {
        (Some(0), _, _) => Ok(()),
        (code, out, shown) => Err(format!(
            "Could not write crontab for {target}: Execution of '{shown}' returned {}: {}",
            code.unwrap_or(-1),
            out.trim()
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_puppet_crontab_round_trips_and_keeps_other_lines() {
        let text = "# HEADER: This file was autogenerated at 2026-12-02 17:47:21 +0000 by puppet.\n# HEADER: While it can still be managed manually, it is definitely not recommended.\n# HEADER: Note particularly that the comments starting with 'Puppet Name' should\n# HEADER: not be deleted, as doing so could cause duplicate cron jobs.\n# mine\nSHELL=/bin/sh\n5 * * * * /usr/bin/mine\n# Puppet Name: backup\n30 3,15 * * 1 /usr/bin/backup\n# Puppet Name: special\nMAILTO=ops@example.test\n@reboot /usr/bin/reboot-thing\n";
        let lines = parse(text).unwrap();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        let Line::Record(backup) = &lines[3] else {
            panic!("{lines:?}")
        };
        assert_eq!(backup.name.as_deref(), Some("backup"));
        assert_eq!(backup.times[1], Some(vec!["3".into(), "15".into()]));
        let Line::Record(special) = &lines[4] else {
            panic!()
        };
        assert_eq!(special.special.as_deref(), Some("reboot"));
        assert_eq!(
            special.environment,
            Some(vec!["MAILTO=ops@example.test".to_string()])
        );
        let Line::Record(mine) = &lines[2] else {
            panic!()
        };
        assert!(mine.unmanaged);
        let out = render(&lines, std::time::UNIX_EPOCH);
        assert_eq!(
            out,
            text.replace("2026-12-02 17:47:21", "1970-01-01 00:00:00")
        );
    }

    /// Crontab lines of every kind Puppet reads (and some it keeps as text).
    fn line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let field = prop_oneof![
            Just("*".to_string()),
            "[0-9]{1,2}",
            "[0-9]{1,2}(,[0-9]{1,2}){0,2}",
            "\\*/[1-9]",
        ];
        prop_oneof![
            "#[ -~]{0,20}",
            "[A-Z_]{1,6}=[ -~]{0,12}",
            Just(String::new()),
            " {1,3}",
            "[a-z ]{0,6}".prop_map(|n| format!("# Puppet Name: job{n}")),
            (
                proptest::collection::vec(field, 5),
                "/[a-z/]{1,10}( [a-z-]{1,5}){0,2}"
            )
                .prop_map(|(f, c)| format!("{} {c}", f.join(" "))),
            ("(reboot|daily|hourly)", "/[a-z/]{1,10}").prop_map(|(s, c)| format!("@{s} {c}")),
        ]
    }

    proptest::proptest! {
        /// What we write reads back: a table written once is written again the same. (The
        /// first write may still change: a `Puppet Name` comment without its entry is dropped,
        /// as Puppet drops it, which can leave blank lines at the end that the next read
        /// drops.)
        #[test]
        fn a_written_table_reads_back_the_same(lines in proptest::collection::vec(line(), 0..12)) {
            let text = lines.join("\n") + "\n";
            let write = |t: &str| render(&parse(t).unwrap(), std::time::UNIX_EPOCH);
            let second = write(&write(&text));
            proptest::prop_assert_eq!(write(&second), second);
        }

        /// Any text is read without a panic (an error for a line that is no entry), and what
        /// is read can be written.
        #[test]
        fn any_text_is_read_without_panic(text in "([ -~\t]{0,30}\n?){0,8}", unicode in "\\PC{0,20}") {
            for t in [text, unicode] {
                if let Ok(lines) = parse(&t) {
                    let _ = render(&lines, std::time::UNIX_EPOCH);
                }
            }
        }

        /// No value makes the time munging panic.
        #[test]
        fn munging_any_value_does_not_panic(v in "\\PC{0,8}") {
            for (field, lower, upper) in TIME_FIELDS {
                let _ = munge_time(field, lower, upper, &v);
            }
        }
    }

    #[test]
    fn time_values_are_munged_as_the_type_does() {
        assert_eq!(
            munge_time("weekday", 0, 7, "Mon").unwrap(),
            Some("1".into())
        );
        assert_eq!(
            munge_time("weekday", 0, 7, "tuesday").unwrap(),
            Some("2".into())
        );
        assert_eq!(
            munge_time("month", 1, 12, "Dec").unwrap(),
            Some("12".into())
        );
        assert_eq!(
            munge_time("minute", 0, 59, "*/5").unwrap(),
            Some("*/5".into())
        );
        assert_eq!(
            munge_time("hour", 0, 23, "1-5/2").unwrap(),
            Some("1-5/2".into())
        );
        assert_eq!(munge_time("hour", 0, 23, "*").unwrap(), None);
        assert_eq!(
            munge_time("minute", 0, 59, "60").unwrap_err(),
            "60 is not a valid minute"
        );
        assert!(munge_time("hour", 0, 23, "Mon").is_err());
        assert!(parse("not a cron line\n").is_err());
    }
}
