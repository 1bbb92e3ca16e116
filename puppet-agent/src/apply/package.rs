//! `package` with Debian's `apt` provider (dpkg for the state): `ensure` `present`/`installed`,
//! `latest`, `absent`, `purged` or a version. The installed packages are read once per run
//! (`dpkg-query -W`); `ensure => installed` of an installed package is in sync and runs no
//! `apt-get`.

use std::collections::HashMap;
use std::sync::OnceLock;

use puppet_catalog::Resource;
use serde_json::Value;

use super::{Context, param_str};

/// What dpkg knows: package name → `purged`, `absent` or the installed version.
#[derive(Debug, Default)]
pub struct Prefetch {
    state: OnceLock<Result<HashMap<String, String>, String>>,
}

/// Parses `dpkg-query -W --showformat '${Status} ${Package} ${Version}\n'` output into
/// package → state (`purged` for `not-installed`, `absent` for half-installed or
/// config-files states, else the version).
///
/// ```
/// let m = puppet_agent::apply::package::parse_dpkg_query(
///     "install ok installed curl 7.88.1-10+deb12u15\ndeinstall ok config-files old 1.0\nunknown ok not-installed gone \n");
/// assert_eq!(m["curl"], "7.88.1-10+deb12u15");
/// assert_eq!(m["old"], "absent");
/// assert_eq!(m["gone"], "purged");
/// ```
pub fn parse_dpkg_query(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim_matches('\'');
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let state = match f[2] {
            "installed" => f.get(4).copied().unwrap_or("").to_string(),
            "not-installed" => "purged".into(),
            _ => "absent".into(),
        };
        out.insert(f[3].to_string(), state);
    }
    out
}

impl Prefetch {
    fn get(&self) -> Result<&HashMap<String, String>, String> {
        self.state
            .get_or_init(|| {
                let out = std::process::Command::new("/usr/bin/dpkg-query")
                    .args(["-W", "--showformat", "${Status} ${Package} ${Version}\\n"])
                    .output()
                    .map_err(|e| format!("Could not prefetch package provider 'apt': {e}"))?;
                Ok(parse_dpkg_query(&String::from_utf8_lossy(&out.stdout)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

async fn apt(args: &[&str]) -> Result<(), String> {
    let out = tokio::process::Command::new("/usr/bin/apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("APT_LISTBUGS_FRONTEND", "none")
        .env("APT_LISTCHANGES_FRONTEND", "none")
        .output()
        .await
        .map_err(|e| format!("Could not run /usr/bin/apt-get: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "Execution of '/usr/bin/apt-get {}' returned {}: {}",
        args.join(" "),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end()
    ))
}

async fn candidate(name: &str) -> Result<String, String> {
    let out = tokio::process::Command::new("/usr/bin/apt-cache")
        .args(["policy", name])
        .output()
        .await
        .map_err(|e| format!("Could not run apt-cache: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Candidate:")
                .map(|c| c.trim().to_string())
        })
        .filter(|c| c != "(none)")
        .ok_or_else(|| format!("No candidate version for {name}"))
}

/// Evaluates a `package` (provider `apt`).
pub async fn evaluate(
    resource: &Resource,
    ctx: &mut Context<'_>,
    prefetch: &Prefetch,
) -> Result<(), String> {
    let name = param_str(resource, "name").unwrap_or_else(|| resource.title.clone());
    let provider = param_str(resource, "provider").unwrap_or_else(|| "apt".into());
    if provider != "apt" && provider != "dpkg" {
        return Err(format!(
            "package provider '{provider}' is not supported by this agent (apt)"
        ));
    }
    let Some(ensure) = param_str(resource, "ensure") else {
        return Ok(());
    };
    let current = prefetch
        .get()?
        .get(&name)
        .cloned()
        .unwrap_or_else(|| "purged".into());
    let installed = current != "purged" && current != "absent";
    let is = Value::from(current.clone());
    let install = |spec: String| async move {
        apt(&[
            "-q",
            "-y",
            "-o",
            "DPkg::Options::=--force-confold",
            "install",
            &spec,
        ])
        .await
    };
    match ensure.as_str() {
        "present" | "installed" => {
            if installed {
                return Ok(());
            }
            let r = if ctx.noop {
                Ok(())
            } else {
                install(name.clone()).await
            };
            ctx.change(
                "ensure",
                is,
                "present".into(),
                "package_installed",
                "created".into(),
                || r,
            );
        }
        "absent" => {
            if !installed {
                return Ok(());
            }
            let r = if ctx.noop {
                Ok(())
            } else {
                apt(&["-y", "-q", "remove", &name]).await
            };
            ctx.change(
                "ensure",
                is,
                "absent".into(),
                "package_removed",
                "removed".into(),
                || r,
            );
        }
        "purged" => {
            if current == "purged" {
                return Ok(());
            }
            let r = if ctx.noop {
                Ok(())
            } else {
                apt(&["-y", "-q", "remove", "--purge", &name]).await
            };
            ctx.change(
                "ensure",
                is,
                "purged".into(),
                "package_purged",
                "purged".into(),
                || r,
            );
        }
        "latest" => {
            let want = candidate(&name).await?;
            if want == current {
                return Ok(());
            }
            let (event, msg) = if installed {
                (
                    "package_changed",
                    format!("ensure changed '{current}' to '{want}'"),
                )
            } else {
                ("package_installed", "created".to_string())
            };
            let r = if ctx.noop {
                Ok(())
            } else {
                install(format!("{name}={want}")).await
            };
            ctx.change("ensure", is, Value::from(want), event, msg, || r);
        }
        version => {
            if version == current {
                return Ok(());
            }
            let (event, msg) = if installed {
                (
                    "package_changed",
                    format!("ensure changed '{current}' to '{version}'"),
                )
            } else {
                ("package_installed", "created".to_string())
            };
            let r = if ctx.noop {
                Ok(())
            } else {
                install(format!("{name}={version}")).await
            };
            ctx.change("ensure", is, Value::from(version), event, msg, || r);
        }
    }
    Ok(())
}
