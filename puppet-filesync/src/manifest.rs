//! Manifests: the sorted list of what one version of an environment holds, in a stable form
//! whose SHA-256 is the version's code_id.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Digest, Error, Refusal};

/// The first line of every manifest.
const HEADER: &str = r#"{"format":"puppet-filesync-manifest","version":1}"#;

/// How many symbolic links are followed before a chain counts as a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

/// The identifier of one version of an environment: the SHA-256 of its manifest, as 64
/// lowercase hexadecimal digits (so it fits Puppetserver's `[_-:;a-zA-Z0-9]` rule, and the
/// same tree has the same code_id on every machine).
///
/// ```
/// use puppet_filesync::CodeId;
/// assert!(CodeId::parse("a".repeat(64).as_str()).is_ok());
/// assert!(CodeId::parse("urn:puppet:code-id:1").is_err());
/// assert!(puppet_filesync::is_puppet_code_id("urn:puppet:code-id:1;production"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeId(String);

impl CodeId {
    /// Accepts the code_ids this store makes: 64 lowercase hexadecimal digits.
    pub fn parse(s: &str) -> Result<CodeId, Error> {
        if !is_puppet_code_id(s) {
            return Err(Error::InvalidCodeId {
                code_id: s.to_owned(),
                reason: "Puppet allows only ASCII letters, digits and '_', '-', ':', ';'",
            });
        }
        if Digest::from_hex(s).is_none() {
            return Err(Error::InvalidCodeId {
                code_id: s.to_owned(),
                reason: "this store's code_ids are 64 lowercase hexadecimal digits",
            });
        }
        Ok(CodeId(s.to_owned()))
    }

    /// The code_id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_digest(d: Digest) -> CodeId {
        CodeId(d.to_string())
    }
}

impl fmt::Display for CodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeId({})", self.0)
    }
}

/// Whether `s` is a code_id Puppetserver accepts: only ASCII letters, digits and `_-:;`
/// (Puppetserver's `CodeId` schema; the empty string passes too).
pub fn is_puppet_code_id(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b';'))
}

/// Checks an environment name: `\w+` in ASCII, as Puppetserver's `Environment` schema.
///
/// ```
/// assert!(puppet_filesync::check_environment("production").is_ok());
/// assert!(puppet_filesync::check_environment("../etc").is_err());
/// ```
pub fn check_environment(name: &str) -> Result<(), Error> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(Error::InvalidEnvironment {
            name: name.to_owned(),
        })
    }
}

/// Checks one file name (path component) of a tree.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("empty path component")
    } else if name == "." || name == ".." {
        Err("path component `.` or `..`")
    } else if name.contains('/') {
        Err("'/' inside a name")
    } else if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        Err("control character in a name")
    } else {
        Ok(())
    }
}

/// Checks a relative path (`a/b/c`): components that pass [`check_name`].
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    for c in path.split('/') {
        check_name(c).map_err(|reason| Error::InvalidPath {
            path: path.to_owned(),
            reason,
        })?;
    }
    Ok(())
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the content: the name of its blob.
        sha256: Digest,
    },
    /// A directory.
    Dir,
    /// A symbolic link (relative, resolving inside the tree).
    Link {
        /// The link's target as stored in the link.
        target: String,
    },
}

impl EntryKind {
    /// `file`, `dir` or `link`.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::Dir => "dir",
            EntryKind::Link { .. } => "link",
        }
    }
}

/// One path of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the environment, `/`-separated, UTF-8, no `.`/`..` components.
    pub path: String,
    /// Permission bits, normalised as Git does: files `0o644` or `0o755` (executable),
    /// directories `0o755`, links `0o777`. Materialized versions carry the read-only form
    /// ([`Entry::materialized_mode`]).
    pub mode: u32,
    /// What it is.
    pub kind: EntryKind,
}

impl Entry {
    /// A file entry; `executable` picks mode `0o755` over `0o644`.
    pub fn file(path: impl Into<String>, size: u64, sha256: Digest, executable: bool) -> Entry {
        Entry {
            path: path.into(),
            mode: if executable { 0o755 } else { 0o644 },
            kind: EntryKind::File { size, sha256 },
        }
    }

    /// A directory entry.
    pub fn dir(path: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o755,
            kind: EntryKind::Dir,
        }
    }

    /// A symbolic link entry.
    pub fn link(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o777,
            kind: EntryKind::Link {
                target: target.into(),
            },
        }
    }

    /// The permission bits of this entry in a materialized version: the mode without write
    /// permission (`0o444`, `0o555`).
    pub fn materialized_mode(&self) -> u32 {
        self.mode & 0o555
    }

    pub(crate) fn executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// The serialized form of one entry: one JSON object per line, keys in this order, absent
/// keys omitted.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    path: std::borrow::Cow<'a, str>,
    kind: &'a str,
    mode: &'a str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<std::borrow::Cow<'a, str>>,
}

/// The content of one version: entries sorted by path (byte order), every parent directory
/// present, every link resolving inside the tree.
///
/// Serialized ([`Manifest::to_bytes`]) as JSON lines: a header line
/// `{"format":"puppet-filesync-manifest","version":1}`, then one line per entry such as
/// `{"path":"modules/m/files/a.txt","kind":"file","mode":"0644","size":3,"sha256":"…"}`,
/// `{"path":"modules","kind":"dir","mode":"0755"}` or
/// `{"path":"l","kind":"link","mode":"0777","target":"modules"}`. The form is canonical:
/// [`Manifest::parse`] accepts only bytes that [`Manifest::to_bytes`] would write, so the
/// code_id ([`Manifest::code_id`], the SHA-256 of those bytes) is a function of the tree alone.
///
/// ```
/// use puppet_filesync::{Digest, Entry, Manifest};
/// let m = Manifest::new(vec![
///     Entry::file("modules/m/files/a.txt", 3, Digest::of(b"abc"), false),
///     Entry::dir("modules/m/files"),
///     Entry::dir("modules/m"),
///     Entry::dir("modules"),
///     Entry::link("a", "modules/m/files/a.txt"),
/// ])?;
/// let bytes = m.to_bytes();
/// let again = Manifest::parse(&bytes)?;
/// assert_eq!(again, m);
/// assert_eq!(again.code_id(), m.code_id());
/// assert_eq!(m.resolve("a").unwrap().path, "modules/m/files/a.txt");
/// # Ok::<(), puppet_filesync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Manifest {
    /// Sorts and checks entries: valid paths, no duplicates, parents are directories, modes are
    /// the normalised ones, links are relative and resolve inside the tree.
    pub fn new(mut entries: Vec<Entry>) -> Result<Manifest, Error> {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut index = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            check_path(&e.path)?;
            if index.insert(e.path.clone(), i).is_some() {
                return Err(Error::Manifest {
                    line: 0,
                    reason: format!("{} appears twice", e.path),
                });
            }
            let ok_mode = match e.kind {
                EntryKind::File { .. } => e.mode == 0o644 || e.mode == 0o755,
                EntryKind::Dir => e.mode == 0o755,
                EntryKind::Link { .. } => e.mode == 0o777,
            };
            if !ok_mode {
                return Err(Error::Manifest {
                    line: 0,
                    reason: format!("{}: mode {:04o} is not a normalised mode", e.path, e.mode),
                });
            }
        }
        let m = Manifest { entries, index };
        for e in &m.entries {
            if let Some((parent, _)) = e.path.rsplit_once('/') {
                match m.get(parent) {
                    Some(Entry {
                        kind: EntryKind::Dir,
                        ..
                    }) => {}
                    _ => {
                        return Err(Error::Manifest {
                            line: 0,
                            reason: format!("{}: parent {parent} is not a directory", e.path),
                        });
                    }
                }
            }
            if let EntryKind::Link { target } = &e.kind {
                m.check_link(&e.path, target)
                    .map_err(|reason| Error::refused(e.path.clone(), reason))?;
            }
        }
        Ok(m)
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry at `path`, if any (links are not followed).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.index.get(path).map(|&i| &self.entries[i])
    }

    /// The entry `path` ends at, following links inside the tree; `None` when absent or
    /// dangling.
    pub fn resolve(&self, path: &str) -> Option<&Entry> {
        let mut cur: Vec<String> = Vec::new();
        self.walk(&mut cur, path, MAX_LINK_HOPS).ok()?;
        self.get(&cur.join("/"))
    }

    /// Files: the digests of every file entry (with repeats).
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.entries.iter().filter_map(|e| match &e.kind {
            EntryKind::File { sha256, .. } => Some(sha256),
            _ => None,
        })
    }

    /// Total size of the files, in bytes.
    pub fn total_size(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }

    fn check_link(&self, path: &str, target: &str) -> Result<(), Refusal> {
        if target.starts_with('/') {
            return Err(Refusal::AbsoluteLink {
                target: target.to_owned(),
            });
        }
        if target.is_empty() || target.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(Refusal::BadName(
                "empty link target or control character in it",
            ));
        }
        let mut cur: Vec<String> = path.split('/').map(str::to_owned).collect();
        cur.pop();
        self.walk(&mut cur, target, MAX_LINK_HOPS)
    }

    /// Resolves `target` relative to the directory `cur`, following the tree's own links;
    /// `cur` ends as the resolved path. Fails when it leaves the tree or loops.
    fn walk(&self, cur: &mut Vec<String>, target: &str, hops: usize) -> Result<(), Refusal> {
        for comp in target.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    if cur.pop().is_none() {
                        return Err(Refusal::LinkOutOfTree {
                            target: target.to_owned(),
                        });
                    }
                }
                name => {
                    cur.push(name.to_owned());
                    if let Some(Entry {
                        kind: EntryKind::Link { target: next },
                        ..
                    }) = self.get(&cur.join("/"))
                    {
                        if hops == 0 {
                            return Err(Refusal::LinkLoop {
                                target: target.to_owned(),
                            });
                        }
                        if next.starts_with('/') {
                            return Err(Refusal::AbsoluteLink {
                                target: next.clone(),
                            });
                        }
                        cur.pop();
                        self.walk(cur, next, hops - 1).map_err(|e| match e {
                            Refusal::LinkOutOfTree { .. } => Refusal::LinkOutOfTree {
                                target: target.to_owned(),
                            },
                            other => other,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The canonical serialized form (JSON lines, see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.entries.len() * 140);
        out.extend_from_slice(HEADER.as_bytes());
        out.push(b'\n');
        let mut hex = String::with_capacity(64);
        for e in &self.entries {
            hex.clear();
            let mode = format!("{:04o}", e.mode);
            let line = match &e.kind {
                EntryKind::File { size, sha256 } => {
                    sha256.hex_into(&mut hex);
                    Line {
                        path: e.path.as_str().into(),
                        kind: "file",
                        mode: &mode,
                        size: Some(*size),
                        sha256: Some(&hex),
                        target: None,
                    }
                }
                EntryKind::Dir => Line {
                    path: e.path.as_str().into(),
                    kind: "dir",
                    mode: &mode,
                    size: None,
                    sha256: None,
                    target: None,
                },
                EntryKind::Link { target } => Line {
                    path: e.path.as_str().into(),
                    kind: "link",
                    mode: &mode,
                    size: None,
                    sha256: None,
                    target: Some(target.as_str().into()),
                },
            };
            // Serializing a struct of strings and integers into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &line);
            out.push(b'\n');
        }
        out
    }

    /// The code_id: SHA-256 of [`Manifest::to_bytes`].
    pub fn code_id(&self) -> CodeId {
        CodeId::from_digest(Digest::of(&self.to_bytes()))
    }

    /// Parses the canonical form; anything else (other key order, spacing, escapes, unsorted
    /// entries, unknown keys) is refused with its line number.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Error> {
        Self::parse_inner(bytes, true)
    }

    /// [`Manifest::parse`] without the canonical-form check, for bytes this crate wrote.
    pub(crate) fn parse_stored(bytes: &[u8]) -> Result<Manifest, Error> {
        Self::parse_inner(bytes, false)
    }

    fn parse_inner(bytes: &[u8], check_canonical: bool) -> Result<Manifest, Error> {
        let text = std::str::from_utf8(bytes).map_err(|e| Error::Manifest {
            line: 0,
            reason: format!("not UTF-8: {e}"),
        })?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err(Error::Manifest {
                line: 0,
                reason: "does not end with a newline".into(),
            });
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(Error::Manifest {
                line: 1,
                reason: format!("expected the header {HEADER}"),
            });
        }
        let mut entries = Vec::new();
        let mut buf = Vec::new();
        for (i, text) in lines.enumerate() {
            let lineno = i + 2;
            let bad = |reason: String| Error::Manifest {
                line: lineno,
                reason,
            };
            let line: Line<'_> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            // Canonical form: re-serializing gives the same bytes.
            if check_canonical {
                buf.clear();
                let _ = serde_json::to_writer(&mut buf, &line);
                if buf != text.as_bytes() {
                    return Err(bad("not in canonical form".into()));
                }
            }
            let mode = u32::from_str_radix(line.mode, 8)
                .ok()
                .filter(|_| line.mode.len() == 4)
                .ok_or_else(|| bad(format!("mode {:?} is not 4 octal digits", line.mode)))?;
            let kind = match (line.kind, line.size, line.sha256, &line.target) {
                ("file", Some(size), Some(h), None) => EntryKind::File {
                    size,
                    sha256: Digest::from_hex(h)
                        .ok_or_else(|| bad(format!("sha256 {h:?} is not 64 hex digits")))?,
                },
                ("dir", None, None, None) => EntryKind::Dir,
                ("link", None, None, Some(t)) => EntryKind::Link {
                    target: t.to_string(),
                },
                (k, ..) => return Err(bad(format!("kind {k:?} with the wrong fields"))),
            };
            let path = line.path.into_owned();
            if let Some(prev) = entries.last().map(|e: &Entry| &e.path)
                && *prev >= path
            {
                return Err(bad(format!("{path} is out of order")));
            }
            entries.push(Entry { path, mode, kind });
        }
        Manifest::new(entries)
    }
}
