//! Status: `/puppet/v3/status/:name` and `/status/v1/{simple,services}`.

use hyper::Method;
use serde_json::json;

use super::super::Inner;
use super::super::http::{Call, Reply};
use super::not_allowed;
use super::{doc_reply, json_reply};
use crate::content::TEXT_PLAIN_UTF8;
use crate::{Endpoint, ProtocolError};

pub(super) async fn dispatch(
    inner: &Inner,
    endpoint: &Endpoint,
    call: &Call<'_>,
) -> Result<Reply, ProtocolError> {
    let m = call.method;
    match endpoint {
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
        _ => Err(not_allowed(call)),
    }
}
