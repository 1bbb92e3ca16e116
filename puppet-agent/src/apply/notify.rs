//! `notify`: logs its message on every run (never in sync).

use puppet_catalog::Resource;
use serde_json::Value;

use super::{Context, param_str};

/// Evaluates a `notify`: the message (default: the title) is logged with source `Puppet`,
/// then the change `defined 'message' as '<message>'` (event `message_changed`).
pub fn evaluate(resource: &Resource, ctx: &mut Context<'_>) -> Result<(), String> {
    let message = param_str(resource, "message").unwrap_or_else(|| resource.title.clone());
    let shown = if resource.is_sensitive("message") {
        "Sensitive [value redacted]".to_string()
    } else {
        message.clone()
    };
    let log = ctx.log;
    let noop = ctx.noop;
    let text = format!(
        "defined 'message' as {}",
        super::format_value(&Value::from(shown.clone()))
    );
    ctx.change(
        "message",
        Value::from("absent"),
        Value::from(shown.clone()),
        "message_changed",
        text,
        || {
            if !noop {
                log.notice("Puppet", &shown);
            }
            Ok(())
        },
    );
    Ok(())
}
