//! Daemon mode, as Puppet 7's agent runs without `--onetime` (`Puppet::Daemon`,
//! `Puppet::Scheduler`):
//!
//! - [`daemonize`]: into the background (fork, the parent exits 0; new session, `/` as the
//!   working directory, stdin/stdout/stderr on `/dev/null`) unless `--no-daemonize`;
//! - [`Pidfile`]: `$rundir/agent.pid` (`pidfile`), the PID without a newline, created
//!   exclusively (a second daemon fails with `Could not create PID file: <path>`), removed
//!   when the daemon stops;
//! - [`run`]: `Starting Puppet client version 7.23.0`, then a run every `runinterval` (start
//!   to start; a run longer than the interval is followed at once by the next); with `splay`
//!   only the first run waits a random `0..=splaylimit` seconds, drawn once per process;
//! - signals: `TERM`/`INT` `Caught TERM; exiting` (a run in progress is finished first), `USR1`
//!   `Caught USR1; storing reload` then `Processing reload` and a run now, `HUP` a restart
//!   (re-exec with the same arguments, after the current run), `USR2` reopens the logs.
//!
//! Runs happen in the daemon's process (Puppet forks a child per run); what a run can fail
//! with is logged, and the daemon goes on.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::fsutil::PidFile;
use crate::run::{PUPPET_VERSION, run_once};
use crate::{AgentError, Logger, Settings, SslErrorKind};

/// Forks into the background as Puppet's `daemonize`: the calling (parent) process exits 0,
/// the child goes on in a new session with `/` as its working directory and stdin, stdout
/// and stderr on `/dev/null`. Call it before any thread (an async runtime) is started.
pub fn daemonize() -> Result<(), AgentError> {
    nix::unistd::daemon(false, false)
        .map_err(|e| AgentError::Setting(format!("Could not daemonize: {e}")))
}

/// The daemon's pidfile; removed when dropped.
#[derive(Debug)]
pub struct Pidfile {
    file: PidFile,
}

impl Pidfile {
    /// Creates `path` (and its directory) exclusively with our PID, clearing a stale one (not
    /// a number, or a PID that is not alive). Held by a live process:
    /// [`AgentError::Pidfile`].
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("run/agent.pid");
    /// let pid = puppet_agent::daemon::Pidfile::create(&path).unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap(), std::process::id().to_string());
    /// std::fs::write(dir.path().join("other.pid"), "1").unwrap(); // PID 1 is alive
    /// let err = puppet_agent::daemon::Pidfile::create(&dir.path().join("other.pid")).unwrap_err();
    /// assert!(err.to_string().starts_with("Could not create PID file: "));
    /// drop(pid);
    /// assert!(!path.exists());
    /// ```
    pub fn create(path: &Path) -> Result<Pidfile, AgentError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(AgentError::io("create", dir))?;
        }
        match PidFile::claim(path)? {
            Some(file) => Ok(Pidfile { file }),
            None => Err(AgentError::Pidfile(path.to_path_buf())),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Puppet's splay: a random whole number of seconds in `0..=limit`.
///
/// ```
/// use std::time::Duration;
/// let s = puppet_agent::daemon::splay(Duration::from_secs(10));
/// assert!(s <= Duration::from_secs(10));
/// assert_eq!(puppet_agent::daemon::splay(Duration::ZERO), Duration::ZERO);
/// ```
pub fn splay(limit: Duration) -> Duration {
    // A v4 UUID is 122 random bits from the OS: no other random source needed.
    let r = uuid::Uuid::new_v4().as_u128();
    let secs = u128::from(limit.as_secs()) + 1;
    Duration::from_secs(u64::try_from(r % secs).unwrap_or(0))
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// `TERM` or `INT`: the daemon stops.
    Stop,
    /// `HUP`: the daemon restarts (the caller re-executes itself with the same arguments).
    Restart,
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Stop,
    Reload,
    Restart,
    ReopenLogs,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Reload => "reload",
            Action::Restart => "restart",
            Action::ReopenLogs => "reopen_logs",
        }
    }
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
}

impl Signals {
    fn new() -> Result<Signals, AgentError> {
        let s = |k: SignalKind| {
            signal(k).map_err(|e| AgentError::Setting(format!("Could not trap signals: {e}")))
        };
        Ok(Signals {
            term: s(SignalKind::terminate())?,
            int: s(SignalKind::interrupt())?,
            hup: s(SignalKind::hangup())?,
            usr1: s(SignalKind::user_defined1())?,
            usr2: s(SignalKind::user_defined2())?,
        })
    }

    /// The next signal, logged as Puppet's traps log it.
    async fn next(&mut self, log: &Logger) -> Action {
        let (name, action) = tokio::select! {
            _ = self.term.recv() => ("TERM", Action::Stop),
            _ = self.int.recv() => ("INT", Action::Stop),
            _ = self.hup.recv() => ("HUP", Action::Restart),
            _ = self.usr1.recv() => ("USR1", Action::Reload),
            _ = self.usr2.recv() => ("USR2", Action::ReopenLogs),
        };
        match action {
            Action::Stop => log.notice("Puppet", &format!("Caught {name}; exiting")),
            other => log.notice(
                "Puppet",
                &format!("Caught {name}; storing {}", other.name()),
            ),
        }
        action
    }
}

/// One run, signals still heard while it goes on: a stop is obeyed when the run has ended,
/// other signals are queued.
async fn guarded_run(
    settings: &Settings,
    log: &Logger,
    signals: &mut Signals,
    queue: &mut VecDeque<Action>,
) -> bool {
    let run = run_once(settings, log);
    tokio::pin!(run);
    let mut stop = false;
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            a = signals.next(log) => match a {
                Action::Stop => stop = true,
                other => queue.push_back(other),
            },
        }
    };
    match result {
        Ok(_) => {}
        Err(e @ (AgentError::Locked(_) | AgentError::Disabled(_))) => {
            log.notice("Puppet", &e.to_string());
        }
        // The bootstrap logged Puppet's lines already.
        Err(AgentError::Ssl {
            kind: SslErrorKind::NotSigned,
            ..
        }) => {}
        Err(e) => log.err("Puppet", &e.to_string()),
    }
    // A daemon runs for months: the lines of a finished run are not kept.
    log.clear();
    stop
}

/// The daemon's event loop (see the module docs); returns when a signal stops or restarts
/// it. Call it inside a Tokio runtime with signals enabled, after [`daemonize`] and with a
/// [`Pidfile`] held.
///
/// ```no_run
/// # async fn f() -> Result<(), puppet_agent::AgentError> {
/// let settings = puppet_agent::Settings::load(&[])?;
/// let log = puppet_agent::Logger::console(puppet_report::LogLevel::Notice, false);
/// let _pid = puppet_agent::daemon::Pidfile::create(&settings.pidfile)?;
/// let exit = puppet_agent::daemon::run(&settings, &log).await?;
/// # Ok(()) }
/// ```
pub async fn run(settings: &Settings, log: &Logger) -> Result<Exit, AgentError> {
    let mut signals = Signals::new()?;
    log.notice(
        "Puppet",
        &format!("Starting Puppet client version {PUPPET_VERSION}"),
    );
    // Only the first run is splayed, by a delay drawn once per process.
    let first = if settings.splay {
        splay(settings.splaylimit)
    } else {
        Duration::ZERO
    };
    let mut next = Instant::now() + first;
    let mut queue: VecDeque<Action> = VecDeque::new();
    loop {
        while let Some(action) = queue.pop_front() {
            log.notice("Puppet", &format!("Processing {}", action.name()));
            match action {
                Action::Stop => return Ok(Exit::Stop),
                Action::Restart => return Ok(Exit::Restart),
                Action::ReopenLogs => log.reopen(),
                Action::Reload => {
                    if guarded_run(settings, log, &mut signals, &mut queue).await {
                        return Ok(Exit::Stop);
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                let started = Instant::now();
                if guarded_run(settings, log, &mut signals, &mut queue).await {
                    return Ok(Exit::Stop);
                }
                next = started + settings.runinterval;
            }
            action = signals.next(log) => match action {
                Action::Stop => return Ok(Exit::Stop),
                other => queue.push_back(other),
            },
        }
    }
}
