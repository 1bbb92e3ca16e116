//! `show_diff`: the unified diff Puppet logs before replacing a file's content. Puppet runs
//! its `diff` setting (`diff`) with `diff_args` (`-u`) on the file and a temporary file
//! holding the new content (`/tmp/puppet-file<date>-<pid>-<random>`); so does this module,
//! so that the header lines and hunks are the same as Puppet's.

use std::io::Write;
use std::path::Path;

/// Whether and how diffs are shown (Puppet's `show_diff`, `diff` and `diff_args` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffSettings {
    /// `show_diff` (default `false`).
    pub show_diff: bool,
    /// `diff`: the command (default `diff`; empty: no diff).
    pub command: String,
    /// `diff_args` (default `-u`), split on spaces.
    pub args: String,
}

impl Default for DiffSettings {
    fn default() -> Self {
        DiffSettings {
            show_diff: false,
            command: "diff".into(),
            args: "-u".into(),
        }
    }
}

/// The diff of the file at `path` against `new` as Puppet logs it: a leading newline, then
/// `diff -u`'s output; `Binary files <path> and <tmp> differ` when the output is not UTF-8.
/// `None` when no diff command is set or it cannot run.
pub(super) fn unified(path: &Path, new: &[u8], settings: &DiffSettings) -> Option<String> {
    if settings.command.is_empty() {
        return None;
    }
    let stamp = crate::fsutil::utc_time(std::time::SystemTime::now(), false);
    let date: String = stamp.chars().take(10).filter(|c| *c != '-').collect();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("puppet-file{date}-{}-", std::process::id()))
        .rand_bytes(6)
        .tempfile()
        .ok()?;
    tmp.write_all(new).ok()?;
    tmp.as_file().sync_data().ok()?;
    let out = std::process::Command::new(&settings.command)
        .args(settings.args.split(' ').filter(|a| !a.is_empty()))
        .arg(path)
        .arg(tmp.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = match String::from_utf8(out.stdout) {
        Ok(t) => t,
        Err(_) => format!(
            "Binary files {} and {} differ",
            path.display(),
            tmp.path().display()
        ),
    };
    Some(format!("\n{text}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn diff_u_output_with_puppet_headers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let d = unified(&p, b"one\nthree\n", &DiffSettings::default()).unwrap();
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines[0], "");
        assert!(lines[1].starts_with(&format!("--- {}\t", p.display())));
        assert!(lines[2].starts_with("+++ /"), "{d}");
        assert!(lines[2].contains("/puppet-file"), "{d}");
        assert_eq!(&lines[3..], ["@@ -1,2 +1,2 @@", " one", "-two", "+three"]);
        let none = DiffSettings {
            command: String::new(),
            ..DiffSettings::default()
        };
        assert_eq!(unified(&p, b"x", &none), None);
    }
}
