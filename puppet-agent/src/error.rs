//! The crate's error type.

use std::path::PathBuf;

/// What went wrong while bootstrapping SSL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslErrorKind {
    /// The CA has no certificate for us and `waitforcert` is 0.
    NotSigned,
    /// Our certificate is on the CA's revocation list.
    Revoked,
    /// Our certificate does not belong to our private key.
    KeyMismatch,
    /// A PEM file or a downloaded document could not be read.
    Invalid,
    /// The CA answered with an error or could not be reached.
    Ca,
}

/// Everything the agent can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, ...).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SSL bootstrap failed; the message is Puppet's.
    #[error("{message}")]
    Ssl {
        /// What kind of failure.
        kind: SslErrorKind,
        /// The message, as Puppet prints it.
        message: String,
    },
    /// A request to the master failed.
    #[error("{0}")]
    Client(Box<puppet_protocol::client::ClientError>),
    /// The CA side (keys, CSRs) failed.
    #[error("{0}")]
    Ca(#[from] puppet_ca::CaError),
    /// The catalog is unusable (a dependency cycle, an unknown reference).
    #[error("{0}")]
    Catalog(#[from] puppet_catalog::CatalogError),
    /// The report could not be encoded or written.
    #[error("{0}")]
    Report(#[from] puppet_report::ReportError),
    /// A setting is invalid (`puppet.conf` or the command line).
    #[error("{0}")]
    Setting(String),
    /// The transaction stopped, as Puppet's does, with Puppet's message: a resource names a
    /// schedule that does not exist (`Could not find schedule nightly`), or a schedule has an
    /// invalid parameter (`Parameter range failed on Schedule[x]: Invalid range value 'x'`).
    #[error("{0}")]
    Apply(String),
    /// Another agent holds the run lock.
    #[error("Run of Puppet configuration client already in progress; skipping  ({} exists)", .0.display())]
    Locked(PathBuf),
    /// The daemon's pidfile is held by a live process (another daemon).
    #[error("Could not create PID file: {}", .0.display())]
    Pidfile(PathBuf),
    /// The agent is administratively disabled.
    #[error(
        "Skipping run of Puppet configuration client; administratively disabled (Reason: '{0}');\nUse 'puppet agent --enable' to re-enable."
    )]
    Disabled(String),
}

impl From<puppet_protocol::client::ClientError> for AgentError {
    fn from(e: puppet_protocol::client::ClientError) -> AgentError {
        AgentError::Client(Box::new(e))
    }
}

impl AgentError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> AgentError {
        let path = path.into();
        move |source| AgentError::Io { what, path, source }
    }

    pub(crate) fn ssl(kind: SslErrorKind, message: impl Into<String>) -> AgentError {
        AgentError::Ssl {
            kind,
            message: message.into(),
        }
    }
}
