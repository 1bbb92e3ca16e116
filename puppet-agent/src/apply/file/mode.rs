//! `mode` (numeric and symbolic), `owner` and `group`: names and ids.

pub(super) fn umask_default(base: u32) -> u32 {
    let mask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(mask);
    base & !mask.bits()
}

/// The mode `spec` asks for, given the current mode (symbolic modes are relative to it); for a
/// directory, search bits go with read bits as Puppet's `dirmask` does.
///
/// ```
/// use puppet_agent::apply::file::desired_mode;
/// assert_eq!(desired_mode("0644", 0o600, false), Ok(0o644));
/// assert_eq!(desired_mode("644", 0o600, true), Ok(0o755));
/// assert_eq!(desired_mode("u=rw,go=r", 0o777, false), Ok(0o644));
/// assert_eq!(desired_mode("a+x", 0o644, false), Ok(0o755));
/// assert_eq!(desired_mode("go-w", 0o666, false), Ok(0o644));
/// assert!(desired_mode("u=q", 0o644, false).is_err());
/// ```
pub fn desired_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    let bad = || format!("The file mode specification is invalid: {spec:?}");
    let mut mode = if !spec.is_empty() && spec.chars().all(|c| c.is_digit(8)) {
        if spec.len() > 4 {
            return Err(bad());
        }
        u32::from_str_radix(spec, 8).map_err(|_| bad())?
    } else {
        let mut mode = current & 0o7777;
        for clause in spec.split(',') {
            let op_at = clause.find(['+', '-', '=']).ok_or_else(bad)?;
            let (who, rest) = clause.split_at(op_at);
            let mut mask = 0u32;
            for c in who.chars() {
                mask |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(bad()),
                };
            }
            if who.is_empty() {
                mask = 0o7777;
            }
            let mut chars = rest.chars();
            let op = chars.next().ok_or_else(bad)?;
            let mut bits = 0u32;
            for c in chars {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        if is_dir || mode & 0o111 != 0 {
                            0o111
                        } else {
                            0
                        }
                    }
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return Err(bad()),
                };
            }
            let bits = bits & mask;
            mode = match op {
                '+' => mode | bits,
                '-' => mode & !bits,
                _ => (mode & !(mask & 0o7777 & !0o1000 | (mask & 0o1000))) | bits,
            };
        }
        mode
    };
    if is_dir {
        if mode & 0o400 != 0 {
            mode |= 0o100;
        }
        if mode & 0o040 != 0 {
            mode |= 0o010;
        }
        if mode & 0o004 != 0 {
            mode |= 0o001;
        }
    }
    Ok(mode)
}

pub(super) fn user_id(name: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
        .ok_or_else(|| format!("Could not find user {name}"))
}

pub(super) fn group_id(name: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| format!("Could not find group {name}"))
}

pub(super) fn user_name(id: u32) -> String {
    nix::unistd::User::from_uid(id.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| id.to_string())
}

pub(super) fn group_name(id: u32) -> String {
    nix::unistd::Group::from_gid(id.into())
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| id.to_string())
}

/// Removes what is at `path` (a directory with everything in it).
pub(super) fn remove(path: &std::path::Path, cur: &super::Current) -> std::io::Result<()> {
    match cur {
        super::Current::Directory => std::fs::remove_dir_all(path),
        super::Current::Absent => Ok(()),
        _ => std::fs::remove_file(path),
    }
}
