//! `disks` and `partitions`.
//!
//! Sources: `/sys/block/<dev>/{size,device/model,device/vendor,queue/rotational}`, the udev
//! database `/run/udev/data/b<major>:<minor>` (`ID_SERIAL_SHORT`, `ID_WWN`, `ID_FS_TYPE`,
//! `ID_FS_UUID`, `ID_FS_LABEL`, `ID_PART_ENTRY_UUID`, `ID_PART_ENTRY_NAME`: what `lsblk` and
//! `blkid` report, readable without root), `/sys/block/<dev>/<part>/size`,
//! `/sys/block/<dm>/dm/name`, `/sys/block/<loop>/loop/backing_file`, `/proc/self/mounts`
//! (a partition's mount point).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::{Sources, System, mountpoints, ruby, s};
use crate::FactsError;

/// The `E:KEY=value` properties of a udev database entry.
pub fn parse_udev(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn udev(sources: &Sources, sys_path: &str) -> HashMap<String, String> {
    sources
        .attr(&format!("{sys_path}/dev"))
        .and_then(|dev| {
            sources
                .read(&format!("/run/udev/data/b{dev}"))
                .ok()
                .flatten()
        })
        .map(|t| parse_udev(&t))
        .unwrap_or_default()
}

/// Collects `disks`.
pub fn collect(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let names = sources
        .list("/sys/block")
        .map_err(|e| super::source_error("disks", "/sys/block", &e))?;
    let Some(names) = names else {
        return Ok(());
    };
    let mut disks = Map::new();
    for name in names {
        let base = format!("/sys/block/{name}");
        if !sources.exists(&format!("{base}/device")) {
            continue;
        }
        let read = |f: &str| {
            sources
                .read(&format!("{base}/{f}"))
                .ok()
                .flatten()
                .map(|t| t.trim().to_string())
        };
        let mut d = Map::new();
        if let Some(model) = read("device/model") {
            d.insert("model".into(), s(model));
        }
        if let Some(size) = read("size").and_then(|v| v.parse::<u64>().ok()) {
            let bytes = size.saturating_mul(512);
            d.insert("size_bytes".into(), Value::from(bytes));
            d.insert("size".into(), s(ruby::bytes_to_human_readable(bytes)));
        }
        if let Some(vendor) = read("device/vendor") {
            d.insert("vendor".into(), s(vendor));
        }
        if let Some(rot) = read("queue/rotational") {
            d.insert("type".into(), s(if rot == "0" { "ssd" } else { "hdd" }));
        }
        let props = udev(sources, &base);
        if let Some(serial) = props
            .get("ID_SERIAL_SHORT")
            .cloned()
            .or_else(|| read("device/serial").filter(|v| !v.is_empty()))
        {
            d.insert("serial".into(), s(serial));
        }
        if let Some(wwn) = props
            .get("ID_WWN_WITH_EXTENSION")
            .or_else(|| props.get("ID_WWN"))
        {
            d.insert("wwn".into(), s(wwn.clone()));
        }
        disks.insert(name, Value::Object(d));
    }
    if !disks.is_empty() {
        facts.insert("disks".into(), Value::Object(disks));
    }
    Ok(())
}

/// Directories (or links to directories) under `dir`, recursively without following links,
/// whose name contains `needle` (facter's `Dir["dir/**/*"]` filter).
fn partition_dirs(dir: &Path, needle: &str, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
        if is_dir && entry.file_name().to_string_lossy().contains(needle) {
            out.push(path.clone());
        }
        if kind.is_dir() && depth < 8 {
            partition_dirs(&path, needle, depth + 1, out);
        }
    }
}

/// Collects `partitions`.
pub fn collect_partitions(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let names = sources
        .list("/sys/block")
        .map_err(|e| super::source_error("partitions", "/sys/block", &e))?;
    let Some(names) = names else {
        return Ok(());
    };
    let mut parts = Map::new();
    let root = sources.path("/");
    for name in names {
        let base = format!("/sys/block/{name}");
        let mut found: Vec<(String, String, Option<String>)> = Vec::new();
        if sources.is_dir(&format!("{base}/device")) {
            let mut dirs = Vec::new();
            partition_dirs(&sources.path(&base), &name, 0, &mut dirs);
            for dir in dirs {
                let part = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let rel = format!(
                    "/{}",
                    dir.strip_prefix(&root).unwrap_or(&dir).to_string_lossy()
                );
                found.push((format!("/dev/{part}"), rel, None));
            }
        } else if sources.is_dir(&format!("{base}/dm")) {
            let map = sources.attr(&format!("{base}/dm/name")).unwrap_or_default();
            let dev = if map.is_empty() {
                format!("/dev/{name}")
            } else {
                format!("/dev/mapper/{map}")
            };
            found.push((dev, base.clone(), None));
        } else if sources.is_dir(&format!("{base}/loop")) {
            let backing = sources.attr(&format!("{base}/loop/backing_file"));
            found.push((format!("/dev/{name}"), base.clone(), backing));
        }
        for (dev, path, backing) in found {
            let mut p = Map::new();
            let bytes = sources
                .attr(&format!("{path}/size"))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                .saturating_mul(512);
            p.insert("size_bytes".into(), Value::from(bytes));
            p.insert("size".into(), s(ruby::bytes_to_human_readable(bytes)));
            if let Some(b) = backing {
                p.insert("backing_file".into(), s(b));
            }
            let props = udev(sources, &path);
            for (key, prop) in [
                ("filesystem", "ID_FS_TYPE"),
                ("uuid", "ID_FS_UUID"),
                ("label", "ID_FS_LABEL"),
                ("partuuid", "ID_PART_ENTRY_UUID"),
                ("partlabel", "ID_PART_ENTRY_NAME"),
            ] {
                if let Some(v) = props.get(prop).filter(|v| !v.is_empty()) {
                    p.insert(key.into(), s(v.clone()));
                }
            }
            parts.insert(dev, Value::Object(p));
        }
    }
    if let Ok(Some(mounts)) = mountpoints::read_mounts(sources, "partitions") {
        // facter walks the mounts in reverse, so the first mount of a device wins.
        for m in mounts.iter().rev() {
            if let Some(Value::Object(p)) = parts.get_mut(&m.device) {
                p.insert("mount".into(), s(m.path.clone()));
            }
        }
    }
    if !parts.is_empty() {
        facts.insert("partitions".into(), Value::Object(parts));
    }
    Ok(())
}
