//! The crate's error type (setting a master up; serving errors are
//! [`puppet_protocol::ProtocolError`]s).

use std::path::PathBuf;

/// Errors while composing or starting a master.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterError {
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The confdir does not exist (nothing is created in a mistyped path unless asked).
    #[error("{}: no such directory (create it, or start with --init to have it created)", path.display())]
    NoConfdir {
        /// The path given.
        path: PathBuf,
    },
    /// `puppet.conf` holds a value we cannot use.
    #[error("{}: {message}", file.display())]
    Config {
        /// The file.
        file: PathBuf,
        /// What is wrong, naming the setting.
        message: String,
    },
    /// The CA failed to open, set up or issue a certificate.
    #[error("CA: {0}")]
    Ca(#[from] puppet_ca::CaError),
    /// The file sync store could not be opened.
    #[error("file sync: {0}")]
    FileSync(Box<puppet_filesync::Error>),
    /// The HTTPS side failed (TLS material, bind).
    #[error(transparent)]
    Server(#[from] puppet_protocol::server::ServerError),
    /// A client (of a file sync primary, or for the test master) could not be made.
    /// (Boxed: a client error is large, and every `Result` of this crate would carry its size.)
    #[error("client: {0}")]
    Client(Box<puppet_protocol::client::ClientError>),
}

impl From<puppet_filesync::Error> for MasterError {
    fn from(e: puppet_filesync::Error) -> Self {
        MasterError::FileSync(Box::new(e))
    }
}

impl From<puppet_protocol::client::ClientError> for MasterError {
    fn from(e: puppet_protocol::client::ClientError) -> Self {
        MasterError::Client(Box::new(e))
    }
}
