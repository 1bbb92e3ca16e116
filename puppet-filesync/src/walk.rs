//! Reading a staging tree: one `lstat` per path, refusals naming the path.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::manifest::check_name;
use crate::{Error, Refusal};

/// What identifies a file's content without reading it (the stat cache's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Stat {
    pub(crate) fn of(m: &fs::Metadata) -> Stat {
        Stat {
            size: m.size(),
            dev: m.dev(),
            ino: m.ino(),
            mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
            ctime_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
        }
    }
}

pub(crate) enum StagedKind {
    Dir,
    File { stat: Stat, executable: bool },
    Link { target: String },
}

pub(crate) struct Staged {
    pub path: String,
    pub kind: StagedKind,
}

/// Lists everything under `root` (not `root` itself), depth first, refusing what cannot be
/// published.
pub(crate) fn walk(root: &Path) -> Result<Vec<Staged>, Error> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let shown = |name: &str| {
            if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            }
        };
        let rd = fs::read_dir(&dir).map_err(|e| {
            Error::refused(
                if rel.is_empty() {
                    ".".into()
                } else {
                    rel.clone()
                },
                Refusal::Unreadable(e),
            )
        })?;
        for item in rd {
            let item = item.map_err(|e| Error::refused(shown(""), Refusal::Unreadable(e)))?;
            let os_name = item.file_name();
            let Some(name) = os_name.to_str() else {
                return Err(Error::refused(
                    shown(&os_name.to_string_lossy()),
                    Refusal::NotUtf8,
                ));
            };
            let path = shown(name);
            check_name(name).map_err(|r| Error::refused(path.clone(), Refusal::BadName(r)))?;
            let m = item
                .metadata()
                .map_err(|e| Error::refused(path.clone(), Refusal::Unreadable(e)))?;
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                stack.push(path.clone());
                StagedKind::Dir
            } else if ft.is_file() {
                StagedKind::File {
                    stat: Stat::of(&m),
                    executable: m.mode() & 0o100 != 0,
                }
            } else if ft.is_symlink() {
                let t = fs::read_link(item.path())
                    .map_err(|e| Error::refused(path.clone(), Refusal::Unreadable(e)))?;
                let Some(target) = t.to_str() else {
                    return Err(Error::refused(path, Refusal::NotUtf8));
                };
                StagedKind::Link {
                    target: target.to_owned(),
                }
            } else {
                let kind = if ft.is_fifo() {
                    "FIFO"
                } else if ft.is_socket() {
                    "socket"
                } else if ft.is_char_device() {
                    "character device"
                } else if ft.is_block_device() {
                    "block device"
                } else {
                    "special file"
                };
                return Err(Error::refused(path, Refusal::SpecialFile { kind }));
            };
            out.push(Staged { path, kind });
        }
    }
    Ok(out)
}
