//! Reading a staging tree: one `lstat` per path, refusals naming the path.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::{Condvar, Mutex};

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

/// Lists everything under `root` (not `root` itself), refusing what cannot be published.
/// Directories are read by `threads` threads sharing one queue (one `lstat` per entry, no
/// more); the order of the list is unspecified (the manifest sorts it). When several paths
/// would be refused, which one is named is unspecified too.
pub(crate) fn walk(root: &Path, threads: usize) -> Result<Vec<Staged>, Error> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    struct Queue {
        dirs: Vec<String>,
        /// Directories being read: the walk ends when none is and the queue is empty.
        busy: usize,
        failed: bool,
    }
    let queue = Mutex::new(Queue {
        dirs: vec![String::new()],
        busy: 0,
        failed: false,
    });
    let more = Condvar::new();
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    let parts: Vec<Vec<Staged>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let rel = {
                            let mut q = lock(&queue);
                            loop {
                                if q.failed {
                                    return out;
                                }
                                if let Some(d) = q.dirs.pop() {
                                    q.busy += 1;
                                    break d;
                                }
                                if q.busy == 0 {
                                    more.notify_all();
                                    return out;
                                }
                                q = more
                                    .wait(q)
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                            }
                        };
                        let mut subdirs = Vec::new();
                        let r = read_one(root, &rel, &mut out, &mut subdirs);
                        let mut q = lock(&queue);
                        q.busy -= 1;
                        if let Err(e) = r {
                            q.failed = true;
                            lock(&first_error).get_or_insert(e);
                        }
                        q.dirs.append(&mut subdirs);
                        more.notify_all();
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    if lock(&queue).busy != 0 {
        return Err(Error::io(
            root,
            std::io::Error::other("a walking thread stopped early"),
        ));
    }
    Ok(parts.into_iter().flatten().collect())
}

/// Reads one directory of the tree: its entries into `out`, its subdirectories into `subdirs`.
fn read_one(
    root: &Path,
    rel: &str,
    out: &mut Vec<Staged>,
    subdirs: &mut Vec<String>,
) -> Result<(), Error> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
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
            if rel.is_empty() { "." } else { rel }.to_owned(),
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
            subdirs.push(path.clone());
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
    Ok(())
}
