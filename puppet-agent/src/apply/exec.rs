//! `exec` (providers `posix` and `shell`): `command`, `path`, `creates`, `onlyif`, `unless`,
//! `refreshonly`, `refresh`, `cwd`, `environment`, `user`/`group` (as root), `returns`,
//! `timeout`, `tries`, `try_sleep`, `logoutput`, `umask`.

use std::process::Stdio;
use std::time::Duration;

use puppet_catalog::Resource;
use serde_json::Value;

use super::values::param_bool;
use super::{Context, param_list, param_str};

/// A command's outcome: exit code (`None`: killed by a signal) and combined output.
struct Ran {
    code: Option<i32>,
    output: String,
}

struct Spec {
    command: String,
    shell: bool,
    path: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    umask: Option<u32>,
    timeout: Option<Duration>,
}

fn spec(resource: &Resource) -> Result<Spec, String> {
    let command = param_str(resource, "command").unwrap_or_else(|| resource.title.clone());
    let shell = param_str(resource, "provider").as_deref() == Some("shell");
    let path: Vec<String> = param_list(resource, "path")
        .iter()
        .flat_map(|p| p.split(':').map(String::from).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .collect();
    let mut env = Vec::new();
    for kv in param_list(resource, "environment") {
        match kv.split_once('=') {
            Some((k, v)) => env.push((k.to_string(), v.to_string())),
            None => return Err(format!("Invalid environment setting '{kv}'")),
        }
    }
    let timeout = match param_str(resource, "timeout") {
        Some(t) => {
            let secs: f64 = t
                .parse()
                .map_err(|_| format!("The timeout must be a number: {t:?}"))?;
            (secs > 0.0).then(|| Duration::from_secs_f64(secs))
        }
        None => Some(Duration::from_secs(300)),
    };
    let me = nix::unistd::geteuid();
    let uid = match param_str(resource, "user") {
        None => None,
        Some(u) => {
            let user = match u.parse::<u32>() {
                Ok(id) => nix::unistd::User::from_uid(id.into()).ok().flatten(),
                Err(_) => nix::unistd::User::from_name(&u).ok().flatten(),
            }
            .ok_or_else(|| format!("Could not find user {u}"))?;
            if user.uid != me && !me.is_root() {
                return Err("Only root can execute commands as other users".into());
            }
            Some(user.uid.as_raw())
        }
    };
    let gid = match param_str(resource, "group") {
        None => None,
        Some(g) => Some(
            match g.parse::<u32>() {
                Ok(id) => nix::unistd::Group::from_gid(id.into()).ok().flatten(),
                Err(_) => nix::unistd::Group::from_name(&g).ok().flatten(),
            }
            .ok_or_else(|| format!("Could not find group {g}"))?
            .gid
            .as_raw(),
        ),
    };
    let umask = match param_str(resource, "umask") {
        Some(m) => Some(
            u32::from_str_radix(&m, 8)
                .map_err(|_| format!("The umask specification is invalid: {m:?}"))?,
        ),
        None => None,
    };
    Ok(Spec {
        command,
        shell,
        path,
        env,
        cwd: param_str(resource, "cwd"),
        uid,
        gid,
        umask,
        timeout,
    })
}

/// Characters after which Ruby's `exec(string)` hands the command to `/bin/sh`.
const SHELL_META: &[char] = &[
    '*', '?', '{', '}', '[', ']', '<', '>', '(', ')', '~', '&', '|', '\\', '$', ';', '\'', '`',
    '"', '\n', '#', '=', '%',
];

fn find_in_path(exe: &str, path: &[String]) -> Option<String> {
    path.iter()
        .map(|d| format!("{}/{exe}", d.trim_end_matches('/')))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// The posix provider's check that the command can be found (`validatecmd`).
fn validate(spec: &Spec, command: &str) -> Result<(), String> {
    if spec.shell {
        return Ok(());
    }
    let exe = command.split_whitespace().next().unwrap_or("");
    if exe.starts_with('/') {
        return Ok(());
    }
    if spec.path.is_empty() {
        return Err(format!(
            "'{command}' is not qualified and no path was specified. Please qualify the command or specify a path."
        ));
    }
    if find_in_path(exe, &spec.path).is_none() {
        return Err(format!("Could not find command '{exe}'"));
    }
    Ok(())
}

async fn run(spec: &Spec, command: &str) -> Result<Ran, String> {
    let masked;
    let (command_text, force_shell) = match spec.umask {
        Some(m) => {
            masked = format!("umask {m:03o}; {command}");
            (masked.as_str(), true)
        }
        None => (command, false),
    };
    let mut cmd = if spec.shell || force_shell || command.contains(SHELL_META) {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(command_text);
        c
    } else {
        let mut words = command.split_whitespace();
        let exe = words.next().unwrap_or("");
        let exe = if exe.starts_with('/') {
            exe.to_string()
        } else {
            find_in_path(exe, &spec.path).unwrap_or_else(|| exe.to_string())
        };
        let mut c = tokio::process::Command::new(exe);
        c.args(words);
        c
    };
    if !spec.path.is_empty() {
        cmd.env("PATH", spec.path.join(":"));
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    if let Some(gid) = spec.gid {
        cmd.gid(gid);
    }
    if let Some(uid) = spec.uid {
        cmd.uid(uid);
    }
    // One pipe for stdout and stderr, as Puppet combines them.
    let (reader, writer) = std::io::pipe().map_err(|e| format!("Could not create a pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("Could not create a pipe: {e}"))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| match &spec.cwd {
        Some(cwd) if !std::path::Path::new(cwd).is_dir() => {
            format!("Working directory '{cwd}' does not exist")
        }
        _ => format!("Could not execute '{command}': {e}"),
    })?;
    drop(cmd);
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut out = Vec::new();
        let mut r = reader;
        let _ = r.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = match spec.timeout {
        Some(t) => match tokio::time::timeout(t, child.wait()).await {
            Ok(s) => s,
            Err(_) => {
                let _ = child.kill().await;
                return Err("Command exceeded timeout".into());
            }
        },
        None => child.wait().await,
    }
    .map_err(|e| format!("Could not execute '{command}': {e}"))?;
    let output = read.await.unwrap_or_default();
    Ok(Ran {
        code: status.code(),
        output,
    })
}

/// Runs the checks (`refreshonly` unless refreshing, `creates`, `unless`, `onlyif`); `true`
/// when the command should run.
async fn checks_pass(
    resource: &Resource,
    spec: &Spec,
    ctx: &Context<'_>,
    refreshing: bool,
) -> Result<bool, String> {
    let cmd = &spec.command;
    if !refreshing && param_bool(resource, "refreshonly") == Some(true) {
        ctx.log.debug(
            &ctx.path,
            &format!("'{cmd}' won't be executed because of failed check 'refreshonly'"),
        );
        return Ok(false);
    }
    for p in param_list(resource, "creates") {
        if std::fs::symlink_metadata(&p).is_ok() {
            ctx.log.debug(
                &ctx.path,
                &format!("'{cmd}' won't be executed because of failed check 'creates'"),
            );
            return Ok(false);
        }
    }
    for check in param_list(resource, "unless") {
        validate(spec, &check)?;
        let ran = run(spec, &check).await?;
        if ran.code == Some(0) {
            ctx.log.debug(
                &ctx.path,
                &format!("'{cmd}' won't be executed because of failed check 'unless'"),
            );
            return Ok(false);
        }
    }
    for check in param_list(resource, "onlyif") {
        validate(spec, &check)?;
        let ran = run(spec, &check).await?;
        if ran.code != Some(0) {
            ctx.log.debug(
                &ctx.path,
                &format!("'{cmd}' won't be executed because of failed check 'onlyif'"),
            );
            return Ok(false);
        }
    }
    Ok(true)
}

fn returns(resource: &Resource) -> Vec<String> {
    let r = param_list(resource, "returns");
    if r.is_empty() { vec!["0".into()] } else { r }
}

/// Runs `command` with `tries`, logging output per `logoutput`; the error text when it did
/// not return one of `returns`.
async fn execute(
    resource: &Resource,
    spec: &Spec,
    ctx: &Context<'_>,
    command: &str,
    check_returns: bool,
) -> Result<(), String> {
    let tries: u32 = param_str(resource, "tries")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1)
        .max(1);
    let sleep: f64 = param_str(resource, "try_sleep")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0);
    let ok_codes = returns(resource);
    let logoutput = param_str(resource, "logoutput").unwrap_or_else(|| "on_failure".into());
    let mut last_err = String::new();
    for attempt in 1..=tries {
        if attempt > 1 {
            ctx.log
                .debug("Puppet", &format!("Exec try {attempt}/{tries}"));
            if sleep > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(sleep)).await;
            }
        }
        ctx.log.debug("Puppet", &format!("Executing: '{command}'"));
        let ran = run(spec, command).await?;
        let code = ran.code.unwrap_or(-1);
        let ok = !check_returns || ok_codes.iter().any(|c| c == &code.to_string());
        if logoutput == "true" || (logoutput == "on_failure" && !ok) {
            for line in ran.output.lines() {
                ctx.log.notice(&format!("{}/returns", ctx.path), line);
            }
        }
        if ok {
            return Ok(());
        }
        last_err = format!(
            "'{command}' returned {code} instead of one of [{}]",
            ok_codes.join(",")
        );
    }
    Err(last_err)
}

/// Evaluates an `exec`: when every check passes, runs the command (event `executed_command`,
/// `executed successfully`).
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    let spec = spec(resource)?;
    validate(&spec, &spec.command)?;
    if !checks_pass(resource, &spec, ctx, false).await? {
        return Ok(());
    }
    let desired = Value::from(returns(resource));
    let result = if ctx.noop {
        Ok(())
    } else {
        execute(resource, &spec, ctx, &spec.command, true).await
    };
    ctx.change(
        "returns",
        Value::from("notrun"),
        desired,
        "executed_command",
        "executed successfully".into(),
        || result,
    );
    Ok(())
}

/// Refreshes an `exec`: the checks again (without `refreshonly`), then the `refresh` command
/// (exit code not checked, as Puppet) or the command.
pub async fn refresh(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    let spec = spec(resource)?;
    if !checks_pass(resource, &spec, ctx, true).await? {
        return Ok(());
    }
    match param_str(resource, "refresh") {
        Some(cmd) => {
            validate(&spec, &cmd)?;
            execute(resource, &spec, ctx, &cmd, false).await
        }
        None => execute(resource, &spec, ctx, &spec.command, true).await,
    }
}
