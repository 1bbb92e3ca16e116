//! `os`: name, family, release, distro, architecture, hardware, selinux.
//!
//! Sources: `/etc/os-release` (`NAME`, `ID`, `ID_LIKE`, `VERSION_ID`, `VERSION`,
//! `VERSION_CODENAME`, `PRETTY_NAME`), `/etc/debian_version` (Debian family: `os.release` and
//! `os.distro.release`), `/etc/redhat-release` (Red Hat family: `os.release`, `os.distro`), `uname(2)` `machine` (`os.hardware`, `os.architecture`),
//! `/proc/self/mounts` (the `selinuxfs` mount point), `/etc/selinux/config`, and
//! `<selinuxfs>/enforce`, `<selinuxfs>/policyvers`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Sources, System, insert_path, s};
use crate::FactsError;

/// `/etc/os-release` as facter reads it: lines stripped, every `"` deleted, split on the first
/// `=`, keys lower-cased.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim().replace('"', "");
            let (k, v) = line.split_once('=')?;
            Some((k.to_lowercase(), v.to_string()))
        })
        .collect()
}

/// facter's `os.name` from `NAME`.
/// ```
/// use puppet_facts::collect::os::os_name;
/// assert_eq!(os_name("Debian GNU/Linux"), "Debian");
/// assert_eq!(os_name("Red Hat Enterprise Linux"), "RedHat");
/// assert_eq!(os_name("Arch Linux"), "Archlinux");
/// ```
pub fn os_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out = if ["red", "oracle", "arch", "manjaro"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        name.split(' ')
            .filter(|w| !w.is_empty())
            .take(2)
            .collect::<String>()
    } else if lower.ends_with("mariner") {
        name.split(' ').next_back().unwrap_or("").trim().to_string()
    } else {
        name.split(' ').next().unwrap_or("").trim().to_string()
    };
    if lower.starts_with("arch") || lower.starts_with("manjaro") {
        out = capitalize(&out);
    }
    if out.to_lowercase().starts_with("virtuozzo") {
        out.push_str("Linux");
    }
    out
}

/// Ruby's `String#capitalize` (ASCII).
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(|c| c.to_lowercase()))
            .collect(),
        None => String::new(),
    }
}

const FAMILIES: &[(&str, &[&str])] = &[
    (
        "RedHat",
        &[
            "redhat",
            "rhel",
            "fedora",
            "centos",
            "scientific",
            "ascendos",
            "cloudlinux",
            "psbm",
            "oraclelinux",
            "ovs",
            "oel",
            "amazon",
            "xenserver",
            "xcp-ng",
            "virtuozzo",
            "photon",
            "mariner",
        ],
    ),
    (
        "Debian",
        &["debian", "ubuntu", "huaweios", "linuxmint", "devuan", "kde"],
    ),
    ("Suse", &["sles", "sled", "suse"]),
    ("Gentoo", &["gentoo"]),
    ("Archlinux", &["arch", "manjaro"]),
    ("Mandrake", &["mandrake", "mandriva", "mageia"]),
];

/// facter's `os.family` from `ID_LIKE` (else `ID`): the first family whose members occur in it.
pub fn os_family(id: &str) -> String {
    let lower = id.to_lowercase();
    for (family, members) in FAMILIES {
        if members.iter().any(|m| lower.contains(m)) {
            return (*family).to_string();
        }
    }
    capitalize(id)
}

/// `os.release` from `/etc/debian_version` text: `{full, major, minor}`, a leading `0` of the
/// minor dropped.
pub fn debian_release(text: &str) -> Option<Value> {
    let full = text.trim();
    if full.is_empty() {
        return None;
    }
    let mut parts = full.split('.');
    let mut release = Map::new();
    release.insert("full".into(), s(full));
    release.insert("major".into(), s(parts.next().unwrap_or("")));
    if let Some(minor) = parts.next() {
        let minor = match minor.as_bytes() {
            [b'0', b'1'..=b'9', ..] => &minor[1..],
            _ => minor,
        };
        release.insert("minor".into(), s(minor));
    }
    Some(Value::Object(release))
}

const RHEL_IDS: [&str; 9] = [
    "rhel",
    "fedora",
    "amzn",
    "centos",
    "ol",
    "scientific",
    "meego",
    "oel",
    "ovs",
];

/// Whether facter's OS hierarchy puts this `ID` (else a word of `ID_LIKE`) under `Rhel`,
/// whose fact classes read `/etc/redhat-release`.
pub fn is_rhel(release: &BTreeMap<String, String>) -> bool {
    let known = [
        "debian",
        "elementary",
        "ubuntu",
        "linuxmint",
        "raspbian",
        "devuan",
        "sles",
        "opensuse",
        "sled",
        "gentoo",
        "alpine",
        "photon",
        "slackware",
        "mageia",
        "openwrt",
        "mariner",
    ];
    let id = release
        .get("id")
        .map(|i| i.to_lowercase())
        .unwrap_or_default();
    if RHEL_IDS.contains(&id.as_str()) {
        return true;
    }
    if known.contains(&id.as_str()) {
        return false;
    }
    release
        .get("id_like")
        .map(|like| {
            like.split_whitespace()
                .find(|w| RHEL_IDS.contains(w) || known.contains(w))
        })
        .is_some_and(|w| w.is_some_and(|w| RHEL_IDS.contains(&w)))
}

/// What facter's `RedHatRelease` resolver reads from `/etc/redhat-release`
/// (`Rocky Linux release 9.3 (Blue Onyx)`): `(description, distributor id, version, codename)`.
///
/// ```
/// use puppet_facts::collect::os::parse_redhat_release;
/// let (description, id, version, codename) =
///     parse_redhat_release("Red Hat Enterprise Linux release 9.3 (Plow)\n");
/// assert_eq!(description, "Red Hat Enterprise Linux release 9.3 (Plow)");
/// assert_eq!(id, "RedHatEnterprise");
/// assert_eq!(version.as_deref(), Some("9.3"));
/// assert_eq!(codename.as_deref(), Some("Plow"));
/// ```
pub fn parse_redhat_release(text: &str) -> (String, String, Option<String>, Option<String>) {
    let description = text.trim().to_string();
    let parts: Vec<&str> = text.split("release").map(str::trim).collect();
    let id: String = parts
        .first()
        .unwrap_or(&"")
        .split_whitespace()
        .filter(|w| !w.eq_ignore_ascii_case("linux"))
        .collect();
    let version = parts
        .get(1)
        .and_then(|p| p.split_whitespace().next())
        .map(str::to_string);
    let codename = text
        .contains("release")
        .then(|| {
            let open = text.rfind('(')?;
            let close = text[open..].find(')')? + open;
            let inner = text[open + 1..close].replace(['(', ')'], "");
            (!inner.is_empty()).then_some(inner)
        })
        .flatten();
    (description, id, version, codename)
}

/// `{full, major[, minor]}` from a version string split on `.`.
fn release_hash(version: &str) -> Value {
    let mut parts = version.split('.');
    let mut rel = Map::new();
    rel.insert("full".into(), s(version));
    rel.insert("major".into(), s(parts.next().unwrap_or("")));
    if let Some(minor) = parts.next() {
        rel.insert("minor".into(), s(minor));
    }
    Value::Object(rel)
}

/// An `os-release` `VERSION_ID` with at least one dot (`24` gives `24.0`).
fn dotted(version: &str) -> String {
    if version.contains('.') {
        version.to_string()
    } else {
        format!("{version}.0")
    }
}

/// `{full, major}`, both the [`dotted`] `VERSION_ID`: facter's release of Ubuntu and of
/// distributions it has no resolver for.
fn full_as_major(version: &str) -> Value {
    let v = dotted(version);
    let mut rel = Map::new();
    rel.insert("full".into(), s(v.clone()));
    rel.insert("major".into(), s(v));
    Value::Object(rel)
}

/// `os.architecture` from `uname -m`, Debian-family renaming included.
pub fn architecture(machine: &str, debian: bool) -> String {
    if debian && machine == "x86_64" {
        return "amd64".into();
    }
    let is_x86_32 = machine.len() == 4
        && machine.starts_with('i')
        && machine.ends_with("86")
        && matches!(machine.as_bytes()[1], b'3'..=b'6');
    if is_x86_32 || machine.contains("pentium") {
        return "i386".into();
    }
    machine.to_string()
}

fn codename(release: &BTreeMap<String, String>) -> Option<String> {
    if let Some(c) = release.get("version_codename") {
        return Some(c.clone());
    }
    let version = release.get("version")?;
    if version.ends_with(')')
        && let Some(open) = version.rfind('(')
    {
        let inner = &version[open + 1..version.len() - 1];
        if !inner.is_empty() {
            return Some(inner.replace(['(', ')'], ""));
        }
    }
    // The first "Word Word" in VERSION, its first word lower-cased.
    let words: Vec<&str> = version.split(char::is_whitespace).collect();
    words
        .windows(2)
        .find(|w| {
            !w[0].is_empty()
                && w[0].chars().all(|c| c.is_ascii_alphabetic())
                && w[1].chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        })
        .map(|w| w[0].to_lowercase())
}

/// The selinux hash from the mount table, `/etc/selinux/config` and the selinuxfs files.
pub fn selinux(sources: &Sources, mounts: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    let mount = mounts.and_then(|m| {
        m.lines()
            .find(|l| l.contains("selinuxfs"))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    });
    let config = sources.read("/etc/selinux/config").ok().flatten();
    let enabled = mount.is_some() && config.as_deref().is_some_and(|c| !c.is_empty());
    out.insert("enabled".into(), Value::Bool(enabled));
    if let (true, Some(mount)) = (enabled, mount) {
        if let Some(enforce) = sources.read(&format!("{mount}/enforce")).ok().flatten() {
            let enforced = enforce == "1";
            out.insert("enforced".into(), Value::Bool(enforced));
            out.insert(
                "current_mode".into(),
                s(if enforced { "enforcing" } else { "permissive" }),
            );
        }
        if let Some(v) = sources.read(&format!("{mount}/policyvers")).ok().flatten() {
            out.insert("policy_version".into(), s(v));
        }
        for line in config.as_deref().unwrap_or("").lines() {
            let value = || line.rsplit('=').next().unwrap_or("").trim().to_string();
            if line.starts_with("SELINUX=") {
                out.insert("config_mode".into(), s(value()));
            } else if line.starts_with("SELINUXTYPE=") {
                out.insert("config_policy".into(), s(value()));
            }
        }
    }
    out
}

/// Collects `os`.
pub fn collect(
    sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let release = sources
        .read_for("os", "/etc/os-release")?
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    let family = release
        .get("id_like")
        .or_else(|| release.get("id"))
        .map(|id| os_family(id));
    let rhel = is_rhel(&release);
    let family = if rhel {
        Some("RedHat".to_string())
    } else {
        family
    };
    let debian = family.as_deref() == Some("Debian");
    if let Some(name) = release.get("name") {
        insert_path(facts, &["os", "name"], s(os_name(name)));
    }
    if let Some(family) = &family {
        insert_path(facts, &["os", "family"], s(family.clone()));
    }
    if let Some(uname) = system.uname() {
        insert_path(facts, &["os", "hardware"], s(uname.machine.clone()));
        insert_path(
            facts,
            &["os", "architecture"],
            s(architecture(&uname.machine, debian)),
        );
    }
    let ubuntu = release.get("id").is_some_and(|id| id == "ubuntu");
    if ubuntu {
        // facts/ubuntu/os/release.rb: VERSION_ID as both full and major.
        if let Some(v) = release.get("version_id") {
            insert_path(facts, &["os", "release"], full_as_major(v));
        }
    } else if debian {
        let version = sources.read_for("os", "/etc/debian_version")?;
        if let Some(rel) = version.as_deref().and_then(debian_release) {
            insert_path(facts, &["os", "release"], rel.clone());
            insert_path(facts, &["os", "distro", "release"], rel);
        }
    }
    if debian {
        if let Some(c) = codename(&release) {
            insert_path(facts, &["os", "distro", "codename"], s(c));
        }
        if let Some(d) = release.get("pretty_name") {
            insert_path(facts, &["os", "distro", "description"], s(d.clone()));
        }
        if let Some(id) = release.get("id") {
            insert_path(facts, &["os", "distro", "id"], s(capitalize(id)));
        }
    }
    if rhel {
        let text = sources.read_for("os", "/etc/redhat-release")?;
        let parsed = text.as_deref().map(parse_redhat_release);
        if let Some((description, id, _, codename)) = &parsed {
            if let Some(c) = codename {
                insert_path(facts, &["os", "distro", "codename"], s(c.clone()));
            }
            insert_path(
                facts,
                &["os", "distro", "description"],
                s(description.clone()),
            );
            insert_path(facts, &["os", "distro", "id"], s(id.clone()));
        }
        let version = parsed
            .and_then(|p| p.2)
            .or_else(|| release.get("version_id").map(|v| dotted(v)));
        if let Some(v) = version {
            insert_path(facts, &["os", "release"], release_hash(&v));
            insert_path(facts, &["os", "distro", "release"], release_hash(&v));
        }
    } else if let (false, Some(v)) = (debian, release.get("version_id")) {
        insert_path(facts, &["os", "release"], full_as_major(v));
    }
    let mounts = sources.read("/proc/self/mounts").ok().flatten();
    insert_path(
        facts,
        &["os", "selinux"],
        Value::Object(selinux(sources, mounts.as_deref())),
    );
    Ok(())
}

/// The `lsbdist*` legacy facts as Debian's `lsb_release -a` prints them (it reads
/// `/etc/os-release`); only when `lsb_release` is on `PATH`, as facter runs it.
pub fn lsb_facts(sources: &Sources, path: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    let has_lsb = path.is_some_and(|p| {
        p.split(':')
            .any(|dir| !dir.is_empty() && sources.path(&format!("{dir}/lsb_release")).is_file())
    });
    if !has_lsb {
        return out;
    }
    let release = sources
        .read("/etc/os-release")
        .ok()
        .flatten()
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    let id = release.get("id").map(|i| {
        let mut c = i.chars();
        let cap: String = c
            .next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default();
        match release.get("name") {
            Some(n) if n.to_lowercase() == cap.to_lowercase() => n.clone(),
            _ => cap,
        }
    });
    let na = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned().unwrap_or("n/a".into());
    out.insert("lsbdistid".into(), s(na(id.as_ref())));
    out.insert(
        "lsbdistdescription".into(),
        s(na(release.get("pretty_name"))),
    );
    out.insert(
        "lsbdistcodename".into(),
        s(na(release.get("version_codename"))),
    );
    out
}
