//! `mountpoints` and `filesystems`.
//!
//! Sources: `/proc/self/mounts` (what `getmntent(3)` on `/etc/mtab` reads, octal escapes
//! decoded), `statvfs(3)` of each mount point, `/proc/cmdline` (`root=` for `/dev/root`),
//! `/dev/disk/by-partuuid`, `/dev/disk/by-uuid`, `/dev/disk/by-label` (a `root=UUID=...` value);
//! `/proc/filesystems`.

use serde_json::{Map, Value};

use super::{FsStats, Sources, System, ruby, s};
use crate::FactsError;

/// One mount table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `mnt_fsname`.
    pub device: String,
    /// `mnt_dir`.
    pub path: String,
    /// `mnt_type`.
    pub filesystem: String,
    /// `mnt_opts` split on `,`.
    pub options: Vec<String>,
}

/// Decodes `getmntent`'s octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a mount table (`/proc/self/mounts` format).
/// ```
/// use puppet_facts::collect::mountpoints::parse_mounts;
/// let m = parse_mounts("/dev/sda1 /srv/my\\040disk ext4 rw,relatime 0 0\n");
/// assert_eq!(m[0].path, "/srv/my disk");
/// assert_eq!(m[0].options, ["rw", "relatime"]);
/// ```
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let device = unescape(f.next()?);
            let path = unescape(f.next()?);
            let filesystem = unescape(f.next()?);
            let options = unescape(f.next().unwrap_or(""))
                .split(',')
                .map(|o| o.trim().to_string())
                .collect();
            Some(Mount {
                device,
                path,
                filesystem,
                options,
            })
        })
        .collect()
}

/// Whether facter lists a mount: not under `/proc` or `/sys` (a prefix match) unless `tmpfs`,
/// never `autofs`.
pub fn listed(m: &Mount) -> bool {
    let hidden = m.path.starts_with("/proc") || m.path.starts_with("/sys");
    (!hidden || m.filesystem == "tmpfs") && m.filesystem != "autofs"
}

/// facter's mount-point `capacity`: `100%` when nothing is available (0/0 included), `%.2f%%`
/// when something is used, else `0%`.
/// ```
/// use puppet_facts::collect::mountpoints::capacity;
/// assert_eq!(capacity(0, 0), "100%");
/// assert_eq!(capacity(0, 10), "0%");
/// assert_eq!(capacity(1, 3), "25.00%");
/// ```
pub fn capacity(used: u64, available: u64) -> String {
    if used == used.saturating_add(available) {
        "100%".into()
    } else if used > 0 {
        format!(
            "{}%",
            ruby::format_fixed(used as f64 / (used + available) as f64 * 100.0, 2)
        )
    } else {
        "0%".into()
    }
}

/// The device `/dev/root` stands for: `root=` of the kernel command line, a `UUID=`,
/// `PARTUUID=` or `LABEL=` value resolved through `/dev/disk/by-*`.
fn root_device(sources: &Sources) -> Option<String> {
    let cmdline = sources.read("/proc/cmdline").ok()??;
    let root = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("root="))?
        .to_string();
    for (prefix, dir) in [
        ("PARTUUID=", "by-partuuid"),
        ("UUID=", "by-uuid"),
        ("LABEL=", "by-label"),
    ] {
        if let Some(id) = root.strip_prefix(prefix) {
            let link = sources.path(&format!("/dev/disk/{dir}/{id}"));
            let target = std::fs::canonicalize(link).ok()?;
            return Some(target.to_string_lossy().into_owned());
        }
    }
    Some(root)
}

/// The `mountpoints` hash from parsed mounts and a `statvfs` function.
pub fn mountpoints(
    mounts: &[Mount],
    root_device: impl Fn() -> Option<String>,
    stat: impl Fn(&str) -> Option<FsStats>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut root = None;
    for m in mounts.iter().filter(|m| listed(m)) {
        let device = if m.device == "/dev/root" {
            root.get_or_insert_with(&root_device)
                .clone()
                .unwrap_or_else(|| m.device.clone())
        } else {
            m.device.clone()
        };
        let st = stat(&m.path).unwrap_or(FsStats {
            size: 0,
            available: 0,
            used: 0,
        });
        let mut e = Map::new();
        e.insert(
            "available".into(),
            s(ruby::bytes_to_human_readable(st.available)),
        );
        e.insert("available_bytes".into(), Value::from(st.available));
        e.insert("capacity".into(), s(capacity(st.used, st.available)));
        e.insert("device".into(), s(device));
        e.insert("filesystem".into(), s(m.filesystem.clone()));
        e.insert(
            "options".into(),
            Value::Array(m.options.iter().map(|o| s(o.clone())).collect()),
        );
        e.insert("size".into(), s(ruby::bytes_to_human_readable(st.size)));
        e.insert("size_bytes".into(), Value::from(st.size));
        e.insert("used".into(), s(ruby::bytes_to_human_readable(st.used)));
        e.insert("used_bytes".into(), Value::from(st.used));
        out.insert(m.path.clone(), Value::Object(e));
    }
    out
}

/// Reads the mount table.
pub fn read_mounts(
    sources: &Sources,
    family: &'static str,
) -> Result<Option<Vec<Mount>>, FactsError> {
    Ok(sources
        .read_for(family, "/proc/self/mounts")?
        .map(|t| parse_mounts(&t)))
}

/// Collects `mountpoints`.
pub fn collect(
    sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let Some(mounts) = read_mounts(sources, "mountpoints")? else {
        return Ok(());
    };
    let map = mountpoints(
        &mounts,
        || root_device(sources),
        |path| system.statvfs(&sources.path(path)),
    );
    if !map.is_empty() {
        facts.insert("mountpoints".into(), Value::Object(map));
    }
    Ok(())
}

/// `filesystems` from `/proc/filesystems`: lines with one word (not `nodev`), minus
/// `fuseblk`, sorted, joined by `,`.
pub fn parse_filesystems(text: &str) -> String {
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let first = w.next()?;
            w.next().is_none().then_some(first)
        })
        .filter(|n| *n != "fuseblk")
        .collect();
    names.sort_unstable();
    names.join(",")
}

/// Collects `filesystems`.
pub fn collect_filesystems(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    if let Some(text) = sources.read_for("filesystems", "/proc/filesystems")? {
        facts.insert("filesystems".into(), s(parse_filesystems(&text)));
    }
    Ok(())
}
