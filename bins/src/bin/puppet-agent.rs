//! `puppet-agent`: Puppet 7's `puppet agent`, on the `puppet-agent` crate. Parses the
//! options, runs, and owns the exit codes (`--detailed-exitcodes`: 0, 2, 4, 6; 1 when the run
//! could not be done). Without `--onetime`/`--test` it is a daemon (in the background unless
//! `--no-daemonize`, see `puppet_agent::daemon`).

use std::process::ExitCode;

use clap::Parser;
use puppet_agent::{AgentError, LogDest, Logger, Settings, SslErrorKind};
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
    /// Stay in the foreground (no fork into the background).
    #[arg(long)]
    no_daemonize: bool,
    /// Where to log: `console`, `syslog` or a file path (may be given several times).
    #[arg(long)]
    logdest: Vec<String>,
    /// Print each HTTP request and response line and header to stderr (never a body).
    #[arg(long = "http_debug")]
    http_debug: bool,
    /// Wait a random time (up to `splaylimit`) before the first run.
    #[arg(long, overrides_with = "no_splay")]
    splay: bool,
    /// No splay.
    #[arg(long)]
    no_splay: bool,
    /// The longest splay (a duration: `30`, `5m`, `1h`).
    #[arg(long)]
    splaylimit: Option<String>,
    /// Time between runs in daemon mode (a duration).
    #[arg(long)]
    runinterval: Option<String>,
    /// Where the pidfile goes (`$rundir/agent.pid`).
    #[arg(long)]
    rundir: Option<String>,
    /// The daemon's pidfile.
    #[arg(long)]
    pidfile: Option<String>,
    /// Log directory.
    #[arg(long)]
    logdir: Option<String>,
    /// `chain`/`true`, `leaf` or `false`.
    #[arg(long = "certificate_revocation")]
    certificate_revocation: Option<String>,
    /// Refresh the CRL when it is older than this (a duration).
    #[arg(long = "crl_refresh_interval")]
    crl_refresh_interval: Option<String>,
    /// Refresh the CA certificates when they are older than this (a duration).
    #[arg(long = "ca_refresh_interval")]
    ca_refresh_interval: Option<String>,
    /// The agent's CRL file (`$ssldir/crl.pem`).
    #[arg(long)]
    hostcrl: Option<String>,
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
    // --test implies --no-daemonize and --no-splay.
    put(
        "daemonize",
        (a.no_daemonize || a.test).then(|| "false".into()),
    );
    put(
        "splay",
        if a.test || a.no_splay {
            Some("false".into())
        } else {
            a.splay.then(|| "true".into())
        },
    );
    put("http_debug", a.http_debug.then(|| "true".into()));
    put("splaylimit", a.splaylimit.clone());
    put("runinterval", a.runinterval.clone());
    put("rundir", a.rundir.clone());
    put("pidfile", a.pidfile.clone());
    put("logdir", a.logdir.clone());
    put("certificate_revocation", a.certificate_revocation.clone());
    put("crl_refresh_interval", a.crl_refresh_interval.clone());
    put("ca_refresh_interval", a.ca_refresh_interval.clone());
    put("hostcrl", a.hostcrl.clone());
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
    let console = Logger::console(level, color);
    let settings = match Settings::load(&overrides(&args)) {
        Ok(s) => s,
        Err(e) => {
            console.err("Puppet", &e.to_string());
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
                console.err("Puppet", &e.to_string());
                ExitCode::from(1)
            }
        };
    }
    let mut dests = Vec::new();
    for d in &args.logdest {
        match LogDest::parse(d) {
            Some(d) => dests.push(d),
            None => {
                console.err("Puppet", &format!("Invalid log destination '{d}'"));
                return ExitCode::from(1);
            }
        }
    }
    let onetime = args.onetime || args.test;
    let detailed = args.detailed_exitcodes || args.test;
    let daemonize = settings.daemonize;
    if dests.is_empty() {
        // In the background Puppet logs to syslog; in the foreground this agent prints.
        dests.push(if daemonize {
            LogDest::Syslog
        } else {
            LogDest::Console
        });
    }
    if daemonize {
        // stdout and stderr are /dev/null from here on.
        dests.retain(|d| *d != LogDest::Console);
        if let Err(e) = puppet_agent::daemon::daemonize() {
            console.err("Puppet", &e.to_string());
            return ExitCode::from(1);
        }
    }
    let log = Logger::to(level, color, &dests);
    // A daemon (or a one-time run in the background) holds the pidfile.
    let pidfile = if daemonize || !onetime {
        match puppet_agent::daemon::Pidfile::create(&settings.pidfile) {
            Ok(p) => Some(p),
            Err(e) => {
                log.err("Puppet", &e.to_string());
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
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
    if !onetime {
        let exit = runtime.block_on(puppet_agent::daemon::run(&settings, &log));
        drop(pidfile);
        return match exit {
            Ok(puppet_agent::daemon::Exit::Restart) => restart(&log),
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                log.err("Puppet", &e.to_string());
                ExitCode::from(1)
            }
        };
    }
    let code = runtime.block_on(async {
        if settings.splay {
            let wait = puppet_agent::daemon::splay(settings.splaylimit);
            log.info(
                "Puppet",
                &format!("Sleeping for {} seconds (splay is enabled)", wait.as_secs()),
            );
            tokio::time::sleep(wait).await;
        }
        match puppet_agent::run::run_once(&settings, &log).await {
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
        }
    });
    drop(pidfile);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `SIGHUP`: re-executes this program with the same arguments (Puppet's `reexec`).
fn restart(log: &Logger) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let argv: Vec<String> = std::env::args().collect();
    log.notice("Puppet", &format!("Restarting with '{}'", argv.join(" ")));
    let exe = std::env::current_exe()
        .ok()
        .or_else(|| argv.first().map(Into::into))
        .unwrap_or_else(|| "puppet-agent".into());
    let err = std::process::Command::new(exe)
        .args(argv.iter().skip(1))
        .exec();
    log.err("Puppet", &format!("Could not restart: {err}"));
    ExitCode::from(1)
}
