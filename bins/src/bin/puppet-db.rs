//! `puppet-db`: a PuppetDB-compatible service (the `puppet-db` crate) over mTLS.
//!
//! Flags are named as PuppetDB's `jetty.ini` settings; `--config DIR` reads an existing
//! PuppetDB `conf.d` (`jetty.ini`, `database.ini`, `config.ini`) and flags override it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use puppet_db::config::{Database, Settings};
use puppet_db::server::{Api, CertificateAllowlist, tls_source};
use puppet_protocol::server::Limits;
use puppet_protocol::server::generic::GenericServer;
use tokio::signal::unix::{SignalKind, signal};

/// A PuppetDB-compatible service: PuppetDB 7's command and query API v4 over mTLS.
#[derive(Parser, Debug)]
#[command(name = "puppet-db", version)]
struct Cli {
    /// A PuppetDB conf.d directory (jetty.ini, database.ini, config.ini).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The service's certificate (PEM), signed by the Puppet CA.
    #[arg(long)]
    ssl_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long)]
    ssl_key: Option<PathBuf>,
    /// The Puppet CA certificate clients must chain to.
    #[arg(long)]
    ssl_ca_cert: Option<PathBuf>,
    /// The CA's CRL (re-read when it changes).
    #[arg(long)]
    ssl_crl: Option<PathBuf>,
    /// The address to listen on (default 127.0.0.1).
    #[arg(long)]
    bind: Option<IpAddr>,
    /// The port (default 8081; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// sqlite:PATH, or postgres://USER[:PASSWORD]@HOST:PORT/DB (no TLS to PostgreSQL).
    #[arg(long)]
    database: Option<String>,
    /// A file of certnames, one a line: only they may use the API (PuppetDB's
    /// `certificate-allowlist`; others get 403).
    #[arg(long)]
    certificate_allowlist: Option<PathBuf>,
}

/// Threads for storage work (commands and queries); more requests wait their turn.
const BLOCKING_THREADS: usize = 4;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("puppet-db: {msg}");
    ExitCode::FAILURE
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
    let settings = match &cli.config {
        Some(dir) => match Settings::from_conf_dir(dir) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None => Settings::default(),
    };
    let (retention, gc_interval) = (settings.retention, settings.gc_interval);
    let (Some(cert), Some(key), Some(ca)) = (
        cli.ssl_cert.or(settings.ssl_cert),
        cli.ssl_key.or(settings.ssl_key),
        cli.ssl_ca_cert.or(settings.ssl_ca_cert),
    ) else {
        return fail(
            "--ssl-cert, --ssl-key and --ssl-ca-cert are required (or jetty.ini in --config)",
        );
    };
    let database = match cli.database.as_deref().map(Database::parse) {
        Some(Ok(d)) => d,
        Some(Err(e)) => return fail(e),
        None => match settings.database {
            Some(d) => d,
            None => {
                return fail(
                    "--database sqlite:PATH is required (or database.ini/config.ini in --config)",
                );
            }
        },
    };
    let host = match cli.bind {
        Some(ip) => ip,
        None => match settings.ssl_host.as_deref().map(str::parse::<IpAddr>) {
            Some(Ok(ip)) => ip,
            Some(Err(e)) => return fail(format!("jetty.ini ssl-host: {e}")),
            None => IpAddr::from([127, 0, 0, 1]),
        },
    };
    let addr = SocketAddr::new(host, cli.port.or(settings.ssl_port).unwrap_or(8081));
    let crl = cli.ssl_crl.or(settings.ssl_crl);
    let tls = match tls_source(&cert, &key, &ca, crl.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let db = match database.open() {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    let mut api = Api::new(db.clone());
    if let Some(path) = cli.certificate_allowlist.or(settings.certificate_allowlist) {
        match CertificateAllowlist::read(&path) {
            Ok(list) => {
                eprintln!(
                    "puppet-db: certificate-allowlist {}: {} certnames",
                    path.display(),
                    list.len()
                );
                api = api.with_certificate_allowlist(list);
            }
            Err(e) => return fail(e),
        }
    }
    // Storage work runs on the blocking pool; SQLite has one writer (commands waiting for it
    // are committed together) and a few readers, so a handful of threads keeps every core
    // busy, and each thread that allocates holds a malloc arena of its own: a small pool
    // keeps the resident set small after a burst of connections.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        if let Some(every) = gc_interval {
            tokio::spawn(collect_garbage(db.clone(), retention, every));
        }
        let server = GenericServer::new(tls, Arc::new(api), Limits::default());
        let running = match server.bind(addr).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        // Watched before the listening line: a signal sent once it is printed is ours.
        let (mut terminate, mut interrupt) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => return fail(format!("cannot watch SIGTERM/SIGINT: {e}")),
        };
        println!(
            "puppet-db {} listening on {}",
            env!("CARGO_PKG_VERSION"),
            running.local_addr()
        );
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        running.shutdown().await;
        eprintln!("puppet-db: stopped");
        ExitCode::SUCCESS
    })
}

/// PuppetDB's periodic garbage collection (`node-ttl`, `node-purge-ttl`, `report-ttl`), at
/// start and then every `gc-interval`.
async fn collect_garbage(
    db: puppet_db::PuppetDb,
    retention: puppet_db::Retention,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.collect_garbage(&retention)).await {
            Ok(Ok(done)) => tracing::info!(
                expired = done.expired,
                purged = done.purged,
                reports = done.reports,
                "garbage collection"
            ),
            Ok(Err(e)) => tracing::warn!("garbage collection failed: {e}"),
            Err(e) => tracing::warn!("garbage collection failed: {e}"),
        }
    }
}
