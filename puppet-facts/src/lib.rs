//! puppet-facts (in progress).
