//! The file server's endpoints: `file_metadata(s)`, `file_content`,
//! `static_file_content`, `environments`, and the file bucket.

use hyper::Method;
use serde_json::{Map, json};

use super::super::Inner;
use super::super::http::{Call, Reply};
use super::not_allowed;
use super::{doc_reply, environment, json_reply};
use crate::content::OCTET_STREAM;
use crate::files::MetadataOptions;
use crate::{Endpoint, ProtocolError};

pub(super) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let s = &inner.services;
    let m = call.method;
    match endpoint {
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
            let body = s
                .files
                .content_body(&environment(inner, call)?, path)
                .await?;
            Reply::file(OCTET_STREAM, body, path).await
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
            let body = s
                .files
                .static_content_body(certname, &env, path, code_id)
                .await?;
            Reply::file(OCTET_STREAM, body, path).await
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
        _ => Err(not_allowed(call)),
    }
}

async fn bucket(inner: &Inner, call: &Call<'_>, path: &str) -> Result<Reply, ProtocolError> {
    let mut parts = path.splitn(3, '/');
    let algorithm = parts.next().unwrap_or("");
    let digest = parts.next().unwrap_or("");
    if !matches!(algorithm, "md5" | "sha256" | "sha384" | "sha512" | "sha224") {
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
