//! `["function", "to_string", field, format]`: PostgreSQL's `to_char` formats (what PuppetDB
//! runs), done here on the answer's values so that both backends format alike. Timestamps (in
//! UTC) and numbers; the common template patterns (see [`timestamp`] and [`number`]).

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `value` formatted with `format` as `to_char` would: a timestamp string, or a number.
/// `None` for a value `to_char` takes no format for (PuppetDB answers null there too).
pub(crate) fn to_char(value: &Value, format: &str) -> Option<String> {
    match value {
        Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| timestamp(t.to_offset(time::UtcOffset::UTC), format)),
        Value::Number(n) => n.as_f64().map(|f| number(f, format)),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A name in the case of its pattern (`MONTH`, `Month`, `month`), blank-padded to `pad`
/// unless `fill` (PostgreSQL's `FM`).
fn named(name: &str, pattern: &str, pad: usize, fill: bool) -> String {
    let text = if pattern.chars().all(|c| c.is_ascii_uppercase()) {
        name.to_uppercase()
    } else if pattern.starts_with(|c: char| c.is_ascii_uppercase()) {
        name.to_string()
    } else {
        name.to_lowercase()
    };
    if fill { text } else { format!("{text:<pad$}") }
}

/// A number zero-padded to `width` unless `fill`.
fn padded(n: i64, width: usize, fill: bool) -> String {
    if fill {
        n.to_string()
    } else {
        format!("{n:0width$}")
    }
}

/// `to_char(timestamp, format)`: `YYYY`, `YYY`, `YY`, `Y`, `MM`, `MONTH`/`Month`/`month`,
/// `MON`/`Mon`/`mon`, `DD`, `DDD`, `D`, `DAY`/`Day`/`day`, `DY`/`Dy`/`dy`, `HH`, `HH12`, `HH24`,
/// `MI`, `SS`, `MS`, `US`, `SSSS`, `AM`/`PM` (and `am`, `A.M.`, ...), `Q`, `TZ`/`tz`, the
/// `FM` prefix, `"quoted text"`; anything else is copied.
pub(crate) fn timestamp(t: OffsetDateTime, format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    let month = usize::from(u8::from(t.month())) - 1;
    let weekday = usize::from(t.weekday().number_days_from_sunday());
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => i64::from(h),
    };
    let pm = t.hour() >= 12;
    while !rest.is_empty() {
        let fill = rest.starts_with("FM");
        if fill {
            rest = &rest[2..];
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            out.push_str(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        // Longest patterns first.
        const PATTERNS: [&str; 37] = [
            "MONTH", "Month", "month", "A.M.", "P.M.", "a.m.", "p.m.", "YYYY", "SSSS", "HH24",
            "HH12", "MON", "Mon", "mon", "DAY", "Day", "day", "YYY", "DDD", "YY", "MM", "DD", "DY",
            "Dy", "dy", "HH", "MI", "SS", "MS", "US", "AM", "PM", "am", "pm", "TZ", "tz", "Y",
        ];
        let single = ["D", "Q"];
        let Some(pattern) = PATTERNS
            .iter()
            .chain(single.iter())
            .find(|p| rest.starts_with(**p))
        else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let year = i64::from(t.year());
        let piece = match *pattern {
            "YYYY" => padded(year, 4, fill),
            "YYY" => padded(year % 1000, 3, fill),
            "YY" => padded(year % 100, 2, fill),
            "Y" => (year % 10).to_string(),
            "MM" => padded(i64::from(u8::from(t.month())), 2, fill),
            "MONTH" | "Month" | "month" => named(MONTHS[month], pattern, 9, fill),
            "MON" | "Mon" | "mon" => named(&MONTHS[month][..3], pattern, 3, true),
            "DD" => padded(i64::from(t.day()), 2, fill),
            "DDD" => padded(i64::from(t.ordinal()), 3, fill),
            "D" => (weekday + 1).to_string(),
            "DAY" | "Day" | "day" => named(DAYS[weekday], pattern, 9, fill),
            "DY" | "Dy" | "dy" => named(&DAYS[weekday][..3], pattern, 3, true),
            "HH" | "HH12" => padded(hour12, 2, fill),
            "HH24" => padded(i64::from(t.hour()), 2, fill),
            "MI" => padded(i64::from(t.minute()), 2, fill),
            "SS" => padded(i64::from(t.second()), 2, fill),
            "MS" => padded(i64::from(t.millisecond()), 3, fill),
            "US" => padded(i64::from(t.microsecond()), 6, fill),
            "SSSS" => {
                (i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second()))
                    .to_string()
            }
            "AM" | "PM" => (if pm { "PM" } else { "AM" }).to_string(),
            "am" | "pm" => (if pm { "pm" } else { "am" }).to_string(),
            "A.M." | "P.M." => (if pm { "P.M." } else { "A.M." }).to_string(),
            "a.m." | "p.m." => (if pm { "p.m." } else { "a.m." }).to_string(),
            "Q" => (month / 3 + 1).to_string(),
            "TZ" => "UTC".to_string(),
            "tz" => "utc".to_string(),
            _ => String::new(),
        };
        out.push_str(&piece);
        rest = &rest[pattern.len()..];
        // An ordinal suffix after a number (`DDth` is `3rd`; `TH` in capitals).
        let numeric = piece.trim().bytes().all(|b| b.is_ascii_digit()) && !piece.trim().is_empty();
        if let Some(upper) = ["TH", "th"].iter().find(|s| rest.starts_with(**s))
            && numeric
        {
            out.push_str(&ordinal_suffix(piece.trim(), *upper == "TH"));
            rest = &rest[2..];
        }
    }
    out
}

/// English ordinal suffix of a number's digits, as PostgreSQL's `TH`/`th`.
fn ordinal_suffix(digits: &str, upper: bool) -> String {
    let n: u64 = digits.parse().unwrap_or(0);
    let suffix = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    if upper {
        suffix.to_uppercase()
    } else {
        suffix.to_string()
    }
}

/// `to_char(number, format)`: digit positions `9` (blank when a leading zero) and `0`, a
/// decimal point `.` or `D`, group separators `,` or `G`, the `FM` prefix (no padding, no
/// trailing zeros); other characters are copied. As PostgreSQL: a place for the sign in
/// front, `#`s when the number has more digits than the format.
pub(crate) fn number(n: f64, format: &str) -> String {
    let fill = format.starts_with("FM");
    let format = if fill { &format[2..] } else { format };
    let point = format.find(['.', 'D']);
    let (int_fmt, frac_fmt) = match point {
        Some(p) => (&format[..p], &format[p + 1..]),
        None => (format, ""),
    };
    let int_digits = int_fmt.chars().filter(|c| matches!(c, '9' | '0')).count();
    let frac_digits = frac_fmt.chars().filter(|c| matches!(c, '9' | '0')).count();
    let rounded = format!("{:.*}", frac_digits, n.abs());
    let (int_part, frac_part) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let int_part = int_part.trim_start_matches('0');
    if int_part.len() > int_digits {
        let hashes = |f: &str| -> String {
            f.chars()
                .map(|c| if matches!(c, '9' | '0') { '#' } else { c })
                .collect()
        };
        let mut out = format!(" {}", hashes(int_fmt));
        if point.is_some() {
            out.push('.');
            out.push_str(&hashes(frac_fmt));
        }
        return out;
    }
    // The integer part, right-aligned in the format's digit positions.
    let digits: Vec<char> = int_part.chars().collect();
    let first_zero = int_fmt
        .chars()
        .filter(|c| matches!(c, '9' | '0'))
        .position(|c| c == '0')
        .unwrap_or(int_digits);
    let mut int_out = String::new();
    let mut position = 0;
    let mut started = false;
    for c in int_fmt.chars() {
        match c {
            '9' | '0' => {
                let from_right = int_digits - position;
                let digit = (from_right <= digits.len()).then(|| digits[digits.len() - from_right]);
                match digit {
                    Some(d) => {
                        started = true;
                        int_out.push(d);
                    }
                    None if position >= first_zero => {
                        started = true;
                        int_out.push('0');
                    }
                    None => int_out.push(' '),
                }
                position += 1;
            }
            ',' | 'G' => int_out.push(if started { ',' } else { ' ' }),
            other => int_out.push(other),
        }
    }
    // A lone zero stays visible when the format has no `0` ("9" of 0 is "0").
    if !started && frac_digits == 0 {
        int_out.pop();
        int_out.push('0');
    }
    // The sign's place: just before the first digit.
    let sign = if n < 0.0 { '-' } else { ' ' };
    let lead = int_out.len() - int_out.trim_start().len();
    let mut out = format!("{}{sign}{}", &int_out[..lead], &int_out[lead..]);
    if point.is_some() {
        out.push('.');
        let mut frac = frac_part.to_string();
        if fill {
            frac = frac.trim_end_matches('0').to_string();
        }
        out.push_str(&frac);
    }
    if fill {
        out = out.trim().to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_postgresql_formats_them() {
        let t = OffsetDateTime::parse("2026-12-02T15:04:05.123Z", &Rfc3339)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            timestamp(t, "YYYY-MM-DD HH24:MI:SS.MS"),
            "2026-12-02 15:04:05.123"
        );
        assert_eq!(timestamp(t, "month"), "december ");
        assert_eq!(timestamp(t, "FMDDth Mon, DDDTH"), "2nd Dec, 336TH");
        assert_eq!(ordinal_suffix("3", false), "rd");
        assert_eq!(ordinal_suffix("11", true), "TH");
        assert_eq!(ordinal_suffix("22", false), "nd");
        assert_eq!(ordinal_suffix("101", false), "st");
        assert_eq!(timestamp(t, "FMMonth"), "December");
        assert_eq!(timestamp(t, "YY"), "26");
        assert_eq!(
            timestamp(t, "Dy, DD Mon YYYY HH12 AM"),
            "Wed, 02 Dec 2026 03 PM"
        );
        assert_eq!(timestamp(t, "FMDD \"of\" FMMonth, Q"), "2 of December, 4");
    }

    #[test]
    fn numbers_as_postgresql_formats_them() {
        // psql: select to_char(7, '999'), to_char(3600, '999999999'), ...
        assert_eq!(number(7.0, "999"), "   7");
        assert_eq!(number(3600.0, "999999999"), "      3600");
        assert_eq!(number(-12.0, "999"), " -12");
        assert_eq!(number(0.25, "9.99"), "  .25");
        assert_eq!(number(0.25, "0.99"), " 0.25");
        assert_eq!(number(1234.5, "9,999.9"), " 1,234.5");
        assert_eq!(number(12345.0, "999"), " ###");
        assert_eq!(number(0.0, "999"), "   0");
        assert_eq!(number(42.0, "FM999"), "42");
        assert_eq!(number(5.0, "000"), " 005");
    }
}
