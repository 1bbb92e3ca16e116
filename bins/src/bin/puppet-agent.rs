//! `puppet-agent`: Puppet 7's `puppet agent`, on the `puppet-agent` crate. Parses the
//! options, runs, and owns the exit codes (`--detailed-exitcodes`: 0, 2, 4, 6; 1 when the run
//! could not be done).

use std::process::ExitCode;

use clap::Parser;
use puppet_agent::{AgentError, Logger, Settings, SslErrorKind};
use puppet_report::LogLevel;

#[derive(Parser, Debug)]
#[command(
    name = "puppet-agent",
    version,
    about = "A Puppet 7 agent (puppet agent)"
)]
struct Args {
    /// --onetime --verbose --no-daemonize --detailed-exitcodes --no-splay --show_diff.
    #[arg(short = 't', long)]
    test: bool,
    /// One run, then exit.
    #[arg(short = 'o', long)]
    onetime: bool,
    /// Stay in the foreground (daemon mode runs in the foreground: no fork).
    #[arg(long)]
    no_daemonize: bool,
    /// Exit 2 on changes, 4 on failures, 6 on both.
    #[arg(long)]
    detailed_exitcodes: bool,
    /// Change nothing, report what would change.
    #[arg(long)]
    noop: bool,
    /// Log the diff of a file's content before it is replaced (`show_diff`).
    #[arg(long = "show_diff")]
    show_diff: bool,
    /// Only resources with these tags (comma-separated).
    #[arg(long)]
    tags: Option<String>,
    /// The master.
    #[arg(long)]
    server: Option<String>,
    /// The master's port.
    #[arg(long, alias = "serverport")]
    masterport: Option<u16>,
    /// The CA server.
    #[arg(long = "ca_server")]
    ca_server: Option<String>,
    /// The CA server's port.
    #[arg(long = "ca_port")]
    ca_port: Option<u16>,
    /// This node's certname.
    #[arg(long)]
    certname: Option<String>,
    /// The environment to request.
    #[arg(long)]
    environment: Option<String>,
    /// Where puppet.conf and csr_attributes.yaml are.
    #[arg(long)]
    confdir: Option<String>,
    /// State and cache directory.
    #[arg(long)]
    vardir: Option<String>,
    /// SSL directory.
    #[arg(long)]
    ssldir: Option<String>,
    /// Where last_run_summary.yaml goes.
    #[arg(long)]
    publicdir: Option<String>,
    /// RSA key length for a new key.
    #[arg(long)]
    keylength: Option<u32>,
    /// Seconds between certificate requests (0: exit when not signed).
    #[arg(short = 'w', long)]
    waitforcert: Option<String>,
    /// Colours: true/ansi or false.
    #[arg(long)]
    color: Option<String>,
    /// Info messages.
    #[arg(short, long)]
    verbose: bool,
    /// Debug messages.
    #[arg(short, long)]
    debug: bool,
    /// Disable the agent (with an optional message).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    disable: Option<String>,
    /// Enable the agent.
    #[arg(long)]
    enable: bool,
}

fn overrides(a: &Args) -> Vec<(String, String)> {
    let mut o = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            o.push((k.to_string(), v));
        }
    };
    put("confdir", a.confdir.clone());
    put("vardir", a.vardir.clone());
    put("ssldir", a.ssldir.clone());
    put("publicdir", a.publicdir.clone());
    put("server", a.server.clone());
    put("masterport", a.masterport.map(|p| p.to_string()));
    put("ca_server", a.ca_server.clone());
    put("ca_port", a.ca_port.map(|p| p.to_string()));
    put("certname", a.certname.clone());
    put("environment", a.environment.clone());
    put("keylength", a.keylength.map(|k| k.to_string()));
    put("waitforcert", a.waitforcert.clone());
    put("tags", a.tags.clone());
    put("noop", a.noop.then(|| "true".into()));
    // --test implies --show_diff and --no-usecacheonfailure.
    put("show_diff", (a.show_diff || a.test).then(|| "true".into()));
    put("usecacheonfailure", a.test.then(|| "false".into()));
    o
}

fn main() -> ExitCode {
    let args = Args::parse();
    let level = if args.debug {
        LogLevel::Debug
    } else if args.verbose || args.test {
        LogLevel::Info
    } else {
        LogLevel::Notice
    };
    let color = !matches!(args.color.as_deref(), Some(c) if !matches!(c, "true" | "ansi" | "yes"));
    let log = Logger::console(level, color);
    let settings = match Settings::load(&overrides(&args)) {
        Ok(s) => s,
        Err(e) => {
            log.err("Puppet", &e.to_string());
            return ExitCode::from(1);
        }
    };
    if args.enable || args.disable.is_some() {
        let r = match &args.disable {
            Some(m) => puppet_agent::run::disable(
                &settings,
                Some(m).filter(|m| !m.is_empty()).map(|m| m.as_str()),
            ),
            None => puppet_agent::run::enable(&settings),
        };
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log.err("Puppet", &e.to_string());
                ExitCode::from(1)
            }
        };
    }
    let onetime = args.onetime || args.test;
    let detailed = args.detailed_exitcodes || args.test;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log.err("Puppet", &format!("Could not start: {e}"));
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        loop {
            let code = match puppet_agent::run::run_once(&settings, &log).await {
                Ok(outcome) => outcome.exit_code(detailed),
                Err(e @ (AgentError::Locked(_) | AgentError::Disabled(_))) => {
                    log.notice("Puppet", &e.to_string());
                    1
                }
                // Puppet's lines were printed by the bootstrap.
                Err(AgentError::Ssl {
                    kind: SslErrorKind::NotSigned,
                    ..
                }) => 1,
                Err(e) => {
                    log.err("Puppet", &e.to_string());
                    1
                }
            };
            if onetime {
                return ExitCode::from(code as u8);
            }
            log.take_logs();
            tokio::time::sleep(settings.runinterval).await;
        }
    })
}
