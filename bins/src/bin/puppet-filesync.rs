//! `puppet-filesync`: publish code into a `puppet-filesync` store, and Puppetserver's
//! `versioned-code` hook over it (`code-id`, `code-content`).
//!
//! Exit codes: 0 success; 1 refused or failed (one line on stderr, nothing on stdout);
//! 2 bad arguments. Invoked as `puppet-filesync-code-id` or `puppet-filesync-code-content`
//! (symlinks), it behaves as `puppet-filesync code-id` / `code-content`, so the binary can be
//! named directly in `puppetserver.conf`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use puppet_filesync::{CodeId, Error, PublishOptions, Retention, Store};
use serde_json::json;

const DEFAULT_STORE: &str = "/var/lib/puppet-filesync";

/// Versioned Puppet code: publish a staging tree into a store, print code_ids and file
/// contents by code_id for Puppetserver's versioned-code hook.
#[derive(Parser)]
#[command(name = "puppet-filesync", version)]
struct Cli {
    /// The store directory
    #[arg(long, global = true, value_name = "DIR", env = "PUPPET_FILESYNC_STORE", default_value = DEFAULT_STORE)]
    store: PathBuf,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Print the live code_id of ENV (Puppetserver's code-id-command)
    CodeId {
        /// Environment name
        environment: String,
    },
    /// Print the content of PATH in version CODE_ID of ENV (Puppetserver's code-content-command)
    CodeContent {
        /// Environment name
        environment: String,
        /// Version, as printed by code-id
        code_id: String,
        /// File path relative to the environment, e.g. modules/motd/files/motd
        path: String,
    },
    /// Publish a staging codedir (environments/<env>/...) as new live versions; prints JSON
    Publish {
        /// Staging codedir, holding environments/<env>/
        #[arg(long, value_name = "DIR")]
        staging: PathBuf,
        /// Publish only this environment (default: every directory under environments/)
        #[arg(long, value_name = "ENV")]
        environment: Option<String>,
        /// After publishing, keep this many versions per environment (see retain)
        #[arg(long, value_name = "N", default_value_t = 5)]
        keep: usize,
        /// After publishing, keep superseded versions at least this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        min_age: u64,
    },
    /// Re-hash a version (default: the live one) against its manifest
    Verify {
        #[arg(long, value_name = "ENV")]
        environment: String,
        #[arg(long, value_name = "CODE_ID")]
        code_id: Option<String>,
    },
    /// Remove versions beyond the newest N that were superseded more than SECONDS ago
    Retain {
        #[arg(long, value_name = "N", default_value_t = 5)]
        keep: usize,
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        min_age: u64,
    },
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if let Some(verb) = argv0
        .as_deref()
        .and_then(|n| n.strip_prefix("puppet-filesync-"))
        && matches!(verb, "code-id" | "code-content")
    {
        args.insert(1, verb.into());
    }
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("puppet-filesync: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.action {
        Action::CodeId { environment } => {
            let store = Store::open_existing(&cli.store)?;
            let live = store
                .live(&environment)?
                .ok_or(Error::NoLiveVersion { environment })?;
            println!("{}", live.code_id);
        }
        Action::CodeContent {
            environment,
            code_id,
            path,
        } => {
            puppet_filesync::check_environment(&environment)?;
            let code_id = CodeId::parse(&code_id)?;
            let bytes = Store::open_existing(&cli.store)?.content(&environment, &code_id, &path)?;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Io {
                    path: "stdout".into(),
                    source: e,
                })?;
        }
        Action::Publish {
            staging,
            environment,
            keep,
            min_age,
        } => {
            let store = Store::open(&cli.store)?;
            // The stat cache is written by `prepare` below, after the reply.
            let opts = PublishOptions::default().defer_stat_cache(true);
            let published = store.publish_codedir_with(&staging, environment.as_deref(), &opts)?;
            let mut report = serde_json::Map::new();
            for p in &published {
                let reply = json!({"code_id": p.code_id.as_str(), "status": p.status.as_str()});
                report.insert(p.environment.clone(), reply);
            }
            store.retain(&Retention::new(keep, Duration::from_secs(min_age)))?;
            println!("{}", json!({ "environments": report }));
            // The new versions are live; now make the next publish of a small change cheap.
            for p in &published {
                store.prepare(&p.environment)?;
            }
        }
        Action::Verify {
            environment,
            code_id,
        } => {
            let store = Store::open_existing(&cli.store)?;
            let code_id = match code_id {
                Some(c) => CodeId::parse(&c)?,
                None => {
                    store
                        .live(&environment)?
                        .ok_or(Error::NoLiveVersion {
                            environment: environment.clone(),
                        })?
                        .code_id
                }
            };
            store.verify(&environment, &code_id)?;
            println!("{environment} {code_id}: verified");
        }
        Action::Retain { keep, min_age } => {
            let r = Store::open(&cli.store)?
                .retain(&Retention::new(keep, Duration::from_secs(min_age)))?;
            for (env, c) in &r.removed_versions {
                println!("removed {env} {c}");
            }
            println!("removed {} blob file(s)", r.removed_blobs);
        }
    }
    Ok(())
}
