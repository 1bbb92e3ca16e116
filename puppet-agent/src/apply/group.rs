//! `group` (Puppet's `groupadd` provider on Debian): `ensure` (present/absent), `gid`,
//! `system` and `allowdupe` (used when the group is created or its gid changed), with
//! `groupadd`, `groupmod` and `groupdel`; the current state is read from `/etc/group`.
//!
//! `members` (and `auth_membership`) are not managed, as Puppet's `groupadd` provider does
//! not manage them without `libuser` (Debian does not ship Ruby's libuser feature): a debug
//! line says so, as Puppet's does. Messages and events: `created` (`group_created`),
//! `removed` (`group_removed`), `gid changed 1001 to 1002` (`gid_changed`).

use puppet_catalog::Resource;
use serde_json::Value;

use super::Context;
use super::accounts::{CommandChange, Databases, change_by_command, which};
use super::values::{param_bool, param_str};

/// A gid as Puppet's `group` type munges it: an integer (`Invalid GID <v>` otherwise).
fn munge_gid(resource: &Resource) -> Result<Option<i64>, String> {
    match resource.parameter("gid") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("Invalid GID {n}")),
        Some(Value::String(s)) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("Invalid GID {s}")),
        Some(other) => Err(format!("Invalid GID {other}")),
    }
    .map_err(|e| format!("Parameter gid failed on Group[{}]: {e}", resource.title))
}

/// The `ensure` of a `user` or `group`: `present` (the default) or `absent`.
pub(crate) fn ensure_of(resource: &Resource) -> Result<bool, String> {
    match param_str(resource, "ensure").as_deref() {
        None | Some("present") => Ok(true),
        Some("absent") => Ok(false),
        Some(other) => Err(format!(
            "Parameter ensure failed on {}: Invalid value \"{other}\". Valid values are present, absent.",
            resource.reference()
        )),
    }
}

/// Evaluates a `group`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use puppet_agent::{Logger, apply::{Context, group}};
/// let catalog = puppet_catalog::Catalog::from_json(br#"{"name": "n", "edges": [], "resources": [
///   {"type": "Group", "title": "root", "parameters": {"gid": 0}}]}"#).unwrap();
/// let log = Logger::capturing(puppet_report::LogLevel::Notice);
/// let mut ctx = Context::new(&log, &catalog, "/Group[root]");
/// group::evaluate(&catalog.resources[0], &mut ctx).await.unwrap();
/// assert!(ctx.events.is_empty()); // in sync: nothing to do
/// # });
/// ```
pub async fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    evaluate_with(resource, ctx, &Databases::default()).await
}

pub(crate) async fn evaluate_with(
    resource: &Resource,
    ctx: &mut Context<'_>,
    db: &Databases,
) -> Result<(), String> {
    let name = param_str(resource, "name").unwrap_or_else(|| resource.title.clone());
    let present = ensure_of(resource)?;
    let gid = munge_gid(resource)?;
    if resource.parameter("members").is_some() {
        ctx.log.debug(
            &ctx.path,
            "Provider groupadd does not support features manages_members; not managing attribute members",
        );
    }
    let allowdupe = param_bool(resource, "allowdupe").unwrap_or(false);
    let current = db.group(&name)?;
    match (present, current) {
        (false, None) => Ok(()),
        (false, Some(_)) => {
            let change = CommandChange {
                property: "ensure",
                values: ("present".into(), "absent".into()),
                name: "group_removed",
                message: "removed".into(),
            };
            let argv = [which("groupdel"), name.clone()];
            change_by_command(
                ctx,
                &argv,
                &format!("Could not delete group {name}"),
                change,
            )
            .await;
            Ok(())
        }
        (true, None) => {
            let mut argv = vec![which("groupadd")];
            if let Some(g) = gid {
                argv.extend(["-g".to_string(), g.to_string()]);
            }
            if allowdupe {
                argv.push("-o".into());
            }
            if param_bool(resource, "system").unwrap_or(false) {
                argv.push("-r".into());
            }
            argv.push(name.clone());
            let change = CommandChange {
                property: "ensure",
                values: ("absent".into(), "present".into()),
                name: "group_created",
                message: "created".into(),
            };
            change_by_command(
                ctx,
                &argv,
                &format!("Could not create group {name}"),
                change,
            )
            .await;
            Ok(())
        }
        (true, Some(group)) => {
            if let Some(want) = gid
                && want != group.gid
            {
                let mut argv = vec![which("groupmod"), "-g".into(), want.to_string()];
                if allowdupe {
                    argv.push("-o".into());
                }
                argv.push(name.clone());
                let change = CommandChange {
                    property: "gid",
                    values: (group.gid.into(), want.into()),
                    name: "gid_changed",
                    message: format!("gid changed {} to {want}", group.gid),
                };
                let failure = format!("Could not set gid on group[{name}]");
                change_by_command(ctx, &argv, &failure, change).await;
            }
            Ok(())
        }
    }
}
