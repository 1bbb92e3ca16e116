//! The CA API (`/puppet-ca/v1`): certificates, CSRs, statuses, clean, expirations,
//! renewal. Every error is plain text (Puppetserver's CA), mapped in [`crate::error`].

use hyper::Method;

use super::super::Inner;
use super::super::http::{Call, Reply};
use super::json_reply;
use super::not_allowed;
use crate::ca::{DesiredState, clean_certnames};
use crate::content::TEXT_PLAIN;
use crate::{Endpoint, ProtocolError};

pub(super) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let s = &inner.services;
    let m = call.method;
    match endpoint {
        Endpoint::Certificate(name) if m == Method::GET => {
            let pem = if name == "ca" {
                Some(s.ca.ca_certificate().await?)
            } else {
                s.ca.certificate(name).await?
            };
            let pem = pem.ok_or_else(|| {
                ProtocolError::CaNotFound(format!("Could not find certificate {name}"))
            })?;
            Ok(Reply::new(200, TEXT_PLAIN, pem))
        }
        Endpoint::CertificateRevocationList if m == Method::GET => {
            Ok(Reply::new(200, TEXT_PLAIN, s.ca.crl().await?))
        }
        Endpoint::CertificateRequest(name) if m == Method::PUT => {
            s.ca.submit_csr(name, call.body.to_vec()).await?;
            // Close for a Ruby agent: its Net::HTTP otherwise waits for the idle timeout
            // after this empty response before its next request (quirk Q1). Other clients
            // keep the connection (and skip a TLS handshake per certificate).
            let mut reply = Reply::new(200, TEXT_PLAIN, Vec::new());
            reply.close = call
                .header("user-agent")
                .is_some_and(|ua| ua.contains("Ruby"));
            Ok(reply)
        }
        Endpoint::CertificateRequest(name) if m == Method::GET => {
            let pem = s.ca.csr(name).await?.ok_or_else(|| {
                ProtocolError::CaNotFound(format!("Could not find certificate_request {name}"))
            })?;
            Ok(Reply::new(200, TEXT_PLAIN, pem))
        }
        Endpoint::CertificateStatus(name) if m == Method::GET => {
            let status =
                s.ca.status(name).await?.ok_or_else(|| {
                    ProtocolError::CaNotFound("Invalid certificate subject.".into())
                })?;
            json_reply(&status)
        }
        Endpoint::CertificateStatus(name) if m == Method::PUT => {
            let desired = DesiredState::from_body(&call.body, name)?;
            if s.ca.status(name).await?.is_none() {
                return Err(ProtocolError::CaNotFound(
                    "Invalid certificate subject.".into(),
                ));
            }
            s.ca.set_state(name, desired).await?;
            Ok(Reply::new(204, TEXT_PLAIN, Vec::new()))
        }
        Endpoint::CertificateStatus(name) if m == Method::DELETE => {
            s.ca.delete(name).await?;
            Ok(Reply::new(204, TEXT_PLAIN, Vec::new()))
        }
        Endpoint::CertificateStatuses if m == Method::GET => {
            let list = match call.query.get("state") {
                None | Some("") => s.ca.statuses(None).await?,
                Some(state) => match cert_state(state) {
                    Some(state) => s.ca.statuses(Some(state)).await?,
                    // No certificate is in a state that does not exist.
                    None => Vec::new(),
                },
            };
            json_reply(&list)
        }
        Endpoint::Clean if m == Method::PUT => {
            let names = clean_certnames(&call.body)?;
            let mut missing = Vec::new();
            for n in &names {
                if !s.ca.clean(n).await? {
                    missing.push(format!("{n:?}"));
                }
            }
            // Puppetserver's answer: 200 either way, naming the certnames it had no
            // certificate for.
            let message = if missing.is_empty() {
                "Successfully cleaned all certs.".to_string()
            } else {
                format!(
                    "The following certs do not exist and cannot be revoked: [{}]",
                    missing.join(" ")
                )
            };
            Ok(Reply::new(200, TEXT_PLAIN, message))
        }
        Endpoint::Expirations if m == Method::GET => {
            // Puppetserver 7 sends this one as plain `application/json`.
            let body = serde_json::to_vec(&s.ca.expirations().await?)
                .map_err(|e| ProtocolError::Internal(e.to_string()))?;
            Ok(Reply::new(200, "application/json", body))
        }
        Endpoint::CertificateRenewal if m == Method::POST => {
            let der = call.peer.cert_der.as_ref().ok_or_else(|| {
                ProtocolError::BadRequest("Certificate renewal needs a client certificate".into())
            })?;
            Ok(Reply::new(200, TEXT_PLAIN, s.ca.renew(der).await?))
        }
        _ => Err(not_allowed(call)),
    }
}

/// A `state` filter of `certificate_statuses`.
fn cert_state(state: &str) -> Option<puppet_ca::CertState> {
    match state {
        "requested" => Some(puppet_ca::CertState::Requested),
        "signed" => Some(puppet_ca::CertState::Signed),
        "revoked" => Some(puppet_ca::CertState::Revoked),
        _ => None,
    }
}
