//! `processors`: count, models, physicalcount, speed, cores, threads, isa.
//!
//! Sources: `/proc/cpuinfo` (`processor`, `model name`/`cpu`, `physical id`, `cpu MHz`/`clock`),
//! `/sys/devices/system/cpu/cpu<N>/topology/{physical_package_id,core_id}` (cores per socket
//! and threads per core, as `lscpu` computes them), `uname(2)` `machine` (`isa`; Debian's
//! `uname -p` says `unknown`).

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::{Sources, System, ruby, s};
use crate::FactsError;

/// What facter reads from `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    /// Lines keyed `processor`.
    pub count: usize,
    /// `model name` (x86) or `cpu` (ppc) values, in file order.
    pub models: Vec<String>,
    /// Distinct `physical id` values.
    pub physical_ids: usize,
    /// Speed in Hz from the last `cpu MHz` (integer part) or `clock: NNNMHz` line.
    pub speed_hz: Option<u64>,
}

/// Parses `/proc/cpuinfo`.
/// ```
/// use puppet_facts::collect::processors::parse_cpuinfo;
/// let c = parse_cpuinfo("processor\t: 0\nmodel name\t: AMD EPYC\nphysical id\t: 0\ncpu MHz\t\t: 2596.1\n");
/// assert_eq!((c.count, c.models.len(), c.physical_ids, c.speed_hz), (1, 1, 1, Some(2_596_000_000)));
/// ```
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut ids = HashSet::new();
    for line in text.lines() {
        let Some((key, _)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = line.rsplit(':').next().unwrap_or("").trim();
        match key {
            "processor" => info.count += 1,
            "model name" | "cpu" => info.models.push(value.to_string()),
            "physical id" => {
                ids.insert(leading_int(value));
            }
            "cpu MHz" => info.speed_hz = Some(leading_int(value) * 1_000_000),
            "clock" => {
                if let Some(mhz) = value.strip_suffix("MHz") {
                    info.speed_hz = Some(leading_int(mhz) * 1_000_000);
                }
            }
            _ => {}
        }
    }
    info.physical_ids = ids.len();
    info
}

fn leading_int(text: &str) -> u64 {
    let digits: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap_or(0)
}

/// Topology from sysfs: `(packages, cores per socket, threads per core)`.
pub fn topology(sources: &Sources) -> Option<(usize, u64, u64)> {
    let names = sources.list("/sys/devices/system/cpu").ok()??;
    let mut cpus = 0u64;
    let mut cores = BTreeSet::new();
    let mut packages = BTreeSet::new();
    for name in names {
        let Some(n) = name.strip_prefix("cpu") else {
            continue;
        };
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let base = format!("/sys/devices/system/cpu/{name}/topology");
        let Some(package) = sources.attr(&format!("{base}/physical_package_id")) else {
            continue;
        };
        let core = sources.attr(&format!("{base}/core_id")).unwrap_or_default();
        cpus += 1;
        cores.insert((package.clone(), core));
        packages.insert(package);
    }
    if cpus == 0 {
        return None;
    }
    let ncores = cores.len() as u64;
    let nsockets = packages.len() as u64;
    Some((
        packages.len(),
        ncores / nsockets.max(1),
        cpus / ncores.max(1),
    ))
}

/// Collects `processors`.
pub fn collect(
    sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let mut p = Map::new();
    let topo = topology(sources);
    if let Some((_, cores, threads)) = topo {
        p.insert("cores".into(), Value::from(cores));
        p.insert("threads".into(), Value::from(threads));
    }
    if let Some(uname) = system.uname() {
        let isa = if sources.exists("/etc/debian_version") {
            "unknown".to_string()
        } else {
            uname.machine.rsplit('.').next().unwrap_or("").to_string()
        };
        p.insert("isa".into(), s(isa));
    }
    let result = match sources.read_for("processors", "/proc/cpuinfo") {
        Ok(Some(text)) => {
            let info = parse_cpuinfo(&text);
            p.insert("count".into(), Value::from(info.count));
            p.insert(
                "models".into(),
                Value::Array(info.models.iter().map(|m| s(m.clone())).collect()),
            );
            let physical = if info.physical_ids > 0 {
                info.physical_ids
            } else {
                topo.map(|t| t.0).unwrap_or(0)
            };
            p.insert("physicalcount".into(), Value::from(physical));
            if let Some(speed) = info.speed_hz.and_then(ruby::hertz_to_human_readable) {
                p.insert("speed".into(), s(speed));
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if !p.is_empty() {
        facts.insert("processors".into(), Value::Object(p));
    }
    result
}
