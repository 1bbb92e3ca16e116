//! Content negotiation and the content-type spellings Puppetserver uses (quirk Q3).

/// `application/vnd.puppet.rich+json; charset=utf-8` (with a space, as Puppetserver writes it).
pub const RICH_JSON_UTF8: &str = "application/vnd.puppet.rich+json; charset=utf-8";
/// `application/json;charset=utf-8` (no space).
pub const JSON_UTF8: &str = "application/json;charset=utf-8";
/// `text/pson` (PSON is JSON for the documents we send).
pub const PSON: &str = "text/pson";
/// `text/plain` without a charset, as the CA endpoints answer.
pub const TEXT_PLAIN: &str = "text/plain";
/// `text/plain;charset=utf-8`, as `/status/v1/simple` answers.
pub const TEXT_PLAIN_UTF8: &str = "text/plain;charset=utf-8";
/// `application/octet-stream`, file content.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A document format an agent can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `application/vnd.puppet.rich+json`.
    RichJson,
    /// `application/json`.
    Json,
    /// `text/pson`.
    Pson,
}

impl Format {
    /// The `Content-Type` a response in this format carries.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::RichJson => RICH_JSON_UTF8,
            Format::Json => JSON_UTF8,
            Format::Pson => PSON,
        }
    }
}

/// Picks the response format for a JSON document from an `Accept` header, in the client's
/// order of preference (an agent sends `application/vnd.puppet.rich+json, application/json,
/// text/pson`). `rich` says whether the endpoint can answer in rich JSON (catalogs do).
/// A missing header, `*/*` or `application/*` give JSON. `None`: nothing acceptable.
///
/// ```
/// use puppet_protocol::content::{negotiate, Format};
/// let agent = "application/vnd.puppet.rich+json, application/json, text/pson";
/// assert_eq!(negotiate(Some(agent), true), Some(Format::RichJson));
/// assert_eq!(negotiate(Some(agent), false), Some(Format::Json));
/// assert_eq!(negotiate(Some("text/pson"), false), Some(Format::Pson));
/// assert_eq!(negotiate(Some("text/yaml"), false), None);
/// ```
pub fn negotiate(accept: Option<&str>, rich: bool) -> Option<Format> {
    let Some(accept) = accept else {
        return Some(Format::Json);
    };
    if accept.trim().is_empty() {
        return Some(Format::Json);
    }
    let mut best: Option<(f32, usize, Format)> = None;
    for (index, item) in accept.split(',').enumerate() {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if q <= 0.0 {
            continue;
        }
        let format = match media.as_str() {
            "application/vnd.puppet.rich+json" if rich => Format::RichJson,
            "application/vnd.puppet.rich+json" => Format::Json,
            "application/json" | "application/*" | "*/*" => Format::Json,
            "text/pson" | "pson" => Format::Pson,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((bq, _, _)) => q > bq,
        };
        if better {
            best = Some((q, index, format));
        }
    }
    best.map(|(_, _, f)| f)
}

/// Whether an `Accept-Encoding` header accepts gzip (an agent always sends
/// `gzip;q=1.0,deflate;q=0.6,identity;q=0.3`).
///
/// ```
/// use puppet_protocol::content::accepts_gzip;
/// assert!(accepts_gzip(Some("gzip;q=1.0,deflate;q=0.6,identity;q=0.3")));
/// assert!(!accepts_gzip(Some("gzip;q=0")));
/// assert!(!accepts_gzip(None));
/// ```
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .map(|v| v.trim().parse().unwrap_or(0.0))
            })
            .unwrap_or(1.0f32);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
    })
}

/// Whether a request `Content-Type` names one of the JSON media types an agent sends
/// documents in (`application/json`, `text/pson`, rich JSON), ignoring parameters.
///
/// ```
/// assert!(puppet_protocol::content::is_json_media("application/json; charset=utf-8"));
/// assert!(!puppet_protocol::content::is_json_media("text/yaml"));
/// ```
pub fn is_json_media(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        media.as_str(),
        "application/json" | "text/pson" | "pson" | "application/vnd.puppet.rich+json"
    )
}
