//! Errors, and the one place where they become HTTP status codes and Puppet's error body.

use serde::Serialize;

/// Puppet's `issue_kind` values (`Puppet::Network::HTTP::Issues`).
pub mod issue_kind {
    /// A resource (catalog, file, certificate) does not exist.
    pub const RESOURCE_NOT_FOUND: &str = "RESOURCE_NOT_FOUND";
    /// No handler for the path.
    pub const HANDLER_NOT_FOUND: &str = "HANDLER_NOT_FOUND";
    /// The environment does not exist.
    pub const ENVIRONMENT_NOT_FOUND: &str = "ENVIRONMENT_NOT_FOUND";
    /// Anything else, including bad requests.
    pub const RUNTIME_ERROR: &str = "RUNTIME_ERROR";
    /// The method is not supported on the path.
    pub const UNSUPPORTED_METHOD: &str = "UNSUPPORTED_METHOD";
    /// The request body's media type is not accepted.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// None of the formats in `Accept` can be produced.
    pub const UNSUPPORTED_FORMAT: &str = "UNSUPPORTED_FORMAT";
    /// Authorization refused.
    pub const FAILED_AUTHORIZATION: &str = "FAILED_AUTHORIZATION";
}

/// Puppet's JSON error body: `{"message": "...", "issue_kind": "..."}`.
///
/// ```
/// let body = puppet_protocol::ErrorBody::new("Not Found: Could not find x", "RESOURCE_NOT_FOUND");
/// assert_eq!(body.to_json(), r#"{"message":"Not Found: Could not find x","issue_kind":"RESOURCE_NOT_FOUND"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// Human-readable message.
    pub message: String,
    /// One of [`issue_kind`].
    pub issue_kind: String,
}

impl ErrorBody {
    /// A body with this message and issue kind.
    pub fn new(message: impl Into<String>, issue_kind: impl Into<String>) -> Self {
        ErrorBody {
            message: message.into(),
            issue_kind: issue_kind.into(),
        }
    }

    /// The body as compact JSON.
    pub fn to_json(&self) -> String {
        // Two strings always serialize; the fallback is never taken.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Everything that can go wrong while serving a request. Each variant maps to one HTTP status
/// and one body shape in [`ProtocolError::status`] and [`ProtocolError::body`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The request is malformed (bad form field, bad JSON, bad path): 400.
    #[error("{0}")]
    BadRequest(String),
    /// The client may not do this: 403, answered as Puppetserver does (plain text).
    #[error(
        "Forbidden request: {path} (method :{method}). Please see the server logs for details."
    )]
    Forbidden {
        /// Request path.
        path: String,
        /// Method, lower case.
        method: String,
    },
    /// Nothing at this path: 404 with `RESOURCE_NOT_FOUND`.
    #[error("Not Found: {0}")]
    NotFound(String),
    /// The environment does not exist: 404 with `ENVIRONMENT_NOT_FOUND`.
    #[error("Could not find environment '{0}'")]
    EnvironmentNotFound(String),
    /// A CA lookup that Puppetserver answers with a plain-text 404 (`Could not find certificate X`).
    #[error("{0}")]
    CaNotFound(String),
    /// No route for the path: 404 with `HANDLER_NOT_FOUND`.
    #[error("No route for {method} {path}")]
    NoRoute {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// The method is not allowed on the path: 405.
    #[error("Unsupported method {method} for {path}")]
    MethodNotAllowed {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// A conflict with the current state (CA: already signed, nothing to sign): 409.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit: 413.
    #[error("Request body of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Size seen so far (or announced).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The request body's media type is not accepted: 415.
    #[error("Unsupported Media Type: {0}")]
    UnsupportedMediaType(String),
    /// None of the formats in `Accept` can be produced: 406.
    #[error("No supported formats are acceptable (Accept: {0})")]
    NotAcceptable(String),
    /// A server-side failure: 500 (the message is logged; the client gets it as well, as
    /// Puppetserver does, so it must not hold secrets).
    #[error("Server Error: {0}")]
    Internal(String),
    /// The client was too slow sending its request (the body read timeout ran out): 408.
    #[error("Request Timeout: {0}")]
    RequestTimeout(String),
}

impl ProtocolError {
    /// The HTTP status code.
    ///
    /// ```
    /// use puppet_protocol::ProtocolError;
    /// assert_eq!(ProtocolError::NotFound("x".into()).status(), 404);
    /// assert_eq!(ProtocolError::BadRequest("x".into()).status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            ProtocolError::BadRequest(_) => 400,
            ProtocolError::Forbidden { .. } => 403,
            ProtocolError::NotFound(_)
            | ProtocolError::EnvironmentNotFound(_)
            | ProtocolError::CaNotFound(_)
            | ProtocolError::NoRoute { .. } => 404,
            ProtocolError::MethodNotAllowed { .. } => 405,
            ProtocolError::NotAcceptable(_) => 406,
            ProtocolError::Conflict(_) => 409,
            ProtocolError::TooLarge { .. } => 413,
            ProtocolError::UnsupportedMediaType(_) => 415,
            ProtocolError::Internal(_) => 500,
            ProtocolError::RequestTimeout(_) => 408,
        }
    }

    /// The response body and its content type (`None`: no `Content-Type`, as Puppetserver's
    /// 403). JSON errors carry [`ErrorBody`]; CA lookups and 403 are plain text.
    ///
    /// ```
    /// use puppet_protocol::ProtocolError;
    /// let (ct, body) = ProtocolError::NotFound("Could not find file_metadata modules/m/x".into()).body();
    /// assert_eq!(ct, Some("application/json;charset=utf-8"));
    /// assert!(body.contains("RESOURCE_NOT_FOUND"));
    /// ```
    pub fn body(&self) -> (Option<&'static str>, String) {
        self.body_for(false)
    }

    /// As [`ProtocolError::body`], for an API: the CA API (`/puppet-ca/v1`, `ca_api`) answers
    /// every error in plain text, as Puppetserver does.
    ///
    /// ```
    /// use puppet_protocol::ProtocolError;
    /// let (ct, body) = ProtocolError::BadRequest("CSR is malformed".into()).body_for(true);
    /// assert_eq!((ct, body.as_str()), (Some("text/plain"), "CSR is malformed"));
    /// ```
    pub fn body_for(&self, ca_api: bool) -> (Option<&'static str>, String) {
        if ca_api && !matches!(self, ProtocolError::Forbidden { .. }) {
            return (Some(crate::content::TEXT_PLAIN), self.to_string());
        }
        let kind = match self {
            ProtocolError::Forbidden { .. } => return (None, self.to_string()),
            ProtocolError::CaNotFound(_) => return (Some("text/plain"), self.to_string()),
            ProtocolError::Conflict(_) => return (Some("text/plain"), self.to_string()),
            ProtocolError::NotFound(_) => issue_kind::RESOURCE_NOT_FOUND,
            ProtocolError::EnvironmentNotFound(_) => issue_kind::ENVIRONMENT_NOT_FOUND,
            ProtocolError::NoRoute { .. } => issue_kind::HANDLER_NOT_FOUND,
            ProtocolError::MethodNotAllowed { .. } => issue_kind::UNSUPPORTED_METHOD,
            ProtocolError::NotAcceptable(_) => issue_kind::UNSUPPORTED_FORMAT,
            ProtocolError::UnsupportedMediaType(_) => issue_kind::UNSUPPORTED_MEDIA_TYPE,
            ProtocolError::BadRequest(_)
            | ProtocolError::TooLarge { .. }
            | ProtocolError::Internal(_)
            | ProtocolError::RequestTimeout(_) => issue_kind::RUNTIME_ERROR,
        };
        (
            Some(crate::content::JSON_UTF8),
            ErrorBody::new(self.to_string(), kind).to_json(),
        )
    }
}
