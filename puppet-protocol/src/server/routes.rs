//! Dispatch: one function per endpoint.

use hyper::Method;
use serde_json::{Map, Value, json};

use super::http::{Call, Reply};
use super::{CompileRequest, Inner};
use crate::content::{self, JSON_UTF8, OCTET_STREAM, TEXT_PLAIN, TEXT_PLAIN_UTF8};
use crate::files::{Links, MetadataOptions, pick_checksum};
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
            let body: Value = serde_json::from_slice(&call.body)
                .map_err(|e| ProtocolError::BadRequest(format!("Request body is not JSON: {e}")))?;
            let desired = body
                .get("desired_state")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ProtocolError::BadRequest("Missing required key: desired_state".into())
                })?;
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
            let list = s.ca.statuses(call.query.get("state")).await?;
            json_reply(&Value::Array(list))
        }
        Endpoint::Clean if m == Method::PUT => {
            let body: Value = serde_json::from_slice(&call.body)
                .map_err(|e| ProtocolError::BadRequest(format!("Request body is not JSON: {e}")))?;
            let names = body
                .get("certnames")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ProtocolError::BadRequest("Missing required key: certnames".into())
                })?;
            let names = names
                .iter()
                .map(|n| {
                    n.as_str().ok_or_else(|| {
                        ProtocolError::BadRequest("certnames must be strings".into())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut missing = Vec::new();
            for n in names {
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
            let pem = pem_encode("CERTIFICATE", der);
            Ok(Reply::new(
                200,
                TEXT_PLAIN,
                s.ca.renew(pem.into_bytes()).await?,
            ))
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
            let facts: Value = serde_json::from_slice(&call.body).map_err(|e| {
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
            doc_reply(call, &Value::Array(v), false)
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
            // Only the current code version is kept: content for the `code_id` of the last
            // catalog this node was served. Any other `code_id` is refused (404) rather than
            // answered with other content.
            let certname = call.peer.identity.certname.clone().unwrap_or_default();
            let current = inner
                .code_ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&(certname, env.clone()))
                .cloned();
            if current.as_deref() != Some(code_id) {
                return Err(ProtocolError::NotFound(format!(
                    "Could not find file content for {path} at code_id {code_id} in environment {env}: not the current code version"
                )));
            }
            let bytes = s.files.static_content(&env, path, code_id).await?;
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

/// A facts document as puppet-facts reads it (name, values, timestamps), for this node.
fn check_facts(facts: &Value, certname: &str) -> Result<(), ProtocolError> {
    let parsed = puppet_facts::Facts::from_value(facts.clone())
        .map_err(|e| ProtocolError::BadRequest(format!("Could not parse the facts: {e}")))?;
    if parsed.name != certname {
        return Err(ProtocolError::BadRequest(format!(
            "The facts are for {:?}, not {certname:?}",
            parsed.name
        )));
    }
    Ok(())
}

fn json_reply(v: &Value) -> Result<Reply, ProtocolError> {
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
    if env
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !env.is_empty()
    {
        Ok(env.to_string())
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
    let env = environment(inner, &env_call)?;
    if let Some(f) = &req.facts {
        check_facts(f, name)?;
        s.facts.save_facts(name, f).await?;
    }
    let stored = match &req.facts {
        Some(_) => None,
        None => s.facts.facts(name).await?,
    };
    let facts = req.facts.as_ref().or(stored.as_ref());
    let node = s.classifier.classify(name, Some(&env), facts).await?;
    let compile = CompileRequest {
        certname: name.to_string(),
        environment: env.clone(),
        facts: facts.and_then(|f| f.get("values")).cloned(),
        node,
        transaction_uuid: req.transaction_uuid.clone(),
        static_catalog: req.static_catalog,
        checksum_types: req.checksum_types.clone(),
    };
    let mut catalog = s.compiler.compile(&compile).await?;
    if req.static_catalog {
        inline_metadata(inner, &env, &mut catalog, &req.checksum_types).await?;
    } else {
        catalog.metadata = None;
        catalog.recursive_metadata = None;
    }
    let accept = call.header("accept");
    let format = content::negotiate(accept, true)
        .ok_or_else(|| ProtocolError::NotAcceptable(accept.unwrap_or("").to_string()))?;
    let body = serde_json::to_vec(&catalog).map_err(|e| ProtocolError::Internal(e.to_string()))?;
    s.catalogs.save_catalog(name, &catalog, &body).await?;
    if let Some(Value::String(code_id)) = &catalog.code_id {
        inner
            .code_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((name.to_string(), env.clone()), code_id.clone());
    }
    Ok(Reply::new(200, format.content_type(), body))
}

fn sources(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Static catalogs: inline the metadata of every `puppet:///` file source, with the
/// `content_uri` the agent fetches from `static_file_content`. Only for catalogs with a
/// `code_id` (as Puppetserver, quirk Q8).
async fn inline_metadata(
    inner: &Inner,
    env: &str,
    catalog: &mut puppet_catalog::Catalog,
    preferences: &[String],
) -> Result<(), ProtocolError> {
    if !catalog.code_id.as_ref().is_some_and(Value::is_string) {
        return Ok(());
    }
    let files = &inner.services.files;
    let default_checksum = pick_checksum(preferences);
    let mut metadata = catalog.metadata.take().unwrap_or_default();
    let mut recursive = catalog.recursive_metadata.take().unwrap_or_default();
    for r in catalog
        .resources
        .iter()
        .filter(|r| r.resource_type == "File")
    {
        let Some(params) = &r.parameters else {
            continue;
        };
        let p = |k: &str| params.get(k);
        let mut o = MetadataOptions {
            checksum_type: match p("checksum").and_then(Value::as_str) {
                Some(c) if c.starts_with("sha") => c.to_string(),
                _ => default_checksum.clone(),
            },
            links: if p("links").and_then(Value::as_str) == Some("follow") {
                Links::Follow
            } else {
                Links::Manage
            },
            source_permissions_use: matches!(
                p("source_permissions").and_then(Value::as_str),
                Some("use")
            ),
            ..MetadataOptions::default()
        };
        let recurse = matches!(p("recurse"), Some(Value::Bool(true)))
            || matches!(
                p("recurse").and_then(Value::as_str),
                Some("true" | "remote")
            );
        for source in sources(p("source")) {
            let Some(path) = source.strip_prefix("puppet:///") else {
                continue;
            };
            let path = path.trim_end_matches('/');
            let Some(uri) = files.content_uri(path) else {
                continue;
            };
            if recurse {
                o.recurse = true;
                o.recurselimit = p("recurselimit")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok());
                o.ignore = sources(p("ignore"));
                let Ok(list) = files.metadatas(env, path, &o).await else {
                    continue;
                };
                let list: Vec<Value> = list
                    .into_iter()
                    .map(|mut e| {
                        let rel = e
                            .get("relative_path")
                            .and_then(Value::as_str)
                            .unwrap_or(".")
                            .to_string();
                        let cu = if rel == "." {
                            format!("puppet:///{uri}")
                        } else {
                            format!("puppet:///{uri}/{rel}")
                        };
                        if let Value::Object(m) = &mut e {
                            m.insert("content_uri".into(), Value::String(cu));
                        }
                        e
                    })
                    .collect();
                let mut by_source = Map::new();
                by_source.insert(source.clone(), Value::Array(list));
                recursive.insert(r.title.clone(), Value::Object(by_source));
            } else {
                let Ok(mut one) = files.metadata(env, path, &o).await else {
                    continue;
                };
                if let Value::Object(m) = &mut one {
                    m.insert(
                        "content_uri".into(),
                        Value::String(format!("puppet:///{uri}")),
                    );
                    m.insert("source".into(), Value::String(source.clone()));
                }
                metadata.insert(r.title.clone(), one);
            }
            break;
        }
    }
    catalog.metadata = Some(metadata);
    catalog.recursive_metadata = Some(recursive);
    Ok(())
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

/// PEM text of one DER object.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
