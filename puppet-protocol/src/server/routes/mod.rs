//! Dispatch: one module per API, one match arm per endpoint and method.

mod ca;
mod catalog;
mod files;
mod filesync;
mod node;
mod status;

use hyper::Method;

use super::Inner;
use super::http::{Call, Reply};
use crate::content::{self, JSON_UTF8};
use crate::{Endpoint, ProtocolError};

pub(crate) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    match endpoint {
        Endpoint::Certificate(_)
        | Endpoint::CertificateRevocationList
        | Endpoint::CertificateRequest(_)
        | Endpoint::CertificateStatus(_)
        | Endpoint::CertificateStatuses
        | Endpoint::CertificateRenewal
        | Endpoint::Clean
        | Endpoint::Expirations => ca::dispatch(inner, endpoint, call).await,
        Endpoint::Catalog(name) if matches!(*call.method, Method::POST | Method::GET) => {
            catalog::catalog(inner, call, name).await
        }
        Endpoint::Node(_) | Endpoint::Facts(_) | Endpoint::Report(_) => {
            node::dispatch(inner, endpoint, call).await
        }
        Endpoint::FileMetadata(_)
        | Endpoint::FileMetadatas(_)
        | Endpoint::FileContent(_)
        | Endpoint::StaticFileContent(_)
        | Endpoint::FileBucketFile(_)
        | Endpoint::Environments => files::dispatch(inner, endpoint, call).await,
        Endpoint::PuppetStatus(_) | Endpoint::StatusSimple | Endpoint::StatusServices => {
            status::dispatch(inner, endpoint, call).await
        }
        Endpoint::FileSyncPublish
        | Endpoint::FileSyncLatest
        | Endpoint::FileSyncManifest { .. }
        | Endpoint::FileSyncBlob(_) => filesync::dispatch(inner, endpoint, call).await,
        _ => Err(not_allowed(call)),
    }
}

/// 405 for a method the endpoint does not take.
fn not_allowed(call: &Call<'_>) -> ProtocolError {
    ProtocolError::MethodNotAllowed {
        method: call.method.to_string(),
        path: call.path.to_string(),
    }
}

/// Facts must be named for the node they are sent for.
fn check_facts(facts: &puppet_facts::Facts, certname: &str) -> Result<(), ProtocolError> {
    if facts.name != certname {
        return Err(ProtocolError::BadRequest(format!(
            "The facts are for {:?}, not {certname:?}",
            facts.name
        )));
    }
    Ok(())
}

fn json_reply(v: &impl serde::Serialize) -> Result<Reply, ProtocolError> {
    let body = serde_json::to_vec(v).map_err(|e| ProtocolError::Internal(e.to_string()))?;
    Ok(Reply::new(200, JSON_UTF8, body))
}

/// A JSON document in the format the client accepts.
fn doc_reply(
    call: &Call<'_>,
    v: &impl serde::Serialize,
    rich: bool,
) -> Result<Reply, ProtocolError> {
    let accept = call.header("accept");
    let format = content::negotiate(accept, rich)
        .ok_or_else(|| ProtocolError::NotAcceptable(accept.unwrap_or("").to_string()))?;
    let body = serde_json::to_vec(v).map_err(|e| ProtocolError::Internal(e.to_string()))?;
    Ok(Reply::new(200, format.content_type(), body))
}

fn require_json(call: &Call<'_>) -> Result<(), ProtocolError> {
    match call.header("content-type") {
        Some(ct) if content::is_json_media(ct) => Ok(()),
        None => Ok(()),
        Some(ct) => Err(ProtocolError::UnsupportedMediaType(ct.to_string())),
    }
}

fn environment(inner: &Inner, call: &Call<'_>) -> Result<String, ProtocolError> {
    let env = call
        .query
        .get("environment")
        .filter(|e| !e.is_empty())
        .unwrap_or(&inner.options.default_environment);
    valid_environment(env).map(String::from)
}

/// An environment name as Puppet allows it (lower-case letters, digits, `_`).
fn valid_environment(env: &str) -> Result<&str, ProtocolError> {
    if env
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !env.is_empty()
    {
        Ok(env)
    } else {
        Err(ProtocolError::BadRequest(format!(
            "Invalid environment name {env:?}"
        )))
    }
}
