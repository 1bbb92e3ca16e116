//! A Puppet 7 agent as a library: what `puppet agent` does on a node, composed from the other
//! `puppet-*` crates.
//!
//! - [`ssl`]: the certificate bootstrap in Puppet's ssldir layout;
//! - [`run`]: one agent run in Puppet's order (node, pluginsync, facts, catalog, apply,
//!   report) and the files Puppet writes;
//! - [`apply`]: the apply engine on `puppet-catalog`'s graph (types `file`, `exec`, `notify`, ...);
//! - [`Settings`]: Puppet's settings from `puppet.conf` and the command line;
//! - [`daemon`]: daemon mode (fork, pidfile, `runinterval`, `splay`, signals);
//! - [`Logger`]: console lines in Puppet's shape, kept for the report.
//!
//! ```no_run
//! # async fn f() -> Result<(), puppet_agent::AgentError> {
//! let settings = puppet_agent::Settings::load(&[("server".into(), "puppet.example.test".into())])?;
//! let log = puppet_agent::Logger::console(puppet_report::LogLevel::Info, true);
//! let outcome = puppet_agent::run::run_once(&settings, &log).await?;
//! std::process::exit(outcome.exit_code(true));
//! # }
//! ```

pub mod apply;
pub mod daemon;
mod error;
mod fsutil;
mod log;
pub mod run;
pub mod settings;
pub mod ssl;

pub use error::{AgentError, SslErrorKind};
pub use fsutil::write_atomic;
pub use log::{LogDest, Logger};
pub use settings::Settings;
