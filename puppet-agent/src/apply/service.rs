//! `service`: providers `systemd` (when PID 1 is systemd), `debian` (`/usr/sbin/service`
//! otherwise) and `base` (the resource's own `start`, `stop`, `status`, `restart` commands, or
//! a process `pattern`). `ensure` (`running`/`stopped`), `enable` (systemd), refresh restarts a
//! running service; a service started in the run is not restarted again.

use puppet_catalog::Resource;
use serde_json::Value;

use super::values::param_bool;
use super::{Context, param_str};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Systemd,
    Debian,
    Base,
}

/// The provider a resource uses: its `provider`, else `systemd` when PID 1 is systemd, else
/// `debian`.
fn provider(resource: &Resource) -> Result<Provider, String> {
    match param_str(resource, "provider").as_deref() {
        Some("systemd") => Ok(Provider::Systemd),
        Some("debian") | Some("init") => Ok(Provider::Debian),
        Some("base") => Ok(Provider::Base),
        Some(other) => Err(format!(
            "service provider '{other}' is not supported by this agent (systemd, debian, base)"
        )),
        None => {
            let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
            Ok(if comm.contains("systemd") {
                Provider::Systemd
            } else {
                Provider::Debian
            })
        }
    }
}

/// The provider's name as the report shows it (`provider_used`).
pub fn provider_name(resource: &Resource) -> String {
    match provider(resource) {
        Ok(Provider::Systemd) => "systemd".into(),
        Ok(Provider::Debian) => "debian".into(),
        Ok(Provider::Base) => "base".into(),
        Err(_) => param_str(resource, "provider").unwrap_or_default(),
    }
}

async fn sh(command: &str) -> Result<(i32, String), String> {
    let out = tokio::process::Command::new("/bin/sh")
        .args(["-c", command])
        .output()
        .await
        .map_err(|e| format!("Could not execute '{command}': {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code().unwrap_or(-1), text))
}

async fn run_ok(command: &str) -> Result<(), String> {
    let (code, out) = sh(command).await?;
    if code == 0 {
        Ok(())
    } else {
        Err(format!(
            "Execution of '{command}' returned {code}: {}",
            out.trim_end()
        ))
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether a process whose command line contains `pattern` runs (Puppet's `ps -ef` search).
fn process_running(pattern: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    let me = std::process::id().to_string();
    dir.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.chars().all(|c| c.is_ascii_digit())
            && name != me
            && std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(pattern)
                })
                .unwrap_or(false)
    })
}

struct Svc {
    name: String,
    provider: Provider,
    start: Option<String>,
    stop: Option<String>,
    status: Option<String>,
    restart: Option<String>,
    pattern: String,
}

impl Svc {
    fn new(resource: &Resource) -> Result<Svc, String> {
        let name = param_str(resource, "name").unwrap_or_else(|| resource.title.clone());
        Ok(Svc {
            provider: provider(resource)?,
            start: param_str(resource, "start").or_else(|| param_str(resource, "binary")),
            stop: param_str(resource, "stop"),
            status: param_str(resource, "status"),
            restart: param_str(resource, "restart"),
            pattern: param_str(resource, "pattern")
                .or_else(|| param_str(resource, "binary"))
                .unwrap_or_else(|| name.clone()),
            name,
        })
    }

    fn cmd(&self, action: &str) -> Option<String> {
        let own = match action {
            "start" => &self.start,
            "stop" => &self.stop,
            "status" => &self.status,
            _ => &self.restart,
        };
        if let Some(c) = own {
            return Some(c.clone());
        }
        let n = quote(&self.name);
        match self.provider {
            Provider::Systemd => Some(match action {
                "status" => format!("systemctl is-active -- {n}"),
                a => format!("systemctl {a} -- {n}"),
            }),
            Provider::Debian => Some(format!("/usr/sbin/service {n} {action}")),
            Provider::Base => None,
        }
    }

    async fn running(&self) -> Result<bool, String> {
        match self.cmd("status") {
            Some(c) => Ok(sh(&c).await?.0 == 0),
            None => Ok(process_running(&self.pattern)),
        }
    }

    async fn act(&self, action: &str) -> Result<(), String> {
        match self.cmd(action) {
            Some(c) => run_ok(&c).await.map_err(|e| {
                let verb = match action {
                    "start" => "start",
                    "stop" => "stop",
                    _ => "restart",
                };
                format!("Could not {verb} Service[{}]: {e}", self.name)
            }),
            None if action == "restart" => {
                Box::pin(self.act("stop")).await?;
                Box::pin(self.act("start")).await
            }
            None => Err(format!(
                "Services must specify a start command or a binary (Service[{}], provider base)",
                self.name
            )),
        }
    }
}

/// Evaluates a `service`; returns whether it was started in this run (its pending refreshes
/// are then dropped, as Puppet's `invalidate_refreshes`).
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<bool, String> {
    let svc = Svc::new(resource)?;
    let mut started = false;
    let want = match param_str(resource, "ensure").as_deref() {
        Some("running") | Some("true") => Some(true),
        Some("stopped") | Some("false") => Some(false),
        None => None,
        Some(other) => return Err(format!("Invalid value \"{other}\" for ensure")),
    };
    if let Some(want) = want {
        let is = svc.running().await?;
        if is != want {
            let (from, to) = if want {
                ("stopped", "running")
            } else {
                ("running", "stopped")
            };
            let r = if ctx.noop {
                Ok(())
            } else {
                svc.act(if want { "start" } else { "stop" }).await
            };
            let name = if want {
                "service_started"
            } else {
                "service_stopped"
            };
            let ok = ctx.change(
                "ensure",
                Value::from(from),
                Value::from(to),
                name,
                format!("ensure changed '{from}' to '{to}'"),
                || r,
            );
            started = ok && want;
        }
    }
    if let Some(enable) = param_bool(resource, "enable") {
        if svc.provider != Provider::Systemd {
            ctx.log.debug(
                &ctx.path,
                "Provider does not support features enableable; not managing attribute enable",
            );
        } else {
            let n = quote(&svc.name);
            let is = sh(&format!("systemctl is-enabled -- {n}")).await?.0 == 0;
            if is != enable {
                let cmd = if enable {
                    format!("systemctl unmask -- {n} && systemctl enable -- {n}")
                } else {
                    format!("systemctl disable -- {n}")
                };
                let r = if ctx.noop { Ok(()) } else { run_ok(&cmd).await };
                let name = if enable {
                    "service_enabled"
                } else {
                    "service_disabled"
                };
                ctx.change(
                    "enable",
                    Value::from(is.to_string()),
                    Value::from(enable.to_string()),
                    name,
                    format!("enable changed '{is}' to '{enable}'"),
                    || r,
                );
            }
        }
    }
    Ok(started)
}

/// Restarts a running service (refresh); a stopped one is left alone.
pub async fn refresh(resource: &Resource, ctx: &mut Context<'_>) -> Result<bool, String> {
    let svc = Svc::new(resource)?;
    if !svc.running().await? {
        ctx.log
            .debug(&ctx.path, "Skipping restart; service is not running");
        return Ok(false);
    }
    svc.act("restart").await?;
    Ok(true)
}
