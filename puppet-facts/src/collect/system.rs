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
/// zone's name, which a one-shot process would pay for on every run.
fn local_zone(tz: Option<&str>) -> Option<jiff::tz::TimeZone> {
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
            if !name.contains("..") {
                if let Some(zone) = tzif(&path) {
                    return Some(zone);
                }
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
