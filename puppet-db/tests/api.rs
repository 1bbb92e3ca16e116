//! The HTTP API handler without TLS: status codes, headers and bodies as PuppetDB's.

use puppet_db::server::Api;
use puppet_protocol::server::generic::{Handler, HttpResponse};
use serde_json::{Value, json};

use crate::common::*;

fn call(
    api: &Api,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &str,
    cert: bool,
) -> HttpResponse {
    let certname = cert.then_some("puppet.example.test");
    let request = http_request(method, path, query, body, certname);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(api.handle(request))
}

fn json_body(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).expect("JSON body")
}

fn paging_headers_post_queries_and_refusals(b: Backend) {
    let d = loaded(b);
    let api = Api::new(d.db.clone());
    // Event counts: one success on each of the three nodes' File[/etc/motd].
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/event-counts",
        &[("summarize_by", "certname"), ("include_total", "true")],
        "",
        true,
    );
    assert_eq!(r.status, 200);
    assert_eq!(json_body(&r).as_array().map(Vec::len), Some(3));
    assert!(
        r.headers
            .contains(&("X-Records".to_string(), "3".to_string()))
    );
    let r = call(
        &api,
        "POST",
        "/pdb/query/v4/aggregate-event-counts",
        &[],
        &json!({"summarize_by": "resource", "query": ["=", "status", "success"]}).to_string(),
        true,
    );
    assert_eq!(
        json_body(&r),
        json!([{"summarize_by": "resource", "successes": 1, "failures": 0, "noops": 0, "skips": 0, "total": 1}])
    );
    let r = call(&api, "GET", "/pdb/query/v4/event-counts", &[], "", true);
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("summarize_by"));
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/nodes",
        &[
            ("limit", "1"),
            ("include_total", "true"),
            ("order_by", r#"[{"field":"certname"}]"#),
        ],
        "",
        true,
    );
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    assert!(
        r.headers
            .contains(&("X-Records".to_string(), "3".to_string())),
        "{:?}",
        r.headers
    );
    assert_eq!(json_body(&r)[0]["certname"], json!("db1.example.test"));

    let r = call(
        &api,
        "POST",
        "/pdb/query/v4",
        &[],
        &json!({"query": "nodes[certname] { certname ~ 'web' }", "order_by": [{"field": "certname", "order": "desc"}], "limit": 1})
            .to_string(),
        true,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_body(&r), json!([{"certname": "web2.example.test"}]));

    let r = call(
        &api,
        "POST",
        "/pdb/query/v4/nodes",
        &[],
        &json!({"query": ["=", "certname", "db1.example.test"]}).to_string(),
        true,
    );
    assert_eq!(json_body(&r).as_array().map(Vec::len), Some(1));

    // Bad paging, bad JSON, wrong method, no certificate, unknown paths.
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/nodes",
        &[("limit", "x")],
        "",
        true,
    );
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("Illegal value 'x' for :limit"));
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/nodes",
        &[("query", "[\"=\", ")],
        "",
        true,
    );
    assert_eq!(r.status, 400);
    assert!(r.content_type.starts_with("text/plain"));
    let r = call(&api, "GET", "/pdb/cmd/v1", &[], "", true);
    assert_eq!(r.status, 405);
    let r = call(&api, "DELETE", "/pdb/query/v4/nodes", &[], "", true);
    assert_eq!(r.status, 405);
    let r = call(&api, "GET", "/pdb/query/v4/nodes", &[], "", false);
    assert_eq!(r.status, 403);
    let r = call(&api, "GET", "/pdb/query/v5/nodes", &[], "", true);
    assert_eq!(r.status, 404);
    let r = call(&api, "GET", "/status/v1/services", &[], "", false);
    assert_eq!(json_body(&r)["puppetdb-status"]["state"], json!("running"));
    let r = call(&api, "GET", "/pdb/meta/v1/server-time", &[], "", false);
    assert!(
        json_body(&r)["server_time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

fn commands_answer_a_uuid_or_puppetdbs_error_object(b: Backend) {
    let d = db(b);
    let api = Api::new(d.db.clone());
    let q = [
        ("command", "replace facts"),
        ("version", "5"),
        ("certname", "web1.example.test"),
    ];
    let r = call(
        &api,
        "POST",
        "/pdb/cmd/v1",
        &q,
        &doc(FACTS, "web1.example.test").to_string(),
        true,
    );
    assert_eq!(r.status, 200);
    assert!(json_body(&r)["uuid"].is_string());
    let r = call(&api, "POST", "/pdb/cmd/v1", &q, "{}", true);
    assert_eq!(r.status, 400);
    let e = json_body(&r);
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.contains("has an invalid body")),
        "{e}"
    );
    assert_eq!(e.as_object().map(|o| o.len()), Some(1));
}

fn path_forms_ast_only_and_unknown_objects_over_http(b: Backend) {
    let d = loaded(b);
    let api = Api::new(d.db.clone());
    // A title with a `/` is one segment, `%2F` in the path (as PuppetDB routes it).
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/resources/File/%2Fetc%2Fmotd",
        &[(
            "query",
            r#"["extract", "certname", ["=", "certname", "web1.example.test"]]"#,
        )],
        "",
        true,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_body(&r), json!([{"certname": "web1.example.test"}]));
    // An unknown object or parent: 404 with PuppetDB's JSON error.
    for (path, error) in [
        (
            "/pdb/query/v4/nodes/nobody",
            "No information is known about node nobody",
        ),
        (
            "/pdb/query/v4/nodes/nobody/facts/kernel",
            "No information is known about node nobody",
        ),
        (
            "/pdb/query/v4/reports/00/metrics",
            "No information is known about report 00",
        ),
    ] {
        let r = call(&api, "GET", path, &[], "", true);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(json_body(&r), json!({"error": error}), "{path}");
    }
    // `/fact-names`: an array of strings.
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/fact-names",
        &[("limit", "2")],
        "",
        true,
    );
    assert_eq!(json_body(&r), json!(["is_virtual", "kernel"]));
    // The root endpoint's `ast_only`: PQL answered as its AST, not run; a query that does not
    // compile is refused.
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4",
        &[
            ("query", r#"nodes[certname] { certname ~ "web" }"#),
            ("ast_only", "true"),
        ],
        "",
        true,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        json_body(&r),
        json!([
            "from",
            "nodes",
            ["extract", ["certname"], ["~", "certname", "web"]]
        ])
    );
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4/nodes",
        &[("query", r#"["=", "certname", "x"]"#), ("ast_only", "true")],
        "",
        true,
    );
    assert_eq!(r.status, 400);
    assert_eq!(&r.body[..], b"Unsupported query parameter 'ast_only'");
    let r = call(
        &api,
        "GET",
        "/pdb/query/v4",
        &[("query", r#"nodes { nosuch = "x" }"#), ("ast_only", "true")],
        "",
        true,
    );
    assert_eq!(r.status, 400);
    assert!(
        String::from_utf8_lossy(&r.body)
            .starts_with("'nosuch' is not a queryable object for nodes"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

crate::both!(
    path_forms_ast_only_and_unknown_objects_over_http,
    paging_headers_post_queries_and_refusals,
    commands_answer_a_uuid_or_puppetdbs_error_object,
);
