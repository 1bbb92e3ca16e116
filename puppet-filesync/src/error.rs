//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

use crate::Digest;

/// Everything that can go wrong in the store. Every variant names the path, environment,
/// code_id or digest it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The staging tree holds something that cannot be published; nothing was published.
    #[error("{path}: {reason}; nothing was published")]
    Refused {
        /// The offending path in the staging tree (non-UTF-8 bytes shown lossily).
        path: String,
        /// What is wrong with it.
        reason: Refusal,
    },
    /// An environment name that is not `\w+` (ASCII letters, digits, `_`), as Puppetserver
    /// requires.
    #[error("invalid environment name {name:?}: only ASCII letters, digits and '_' are allowed")]
    InvalidEnvironment {
        /// The name as given.
        name: String,
    },
    /// A code_id that is not one this store makes (64 lowercase hexadecimal digits).
    #[error("invalid code_id {code_id:?}: {reason}")]
    InvalidCodeId {
        /// The code_id as given.
        code_id: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A path inside an environment that is not a plain relative path.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A manifest that does not parse, is not in canonical form, or describes an impossible
    /// tree.
    #[error("manifest line {line}: {reason}")]
    Manifest {
        /// 1-based line number (0: the manifest as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A manifest whose hash is not the code_id it was offered under.
    #[error("manifest hashes to code_id {actual}, not {expected}")]
    CodeIdMismatch {
        /// The code_id it was offered under.
        expected: String,
        /// What it hashes to.
        actual: String,
    },
    /// Content whose SHA-256 is not the expected one; it was not stored or served.
    #[error("{what}: content has SHA-256 {actual}, expected {expected}")]
    DigestMismatch {
        /// What was being read or stored (a blob or a path in a version).
        what: String,
        /// The digest it should have.
        expected: Digest,
        /// The digest it has.
        actual: Digest,
    },
    /// No such version in the store (never published here, or removed by retention).
    #[error("environment {environment} has no version {code_id} in this store")]
    UnknownVersion {
        /// The environment.
        environment: String,
        /// The code_id asked for.
        code_id: String,
    },
    /// No live version of the environment (it was never published here).
    #[error("environment {environment} has no published version in this store")]
    NoLiveVersion {
        /// The environment.
        environment: String,
    },
    /// A path that is not a file of the version (absent, a directory, or a link that does not
    /// end at a file).
    #[error("{path} is not a file in version {code_id} of environment {environment}")]
    NotAFile {
        /// The environment.
        environment: String,
        /// The version.
        code_id: String,
        /// The path asked for.
        path: String,
    },
    /// Blobs a manifest needs that are not in the store (a replica must fetch them first).
    #[error("{} blob(s) of version {code_id} are missing, first {}", missing.len(), missing.first().map(|d| d.to_string()).unwrap_or_default())]
    MissingBlobs {
        /// The version being installed.
        code_id: String,
        /// The missing digests.
        missing: Vec<Digest>,
    },
    /// A materialized version does not match its manifest.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn refused(path: impl Into<String>, reason: Refusal) -> Self {
        Error::Refused {
            path: path.into(),
            reason,
        }
    }
}

/// Why a staging tree was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A symbolic link whose target resolves outside the environment.
    #[error("symbolic link to {target:?} points out of the tree")]
    LinkOutOfTree {
        /// The link's target.
        target: String,
    },
    /// A symbolic link with an absolute target.
    #[error("symbolic link to the absolute path {target:?}")]
    AbsoluteLink {
        /// The link's target.
        target: String,
    },
    /// A chain of symbolic links that does not end (more than 40 hops).
    #[error("symbolic link to {target:?} loops")]
    LinkLoop {
        /// The link's target.
        target: String,
    },
    /// A FIFO, socket or device.
    #[error("{kind} is not a regular file, directory or symbolic link")]
    SpecialFile {
        /// What it is ("FIFO", "socket", "character device", "block device").
        kind: &'static str,
    },
    /// A file or directory that cannot be read.
    #[error("cannot be read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// A name (or link target) that is not UTF-8.
    #[error("name is not UTF-8")]
    NotUtf8,
    /// A name or link target that cannot be stored (`..`, empty, control characters).
    #[error("{0}")]
    BadName(&'static str),
}

/// A materialized version that differs from its manifest: every difference found, each with
/// its path.
#[derive(Debug, thiserror::Error)]
#[error(
    "version {code_id} of environment {environment} does not match its manifest: {}",
    Problems(problems)
)]
pub struct VerifyError {
    /// The environment.
    pub environment: String,
    /// The version.
    pub code_id: String,
    /// What differs, in path order (at most [`VerifyError::MAX_PROBLEMS`]).
    pub problems: Vec<VerifyProblem>,
}

impl VerifyError {
    /// How many problems are collected before verification stops.
    pub const MAX_PROBLEMS: usize = 100;
}

struct Problems<'a>(&'a [VerifyProblem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.path, p.kind)?;
        }
        Ok(())
    }
}

/// One difference between a materialized version and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    /// The path, relative to the environment.
    pub path: String,
    /// What differs.
    pub kind: ProblemKind,
}

/// What differs at one path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// In the manifest, not on disk.
    #[error("missing")]
    Missing,
    /// On disk, not in the manifest.
    #[error("not in the manifest")]
    Unexpected,
    /// A file where a directory should be, and so on.
    #[error("is a {actual}, the manifest says {expected}")]
    Kind {
        /// What the manifest says ("file", "dir", "link").
        expected: &'static str,
        /// What is on disk.
        actual: &'static str,
    },
    /// Permission bits other than the read-only form of the manifest's mode.
    #[error("mode {actual:04o}, expected {expected:04o}")]
    Mode {
        /// Expected permission bits.
        expected: u32,
        /// Permission bits on disk.
        actual: u32,
    },
    /// A file of another size.
    #[error("size {actual}, expected {expected}")]
    Size {
        /// Size in the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A file whose content hashes to another digest.
    #[error("SHA-256 {actual}, expected {expected}")]
    Digest {
        /// Digest in the manifest.
        expected: Digest,
        /// Digest of the content on disk.
        actual: Digest,
    },
    /// A link to another target.
    #[error("link to {actual:?}, expected {expected:?}")]
    LinkTarget {
        /// Target in the manifest.
        expected: String,
        /// Target on disk.
        actual: String,
    },
    /// The path could not be read.
    #[error("unreadable: {0}")]
    Unreadable(String),
}
