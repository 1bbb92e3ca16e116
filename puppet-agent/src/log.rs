//! Console output in Puppet's shape, and the run's log messages for the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use puppet_report::{Log, LogLevel};

/// Prints log lines as Puppet's console destination does (`Notice: <source>: <message>`,
/// coloured unless told not to; warnings and errors on stderr) and keeps the ones at or above
/// the level for the run's report.
///
/// ```
/// use puppet_agent::Logger;
/// use puppet_report::LogLevel;
/// let log = Logger::capturing(LogLevel::Info);
/// log.info("Puppet", "Using environment 'production'");
/// log.debug("Puppet", "not kept");
/// assert_eq!(log.lines(), ["Info: Using environment 'production'"]);
/// ```
#[derive(Debug)]
pub struct Logger {
    level: LogLevel,
    color: bool,
    print: bool,
    sinks: Vec<Sink>,
    kept: Mutex<Vec<Log>>,
    lines: Mutex<Vec<String>>,
}

/// A log destination besides the console (Puppet's `--logdest`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogDest {
    /// The console (stdout; warnings and errors on stderr).
    Console,
    /// The local syslog (`/dev/log`), facility `daemon`, ident `puppet-agent`.
    Syslog,
    /// A file, appended to: `2026-12-03 09:02:46 +0000 Puppet (notice): <message>`.
    File(PathBuf),
}

impl LogDest {
    /// Parses a `--logdest` value: `console`, `syslog` or an absolute path.
    ///
    /// ```
    /// use puppet_agent::LogDest;
    /// assert_eq!(LogDest::parse("syslog"), Some(LogDest::Syslog));
    /// assert_eq!(LogDest::parse("/var/log/a.log"), Some(LogDest::File("/var/log/a.log".into())));
    /// assert_eq!(LogDest::parse("relative.log"), None);
    /// ```
    pub fn parse(v: &str) -> Option<LogDest> {
        match v {
            "console" => Some(LogDest::Console),
            "syslog" => Some(LogDest::Syslog),
            p if p.starts_with('/') => Some(LogDest::File(PathBuf::from(p))),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Sink {
    File(PathBuf, Mutex<Option<std::fs::File>>),
    Syslog(Mutex<Option<std::os::unix::net::UnixDatagram>>),
}

fn open_log(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .ok()
}

fn open_syslog() -> Option<std::os::unix::net::UnixDatagram> {
    let s = std::os::unix::net::UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

/// syslog severity of a level.
fn severity(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 7,
        LogLevel::Info => 6,
        LogLevel::Notice => 5,
        LogLevel::Warning => 4,
        LogLevel::Err => 3,
        LogLevel::Alert => 1,
        LogLevel::Emerg => 0,
        _ => 2,
    }
}

fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
        LogLevel::Err => 4,
        LogLevel::Alert => 5,
        LogLevel::Emerg => 6,
        _ => 7,
    }
}

fn prefix(level: LogLevel) -> (&'static str, &'static str) {
    match level {
        LogLevel::Debug => ("Debug", "\x1b[0;36m"),
        LogLevel::Info => ("Info", "\x1b[0;32m"),
        LogLevel::Notice => ("Notice", "\x1b[m"),
        LogLevel::Warning => ("Warning", "\x1b[1;33m"),
        LogLevel::Err => ("Error", "\x1b[1;31m"),
        LogLevel::Alert => ("Alert", "\x1b[1;31m"),
        LogLevel::Emerg => ("Emergency", "\x1b[1;31m"),
        _ => ("Critical", "\x1b[1;31m"),
    }
}

impl Logger {
    /// A logger printing messages at `level` and above to the console.
    pub fn console(level: LogLevel, color: bool) -> Logger {
        Logger {
            level,
            color,
            print: true,
            sinks: Vec::new(),
            kept: Mutex::new(Vec::new()),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// A logger that prints nothing and keeps the lines (tests, embedding).
    pub fn capturing(level: LogLevel) -> Logger {
        Logger {
            print: false,
            ..Logger::console(level, false)
        }
    }

    /// A logger writing to `dests` (Puppet's `--logdest`, which may be given several times);
    /// a file that cannot be opened is created when first written, as far as possible.
    ///
    /// ```
    /// use puppet_agent::{LogDest, Logger};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("agent.log");
    /// let log = Logger::to(puppet_report::LogLevel::Notice, false, &[LogDest::File(path.clone())]);
    /// log.notice("Puppet", "Starting Puppet client version 7.23.0");
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert!(text.ends_with(" Puppet (notice): Starting Puppet client version 7.23.0\n"), "{text}");
    /// ```
    pub fn to(level: LogLevel, color: bool, dests: &[LogDest]) -> Logger {
        let mut sinks = Vec::new();
        let mut print = false;
        for d in dests {
            match d {
                LogDest::Console => print = true,
                LogDest::Syslog => sinks.push(Sink::Syslog(Mutex::new(open_syslog()))),
                LogDest::File(p) => sinks.push(Sink::File(p.clone(), Mutex::new(open_log(p)))),
            }
        }
        Logger {
            print,
            sinks,
            ..Logger::console(level, color)
        }
    }

    /// Reopens the log files and the syslog socket (a daemon's `SIGUSR2`, after rotation).
    pub fn reopen(&self) {
        for sink in &self.sinks {
            match sink {
                Sink::File(p, f) => {
                    if let Ok(mut f) = f.lock() {
                        *f = open_log(p);
                    }
                }
                Sink::Syslog(s) => {
                    if let Ok(mut s) = s.lock() {
                        *s = open_syslog();
                    }
                }
            }
        }
    }

    /// Stops printing on the console (a daemon, whose stdout is `/dev/null`).
    pub fn without_console(mut self) -> Logger {
        self.print = false;
        self
    }

    fn to_sinks(&self, level: LogLevel, source: &str, message: &str) {
        if self.sinks.is_empty() {
            return;
        }
        let now = time::OffsetDateTime::now_utc();
        for sink in &self.sinks {
            match sink {
                Sink::File(p, f) => {
                    let Ok(mut f) = f.lock() else { continue };
                    if f.is_none() {
                        *f = open_log(p);
                    }
                    if let Some(file) = f.as_mut() {
                        let fmt = time::macros::format_description!(
                            "[year]-[month]-[day] [hour]:[minute]:[second] +0000"
                        );
                        let stamp = now.format(&fmt).unwrap_or_default();
                        let src = if source.is_empty() { "Puppet" } else { source };
                        let _ = writeln!(file, "{stamp} {src} ({}): {message}", level.as_str());
                    }
                }
                Sink::Syslog(s) => {
                    let Ok(s) = s.lock() else { continue };
                    let Some(sock) = s.as_ref() else { continue };
                    let fmt = time::macros::format_description!(
                        "[month repr:short] [day padding:space] [hour]:[minute]:[second]"
                    );
                    let stamp = now.format(&fmt).unwrap_or_default();
                    // Facility daemon (3).
                    let pri = 3 * 8 + u16::from(severity(level));
                    for line in message.lines() {
                        let text = if source == "Puppet" || source.is_empty() {
                            line.to_string()
                        } else {
                            format!("({source}) {line}")
                        };
                        let _ = sock.send(
                            format!(
                                "<{pri}>{stamp} puppet-agent[{}]: {text}",
                                std::process::id()
                            )
                            .as_bytes(),
                        );
                    }
                }
            }
        }
    }

    /// Whether messages at `level` are shown.
    pub fn enabled(&self, level: LogLevel) -> bool {
        rank(level) >= rank(self.level)
    }

    /// Logs one message; `source` `Puppet` prints no source part.
    pub fn log(&self, level: LogLevel, source: &str, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let (name, colour) = prefix(level);
        let line = if source == "Puppet" || source.is_empty() {
            format!("{name}: {message}")
        } else {
            format!("{name}: {source}: {message}")
        };
        if self.print {
            let text = if self.color {
                format!("{colour}{line}\x1b[0m\n")
            } else {
                format!("{line}\n")
            };
            if rank(level) >= rank(LogLevel::Warning) {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            } else {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
        }
        self.to_sinks(level, source, message);
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
        if let Ok(mut kept) = self.kept.lock() {
            let src = if source.is_empty() { "Puppet" } else { source };
            kept.push(Log::new(level, message, src));
        }
    }

    /// `debug` level.
    pub fn debug(&self, source: &str, message: &str) {
        self.log(LogLevel::Debug, source, message);
    }
    /// `info` level.
    pub fn info(&self, source: &str, message: &str) {
        self.log(LogLevel::Info, source, message);
    }
    /// `notice` level.
    pub fn notice(&self, source: &str, message: &str) {
        self.log(LogLevel::Notice, source, message);
    }
    /// `warning` level.
    pub fn warning(&self, source: &str, message: &str) {
        self.log(LogLevel::Warning, source, message);
    }
    /// `err` level.
    pub fn err(&self, source: &str, message: &str) {
        self.log(LogLevel::Err, source, message);
    }

    /// The lines logged so far, without colours.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the lines and report messages logged so far (a daemon, between runs).
    pub fn clear(&self) {
        if let Ok(mut l) = self.lines.lock() {
            l.clear();
        }
        if let Ok(mut k) = self.kept.lock() {
            k.clear();
        }
    }

    /// Takes the report's log messages logged so far.
    pub fn take_logs(&self) -> Vec<Log> {
        self.kept
            .lock()
            .map(|mut k| std::mem::take(&mut *k))
            .unwrap_or_default()
    }
}

impl Logger {
    /// A line printed as is on stdout (Puppet's `$stdout.puts` in the SSL state machine).
    pub fn plain(&self, text: &str) {
        if self.print {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        } else {
            // A daemon's stdout is /dev/null: Puppet logs these as errors then.
            self.to_sinks(LogLevel::Err, "Puppet", text);
        }
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(text.to_string());
        }
    }
}
