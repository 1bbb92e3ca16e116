//! Times as Puppet writes them in reports: `Time#iso8601(9)`.

use time::OffsetDateTime;
use time::macros::format_description;

/// Formats a time as Puppet writes report times: RFC 3339 with nine fractional digits and a
/// `+HH:MM` offset (`2026-11-22T17:44:28.309245158+00:00`).
///
/// ```
/// let t = time::macros::datetime!(2026-11-22 17:44:28.309245158 UTC);
/// assert_eq!(puppet_report::format_time(t), "2026-11-22T17:44:28.309245158+00:00");
/// ```
pub fn format_time(t: OffsetDateTime) -> String {
    let format = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9][offset_hour sign:mandatory]:[offset_minute]"
    );
    // Formatting with this description fails only for years beyond four digits; such a
    // time is written as its Unix time instead.
    t.format(&format)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Now, in UTC, as Puppet writes report times.
pub(crate) fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}
