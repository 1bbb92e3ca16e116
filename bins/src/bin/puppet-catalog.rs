//! `puppet-catalog`: check, order and diff Puppet catalog documents.
//!
//! - `puppet-catalog check FILE`: parse, resolve every reference, look for dependency cycles
//!   (Puppet's message); exit 0 when the agent could apply it, 1 otherwise.
//! - `puppet-catalog order FILE`: one resource reference a line, in the order a Puppet 7 agent
//!   applies them.
//! - `puppet-catalog diff OLD NEW`: resources added, removed and changed, parameter by
//!   parameter (Sensitive values redacted); exit 0 when there is no difference, 2 when there
//!   are, 1 on an error (as octocatalog-diff).
//!
//! Errors go to stderr, one line per problem: `puppet-catalog: FILE: problem` (a dependency
//! cycle is reported with Puppet's own two-line message).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use puppet_catalog::{Catalog, CatalogError, Graph, check, diff};

/// Check, order and diff Puppet catalog documents (JSON, as Puppetserver 7 sends them).
#[derive(Parser)]
#[command(name = "puppet-catalog", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse a catalog, check its references and look for dependency cycles.
    Check {
        /// The catalog (JSON).
        file: PathBuf,
    },
    /// Print the resources in the order the Puppet 7 agent applies them.
    Order {
        /// The catalog (JSON).
        file: PathBuf,
    },
    /// Show what differs between two catalogs, resource by resource.
    Diff {
        /// The old catalog (JSON).
        old: PathBuf,
        /// The new catalog (JSON).
        new: PathBuf,
        /// Print the differences as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A failure: the file it concerns and what went wrong (one message per problem).
struct Failure {
    file: PathBuf,
    messages: Vec<String>,
}

impl Failure {
    fn new(file: &Path, error: impl std::fmt::Display) -> Failure {
        Failure {
            file: file.to_path_buf(),
            messages: vec![error.to_string()],
        }
    }

    fn from_catalog_error(file: &Path, error: CatalogError) -> Failure {
        match error {
            CatalogError::Problems(list) => Failure {
                file: file.to_path_buf(),
                messages: list.iter().map(ToString::to_string).collect(),
            },
            other => Failure::new(file, other),
        }
    }
}

fn read(file: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(file).map_err(|e| Failure::new(file, e))
}

fn load(file: &Path) -> Result<Catalog, Failure> {
    Catalog::from_json(&read(file)?).map_err(|e| Failure::new(file, e))
}

fn run(command: Command, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let io = |e: std::io::Error| Failure::new(Path::new("-"), e);
    match command {
        Command::Check { file } => {
            let checked =
                check(&read(&file)?).map_err(|e| Failure::from_catalog_error(&file, e))?;
            writeln!(
                out,
                "{}: catalog of {} is valid: {} resources, {} to apply, no dependency cycle",
                file.display(),
                checked.name,
                checked.resources,
                checked.order.len()
            )
            .map_err(io)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Order { file } => {
            let catalog = load(&file)?;
            let order = Graph::new(&catalog)
                .and_then(|g| g.apply_order())
                .map_err(|e| Failure::new(&file, e))?;
            for r in order {
                writeln!(out, "{r}").map_err(io)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new, json } => {
            let d = diff(&load(&old)?, &load(&new)?);
            if json {
                let text = serde_json::to_string_pretty(&d).map_err(|e| {
                    Failure::new(
                        &new,
                        CatalogError::Serialize {
                            message: e.to_string(),
                        },
                    )
                })?;
                writeln!(out, "{text}").map_err(io)?;
            } else {
                writeln!(out, "{d}").map_err(io)?;
            }
            Ok(if d.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = run(cli.command, &mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(code), Ok(())) => code,
        (Ok(_), Err(e)) => {
            eprintln!("puppet-catalog: {e}");
            ExitCode::FAILURE
        }
        (Err(f), _) => {
            for message in &f.messages {
                eprintln!("puppet-catalog: {}: {message}", f.file.display());
            }
            ExitCode::FAILURE
        }
    }
}
