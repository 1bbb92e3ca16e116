//! The facts document: parse, serialize, build.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::FactsError;

/// How long facts stay valid when no other TTL is given: Puppet's default `runinterval`, 30
/// minutes. The agent writes `expiration` = `timestamp` + `runinterval`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 60);

/// The keys of the document that [`Facts`] models; every other key goes to [`Facts::extra`].
const MODELLED: [&str; 4] = ["name", "values", "timestamp", "expiration"];

/// A facts document, as a Puppet agent sends it with `PUT /puppet/v3/facts/:certname` and,
/// URL-encoded, in the `facts` parameter of a catalog request:
///
/// ```json
/// {"name": "agent1.example.test",
///  "values": {"os": {"family": "Debian", ...}, "clientcert": "agent1.example.test", ...},
///  "timestamp": "2026-11-22T17:45:02.958167965+00:00",
///  "expiration": "2026-11-22T18:15:02.958472204+00:00"}
/// ```
///
/// `values` is kept exactly as received (key order included); `timestamp` and `expiration`
/// are kept as the strings Puppet wrote; keys this type does not model are kept in
/// [`extra`](Facts::extra). Parsing then serializing therefore gives the same JSON value.
/// (Two things JSON allows and Puppet never writes do not survive: a key repeated in one
/// object keeps its last value, and an integer beyond the 64-bit range becomes a float.)
///
/// ```
/// use puppet_facts::Facts;
/// let facts = Facts::from_json(br#"{"name": "web1", "values": {"kernel": "Linux"}}"#)?;
/// assert_eq!(facts.name, "web1");
/// assert_eq!(facts.get("kernel"), Some(&serde_json::json!("Linux")));
/// # Ok::<(), puppet_facts::FactsError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Facts {
    /// The node's certname (`name`).
    pub name: String,
    /// The facts (`values`), untyped, in the order received.
    pub values: Map<String, Value>,
    /// When the facts were gathered (`timestamp`), e.g.
    /// `2026-11-22T17:45:02.958167965+00:00`; absent if the document had none.
    pub timestamp: Option<String>,
    /// When the facts stop being valid (`expiration`), normally `timestamp` + `runinterval`.
    pub expiration: Option<String>,
    /// Top-level keys other than the four above, in the order received. Entries named like one
    /// of the four are ignored when serializing.
    pub extra: Map<String, Value>,
}

impl Facts {
    /// Facts made in code, stamped as the agent stamps them: `timestamp` is now and
    /// `expiration` is now + [`DEFAULT_TTL`], both written like Puppet writes them
    /// (RFC 3339, nanoseconds, `+00:00`).
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use serde_json::{json, Map};
    ///
    /// let mut values = Map::new();
    /// values.insert("os".into(), json!({"family": "RedHat"}));
    /// let facts = Facts::new("web1.example.com", values);
    /// assert_eq!(facts.get("os.family"), Some(&json!("RedHat")));
    /// assert!(facts.timestamp.as_deref().is_some_and(|t| t.ends_with("+00:00")));
    /// ```
    pub fn new(name: impl Into<String>, values: Map<String, Value>) -> Facts {
        Facts::new_at(name, values, SystemTime::now(), DEFAULT_TTL)
    }

    /// Like [`Facts::new`] with a given `timestamp` and time to live (the agent uses its
    /// `runinterval`).
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let at = UNIX_EPOCH + Duration::new(1_795_887_902, 958_167_965);
    /// let facts = Facts::new_at("web1", Default::default(), at, Duration::from_secs(1800));
    /// assert_eq!(facts.timestamp.as_deref(), Some("2026-11-28T17:45:02.958167965+00:00"));
    /// assert_eq!(facts.expiration.as_deref(), Some("2026-11-28T18:15:02.958167965+00:00"));
    /// assert_eq!(facts.timestamp_time()?, Some(at));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn new_at(
        name: impl Into<String>,
        values: Map<String, Value>,
        timestamp: SystemTime,
        ttl: Duration,
    ) -> Facts {
        let expiration = timestamp.checked_add(ttl).unwrap_or(timestamp);
        Facts {
            name: name.into(),
            values,
            timestamp: Some(format_time(timestamp)),
            expiration: Some(format_time(expiration)),
            extra: Map::new(),
        }
    }

    /// Adds the facts the agent adds to facter's before sending them (Puppet's
    /// `add_local_facts`): `clientcert` (the agent's `certname` setting), `clientversion` (its
    /// Puppet version) and `clientnoop` (its `noop` setting). A fact already present keeps its
    /// place and takes the new value; new ones go at the end, as in the agent's document.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use serde_json::{json, Map};
    /// let mut facts = Facts::new("web1.example.com", Map::new());
    /// facts.add_local_facts("web1.example.com", "7.23.0", false);
    /// assert_eq!(facts.get("clientcert"), Some(&json!("web1.example.com")));
    /// assert_eq!(facts.get("clientversion"), Some(&json!("7.23.0")));
    /// assert_eq!(facts.get("clientnoop"), Some(&json!(false)));
    /// ```
    pub fn add_local_facts(&mut self, certname: &str, clientversion: &str, noop: bool) {
        self.values
            .insert("clientcert".into(), Value::from(certname));
        self.values
            .insert("clientversion".into(), Value::from(clientversion));
        self.values.insert("clientnoop".into(), Value::Bool(noop));
    }

    /// Reads a facts document. A malformed one gives [`FactsError::Parse`] with the JSON path
    /// of the problem; the values themselves are not checked (use the typed views for that).
    ///
    /// ```
    /// use puppet_facts::{Facts, FactsError};
    /// let facts = Facts::from_json(br#"{"name": "web1", "values": {"a": [1, 2]},
    ///     "timestamp": "2026-11-22T17:45:02.958167965+00:00", "future": true}"#)?;
    /// assert_eq!(facts.extra["future"], true);
    ///
    /// let err = Facts::from_json(br#"{"name": "web1", "values": []}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid facts document at values: expected an object, found an array");
    /// let err = Facts::from_json(br#"{"name": "web1", "values": {"a": [1, }}"#).unwrap_err();
    /// assert!(matches!(&err, FactsError::Parse { path, .. } if path == "values.a[1]"));
    /// # Ok::<(), FactsError>(())
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Facts, FactsError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => Facts::from_value(value),
            // Tracking the path costs time on every value, so it is done only to explain an
            // error: the second pass stops at the same place.
            Err(error) => Err(json_error_with_path(bytes, error)),
        }
    }

    /// Takes a facts document already read as JSON (e.g. the decoded `facts` parameter of a
    /// catalog request), with the checks of [`Facts::from_json`].
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_value(serde_json::json!({"name": "web1", "values": {}}))?;
    /// assert_eq!(facts.timestamp, None);
    /// assert!(Facts::from_value(serde_json::json!({"values": {}})).is_err());
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn from_value(value: Value) -> Result<Facts, FactsError> {
        let mut map = match value {
            Value::Object(map) => map,
            other => return Err(wrong_type(".", "an object", &other)),
        };
        let name = match map.shift_remove("name") {
            Some(Value::String(name)) => name,
            Some(other) => return Err(wrong_type("name", "a string", &other)),
            None => return Err(missing("name")),
        };
        let values = match map.shift_remove("values") {
            Some(Value::Object(values)) => values,
            Some(other) => return Err(wrong_type("values", "an object", &other)),
            None => return Err(missing("values")),
        };
        let timestamp = optional_string(&mut map, "timestamp")?;
        let expiration = optional_string(&mut map, "expiration")?;
        Ok(Facts {
            name,
            values,
            timestamp,
            expiration,
            extra: map,
        })
    }

    /// Writes the document as compact JSON: `name`, `values`, `timestamp`, `expiration`
    /// (when present), then the [`extra`](Facts::extra) keys, as the agent writes it.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let text = r#"{"name":"web1","values":{"z":1,"a":{"b":[true,null]}},"timestamp":"t"}"#;
    /// let facts = Facts::from_json(text.as_bytes())?;
    /// assert_eq!(facts.to_json()?, text);
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn to_json(&self) -> Result<String, FactsError> {
        serde_json::to_string(self).map_err(|e| FactsError::Serialize {
            message: e.to_string(),
        })
    }

    /// Like [`Facts::to_json`], indented (as `puppet facts show` prints).
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// let facts = Facts::from_json(br#"{"name":"web1","values":{}}"#)?;
    /// assert_eq!(facts.to_json_pretty()?, "{\n  \"name\": \"web1\",\n  \"values\": {}\n}");
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn to_json_pretty(&self) -> Result<String, FactsError> {
        serde_json::to_string_pretty(self).map_err(|e| FactsError::Serialize {
            message: e.to_string(),
        })
    }

    /// [`timestamp`](Facts::timestamp) as a time; `None` if the document has none.
    ///
    /// ```
    /// use puppet_facts::{Facts, FactsError};
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let facts = Facts::from_json(br#"{"name": "n", "values": {},
    ///     "timestamp": "2026-11-22T17:45:02.958167965+00:00", "expiration": "soon"}"#)?;
    /// assert_eq!(facts.timestamp_time()?, Some(UNIX_EPOCH + Duration::new(1_795_369_502, 958_167_965)));
    /// assert!(matches!(facts.expiration_time(), Err(FactsError::Time { field: "expiration", .. })));
    /// # Ok::<(), FactsError>(())
    /// ```
    pub fn timestamp_time(&self) -> Result<Option<SystemTime>, FactsError> {
        self.timestamp
            .as_deref()
            .map(|t| parse_time("timestamp", t))
            .transpose()
    }

    /// [`expiration`](Facts::expiration) as a time; `None` if the document has none.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let facts = Facts::new_at("n", Default::default(), at, Duration::from_secs(60));
    /// assert_eq!(facts.expiration_time()?, Some(at + Duration::from_secs(60)));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn expiration_time(&self) -> Result<Option<SystemTime>, FactsError> {
        self.expiration
            .as_deref()
            .map(|t| parse_time("expiration", t))
            .transpose()
    }

    /// The value at a dotted path, the way `facter QUERY` finds it (facter 4.3):
    ///
    /// - a top-level fact whose name is the whole `path` wins, so a custom fact named with dots
    ///   (`my.fact`) is found by its name;
    /// - otherwise `path` is split at every `.`; a segment selects a key of a hash or, if the
    ///   value is an array and the segment is all ASCII digits, the element at that index
    ///   (`processors.models.0`).
    ///
    /// Facter's query has no quoting: a key containing a dot below the top level cannot be
    /// named in a dotted path. [`Facts::get_in`] takes the segments already split and reaches
    /// any key.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use serde_json::json;
    /// let facts = Facts::from_value(json!({"name": "n", "values": {
    ///     "os": {"family": "Debian"},
    ///     "networking": {"interfaces": {"eth0": {"ip": "192.0.2.2"}}},
    ///     "processors": {"models": ["AMD EPYC", "AMD EPYC"]}}}))?;
    /// assert_eq!(facts.get("os.family"), Some(&json!("Debian")));
    /// assert_eq!(facts.get("networking.interfaces.eth0.ip"), Some(&json!("192.0.2.2")));
    /// assert_eq!(facts.get("processors.models.0"), Some(&json!("AMD EPYC")));
    /// assert_eq!(facts.get("os.release"), None);
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn get(&self, path: &str) -> Option<&Value> {
        crate::path::get(&self.values, path)
    }

    /// The value at a path given as segments: each segment is one hash key (taken literally,
    /// dots included) or, on an array, a decimal index. No segments gives `None`.
    ///
    /// ```
    /// use puppet_facts::Facts;
    /// use serde_json::json;
    /// let facts = Facts::from_value(json!({"name": "n", "values": {
    ///     "mountpoints": {"/": {"size": "251.97 GiB"}},
    ///     "ec2_metadata": {"block-device-mapping": {"ami.0": "/dev/sda1"}}}}))?;
    /// assert_eq!(facts.get_in(["mountpoints", "/", "size"]), Some(&json!("251.97 GiB")));
    /// assert_eq!(facts.get_in(["ec2_metadata", "block-device-mapping", "ami.0"]), Some(&json!("/dev/sda1")));
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn get_in<I, S>(&self, segments: I) -> Option<&Value>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        crate::path::get_in(&self.values, segments)
    }
}

impl Serialize for Facts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("values", &self.values)?;
        if let Some(timestamp) = &self.timestamp {
            map.serialize_entry("timestamp", timestamp)?;
        }
        if let Some(expiration) = &self.expiration {
            map.serialize_entry("expiration", expiration)?;
        }
        for (key, value) in &self.extra {
            if !MODELLED.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Facts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Facts, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        Facts::from_value(Value::Object(map)).map_err(de::Error::custom)
    }
}

/// Re-reads `bytes`, which failed to parse with `error`, tracking the JSON path to the failure.
fn json_error_with_path(bytes: &[u8], error: serde_json::Error) -> FactsError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let tracked = serde_path_to_error::deserialize::<_, Value>(&mut de)
        .map_err(|e| (e.path().to_string(), e.into_inner()))
        .and_then(|_| de.end().map_err(|e| (".".to_owned(), e)));
    let (path, error) = tracked.err().unwrap_or_else(|| (".".to_owned(), error));
    FactsError::Parse {
        path,
        message: error.to_string(),
    }
}

fn optional_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, FactsError> {
    match map.shift_remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(key, "a string", &other)),
    }
}

fn missing(key: &str) -> FactsError {
    FactsError::Parse {
        path: ".".into(),
        message: format!("missing field `{key}`"),
    }
}

fn wrong_type(path: &str, expected: &str, found: &Value) -> FactsError {
    FactsError::Parse {
        path: path.into(),
        message: format!("expected {expected}, found {}", kind(found)),
    }
}

/// How a JSON value's type is named in messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes a time as Ruby's `Time#iso8601(9)` does for a UTC clock:
/// `2026-11-22T17:45:02.958167965+00:00`.
fn format_time(time: SystemTime) -> String {
    // Seconds and nanoseconds relative to the epoch, the nanoseconds always non-negative.
    let (secs, nanos): (i128, u32) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (i128::from(after.as_secs()), after.subsec_nanos()),
        Err(before) => {
            let before = before.duration();
            let (s, n) = (i128::from(before.as_secs()), before.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    };
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}+00:00",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Reads an RFC 3339 time (what Puppet writes; Ruby's `Time.parse` would accept more).
fn parse_time(field: &'static str, text: &str) -> Result<SystemTime, FactsError> {
    let error = || FactsError::Time {
        field,
        value: text.to_owned(),
    };
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| error())?;
    let nanos = parsed.unix_timestamp_nanos();
    let magnitude = Duration::new(
        u64::try_from(nanos.unsigned_abs() / 1_000_000_000).map_err(|_| error())?,
        u32::try_from(nanos.unsigned_abs() % 1_000_000_000).map_err(|_| error())?,
    );
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
    .ok_or_else(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_ruby_iso8601_9() {
        let at = UNIX_EPOCH + Duration::new(1_795_369_502, 958_167_965);
        assert_eq!(format_time(at), "2026-11-22T17:45:02.958167965+00:00");
        assert_eq!(
            format_time(UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000+00:00"
        );
        let before = UNIX_EPOCH - Duration::new(1, 500_000_000);
        assert_eq!(format_time(before), "1969-12-31T23:59:58.500000000+00:00");
        // 2024-02-29, a leap day, and 2000-03-01 after a 400-year leap day.
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
            "2024-02-29T00:00:00.000000000+00:00"
        );
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(951_868_800)),
            "2000-03-01T00:00:00.000000000+00:00"
        );
    }

    #[test]
    fn parses_what_it_writes_and_other_offsets() {
        for secs in [
            0u64,
            951_868_800,
            1_709_164_800,
            1_795_369_502,
            4_102_444_800,
        ] {
            let at = UNIX_EPOCH + Duration::new(secs, 123_456_789);
            assert_eq!(parse_time("timestamp", &format_time(at)).ok(), Some(at));
        }
        let local = parse_time("timestamp", "2026-11-22T18:45:02.5+01:00").ok();
        assert_eq!(
            local,
            Some(UNIX_EPOCH + Duration::new(1_795_369_502, 500_000_000))
        );
        let before = parse_time("timestamp", "1969-12-31T23:59:58.5+00:00").ok();
        assert_eq!(before, Some(UNIX_EPOCH - Duration::new(1, 500_000_000)));
        assert!(matches!(
            parse_time("expiration", "2026-11-22 17:45"),
            Err(FactsError::Time { field: "expiration", value }) if value == "2026-11-22 17:45"
        ));
    }

    #[test]
    fn document_errors_name_the_path() {
        let cases: [(&[u8], &str, &str); 9] = [
            (b"[]", ".", "expected an object, found an array"),
            (br#"{"values": {}}"#, ".", "missing field `name`"),
            (br#"{"name": "n"}"#, ".", "missing field `values`"),
            (
                br#"{"name": 1, "values": {}}"#,
                "name",
                "expected a string, found a number",
            ),
            (
                br#"{"name": "n", "values": null}"#,
                "values",
                "expected an object, found null",
            ),
            (
                br#"{"name": "n", "values": {}, "timestamp": 5}"#,
                "timestamp",
                "expected a string, found a number",
            ),
            (
                br#"{"name": "n", "values": {}, "expiration": {}}"#,
                "expiration",
                "expected a string, found an object",
            ),
            (
                br#"{"name": "n", "values": {"os": {"family": "x"}} } x"#,
                ".",
                "trailing characters at line 1 column 51",
            ),
            (
                br#"{"name": "n", "values": {"os": {"family" "x"}}}"#,
                "values.os",
                "expected `:` at line 1 column 42",
            ),
        ];
        for (input, path, message) in cases {
            match Facts::from_json(input) {
                Err(FactsError::Parse {
                    path: p,
                    message: m,
                }) => {
                    assert_eq!(
                        (p.as_str(), m.as_str()),
                        (path, message),
                        "{}",
                        String::from_utf8_lossy(input)
                    );
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut doc = br#"{"name": "n", "values": {"deep": "#.to_vec();
        doc.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(matches!(
            Facts::from_json(&doc),
            Err(FactsError::Parse { .. })
        ));
    }

    #[test]
    fn keeps_unknown_keys_in_order_and_serializes_them_last() {
        let text = r#"{"extra1":1,"name":"n","values":{"b":1,"a":2},"expiration":"e","extra2":[]}"#;
        let facts = Facts::from_json(text.as_bytes()).ok();
        let facts = facts.as_ref();
        assert_eq!(
            facts.map(|f| f.extra.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["extra1".into(), "extra2".into()])
        );
        assert_eq!(
            facts.and_then(|f| f.to_json().ok()).as_deref(),
            Some(r#"{"name":"n","values":{"b":1,"a":2},"expiration":"e","extra1":1,"extra2":[]}"#)
        );
    }

    #[test]
    fn modelled_names_in_extra_are_not_written_twice() {
        let mut facts = Facts::new_at("n", Map::new(), UNIX_EPOCH, DEFAULT_TTL);
        facts.extra.insert("name".into(), Value::from("other"));
        facts.extra.insert("x".into(), Value::from(1));
        assert_eq!(
            facts.to_json().ok().as_deref(),
            Some(
                r#"{"name":"n","values":{},"timestamp":"1970-01-01T00:00:00.000000000+00:00","expiration":"1970-01-01T00:30:00.000000000+00:00","x":1}"#
            )
        );
    }

    #[test]
    fn floats_come_back_exactly() {
        let text = r#"{"name":"n","values":{"a":-3.6964167791932755e76,"b":0.1,"c":1e-7,"d":0.27,"e":1.0}}"#;
        let facts = Facts::from_json(text.as_bytes()).ok();
        let written = facts.and_then(|f| f.to_json().ok()).unwrap_or_default();
        let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
        assert_eq!(parse(&written), parse(text));
        assert!(
            written.contains("-3.6964167791932755e+76") && written.contains("\"e\":1.0"),
            "{written}"
        );
    }

    #[test]
    fn serde_impls_match_from_json() {
        let text = r#"{"name":"n","values":{"k":"v"},"timestamp":"t","other":null}"#;
        let via_serde: Facts = serde_json::from_str(text)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Facts::from_json(text.as_bytes()).ok(),
            Some(via_serde.clone())
        );
        let err = serde_json::from_str::<Facts>(r#"{"name":"n","values":1}"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid facts document at values: expected an object, found a number")
        );
    }
}
