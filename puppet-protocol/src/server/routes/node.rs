//! The node's own documents: `node` (classification), `facts` (PUT) and `report` (PUT).

use hyper::Method;

use super::super::Inner;
use super::super::http::{Call, Reply};
use super::not_allowed;
use super::{check_facts, doc_reply, require_json};
use crate::content::JSON_UTF8;
use crate::{Endpoint, ProtocolError};

pub(super) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let s = &inner.services;
    let m = call.method;
    match endpoint {
        Endpoint::Node(name) if m == Method::GET => {
            let facts = s.facts.facts(name).await?;
            let node = s
                .classifier
                .classify(name, call.query.get("environment"), facts.as_ref())
                .await?;
            doc_reply(call, &node.to_json(), false)
        }
        Endpoint::Facts(name) if m == Method::PUT => {
            require_json(call)?;
            let facts = puppet_facts::Facts::from_json(&call.body).map_err(|e| {
                ProtocolError::BadRequest(format!("Could not parse the facts: {e}"))
            })?;
            check_facts(&facts, name)?;
            let env = call
                .query
                .get("environment")
                .unwrap_or(inner.options.default_environment.as_str());
            s.facts
                .save_client_facts(name, &facts, env, call.peer.cert_der.as_deref())
                .await?;
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
        _ => Err(not_allowed(call)),
    }
}
