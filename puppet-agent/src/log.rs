//! Console output in Puppet's shape, and the run's log messages for the report.

use std::io::Write;
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
    kept: Mutex<Vec<Log>>,
    lines: Mutex<Vec<String>>,
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
        }
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(text.to_string());
        }
    }
}
