//! The CA directory on disk: Puppetserver 7's layout, atomic writes, the lock, `serial` and
//! `inventory.txt`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::CaError;

/// Mode of private keys.
pub(crate) const KEY_MODE: u32 = 0o600;
/// Mode of certificates, CRLs, public keys and `serial`.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode of inventories and CSRs (Puppetserver: readable by its group only).
pub(crate) const PRIVATE_MODE: u32 = 0o640;
/// Mode of the CA directories and of private-key directories (Puppet's `private_keys/`).
pub(crate) const DIR_MODE: u32 = 0o750;

/// Paths of a CA directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
}

impl Layout {
    pub(crate) fn cert(&self) -> PathBuf {
        self.dir.join("ca_crt.pem")
    }
    pub(crate) fn key(&self) -> PathBuf {
        self.dir.join("ca_key.pem")
    }
    pub(crate) fn public_key(&self) -> PathBuf {
        self.dir.join("ca_pub.pem")
    }
    pub(crate) fn crl(&self) -> PathBuf {
        self.dir.join("ca_crl.pem")
    }
    pub(crate) fn infra_crl(&self) -> PathBuf {
        self.dir.join("infra_crl.pem")
    }
    pub(crate) fn infra_inventory(&self) -> PathBuf {
        self.dir.join("infra_inventory.txt")
    }
    pub(crate) fn infra_serials(&self) -> PathBuf {
        self.dir.join("infra_serials")
    }
    pub(crate) fn serial(&self) -> PathBuf {
        self.dir.join("serial")
    }
    pub(crate) fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.txt")
    }
    pub(crate) fn signed_dir(&self) -> PathBuf {
        self.dir.join("signed")
    }
    pub(crate) fn requests_dir(&self) -> PathBuf {
        self.dir.join("requests")
    }
    /// `signed/<certname>.pem`; the name must have been validated.
    pub(crate) fn signed(&self, certname: &str) -> PathBuf {
        self.signed_dir().join(format!("{certname}.pem"))
    }
    /// `requests/<certname>.pem`; the name must have been validated.
    pub(crate) fn request(&self, certname: &str) -> PathBuf {
        self.requests_dir().join(format!("{certname}.pem"))
    }
    /// The lock file that serialises every change (not a Puppetserver file; it ignores it).
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join(".puppet-ca.lock")
    }
}

/// Creates `dir` (and parents) with the CA directory mode, owned like its parent.
pub(crate) fn create_dir(dir: &Path) -> Result<(), CaError> {
    let existed = dir.is_dir();
    fs::create_dir_all(dir).map_err(|e| CaError::io(dir, e))?;
    if !existed {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
            .map_err(|e| CaError::io(dir, e))?;
        if let Some(parent) = dir.parent()
            && let Ok(m) = fs::metadata(parent)
        {
            let _ = std::os::unix::fs::chown(dir, Some(m.uid()), Some(m.gid()));
        }
    }
    Ok(())
}

/// The owner a file at `path` should have: the file's current owner, else its directory's.
/// A CA directory run by Puppetserver belongs to `puppet`; a `puppet-ca` run as root must
/// not leave root-owned files that Puppetserver can no longer read.
pub(crate) fn owner_for(path: &Path) -> Option<(u32, u32)> {
    let m = match fs::metadata(path) {
        Ok(m) => m,
        Err(_) => fs::metadata(path.parent()?).ok()?,
    };
    Some((m.uid(), m.gid()))
}

/// Prefix of the temporary files the CA writes before renaming them into place: short (a
/// 250-byte certname must not make a temp name longer than 255 bytes) and recognisable, so
/// that [`sweep_temp_files`] can remove those a crash left behind.
pub(crate) const TEMP_PREFIX: &str = ".puppet-ca.tmp.";

/// Writes `data` to `path` atomically: a temp file in the same directory (`tempfile`),
/// fsync, rename, fsync of the directory. Readers see the old or the new content, never a
/// part.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    write_renamed(path, data, mode)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Like [`write_atomic`] without the final fsync of the directory: the content is durable
/// (fsynced before the rename), the rename becomes durable at the next [`sync_dir`] of the
/// file's directory (one directory fsync can cover several renames).
pub(crate) fn write_renamed(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = write_temp(dir, data, mode, owner_for(path))?;
    // On error the temp file is removed when `persist`'s error drops it.
    tmp.persist(path).map_err(|e| CaError::io(path, e.error))?;
    Ok(())
}

/// Writes `data` to a new temp file ([`TEMP_PREFIX`]) in `dir` with `mode` (and `owner`,
/// when root) and fsyncs it: durable content, waiting to be renamed into place with
/// `persist`. Dropped unpersisted, it is removed.
pub(crate) fn write_temp(
    dir: &Path,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<tempfile::NamedTempFile, CaError> {
    let mut tmp = create_temp(dir, mode, owner)?;
    fill_temp(&mut tmp, data)?;
    Ok(tmp)
}

/// A new empty temp file ([`TEMP_PREFIX`]) in `dir` with `mode` (and `owner`, when root),
/// to be filled by [`fill_temp`]: the creation (the inode's allocation) apart from the
/// write, so that it can be done ahead, on another thread. Dropped, it is removed.
pub(crate) fn create_temp(
    dir: &Path,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<tempfile::NamedTempFile, CaError> {
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| CaError::io(dir, e))?;
    let f = tmp.as_file();
    // The umask may have narrowed the mode given at creation.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| CaError::io(tmp.path(), e))?;
    if let Some((uid, gid)) = owner {
        // Only root may give files away; for anyone else the file stays theirs.
        let _ = std::os::unix::fs::fchown(f, Some(uid), Some(gid));
    }
    Ok(tmp)
}

/// Writes `data` to a temp file made by [`create_temp`] and fsyncs it.
pub(crate) fn fill_temp(tmp: &mut tempfile::NamedTempFile, data: &[u8]) -> Result<(), CaError> {
    let f = tmp.as_file_mut();
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| CaError::io(tmp.path(), e))
}

/// Appends `line` to `path` (created with `mode` if absent) in one write, then fsyncs the
/// file: how Puppetserver adds to `inventory.txt`, without rewriting what is there.
pub(crate) fn append_line(path: &Path, line: &str, mode: u32) -> Result<(), CaError> {
    let owner = (!path.exists()).then(|| owner_for(path)).flatten();
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
        .map_err(|e| CaError::io(path, e))?;
    if let Some((uid, gid)) = owner {
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
    }
    f.write_all(line.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| CaError::io(path, e))
}

/// How old a temp file must be before [`sweep_temp_files`] takes it for a crash's leftover:
/// certificates are written to their temp files outside the CA lock (in parallel, by the
/// threads that signed them), so a young one may be in use.
pub(crate) const TEMP_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the temp files ([`TEMP_PREFIX`]) a crash left in `dir`, those not modified for
/// `grace`; returns how many. Runs under the CA lock.
pub(crate) fn sweep_temp_files(dir: &Path, grace: std::time::Duration) -> Result<usize, CaError> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(CaError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| CaError::io(dir, e))?;
        let name = entry.file_name();
        let old = || {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= grace))
        };
        if name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX))
            && entry.file_type().is_ok_and(|t| t.is_file())
            && old()
        {
            remove_unsynced(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Makes the renames and removals done in `dir` durable (fsync of the directory).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CaError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CaError::io(dir, e))
}

/// Removes a file without syncing its directory (absent is fine): for removals whose loss
/// in a crash is harmless.
pub(crate) fn remove_unsynced(path: &Path) -> Result<bool, CaError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CaError::io(path, e)),
    }
}

/// Removes a file; absent is fine. Syncs the directory.
pub(crate) fn remove(path: &Path) -> Result<bool, CaError> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| CaError::io(dir, e))?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CaError::io(path, e)),
    }
}

/// Reads a file; `None` when absent.
pub(crate) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, CaError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CaError::io(path, e)),
    }
}

/// Reads a text file; `None` when absent.
pub(crate) fn read_string_opt(path: &Path) -> Result<Option<String>, CaError> {
    read_opt(path)?
        .map(|b| {
            String::from_utf8(b)
                .map_err(|_| CaError::malformed(path.display().to_string(), "not UTF-8"))
        })
        .transpose()
}

/// An exclusive lock on the CA directory (flock on `.puppet-ca.lock`), held until dropped.
/// flock locks belong to the open file, so this excludes other threads as well as processes.
pub(crate) struct CaLock {
    _file: File,
}

impl CaLock {
    pub(crate) fn acquire(layout: &Layout) -> Result<Self, CaError> {
        let path = layout.lock();
        let owner = (!path.exists()).then(|| owner_for(&path)).flatten();
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE_MODE)
            .open(&path);
        // flock works on a read-only descriptor too (a lock file made by another user).
        let file = match opened {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => File::open(&path),
            other => other,
        }
        .map_err(|e| CaError::io(&path, e))?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
        }
        fs4::fs_std::FileExt::lock_exclusive(&file).map_err(|e| CaError::io(&path, e))?;
        Ok(CaLock { _file: file })
    }
}

/// Parses the `serial` file: hexadecimal (Puppetserver writes `%04X`, no newline).
pub(crate) fn parse_serial(path: &Path, text: &str) -> Result<u64, CaError> {
    let t = text.trim();
    let bad = |reason: &str| CaError::CorruptSerial {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(&format!("{t:?} is not hexadecimal")));
    }
    let n = u64::from_str_radix(t, 16).map_err(|_| bad("too large"))?;
    if n == 0 {
        return Err(bad("serial 0 is not a valid certificate serial"));
    }
    Ok(n)
}

/// The `serial` file's content for the next serial `n`: `%04X`, as Puppetserver.
pub(crate) fn format_serial(n: u64) -> String {
    format!("{n:04X}")
}

/// One `inventory.txt` line: `0x0004 2026-11-21T17:47:34UTC 2031-11-21T17:47:34UTC /CN=name`.
pub(crate) fn inventory_line(
    serial: u64,
    not_before: &str,
    not_after: &str,
    subject: &str,
) -> String {
    format!("0x{serial:04X} {not_before} {not_after} /CN={subject}\n")
}

/// The serials `inventory.txt` holds for `/CN=<certname>` (every line checked).
pub(crate) fn inventory_serials_of(
    path: &Path,
    text: &str,
    certname: &str,
) -> Result<Vec<u64>, CaError> {
    let subject = format!("/CN={certname}");
    let serials = parse_inventory(path, text)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .zip(serials)
        .filter(|(line, _)| line.splitn(4, ' ').nth(3) == Some(subject.as_str()))
        .map(|(_, serial)| serial)
        .collect())
}

/// Checks every line of an inventory and returns the serials in it.
pub(crate) fn parse_inventory(path: &Path, text: &str) -> Result<Vec<u64>, CaError> {
    let mut serials = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| CaError::CorruptInventory {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let mut parts = line.splitn(4, ' ');
        let (Some(serial), Some(nb), Some(na), Some(subject)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(format!("{line:?} does not have four fields")));
        };
        let hex = serial
            .strip_prefix("0x")
            .ok_or_else(|| bad(format!("serial {serial:?} does not start with 0x")))?;
        let n = u64::from_str_radix(hex, 16)
            .map_err(|_| bad(format!("serial {serial:?} is not hexadecimal")))?;
        for t in [nb, na] {
            if t.len() != 22 || !t.ends_with("UTC") || t.as_bytes()[10] != b'T' {
                return Err(bad(format!("time {t:?} is not YYYY-MM-DDTHH:MM:SSUTC")));
            }
        }
        if !subject.starts_with('/') {
            return Err(bad(format!("subject {subject:?} does not start with /")));
        }
        serials.push(n);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(CaError::CorruptInventory {
            path: path.to_path_buf(),
            line: text.lines().count(),
            reason: "last line is not terminated (partial write?)".into(),
        });
    }
    Ok(serials)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_format_matches_puppetserver() {
        assert_eq!(format_serial(4), "0004");
        assert_eq!(format_serial(0xC), "000C");
        assert_eq!(format_serial(0x12345), "12345");
        assert_eq!(parse_serial(Path::new("serial"), "000C").ok(), Some(12));
        assert_eq!(parse_serial(Path::new("serial"), "000c\n").ok(), Some(12));
        for bad in ["", "xyz", "0", "-1", "1 2", "FFFFFFFFFFFFFFFFF"] {
            assert!(
                matches!(
                    parse_serial(Path::new("serial"), bad),
                    Err(CaError::CorruptSerial { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn inventory_lines() {
        let line = inventory_line(
            10,
            "2026-11-21T17:53:42UTC",
            "2031-11-21T17:53:42UTC",
            "manual6.example.org",
        );
        assert_eq!(
            line,
            "0x000A 2026-11-21T17:53:42UTC 2031-11-21T17:53:42UTC /CN=manual6.example.org\n"
        );
        let text = format!(
            "0x0001 2026-11-21T17:44:14UTC 2031-11-21T17:44:14UTC /CN=Puppet CA: puppet.example.test\n{line}"
        );
        assert_eq!(
            parse_inventory(Path::new("inventory.txt"), &text).ok(),
            Some(vec![1, 10])
        );
        let err = parse_inventory(Path::new("inventory.txt"), "0x0001 garbage\n");
        assert!(matches!(
            err,
            Err(CaError::CorruptInventory { line: 1, .. })
        ));
        let partial = parse_inventory(Path::new("inventory.txt"), &line[..30]);
        assert!(matches!(partial, Err(CaError::CorruptInventory { .. })));
    }

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca_key.pem");
        write_atomic(&p, b"one", KEY_MODE).unwrap();
        write_atomic(&p, b"two", KEY_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_250_byte_name_fits_beside_its_temp_file() {
        // Regression: the temp file was `.<name>.tmp.<pid>`, over 255 bytes for such a name.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{}.pem", "a".repeat(250)));
        write_atomic(&p, b"cert", PUBLIC_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"cert");
    }

    #[test]
    fn orphaned_temp_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("{TEMP_PREFIX}abc123")), b"half").unwrap();
        fs::write(dir.path().join("keep.pem"), b"x").unwrap();
        assert_eq!(
            sweep_temp_files(dir.path(), TEMP_GRACE).unwrap(),
            0,
            "a young temp file may be a certificate being written"
        );
        assert_eq!(
            sweep_temp_files(dir.path(), std::time::Duration::ZERO).unwrap(),
            1
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["keep.pem"]);
    }

    #[test]
    fn append_adds_a_line_without_rewriting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("inventory.txt");
        append_line(&p, "one\n", PRIVATE_MODE).unwrap();
        append_line(&p, "two\n", PRIVATE_MODE).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}
