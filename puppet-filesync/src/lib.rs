#![doc = include_str!("../README.md")]

mod digest;
mod error;
mod manifest;
mod statcache;
mod store;
mod walk;

pub use digest::Digest;
pub use error::{Error, ProblemKind, Refusal, VerifyError, VerifyProblem};
pub use manifest::{CodeId, Entry, EntryKind, Manifest, check_environment, is_puppet_code_id};
pub use store::{
    PublishOptions, PublishStats, Published, Retained, Retention, Status, Store, Version,
};
