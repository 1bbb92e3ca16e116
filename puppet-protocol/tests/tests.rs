//! puppet-protocol's integration tests: one binary, one module per subject. (The accept
//! back-off test has a binary of its own: it lowers the process's descriptor limit.)

#![allow(clippy::unwrap_used)]

#[cfg(all(feature = "server", feature = "client"))]
mod client;
#[cfg(all(feature = "server", feature = "client"))]
mod hostile;
mod protocol;
#[cfg(all(feature = "server", feature = "client"))]
mod support;
