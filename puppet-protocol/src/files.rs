//! The file server's side of the wire: the options of `file_metadata(s)` requests, the
//! metadata document Puppetserver answers with (and inlines in static catalogs), and Puppet's
//! checksums (`{sha256}<hex>`).
//!
//! ```
//! use puppet_protocol::files::{Checksum, FileMetadata, FileType, Links};
//! let meta = FileMetadata {
//!     path: "/code/modules/m/files/a.txt".into(),
//!     relative_path: None,
//!     links: Links::Manage,
//!     owner: 0,
//!     group: 0,
//!     mode: 0o644,
//!     checksum: Checksum::of(b"alpha\n", "sha256"),
//!     file_type: FileType::File,
//!     destination: None,
//!     content_uri: None,
//!     source: None,
//! };
//! let json = serde_json::to_value(&meta).unwrap();
//! assert_eq!(json["mode"], 420);
//! assert_eq!(json["relative_path"], serde_json::Value::Null);
//! assert!(json["checksum"]["value"].as_str().unwrap().starts_with("{sha256}"));
//! assert!(json.get("content_uri").is_none());
//! ```

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::ProtocolError;
use crate::form::Params;

/// How symbolic links are described (`links`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Links {
    /// Describe the link itself (`links=manage`, the default).
    #[default]
    Manage,
    /// Describe what it points to (`links=follow`).
    Follow,
}

/// The options of `file_metadata(s)` requests (and of the metadata a static catalog inlines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataOptions {
    /// `links`.
    pub links: Links,
    /// `checksum_type`: one of [`CHECKSUM_TYPES`] (default `sha256`).
    pub checksum_type: String,
    /// `source_permissions=use`: report the file's owner and group; otherwise the server's.
    pub source_permissions_use: bool,
    /// `recurse`.
    pub recurse: bool,
    /// `recurselimit`: depth below the root (`None`: unlimited).
    pub recurselimit: Option<u32>,
    /// `ignore` globs (matched against each name).
    pub ignore: Vec<String>,
    /// `max_files`: more entries than this is an error (`0` or negative: no limit).
    pub max_files: i64,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            links: Links::Manage,
            checksum_type: "sha256".into(),
            source_permissions_use: false,
            recurse: false,
            recurselimit: None,
            ignore: Vec::new(),
            max_files: 0,
        }
    }
}

impl MetadataOptions {
    /// Reads the options from a request's query.
    ///
    /// ```
    /// use puppet_protocol::files::MetadataOptions;
    /// use puppet_protocol::form::Params;
    /// let q = Params::parse("recurse=true&max_files=-1&ignore=.svn&ignore=.git&links=follow&checksum_type=sha256&source_permissions=use").unwrap();
    /// let o = MetadataOptions::from_params(&q).unwrap();
    /// assert!(o.recurse && o.source_permissions_use);
    /// assert_eq!(o.ignore, vec![".svn", ".git"]);
    /// ```
    pub fn from_params(q: &Params) -> Result<MetadataOptions, ProtocolError> {
        let links = match q.get("links") {
            None | Some("manage") => Links::Manage,
            Some("follow") => Links::Follow,
            Some(o) => {
                return Err(ProtocolError::BadRequest(format!(
                    "Invalid links value {o:?}"
                )));
            }
        };
        let checksum_type = q.get("checksum_type").unwrap_or("sha256").to_string();
        check_checksum_type(&checksum_type)?;
        let source_permissions_use = matches!(
            q.get("source_permissions"),
            Some("use") | Some("use_when_creating")
        );
        let recurse = match q.get("recurse") {
            None | Some("false") | Some("") => false,
            Some("true") | Some("remote") => true,
            Some(o) => {
                return Err(ProtocolError::BadRequest(format!(
                    "Invalid recurse value {o:?}"
                )));
            }
        };
        let recurselimit =
            match q.get("recurselimit") {
                None | Some("") | Some("infinite") => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    ProtocolError::BadRequest(format!("Invalid recurselimit {v:?}"))
                })?),
            };
        let max_files = match q.get("max_files") {
            None | Some("") => 0,
            Some(v) => v
                .parse()
                .map_err(|_| ProtocolError::BadRequest(format!("Invalid max_files {v:?}")))?,
        };
        let ignore: Vec<String> = q.all("ignore").into_iter().map(String::from).collect();
        if ignore.len() > MAX_IGNORE_PATTERNS {
            return Err(ProtocolError::BadRequest(format!(
                "Too many ignore patterns: {} (at most {MAX_IGNORE_PATTERNS})",
                ignore.len()
            )));
        }
        if let Some(long) = ignore.iter().find(|g| g.len() > MAX_IGNORE_PATTERN_BYTES) {
            return Err(ProtocolError::BadRequest(format!(
                "An ignore pattern of {} bytes is over the limit of {MAX_IGNORE_PATTERN_BYTES}",
                long.len()
            )));
        }
        Ok(MetadataOptions {
            links,
            checksum_type,
            source_permissions_use,
            recurse,
            recurselimit,
            ignore,
            max_files,
        })
    }
}

/// The most `ignore` patterns a request may give.
pub const MAX_IGNORE_PATTERNS: usize = 64;

/// The longest `ignore` pattern a request may give, in bytes.
pub const MAX_IGNORE_PATTERN_BYTES: usize = 255;

/// Whether a glob matches `name` whole, as Ruby's `File.fnmatch` (no flags) does for
/// Puppet's `ignore` patterns: `*` (any run of characters), `?` (one), `[a-z]`, `[!a-z]` and
/// `[^a-z]` (one of / none of), `\\x` (`x` itself); a leading `.` of `name` is matched only by
/// a literal `.` (so `*` does not match `.git`); an unterminated `[` matches nothing.
/// Iterative, remembering only the last `*`: at most `pattern.len() * name.len()` steps and
/// no recursion, whatever a client sends.
///
/// ```
/// use puppet_protocol::files::glob_match;
/// assert!(glob_match("*.swp", "a.swp"));
/// assert!(!glob_match("*.swp", "a.swx"));
/// assert!(glob_match("?b*", "abc"));
/// assert!(glob_match("[a-c]x", "bx") && !glob_match("[!a-c]x", "bx"));
/// assert!(glob_match(".*", ".git") && !glob_match("*", ".git") && !glob_match("*.git", ".git"));
/// assert!(glob_match("\\*x", "*x") && !glob_match("\\*x", "ax"));
/// let hostile = format!("{}b", "*".repeat(10_000));
/// assert!(!glob_match(&hostile, &"a".repeat(10_000)));
/// ```
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let Some(tokens) = glob_tokens(pattern) else {
        return false;
    };
    let n: Vec<char> = name.chars().collect();
    if n.first() == Some(&'.') && tokens.first() != Some(&Glob::Lit('.')) {
        return false;
    }
    let (mut ti, mut ni) = (0, 0);
    // Where the last `*` was, and the name position it currently stands for up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match tokens.get(ti) {
            Some(Glob::Star) => {
                star = Some((ti, ni));
                ti += 1;
            }
            Some(t) if t.matches(n[ni]) => {
                ti += 1;
                ni += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and retry after it.
                Some((st, sn)) => {
                    star = Some((st, sn + 1));
                    ti = st + 1;
                    ni = sn + 1;
                }
                None => return false,
            },
        }
    }
    tokens[ti..].iter().all(|t| *t == Glob::Star)
}

/// One element of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    Star,
    Any,
    Lit(char),
    /// Ranges (inclusive), negated.
    Class(Vec<(char, char)>, bool),
}

impl Glob {
    fn matches(&self, c: char) -> bool {
        match self {
            Glob::Star => true,
            Glob::Any => true,
            Glob::Lit(l) => *l == c,
            Glob::Class(ranges, negated) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

/// The glob's elements; `None` for an unterminated or empty `[...]`.
fn glob_tokens(pattern: &str) -> Option<Vec<Glob>> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                // Consecutive stars are one.
                if out.last() != Some(&Glob::Star) {
                    out.push(Glob::Star);
                }
                i += 1;
            }
            '?' => {
                out.push(Glob::Any);
                i += 1;
            }
            '\\' if i + 1 < p.len() => {
                out.push(Glob::Lit(p[i + 1]));
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(p.get(j), Some('!') | Some('^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let mut c = *p.get(j)?;
                    if c == ']' {
                        break;
                    }
                    if c == '\\' {
                        j += 1;
                        c = *p.get(j)?;
                    }
                    if p.get(j + 1) == Some(&'-') && p.get(j + 2).is_some_and(|e| *e != ']') {
                        let mut hi = p[j + 2];
                        j += 2;
                        if hi == '\\' {
                            j += 1;
                            hi = *p.get(j)?;
                        }
                        ranges.push((c, hi));
                    } else {
                        ranges.push((c, c));
                    }
                    j += 1;
                }
                if ranges.is_empty() {
                    return None;
                }
                out.push(Glob::Class(ranges, negated));
                i = j + 1;
            }
            c => {
                out.push(Glob::Lit(c));
                i += 1;
            }
        }
    }
    Some(out)
}

/// The checksum types a Puppet file server computes.
pub const CHECKSUM_TYPES: &[&str] = &[
    "sha256", "sha384", "sha512", "sha224", "mtime", "ctime", "none",
];

fn check_checksum_type(t: &str) -> Result<(), ProtocolError> {
    // md5 is asked for by `checksum => md5` resources; never picked from a preference list.
    if CHECKSUM_TYPES.contains(&t) || t == "md5" {
        Ok(())
    } else {
        Err(ProtocolError::BadRequest(format!(
            "Unsupported checksum_type {t:?} (supported: {})",
            CHECKSUM_TYPES.join(", ")
        )))
    }
}

/// The first content checksum type of an agent's preference list
/// (`sha256.sha384...md5`) in [`CHECKSUM_TYPES`]; `sha256` when none is.
///
/// ```
/// assert_eq!(puppet_protocol::files::pick_checksum(&["md5".into(), "sha512".into()]), "sha512");
/// ```
pub fn pick_checksum(preferences: &[String]) -> String {
    preferences
        .iter()
        .find(|p| {
            CHECKSUM_TYPES.contains(&p.as_str())
                && !matches!(p.as_str(), "mtime" | "ctime" | "none")
        })
        .cloned()
        .unwrap_or_else(|| "sha256".into())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The hex digest of `bytes` (`md5`, `sha256`, `sha384`, `sha512`, `sha224`; anything else:
/// sha256).
///
/// ```
/// assert_eq!(&puppet_protocol::files::digest(b"", "sha256")[..8], "e3b0c442");
/// assert_eq!(puppet_protocol::files::digest(b"", "md5"), "d41d8cd98f00b204e9800998ecf8427e");
/// ```
pub fn digest(bytes: &[u8], checksum_type: &str) -> String {
    match checksum_type {
        "md5" => hex(&md5::Md5::digest(bytes)),
        "sha384" => hex(&sha2::Sha384::digest(bytes)),
        "sha512" => hex(&sha2::Sha512::digest(bytes)),
        "sha224" => hex(&sha2::Sha224::digest(bytes)),
        _ => hex(&sha2::Sha256::digest(bytes)),
    }
}

/// A checksum in file metadata: `{"type": "sha256", "value": "{sha256}<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `sha256`, `ctime`, `none`, ...
    #[serde(rename = "type")]
    pub checksum_type: String,
    /// The value, prefixed with its type in braces.
    pub value: String,
}

impl Checksum {
    /// The content checksum of `bytes` (a digest type of [`CHECKSUM_TYPES`]).
    ///
    /// ```
    /// let c = puppet_protocol::files::Checksum::of(b"", "sha256");
    /// assert_eq!(c.value, format!("{{sha256}}{}", puppet_protocol::files::digest(b"", "sha256")));
    /// ```
    pub fn of(bytes: &[u8], checksum_type: &str) -> Checksum {
        Checksum {
            checksum_type: checksum_type.to_string(),
            value: format!("{{{checksum_type}}}{}", digest(bytes, checksum_type)),
        }
    }

    /// A time checksum (`ctime` or `mtime`) with Puppet's time text
    /// (`2026-11-22 17:43:39 +0000`).
    pub fn time(checksum_type: &str, text: &str) -> Checksum {
        Checksum {
            checksum_type: checksum_type.to_string(),
            value: format!("{{{checksum_type}}}{text}"),
        }
    }

    /// `{"type": "none", "value": "{none}"}`.
    pub fn none() -> Checksum {
        Checksum {
            checksum_type: "none".into(),
            value: "{none}".into(),
        }
    }
}

/// What a metadata entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (with `links=manage`).
    Link,
}

/// One file's metadata, as `file_metadata(s)` answers it and a static catalog inlines it (the
/// key order and `null`s of Puppetserver's JSON; `mode` in decimal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// The path on the server (for `file_metadatas`, the root's).
    pub path: String,
    /// Path below the root: `.` for the root, `null` for `file_metadata`.
    pub relative_path: Option<String>,
    /// `manage` or `follow`.
    pub links: Links,
    /// Owner uid.
    pub owner: u32,
    /// Group gid.
    pub group: u32,
    /// Permission bits.
    pub mode: u32,
    /// Checksum.
    pub checksum: Checksum,
    /// `file`, `directory` or `link`.
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// A link's target (`null` otherwise).
    pub destination: Option<String>,
    /// Static catalogs: where the agent fetches the content (`static_file_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_uri: Option<String>,
    /// Static catalogs (single files): the `source` the metadata was found from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
