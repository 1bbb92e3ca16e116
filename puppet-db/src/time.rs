//! Timestamps as PuppetDB stores and answers them: UTC, milliseconds, `Z`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, kept as PuppetDB prints it (`2026-12-02T10:00:00.123Z`), so that text
/// order is time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(String);

impl Timestamp {
    /// Parses an RFC 3339 timestamp (any offset, any fraction) and normalizes it.
    ///
    /// ```
    /// use puppet_db::Timestamp;
    /// let t = Timestamp::parse("2026-12-02T11:00:00.1234567+01:00").unwrap();
    /// assert_eq!(t.as_str(), "2026-12-02T10:00:00.123Z");
    /// assert!(Timestamp::parse("yesterday").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| format!("{s:?} is not an ISO 8601 timestamp: {e}"))?;
        Ok(Timestamp::from_datetime(t))
    }

    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }

    fn from_datetime(t: OffsetDateTime) -> Timestamp {
        let t = t.to_offset(UtcOffset::UTC);
        Timestamp(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ))
    }

    /// This time minus `d` (saturating at the earliest representable time).
    ///
    /// ```
    /// use puppet_db::Timestamp;
    /// let t = Timestamp::parse("2026-12-02T10:00:00Z").unwrap();
    /// assert_eq!(t.minus(std::time::Duration::from_secs(86400)).as_str(), "2026-12-01T10:00:00.000Z");
    /// ```
    pub fn minus(&self, d: std::time::Duration) -> Timestamp {
        let t = OffsetDateTime::parse(&self.0, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let d = time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
        Timestamp::from_datetime(t.checked_sub(d).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
