//! `networking`: interfaces with bindings, mac, mtu, dhcp; the primary interface's values;
//! hostname, domain, fqdn.
//!
//! Sources: `getifaddrs(3)` (interfaces, addresses, netmasks, link addresses),
//! `/sys/class/net/<if>/{mtu,ifindex,master}` (what facter reads from `ip link show`),
//! `/proc/net/bonding/<master>` (a bond slave's permanent MAC), `/proc/net/if_inet6` (IPv6
//! address flags), `/proc/net/route` (primary interface), DHCP leases
//! (`/run/systemd/netif/leases/<ifindex>`, `dhclient*.lease*` under `/var/lib/dhclient/`,
//! `/var/lib/dhcp/`, `/var/lib/dhcp3/`, `/var/lib/NetworkManager/`, `/var/db/`, and
//! `/var/lib/NetworkManager/internal*<if>.lease`), `gethostname(2)`, `/etc/hosts` (the
//! canonical name `getaddrinfo(AI_CANONNAME)` returns through NSS `files`), `/etc/resolv.conf`
//! (`domain`, else the first `search` word).
//!
//! The main routing table's source addresses (facter's `ip route show ... src`) come from
//! netlink (`RTM_GETROUTE`). Not read: `dhcpcd -U`, DNS for the fqdn.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use super::{IfAddr, Route, Sources, System, s};
use crate::FactsError;

const IFA_FLAGS: [(&str, u32); 8] = [
    ("temporary", 0x01),
    ("noad", 0x02),
    ("optimistic", 0x04),
    ("dadfailed", 0x08),
    ("homeaddress", 0x10),
    ("deprecated", 0x20),
    ("tentative", 0x40),
    ("permanent", 0x80),
];

/// Ruby `IPAddr#to_s`: RFC 5952 except IPv4-compatible addresses print as `::a.b.c.d`.
pub fn ip_to_s(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if seg[..6] == [0; 6] && (seg[6] != 0 || seg[7] > 1) {
                let o = v6.octets();
                return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            }
            v6.to_string()
        }
    }
}

fn prefix_len(mask: &IpAddr) -> u32 {
    match mask {
        IpAddr::V4(m) => u32::from(*m).count_ones(),
        IpAddr::V6(m) => u128::from(*m).count_ones(),
    }
}

fn mask_of(ip: &IpAddr, len: u32) -> (IpAddr, IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            (
                IpAddr::V4(Ipv4Addr::from(m)),
                IpAddr::V4(Ipv4Addr::from(u32::from(*a) & m)),
            )
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            (
                IpAddr::V6(Ipv6Addr::from(m)),
                IpAddr::V6(Ipv6Addr::from(u128::from(*a) & m)),
            )
        }
    }
}

/// facter's `scope6`: `link`, `site`, `host` or `global`, prefixed `compat,` for
/// IPv4-compatible addresses.
/// ```
/// use puppet_facts::collect::networking::scope6;
/// assert_eq!(scope6(&"fe80::1".parse().unwrap()), "link");
/// assert_eq!(scope6(&"::1".parse().unwrap()), "host");
/// assert_eq!(scope6(&"fd00::2".parse().unwrap()), "global");
/// ```
pub fn scope6(ip: &Ipv6Addr) -> String {
    let seg = ip.segments();
    let mut out = String::new();
    if seg[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        out.push_str("compat,");
    }
    out.push_str(if seg[0] & 0xffc0 == 0xfe80 {
        "link"
    } else if seg[0] & 0xffc0 == 0xfec0 {
        "site"
    } else if ip.is_loopback() {
        "host"
    } else {
        "global"
    });
    out
}

fn ignored(address: &str) -> bool {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback() || (a.octets()[0] == 169 && a.octets()[1] == 254),
        Ok(IpAddr::V6(a)) => {
            a.is_loopback()
                || a.segments()[0] & 0xffc0 == 0xfe80
                || a.segments()[0] & 0xfe00 == 0xfc00
        }
        Err(_) => true,
    }
}

/// `/proc/net/if_inet6`: interface → address → flag names.
pub fn parse_if_inet6(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 6 {
            continue;
        }
        let Ok(bits) = u128::from_str_radix(cols[0], 16) else {
            continue;
        };
        let flags = u32::from_str_radix(cols[4], 16).unwrap_or(0);
        let names = IFA_FLAGS
            .iter()
            .filter(|(_, v)| flags & v != 0)
            .map(|(n, _)| (*n).to_string())
            .collect();
        out.entry(cols[5].to_string())
            .or_default()
            .insert(ip_to_s(&IpAddr::V6(Ipv6Addr::from(bits))), names);
    }
    out
}

/// `/proc/net/route`: the first default route's interface.
/// ```
/// use puppet_facts::collect::networking::primary_from_route;
/// let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
///              eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
/// assert_eq!(primary_from_route(table).as_deref(), Some("eth0"));
/// ```
pub fn primary_from_route(text: &str) -> Option<String> {
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.trim().split('\t').collect();
        (cols.len() > 7 && cols[1] == "00000000" && cols[7] == "00000000" && cols[0] != "*")
            .then(|| cols[0].to_string())
    })
}

/// A bond slave's `Permanent HW addr` from `/proc/net/bonding/<master>`.
pub fn bond_slave_mac(bonding: &str, slave: &str) -> Option<String> {
    let mut found = false;
    for line in bonding.lines() {
        if line.trim() == format!("Slave Interface: {slave}") {
            found = true;
        } else if line.contains("Slave Interface") {
            found = false;
        }
        if found && let Some((_, mac)) = line.split_once("Permanent HW addr: ") {
            return mac.split_whitespace().next().map(str::to_string);
        }
    }
    None
}

fn valid_mac(mac: &str) -> bool {
    if mac == "00:00:00:00:00:00" {
        return false;
    }
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    (6..=20).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn dhcp_server(sources: &Sources, name: &str, index: Option<&str>) -> Option<String> {
    if let Some(index) = index
        && let Some(text) = sources
            .read(&format!("/run/systemd/netif/leases/{index}"))
            .ok()
            .flatten()
        && let Some(v) = text
            .lines()
            .find_map(|l| l.split_once("SERVER_ADDRESS=").map(|x| x.1))
    {
        return Some(v.to_string());
    }
    for dir in [
        "/var/lib/dhclient/",
        "/var/lib/dhcp/",
        "/var/lib/dhcp3/",
        "/var/lib/NetworkManager/",
        "/var/db/",
    ] {
        let Ok(Some(mut files)) = sources.list(dir) else {
            continue;
        };
        files.retain(|f| {
            f.find("dhclient")
                .is_some_and(|i| f[i..].contains(".lease"))
        });
        for file in files {
            let Some(text) = sources.read(&format!("{dir}{file}")).ok().flatten() else {
                continue;
            };
            let mentions = text
                .lines()
                .any(|l| l.find("interface").is_some_and(|i| l[i..].contains(name)));
            if !mentions {
                continue;
            }
            for line in text.lines() {
                if let Some((_, rest)) = line.split_once("dhcp-server-identifier ") {
                    let ip: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.')
                        .collect();
                    if ip.parse::<Ipv4Addr>().is_ok() {
                        return Some(ip);
                    }
                }
            }
        }
    }
    let files = sources.list("/var/lib/NetworkManager/").ok().flatten()?;
    let file = files.iter().find(|f| {
        f.find("internal")
            .is_some_and(|i| f[i..].contains(&format!("{name}.lease")))
    })?;
    let text = sources
        .read(&format!("/var/lib/NetworkManager/{file}"))
        .ok()
        .flatten()?;
    text.lines()
        .find_map(|l| l.split_once("SERVER_ADDRESS=").map(|x| x.1.to_string()))
}

/// hostname, domain and fqdn from `gethostname()`, `/etc/hosts` and `/etc/resolv.conf`.
/// ```
/// use puppet_facts::collect::networking::names;
/// let (host, domain, fqdn) = names("db1", Some("10.0.0.5 db1.example.net db1\n"), None);
/// assert_eq!((host.as_str(), domain.as_deref(), fqdn.as_str()), ("db1", Some("example.net"), "db1.example.net"));
/// ```
pub fn names(
    host: &str,
    hosts: Option<&str>,
    resolv: Option<&str>,
) -> (String, Option<String>, String) {
    if let Some((h, d)) = host.split_once('.') {
        return (h.to_string(), Some(d.to_string()), host.to_string());
    }
    // getaddrinfo(AI_CANONNAME) through NSS files: the first name of the line naming host.
    let canonical = hosts.and_then(|text| {
        text.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let _addr = words.next()?;
            let names: Vec<&str> = words.collect();
            names.contains(&host).then(|| names[0].to_string())
        })
    });
    let mut fqdn = None;
    let mut domain = None;
    if let Some(c) = canonical.filter(|c| c != host && c.parse::<IpAddr>().is_err()) {
        if let Some(d) = c.strip_prefix(&format!("{host}.")) {
            domain = Some(d.to_string());
        }
        fqdn = Some(c);
    }
    if domain.is_none()
        && let Some(text) = resolv
    {
        let find = |key: &str| {
            text.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(key))
                    .then(|| w.next().map(str::to_string))
                    .flatten()
            })
        };
        domain = find("domain").or_else(|| find("search"));
    }
    let fqdn = fqdn.unwrap_or_else(|| match &domain {
        Some(d) => format!("{host}.{d}"),
        None => host.to_string(),
    });
    (host.to_string(), domain, fqdn)
}

/// Builds `networking.interfaces` and the primary interface's values from `getifaddrs`
/// entries, the routes' source addresses and the files under `sources`.
pub fn interfaces(
    sources: &Sources,
    addrs: &[IfAddr],
    routes: &[Route],
) -> (Map<String, Value>, Option<String>) {
    let mut ifaces: Map<String, Value> = Map::new();
    let flags = sources
        .read("/proc/net/if_inet6")
        .ok()
        .flatten()
        .map(|t| parse_if_inet6(&t))
        .unwrap_or_default();
    for a in addrs {
        let entry = ifaces
            .entry(a.name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(iface) = entry else {
            continue;
        };
        if !iface.contains_key("mac") {
            let master = sources
                .path(&format!("/sys/class/net/{}/master", a.name))
                .read_link()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            let mac = master
                .and_then(|m| {
                    sources
                        .read(&format!("/proc/net/bonding/{m}"))
                        .ok()
                        .flatten()
                })
                .and_then(|b| bond_slave_mac(&b, &a.name))
                .or_else(|| a.mac.clone());
            if let Some(mac) = mac.filter(|m| valid_mac(m)) {
                iface.insert("mac".into(), s(mac));
            }
        }
        let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
            continue;
        };
        let len = prefix_len(&mask);
        let (netmask, network) = mask_of(&addr, len);
        let mut b = Map::new();
        b.insert("address".into(), s(ip_to_s(&addr)));
        b.insert("netmask".into(), s(ip_to_s(&netmask)));
        b.insert("network".into(), s(ip_to_s(&network)));
        let key = match addr {
            IpAddr::V4(_) => "bindings",
            IpAddr::V6(v6) => {
                b.insert("scope6".into(), s(scope6(&v6)));
                "bindings6"
            }
        };
        if let Value::Array(list) = iface.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(Value::Object(b));
        }
    }
    let names: Vec<String> = ifaces.keys().cloned().collect();
    // Routes' source addresses that are not bindings yet: `{address}` only (facter's
    // `ip route show` ... `src`).
    let indexes: BTreeMap<String, String> = names
        .iter()
        .filter_map(|n| {
            Some((
                sources.attr(&format!("/sys/class/net/{n}/ifindex"))?,
                n.clone(),
            ))
        })
        .collect();
    for route in routes {
        let Some(name) = indexes.get(&route.ifindex.to_string()) else {
            continue;
        };
        let Some(Value::Object(iface)) = ifaces.get_mut(name) else {
            continue;
        };
        let key = if route.src.is_ipv4() {
            "bindings"
        } else {
            "bindings6"
        };
        let address = ip_to_s(&route.src);
        if let Value::Array(list) = iface.entry(key).or_insert_with(|| Value::Array(Vec::new()))
            && !list.iter().any(|b| b["address"] == address.as_str())
        {
            let mut b = Map::new();
            b.insert("address".into(), s(address));
            list.push(Value::Object(b));
        }
    }
    for name in &names {
        let Some(Value::Object(iface)) = ifaces.get_mut(name) else {
            continue;
        };
        let base = format!("/sys/class/net/{name}");
        if let Some(mtu) = sources
            .attr(&format!("{base}/mtu"))
            .and_then(|m| m.parse::<u64>().ok())
        {
            iface.insert("mtu".into(), Value::from(mtu));
        }
        let index = sources.attr(&format!("{base}/ifindex"));
        if let Some(d) = dhcp_server(sources, name, index.as_deref()) {
            iface.insert("dhcp".into(), s(d));
        }
        for (key, suffix) in [("bindings", ""), ("bindings6", "6")] {
            let chosen = match iface.get(key) {
                Some(Value::Array(list)) => list
                    .iter()
                    .find(|b| !ignored(b["address"].as_str().unwrap_or("")))
                    .or_else(|| list.first())
                    .cloned(),
                _ => None,
            };
            if let Some(b) = chosen {
                iface.insert(format!("ip{suffix}"), b["address"].clone());
                iface.insert(format!("netmask{suffix}"), b["netmask"].clone());
                iface.insert(format!("network{suffix}"), b["network"].clone());
                if suffix == "6"
                    && let Some(Ok(v6)) = b["address"].as_str().map(str::parse::<Ipv6Addr>)
                {
                    iface.insert("scope6".into(), s(scope6(&v6)));
                }
            }
        }
    }
    for (name, iface) in ifaces.iter_mut() {
        let Some(by_address) = flags.get(name) else {
            continue;
        };
        if let Some(Value::Array(list)) = iface.get_mut("bindings6") {
            for b in list.iter_mut() {
                let found = b["address"].as_str().and_then(|a| by_address.get(a));
                if let (Some(f), Value::Object(m)) = (found, b) {
                    m.insert(
                        "flags".into(),
                        Value::Array(f.iter().map(|x| s(x.clone())).collect()),
                    );
                }
            }
        }
    }
    let primary = sources
        .read("/proc/net/route")
        .ok()
        .flatten()
        .and_then(|t| primary_from_route(&t))
        .or_else(|| {
            // The first interface (getifaddrs order) with a binding that is not ignored.
            let mut seen = Vec::new();
            for a in addrs {
                if !seen.contains(&&a.name) {
                    seen.push(&a.name);
                }
            }
            seen.into_iter()
                .find(|n| {
                    ["bindings", "bindings6"].iter().any(|k| {
                        ifaces[n.as_str()][*k].as_array().is_some_and(|l| {
                            l.iter()
                                .any(|b| !ignored(b["address"].as_str().unwrap_or("")))
                        })
                    })
                })
                .cloned()
        });
    (ifaces, primary)
}

/// Collects `networking`.
pub fn collect(
    sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let mut net = Map::new();
    if let Some(host) = system.hostname() {
        let hosts = sources.read("/etc/hosts").ok().flatten();
        let resolv = sources.read("/etc/resolv.conf").ok().flatten();
        let (hostname, domain, fqdn) = names(&host, hosts.as_deref(), resolv.as_deref());
        net.insert("hostname".into(), s(hostname));
        if let Some(d) = domain {
            net.insert("domain".into(), s(d));
        }
        net.insert("fqdn".into(), s(fqdn));
    }
    let result = match system.interfaces() {
        Ok(addrs) => {
            // A failed route dump only loses the routes' extra addresses.
            let routes = system.routes().unwrap_or_default();
            let (ifaces, primary) = interfaces(sources, &addrs, &routes);
            if let Some(Value::Object(p)) = primary.as_ref().and_then(|p| ifaces.get(p)) {
                for (k, v) in p {
                    if k != "bindings" && k != "bindings6" {
                        net.insert(k.clone(), v.clone());
                    }
                }
            }
            if let Some(p) = primary {
                net.insert("primary".into(), s(p));
            }
            net.insert("interfaces".into(), Value::Object(ifaces));
            Ok(())
        }
        Err(e) => Err(super::source_error("networking", "getifaddrs(3)", &e)),
    };
    if !net.is_empty() {
        facts.insert("networking".into(), Value::Object(net));
    }
    result
}
