//! The documents of `/file-sync/v1` (file sync between a primary master and its replicas).
//!
//! - `POST /file-sync/v1/publish` (admin certnames only): body empty (every environment of
//!   the staging codedir) or [`PublishRequest`]; answer [`PublishAnswer`].
//! - `GET /file-sync/v1/latest` (any certificate of the CA): [`Latest`], the live code_id
//!   of every environment.
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
