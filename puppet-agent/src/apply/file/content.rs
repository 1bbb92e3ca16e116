//! The `content` and `checksum_value` properties of an existing file: checksums compared
//! (one hash of the local file, or none with a time checksum), the diff shown, the old
//! content backed up, the new content written through a temporary file and renamed.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use base64ct::Encoding;
use serde_json::Value;

use super::checksum::{self, sum_data};
use super::source::{Origin, fetch};
use super::{Context, Current, Spec, diff, format_value};

/// `validate_cmd` with its `validate_replacement` (`%` by default), and where to log.
#[derive(Debug, Clone)]
pub(super) struct Validate {
    pub(super) command: String,
    pub(super) replacement: String,
}

impl Validate {
    /// Runs the command on the temporary file `tmp` as Puppet's `replace_file` callback does:
    /// `Executing: '<command>'`, through `/bin/sh -c`, stdout and stderr together; its output
    /// lines are debug lines of the resource (`source`); a non-zero exit is `Execution of
    /// '<command>' returned <n>: <output>` (which the change's failure logs).
    fn run(&self, tmp: &Path, log: &crate::Logger, source: &str) -> Result<(), String> {
        let command = self
            .command
            .replace(&self.replacement, &tmp.to_string_lossy());
        log.debug("Puppet", &format!("Executing: '{command}'"));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("Could not execute '{command}': {e}"))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            for line in text.lines() {
                log.debug(source, line);
            }
            return Ok(());
        }
        let message = format!(
            "Execution of '{command}' returned {}: {}",
            out.status.code().unwrap_or(-1),
            text.trim()
        );
        Err(message)
    }
}

/// Writes `bytes` to `path` through a temporary file beside it (mode, owner, group set before
/// the rename); with `validate`, the command runs on the temporary file first and its failure
/// leaves `path` untouched.
pub(super) fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    (uid, gid): (Option<u32>, Option<u32>),
    validate: Option<(&Validate, &crate::Logger, &str)>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let fail = |e: std::io::Error| format!("Could not write {}: {e}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
        .suffix(".puppettmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::fchown(tmp.as_file(), uid.map(Into::into), gid.map(Into::into))
            .map_err(|e| format!("Could not set owner of {}: {e}", path.display()))?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    if let Some((v, log, source)) = validate {
        v.run(tmp.path(), log, source)?;
    }
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The `content` (or `checksum_value`) property of an existing file: compare checksums, show
/// the diff, back up and replace.
pub(super) async fn sync_content(
    spec: &Spec,
    origin: &Origin,
    meta: &std::fs::Metadata,
    known_sum: Option<String>,
    ctx: &mut Context<'_>,
) -> Result<(), String> {
    let path = Path::new(&spec.path);
    let noop = ctx.noop;
    let want = match (&spec.checksum, origin) {
        (Some(c), _) => Some(c.clone()),
        (None, Origin::Inline(b)) => Some(spec.sum.of(b)),
        _ => None,
    };
    let have = match known_sum {
        Some(s) => s,
        None => spec
            .sum
            .of_file(path, Some(meta))
            .map_err(|e| format!("Could not read file {}: {e}", ctx_title(ctx)))?,
    };
    let (mut content, want) = match want {
        Some(w) if w == have || checksum::date_matches(spec.sum, &have, &w) => return Ok(()),
        Some(w) => (None, w),
        None => {
            let r = fetch(origin, None, spec.sum, ctx).await;
            let w = match &r {
                Ok(b) if spec.sum.is_digest() => spec.sum.of(b),
                Ok(_) => spec
                    .checksum
                    .clone()
                    .unwrap_or_else(|| format!("{{{}}}", spec.sum.name())),
                Err(_) => String::new(),
            };
            if w == have {
                return Ok(());
            }
            (Some(r), w)
        }
    };
    let property = if spec.checksum_value {
        "checksum_value"
    } else {
        "content"
    };
    // show_diff: in noop too, as Puppet's `insync?` shows it.
    if ctx.file.diff.show_diff && spec.show_diff {
        let source = format!("{}/{property}", ctx.path);
        if spec.sensitive {
            ctx.log.notice(&source, "[diff redacted]");
        } else {
            if content.is_none() {
                content = Some(fetch(origin, spec.checksum.as_deref(), spec.sum, ctx).await);
            }
            if let Some(Ok(bytes)) = &content
                && let Some(d) = diff::unified(path, bytes, &ctx.file.diff)
            {
                ctx.log.notice(&source, &d);
            }
        }
    }
    // As Puppet's `write`: the old content is backed up, then the new one fetched.
    let backed = spec.back_up(&Current::File, ctx).await;
    let content = match content {
        Some(c) => Some(c),
        None if noop => None,
        None => Some(fetch(origin, spec.checksum.as_deref(), spec.sum, ctx).await),
    };
    let mode = meta.mode() & 0o7777;
    let (ouid, ogid) = (meta.uid(), meta.gid());
    let (log, source) = (ctx.log, ctx.path.clone());
    let write = move || {
        backed?;
        let bytes = match content {
            Some(r) => r?,
            None => return Err("no content".to_string()),
        };
        let validate = spec.validate.as_ref().map(|v| (v, log, source.as_str()));
        write_file(path, &bytes, mode, (Some(ouid), Some(ogid)), validate)
    };
    ctx.redact = spec.sensitive;
    if spec.checksum_value {
        let (h, w) = (sum_data(&have).to_string(), sum_data(&want).to_string());
        let msg = format!(
            "checksum_value changed {} to {}",
            format_value(&Value::from(h.clone())),
            format_value(&Value::from(w.clone()))
        );
        ctx.change(
            "checksum_value",
            Value::from(h),
            Value::from(w),
            "checksum_value_changed",
            msg,
            write,
        );
    } else {
        let desired = Value::from(base64ct::Base64::encode_string(want.as_bytes()));
        let msg = format!("content changed '{have}' to '{want}'");
        ctx.change_with(
            "content",
            Value::from(have),
            Value::from(want),
            Some(desired),
            "content_changed",
            msg,
            write,
        );
    }
    ctx.redact = false;
    Ok(())
}

/// The resource's title from its path (`/Stage[main]/Main/File[/x]` gives `/x`).
fn ctx_title(ctx: &Context<'_>) -> String {
    ctx.path
        .rsplit_once("File[")
        .map(|(_, t)| t.trim_end_matches(']').to_string())
        .unwrap_or_default()
}
