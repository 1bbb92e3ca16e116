//! Small families: `timezone`, `path`, `system_uptime`, `load_averages`, `fips_enabled`,
//! `facterversion`, `aio_agent_version`.
//!
//! Sources: the time zone database through `TZ` or `/etc/localtime` (`timezone`), the
//! process's `PATH`, `/proc/uptime`, `/proc/loadavg`, `/proc/sys/crypto/fips_enabled`,
//! `/opt/puppetlabs/puppet/VERSION` (Puppet's all-in-one agent package).

use serde_json::{Map, Value};

use super::{Sources, System, s};
use crate::FactsError;

/// Collects `timezone`: the local zone's abbreviation now (`UTC`, `CET`, `EST`).
pub fn collect_timezone(
    _sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    if let Some(tz) = system.timezone() {
        facts.insert("timezone".into(), s(tz));
    }
    Ok(())
}

/// Collects `path`: this process's `PATH`, verbatim.
pub fn collect_path(
    _sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    if let Some(path) = system.env("PATH") {
        facts.insert("path".into(), s(path));
    }
    Ok(())
}

/// `system_uptime` from seconds: `days`, `hours`, `seconds`, `uptime` (`"1:23 hours"`,
/// `"1 day"`, `"3 days"`).
/// ```
/// use puppet_facts::collect::misc::uptime;
/// assert_eq!(uptime(5031)["uptime"], "1:23 hours");
/// assert_eq!(uptime(90_000)["uptime"], "1 day");
/// ```
pub fn uptime(seconds: u64) -> Value {
    let hours = seconds / 3600;
    let days = hours / 24;
    let text = match days {
        0 => format!("{hours}:{:02} hours", (seconds / 60) % 60),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    };
    let mut m = Map::new();
    m.insert("days".into(), Value::from(days));
    m.insert("hours".into(), Value::from(hours));
    m.insert("seconds".into(), Value::from(seconds));
    m.insert("uptime".into(), s(text));
    Value::Object(m)
}

/// Collects `system_uptime` from `/proc/uptime` (first field, truncated).
///
/// facter 4.3 first looks for docker in `/proc/1/environ`, which it cannot open in a
/// sandbox, and then drops the fact; this reads the uptime directly.
pub fn collect_uptime(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let Some(text) = sources.read_for("system_uptime", "/proc/uptime")? else {
        return Ok(());
    };
    let seconds = text
        .split_whitespace()
        .next()
        .and_then(|f| f.split('.').next())
        .and_then(|f| f.parse::<u64>().ok())
        .ok_or_else(|| super::source_error("system_uptime", "/proc/uptime", &"no seconds field"))?;
    facts.insert("system_uptime".into(), uptime(seconds));
    Ok(())
}

/// `load_averages` from `/proc/loadavg`.
pub fn load_averages(text: &str) -> Value {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    let mut m = Map::new();
    for key in ["1m", "5m", "15m"] {
        let v = fields.next().flatten();
        m.insert(key.into(), v.map(Value::from).unwrap_or(Value::Null));
    }
    Value::Object(m)
}

/// Collects `load_averages`.
pub fn collect_load_averages(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    if let Some(text) = sources.read_for("load_averages", "/proc/loadavg")? {
        facts.insert("load_averages".into(), load_averages(&text));
    }
    Ok(())
}

/// Collects `fips_enabled` (`false` when the file is missing or unreadable).
pub fn collect_fips(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let on = sources.attr("/proc/sys/crypto/fips_enabled").as_deref() == Some("1");
    facts.insert("fips_enabled".into(), Value::Bool(on));
    Ok(())
}

/// Collects `facterversion`: the facter version whose answers these are
/// ([`FACTER_VERSION`](super::FACTER_VERSION)), for manifests that compare it.
pub fn collect_facterversion(
    _sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    facts.insert("facterversion".into(), s(super::FACTER_VERSION));
    Ok(())
}

/// `aio_agent_version` from the text of `/opt/puppetlabs/puppet/VERSION`: its leading
/// `N.N.N[.N[.N]]`.
///
/// ```
/// use puppet_facts::collect::misc::aio_agent_version;
/// assert_eq!(aio_agent_version("7.28.0\n").as_deref(), Some("7.28.0"));
/// assert_eq!(aio_agent_version("7.28.0.12.1.5-g1234").as_deref(), Some("7.28.0.12.1"));
/// assert_eq!(aio_agent_version("7.28"), None);
/// ```
pub fn aio_agent_version(text: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in text.trim_end().split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || parts.len() == 5 {
            break;
        }
        let whole = digits.len() == part.len();
        parts.push(digits);
        if !whole {
            break;
        }
    }
    (parts.len() >= 3).then(|| parts.join("."))
}

/// Collects `aio_agent_version`.
pub fn collect_aio_agent_version(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let text = sources.read_for("aio_agent_version", "/opt/puppetlabs/puppet/VERSION")?;
    if let Some(v) = text.as_deref().and_then(aio_agent_version) {
        facts.insert("aio_agent_version".into(), s(v));
    }
    Ok(())
}
