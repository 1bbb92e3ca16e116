//! Dispatch: one function per endpoint.

use hyper::Method;
use serde_json::{Map, Value, json};

use super::http::{Call, Reply};
use super::{CompileRequest, Inner};
use crate::ca::{DesiredState, clean_certnames};
use crate::content::{self, JSON_UTF8, OCTET_STREAM, TEXT_PLAIN, TEXT_PLAIN_UTF8};
use crate::files::MetadataOptions;
use crate::form::{CatalogRequest, Params};
use crate::{Endpoint, ProtocolError};

pub(crate) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let s = &inner.services;
    let m = call.method;
    let not_allowed = || ProtocolError::MethodNotAllowed {
        method: m.to_string(),
        path: call.path.to_string(),
    };
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
            // Close: a Ruby agent otherwise waits for the idle timeout after this empty
            // response (quirk Q1).
            let mut reply = Reply::new(200, TEXT_PLAIN, Vec::new());
            reply.close = true;
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
        Endpoint::Node(name) if m == Method::GET => {
            let facts = s.facts.facts(name).await?;
            let node = s
                .classifier
                .classify(name, call.query.get("environment"), facts.as_ref())
                .await?;
            doc_reply(call, &node.to_json(), false)
        }
        Endpoint::Catalog(name) if m == Method::POST || m == Method::GET => {
            catalog(inner, call, name).await
        }
        Endpoint::Facts(name) if m == Method::PUT => {
            require_json(call)?;
            let facts = puppet_facts::Facts::from_json(&call.body).map_err(|e| {
                ProtocolError::BadRequest(format!("Could not parse the facts: {e}"))
            })?;
            check_facts(&facts, name)?;
            s.facts.save_facts(name, &facts).await?;
            Ok(Reply::new(200, JSON_UTF8, "0").no_gzip())
        }
        Endpoint::Report(name) if m == Method::PUT => {
            require_json(call)?;
            let report = puppet_report::Report::from_json(&call.body).map_err(|e| {
                ProtocolError::BadRequest(format!("Could not parse the report: {e}"))
            })?;
            if report.host != *name {
                return Err(ProtocolError::BadRequest(format!(
                    "The report is for host {:?}, not {name:?}",
                    report.host
                )));
            }
            let processors = s.reports.store_report(name, &report, &call.body).await?;
            let body = serde_json::to_vec(&processors)
                .map_err(|e| ProtocolError::Internal(e.to_string()))?;
            Ok(Reply::new(200, JSON_UTF8, body).no_gzip())
        }
        Endpoint::FileMetadata(path) if m == Method::GET => {
            let o = MetadataOptions::from_params(&call.query)?;
            let v = s
                .files
                .metadata(&environment(inner, call)?, path, &o)
                .await?;
            doc_reply(call, &v, false)
        }
        Endpoint::FileMetadatas(path) if m == Method::GET => {
            let o = MetadataOptions::from_params(&call.query)?;
            let v = s
                .files
                .metadatas(&environment(inner, call)?, path, &o)
                .await?;
            doc_reply(call, &v, false)
        }
        Endpoint::FileContent(path) if m == Method::GET => {
            let bytes = s.files.content(&environment(inner, call)?, path).await?;
            Ok(Reply::new(200, OCTET_STREAM, bytes))
        }
        Endpoint::StaticFileContent(path) if m == Method::GET => {
            let code_id = call
                .query
                .get("code_id")
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ProtocolError::BadRequest("A code_id query parameter is required".into())
                })?;
            let env = environment(inner, call)?;
            let certname = call.peer.identity.certname.as_deref().unwrap_or_default();
            let bytes = s
                .files
                .static_content(certname, &env, path, code_id)
                .await?;
            Ok(Reply::new(200, OCTET_STREAM, bytes))
        }
        Endpoint::FileBucketFile(path) => bucket(inner, call, path).await,
        Endpoint::Environments if m == Method::GET => {
            let mut envs = Map::new();
            for e in s.files.environments().await? {
                let dir = s.files.environment_dir(&e).unwrap_or_default();
                envs.insert(
                    e,
                    json!({"settings": {
                        "modulepath": [dir.join("modules").to_string_lossy()],
                        "manifest": dir.join("manifests").to_string_lossy(),
                        "environment_timeout": 0,
                        "config_version": ""
                    }}),
                );
            }
            let search = s
                .files
                .environment_dir("production")
                .and_then(|p| p.parent().map(|p| p.to_string_lossy().into_owned()))
                .unwrap_or_default();
            json_reply(&json!({"search_paths": [search], "environments": envs}))
        }
        Endpoint::PuppetStatus(_) if m == Method::GET => doc_reply(
            call,
            &json!({"is_alive": true, "version": inner.options.puppet_version}),
            false,
        ),
        Endpoint::StatusSimple if m == Method::GET => {
            Ok(Reply::new(200, TEXT_PLAIN_UTF8, "running"))
        }
        Endpoint::StatusServices if m == Method::GET => json_reply(&json!({
            "puppet-rs-master": {
                "service_version": env!("CARGO_PKG_VERSION"),
                "service_status_version": 1,
                "detail_level": "info",
                "state": "running",
                "status": {}
            }
        })),
        _ => Err(not_allowed()),
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

/// A `state` filter of `certificate_statuses`.
fn cert_state(state: &str) -> Option<puppet_ca::CertState> {
    match state {
        "requested" => Some(puppet_ca::CertState::Requested),
        "signed" => Some(puppet_ca::CertState::Signed),
        "revoked" => Some(puppet_ca::CertState::Revoked),
        _ => None,
    }
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

async fn catalog(inner: &Inner, call: &Call<'_>, name: &str) -> Result<Reply, ProtocolError> {
    let s = &inner.services;
    let params = if call.method == Method::POST {
        let ct = call.header("content-type").unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ProtocolError::UnsupportedMediaType(format!(
                "{ct} (a catalog request is a form: application/x-www-form-urlencoded)"
            )));
        }
        let text = std::str::from_utf8(&call.body).map_err(|_| {
            ProtocolError::BadRequest("The catalog request body is not UTF-8".into())
        })?;
        let mut p = Params::parse(text)?;
        // The query's parameters (environment) apply when the form lacks them.
        for (k, v) in &call.query.0 {
            if p.get(k).is_none() {
                p.0.push((k.clone(), v.clone()));
            }
        }
        p
    } else {
        call.query.clone()
    };
    let req = CatalogRequest::from_params(&params)?;
    let env_call = Call {
        method: call.method,
        path: call.path,
        query: Params(
            req.environment
                .iter()
                .map(|e| ("environment".to_string(), e.clone()))
                .collect(),
        ),
        headers: call.headers,
        body: bytes::Bytes::new(),
        peer: call.peer,
    };
    let requested = environment(inner, &env_call)?;
    let sent = match &req.facts {
        Some(f) => {
            let facts = puppet_facts::Facts::from_value(f.clone()).map_err(|e| {
                ProtocolError::BadRequest(format!("Could not parse the facts: {e}"))
            })?;
            check_facts(&facts, name)?;
            s.facts.save_facts(name, &facts).await?;
            Some(facts)
        }
        None => None,
    };
    let facts = match sent {
        Some(f) => Some(f),
        None => s.facts.facts(name).await?,
    };
    // The classifier's environment is where the catalog is compiled (Puppet's
    // server-specified environment: the agent switches to it).
    let node = s
        .classifier
        .classify(name, Some(&requested), facts.as_ref())
        .await?;
    let env = valid_environment(&node.environment)?.to_string();
    let compile = CompileRequest {
        certname: name.to_string(),
        environment: env.clone(),
        facts,
        node,
        transaction_uuid: req.transaction_uuid.clone(),
        static_catalog: req.static_catalog,
        checksum_types: req.checksum_types.clone(),
    };
    let mut catalog = s.compiler.compile(&compile).await?;
    if !req.static_catalog {
        catalog.metadata = None;
        catalog.recursive_metadata = None;
    }
    let accept = call.header("accept");
    let format = content::negotiate(accept, true)
        .ok_or_else(|| ProtocolError::NotAcceptable(accept.unwrap_or("").to_string()))?;
    let body = serde_json::to_vec(&catalog).map_err(|e| ProtocolError::Internal(e.to_string()))?;
    s.catalogs.save_catalog(name, &catalog, &body).await?;
    if let Some(Value::String(code_id)) = &catalog.code_id {
        s.files.catalog_served(name, &env, code_id);
    }
    Ok(Reply::new(200, format.content_type(), body))
}

async fn bucket(inner: &Inner, call: &Call<'_>, path: &str) -> Result<Reply, ProtocolError> {
    let mut parts = path.splitn(3, '/');
    let algorithm = parts.next().unwrap_or("");
    let digest = parts.next().unwrap_or("");
    if !matches!(algorithm, "sha256" | "sha384" | "sha512" | "sha224") {
        return Err(ProtocolError::BadRequest(format!(
            "Unsupported file bucket digest algorithm {algorithm:?}"
        )));
    }
    let store = &inner.services.bucket;
    match *call.method {
        Method::PUT => {
            let actual = crate::files::digest(&call.body, algorithm);
            if !actual.eq_ignore_ascii_case(digest) {
                return Err(ProtocolError::BadRequest(format!(
                    "The content's {algorithm} digest is {actual}, not {digest}"
                )));
            }
            store.put(algorithm, digest, &call.body).await?;
            Ok(Reply::new(200, OCTET_STREAM, Vec::new()))
        }
        Method::GET | Method::HEAD => {
            let bytes = store.get(algorithm, digest).await?.ok_or_else(|| {
                ProtocolError::NotFound(format!("Could not find file_bucket_file {path}"))
            })?;
            Ok(Reply::new(200, OCTET_STREAM, bytes))
        }
        _ => Err(ProtocolError::MethodNotAllowed {
            method: call.method.to_string(),
            path: call.path.to_string(),
        }),
    }
}
