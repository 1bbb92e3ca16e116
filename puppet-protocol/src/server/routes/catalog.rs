//! `/puppet/v3/catalog/:name`: the agent's form (facts encoded twice), its facts saved,
//! the node classified, the catalog compiled in the classifier's environment, archived and
//! sent in the negotiated format; sent again from the cache of last catalogs while the
//! compiler's cache key for the node stays the same.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use super::super::cache::{CatalogCache, SentCatalog};
use super::super::http::{Call, Reply, gzip_off_thread};
use super::super::{CompileRequest, Inner};
use super::{check_facts, environment, valid_environment};
use crate::ProtocolError;
use crate::content;
use crate::form::{CatalogRequest, Params};

pub(super) async fn catalog(
    inner: &Inner,
    call: &Call<'_>,
    name: &str,
) -> Result<Reply, ProtocolError> {
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
    let mut req = CatalogRequest::from_params(&params)?;
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
    let sent = match req.facts.take() {
        Some(f) => {
            let facts = puppet_facts::Facts::from_value(f).map_err(|e| {
                ProtocolError::BadRequest(format!("Could not parse the facts: {e}"))
            })?;
            check_facts(&facts, name)?;
            s.facts
                .save_client_facts(name, &facts, &requested, call.peer.cert_der.as_deref())
                .await?;
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
    // A name the classifier made up is the server's fault, not the request's.
    let env = valid_environment(&node.environment)
        .map_err(|_| {
            ProtocolError::Internal(format!(
                "the node classifier chose an invalid environment {:?} for {name}",
                node.environment
            ))
        })?
        .to_string();
    let compile = CompileRequest {
        certname: name.to_string(),
        environment: env.clone(),
        facts,
        node,
        transaction_uuid: req.transaction_uuid.clone(),
        static_catalog: req.static_catalog,
        checksum_types: req.checksum_types.clone(),
    };
    let accept = call.header("accept");
    let format = content::negotiate(accept, true)
        .ok_or_else(|| ProtocolError::NotAcceptable(accept.unwrap_or("").to_string()))?;
    // A compiler that says what its output depends on: the last catalog sent to this node
    // is sent again while that stays the same (no compile, encoding, gzip or archiving).
    let key = s
        .compiler
        .cache_key(&compile)
        .await
        .map(|k| CatalogCache::key(&env, req.static_catalog, &k));
    if let Some(hit) = key.as_deref().and_then(|k| inner.catalogs.get(name, k)) {
        if let Some(code_id) = &hit.code_id {
            s.files.catalog_served(name, &env, code_id);
        }
        s.catalogs.catalog_resent(&compile, &hit.plain).await?;
        return Ok(Reply::precompressed(
            format.content_type(),
            hit.plain.clone(),
            hit.gzip.clone(),
        ));
    }
    let mut catalog = s.compiler.compile(&compile).await?;
    if !req.static_catalog {
        catalog.metadata = None;
        catalog.recursive_metadata = None;
    }
    let body = Bytes::from(
        serde_json::to_vec(&catalog).map_err(|e| ProtocolError::Internal(e.to_string()))?,
    );
    s.catalogs.save_compiled(&compile, &catalog, &body).await?;
    let code_id = match &catalog.code_id {
        Some(Value::String(code_id)) => Some(code_id.clone()),
        _ => None,
    };
    if let Some(code_id) = &code_id {
        s.files.catalog_served(name, &env, code_id);
    }
    // Kept only if the key did not change while compiling (code or data edited meanwhile:
    // this catalog may be of either version).
    let after = s
        .compiler
        .cache_key(&compile)
        .await
        .map(|k| CatalogCache::key(&env, req.static_catalog, &k));
    match key {
        Some(key) if after.as_ref() == Some(&key) => {
            let gzip = gzip_off_thread(&body).await;
            inner.catalogs.insert(
                name,
                Arc::new(SentCatalog {
                    key,
                    plain: body.clone(),
                    gzip: gzip.clone(),
                    code_id,
                }),
            );
            Ok(Reply::precompressed(format.content_type(), body, gzip))
        }
        _ => Ok(Reply::new(200, format.content_type(), body)),
    }
}
