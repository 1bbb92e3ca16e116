//! Autosign policies, with Puppetserver's semantics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::CaError;

/// When a submitted CSR is signed without an administrator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Autosign {
    /// Never (Puppetserver's `autosign = false`).
    #[default]
    Off,
    /// Always (`autosign = true`).
    On,
    /// A whitelist file (`autosign.conf`): one certname or glob per line, `#` comments.
    Globs(PathBuf),
    /// A policy executable: run with the certname as its only argument and the CSR PEM on
    /// stdin; exit status 0 signs.
    Executable(PathBuf),
}

impl Autosign {
    /// Puppet's `autosign` setting: `true`, `false`, or a path, which is a policy executable
    /// when the file is executable and a whitelist otherwise.
    ///
    /// ```
    /// use puppet_ca::Autosign;
    /// assert_eq!(Autosign::from_setting("true"), Autosign::On);
    /// assert_eq!(Autosign::from_setting("false"), Autosign::Off);
    /// ```
    pub fn from_setting(value: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        match value.trim() {
            "true" => Autosign::On,
            "false" | "" => Autosign::Off,
            path => {
                let p = PathBuf::from(path);
                let exec = std::fs::metadata(&p)
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false);
                if exec {
                    Autosign::Executable(p)
                } else {
                    Autosign::Globs(p)
                }
            }
        }
    }

    /// Whether the CSR for `certname` is to be signed now.
    pub(crate) fn decide(
        &self,
        certname: &str,
        csr_pem: &str,
        timeout: Duration,
    ) -> Result<bool, CaError> {
        match self {
            Autosign::Off => Ok(false),
            Autosign::On => Ok(true),
            Autosign::Globs(path) => {
                // Puppetserver: a missing whitelist signs nothing.
                let Some(text) = crate::store::read_string_opt(path)? else {
                    return Ok(false);
                };
                Ok(whitelist_matches(&text, certname))
            }
            Autosign::Executable(path) => run_policy(path, certname, csr_pem, timeout),
        }
    }
}

/// Whether `certname` is allowed by an `autosign.conf` text, as Puppetserver reads it: blank
/// lines and lines starting with `#` are skipped; a line holding a space or a `#` is invalid
/// and matches nothing; `*` matches every name; a line starting with `*` is a domain glob
/// (`*.example.com` matches `example.com` and any name under it, case-insensitively); any
/// other line is an exact certname.
///
/// ```
/// assert!(puppet_ca::whitelist_matches("# nodes\n*.example.com\n", "web1.example.com"));
/// assert!(puppet_ca::whitelist_matches("*.example.com\n", "example.com"));
/// assert!(!puppet_ca::whitelist_matches("*.example.com\n", "example.org"));
/// ```
pub fn whitelist_matches(text: &str, certname: &str) -> bool {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .any(|line| {
            if line.contains('#') || line.contains(' ') {
                false
            } else if line == "*" {
                true
            } else if line.starts_with('*') {
                glob_matches(line, certname)
            } else {
                line == certname
            }
        })
}

/// Puppetserver's glob: the labels of the glob after its first one must be the last labels
/// of the name.
fn glob_matches(glob: &str, name: &str) -> bool {
    let glob = glob.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let suffix: Vec<&str> = glob.split('.').skip(1).collect();
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= suffix.len() && labels[labels.len() - suffix.len()..] == suffix[..]
}

/// Runs the policy executable; one still running after `timeout` is killed and its answer
/// is "do not sign".
fn run_policy(
    path: &Path,
    certname: &str,
    csr_pem: &str,
    timeout: Duration,
) -> Result<bool, CaError> {
    let fail = |reason: String| CaError::Autosign {
        path: path.to_path_buf(),
        reason,
    };
    let mut child = Command::new(path)
        .arg(certname)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    // Written from a thread: a policy that never reads must not block us past the timeout.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = csr_pem.as_bytes().to_vec();
        std::thread::spawn(move || match stdin.write_all(&input) {
            // A policy may exit without reading its input: a broken pipe is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        })
    });
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            // Hung: killed (and reaped); the CSR is not signed.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let written = writer.map(|w| w.join());
    let Some(status) = status else {
        return Ok(false);
    };
    match written {
        Some(Ok(Err(e))) => Err(fail(e.to_string())),
        Some(Err(_)) => Err(fail("the thread writing the CSR failed".into())),
        _ => Ok(status.success()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let conf = "# comment\n\nexact.example.org\n*.example.com\n*.Lab.test\n";
        assert!(whitelist_matches(conf, "exact.example.org"));
        assert!(!whitelist_matches(conf, "other.example.org"));
        assert!(whitelist_matches(conf, "a.example.com"));
        assert!(whitelist_matches(conf, "a.b.example.com"));
        assert!(
            whitelist_matches(conf, "example.com"),
            "Puppetserver: (glob-matches? *.baz baz)"
        );
        assert!(!whitelist_matches(conf, "a.example.com.evil"));
        assert!(!whitelist_matches(conf, "badexample.com"));
        assert!(whitelist_matches(conf, "x.lab.test"));
        assert!(whitelist_matches("*\n", "anything"));
        assert!(!whitelist_matches("", "anything"));
        // Invalid lines match nothing, not even what they start with.
        assert!(!whitelist_matches(
            " exact.example.org\n",
            "exact.example.org"
        ));
        assert!(!whitelist_matches(
            "exact.example.org # me\n",
            "exact.example.org"
        ));
    }

    #[test]
    fn setting() {
        assert_eq!(
            Autosign::from_setting("/nonexistent/autosign.conf"),
            Autosign::Globs("/nonexistent/autosign.conf".into())
        );
        assert_eq!(
            Autosign::from_setting("/bin/true"),
            Autosign::Executable("/bin/true".into())
        );
    }
}
