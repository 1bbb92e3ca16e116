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
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let hms = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos {
        format!(
            "{y:04}-{m:02}-{day:02} {hms}.{:09} +00:00",
            d.subsec_nanos()
        )
    } else {
        format!("{y:04}-{m:02}-{day:02} {hms} +0000")
    }
}
