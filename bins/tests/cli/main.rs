//! The binaries as an operator runs them, one module per binary: exit codes, output, files
//! on disk, and the crash tests that SIGKILL them mid-write. One test binary, as the
//! workspace's other crates have (one link, one place for the shared helpers).

#![allow(clippy::unwrap_used)]

mod support;

mod agent;
mod agent_daemon;
mod ca;
mod catalog;
mod db;
mod facts;
mod filesync;
mod filesync_master;
mod master;
