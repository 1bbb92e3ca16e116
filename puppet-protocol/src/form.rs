//! `application/x-www-form-urlencoded` and query strings, with repeated keys kept (the agent
//! sends `ignore=.svn&ignore=CVS&...`), and the catalog request's form body (quirk Q4).

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
    /// `job_uuid`.
    pub job_uuid: Option<String>,
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
}
