//! The `checksum` parameter: digests (`md5`, `sha224`, `sha256`, `sha384`, `sha512`) and the
//! time checksums (`mtime`, `ctime`) and `none`, with values in Puppet's `{type}value` form.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use md5::Digest as _;

/// A checksum type of the `file` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sum {
    /// `md5`.
    Md5,
    /// `sha224`.
    Sha224,
    /// `sha256` (Puppet 7's `digest_algorithm`, the default).
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
    /// `mtime`: the file's modification time; content is replaced when the source is newer.
    Mtime,
    /// `ctime`: the file's change time, as `mtime`.
    Ctime,
    /// `none`: content is not checked.
    None,
}

impl Sum {
    /// The type named `name` (`None` for an unknown name).
    ///
    /// ```
    /// use puppet_agent::apply::file::Sum;
    /// assert_eq!(Sum::parse("md5"), Some(Sum::Md5));
    /// assert_eq!(Sum::parse("crc32"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Sum> {
        Some(match name {
            "md5" => Sum::Md5,
            "sha224" => Sum::Sha224,
            "sha256" => Sum::Sha256,
            "sha384" => Sum::Sha384,
            "sha512" => Sum::Sha512,
            "mtime" => Sum::Mtime,
            "ctime" => Sum::Ctime,
            "none" => Sum::None,
            _ => return None,
        })
    }

    /// The name Puppet gives the type.
    pub fn name(self) -> &'static str {
        match self {
            Sum::Md5 => "md5",
            Sum::Sha224 => "sha224",
            Sum::Sha256 => "sha256",
            Sum::Sha384 => "sha384",
            Sum::Sha512 => "sha512",
            Sum::Mtime => "mtime",
            Sum::Ctime => "ctime",
            Sum::None => "none",
        }
    }

    /// Whether the type is a digest of the content (not a time or `none`).
    pub fn is_digest(self) -> bool {
        !matches!(self, Sum::Mtime | Sum::Ctime | Sum::None)
    }

    /// The hex length of a digest (`checksum_value` validation); 0 for the others.
    fn hex_len(self) -> usize {
        match self {
            Sum::Md5 => 32,
            Sum::Sha224 => 56,
            Sum::Sha256 => 64,
            Sum::Sha384 => 96,
            Sum::Sha512 => 128,
            _ => 0,
        }
    }

    /// Whether `value` is a valid `checksum_value` for this type (Puppet's
    /// `valid_checksum?`: lower-case hex of the right length for digests; anything for times).
    pub fn valid_value(self, value: &str) -> bool {
        match self {
            Sum::Mtime | Sum::Ctime => true,
            Sum::None => false,
            _ => {
                value.len() == self.hex_len()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
        }
    }

    /// `{type}<hex>` of `bytes` (a time or `none` type gives `{none}`).
    ///
    /// ```
    /// use puppet_agent::apply::file::Sum;
    /// assert_eq!(Sum::Md5.of(b"one\n"), "{md5}5bbf5a52328e7439ae6e719dfe712200");
    /// ```
    pub fn of(self, bytes: &[u8]) -> String {
        let mut h = Hasher::new(self);
        h.update(bytes);
        h.finish()
    }

    /// `{type}value` of the file at `path`: its digest (read in chunks), or its time for
    /// `mtime`/`ctime` (from `meta` when the caller has the `stat` already).
    pub fn of_file(self, path: &Path, meta: Option<&std::fs::Metadata>) -> std::io::Result<String> {
        match self {
            Sum::Mtime | Sum::Ctime => {
                let owned;
                let m = match meta {
                    Some(m) => m,
                    None => {
                        owned = std::fs::metadata(path)?;
                        &owned
                    }
                };
                let secs = if self == Sum::Mtime {
                    m.mtime()
                } else {
                    m.ctime()
                };
                Ok(format!("{{{}}}{}", self.name(), time_text(secs)))
            }
            Sum::None => Ok("{none}".into()),
            _ => {
                let mut f = std::fs::File::open(path)?;
                let mut h = Hasher::new(self);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Ok(h.finish())
            }
        }
    }
}

/// A Unix time as Ruby's `Time#to_s` prints it in UTC (`2026-12-03 06:15:31 +0000`), the
/// form of Puppet's `{mtime}` and `{ctime}` checksums.
pub(crate) fn time_text(secs: i64) -> String {
    let t = if secs >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_secs(secs.unsigned_abs())
    };
    crate::fsutil::utc_time(t, false)
}

/// Parses `YYYY-MM-DD HH:MM:SS +0000` (and `+HHMM` offsets) back to Unix seconds.
pub(crate) fn parse_time_text(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let (date, time) = (parts.next()?, parts.next()?);
    // Ruby prints a UTC time's zone as `UTC` (the `{mtime}` of an http source).
    let offset = match parts.next() {
        None | Some("UTC") => "+0000",
        Some(o) => o,
    };
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.split('.').next().unwrap_or(p).parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let off = offset.trim_start_matches(['+', '-']).replace(':', "");
    let off_secs =
        off.get(..2)?.parse::<i64>().ok()? * 3600 + off.get(2..4)?.parse::<i64>().ok()? * 60;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    Some(days * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - sign * off_secs)
}

/// Puppet's `date_matches?`: with a time checksum, content is in sync when the local time is
/// at least the source's.
pub(crate) fn date_matches(sum: Sum, current: &str, desired: &str) -> bool {
    if !matches!(sum, Sum::Mtime | Sum::Ctime) {
        return false;
    }
    let strip = |v: &str| -> Option<String> {
        match v.strip_prefix('{') {
            Some(rest) => {
                let (t, data) = rest.split_once('}')?;
                matches!(t, "mtime" | "ctime").then(|| data.to_string())
            }
            None => Some(v.to_string()),
        }
    };
    match (
        strip(current).as_deref().and_then(parse_time_text),
        strip(desired).as_deref().and_then(parse_time_text),
    ) {
        (Some(c), Some(d)) => c >= d,
        _ => false,
    }
}

/// An incremental digest of one of the digest types.
pub(crate) enum Hasher {
    Md5(md5::Md5),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn new(sum: Sum) -> Hasher {
        match sum {
            Sum::Md5 => Hasher::Md5(md5::Md5::new()),
            Sum::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Sum::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Sum::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            _ => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha224(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// `{type}<hex>`.
    pub(crate) fn finish(self) -> String {
        let (name, bytes) = match self {
            Hasher::Md5(h) => ("md5", h.finalize().to_vec()),
            Hasher::Sha224(h) => ("sha224", h.finalize().to_vec()),
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha384(h) => ("sha384", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        format!("{{{name}}}{}", hex(&bytes))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The data part of `{type}data`.
pub(crate) fn sum_data(value: &str) -> &str {
    value
        .strip_prefix('{')
        .and_then(|r| r.split_once('}'))
        .map_or(value, |(_, d)| d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_compare() {
        let t = time_text(1_796_278_570);
        assert_eq!(parse_time_text(&t), Some(1_796_278_570));
        assert!(date_matches(
            Sum::Mtime,
            "{mtime}2026-12-03 06:15:31 +0000",
            "{mtime}2026-12-03 06:15:30 +0000"
        ));
        assert!(!date_matches(
            Sum::Mtime,
            "{mtime}2026-12-03 06:15:29 +0000",
            "{mtime}2026-12-03 06:15:30 +0000"
        ));
        assert!(!date_matches(Sum::Sha256, "a", "a"));
    }

    #[test]
    fn time_checksums_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "x").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
            .unwrap();
        assert_eq!(
            Sum::Mtime.of_file(&p, None).unwrap(),
            "{mtime}2023-11-14 22:13:20 +0000"
        );
        let meta = std::fs::metadata(&p).unwrap();
        let ctime = Sum::Ctime.of_file(&p, Some(&meta)).unwrap();
        assert_eq!(
            ctime,
            format!(
                "{{ctime}}{}",
                time_text(std::os::unix::fs::MetadataExt::ctime(&meta))
            )
        );
        assert_eq!(Sum::None.of_file(&p, None).unwrap(), "{none}");
    }

    #[test]
    fn digests_and_values() {
        assert_eq!(
            Sum::Sha256.of(b""),
            "{sha256}e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(Sum::Md5.valid_value("5bbf5a52328e7439ae6e719dfe712200"));
        assert!(!Sum::Md5.valid_value("5BBF5A52328E7439AE6E719DFE712200"));
        assert!(!Sum::Sha256.valid_value("5bbf5a52328e7439ae6e719dfe712200"));
        assert_eq!(sum_data("{md5}abc"), "abc");
        assert_eq!(sum_data("abc"), "abc");
    }
}
