//! `memory.system` and `memory.swap`.
//!
//! Source: `/proc/meminfo` (`MemTotal`, `MemAvailable` or `MemFree + Buffers + Cached`,
//! `SwapTotal`, `SwapFree`; kB × 1024).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Sources, System, ruby, s};
use crate::FactsError;

/// Byte counts read from `/proc/meminfo`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable`, else `MemFree + Buffers + Cached`.
    pub available: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// Parses `/proc/meminfo`; `None` without `MemTotal`.
/// ```
/// use puppet_facts::collect::memory::parse_meminfo;
/// let m = parse_meminfo("MemTotal: 1024 kB\nMemAvailable: 512 kB\nSwapTotal: 0 kB\n").unwrap();
/// assert_eq!((m.total, m.available, m.swap_total), (1048576, 524288, 0));
/// ```
pub fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let values: HashMap<&str, u64> = text
        .lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            let kb: u64 = v.split_whitespace().next()?.parse().ok()?;
            Some((k.trim(), kb.saturating_mul(1024)))
        })
        .collect();
    let get = |k: &str| values.get(k).copied().unwrap_or(0);
    let total = *values.get("MemTotal")?;
    let available = values
        .get("MemAvailable")
        .copied()
        .unwrap_or_else(|| get("MemFree") + get("Buffers") + get("Cached"));
    Some(MemInfo {
        total,
        available,
        swap_total: get("SwapTotal"),
        swap_free: get("SwapFree"),
    })
}

/// One of facter's memory hashes: `available`, `available_bytes`, `capacity`, `total`,
/// `total_bytes`, `used`, `used_bytes`.
pub fn stats(total: u64, available: u64) -> Value {
    let used = total.saturating_sub(available);
    let mut m = Map::new();
    m.insert(
        "available".into(),
        s(ruby::bytes_to_human_readable(available)),
    );
    m.insert("available_bytes".into(), Value::from(available));
    let capacity = if total == 0 {
        "NaN".to_string()
    } else {
        ruby::format_fixed(used as f64 / total as f64 * 100.0, 2)
    };
    m.insert("capacity".into(), s(format!("{capacity}%")));
    m.insert("total".into(), s(ruby::bytes_to_human_readable(total)));
    m.insert("total_bytes".into(), Value::from(total));
    m.insert("used".into(), s(ruby::bytes_to_human_readable(used)));
    m.insert("used_bytes".into(), Value::from(used));
    Value::Object(m)
}

/// Collects `memory`.
pub fn collect(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let Some(text) = sources.read_for("memory", "/proc/meminfo")? else {
        return Ok(());
    };
    let Some(info) = parse_meminfo(&text) else {
        return Err(super::source_error(
            "memory",
            "/proc/meminfo",
            &"no MemTotal line",
        ));
    };
    let mut memory = Map::new();
    memory.insert("system".into(), stats(info.total, info.available));
    if info.swap_total > 0 {
        memory.insert("swap".into(), stats(info.swap_total, info.swap_free));
    }
    facts.insert("memory".into(), Value::Object(memory));
    Ok(())
}
