//! Puppet's facts document: what an agent sends with its catalog request and with
//! `PUT /puppet/v3/facts/:certname`.
//!
//! - [`Facts`] holds the document: `name`, `values` (untyped, kept exactly as received, key
//!   order included), `timestamp` and `expiration` (as the strings Puppet wrote), and any other
//!   top-level key. Parse then serialize gives the same JSON value.
//! - [`Facts::get`] looks a value up by dotted path as `facter QUERY` does (`os.family`,
//!   `networking.interfaces.eth0.ip`, `processors.models.0`); [`Facts::get_in`] takes the path
//!   as segments, for keys that contain dots.
//! - Typed views of the facts masters use most, borrowing from the document: [`Facts::os`],
//!   [`Facts::kernel`], [`Facts::networking`], [`Facts::processors`], [`Facts::memory`],
//!   [`Facts::identity`], [`Facts::hostname`], [`Facts::domain`], [`Facts::fqdn`]. A missing
//!   fact is `None`; a fact of the wrong shape is [`FactsError::Fact`] naming its path.
//! - [`Facts::new`] builds facts in code, stamped as the agent stamps them.
//!
//! ```
//! use puppet_facts::Facts;
//!
//! let body = br#"{
//!   "name": "agent1.example.test",
//!   "values": {
//!     "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.11", "major": "12", "minor": "11"}},
//!     "networking": {"hostname": "agent1", "domain": "example.test", "fqdn": "agent1.example.test",
//!                    "interfaces": {"eth0": {"ip": "192.0.2.2", "mtu": 1400}}},
//!     "processors": {"count": 2, "models": ["AMD EPYC", "AMD EPYC"]},
//!     "clientcert": "agent1.example.test"
//!   },
//!   "timestamp": "2026-11-22T17:45:02.958167965+00:00",
//!   "expiration": "2026-11-22T18:15:02.958472204+00:00"
//! }"#;
//! let facts = Facts::from_json(body)?;
//!
//! // Untyped, by dotted path.
//! assert_eq!(facts.get("os.family").and_then(|v| v.as_str()), Some("Debian"));
//! assert_eq!(facts.get("networking.interfaces.eth0.ip").and_then(|v| v.as_str()), Some("192.0.2.2"));
//! assert_eq!(facts.get("processors.models.1").and_then(|v| v.as_str()), Some("AMD EPYC"));
//!
//! // Typed.
//! let os = facts.os()?.expect("the agent sent os");
//! assert_eq!(os.release.and_then(|r| r.major), Some("12"));
//! assert_eq!(facts.fqdn()?, Some("agent1.example.test"));
//! assert_eq!(facts.processors()?.and_then(|p| p.count), Some(2));
//!
//! // Lossless.
//! let again: serde_json::Value = serde_json::from_str(&facts.to_json()?).expect("JSON");
//! assert_eq!(again, serde_json::from_slice::<serde_json::Value>(body).expect("JSON"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod facts;
mod path;
mod views;

#[cfg(feature = "collect")]
pub mod collect;

pub use error::{ExternalFactError, FactsError};
pub use facts::{DEFAULT_TTL, Facts};
pub use views::{
    Binding, Distro, Identity, Interface, Kernel, Memory, MemoryStats, Networking, Os, Processors,
    Release, Selinux,
};
