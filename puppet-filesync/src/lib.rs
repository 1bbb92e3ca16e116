//! Versioned Puppet code.
//!
//! This crate will hold code publication from a staging directory as one atomic, versioned
//! step, the `code_id` of each version, and serving exactly one version at a time to a master
//! (`static_file_content` reads files of an older version by its code_id). Not started yet.
