//! The documents of `/file-sync/v1` (file sync between a primary master and its replicas).
//!
//! - `POST /file-sync/v1/publish` (admin certnames only): body empty (every environment of
//!   the staging codedir) or [`PublishRequest`]; answer [`PublishAnswer`].
//! - `GET /file-sync/v1/latest` (any certificate of the CA): [`Latest`], the live code_id
//!   of every environment. With `?known=TAG&wait=SECONDS` (a long poll, at most 60 s) the
//!   answer comes as soon as the code_ids differ from those [`Latest::tag`] `TAG` names, or
//!   when the wait runs out: a replica learns of a publish the moment it happens.
//!
//!   A replica that asks its own primary for `latest` (to answer a request, or before it
//!   serves anything) sends [`CHAIN_HEADER`]: the ids of the file sync servers the question
//!   came through, itself last. A server that finds its own id there refuses the request
//!   (508 Loop Detected, Puppet's JSON error body, a message starting with [`LOOP_MESSAGE`]
//!   that names the loop) instead of asking
//!   its primary again: replicas whose `file_sync_primary` settings form a ring get a clear
//!   error, never a request that goes round (or waits on itself) until a timeout.
//! - `GET /file-sync/v1/manifest/:environment/:code_id`: the version's manifest in
//!   `puppet-filesync`'s canonical form (its SHA-256 is the code_id), `application/octet-stream`.
//! - `GET /file-sync/v1/blob/:sha256`: a file's content, checked against its digest before it
//!   is sent, `application/octet-stream`.
//!
//! ```
//! use puppet_protocol::filesync::{PublishAnswer, PublishStatus};
//! let answer: PublishAnswer = serde_json::from_str(
//!     r#"{"environments": {"production": {"code_id": "abc", "status": "published"}}}"#).unwrap();
//! assert_eq!(answer.environments["production"].status, PublishStatus::Published);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The body of `POST /file-sync/v1/publish` (an empty body publishes every environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The one environment to publish; `None`: every environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// Whether a publish changed an environment's live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishStatus {
    /// A new version is live.
    Published,
    /// The staged tree is the live version already.
    Unchanged,
}

/// One environment in a [`PublishAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedEnvironment {
    /// The live version after the publish.
    pub code_id: String,
    /// Whether it changed.
    pub status: PublishStatus,
}

/// The answer of `POST /file-sync/v1/publish`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAnswer {
    /// By environment name.
    pub environments: BTreeMap<String, PublishedEnvironment>,
}

/// One environment in [`Latest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestEnvironment {
    /// Its live version.
    pub code_id: String,
}

/// The answer of `GET /file-sync/v1/latest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latest {
    /// By environment name.
    pub environments: BTreeMap<String, LatestEnvironment>,
}

impl Latest {
    /// What `known` of the long poll `GET /file-sync/v1/latest?known=TAG&wait=SECONDS`
    /// names: the SHA-256 (hex) of `env code_id` lines in name order, so two masters give
    /// the same set of versions the same tag.
    ///
    /// ```
    /// use puppet_protocol::filesync::{Latest, LatestEnvironment};
    /// let mut a = Latest::default();
    /// let empty = a.tag();
    /// a.environments.insert("production".into(), LatestEnvironment { code_id: "c1".into() });
    /// assert_ne!(a.tag(), empty);
    /// assert_eq!(a.tag().len(), 64);
    /// ```
    pub fn tag(&self) -> String {
        let mut s = String::new();
        for (env, l) in &self.environments {
            s.push_str(env);
            s.push(' ');
            s.push_str(&l.code_id);
            s.push('\n');
        }
        puppet_filesync::Digest::of(s.as_bytes()).to_string()
    }
}

/// The request header of `GET /file-sync/v1/latest` that names the file sync servers a
/// question came through (ids separated by `,`, oldest first; see [`parse_chain`]).
pub const CHAIN_HEADER: &str = "x-puppet-file-sync-chain";

/// The most servers a [`CHAIN_HEADER`] may name: a longer chain of replicas is refused.
pub const MAX_CHAIN: usize = 32;

/// How the message of a file sync loop begins (a `508` of `GET /file-sync/v1/latest`): a
/// replica that gets it from its primary passes it on as it is.
pub const LOOP_MESSAGE: &str = "File sync loop:";

/// Parses a [`CHAIN_HEADER`] value: at most [`MAX_CHAIN`] ids, each 1 to 255 characters of
/// `[A-Za-z0-9._:/@-]`. The error says what is wrong (for a 400).
///
/// ```
/// use puppet_protocol::filesync::parse_chain;
/// assert_eq!(parse_chain("r1.example.test/1a2b, r2/3c").unwrap(), ["r1.example.test/1a2b", "r2/3c"]);
/// assert!(parse_chain("").unwrap().is_empty());
/// assert!(parse_chain("a b").is_err());
/// ```
pub fn parse_chain(value: &str) -> Result<Vec<String>, String> {
    let mut chain = Vec::new();
    for id in value.split(',').map(str::trim) {
        if id.is_empty() && value.trim().is_empty() {
            break;
        }
        let ok = !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/@-".contains(&b));
        if !ok {
            return Err(format!(
                "Invalid {CHAIN_HEADER} {value:?}: ids of [A-Za-z0-9._:/@-] separated by ','"
            ));
        }
        if chain.len() == MAX_CHAIN {
            return Err(format!(
                "{CHAIN_HEADER} names more than {MAX_CHAIN} file sync servers: a chain of replicas that long is refused"
            ));
        }
        chain.push(id.to_string());
    }
    Ok(chain)
}
