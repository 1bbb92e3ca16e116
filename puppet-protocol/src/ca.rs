//! The request bodies of the CA API's admin endpoints (`/puppet-ca/v1`).

use serde_json::Value;

use crate::ProtocolError;

/// The state `PUT certificate_status/:name` asks for.
///
/// ```
/// use puppet_protocol::ca::DesiredState;
/// let d = DesiredState::from_body(br#"{"desired_state":"revoked"}"#, "n1").unwrap();
/// assert_eq!(d, DesiredState::Revoked);
/// let e = DesiredState::from_body(br#"{"desired_state":"gone"}"#, "n1").unwrap_err();
/// assert_eq!(e.status(), 400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesiredState {
    /// Sign the pending request.
    Signed,
    /// Revoke the signed certificate (every serial issued to the name).
    Revoked,
}

impl DesiredState {
    /// `signed` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Signed => "signed",
            DesiredState::Revoked => "revoked",
        }
    }

    /// Reads the JSON body `{"desired_state": "signed"|"revoked"}` sent for `certname`, with
    /// Puppetserver's 400 messages.
    pub fn from_body(body: &[u8], certname: &str) -> Result<DesiredState, ProtocolError> {
        if body.is_empty() {
            return Err(ProtocolError::BadRequest("Empty request body.".into()));
        }
        let body: Value = serde_json::from_slice(body)
            .map_err(|_| ProtocolError::BadRequest("Request body is not JSON.".into()))?;
        match body.get("desired_state") {
            None => Err(ProtocolError::BadRequest(
                "Missing required parameter \"desired_state\"".into(),
            )),
            Some(Value::String(s)) if s == "signed" => Ok(DesiredState::Signed),
            Some(Value::String(s)) if s == "revoked" => Ok(DesiredState::Revoked),
            Some(other) => {
                let shown = other
                    .as_str()
                    .map_or_else(|| other.to_string(), String::from);
                Err(ProtocolError::BadRequest(format!(
                    "State {shown} invalid; Must specify desired state of 'signed' or 'revoked' for host {certname}."
                )))
            }
        }
    }
}

/// The certnames of `PUT clean` (`{"certnames": [...]}`).
///
/// ```
/// let names = puppet_protocol::ca::clean_certnames(br#"{"certnames":["a","b"]}"#).unwrap();
/// assert_eq!(names, ["a", "b"]);
/// ```
pub fn clean_certnames(body: &[u8]) -> Result<Vec<String>, ProtocolError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|_| ProtocolError::BadRequest("Request body is not JSON.".into()))?;
    if body.get("async").and_then(Value::as_bool) == Some(true) {
        return Err(ProtocolError::BadRequest(
            "Async mode is not currently supported.".into(),
        ));
    }
    let names = body
        .get("certnames")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::BadRequest("Missing required key: certnames".into()))?;
    names
        .iter()
        .map(|n| {
            n.as_str()
                .map(String::from)
                .ok_or_else(|| ProtocolError::BadRequest("certnames must be strings".into()))
        })
        .collect()
}
