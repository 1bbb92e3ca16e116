//! `puppet-facts`: collect this machine's facts with facter 4's interface and output.
//!
//! ```text
//! puppet-facts [--json|--yaml] [--show-legacy] [--timing] [--external-dir DIR]...
//!              [--no-external-facts] [QUERY]...
//! ```
//! Exit code 1 when an external fact file was broken (every other fact is still printed) or
//! the arguments are wrong, as facter does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use puppet_facts::FactsError;
use puppet_facts::collect::{Options, collect, format};

/// Collect facts as facter 4 does.
#[derive(Parser)]
#[command(name = "puppet-facts", version)]
struct Args {
    /// Output JSON.
    #[arg(short = 'j', long, conflicts_with = "yaml")]
    json: bool,
    /// Output YAML.
    #[arg(short = 'y', long)]
    yaml: bool,
    /// Also show legacy facts (with no query).
    #[arg(long)]
    show_legacy: bool,
    /// Print the time each fact family took, before the facts.
    #[arg(short = 't', long)]
    timing: bool,
    /// A directory of external facts (repeatable; replaces the default directories).
    #[arg(long, value_name = "DIR")]
    external_dir: Vec<PathBuf>,
    /// Do not read external facts (nor `FACTER_` variables).
    #[arg(long, conflicts_with = "external_dir")]
    no_external_facts: bool,
    /// Fail (exit 1) when a query names no fact.
    #[arg(long)]
    strict: bool,
    /// Log level of warnings on stderr: none, trace, debug, info, warn, error, fatal.
    #[arg(long, default_value = "warn", value_parser = ["none", "trace", "debug", "info", "warn", "error", "fatal"])]
    log_level: String,
    /// Accepted for facter compatibility (same as --log-level debug).
    #[arg(short = 'd', long)]
    debug: bool,
    /// Accepted for facter compatibility (same as --log-level info).
    #[arg(long)]
    verbose: bool,
    /// Accepted for facter compatibility (output is never coloured).
    #[arg(long)]
    no_color: bool,
    /// Dotted fact queries (`os.release.major`).
    queries: Vec<String>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let options = Options {
        external_facts: !args.no_external_facts,
        // facter ignores FACTER_ variables with --no-external-facts too.
        environment: !args.no_external_facts,
        external_dirs: args.external_dir,
        ..Options::default()
    };
    let collection = collect(&options);
    let level = if args.debug || args.verbose {
        "debug"
    } else {
        args.log_level.as_str()
    };
    for w in &collection.warnings {
        let error = matches!(w, FactsError::External { kind, .. } if kind.is_failure());
        let shown = match level {
            "none" | "fatal" => false,
            "error" => error,
            _ => true,
        };
        if shown {
            eprintln!(
                "puppet-facts: {}: {w}",
                if error { "error" } else { "warning" }
            );
        }
    }
    let mut out = String::new();
    if args.timing {
        for t in &collection.timings {
            out.push_str(&format!(
                "fact '{}', took: ({:.6}) seconds\n",
                t.name,
                t.elapsed.as_secs_f64()
            ));
        }
    }
    let mut failed = collection.failed();
    let body = if args.queries.is_empty() {
        let facts = collection.facts(args.show_legacy);
        if args.json {
            format::json(&facts)
        } else if args.yaml {
            format::yaml(&facts)
        } else {
            format::text(&facts)
        }
    } else {
        let answers = collection.query(&args.queries);
        if args.strict {
            for q in &args.queries {
                if answers.get(q).is_some_and(|v| v.is_null()) {
                    eprintln!("puppet-facts: error: fact \"{q}\" does not exist.");
                    failed = true;
                }
            }
        }
        if args.json {
            format::json(&answers)
        } else if args.yaml {
            format::yaml(&answers)
        } else if args.queries.len() == 1 {
            format::text_single(answers.get(&args.queries[0]))
        } else {
            format::text_multiple(&answers)
        }
    };
    out.push_str(&body);
    out.push('\n');
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    ExitCode::from(u8::from(failed))
}
