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

/// System calls (and process state) the families need besides files.
pub trait System: Sync {
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
        let now = jiff::Zoned::now();
        Some(now.strftime("%Z").to_string())
    }
}

fn ip_of(addr: &nix::sys::socket::SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}
