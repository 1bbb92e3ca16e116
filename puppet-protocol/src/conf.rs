//! `puppet.conf` as Puppet 7 reads it, for agents and masters alike.
//!
//! Puppet's rules (`Puppet::Settings::IniFile` and `ConfigFile`): a section header is
//! `[name]` with a word-character name; a setting is `name = value`, the value being everything
//! after the `=` with the surrounding blanks removed (a `#` after the value is part of it);
//! lines that start with `#` and blank lines are ignored; settings before any header belong
//! to `[main]`. A file setting may carry `{owner = ..., group = ..., mode = ...}`, which is
//! not part of the value. Any other line is an error in Puppet; here it is kept as a
//! [`ConfProblem`] so the caller decides (the agent refuses to start, as Puppet does; a
//! master may warn).
//!
//! PuppetDB's `conf.d` INI files are another dialect (section names with dashes, `;`
//! comments) and are read by `puppet-db` itself.

use std::collections::BTreeMap;
use std::time::Duration;

/// A parsed `puppet.conf`: its sections' settings, with their line numbers, and the lines
/// that are not Puppet syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PuppetConf {
    sections: BTreeMap<String, BTreeMap<String, Setting>>,
    problems: Vec<ConfProblem>,
}

/// One `name = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value, without the `{owner = ...}` file metadata.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// A line Puppet would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfProblem {
    /// 1-based line number.
    pub line: usize,
    /// Puppet's message for it (`Could not match line ...`).
    pub message: String,
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Removes Puppet's `{owner = x, group = y, mode = 0640}` file metadata from a value.
fn strip_file_meta(value: &str) -> Result<String, String> {
    let (Some(open), Some(close)) = (value.find('{'), value.find('}')) else {
        return Ok(value.to_string());
    };
    if close < open {
        return Ok(value.to_string());
    }
    for pair in value[open + 1..close].split(',') {
        let ok = match pair.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (k.trim(), v.trim());
                match k {
                    "owner" | "group" => is_word(v),
                    "mode" => !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()),
                    _ => false,
                }
            }
            None => false,
        };
        if !ok {
            return Err(format!("Could not parse '{value}'"));
        }
    }
    let mut out = String::with_capacity(value.len());
    out.push_str(&value[..open]);
    out.push_str(&value[close + 1..]);
    Ok(out.trim_end().to_string())
}

impl PuppetConf {
    /// Parses the text of a `puppet.conf`.
    ///
    /// ```
    /// use puppet_protocol::conf::PuppetConf;
    /// let conf = PuppetConf::parse(
    ///     "server = a\n[agent]\nserver = b # not a comment\nssldir = /ssl { mode = 0750 }\nfoo bar\n",
    /// );
    /// assert_eq!(conf.get(&["main"], "server"), Some("a"));
    /// assert_eq!(conf.get(&["agent", "main"], "server"), Some("b # not a comment"));
    /// assert_eq!(conf.get(&["agent"], "ssldir"), Some("/ssl"));
    /// assert_eq!(conf.problems()[0].line, 5);
    /// assert_eq!(conf.problems()[0].message, "Could not match line foo bar");
    /// ```
    pub fn parse(text: &str) -> PuppetConf {
        let mut conf = PuppetConf::default();
        let mut current = "main".to_string();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .filter(|n| is_word(n))
            {
                current = name.to_string();
                continue;
            }
            let setting = line
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, _)| is_word(k));
            let Some((key, value)) = setting else {
                conf.problems.push(ConfProblem {
                    line: i + 1,
                    message: format!("Could not match line {raw}"),
                });
                continue;
            };
            match strip_file_meta(value) {
                Ok(value) => {
                    conf.sections
                        .entry(current.clone())
                        .or_default()
                        .insert(key.to_string(), Setting { value, line: i + 1 });
                }
                Err(message) => conf.problems.push(ConfProblem {
                    line: i + 1,
                    message,
                }),
            }
        }
        conf
    }

    /// A setting looked up in `sections`, the first that has it winning (an agent asks
    /// `["agent", "main"]`, a master `["server", "master", "main"]`).
    ///
    /// ```
    /// use puppet_protocol::conf::PuppetConf;
    /// let conf = PuppetConf::parse("[main]\ncertname = a\n[server]\ncertname = b\n");
    /// assert_eq!(conf.get(&["server", "master", "main"], "certname"), Some("b"));
    /// assert_eq!(conf.get(&["agent", "main"], "certname"), Some("a"));
    /// assert_eq!(conf.get(&["agent"], "certname"), None);
    /// ```
    pub fn get(&self, sections: &[&str], key: &str) -> Option<&str> {
        sections
            .iter()
            .find_map(|s| self.sections.get(*s).and_then(|m| m.get(key)))
            .map(|s| s.value.as_str())
    }

    /// The settings of `sections` merged, the first section that has a setting winning.
    ///
    /// ```
    /// use puppet_protocol::conf::PuppetConf;
    /// let conf = PuppetConf::parse("a = 1\nb = 2\n[agent]\nb = 3\n");
    /// let merged = conf.merged(&["agent", "main"]);
    /// assert_eq!((merged["a"], merged["b"]), ("1", "3"));
    /// ```
    pub fn merged(&self, sections: &[&str]) -> BTreeMap<&str, &str> {
        let mut out = BTreeMap::new();
        for s in sections.iter().rev() {
            for (k, v) in self.sections.get(*s).into_iter().flatten() {
                out.insert(k.as_str(), v.value.as_str());
            }
        }
        out
    }

    /// Every setting as `(section, name, setting)`, in section then name order.
    ///
    /// ```
    /// use puppet_protocol::conf::PuppetConf;
    /// let conf = PuppetConf::parse("[server]\nautosing = true\n");
    /// let (section, name, setting) = conf.settings().next().unwrap();
    /// assert_eq!((section, name, setting.line), ("server", "autosing", 2));
    /// ```
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str, &Setting)> {
        self.sections
            .iter()
            .flat_map(|(s, m)| m.iter().map(move |(k, v)| (s.as_str(), k.as_str(), v)))
    }

    /// The lines Puppet would refuse.
    pub fn problems(&self) -> &[ConfProblem] {
        &self.problems
    }
}

/// Puppet's duration setting syntax: a whole number, optionally followed by `s`, `m`, `h`,
/// `d` or `y` (`runinterval`, `ca_ttl`, `crl_refresh_interval`...).
///
/// ```
/// use std::time::Duration;
/// use puppet_protocol::conf::parse_duration;
/// assert_eq!(parse_duration("5y"), Some(Duration::from_secs(5 * 365 * 86400)));
/// assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
/// assert_eq!(parse_duration("3600"), Some(Duration::from_secs(3600)));
/// assert_eq!(parse_duration("0"), Some(Duration::ZERO));
/// assert_eq!(parse_duration("x"), None);
/// assert_eq!(parse_duration("5 m"), None);
/// ```
pub fn parse_duration(value: &str) -> Option<Duration> {
    let v = value.trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, ""),
    };
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "y" => 365 * 86400,
        _ => return None,
    };
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mult).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puppet_syntax_edges() {
        let conf = PuppetConf::parse(
            "  # comment\n[main]\n  vardir=/v  \n[bad-name]\nx = 1\nlogdir = /l {owner = puppet, mode = 750}\nkey = {weird}\n",
        );
        assert_eq!(conf.get(&["main"], "vardir"), Some("/v"));
        // A refused header leaves the settings under the section before it.
        assert_eq!(conf.get(&["main"], "x"), Some("1"));
        assert_eq!(conf.get(&["main"], "logdir"), Some("/l"));
        let lines: Vec<usize> = conf.problems().iter().map(|p| p.line).collect();
        assert_eq!(lines, [4, 7]);
        assert_eq!(conf.problems()[1].message, "Could not parse '{weird}'");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let conf = PuppetConf::parse(&text);
            for (_, _, s) in conf.settings() {
                proptest::prop_assert!(s.line >= 1);
            }
        }
    }
}
