//! Puppet's master/agent HTTP protocol.
//!
//! This crate will hold the typed requests and responses of the `/puppet/v3` and
//! `/puppet-ca/v1` APIs (paths, query parameters, content types, Puppet's JSON error bodies),
//! and, behind the `server` and `client` features, an HTTPS server and client built on tokio,
//! hyper and rustls. Work in progress: see issue 4.
