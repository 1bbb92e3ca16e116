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
    /// A request that would go round a loop of servers (file sync replicas whose primaries
    /// form a ring): 508 (Loop Detected), Puppet's JSON error body.
    ///
    /// ```
    /// let e = puppet_protocol::ProtocolError::LoopDetected("File sync loop: a -> b -> a".into());
    /// assert_eq!(e.status(), 508);
    /// assert!(e.body().1.contains(r#""message":"File sync loop: a -> b -> a""#));
    /// ```
    #[error("{0}")]
    LoopDetected(String),
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
    /// A file or socket operation of a service failed: 500.
    #[error("Server Error: {what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A service's own error, kept whole for the caller and the log: 500.
    #[error("Server Error: {0}")]
    Service(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The CA refused or failed an operation: the status Puppetserver answers for that
    /// error in that operation (see [`ProtocolError::status`]), with its plain-text message.
    #[cfg(feature = "server")]
    #[error("{}", ca_message(*.operation, .source))]
    Ca {
        /// What was asked of the CA.
        operation: CaOperation,
        /// The CA's error.
        #[source]
        source: puppet_ca::CaError,
    },
    /// The client was too slow sending its request (the body read timeout ran out): 408.
    #[error("Request Timeout: {0}")]
    RequestTimeout(String),
}

/// What was asked of the CA when it failed: Puppetserver answers the same error differently
/// in different operations (a CSR refused on submission is 400, on a manual sign 409).
#[cfg(feature = "server")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaOperation {
    /// `PUT certificate_request/:name`.
    SubmitCsr,
    /// `PUT certificate_status/:name` with `desired_state` `signed`.
    Sign,
    /// `PUT certificate_status/:name` with `desired_state` `revoked`.
    Revoke,
    /// `PUT clean`.
    Clean,
    /// `DELETE certificate_status/:name`.
    Delete,
    /// `POST certificate_renewal`.
    Renew,
    /// Any lookup: certificates, CSRs, statuses, the CRL, expirations.
    Read,
}

/// Puppetserver's words for a CA error where they differ from the error's own.
#[cfg(feature = "server")]
fn ca_message(operation: CaOperation, e: &puppet_ca::CaError) -> String {
    use puppet_ca::CaError as E;
    match (operation, e) {
        (CaOperation::Sign, E::NoCsr { certname }) => {
            format!("Cannot sign certificate for host {certname} without a certificate request")
        }
        (CaOperation::Revoke, E::NoCertificate { certname }) => {
            format!("Cannot revoke certificate for host {certname} without a signed certificate")
        }
        (CaOperation::Delete, E::NothingToClean { .. }) => "Invalid certificate subject.".into(),
        _ => e.to_string(),
    }
}

/// The status Puppetserver's CA answers an error with, in an operation.
#[cfg(feature = "server")]
fn ca_status(operation: CaOperation, e: &puppet_ca::CaError) -> u16 {
    use puppet_ca::CaError as E;
    match e {
        E::InvalidCertname { .. } | E::AlreadyHasCertificate { .. } => 400,
        E::CsrTooLarge { .. } => 413,
        // The CSR policy: 400 when refused on submission (or autosigning), 409 when a
        // manual sign refuses the stored request.
        E::CsrSignature { .. }
        | E::UnsupportedAlgorithm { .. }
        | E::CertnameMismatch { .. }
        | E::SubjectAltNamesNotAllowed { .. }
        | E::InvalidAltName { .. }
        | E::InvalidSubject { .. }
        | E::AuthorizationExtensionNotAllowed { .. }
        | E::ExtensionNotAllowed { .. } => match operation {
            CaOperation::Sign => 409,
            _ => 400,
        },
        // A client's document that does not parse; the CA's own files are its fault.
        E::Malformed { .. } => match operation {
            CaOperation::SubmitCsr | CaOperation::Renew => 400,
            CaOperation::Sign => 409,
            _ => 500,
        },
        E::NoCsr { .. } => match operation {
            CaOperation::Sign => 409,
            _ => 404,
        },
        E::NoCertificate { .. } => match operation {
            CaOperation::Revoke => 409,
            _ => 404,
        },
        E::NothingToClean { .. } => 404,
        // A certificate this CA did not issue, or revoked.
        E::RenewalRefused { .. } => 403,
        // Puppetserver has no renewal endpoint unless `allow-auto-renewal` is on.
        E::RenewalDisabled => 404,
        _ => 500,
    }
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
            ProtocolError::LoopDetected(_) => 508,
            ProtocolError::TooLarge { .. } => 413,
            ProtocolError::UnsupportedMediaType(_) => 415,
            ProtocolError::Internal(_) | ProtocolError::Io { .. } | ProtocolError::Service(_) => {
                500
            }
            #[cfg(feature = "server")]
            ProtocolError::Ca { operation, source } => ca_status(*operation, source),
            ProtocolError::RequestTimeout(_) => 408,
        }
    }

    /// A service's own error, kept as the source (500).
    ///
    /// ```
    /// use std::error::Error;
    /// let e = puppet_protocol::ProtocolError::service(std::fmt::Error);
    /// assert_eq!(e.status(), 500);
    /// assert!(e.source().unwrap().is::<std::fmt::Error>());
    /// ```
    pub fn service(e: impl std::error::Error + Send + Sync + 'static) -> ProtocolError {
        ProtocolError::Service(Box::new(e))
    }

    /// A failed file operation of a service (500).
    pub fn io(what: impl Into<String>, source: std::io::Error) -> ProtocolError {
        ProtocolError::Io {
            what: what.into(),
            source,
        }
    }

    /// A CA error in an operation, answered as Puppetserver's CA answers it.
    ///
    /// ```
    /// use puppet_ca::CaError;
    /// use puppet_protocol::ProtocolError;
    /// use puppet_protocol::error::CaOperation;
    /// let e = ProtocolError::ca(CaOperation::Sign, CaError::NoCsr { certname: "n1".into() });
    /// assert_eq!(e.status(), 409);
    /// assert_eq!(e.to_string(), "Cannot sign certificate for host n1 without a certificate request");
    /// let e = ProtocolError::ca(CaOperation::SubmitCsr, CaError::CsrTooLarge { certname: "n1".into(), size: 9, limit: 8 });
    /// assert_eq!(e.status(), 413);
    /// ```
    #[cfg(feature = "server")]
    pub fn ca(operation: CaOperation, source: puppet_ca::CaError) -> ProtocolError {
        ProtocolError::Ca { operation, source }
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
            #[cfg(feature = "server")]
            ProtocolError::Ca { .. } => return (Some("text/plain"), self.to_string()),
            ProtocolError::NotFound(_) => issue_kind::RESOURCE_NOT_FOUND,
            ProtocolError::EnvironmentNotFound(_) => issue_kind::ENVIRONMENT_NOT_FOUND,
            ProtocolError::NoRoute { .. } => issue_kind::HANDLER_NOT_FOUND,
            ProtocolError::MethodNotAllowed { .. } => issue_kind::UNSUPPORTED_METHOD,
            ProtocolError::NotAcceptable(_) => issue_kind::UNSUPPORTED_FORMAT,
            ProtocolError::UnsupportedMediaType(_) => issue_kind::UNSUPPORTED_MEDIA_TYPE,
            ProtocolError::BadRequest(_)
            | ProtocolError::LoopDetected(_)
            | ProtocolError::TooLarge { .. }
            | ProtocolError::Internal(_)
            | ProtocolError::Io { .. }
            | ProtocolError::Service(_)
            | ProtocolError::RequestTimeout(_) => issue_kind::RUNTIME_ERROR,
        };
        (
            Some(crate::content::JSON_UTF8),
            ErrorBody::new(self.to_string(), kind).to_json(),
        )
    }
}
