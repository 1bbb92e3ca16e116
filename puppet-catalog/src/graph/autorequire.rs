//! Autorequires of the core types (`File`, `Exec`, `User`, `Package`) and of `cron_core`'s
//! `Cron` (its `user`), as their
//! `autorequire` blocks define them (core types have no autobefore, autosubscribe or
//! autonotify).

use serde_json::Value;

use super::build::{Builder, Params};
use super::index::normalize_path;
use crate::Resource;

impl Builder<'_> {
    /// The resources `r` autorequires, in the type's `autorequire` order.
    pub(super) fn autorequires(&self, r: &Resource, deps: &mut Vec<u32>) {
        if r.parameters.is_none() {
            return self.autorequires_without_params(r, deps);
        }
        if !matches!(
            r.resource_type.as_str(),
            "File" | "Exec" | "User" | "Package" | "Cron"
        ) {
            return;
        }
        let params = Params::of(r);
        let get = |k: &str| params.get(k);
        match r.resource_type.as_str() {
            "File" => {
                let path = get("path").and_then(Value::as_str).unwrap_or(&r.title);
                if let Some(parent) = self.nearest_managed_ancestor(path) {
                    deps.push(parent);
                }
                if let Some(target) = get("target").and_then(Value::as_str) {
                    self.push_named(deps, "File", target);
                }
                if let Some(owner) = get("owner").and_then(first_name) {
                    self.push_named(deps, "User", owner);
                }
                if let Some(group) = get("group").and_then(first_name) {
                    self.push_named(deps, "Group", group);
                }
            }
            "Exec" => {
                if let Some(cwd) = get("cwd").and_then(Value::as_str) {
                    self.push_named(deps, "File", cwd);
                }
                let command = match get("command") {
                    Some(Value::String(s)) => s.as_str(),
                    Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or(""),
                    _ => r.title.as_str(),
                };
                for path in line_start_paths(command) {
                    self.push_named(deps, "File", path);
                }
                for quoted in line_start_quoted(command) {
                    self.push_named(deps, "File", quoted);
                }
                for check in ["onlyif", "unless"] {
                    let lines: Vec<&str> = match get(check) {
                        Some(Value::String(s)) => vec![s.as_str()],
                        Some(Value::Array(a)) => a
                            .iter()
                            .filter_map(|l| match l {
                                Value::String(s) => Some(s.as_str()),
                                Value::Array(inner) => inner.first().and_then(Value::as_str),
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    for line in lines {
                        for path in line_start_paths(line) {
                            self.push_named(deps, "File", path);
                        }
                    }
                }
                if let Some(user) = get("user").and_then(Value::as_str)
                    && !is_digits(user)
                {
                    self.push_named(deps, "User", user);
                }
            }
            "Cron" => {
                if let Some(user) = get("user").and_then(Value::as_str) {
                    self.push_named(deps, "User", user);
                }
            }
            "User" => {
                if let Some(gid) = get("gid") {
                    let gids: Vec<&Value> = match gid {
                        Value::Array(a) => a.iter().collect(),
                        v => vec![v],
                    };
                    for g in gids {
                        match numeric(g) {
                            Some(num) => {
                                if let Some(v) = self.group_with_gid(num) {
                                    deps.push(v);
                                }
                            }
                            None => {
                                if let Some(name) = g.as_str() {
                                    self.push_named(deps, "Group", name);
                                }
                            }
                        }
                    }
                }
                if let Some(groups) = get("groups") {
                    let mut names: Vec<&str> = Vec::new();
                    match groups {
                        Value::String(s) => names.extend(s.split(',')),
                        Value::Array(a) => {
                            for g in a.iter().filter_map(Value::as_str) {
                                names.extend(g.split(','));
                            }
                        }
                        _ => {}
                    }
                    for name in names {
                        self.push_named(deps, "Group", name);
                    }
                }
            }
            "Package" => {
                for k in ["responsefile", "adminfile"] {
                    if let Some(f) = get(k).and_then(Value::as_str) {
                        self.push_named(deps, "File", f);
                    }
                }
                if let Some(source) = get("source").and_then(Value::as_str)
                    && source.starts_with('/')
                {
                    self.push_named(deps, "File", source);
                }
            }
            _ => {}
        }
    }

    fn autorequires_without_params(&self, r: &Resource, deps: &mut Vec<u32>) {
        match r.resource_type.as_str() {
            "File" => {
                if let Some(parent) = self.nearest_managed_ancestor(&r.title) {
                    deps.push(parent);
                }
            }
            "Exec" => {
                for path in line_start_paths(&r.title) {
                    self.push_named(deps, "File", path);
                }
                for quoted in line_start_quoted(&r.title) {
                    self.push_named(deps, "File", quoted);
                }
            }
            _ => {}
        }
    }

    fn push_named(&self, deps: &mut Vec<u32>, ty: &str, name: &str) {
        if let Some(v) = self.index.get(ty, name) {
            deps.push(v);
        }
    }

    /// `Pathname#parent.ascend`: the closest ancestor directory managed as a `File`.
    fn nearest_managed_ancestor(&self, path: &str) -> Option<u32> {
        let path = normalize_path(path);
        if path == "/" || !path.starts_with('/') {
            return None;
        }
        let mut p: &str = &path;
        loop {
            let cut = p.rfind('/')?;
            p = if cut == 0 { "/" } else { &p[..cut] };
            if let Some(v) = self.index.get("File", p) {
                return Some(v);
            }
            if p == "/" {
                return None;
            }
        }
    }

    fn group_with_gid(&self, gid: u64) -> Option<u32> {
        self.catalog
            .resources
            .iter()
            .position(|g| {
                g.resource_type == "Group"
                    && g.parameters
                        .as_ref()
                        .and_then(|p| p.get("gid"))
                        .and_then(numeric)
                        == Some(gid)
            })
            .map(|i| i as u32)
    }
}

/// Matches of Ruby's `%r{^(/\S+)}`: at each line start, an absolute path up to whitespace.
pub(super) fn line_start_paths(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter_map(|line| {
        if !line.starts_with('/') {
            return None;
        }
        let end = line
            .find([' ', '\t', '\r', '\x0b', '\x0c'])
            .unwrap_or(line.len());
        (end > 1).then(|| &line[..end])
    })
}

/// Matches of Ruby's `/^"([^"]+)"/`.
pub(super) fn line_start_quoted(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter_map(|line| {
        let rest = line.strip_prefix('"')?;
        let end = rest.find('"')?;
        (end > 0).then(|| &rest[..end])
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn numeric(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if is_digits(s) => s.parse().ok(),
        _ => None,
    }
}

/// A file's `owner`/`group` value if it names a user or group (not an id).
fn first_name(v: &Value) -> Option<&str> {
    let v = match v {
        Value::Array(a) => a.first()?,
        v => v,
    };
    v.as_str().filter(|s| !is_digits(s))
}
