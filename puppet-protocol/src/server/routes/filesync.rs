//! `/file-sync/v1`: publish (primary, admins), and the latest code_ids, manifests and blobs
//! a replica copies (any certificate of the CA). See [`crate::filesync`].

use std::time::Duration;

use hyper::Method;
use puppet_filesync::{CodeId, Digest};

use super::super::Inner;
use super::super::http::{Call, Reply};
use super::{json_reply, not_allowed, require_json};
use crate::content::OCTET_STREAM;
use crate::filesync::{CHAIN_HEADER, PublishRequest, parse_chain};
use crate::{Endpoint, ProtocolError};

/// The longest a `latest` long poll is held (a client asking for more gets this).
const LONG_POLL_MAX: Duration = Duration::from_secs(60);

pub(super) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let Some(sync) = &inner.services.file_sync else {
        return Err(ProtocolError::NotFound(
            "File sync is not enabled on this master".into(),
        ));
    };
    let m = call.method;
    match endpoint {
        Endpoint::FileSyncPublish if m == Method::POST => {
            let environment = if call.body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                require_json(call)?;
                let req: PublishRequest = serde_json::from_slice(&call.body).map_err(|e| {
                    ProtocolError::BadRequest(format!(
                        "The publish request is not {{\"environment\": \"<name>\"}}: {e}"
                    ))
                })?;
                req.environment
            };
            if let Some(env) = &environment {
                puppet_filesync::check_environment(env)
                    .map_err(|e| ProtocolError::BadRequest(e.to_string()))?;
            }
            json_reply(&sync.publish(environment.as_deref()).await?)
        }
        Endpoint::FileSyncLatest if m == Method::GET => {
            let chain = match call.header(CHAIN_HEADER) {
                Some(v) => parse_chain(v).map_err(ProtocolError::BadRequest)?,
                None => Vec::new(),
            };
            let Some(known) = call.query.get("known") else {
                return json_reply(&sync.latest_via(&chain).await?);
            };
            if known.len() != 64 || !known.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ProtocolError::BadRequest(format!(
                    "Invalid known {known:?} for file-sync (64 hexadecimal digits)"
                )));
            }
            let wait = match call.query.get("wait") {
                None => LONG_POLL_MAX,
                Some(w) => w
                    .parse::<u64>()
                    .map(|s| Duration::from_secs(s).min(LONG_POLL_MAX))
                    .map_err(|_| {
                        ProtocolError::BadRequest(format!("Invalid wait {w:?} for file-sync"))
                    })?,
            };
            let mut draining = inner.draining.subscribe();
            let changed = tokio::select! {
                l = sync.latest_changed(known, wait) => Some(l?),
                // A master shutting down answers its long polls at once.
                _ = async { draining.wait_for(|d| *d).await.is_ok() } => None,
            };
            match changed {
                Some(latest) => json_reply(&latest),
                None => json_reply(&sync.latest_via(&chain).await?),
            }
        }
        Endpoint::FileSyncManifest {
            environment,
            code_id,
        } if m == Method::GET => {
            let id =
                CodeId::parse(code_id).map_err(|e| ProtocolError::BadRequest(e.to_string()))?;
            let bytes = sync.manifest(environment, &id).await?.ok_or_else(|| {
                ProtocolError::NotFound(format!(
                    "Could not find version {code_id} of environment {environment}"
                ))
            })?;
            Ok(Reply::new(200, OCTET_STREAM, bytes))
        }
        Endpoint::FileSyncBlob(hex) if m == Method::GET => {
            let digest = Digest::from_hex(hex)
                .ok_or_else(|| ProtocolError::BadRequest(format!("Invalid sha256 {hex:?}")))?;
            let bytes = sync
                .blob(&digest)
                .await?
                .ok_or_else(|| ProtocolError::NotFound(format!("Could not find blob {hex}")))?;
            // Contents are mostly compressed already or small; gzip would only add latency.
            Ok(Reply::new(200, OCTET_STREAM, bytes).no_gzip())
        }
        _ => Err(not_allowed(call)),
    }
}
