//! Puppet's master/agent HTTP protocol, as a Puppet 7 agent and Puppetserver 7 speak it.
//!
//! Without features this crate holds the protocol's pieces that need no runtime: the endpoint
//! paths ([`Endpoint`]), query strings and the catalog request's form body with its twice
//! encoded `facts` field ([`form`]), content negotiation and Puppetserver's content-type
//! spellings ([`content`]), the default authorization rules ([`AuthPolicy`]) and Puppet's
//! error body ([`ErrorBody`], [`ProtocolError`]).
//!
//! With the `server` feature it adds `server`: an HTTPS master on tokio, hyper 1 and
//! rustls, whose parts (catalog compiler, node classifier, report sink, fact store, file
//! server, CA) are async traits with defaults that work from files on disk. With the `client`
//! feature, `client`: a typed HTTPS client (catalog, report, files, CA) with client
//! certificates, keep-alive, gzip, timeouts and typed errors. Either feature adds `cert`: the
//! one rule for the certname a certificate speaks for, and PEM reading.
//!
//! ```
//! use puppet_protocol::{AuthPolicy, ClientIdentity, Endpoint, content};
//!
//! let endpoint = Endpoint::parse("/puppet/v3/catalog/agent1.example.test").unwrap();
//! let agent = ClientIdentity { certname: Some("agent1.example.test".into()), cli_auth: false };
//! AuthPolicy::default().check(&endpoint, "POST", "/puppet/v3/catalog/agent1.example.test", &agent).unwrap();
//! let format = content::negotiate(Some("application/vnd.puppet.rich+json, application/json, text/pson"), true);
//! assert_eq!(format.unwrap().content_type(), "application/vnd.puppet.rich+json; charset=utf-8");
//! ```

pub mod auth;
pub mod ca;
pub mod conf;
pub mod content;
pub mod error;
pub mod files;
pub mod filesync;
pub mod form;
pub mod route;

pub use auth::{AuthPolicy, ClientIdentity};
pub use error::{ErrorBody, ProtocolError};
pub use route::Endpoint;

/// The Puppet version this crate speaks as (`X-Puppet-Version`): the agents it was proven
/// against check it to choose protocol features.
pub const PUPPET_VERSION: &str = "7.23.0";

#[cfg(any(feature = "server", feature = "client"))]
pub mod cert;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;
