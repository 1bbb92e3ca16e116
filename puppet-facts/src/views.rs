//! Typed views of the facts masters use most, over the untyped values.
//!
//! A view borrows from the [`Facts`] it was taken from. Fields follow facter 4's names; a field
//! facter did not report is `None` (or an empty list/map); a present value of the wrong type is
//! [`FactsError::Fact`] naming its dotted path. Keys a view does not model are ignored by the
//! view and stay in [`Facts::values`].
//!
//! The views also implement `Deserialize` for any borrowing deserializer, such as
//! `&serde_json::Value`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Facts, FactsError};

/// The `os` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Os<'a> {
    /// `os.name`, e.g. `Debian`, `RedHat`, `windows`.
    #[serde(borrow)]
    pub name: Option<&'a str>,
    /// `os.family`, e.g. `Debian`, `RedHat`, `Suse`, `windows`.
    #[serde(borrow)]
    pub family: Option<&'a str>,
    /// `os.release`: the OS version.
    #[serde(borrow)]
    pub release: Option<Release<'a>>,
    /// `os.architecture`, e.g. `amd64` (Debian) or `x86_64` (Red Hat).
    #[serde(borrow)]
    pub architecture: Option<&'a str>,
    /// `os.hardware`, e.g. `x86_64`.
    #[serde(borrow)]
    pub hardware: Option<&'a str>,
    /// `os.distro`: what the distribution says of itself (Linux).
    #[serde(borrow)]
    pub distro: Option<Distro<'a>>,
    /// `os.selinux` (Linux).
    #[serde(borrow)]
    pub selinux: Option<Selinux<'a>>,
}

/// A version as facter splits it (`os.release`, `os.distro.release`): all strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Release<'a> {
    /// The whole version, e.g. `12.11`.
    #[serde(borrow)]
    pub full: Option<&'a str>,
    /// The major part, e.g. `12`.
    #[serde(borrow)]
    pub major: Option<&'a str>,
    /// The minor part, e.g. `11`.
    #[serde(borrow)]
    pub minor: Option<&'a str>,
}

/// `os.distro`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Distro<'a> {
    /// `os.distro.codename`, e.g. `bookworm`.
    #[serde(borrow)]
    pub codename: Option<&'a str>,
    /// `os.distro.description`, e.g. `Debian GNU/Linux 12 (bookworm)`.
    #[serde(borrow)]
    pub description: Option<&'a str>,
    /// `os.distro.id`, e.g. `Debian`.
    #[serde(borrow)]
    pub id: Option<&'a str>,
    /// `os.distro.release`.
    #[serde(borrow)]
    pub release: Option<Release<'a>>,
}

/// `os.selinux`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Selinux<'a> {
    /// `os.selinux.enabled`.
    pub enabled: Option<bool>,
    /// `os.selinux.enforced`.
    pub enforced: Option<bool>,
    /// `os.selinux.current_mode`, e.g. `enforcing`.
    #[serde(borrow)]
    pub current_mode: Option<&'a str>,
    /// `os.selinux.config_mode`.
    #[serde(borrow)]
    pub config_mode: Option<&'a str>,
    /// `os.selinux.config_policy`, e.g. `targeted`.
    #[serde(borrow)]
    pub config_policy: Option<&'a str>,
    /// `os.selinux.policy_version`.
    #[serde(borrow)]
    pub policy_version: Option<&'a str>,
}

/// The kernel facts, top-level in facter 4: `kernel`, `kernelrelease`, `kernelversion`,
/// `kernelmajversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Kernel<'a> {
    /// `kernel`, e.g. `Linux`, `windows`, `Darwin`.
    #[serde(borrow)]
    pub kernel: Option<&'a str>,
    /// `kernelrelease`, e.g. `6.1.0-28-amd64`.
    #[serde(borrow)]
    pub kernelrelease: Option<&'a str>,
    /// `kernelversion`, e.g. `6.1.0`.
    #[serde(borrow)]
    pub kernelversion: Option<&'a str>,
    /// `kernelmajversion`, e.g. `6.1`.
    #[serde(borrow)]
    pub kernelmajversion: Option<&'a str>,
}

/// The `networking` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Networking<'a> {
    /// `networking.hostname`: the short host name.
    #[serde(borrow)]
    pub hostname: Option<&'a str>,
    /// `networking.domain`; facter leaves it out when the host has none.
    #[serde(borrow)]
    pub domain: Option<&'a str>,
    /// `networking.fqdn`.
    #[serde(borrow)]
    pub fqdn: Option<&'a str>,
    /// `networking.ip`: the primary interface's IPv4 address.
    #[serde(borrow)]
    pub ip: Option<&'a str>,
    /// `networking.ip6`: the primary interface's IPv6 address.
    #[serde(borrow)]
    pub ip6: Option<&'a str>,
    /// `networking.mac`: the primary interface's MAC address.
    #[serde(borrow)]
    pub mac: Option<&'a str>,
    /// `networking.mtu`.
    pub mtu: Option<u32>,
    /// `networking.netmask`.
    #[serde(borrow)]
    pub netmask: Option<&'a str>,
    /// `networking.netmask6`.
    #[serde(borrow)]
    pub netmask6: Option<&'a str>,
    /// `networking.network`.
    #[serde(borrow)]
    pub network: Option<&'a str>,
    /// `networking.network6`.
    #[serde(borrow)]
    pub network6: Option<&'a str>,
    /// `networking.scope6`, e.g. `global`.
    #[serde(borrow)]
    pub scope6: Option<&'a str>,
    /// `networking.dhcp`: the DHCP server of the primary interface.
    #[serde(borrow)]
    pub dhcp: Option<&'a str>,
    /// `networking.primary`: the name of the primary interface, e.g. `eth0`.
    #[serde(borrow)]
    pub primary: Option<&'a str>,
    /// `networking.interfaces`, by interface name.
    #[serde(borrow, default)]
    pub interfaces: BTreeMap<&'a str, Interface<'a>>,
}

/// One entry of `networking.interfaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Interface<'a> {
    /// `bindings`: the IPv4 addresses.
    #[serde(borrow, default)]
    pub bindings: Vec<Binding<'a>>,
    /// `bindings6`: the IPv6 addresses.
    #[serde(borrow, default)]
    pub bindings6: Vec<Binding<'a>>,
    /// `ip`: the first IPv4 address.
    #[serde(borrow)]
    pub ip: Option<&'a str>,
    /// `ip6`: the first IPv6 address.
    #[serde(borrow)]
    pub ip6: Option<&'a str>,
    /// `mac`.
    #[serde(borrow)]
    pub mac: Option<&'a str>,
    /// `mtu`.
    pub mtu: Option<u32>,
    /// `netmask`.
    #[serde(borrow)]
    pub netmask: Option<&'a str>,
    /// `netmask6`.
    #[serde(borrow)]
    pub netmask6: Option<&'a str>,
    /// `network`.
    #[serde(borrow)]
    pub network: Option<&'a str>,
    /// `network6`.
    #[serde(borrow)]
    pub network6: Option<&'a str>,
    /// `scope6`.
    #[serde(borrow)]
    pub scope6: Option<&'a str>,
    /// `dhcp`: the DHCP server that configured the interface.
    #[serde(borrow)]
    pub dhcp: Option<&'a str>,
    /// `operational_state`, e.g. `up`.
    #[serde(borrow)]
    pub operational_state: Option<&'a str>,
    /// `physical`: whether it is a physical device.
    pub physical: Option<bool>,
}

/// One address of an interface (`bindings`, `bindings6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Binding<'a> {
    /// `address`.
    #[serde(borrow)]
    pub address: Option<&'a str>,
    /// `netmask`.
    #[serde(borrow)]
    pub netmask: Option<&'a str>,
    /// `network`.
    #[serde(borrow)]
    pub network: Option<&'a str>,
    /// `scope6` (IPv6 only), e.g. `global`, `link`, `host`.
    #[serde(borrow)]
    pub scope6: Option<&'a str>,
    /// `flags` (IPv6 only), e.g. `permanent`.
    #[serde(borrow, default)]
    pub flags: Vec<&'a str>,
}

/// The `processors` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Processors<'a> {
    /// `processors.count`: logical processors.
    pub count: Option<u32>,
    /// `processors.physicalcount`: sockets.
    pub physicalcount: Option<u32>,
    /// `processors.cores`: cores per socket.
    pub cores: Option<u32>,
    /// `processors.threads`: threads per core.
    pub threads: Option<u32>,
    /// `processors.models`: one model name per logical processor.
    #[serde(borrow, default)]
    pub models: Vec<&'a str>,
    /// `processors.isa`, e.g. `x86_64` (or `unknown`).
    #[serde(borrow)]
    pub isa: Option<&'a str>,
    /// `processors.speed`, e.g. `2.60 GHz`.
    #[serde(borrow)]
    pub speed: Option<&'a str>,
}

/// The `memory` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Memory<'a> {
    /// `memory.system`: RAM.
    #[serde(borrow)]
    pub system: Option<MemoryStats<'a>>,
    /// `memory.swap`; facter leaves it out when there is no swap.
    #[serde(borrow)]
    pub swap: Option<MemoryStats<'a>>,
}

/// `memory.system` or `memory.swap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct MemoryStats<'a> {
    /// `total_bytes`.
    pub total_bytes: Option<u64>,
    /// `available_bytes`.
    pub available_bytes: Option<u64>,
    /// `used_bytes`.
    pub used_bytes: Option<u64>,
    /// `total`, for people, e.g. `23.54 GiB`.
    #[serde(borrow)]
    pub total: Option<&'a str>,
    /// `available`, for people.
    #[serde(borrow)]
    pub available: Option<&'a str>,
    /// `used`, for people.
    #[serde(borrow)]
    pub used: Option<&'a str>,
    /// `capacity`: used over total, e.g. `6.53%`.
    #[serde(borrow)]
    pub capacity: Option<&'a str>,
    /// `encrypted` (swap only).
    pub encrypted: Option<bool>,
}

/// The `identity` fact: who runs facter (the agent's user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a hash")]
#[non_exhaustive]
pub struct Identity<'a> {
    /// `identity.user`.
    #[serde(borrow)]
    pub user: Option<&'a str>,
    /// `identity.group` (not on Windows).
    #[serde(borrow)]
    pub group: Option<&'a str>,
    /// `identity.uid` (not on Windows).
    pub uid: Option<u32>,
    /// `identity.gid` (not on Windows).
    pub gid: Option<u32>,
    /// `identity.privileged`: root or Administrator.
    pub privileged: Option<bool>,
}

impl Facts {
    /// The `os` fact; `None` if absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"os": {"name": "Debian",
    ///     "family": "Debian", "release": {"full": "12.11", "major": "12", "minor": "11"}}}}"#)?;
    /// let os = facts.os()?.expect("os is there");
    /// assert_eq!((os.family, os.release.and_then(|r| r.major)), (Some("Debian"), Some("12")));
    ///
    /// let bad = Facts::from_json(br#"{"name": "n", "values": {"os": {"release": "12"}}}"#)?;
    /// assert_eq!(bad.os().unwrap_err().to_string(),
    ///     "fact os.release has the wrong shape: invalid type: string \"12\", expected a hash");
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn os(&self) -> Result<Option<Os<'_>>, FactsError> {
        self.view("os")
    }

    /// The top-level kernel facts; `None` if all four are absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"kernel": "Linux",
    ///     "kernelrelease": "6.1.0-28-amd64", "kernelmajversion": "6.1"}}"#)?;
    /// let kernel = facts.kernel()?.expect("kernel is there");
    /// assert_eq!(kernel.kernel, Some("Linux"));
    /// assert_eq!(kernel.kernelversion, None);
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn kernel(&self) -> Result<Option<Kernel<'_>>, FactsError> {
        let kernel = Kernel {
            kernel: self.string("kernel")?,
            kernelrelease: self.string("kernelrelease")?,
            kernelversion: self.string("kernelversion")?,
            kernelmajversion: self.string("kernelmajversion")?,
        };
        let empty = kernel.kernel.is_none()
            && kernel.kernelrelease.is_none()
            && kernel.kernelversion.is_none()
            && kernel.kernelmajversion.is_none();
        Ok((!empty).then_some(kernel))
    }

    /// The `networking` fact; `None` if absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"networking": {
    ///     "ip": "192.0.2.2", "primary": "eth0", "interfaces": {"eth0": {"mtu": 1400,
    ///     "bindings": [{"address": "192.0.2.2", "netmask": "255.255.255.0"}]}}}}}"#)?;
    /// let net = facts.networking()?.expect("networking is there");
    /// let eth0 = &net.interfaces["eth0"];
    /// assert_eq!((eth0.mtu, eth0.bindings[0].address), (Some(1400), Some("192.0.2.2")));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn networking(&self) -> Result<Option<Networking<'_>>, FactsError> {
        self.view("networking")
    }

    /// The `processors` fact; `None` if absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"processors": {"count": 2,
    ///     "physicalcount": 1, "models": ["AMD EPYC", "AMD EPYC"], "isa": "x86_64"}}}"#)?;
    /// let cpus = facts.processors()?.expect("processors is there");
    /// assert_eq!((cpus.count, cpus.models.len()), (Some(2), 2));
    ///
    /// let bad = Facts::from_json(br#"{"name": "n", "values": {"processors": {"models": ["a", 7]}}}"#)?;
    /// assert!(bad.processors().unwrap_err().to_string().starts_with("fact processors.models.1 "));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn processors(&self) -> Result<Option<Processors<'_>>, FactsError> {
        self.view("processors")
    }

    /// The `memory` fact; `None` if absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"memory": {"system": {
    ///     "total_bytes": 25276514304, "used_bytes": 1650999296, "total": "23.54 GiB"}}}}"#)?;
    /// let memory = facts.memory()?.expect("memory is there");
    /// assert_eq!(memory.system.and_then(|s| s.total_bytes), Some(25_276_514_304));
    /// assert!(memory.swap.is_none());
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn memory(&self) -> Result<Option<Memory<'_>>, FactsError> {
        self.view("memory")
    }

    /// The `identity` fact; `None` if absent.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"identity": {"user": "root",
    ///     "group": "root", "uid": 0, "gid": 0, "privileged": true}}}"#)?;
    /// let who = facts.identity()?.expect("identity is there");
    /// assert_eq!((who.user, who.uid, who.privileged), (Some("root"), Some(0), Some(true)));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn identity(&self) -> Result<Option<Identity<'_>>, FactsError> {
        self.view("identity")
    }

    /// The host name: the top-level `hostname` fact (what manifests see as `$hostname`, and
    /// what a custom fact of that name overrides), else `networking.hostname`.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"networking": {"hostname": "web1"}}}"#)?;
    /// assert_eq!(facts.hostname()?, Some("web1"));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn hostname(&self) -> Result<Option<&str>, FactsError> {
        self.legacy_or_networking("hostname")
    }

    /// The DNS domain: the top-level `domain` fact, else `networking.domain`; `None` when the
    /// host has none (facter then reports neither).
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"domain": "example.com",
    ///     "networking": {"domain": "ignored.example"}}}"#)?;
    /// assert_eq!(facts.domain()?, Some("example.com"));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn domain(&self) -> Result<Option<&str>, FactsError> {
        self.legacy_or_networking("domain")
    }

    /// The fully qualified name: the top-level `fqdn` fact, else `networking.fqdn`.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {"networking": {"fqdn": 3}}}"#)?;
    /// assert_eq!(facts.fqdn().unwrap_err().to_string(),
    ///     "fact networking.fqdn has the wrong shape: expected a string, found a number");
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn fqdn(&self) -> Result<Option<&str>, FactsError> {
        self.legacy_or_networking("fqdn")
    }

    /// Deserializes the top-level fact `name` into a view; absent or `null` gives `None`.
    fn view<'a, T: Deserialize<'a>>(&'a self, name: &str) -> Result<Option<T>, FactsError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_path_to_error::deserialize(value)
                .map(Some)
                .map_err(|e| fact_error(name, e)),
        }
    }

    /// A top-level fact that must be a string.
    fn string(&self, name: &str) -> Result<Option<&str>, FactsError> {
        string_at(self.values.get(name), name)
    }

    fn legacy_or_networking(&self, name: &str) -> Result<Option<&str>, FactsError> {
        match self.string(name)? {
            Some(value) => Ok(Some(value)),
            None => string_at(
                self.get_in(["networking", name]),
                &format!("networking.{name}"),
            ),
        }
    }
}

fn string_at<'a>(value: Option<&'a Value>, path: &str) -> Result<Option<&'a str>, FactsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FactsError::Fact {
            path: path.to_owned(),
            message: format!("expected a string, found {}", crate::facts::kind(other)),
        }),
    }
}

/// A view's deserialization error, its path written as a fact path (`os.release.full`,
/// `processors.models.1`).
fn fact_error(name: &str, error: serde_path_to_error::Error<serde_json::Error>) -> FactsError {
    use serde_path_to_error::Segment;
    let mut path = name.to_owned();
    for segment in error.path().iter() {
        path.push('.');
        match segment {
            Segment::Seq { index } => path.push_str(&index.to_string()),
            Segment::Map { key } => path.push_str(key),
            Segment::Enum { variant } => path.push_str(variant),
            Segment::Unknown => path.push('?'),
        }
    }
    FactsError::Fact {
        path,
        message: error.into_inner().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(values: Value) -> Facts {
        Facts::from_value(json!({"name": "n", "values": values})).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fact_error_path(result: Result<impl std::fmt::Debug, FactsError>) -> String {
        match result {
            Err(FactsError::Fact { path, .. }) => path,
            other => panic!("expected a fact error, got {other:?}"),
        }
    }

    #[test]
    fn missing_facts_are_none() {
        let f = facts(json!({}));
        assert_eq!(f.os().ok(), Some(None));
        assert_eq!(f.kernel().ok(), Some(None));
        assert_eq!(f.networking().ok(), Some(None));
        assert_eq!(f.processors().ok(), Some(None));
        assert_eq!(f.memory().ok(), Some(None));
        assert_eq!(f.identity().ok(), Some(None));
        assert_eq!(f.hostname().ok(), Some(None));
        assert_eq!(f.domain().ok(), Some(None));
        assert_eq!(f.fqdn().ok(), Some(None));
        let null = facts(json!({"os": null, "hostname": null}));
        assert_eq!(null.os().ok(), Some(None));
        assert_eq!(null.hostname().ok(), Some(None));
    }

    #[test]
    fn wrong_shapes_name_the_fact_path() {
        let f = facts(json!({
            "os": {"distro": {"release": {"major": 12}}},
            "kernelversion": ["6"],
            "networking": {"interfaces": {"eth0": {"bindings6": [{}, {"flags": [1]}]}}},
            "processors": "many",
            "memory": {"swap": {"total_bytes": -1}},
            "identity": {"uid": 4_294_967_296u64},
            "hostname": false,
        }));
        assert_eq!(fact_error_path(f.os()), "os.distro.release.major");
        assert_eq!(fact_error_path(f.kernel()), "kernelversion");
        assert_eq!(
            fact_error_path(f.networking()),
            "networking.interfaces.eth0.bindings6.1.flags.0"
        );
        assert_eq!(fact_error_path(f.processors()), "processors");
        assert_eq!(fact_error_path(f.memory()), "memory.swap.total_bytes");
        assert_eq!(fact_error_path(f.identity()), "identity.uid");
        assert_eq!(fact_error_path(f.hostname()), "hostname");
        assert_eq!(
            f.processors().err().map(|e| e.to_string()).as_deref(),
            Some(
                "fact processors has the wrong shape: invalid type: string \"many\", expected a hash"
            )
        );
    }

    #[test]
    fn legacy_names_win_over_networking() {
        let f = facts(json!({
            "hostname": "legacy",
            "networking": {"hostname": "structured", "fqdn": "structured.example", "domain": "example"}
        }));
        assert_eq!(f.hostname().ok().flatten(), Some("legacy"));
        assert_eq!(f.fqdn().ok().flatten(), Some("structured.example"));
        assert_eq!(f.domain().ok().flatten(), Some("example"));
    }

    #[test]
    fn views_ignore_keys_they_do_not_model() {
        let f = facts(json!({"identity": {"user": "puppet", "sid": "S-1-5-18", "uid": 999}}));
        let identity = f.identity().ok().flatten();
        assert_eq!(identity.as_ref().and_then(|i| i.user), Some("puppet"));
        assert_eq!(identity.as_ref().and_then(|i| i.uid), Some(999));
        assert_eq!(identity.and_then(|i| i.group), None);
    }
}
