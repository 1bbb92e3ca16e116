//! Dotted queries as `facter QUERY...` answers them.
//!
//! A query names a fact when a fact facter knows (core, legacy or external) is the query or
//! one of its `.`-prefixes; its value is then dug out along the tokens (all-digit tokens index
//! arrays). Three outcomes, as in facter: no fact matches → `null`; a fact matches but has no
//! value on this machine (`memory.swap` without swap) → the key is left out; a fact matches
//! but the dig fails (`os.foo`) → `null`.

use serde_json::{Map, Value};

use super::Collection;

/// The fact names facter 4.3 resolves on Linux (core dotted names and legacy names;
/// `*` stands for the rest of a name).
pub const KNOWN_FACTS: &[&str] = &[
    "aio_agent_version",
    "augeas.version",
    "az_metadata",
    "cloud.provider",
    "dhcp_servers",
    "disks",
    "dmi.bios.release_date",
    "dmi.bios.vendor",
    "dmi.bios.version",
    "dmi.board.asset_tag",
    "dmi.board.manufacturer",
    "dmi.board.product",
    "dmi.board.serial_number",
    "dmi.chassis.asset_tag",
    "dmi.chassis.type",
    "dmi.manufacturer",
    "dmi.product.name",
    "dmi.product.serial_number",
    "dmi.product.uuid",
    "ec2_metadata",
    "ec2_userdata",
    "facterversion",
    "filesystems",
    "fips_enabled",
    "gce",
    "hypervisors.docker",
    "hypervisors.hyperv",
    "hypervisors.kvm",
    "hypervisors.lxc",
    "hypervisors.openvz",
    "hypervisors.systemd_nspawn",
    "hypervisors.virtualbox",
    "hypervisors.vmware",
    "hypervisors.xen",
    "identity.gid",
    "identity.group",
    "identity.privileged",
    "identity.uid",
    "identity.user",
    "is_virtual",
    "kernel",
    "kernelmajversion",
    "kernelrelease",
    "kernelversion",
    "load_averages",
    "memory.swap.available",
    "memory.swap.available_bytes",
    "memory.swap.capacity",
    "memory.swap.total",
    "memory.swap.total_bytes",
    "memory.swap.used",
    "memory.swap.used_bytes",
    "memory.system.available",
    "memory.system.available_bytes",
    "memory.system.capacity",
    "memory.system.total",
    "memory.system.total_bytes",
    "memory.system.used",
    "memory.system.used_bytes",
    "mountpoints",
    "networking.dhcp",
    "networking.domain",
    "networking.fqdn",
    "networking.hostname",
    "networking.interfaces",
    "networking.ip",
    "networking.ip6",
    "networking.mac",
    "networking.mtu",
    "networking.netmask",
    "networking.netmask6",
    "networking.network",
    "networking.network6",
    "networking.primary",
    "networking.scope6",
    "os.architecture",
    "os.distro.codename",
    "os.distro.description",
    "os.distro.id",
    "os.distro.release",
    "os.distro.specification",
    "os.family",
    "os.hardware",
    "os.name",
    "os.release",
    "os.selinux.config_mode",
    "os.selinux.config_policy",
    "os.selinux.current_mode",
    "os.selinux.enabled",
    "os.selinux.enforced",
    "os.selinux.policy_version",
    "partitions",
    "path",
    "processors.cores",
    "processors.count",
    "processors.isa",
    "processors.models",
    "processors.physicalcount",
    "processors.speed",
    "processors.threads",
    "ruby.platform",
    "ruby.sitedir",
    "ruby.version",
    "ssh",
    "system_uptime.days",
    "system_uptime.hours",
    "system_uptime.seconds",
    "system_uptime.uptime",
    "timezone",
    "virtual",
    "xen",
    // legacy
    "architecture",
    "augeasversion",
    "bios_release_date",
    "bios_vendor",
    "bios_version",
    "blockdevices",
    "boardassettag",
    "boardmanufacturer",
    "boardproductname",
    "boardserialnumber",
    "chassisassettag",
    "chassistype",
    "domain",
    "fqdn",
    "gid",
    "hardwareisa",
    "hardwaremodel",
    "hostname",
    "id",
    "interfaces",
    "ipaddress",
    "ipaddress6",
    "lsbdistcodename",
    "lsbdistdescription",
    "lsbdistid",
    "lsbdistrelease",
    "lsbmajdistrelease",
    "lsbminordistrelease",
    "lsbrelease",
    "macaddress",
    "manufacturer",
    "memoryfree",
    "memoryfree_mb",
    "memorysize",
    "memorysize_mb",
    "netmask",
    "netmask6",
    "network",
    "network6",
    "operatingsystem",
    "operatingsystemmajrelease",
    "operatingsystemrelease",
    "osfamily",
    "physicalprocessorcount",
    "processorcount",
    "productname",
    "rubyplatform",
    "rubysitedir",
    "rubyversion",
    "scope6",
    "selinux",
    "selinux_config_mode",
    "selinux_config_policy",
    "selinux_current_mode",
    "selinux_enforced",
    "selinux_policyversion",
    "serialnumber",
    "swapfree",
    "swapfree_mb",
    "swapsize",
    "swapsize_mb",
    "uptime",
    "uptime_days",
    "uptime_hours",
    "uptime_seconds",
    "uuid",
    "xendomains",
    "blockdevice_*_model",
    "blockdevice_*_size",
    "blockdevice_*_vendor",
    "ipaddress6_*",
    "ipaddress_*",
    "macaddress_*",
    "mtu_*",
    "netmask6_*",
    "netmask_*",
    "network6_*",
    "network_*",
    "processor*",
    "scope6_*",
    "ssh*key",
    "sshfp_*",
];

fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() > head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        }
    }
}

/// Whether a fact named like `prefix` exists: a known name equal to it or starting with
/// `prefix.`, or a wildcard legacy name matching it.
fn names_a_fact(prefix: &str, external: &Map<String, Value>) -> bool {
    if external.contains_key(prefix) {
        return true;
    }
    KNOWN_FACTS.iter().any(|known| {
        if known.contains('*') {
            !prefix.contains('.') && pattern_matches(known, prefix)
        } else {
            *known == prefix
                || (known.len() > prefix.len()
                    && known.starts_with(prefix)
                    && known.as_bytes()[prefix.len()] == b'.')
        }
    })
}

/// Digs a value out of the tree along tokens (all-digit tokens index arrays).
pub fn dig<'a>(tree: &'a Map<String, Value>, tokens: &[&str]) -> Option<&'a Value> {
    let (first, rest) = tokens.split_first()?;
    let mut v = tree.get(*first)?;
    for t in rest {
        v = match v {
            Value::Object(m) => m.get(*t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Answers each query: the map holds the query strings (sorted) whose facts exist, with
/// `null` for queries no fact matches or whose value cannot be dug out.
pub fn answer(collection: &Collection, queries: &[String]) -> Map<String, Value> {
    let tree = collection.facts(true);
    let mut out = Map::new();
    let mut sorted: Vec<&String> = queries.iter().collect();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    sorted.dedup();
    for q in sorted {
        if let Some(v) = tree.get(q.as_str()) {
            out.insert(q.clone(), v.clone());
            continue;
        }
        let tokens: Vec<&str> = q.split('.').collect();
        let matched = (1..=tokens.len())
            .rev()
            .find(|&n| names_a_fact(&tokens[..n].join("."), &collection.external));
        match matched {
            None => {
                out.insert(q.clone(), Value::Null);
            }
            Some(n) => {
                if dig(&tree, &tokens[..n]).is_none_or(Value::is_null) {
                    continue; // the fact exists but has no value here: left out
                }
                out.insert(
                    q.clone(),
                    dig(&tree, &tokens).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    out
}
