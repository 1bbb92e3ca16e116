//! Atomic writes: a temporary file beside the target, fsync, rename, fsync of the directory.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::AgentError;

/// Writes `bytes` to `path` atomically with `mode`: readers see the old file or the whole new
/// one, never a part.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.txt");
/// puppet_agent::write_atomic(&path, b"hello", 0o640).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AgentError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let err = AgentError::io;
    let mut tmp = tempfile::Builder::new()
        .prefix(".puppet-agent")
        .tempfile_in(dir)
        .map_err(err("create a temporary file in", dir))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(err("set the mode of", &tmp_path))?;
    tmp.write_all(bytes).map_err(err("write", &tmp_path))?;
    tmp.as_file().sync_all().map_err(err("fsync", &tmp_path))?;
    tmp.persist(path).map_err(|e| AgentError::Io {
        what: "rename into",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and its parents) and sets its mode.
pub(crate) fn ensure_dir(dir: &Path, mode: u32) -> Result<(), AgentError> {
    std::fs::create_dir_all(dir).map_err(AgentError::io("create directory", dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(AgentError::io("set the mode of", dir))
}

/// A time as Ruby prints it in UTC: `YYYY-MM-DD HH:MM:SS +0000`, or with nanoseconds and
/// `+00:00` as Psych writes a `Time` in YAML (`nanos`).
pub(crate) fn utc_time(t: std::time::SystemTime, nanos: bool) -> String {
    use time::macros::format_description;
    let t = time::OffsetDateTime::from(t);
    let formatted = if nanos {
        t.format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:9] +00:00"
        ))
    } else {
        t.format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] +0000"
        ))
    };
    // Formatting a UTC time with these fixed descriptions cannot fail (a year beyond 9999
    // is the only case, shown as Unix seconds).
    formatted.unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn ruby_time_formats() {
        let t = UNIX_EPOCH + Duration::new(1_796_270_537, 5);
        assert_eq!(super::utc_time(t, false), "2026-12-03 04:02:17 +0000");
        assert_eq!(
            super::utc_time(t, true),
            "2026-12-03 04:02:17.000000005 +00:00"
        );
        assert_eq!(
            super::utc_time(UNIX_EPOCH + Duration::from_secs(951_782_400), false),
            "2000-02-29 00:00:00 +0000"
        );
    }
}

/// A file holding this process's PID, created exclusively and removed when dropped: Puppet's
/// run lock and daemon pidfile. A file left by a process that is gone (or that does not hold
/// a PID) is stale and taken over.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: std::path::PathBuf,
}

impl PidFile {
    /// Claims `path`; `Ok(None)` when another live process holds it.
    pub(crate) fn claim(path: &Path) -> Result<Option<PidFile>, AgentError> {
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(std::process::id().to_string().as_bytes())
                        .map_err(AgentError::io("write", path))?;
                    return Ok(Some(PidFile {
                        path: path.to_path_buf(),
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let held = text.trim().parse::<u32>().ok().is_some_and(|pid| {
                        pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
                    });
                    if held {
                        return Ok(None);
                    }
                    let _ = std::fs::remove_file(path);
                }
                Err(e) => return Err(AgentError::io("create", path)(e)),
            }
        }
        Ok(None)
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
