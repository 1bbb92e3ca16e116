//! `application/x-www-form-urlencoded` and query strings, with repeated keys kept (the agent
//! sends `ignore=.svn&ignore=CVS&...`), and the catalog request's form body (quirk Q4): the
//! decoders a server needs and the encoders a client needs, byte for byte as the Puppet 7
//! agent (Ruby) writes them.

use crate::ProtocolError;

/// Decodes one percent-encoded component (`+` is a space). Invalid escapes are an error
/// naming `what`.
///
/// ```
/// assert_eq!(puppet_protocol::form::decode("a%2Fb+c", "x").unwrap(), "a/b c");
/// assert!(puppet_protocol::form::decode("%zz", "x").is_err());
/// ```
pub fn decode(input: &str, what: &str) -> Result<String, ProtocolError> {
    decode_inner(input, what, true)
}

/// Decodes a percent-encoded path segment (`+` stays `+`).
///
/// ```
/// assert_eq!(puppet_protocol::form::decode_path("a%20b+c", "path").unwrap(), "a b+c");
/// ```
pub fn decode_path(input: &str, what: &str) -> Result<String, ProtocolError> {
    decode_inner(input, what, false)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_inner(input: &str, what: &str, plus: bool) -> Result<String, ProtocolError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let pair = bytes
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(bytes.get(i + 2).and_then(|&l| hex(l)));
                let Some((h, l)) = pair else {
                    return Err(ProtocolError::BadRequest(format!(
                        "Invalid percent-encoding in {what} at byte {i}"
                    )));
                };
                out.push(h * 16 + l);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ProtocolError::BadRequest(format!("{what} is not UTF-8")))
}

fn encode_with(input: &str, keep: impl Fn(u8) -> bool, space: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push_str(space);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Encodes one component of a form body or query string as Ruby's
/// `URI.encode_www_form_component` does (and so the agent's form bodies and queries): ASCII
/// letters, digits and `*-._` stay, a space is `+`, every other byte is `%XX` (upper case).
/// [`decode`] reverses it.
///
/// ```
/// use puppet_protocol::form::{decode, encode};
/// assert_eq!(encode("application/json"), "application%2Fjson");
/// assert_eq!(encode("a b~*"), "a+b%7E*");
/// assert_eq!(decode(&encode("é & ü=1"), "x").unwrap(), "é & ü=1");
/// ```
pub fn encode(input: &str) -> String {
    encode_with(
        input,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'),
        "+",
    )
}

/// Encodes a value as Puppet's `Puppet::Util.uri_query_encode` does (Ruby's `CGI.escape` with
/// the space as `%20`): ASCII letters, digits and `-._~` stay, every other byte is `%XX`. The
/// agent encodes the catalog request's `facts` JSON this way before the form encoding encodes
/// it a second time (quirk Q4).
///
/// ```
/// assert_eq!(puppet_protocol::form::encode_query_value(r#"{"a":"b c"}"#), "%7B%22a%22%3A%22b%20c%22%7D");
/// ```
pub fn encode_query_value(input: &str) -> String {
    encode_with(
        input,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'),
        "%20",
    )
}

/// Encodes a URL path (a certname, or a mount path such as `modules/m/a b.txt`): ASCII
/// letters, digits, `-._~` and `/` stay, every other byte is `%XX`. [`decode_path`] reverses
/// it.
///
/// ```
/// assert_eq!(puppet_protocol::form::encode_path("modules/m/a b+c.txt"), "modules/m/a%20b%2Bc.txt");
/// ```
pub fn encode_path(input: &str) -> String {
    encode_with(
        input,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'),
        "%20",
    )
}

/// Key/value pairs of a query string or form body, in order, keys repeated as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=2&b=3`. Each key and value is decoded once.
    ///
    /// ```
    /// let p = puppet_protocol::form::Params::parse("ignore=.svn&ignore=CVS&recurse=true").unwrap();
    /// assert_eq!(p.all("ignore"), vec![".svn", "CVS"]);
    /// assert_eq!(p.get("recurse"), Some("true"));
    /// ```
    pub fn parse(input: &str) -> Result<Params, ProtocolError> {
        let mut out = Vec::new();
        for pair in input.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k, "parameter name")?, decode(v, k)?));
        }
        Ok(Params(out))
    }

    /// The pairs as a form body or query string (without `?`), each key and value encoded
    /// with [`encode`]. [`Params::parse`] reads it back.
    ///
    /// ```
    /// use puppet_protocol::form::Params;
    /// let p = Params(vec![("ignore".into(), ".svn".into()), ("ignore".into(), "a b".into())]);
    /// assert_eq!(p.encode(), "ignore=.svn&ignore=a+b");
    /// assert_eq!(Params::parse(&p.encode()).unwrap(), p);
    /// ```
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode(k));
            out.push('=');
            out.push_str(&encode(v));
        }
        out
    }

    /// Appends one pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), value.into()));
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `key` as a boolean (`true`/`false`); absent gives `default`.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ProtocolError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ProtocolError::BadRequest(format!(
                "Invalid value for {key}: {other:?} (expected true or false)"
            ))),
        }
    }
}

/// The form fields of `POST /puppet/v3/catalog/:name` as a Puppet 7 agent sends them.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRequest {
    /// The facts document (`{"name","values","timestamp","expiration"}`), decoded from the
    /// twice-encoded `facts` field; `None` when the agent sent none.
    pub facts: Option<serde_json::Value>,
    /// `environment`.
    pub environment: Option<String>,
    /// `configured_environment`.
    pub configured_environment: Option<String>,
    /// `transaction_uuid`.
    pub transaction_uuid: Option<String>,
    /// `job_uuid` (the agent sends it empty outside orchestrated runs).
    pub job_uuid: Option<String>,
    /// `check_environment=true`: the agent asks the server to refuse a catalog for another
    /// environment than the one it asked for.
    pub check_environment: bool,
    /// `static_catalog=true`.
    pub static_catalog: bool,
    /// `checksum_type`, the agent's preference list (`sha256.sha384.sha512.sha224.md5`).
    pub checksum_types: Vec<String>,
}

impl CatalogRequest {
    /// Reads the catalog request's parameters (form body of a POST, or the query of a GET).
    /// The `facts` field is URL-encoded twice by the agent: after the form decoding, it is
    /// decoded once more, then parsed as JSON (`facts_format` must be JSON or PSON).
    ///
    /// ```
    /// use puppet_protocol::form::{CatalogRequest, Params};
    /// let body = "facts_format=application%2Fjson&facts=%257B%2522name%2522%253A%2522n1%2522%252C%2522values%2522%253A%257B%257D%257D&environment=production&static_catalog=true&checksum_type=sha256.md5";
    /// let req = CatalogRequest::from_params(&Params::parse(body).unwrap()).unwrap();
    /// assert_eq!(req.facts.unwrap()["name"], "n1");
    /// assert!(req.static_catalog);
    /// assert_eq!(req.checksum_types, vec!["sha256", "md5"]);
    /// ```
    pub fn from_params(params: &Params) -> Result<CatalogRequest, ProtocolError> {
        let facts = match params.get("facts") {
            None | Some("") => None,
            Some(raw) => {
                if let Some(format) = params.get("facts_format") {
                    let media = format.split(';').next().unwrap_or("").trim();
                    if !matches!(media, "application/json" | "pson" | "text/pson") {
                        return Err(ProtocolError::UnsupportedMediaType(format!(
                            "facts_format {format}"
                        )));
                    }
                }
                let once = decode(raw, "facts")?;
                let value: serde_json::Value = serde_json::from_str(&once).map_err(|e| {
                    ProtocolError::BadRequest(format!("Could not parse the facts field: {e}"))
                })?;
                if !value.get("values").is_some_and(|v| v.is_object()) {
                    return Err(ProtocolError::BadRequest(
                        "The facts field has no \"values\" object".into(),
                    ));
                }
                Some(value)
            }
        };
        let text = |k: &str| params.get(k).filter(|v| !v.is_empty()).map(String::from);
        Ok(CatalogRequest {
            facts,
            environment: text("environment"),
            configured_environment: text("configured_environment"),
            transaction_uuid: text("transaction_uuid"),
            job_uuid: text("job_uuid"),
            check_environment: params.bool("check_environment", false)?,
            static_catalog: params.bool("static_catalog", false)?,
            checksum_types: params
                .get("checksum_type")
                .map(|v| {
                    v.split('.')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The form fields as the Puppet 7.23 agent sends them, in its order: `facts_format`,
    /// `facts` (the facts JSON encoded with [`encode_query_value`], which [`Params::encode`]
    /// then encodes again), `environment`, `configured_environment`, `check_environment`,
    /// `transaction_uuid`, `job_uuid`, `static_catalog`, `checksum_type` (joined with `.`).
    /// Absent values are sent empty, as the agent sends `job_uuid`. Fails only if the facts
    /// cannot be written as JSON.
    ///
    /// ```
    /// use puppet_protocol::form::{CatalogRequest, Params};
    /// let req = CatalogRequest {
    ///     facts: Some(serde_json::json!({"name": "n1", "values": {"a": "b c"}})),
    ///     environment: Some("production".into()),
    ///     configured_environment: Some("production".into()),
    ///     transaction_uuid: Some("u1".into()),
    ///     job_uuid: None,
    ///     check_environment: true,
    ///     static_catalog: true,
    ///     checksum_types: vec!["sha256".into(), "md5".into()],
    /// };
    /// let body = req.to_form().unwrap();
    /// assert!(body.starts_with("facts_format=application%2Fjson&facts=%257B%2522name%2522"));
    /// assert!(body.ends_with("&job_uuid=&static_catalog=true&checksum_type=sha256.md5"));
    /// assert_eq!(CatalogRequest::from_params(&Params::parse(&body).unwrap()).unwrap(), req);
    /// ```
    pub fn to_params(&self) -> Result<Params, ProtocolError> {
        let facts = match &self.facts {
            Some(f) => encode_query_value(&serde_json::to_string(f).map_err(|e| {
                ProtocolError::BadRequest(format!("The facts cannot be written as JSON: {e}"))
            })?),
            None => String::new(),
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let flag = |b: bool| if b { "true" } else { "false" }.to_string();
        Ok(Params(vec![
            ("facts_format".into(), "application/json".into()),
            ("facts".into(), facts),
            ("environment".into(), text(&self.environment)),
            (
                "configured_environment".into(),
                text(&self.configured_environment),
            ),
            ("check_environment".into(), flag(self.check_environment)),
            ("transaction_uuid".into(), text(&self.transaction_uuid)),
            ("job_uuid".into(), text(&self.job_uuid)),
            ("static_catalog".into(), flag(self.static_catalog)),
            ("checksum_type".into(), self.checksum_types.join(".")),
        ]))
    }

    /// [`CatalogRequest::to_params`] encoded: the `application/x-www-form-urlencoded` body of
    /// `POST /puppet/v3/catalog/:name`.
    pub fn to_form(&self) -> Result<String, ProtocolError> {
        Ok(self.to_params()?.encode())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any pairs, any text (control characters, `&`, `=`, `+`, `%`, non-ASCII) come
        /// back from the encoder through the decoder unchanged.
        #[test]
        fn params_round_trip(pairs in proptest::collection::vec((".*", ".*"), 0..8)) {
            let params = Params(pairs);
            prop_assert_eq!(Params::parse(&params.encode()).unwrap(), params.clone());
        }

        /// The catalog form round-trips, facts twice encoded and all.
        #[test]
        fn catalog_request_round_trip(
            name in "[a-z0-9.-]{1,40}",
            facts in proptest::collection::btree_map(".*", ".*", 0..8),
            environment in proptest::option::of("[a-z0-9_]{1,20}"),
            transaction_uuid in proptest::option::of("[ -~]{1,40}"),
            job_uuid in proptest::option::of("[ -~]{1,40}"),
            check_environment in any::<bool>(),
            static_catalog in any::<bool>(),
            checksum_types in proptest::collection::vec("[a-z0-9]{1,8}", 0..5),
        ) {
            let values: serde_json::Map<String, serde_json::Value> =
                facts.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
            let request = CatalogRequest {
                facts: Some(serde_json::json!({"name": name, "values": values})),
                configured_environment: environment.clone(),
                environment,
                transaction_uuid,
                job_uuid,
                check_environment,
                static_catalog,
                checksum_types,
            };
            let form = request.to_form().unwrap();
            prop_assert!(form.bytes().all(|b| b.is_ascii_graphic()));
            let back = CatalogRequest::from_params(&Params::parse(&form).unwrap()).unwrap();
            prop_assert_eq!(back, request);
        }
    }
}
