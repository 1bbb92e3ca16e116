//! External facts and `FACTER_*` environment variables, as facter 4 reads them.
//!
//! - Directories: `--external-dir` (in order) or [`default_dirs`]. Within a directory, names
//!   starting with `.` are skipped and files are taken in reverse name order; the first value
//!   found for a name wins, so the first directory wins and, inside one, the file whose name
//!   sorts last.
//! - Files by extension (case-insensitive): `.yaml` (YAML 1.1 as Psych reads it; `.yml` is not
//!   recognised), `.txt` (`key=value` lines, neither side stripped), `.json`; any other regular
//!   executable file is run (`LC_ALL=C`, with a timeout, stdout capped at
//!   [`MAX_OUTPUT`]) and its output read as YAML/JSON when that gives a hash, else as
//!   `key=value` lines. Names are lower-cased; `null` values are dropped.
//! - Broken input (invalid JSON/YAML, a top level that is not a hash, non-UTF-8 bytes, an
//!   executable that hangs, fails or floods) gives a warning naming the file
//!   ([`ExternalFactError`]) and no facts from that file; every other fact is still there.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{System, Timing, yaml};
use crate::{ExternalFactError, FactsError};

/// The most stdout an executable external fact may write (16 MiB).
pub const MAX_OUTPUT: usize = 16 << 20;

/// What [`load_dirs`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Facts in precedence order (first wins), names lower-cased.
    pub facts: Vec<(String, Value)>,
    /// Files that were broken or misbehaved.
    pub errors: Vec<FactsError>,
    /// Warnings that do not make a run fail (stderr output, non-zero exit, timeout).
    pub warnings: Vec<FactsError>,
    /// Time per file (its base name).
    pub timings: Vec<Timing>,
}

/// facter's default external fact directories: as root `/etc/puppetlabs/facter/facts.d`,
/// `/etc/facter/facts.d` (Debian's), `/opt/puppetlabs/facter/facts.d`; otherwise
/// `~/.facter/facts.d` and `~/.puppetlabs/opt/facter/facts.d` (none without `HOME`).
pub fn default_dirs(system: &dyn System) -> Vec<PathBuf> {
    if system.is_root() {
        vec![
            PathBuf::from("/etc/puppetlabs/facter/facts.d"),
            PathBuf::from("/etc/facter/facts.d"),
            PathBuf::from("/opt/puppetlabs/facter/facts.d"),
        ]
    } else {
        match system.env("HOME") {
            Some(home) => vec![
                Path::new(&home).join(".facter/facts.d"),
                Path::new(&home).join(".puppetlabs/opt/facter/facts.d"),
            ],
            None => Vec::new(),
        }
    }
}

/// Loads every directory in order; missing directories are skipped.
pub fn load_dirs(dirs: &[PathBuf], timeout: Duration) -> Loaded {
    let mut loaded = Loaded::default();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<OsString> = entries
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !n.to_string_lossy().starts_with('.'))
            .collect();
        names.sort();
        names.reverse();
        // Files are read in order; up to 32 at a time run at once (each has its own
        // timeout, so one that hangs does not hold up the others), results kept in order.
        let results: Vec<(
            OsString,
            PathBuf,
            Result<FileFacts, ExternalFactError>,
            Duration,
        )> = std::thread::scope(|scope| {
            let handles: Vec<_> = names
                .into_iter()
                .map(|name| {
                    let path = dir.join(&name);
                    scope.spawn(move || {
                        let started = Instant::now();
                        let result = load_file(&path, timeout);
                        (name, path, result, started.elapsed())
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (name, path, result, elapsed) in results {
            loaded.timings.push(Timing {
                name: name.to_string_lossy().into_owned(),
                elapsed,
            });
            match result {
                Ok((facts, warnings)) => {
                    loaded.facts.extend(facts);
                    loaded
                        .warnings
                        .extend(warnings.into_iter().map(|kind| FactsError::External {
                            path: path.clone(),
                            kind,
                        }));
                }
                Err(kind) => {
                    let e = FactsError::External {
                        path: path.clone(),
                        kind: kind.clone(),
                    };
                    if kind.is_failure() {
                        loaded.errors.push(e);
                    } else {
                        loaded.warnings.push(e);
                    }
                }
            }
        }
    }
    loaded
}

type FileFacts = (Vec<(String, Value)>, Vec<ExternalFactError>);

/// Loads one file: its facts (names lower-cased, `null`s dropped) and non-fatal warnings.
pub fn load_file(path: &Path, timeout: Duration) -> Result<FileFacts, ExternalFactError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let read = || -> Result<String, ExternalFactError> {
        let bytes = std::fs::read(path).map_err(|e| ExternalFactError::Read(e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| ExternalFactError::InvalidUtf8)
    };
    match ext.as_str() {
        "yaml" => Ok((from_yaml(&read()?)?, Vec::new())),
        "txt" => Ok((from_key_values(&read()?), Vec::new())),
        "json" => Ok((from_json(&read()?)?, Vec::new())),
        "bat" | "cmd" | "com" | "exe" => Ok((Vec::new(), Vec::new())),
        _ if is_executable(path) => run(path, timeout),
        _ => Ok((Vec::new(), Vec::new())),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn hash_facts(map: Map<String, Value>) -> Vec<(String, Value)> {
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect()
}

/// Facts of a `.json` file: its top level must be a hash.
pub fn from_json(text: &str) -> Result<Vec<(String, Value)>, ExternalFactError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ExternalFactError::Parse {
        format: "JSON",
        message: e.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok(hash_facts(map)),
        Value::Array(_) => Ok(Vec::new()),
        _ => Err(ExternalFactError::NotAHash { format: "JSON" }),
    }
}

/// Facts of a `.yaml` file: a hash, nothing for an empty document or a list.
/// ```
/// use puppet_facts::collect::external::from_yaml;
/// let facts = from_yaml("Enabled: yes\nmode: 0755\n").unwrap();
/// assert_eq!(facts, [("enabled".to_string(), serde_json::json!(true)), ("mode".into(), serde_json::json!(493))]);
/// assert!(from_yaml("just a string").is_err());
/// ```
pub fn from_yaml(text: &str) -> Result<Vec<(String, Value)>, ExternalFactError> {
    let value = yaml::load(text).map_err(|message| ExternalFactError::Parse {
        format: "YAML",
        message,
    })?;
    match value {
        None | Some(Value::Null) | Some(Value::Array(_)) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(hash_facts(map)),
        Some(_) => Err(ExternalFactError::NotAHash { format: "YAML" }),
    }
}

/// Facts of `key=value` lines: the key is the text before the first `=`, the value the rest,
/// neither stripped; lines without `=` or with an empty side are ignored.
/// ```
/// use puppet_facts::collect::external::from_key_values;
/// let facts = from_key_values("Role=web\nspaced = x \nno equals\n");
/// assert_eq!(facts[0], ("role".to_string(), serde_json::json!("web")));
/// assert_eq!(facts[1].0, "spaced ");
/// ```
pub fn from_key_values(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            (!k.is_empty() && !v.is_empty()).then(|| (k.to_lowercase(), Value::String(v.into())))
        })
        .collect()
}

fn run(path: &Path, timeout: Duration) -> Result<FileFacts, ExternalFactError> {
    let mut child = Command::new(path)
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ExternalFactError::Run(e.to_string()))?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let too_large = match stdout {
            Some(s) => {
                let mut limited = s.take(MAX_OUTPUT as u64 + 1);
                let _ = limited.read_to_end(&mut out);
                out.len() > MAX_OUTPUT
            }
            None => false,
        };
        let _ = tx.send((out, too_large));
    });
    let err_thread = std::thread::spawn(move || {
        let mut err = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(64 * 1024).read_to_end(&mut err);
        }
        err
    });
    let (out, too_large) = match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExternalFactError::TimedOut {
                seconds: timeout.as_secs_f64(),
            });
        }
    };
    if too_large {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ExternalFactError::TooLarge { limit: MAX_OUTPUT });
    }
    let status = child
        .wait()
        .map_err(|e| ExternalFactError::Run(e.to_string()))?;
    let mut warnings = Vec::new();
    let err = err_thread.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err).trim().to_string();
    if !err.is_empty() {
        warnings.push(ExternalFactError::Stderr(err));
    }
    if !status.success() {
        warnings.push(ExternalFactError::ExitStatus(status.to_string()));
    }
    let text = String::from_utf8(out).map_err(|_| ExternalFactError::InvalidUtf8)?;
    let facts = match yaml::load(&text) {
        Ok(Some(Value::Object(map))) => hash_facts(map),
        _ => from_key_values(&text),
    };
    Ok((facts, warnings))
}

/// `FACTER_<name>` variables (prefix case-insensitive, underscore optional, name `\w+`,
/// lower-cased), values as strings; non-UTF-8 variables are skipped.
/// ```
/// use puppet_facts::collect::external::environment_facts;
/// let vars = [("FACTER_Role".into(), "web".into()), ("facterdc".into(), "x".into()), ("PATH".into(), "/bin".into())];
/// assert_eq!(environment_facts(vars.into_iter()), [("role".to_string(), "web".to_string()), ("dc".into(), "x".into())]);
/// ```
pub fn environment_facts(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(String, String)> {
    vars.filter_map(|(k, v)| {
        let k = k.into_string().ok()?;
        let v = v.into_string().ok()?;
        let prefix = k.get(..6)?;
        if !prefix.eq_ignore_ascii_case("facter") {
            return None;
        }
        let rest = &k[6..];
        let name = rest
            .strip_prefix('_')
            .filter(|r| !r.is_empty())
            .unwrap_or(rest);
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then(|| (name.to_lowercase(), v))
    })
    .collect()
}
