//! The legacy flat facts facter 4 still answers to (`ipaddress`, `osfamily`,
//! `memorysize_mb`, `processor0`, `blockdevice_sda_size`, ...), derived from the core facts,
//! plus `lsbdist*` (Debian's `lsb_release -a` reads `/etc/os-release`).

use serde_json::{Map, Value};

use super::{Sources, os, ruby, s};

fn dig<'a>(facts: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = facts.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    (!v.is_null()).then_some(v)
}

/// Every legacy fact the core facts imply.
pub fn derive(core: &Map<String, Value>, sources: &Sources) -> Map<String, Value> {
    let mut out = Map::new();
    let mut alias = |name: &str, path: &str| {
        if let Some(v) = dig(core, path) {
            out.insert(name.to_string(), v.clone());
        }
    };
    for (name, path) in [
        ("architecture", "os.architecture"),
        ("hardwaremodel", "os.hardware"),
        ("hardwareisa", "processors.isa"),
        ("operatingsystem", "os.name"),
        ("osfamily", "os.family"),
        ("operatingsystemrelease", "os.release.full"),
        ("operatingsystemmajrelease", "os.release.major"),
        ("lsbdistrelease", "os.distro.release.full"),
        ("lsbmajdistrelease", "os.distro.release.major"),
        ("lsbminordistrelease", "os.distro.release.minor"),
        ("lsbrelease", "os.distro.specification"),
        ("selinux", "os.selinux.enabled"),
        ("selinux_enforced", "os.selinux.enforced"),
        ("selinux_current_mode", "os.selinux.current_mode"),
        ("selinux_policyversion", "os.selinux.policy_version"),
        ("selinux_config_mode", "os.selinux.config_mode"),
        ("selinux_config_policy", "os.selinux.config_policy"),
        ("memorysize", "memory.system.total"),
        ("memoryfree", "memory.system.available"),
        ("swapsize", "memory.swap.total"),
        ("swapfree", "memory.swap.available"),
        ("processorcount", "processors.count"),
        ("physicalprocessorcount", "processors.physicalcount"),
        ("fqdn", "networking.fqdn"),
        ("hostname", "networking.hostname"),
        ("domain", "networking.domain"),
        ("ipaddress", "networking.ip"),
        ("ipaddress6", "networking.ip6"),
        ("macaddress", "networking.mac"),
        ("netmask", "networking.netmask"),
        ("netmask6", "networking.netmask6"),
        ("network", "networking.network"),
        ("network6", "networking.network6"),
        ("scope6", "networking.scope6"),
        ("id", "identity.user"),
        ("gid", "identity.group"),
        ("uptime", "system_uptime.uptime"),
        ("uptime_days", "system_uptime.days"),
        ("uptime_hours", "system_uptime.hours"),
        ("uptime_seconds", "system_uptime.seconds"),
        ("bios_release_date", "dmi.bios.release_date"),
        ("bios_vendor", "dmi.bios.vendor"),
        ("bios_version", "dmi.bios.version"),
        ("boardassettag", "dmi.board.asset_tag"),
        ("boardmanufacturer", "dmi.board.manufacturer"),
        ("boardproductname", "dmi.board.product"),
        ("boardserialnumber", "dmi.board.serial_number"),
        ("chassisassettag", "dmi.chassis.asset_tag"),
        ("chassistype", "dmi.chassis.type"),
        ("manufacturer", "dmi.manufacturer"),
        ("productname", "dmi.product.name"),
        ("serialnumber", "dmi.product.serial_number"),
        ("uuid", "dmi.product.uuid"),
    ] {
        alias(name, path);
    }
    for (name, path) in [
        ("memorysize_mb", "memory.system.total_bytes"),
        ("memoryfree_mb", "memory.system.available_bytes"),
        ("swapsize_mb", "memory.swap.total_bytes"),
        ("swapfree_mb", "memory.swap.available_bytes"),
    ] {
        if let Some(bytes) = dig(core, path).and_then(Value::as_u64) {
            out.insert(name.into(), Value::from(ruby::bytes_to_mb(bytes)));
        }
    }
    if let Some(Value::Array(models)) = dig(core, "processors.models") {
        for (i, m) in models.iter().enumerate() {
            out.insert(format!("processor{i}"), m.clone());
        }
    }
    if let Some(Value::Object(ifaces)) = dig(core, "networking.interfaces") {
        let mut names: Vec<&String> = ifaces.keys().collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        out.insert(
            "interfaces".into(),
            s(names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(",")),
        );
        let mut dhcp = Map::new();
        dhcp.insert(
            "system".into(),
            dig(core, "networking.dhcp").cloned().unwrap_or(Value::Null),
        );
        for (name, iface) in ifaces {
            for (key, legacy) in [
                ("ip", "ipaddress"),
                ("ip6", "ipaddress6"),
                ("mac", "macaddress"),
                ("mtu", "mtu"),
                ("netmask", "netmask"),
                ("netmask6", "netmask6"),
                ("network", "network"),
                ("network6", "network6"),
                ("scope6", "scope6"),
            ] {
                if let Some(v) = iface.get(key).filter(|v| !v.is_null()) {
                    out.insert(format!("{legacy}_{name}"), v.clone());
                }
            }
            if let Some(d) = iface.get("dhcp") {
                dhcp.insert(name.clone(), d.clone());
            }
        }
        out.insert("dhcp_servers".into(), Value::Object(dhcp));
    }
    if let Some(Value::Object(disks)) = dig(core, "disks") {
        out.insert(
            "blockdevices".into(),
            s(disks
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")),
        );
        for (name, disk) in disks {
            for (key, suffix) in [
                ("size_bytes", "size"),
                ("model", "model"),
                ("vendor", "vendor"),
            ] {
                if let Some(v) = disk.get(key) {
                    out.insert(format!("blockdevice_{name}_{suffix}"), v.clone());
                }
            }
        }
    }
    if let Some(Value::Object(keys)) = dig(core, "ssh") {
        for (name, key) in keys {
            if let Some(k) = key.get("key") {
                out.insert(format!("ssh{name}key"), k.clone());
            }
            let fp = |alg: &str| {
                key.get("fingerprints")
                    .and_then(|f| f.get(alg))
                    .and_then(Value::as_str)
            };
            if let (Some(a), Some(b)) = (fp("sha1"), fp("sha256")) {
                out.insert(format!("sshfp_{name}"), s(format!("{a}\n{b}")));
            }
        }
    }
    if dig(core, "os.family").and_then(Value::as_str) == Some("Debian") {
        let path = dig(core, "path").and_then(Value::as_str);
        out.extend(os::lsb_facts(sources, path));
    }
    out
}
