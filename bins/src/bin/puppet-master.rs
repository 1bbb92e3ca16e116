//! `puppet-master`: an HTTPS Puppet master that unmodified Puppet 7 agents use.
//!
//! `puppet-master --confdir DIR [--init] [--bind ADDR] [--port PORT]` (defaults 0.0.0.0 and
//! 8140). `DIR` must exist unless `--init` is given. On first start it creates the CA in
//! `DIR/ca` and its own certificate in `DIR/ssl` (and logs their fingerprints); code
//! is read from `DIR/code/environments`, and facts, catalogs and reports are stored in
//! `DIR/data`. See `puppet_master::confdir` for the layout and settings. A file sync replica
//! (`file_sync = replica`) without a certificate asks its primary's CA for one first and
//! waits up to two minutes for it to be signed.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use puppet_master::confdir::{MasterSetup, bootstrap_replica};

/// An HTTPS Puppet master (CA, catalogs from data, files, reports).
#[derive(Parser)]
#[command(name = "puppet-master", version)]
struct Cli {
    /// Configuration directory (puppet.conf, ca/, ssl/, code/, data/)
    #[arg(long, value_name = "DIR")]
    confdir: PathBuf,
    /// Create the configuration directory if it does not exist
    #[arg(long)]
    init: bool,
    /// Address to listen on
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one, printed on stdout)
    #[arg(long, default_value_t = 8140)]
    port: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("puppet-master: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // A file sync replica without a certificate asks the primary's CA for one first.
        if let Err(e) = bootstrap_replica(&cli.confdir, Duration::from_secs(120)).await {
            eprintln!("puppet-master: {e}");
            return ExitCode::FAILURE;
        }
        let setup = if cli.init {
            MasterSetup::init(&cli.confdir)
        } else {
            MasterSetup::from_confdir(&cli.confdir)
        };
        let setup = match setup {
            Ok(s) => s,
            Err(e) => {
                eprintln!("puppet-master: {e}");
                return ExitCode::FAILURE;
            }
        };
        let running = match setup.master.bind(SocketAddr::new(cli.bind, cli.port)).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("puppet-master: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Watched before the listening line: a signal sent once it is printed is ours.
        let (mut terminate, mut interrupt) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("puppet-master: cannot watch SIGTERM/SIGINT: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "puppet-master {} listening on {} (certname {})",
            env!("CARGO_PKG_VERSION"),
            running.local_addr(),
            setup.certname
        );
        // SIGTERM or Ctrl-C: stop accepting, write what is queued, exit 0.
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        running.shutdown().await;
        setup.storage.flush().await;
        eprintln!("puppet-master: stopped");
        ExitCode::SUCCESS
    })
}
