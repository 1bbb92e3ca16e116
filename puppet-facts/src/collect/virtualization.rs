//! `virtual`, `is_virtual`, `hypervisors`.
//!
//! Sources, in facter's order of precedence: containers from `/proc/1/cgroup` (`docker/<id>`,
//! `/lxc/<name>`) and `/run/systemd/container` (what systemd read from PID 1's `container=`
//! variable: facter reads `/proc/1/environ`, which needs ptrace rights it often lacks), Google
//! from `/sys/class/dmi/id/bios_vendor`, Xen from `/proc/xen/capabilities`, `/proc/xen`,
//! `/dev/xvda1`, OpenVZ from `/proc/vz` and `/proc/self/status` (`envID`), Linux-VServer from
//! `/proc/self/status` (`s_context`/`VxID`), DMI (`/sys/class/dmi/id/{product_name,sys_vendor,bios_vendor}`),
//! then the PCI devices' vendors in `/sys/bus/pci/devices/*/vendor` (what facter finds with
//! `lspci`: VirtualBox, XenSource, Hyper-V, Google, VMware, Parallels, virtio → kvm); else
//! `physical`. facter's first choice after containers and Google, `virt-what`, needs root and
//! is not run.

use serde_json::{Map, Value};

use super::{Sources, System, dmi, s};
use crate::FactsError;

const PHYSICAL: [&str; 6] = [
    "physical",
    "xen0",
    "vmware_server",
    "vmware_workstation",
    "openvzhn",
    "vserver_host",
];

/// What was detected.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The `virtual` fact.
    pub platform: String,
    /// The `hypervisors` hash.
    pub hypervisors: Map<String, Value>,
}

fn container(sources: &Sources) -> Option<(&'static str, Map<String, Value>)> {
    let cgroup = sources
        .read("/proc/1/cgroup")
        .ok()
        .flatten()
        .unwrap_or_default();
    for line in cgroup.lines() {
        if let Some(i) = line.find("docker/") {
            let id = &line[i + "docker/".len()..];
            let mut m = Map::new();
            m.insert("id".into(), s(id));
            return Some(("docker", m));
        }
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        if let Some(rest) = path.strip_prefix("/lxc/") {
            let mut m = Map::new();
            m.insert("name".into(), s(rest.split('/').next().unwrap_or(rest)));
            return Some(("lxc", m));
        }
    }
    match sources.attr("/run/systemd/container").as_deref() {
        Some("lxc") => Some(("lxc", Map::new())),
        Some("systemd-nspawn") => {
            let mut m = Map::new();
            if let Some(id) = sources.attr("/etc/machine-id") {
                m.insert("id".into(), s(id));
            }
            Some(("systemd_nspawn", m))
        }
        _ => None,
    }
}

fn from_dmi(product: &str, bios_vendor: &str) -> Option<&'static str> {
    if bios_vendor.contains("Amazon EC2") {
        return Some("kvm");
    }
    let table = [
        ("VMware", "vmware"),
        ("VirtualBox", "virtualbox"),
        ("Parallels", "parallels"),
        ("KVM", "kvm"),
        ("Virtual Machine", "hyperv"),
        ("RHEV Hypervisor", "rhev"),
        ("oVirt Node", "ovirt"),
        ("HVM domU", "xenhvm"),
        ("Bochs", "bochs"),
        ("OpenBSD", "vmm"),
        ("BHYVE", "bhyve"),
    ];
    table
        .iter()
        .find(|(needle, _)| product.contains(needle))
        .map(|(_, name)| *name)
}

/// The platform PCI vendor/device ids point at, as facter's `lspci` patterns do.
pub fn from_pci(ids: &[(String, String)]) -> Option<&'static str> {
    for (vendor, device) in ids {
        let found = match vendor.as_str() {
            "0x80ee" => Some("virtualbox"),
            "0x5853" => Some("xenhvm"),
            "0x1414" if device == "0x5353" => Some("hyperv"),
            "0x1ae0" => Some("gce"),
            "0x15ad" => Some("vmware"),
            "0x1ab8" => Some("parallels"),
            "0x1af4" => Some("kvm"),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn pci_ids(sources: &Sources) -> Vec<(String, String)> {
    let Ok(Some(mut devices)) = sources.list("/sys/bus/pci/devices") else {
        return Vec::new();
    };
    devices.sort();
    devices
        .into_iter()
        .filter_map(|d| {
            let base = format!("/sys/bus/pci/devices/{d}");
            Some((
                sources.attr(&format!("{base}/vendor"))?,
                sources.attr(&format!("{base}/device")).unwrap_or_default(),
            ))
        })
        .collect()
}

fn status_field(status: &str, key: &str) -> Option<i64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// Detects the platform and hypervisors from `sources`.
pub fn detect(sources: &Sources) -> Detection {
    let mut hypervisors = Map::new();
    let product = dmi::read(sources, "product_name").unwrap_or_default();
    let bios_vendor = dmi::read(sources, "bios_vendor").unwrap_or_default();
    let sys_vendor = dmi::read(sources, "sys_vendor").unwrap_or_default();
    let status = sources
        .read("/proc/self/status")
        .ok()
        .flatten()
        .unwrap_or_default();
    let container = container(sources);
    if let Some((name, info)) = &container {
        hypervisors.insert((*name).into(), Value::Object(info.clone()));
    }
    let xen_caps = sources.attr("/proc/xen/capabilities");
    let pci = pci_ids(sources);
    let platform: String = if let Some((name, _)) = container {
        name.into()
    } else if bios_vendor.contains("Google") {
        "gce".into()
    } else if sources.exists("/proc/vz")
        && !sources.exists("/proc/lve/list")
        && status_field(&status, "envID:").is_some()
    {
        if status_field(&status, "envID:") == Some(0) {
            "openvzhn".into()
        } else {
            "openvzve".into()
        }
    } else if let Some(ctx) =
        status_field(&status, "s_context:").or_else(|| status_field(&status, "VxID:"))
    {
        if ctx == 0 { "vserver_host" } else { "vserver" }.into()
    } else if sources.exists("/dev/xen/evtchn")
        || xen_caps.as_deref().is_some_and(|c| c.contains("control_d"))
    {
        "xen0".into()
    } else if sources.exists("/proc/xen") || sources.exists("/dev/xvda1") {
        "xenu".into()
    } else if let Some(p) = from_dmi(&product, &bios_vendor) {
        p.into()
    } else if let Some(p) = from_pci(&pci) {
        p.into()
    } else {
        "physical".into()
    };
    let kvm_like = platform == "kvm"
        || bios_vendor.contains("Amazon EC2")
        || bios_vendor.contains("Google")
        || product.starts_with("OpenStack");
    let boxed = ["VirtualBox", "Parallels"]
        .iter()
        .any(|p| product.contains(p));
    if kvm_like && !boxed {
        let mut kvm = Map::new();
        if sys_vendor.starts_with("Google") {
            kvm.insert("google".into(), Value::Bool(true));
        } else if product.starts_with("OpenStack") {
            kvm.insert("openstack".into(), Value::Bool(true));
        } else if sys_vendor.starts_with("Amazon") {
            kvm.insert("amazon".into(), Value::Bool(true));
        }
        hypervisors.insert("kvm".into(), Value::Object(kvm));
    }
    if platform == "vmware" || product.contains("VMware") || sys_vendor.contains("VMware") {
        hypervisors.insert("vmware".into(), Value::Object(Map::new()));
    }
    if platform == "virtualbox" {
        hypervisors.insert("virtualbox".into(), Value::Object(Map::new()));
    }
    if platform == "hyperv" || sys_vendor.contains("Microsoft") || product == "Virtual Machine" {
        hypervisors.insert("hyperv".into(), Value::Object(Map::new()));
    }
    if platform.starts_with("xen") {
        let mut xen = Map::new();
        xen.insert(
            "context".into(),
            s(if platform == "xenhvm" { "hvm" } else { "pv" }),
        );
        xen.insert("privileged".into(), Value::Bool(platform == "xen0"));
        hypervisors.insert("xen".into(), Value::Object(xen));
    }
    if platform.starts_with("openvz") {
        let mut ovz = Map::new();
        if let Some(id) = status_field(&status, "envID:") {
            ovz.insert("id".into(), Value::from(id));
        }
        ovz.insert("host".into(), Value::Bool(platform == "openvzhn"));
        hypervisors.insert("openvz".into(), Value::Object(ovz));
    }
    Detection {
        platform,
        hypervisors,
    }
}

/// Collects `virtual`, `is_virtual` and `hypervisors`.
pub fn collect(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let d = detect(sources);
    facts.insert(
        "is_virtual".into(),
        Value::Bool(!PHYSICAL.contains(&d.platform.as_str())),
    );
    facts.insert("virtual".into(), s(d.platform));
    if !d.hypervisors.is_empty() {
        facts.insert("hypervisors".into(), Value::Object(d.hypervisors));
    }
    Ok(())
}
