//! The system calls a collection makes, behind a trait so the families run on captured data
//! in tests. [`Live`] is this machine.

use std::net::IpAddr;
use std::path::Path;

/// `uname(2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uname {
    /// `sysname` (`Linux`).
    pub sysname: String,
    /// `release` (`6.1.0-13-amd64`).
    pub release: String,
    /// `machine` (`x86_64`).
    pub machine: String,
}

/// One `getifaddrs(3)` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// Interface name.
    pub name: String,
    /// Link-layer address (AF_PACKET entry), as `aa:bb:...`.
    pub mac: Option<String>,
    /// Address (AF_INET/AF_INET6 entry).
    pub address: Option<IpAddr>,
    /// Its netmask.
    pub netmask: Option<IpAddr>,
}

/// `statvfs(3)` of a mount point, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    /// `f_blocks × f_frsize`.
    pub size: u64,
    /// `f_bavail × f_frsize`.
    pub available: u64,
    /// `(f_blocks − f_bfree) × f_frsize`.
    pub used: u64,
}

/// The passwd entry of the real uid and its primary group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// `pw_uid`.
    pub uid: u32,
    /// `pw_name`.
    pub user: String,
    /// `pw_gid`.
    pub gid: u32,
    /// `gr_name` of `pw_gid`, if the group exists.
    pub group: Option<String>,
}

/// A route of the main table with a preferred source address (`ip route show`'s
/// `dev X ... src Y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The output interface's index.
    pub ifindex: u32,
    /// The preferred source address.
    pub src: IpAddr,
}

/// System calls (and process state) the families need besides files.
pub trait System: Sync {
    /// Routes of the main table with a source address, IPv4 then IPv6 (netlink
    /// `RTM_GETROUTE`), skipping `linkdown` ones. None by default.
    fn routes(&self) -> std::io::Result<Vec<Route>> {
        Ok(Vec::new())
    }
    /// `uname(2)`.
    fn uname(&self) -> Option<Uname>;
    /// `gethostname(2)`.
    fn hostname(&self) -> Option<String>;
    /// `getifaddrs(3)`, in its order.
    fn interfaces(&self) -> std::io::Result<Vec<IfAddr>>;
    /// `statvfs(3)`; `None` when it fails.
    fn statvfs(&self, path: &Path) -> Option<FsStats>;
    /// The real user (`getpwuid(getuid())`).
    fn user(&self) -> Option<UserInfo>;
    /// The effective uid, for the external fact default directories.
    fn is_root(&self) -> bool;
    /// An environment variable of this process (`PATH`, `HOME`).
    fn env(&self, name: &str) -> Option<String>;
    /// The local time zone's abbreviation now (`UTC`, `CET`), honouring `TZ`.
    fn timezone(&self) -> Option<String>;
}

/// This machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live;

impl System for Live {
    fn routes(&self) -> std::io::Result<Vec<Route>> {
        let mut out = Vec::new();
        for family in [2u8, 10u8] {
            out.extend(parse_route_dump(&netlink_dump(family)?));
        }
        Ok(out)
    }

    fn uname(&self) -> Option<Uname> {
        let u = nix::sys::utsname::uname().ok()?;
        Some(Uname {
            sysname: u.sysname().to_string_lossy().into_owned(),
            release: u.release().to_string_lossy().into_owned(),
            machine: u.machine().to_string_lossy().into_owned(),
        })
    }

    fn hostname(&self) -> Option<String> {
        nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned())
    }

    fn interfaces(&self) -> std::io::Result<Vec<IfAddr>> {
        let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
        Ok(addrs
            .map(|a| {
                let mac = a
                    .address
                    .as_ref()
                    .and_then(|s| s.as_link_addr())
                    .and_then(|l| l.addr())
                    .map(|b| {
                        b.iter()
                            .map(|x| format!("{x:02x}"))
                            .collect::<Vec<_>>()
                            .join(":")
                    });
                IfAddr {
                    name: a.interface_name,
                    mac,
                    address: a.address.as_ref().and_then(ip_of),
                    netmask: a.netmask.as_ref().and_then(ip_of),
                }
            })
            .collect())
    }

    fn statvfs(&self, path: &Path) -> Option<FsStats> {
        let st = nix::sys::statvfs::statvfs(path).ok()?;
        let frsize = st.fragment_size() as u64;
        let blocks = st.blocks() as u64;
        Some(FsStats {
            size: blocks.saturating_mul(frsize),
            available: (st.blocks_available() as u64).saturating_mul(frsize),
            used: blocks
                .saturating_sub(st.blocks_free() as u64)
                .saturating_mul(frsize),
        })
    }

    fn user(&self) -> Option<UserInfo> {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid).ok()??;
        let group = nix::unistd::Group::from_gid(user.gid)
            .ok()
            .flatten()
            .map(|g| g.name);
        Some(UserInfo {
            uid: user.uid.as_raw(),
            user: user.name,
            gid: user.gid.as_raw(),
            group,
        })
    }

    fn is_root(&self) -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn timezone(&self) -> Option<String> {
        timezone_abbreviation(std::env::var("TZ").ok().as_deref())
    }
}

fn ip_of(addr: &nix::sys::socket::SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// The abbreviation (`UTC`, `CET`, `EST`) of the local zone now, for a value of `TZ`
/// (`None` when unset), as Ruby's `Time.now.strftime('%Z')` gives it.
///
/// ```
/// use puppet_facts::collect::timezone_abbreviation;
/// assert_eq!(timezone_abbreviation(Some("UTC")).as_deref(), Some("UTC"));
/// assert_eq!(timezone_abbreviation(Some("<+03>-3")).as_deref(), Some("+03"));
/// ```
pub fn timezone_abbreviation(tz: Option<&str>) -> Option<String> {
    let zone = local_zone(tz)?;
    Some(
        zone.to_offset_info(jiff::Timestamp::now())
            .abbreviation()
            .to_string(),
    )
}

/// The local zone as libc's `localtime` finds it: `TZ` (`:path`, a zone name under
/// `/usr/share/zoneinfo`, or a POSIX rule such as `EST5EDT`), else `/etc/localtime`, else UTC.
/// Reading the one TZif file directly avoids jiff's search of the whole zone database for the
/// zone's name, which a one-shot process would pay for on every run. (Also what the agent's
/// `schedule` reads local hours and weekdays with, as Ruby's `Time.local` does.)
///
/// ```
/// let zone = puppet_facts::collect::local_zone(Some("UTC")).unwrap();
/// assert_eq!(jiff::Timestamp::UNIX_EPOCH.to_zoned(zone).hour(), 0);
/// ```
pub fn local_zone(tz: Option<&str>) -> Option<jiff::tz::TimeZone> {
    use jiff::tz::TimeZone;
    let tzif = |path: &Path| {
        std::fs::read(path)
            .ok()
            .and_then(|data| TimeZone::tzif("local", &data).ok())
    };
    match tz {
        Some("") | None => Some(tzif(Path::new("/etc/localtime")).unwrap_or(TimeZone::UTC)),
        Some(value) => {
            let name = value.strip_prefix(':').unwrap_or(value);
            let path = if name.starts_with('/') {
                Path::new(name).to_path_buf()
            } else {
                Path::new("/usr/share/zoneinfo").join(name)
            };
            if !name.contains("..")
                && let Some(zone) = tzif(&path)
            {
                return Some(zone);
            }
            if let Ok(zone) = TimeZone::posix(name) {
                return Some(zone);
            }
            // glibc keeps the leading letters of an unknown zone as UTC's abbreviation.
            let letters: String = name.chars().take_while(char::is_ascii_alphabetic).collect();
            if letters.len() >= 3 {
                TimeZone::posix(&format!("{letters}0")).ok()
            } else {
                Some(TimeZone::UTC)
            }
        }
    }
}

/// One `RTM_GETROUTE` dump over a netlink socket: the raw reply messages.
fn netlink_dump(family: u8) -> std::io::Result<Vec<u8>> {
    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
        socket,
    };
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    // nlmsghdr (16 bytes) + rtmsg (12 bytes)
    let mut req = Vec::with_capacity(28);
    req.extend_from_slice(&28u32.to_ne_bytes());
    req.extend_from_slice(&26u16.to_ne_bytes()); // RTM_GETROUTE
    req.extend_from_slice(&0x0301u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[family, 0, 0, 0, 0, 0, 0, 0]);
    req.extend_from_slice(&0u32.to_ne_bytes());
    send(fd.as_raw_fd(), &req, MsgFlags::empty())?;
    let mut all = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    for _ in 0..4096 {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        all.extend_from_slice(chunk);
        if messages(chunk).any(|(kind, _)| kind == 3 || kind == 2) {
            break; // NLMSG_DONE or NLMSG_ERROR
        }
    }
    Ok(all)
}

/// `(type, payload)` of each netlink message in a buffer.
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().ok()?);
        if len < 16 || len > rest.len() {
            return None;
        }
        let payload = &rest[16..len];
        rest = &rest[((len + 3) & !3).min(rest.len())..];
        Some((kind, payload))
    })
}

/// The routes with a source address in a `RTM_GETROUTE` dump: main table only, `linkdown`
/// (`RTNH_F_LINKDOWN`) skipped, as facter's reading of `ip route show`.
pub fn parse_route_dump(buf: &[u8]) -> Vec<Route> {
    let mut out = Vec::new();
    for (kind, payload) in messages(buf) {
        if kind != 24 || payload.len() < 12 {
            continue; // RTM_NEWROUTE only
        }
        let family = payload[0];
        let mut table = u32::from(payload[4]);
        let flags = u32::from_ne_bytes([payload[8], payload[9], payload[10], payload[11]]);
        if flags & 16 != 0 {
            continue;
        }
        let (mut oif, mut src) = (None, None);
        let mut attrs = &payload[12..];
        while attrs.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
            let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
            if len < 4 || len > attrs.len() {
                break;
            }
            let data = &attrs[4..len];
            match (kind, data.len()) {
                (4, 4) => oif = Some(u32::from_ne_bytes([data[0], data[1], data[2], data[3]])),
                (7, 4) if family == 2 => {
                    src = Some(IpAddr::from([data[0], data[1], data[2], data[3]]))
                }
                (7, 16) if family == 10 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(data);
                    src = Some(IpAddr::from(a));
                }
                (15, 4) => table = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]),
                _ => {}
            }
            attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
        }
        if let (254, Some(ifindex), Some(src)) = (table, oif, src) {
            out.push(Route { ifindex, src });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        a
    }

    fn route(family: u8, table: u8, flags: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![family, 24, 0, 0, table, 2, 0, 1];
        p.extend_from_slice(&flags.to_ne_bytes());
        for a in attrs {
            p.extend_from_slice(a);
        }
        msg(24, &p)
    }

    #[test]
    fn route_dump_keeps_main_table_sources() {
        let mut buf = Vec::new();
        buf.extend(route(
            2,
            254,
            0,
            &[attr(4, &2u32.to_ne_bytes()), attr(7, &[192, 0, 2, 2])],
        ));
        // local table, linkdown, and no source: skipped
        buf.extend(route(
            2,
            255,
            0,
            &[attr(4, &2u32.to_ne_bytes()), attr(7, &[127, 0, 0, 1])],
        ));
        buf.extend(route(
            2,
            254,
            16,
            &[attr(4, &3u32.to_ne_bytes()), attr(7, &[10, 0, 0, 1])],
        ));
        buf.extend(route(2, 254, 0, &[attr(4, &2u32.to_ne_bytes())]));
        let v6: [u8; 16] = "fd00::2"
            .parse::<std::net::Ipv6Addr>()
            .map(|a| a.octets())
            .unwrap_or_default();
        buf.extend(route(
            10,
            254,
            0,
            &[attr(4, &5u32.to_ne_bytes()), attr(7, &v6)],
        ));
        buf.extend(msg(3, &[0; 4]));
        assert_eq!(
            parse_route_dump(&buf),
            [
                Route {
                    ifindex: 2,
                    src: IpAddr::from([192, 0, 2, 2])
                },
                Route {
                    ifindex: 5,
                    src: IpAddr::from(v6)
                },
            ]
        );
        // Truncated input is no panic.
        for cut in 0..buf.len() {
            let _ = parse_route_dump(&buf[..cut]);
        }
    }
}
