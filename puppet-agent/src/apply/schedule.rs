//! The `schedule` metaparameter, as Puppet's `Schedule` type decides it (`match?`): a resource
//! with a schedule is evaluated only when every parameter of the schedule matches, in the
//! type's order `range`, `period` (with `periodmatch` and `repeat`), `weekday`, with the time
//! of its last check (`:checked:` in `state.yaml`; never checked counts as the epoch, as
//! Puppet's `nil.to_i`) and now, both in local time (`TZ`, else `/etc/localtime`):
//! - `range`: `"H[:M[:S]] - H[:M[:S]]"` (or an array of them, any one matching), inclusive at
//!   both ends; a start after the end crosses midnight; with `weekday` too, the day the range
//!   started must be one of the weekdays;
//! - `period` `hourly`/`daily`/`weekly`/`monthly` with `periodmatch => distance` (Puppet's
//!   default): due when the seconds since the last check reach the period's length (3600,
//!   86400, 604800, 2592000) divided by `repeat`; with `periodmatch => number`: due when the
//!   local hour (hourly), day of the month (daily) or month (monthly) differs from the last
//!   check's, or (weekly) the last check's weekday is after today's or it was more than a week
//!   ago; `never` never matches;
//! - `weekday` (without `range`): today is one of them (`Monday`, `mon`, `Tues`, `0`-`6`,
//!   numbers; Sunday is 0).

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use puppet_catalog::{Resource, ResourceRef};
use serde_json::Value;

use super::values::{param_list, param_str};

/// The schedule's parameters, checked as Puppet's type validates and munges them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    /// `((h, m, s), (h, m, s))` pairs.
    ranges: Vec<([i64; 3], [i64; 3])>,
    period: Option<String>,
    number: bool,
    repeat: i64,
    /// Sunday = 0.
    weekdays: Option<[bool; 7]>,
}

/// Ruby's `String#to_i`: the leading (signed) digits after blanks, else 0.
fn ruby_to_i(s: &str) -> i64 {
    let s = s.trim_start();
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    };
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    digits.parse::<i64>().map_or(0, |n| sign * n)
}

/// `\d+(:\d+){0,2}\s*-\s*\d+(:\d+){0,2}` anywhere in `value` (Puppet's unanchored check).
fn range_shape(value: &str) -> bool {
    let b = value.as_bytes();
    // One time: digits, then up to two `:digits`; the end index.
    let time = |mut i: usize| -> Option<usize> {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in 0..2 {
            if i < b.len() && b[i] == b':' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                break;
            }
        }
        Some(i)
    };
    (0..b.len()).any(|s| {
        // A leading time may be cut shorter than its greediest match; trying every split of
        // the first time's colons covers what the regex's backtracking would find.
        let Some(end) = time(s) else { return false };
        let mut cuts = vec![end];
        cuts.extend((s..end).filter(|&i| b[i] == b':'));
        cuts.into_iter().any(|mut i| {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) != Some(&b'-') {
                return false;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            time(i).is_some()
        })
    })
}

/// Splits on `\s*-\s*` as Ruby's `String#split` does (trailing empty fields dropped).
fn split_dash(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value.split('-').collect();
    let last = parts.len().saturating_sub(1);
    // Blanks next to a dash belong to the separator.
    let mut out: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let p = if i > 0 { p.trim_start() } else { p };
            let p = if i < last { p.trim_end() } else { p };
            p.to_string()
        })
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Puppet's weekday check: `/^(Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(day)?$/i`.
fn weekday_name(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    let stem = v.strip_suffix("day").filter(|s| !s.is_empty());
    let ok = |s: &str| {
        matches!(
            s,
            "mon"
                | "tue"
                | "tues"
                | "wed"
                | "wednes"
                | "thu"
                | "thurs"
                | "fri"
                | "sat"
                | "satur"
                | "sun"
        )
    };
    ok(&v) || stem.is_some_and(ok)
}

fn parse(s: &Resource) -> Result<Schedule, String> {
    let r = s.reference();
    let mut ranges = Vec::new();
    if s.parameter("range").is_some_and(|v| !v.is_null()) {
        let values = param_list(s, "range");
        // Validation of every value first, as Puppet's `validate` runs before `munge`.
        for v in &values {
            let is_string = match s.parameter("range") {
                Some(Value::Array(a)) => a.iter().all(Value::is_string),
                Some(other) => other.is_string(),
                None => true,
            };
            if !is_string || !range_shape(v) {
                return Err(format!(
                    "Parameter range failed on {r}: Invalid range value '{v}'"
                ));
            }
        }
        for v in &values {
            let parts = split_dash(v);
            if parts.len() != 2 {
                return Err(format!("Parameter range failed on {r}: Invalid range {v}"));
            }
            let mut times = [[0i64; 3]; 2];
            for (t, part) in times.iter_mut().zip(&parts) {
                for (slot, n) in t.iter_mut().zip(part.split(':')) {
                    *slot = ruby_to_i(n);
                }
            }
            // Raised as `ArgumentError`s, which Puppet's `munge` wraps.
            let munging = |detail: String| {
                let raw = s.parameter("range").map(inspect).unwrap_or_default();
                format!(
                    "Parameter range failed on {r}: Munging failed for value {raw} in class range: {detail}"
                )
            };
            for n in [times[0][0], times[1][0]] {
                if !(0..=23).contains(&n) {
                    return Err(munging(format!("Invalid hour '{n}'")));
                }
            }
            for n in [times[0][1], times[1][1]] {
                if !(0..=59).contains(&n) {
                    return Err(munging(format!("Invalid minute '{n}'")));
                }
            }
            ranges.push((times[0], times[1]));
        }
    }
    let period = param_str(s, "period");
    if let Some(p) = &period
        && !["hourly", "daily", "weekly", "monthly", "never"].contains(&p.as_str())
    {
        return Err(format!(
            "Parameter period failed on {r}: Invalid value \"{p}\". Valid values are hourly, daily, weekly, monthly, never."
        ));
    }
    let number = match param_str(s, "periodmatch").as_deref() {
        None | Some("distance") => false,
        Some("number") => true,
        Some(other) => {
            return Err(format!(
                "Parameter periodmatch failed on {r}: Invalid value \"{other}\". Valid values are number, distance."
            ));
        }
    };
    let repeat = match s.parameter("repeat") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or(1),
        Some(Value::String(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().unwrap_or(i64::MAX)
        }
        Some(_) => {
            return Err(format!(
                "Parameter repeat failed on {r}: Repeat must be a number"
            ));
        }
    };
    if repeat != 1 && number {
        return Err(format!(
            "Parameter repeat failed on {r}: Repeat must be 1 unless periodmatch is 'distance', not 'number'"
        ));
    }
    let weekdays = if s.parameter("weekday").is_some_and(|v| !v.is_null()) {
        let values: Vec<Value> = match s.parameter("weekday") {
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        };
        let mut days = [false; 7];
        for v in &values {
            let index = match v {
                Value::Number(n) if n.as_i64().is_some_and(|n| (0..=6).contains(&n)) => {
                    n.as_i64().unwrap_or(0)
                }
                Value::String(t) if t.len() == 1 && matches!(t.as_bytes()[0], b'0'..=b'6') => {
                    i64::from(t.as_bytes()[0] - b'0')
                }
                Value::String(t) if weekday_name(t) => WEEKDAY_NAMES
                    .iter()
                    .position(|d| t.to_ascii_lowercase().starts_with(d))
                    .map_or(0, |i| i as i64),
                other => {
                    let shown = match other {
                        Value::String(t) => t.clone(),
                        o => o.to_string(),
                    };
                    return Err(format!(
                        "Parameter weekday failed on {r}: {shown} is not a valid day of the week"
                    ));
                }
            };
            days[index as usize] = true;
        }
        Some(days)
    } else {
        None
    };
    Ok(Schedule {
        ranges,
        period,
        number,
        repeat: repeat.max(1),
        weekdays,
    })
}

/// A local time today (`date`) as a timestamp; `None` when it does not exist.
fn local_at(date: jiff::civil::Date, t: [i64; 3], zone: &TimeZone) -> Option<Timestamp> {
    let (h, m, s) = (
        i8::try_from(t[0]).ok()?,
        i8::try_from(t[1]).ok()?,
        i8::try_from(t[2]).ok()?,
    );
    // Ruby's `Time.local` takes a 60th second as the next minute's first.
    let extra = i64::from(s == 60);
    let time = jiff::civil::Time::new(h, m, s - i8::try_from(extra).ok()?, 0).ok()?;
    let zoned = date.to_datetime(time).to_zoned(zone.clone()).ok()?;
    Timestamp::from_second(zoned.timestamp().as_second() + extra).ok()
}

fn weekday(z: &Zoned) -> usize {
    usize::try_from(z.weekday().to_sunday_zero_offset()).unwrap_or(0)
}

impl Schedule {
    fn range_match(&self, now: &Zoned, zone: &TimeZone) -> bool {
        let day_ok = |wday: usize| self.weekdays.is_none_or(|d| d[wday]);
        let ts = now.timestamp();
        let today = now.date();
        self.ranges.iter().any(|(from, to)| {
            let (Some(start), Some(end)) =
                (local_at(today, *from, zone), local_at(today, *to, zone))
            else {
                return false;
            };
            if start < end {
                return start <= ts && ts <= end && day_ok(weekday(now));
            }
            let (Ok(tomorrow), Ok(yesterday)) = (today.tomorrow(), today.yesterday()) else {
                return false;
            };
            if local_at(tomorrow, *to, zone).is_some_and(|e| start <= ts && ts <= e) {
                day_ok(weekday(now))
            } else {
                local_at(yesterday, *from, zone).is_some_and(|s| s <= ts && ts <= end)
                    && day_ok(
                        usize::try_from(yesterday.weekday().to_sunday_zero_offset()).unwrap_or(0),
                    )
            }
        })
    }

    fn period_match(&self, previous: &Zoned, now: &Zoned) -> bool {
        let Some(period) = &self.period else {
            return true;
        };
        let length: i64 = match period.as_str() {
            "hourly" => 3_600,
            "daily" => 86_400,
            "weekly" => 604_800,
            "monthly" => 2_592_000,
            _ => return false,
        };
        if self.number {
            return match period.as_str() {
                "hourly" => now.hour() != previous.hour(),
                "daily" => now.day() != previous.day(),
                "monthly" => now.month() != previous.month(),
                _ => {
                    let apart =
                        now.timestamp().as_nanosecond() - previous.timestamp().as_nanosecond();
                    weekday(previous) > weekday(now) || apart > 7 * 86_400 * 1_000_000_000
                }
            };
        }
        now.timestamp().as_second() - previous.timestamp().as_second() >= length / self.repeat
    }

    fn matches(&self, previous: i64, now: Timestamp, zone: &TimeZone) -> bool {
        let now = now.to_zoned(zone.clone());
        let previous = Timestamp::from_second(previous)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(zone.clone());
        if !self.ranges.is_empty() && !self.range_match(&now, zone) {
            return false;
        }
        if !self.period_match(&previous, &now) {
            return false;
        }
        match (&self.weekdays, self.ranges.is_empty()) {
            (Some(days), true) => days[weekday(&now)],
            _ => true,
        }
    }
}

/// Every `Schedule` of the catalog checked as Puppet's type checks it when the catalog is
/// converted; the first error with Puppet's message.
pub(crate) fn check_all(catalog: &puppet_catalog::Catalog) -> Result<(), String> {
    for r in &catalog.resources {
        if r.resource_type.eq_ignore_ascii_case("schedule") {
            parse(r)?;
        }
    }
    Ok(())
}

/// Ruby's `inspect` of a parameter value (strings quoted, arrays `["a", "b"]`).
fn inspect(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("[{}]", a.iter().map(inspect).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Whether the resource with `schedule => name` is due, given when it was last checked
/// (Unix seconds; `None`: never) and now, in the local time zone `zone`. A schedule that is
/// neither in the catalog nor one of Puppet's default schedules is an error
/// `Could not find schedule <name>` (Puppet's transaction stops there); so is a schedule with
/// an invalid parameter, with Puppet's message
/// (`Parameter range failed on Schedule[x]: Invalid range value 'x'`).
pub(crate) fn due(
    name: &str,
    by_ref: &HashMap<ResourceRef, &Resource>,
    last_checked: Option<i64>,
    now: Timestamp,
    zone: &TimeZone,
) -> Result<bool, String> {
    let schedule = by_ref
        .iter()
        .find(|(r, _)| r.type_name.eq_ignore_ascii_case("schedule") && r.title == name)
        .map(|(_, r)| *r);
    let schedule = match schedule {
        Some(s) => parse(s)?,
        // Puppet's default schedules.
        None => {
            let period = match name {
                "puppet" => "hourly",
                "hourly" | "daily" | "weekly" | "monthly" | "never" => name,
                _ => return Err(format!("Could not find schedule {name}")),
            };
            Schedule {
                ranges: Vec::new(),
                period: Some(period.to_string()),
                number: false,
                repeat: if name == "puppet" { 2 } else { 1 },
                weekdays: None,
            }
        }
    };
    Ok(schedule.matches(last_checked.unwrap_or(0), now, zone))
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

    fn catalog() -> puppet_catalog::Catalog {
        puppet_catalog::Catalog::from_json(
            br#"{"name": "n", "edges": [], "resources": [
              {"type": "Schedule", "title": "twice-daily", "parameters": {"period": "daily", "repeat": 2}},
              {"type": "Schedule", "title": "per-day", "parameters": {"period": "daily", "periodmatch": "number"}},
              {"type": "Schedule", "title": "per-week", "parameters": {"period": "weekly", "periodmatch": "number"}},
              {"type": "Schedule", "title": "office", "parameters": {"range": "9 - 17:30"}},
              {"type": "Schedule", "title": "night", "parameters": {"range": ["22:00:00 - 04:00", "12-12:05"], "weekday": ["Sat", "1"]}},
              {"type": "Schedule", "title": "weekend", "parameters": {"weekday": ["Saturday", 0]}},
              {"type": "Schedule", "title": "bad-hour", "parameters": {"range": "9 - 24"}},
              {"type": "Schedule", "title": "bad-range", "parameters": {"range": "nine - 5"}},
              {"type": "Schedule", "title": "bad-day", "parameters": {"weekday": "Someday"}},
              {"type": "Schedule", "title": "bad-repeat", "parameters": {"period": "daily", "periodmatch": "number", "repeat": 2}}]}"#,
        )
        .unwrap()
    }

    /// Unix seconds of a UTC time.
    fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> Timestamp {
        jiff::civil::date(y, mo, d)
            .at(h, mi, s, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap()
            .timestamp()
    }

    #[test]
    fn periods_ranges_and_weekdays_match_as_puppet_decides() {
        let catalog = catalog();
        let by_ref: HashMap<ResourceRef, &Resource> = catalog
            .resources
            .iter()
            .map(|r| (r.reference(), r))
            .collect();
        let utc = TimeZone::UTC;
        let due_at = |name: &str, last: Option<Timestamp>, now: Timestamp| {
            due(name, &by_ref, last.map(|t| t.as_second()), now, &utc)
        };
        // 2026-12-03 is a Thursday.
        let thu = at(2026, 12, 3, 10, 0, 0);
        let half_day = jiff::SignedDuration::from_secs(43_200);
        assert_eq!(due_at("twice-daily", None, thu), Ok(true));
        assert_eq!(
            due_at(
                "twice-daily",
                Some(thu),
                thu + half_day - jiff::SignedDuration::from_secs(1)
            ),
            Ok(false)
        );
        assert_eq!(due_at("twice-daily", Some(thu), thu + half_day), Ok(true));
        // Number: another day of the month, whatever the distance.
        assert_eq!(
            due_at(
                "per-day",
                Some(at(2026, 12, 3, 0, 0, 1)),
                at(2026, 12, 3, 23, 59, 59)
            ),
            Ok(false)
        );
        assert_eq!(
            due_at(
                "per-day",
                Some(at(2026, 12, 2, 23, 59, 59)),
                at(2026, 12, 3, 0, 0, 0)
            ),
            Ok(true)
        );
        assert_eq!(
            due_at("per-day", Some(at(2026, 11, 3, 10, 0, 0)), thu),
            Ok(false)
        );
        // Never checked is the epoch: a Thursday, the 1st, hour 0.
        assert_eq!(
            due_at("per-day", None, at(2026, 12, 1, 10, 0, 0)),
            Ok(false)
        );
        // Weekly by number: the last check's weekday after today's, or over a week ago.
        assert_eq!(
            due_at("per-week", Some(at(2026, 12, 1, 10, 0, 0)), thu),
            Ok(false)
        );
        assert_eq!(
            due_at("per-week", Some(at(2026, 11, 28, 10, 0, 0)), thu),
            Ok(true)
        );
        assert_eq!(
            due_at("per-week", Some(at(2026, 11, 26, 9, 0, 0)), thu),
            Ok(true)
        );
        assert_eq!(
            due_at(
                "daily",
                Some(thu),
                thu + jiff::SignedDuration::from_secs(60)
            ),
            Ok(false)
        );
        assert_eq!(due_at("never", None, thu), Ok(false));
        assert_eq!(
            due_at(
                "puppet",
                Some(thu),
                thu + jiff::SignedDuration::from_secs(1_800)
            ),
            Ok(true)
        );
        // Ranges: inclusive ends, minutes.
        assert_eq!(due_at("office", None, at(2026, 12, 3, 9, 0, 0)), Ok(true));
        assert_eq!(due_at("office", None, at(2026, 12, 3, 17, 30, 0)), Ok(true));
        assert_eq!(
            due_at("office", None, at(2026, 12, 3, 17, 30, 1)),
            Ok(false)
        );
        assert_eq!(
            due_at("office", None, at(2026, 12, 3, 8, 59, 59)),
            Ok(false)
        );
        // Across midnight, on the weekday the range started (Saturday or Monday).
        assert_eq!(due_at("night", None, at(2026, 12, 5, 23, 0, 0)), Ok(true));
        assert_eq!(due_at("night", None, at(2026, 12, 6, 3, 0, 0)), Ok(true));
        assert_eq!(due_at("night", None, at(2026, 12, 7, 3, 0, 0)), Ok(false));
        assert_eq!(due_at("night", None, at(2026, 12, 7, 23, 0, 0)), Ok(true));
        assert_eq!(due_at("night", None, at(2026, 12, 3, 23, 0, 0)), Ok(false));
        assert_eq!(due_at("night", None, at(2026, 12, 7, 12, 4, 0)), Ok(true));
        // Weekdays alone.
        assert_eq!(due_at("weekend", None, at(2026, 12, 6, 1, 0, 0)), Ok(true));
        assert_eq!(due_at("weekend", None, thu), Ok(false));
        // Puppet's validation messages.
        assert_eq!(
            due_at("bad-hour", None, thu),
            Err("Parameter range failed on Schedule[bad-hour]: Munging failed for value \"9 - 24\" in class range: Invalid hour '24'".into())
        );
        assert_eq!(
            due_at("bad-range", None, thu),
            Err(
                "Parameter range failed on Schedule[bad-range]: Invalid range value 'nine - 5'"
                    .into()
            )
        );
        assert_eq!(
            due_at("bad-day", None, thu),
            Err("Parameter weekday failed on Schedule[bad-day]: Someday is not a valid day of the week".into())
        );
        assert_eq!(
            due_at("bad-repeat", None, thu),
            Err("Parameter repeat failed on Schedule[bad-repeat]: Repeat must be 1 unless periodmatch is 'distance', not 'number'".into())
        );
        assert_eq!(
            due_at("nowhere", None, thu),
            Err("Could not find schedule nowhere".into())
        );
    }

    #[test]
    fn ranges_are_read_in_local_time() {
        let catalog = catalog();
        let by_ref: HashMap<ResourceRef, &Resource> = catalog
            .resources
            .iter()
            .map(|r| (r.reference(), r))
            .collect();
        let paris = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 08:30 UTC is 09:30 in Paris in winter.
        let now = at(2026, 12, 3, 8, 30, 0);
        assert_eq!(due("office", &by_ref, None, now, &paris), Ok(true));
        assert_eq!(due("office", &by_ref, None, now, &TimeZone::UTC), Ok(false));
    }

    #[test]
    fn range_values_are_checked_and_split_as_puppet_does() {
        assert!(range_shape("2 - 4"));
        assert!(range_shape("01:00:00 - 03:00:00"));
        assert!(range_shape("x1:2-3y"));
        assert!(!range_shape("1:2:3:4"));
        assert!(!range_shape("nine - 5"));
        assert_eq!(split_dash("1:30 - 4:30"), ["1:30", "4:30"]);
        assert_eq!(split_dash("-2 - 4"), ["", "2", "4"]);
        assert_eq!(split_dash("2 - 4 -"), ["2", "4"]);
        assert_eq!(ruby_to_i(" 12x"), 12);
        assert_eq!(ruby_to_i("x"), 0);
        assert!(weekday_name("Tues") && weekday_name("wednesday") && weekday_name("SUN"));
        assert!(!weekday_name("Tuesdays") && !weekday_name("day") && !weekday_name("Thur"));
    }
}
