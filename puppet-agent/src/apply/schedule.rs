//! The `schedule` metaparameter, as Puppet's `Schedule` type decides it: a resource with a
//! schedule is evaluated only when the time since its last check (`:checked:` in
//! `state.yaml`) reaches the schedule's period divided by its `repeat`
//! (`periodmatch => distance`, Puppet's default), or, with `periodmatch => number`, when the
//! last check was in an earlier period (hour, day, week, month). `range` and `weekday` are not
//! read: a schedule that has them is treated as always matching, with one warning.

use std::collections::HashMap;

use puppet_catalog::{Resource, ResourceRef};
use serde_json::Value;

use super::values::param_str;

/// Whether the resource with `schedule => name` is due, given when it was last checked
/// (Unix seconds) and now. Unknown schedule names (not in the catalog and not one of Puppet's
/// default schedules) are due, as Puppet applies a resource whose schedule it cannot find
/// with a warning.
pub(crate) fn due(
    name: &str,
    by_ref: &HashMap<ResourceRef, &Resource>,
    last_checked: Option<i64>,
    now: i64,
    warn: &mut dyn FnMut(String),
) -> bool {
    let schedule = by_ref
        .iter()
        .find(|(r, _)| r.type_name.eq_ignore_ascii_case("schedule") && r.title == name)
        .map(|(_, r)| *r);
    let (period, repeat, periodmatch) = match schedule {
        Some(s) => {
            if s.parameter("range").is_some() || s.parameter("weekday").is_some() {
                warn(format!(
                    "Schedule[{name}]: range and weekday are not supported by this agent; the schedule always matches"
                ));
                return true;
            }
            let repeat = match s.parameter("repeat") {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
                Some(Value::String(v)) => v.parse().unwrap_or(1),
                _ => 1,
            };
            (
                param_str(s, "period").unwrap_or_default(),
                repeat.max(1),
                param_str(s, "periodmatch").unwrap_or_else(|| "distance".into()),
            )
        }
        // Puppet's default schedules.
        None => match name {
            "puppet" => ("hourly".to_string(), 2, "distance".to_string()),
            "hourly" | "daily" | "weekly" | "monthly" | "never" => {
                (name.to_string(), 1, "distance".to_string())
            }
            _ => {
                warn(format!("Could not find schedule {name}"));
                return true;
            }
        },
    };
    let length: i64 = match period.as_str() {
        "hourly" => 3_600,
        "daily" => 86_400,
        "weekly" => 604_800,
        "monthly" => 2_592_000,
        "never" => return false,
        // No period: the schedule matches on range/weekday alone, which we do not read.
        _ => return true,
    };
    let Some(last) = last_checked else {
        return true;
    };
    if periodmatch == "number" {
        // A different period number since the epoch (UTC).
        return last.div_euclid(length) != now.div_euclid(length);
    }
    let repeat = i64::try_from(repeat).unwrap_or(1);
    now - last >= length / repeat
}

/// The `:checked:` times of `state.yaml` as Puppet writes it (keys `Type[title]`, quoted or
/// not; times `YYYY-MM-DD HH:MM:SS[.frac] +HH:MM`), by resource reference. Lines it does not
/// understand are ignored.
pub fn parse_state(text: &str) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("---") || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let key = line.trim_end().trim_end_matches(':');
            let key = serde_json::from_str::<String>(key)
                .ok()
                .or_else(|| {
                    key.strip_prefix('\'')
                        .and_then(|k| k.strip_suffix('\''))
                        .map(|k| k.replace("''", "'"))
                })
                .unwrap_or_else(|| key.to_string());
            current = Some(key);
        } else if let (Some(key), Some(time)) = (&current, line.trim().strip_prefix(":checked:"))
            && let Some(t) = parse_time(time.trim())
        {
            out.insert(key.clone(), t);
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS[.frac] +HH:MM` (or `+HHMM`, or no offset: UTC) to Unix seconds.
fn parse_time(s: &str) -> Option<i64> {
    use time::macros::format_description;
    let mut parts = s.split_whitespace();
    let (date, clock) = (parts.next()?, parts.next()?);
    let offset = parts.next().unwrap_or("+00:00").replace(':', "");
    let date = time::Date::parse(date, format_description!("[year]-[month]-[day]")).ok()?;
    let clock = time::Time::parse(
        clock.split('.').next()?,
        format_description!("[hour]:[minute]:[second]"),
    )
    .ok()?;
    let offset = time::UtcOffset::parse(
        &offset,
        format_description!("[offset_hour sign:mandatory][offset_minute]"),
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_offset(offset)
            .unix_timestamp(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn state_yaml_times_are_read_as_puppet_and_we_write_them() {
        let text = "---\n\"Notify[hello]\":\n  :checked: 2026-12-03 04:02:17.123456789 +00:00\n  :synced: 2026-12-03 04:02:17.1 +00:00\nFile[/tmp/x]:\n  :checked: 2026-12-03 05:02:17.5 +01:00\n";
        let state = parse_state(text);
        assert_eq!(state.get("Notify[hello]"), Some(&1_796_270_537));
        assert_eq!(state.get("File[/tmp/x]"), Some(&1_796_270_537));
        assert_eq!(parse_time("2026-12-03 04:02:17 -0130"), Some(1_796_275_937));
        assert_eq!(parse_time("2026-13-03 04:02:17 +00:00"), None);
        let written = crate::fsutil::utc_time(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_270_537),
            true,
        );
        assert_eq!(parse_time(&written), Some(1_796_270_537));
    }

    #[test]
    fn distance_and_number_period_matching() {
        let catalog = puppet_catalog::Catalog::from_json(
            br#"{"name": "n", "edges": [], "resources": [
              {"type": "Schedule", "title": "twice-daily", "parameters": {"period": "daily", "repeat": 2}},
              {"type": "Schedule", "title": "per-day", "parameters": {"period": "daily", "periodmatch": "number"}},
              {"type": "Schedule", "title": "office", "parameters": {"range": "9 - 17"}}]}"#,
        )
        .unwrap();
        let by_ref: HashMap<ResourceRef, &Resource> = catalog
            .resources
            .iter()
            .map(|r| (r.reference(), r))
            .collect();
        let mut warnings = Vec::new();
        let mut warn = |w: String| warnings.push(w);
        let day = 86_400;
        assert!(due("twice-daily", &by_ref, None, 10 * day, &mut warn));
        assert!(!due(
            "twice-daily",
            &by_ref,
            Some(10 * day),
            10 * day + day / 2 - 1,
            &mut warn
        ));
        assert!(due(
            "twice-daily",
            &by_ref,
            Some(10 * day),
            10 * day + day / 2,
            &mut warn
        ));
        assert!(!due(
            "per-day",
            &by_ref,
            Some(10 * day + 5),
            10 * day + day - 1,
            &mut warn
        ));
        assert!(due(
            "per-day",
            &by_ref,
            Some(10 * day + day - 1),
            11 * day,
            &mut warn
        ));
        assert!(!due(
            "daily",
            &by_ref,
            Some(10 * day),
            10 * day + 60,
            &mut warn
        ));
        assert!(!due("never", &by_ref, None, 0, &mut warn));
        assert!(due("office", &by_ref, Some(10 * day), 10 * day, &mut warn));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
