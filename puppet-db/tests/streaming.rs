//! Query answers streamed while they are sent: a large answer arrives whole and the same as
//! the buffered one (over real mTLS, chunked and gzipped), a client that does not read keeps
//! the server's buffer bounded, and errors known before the first byte are PuppetDB's error
//! answers.

use std::sync::Arc;

use puppet_db::server::Api;
use puppet_db::{Paging, PuppetDb};
use puppet_protocol::server::Limits;
use puppet_protocol::server::generic::{GenericServer, Handler, HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::common::*;

/// Nodes and resources per catalog of [`large`]: 12,000 resource rows, several MB of JSON.
const NODES: usize = 24;
const RESOURCES: usize = 500;

/// A catalog of `resources` File resources with a few parameters each.
fn catalog(certname: &str, resources: usize) -> Value {
    let mut v = doc(CATALOG, certname);
    let list = v["resources"].as_array_mut().expect("resources");
    for i in 0..resources {
        list.push(json!({"type": "File", "title": format!("/srv/app/file-{i}"),
            "tags": ["file", "class"], "exported": false, "file": "/site.pp", "line": i,
            "parameters": {"ensure": "file", "mode": "0644", "content": format!("content {i} of {certname}")}}));
    }
    v
}

fn large() -> Db {
    let d = db(Backend::Sqlite);
    for n in 0..NODES {
        let name = format!("node{n}.example.test");
        submit(
            &d.db,
            "replace catalog",
            9,
            &name,
            &catalog(&name, RESOURCES),
        );
    }
    d
}

fn request(path: &str, query: &[(&str, &str)], gzip: bool) -> HttpRequest {
    let mut r = http_request("GET", path, query, "", Some("puppet.example.test"));
    if gzip {
        r.headers
            .insert("accept-encoding", "gzip".parse().expect("header"));
    }
    r
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_large_answer_streams_whole_over_mtls_as_the_buffered_one() {
    let d = large();
    let paging = Paging {
        include_total: true,
        ..Paging::default()
    };
    let (buffered, total) =
        d.db.query_json("resources", None, &paging)
            .expect("buffered");
    assert_eq!(total, Some((NODES * (RESOURCES + 6)) as u64));
    assert!(buffered.len() > 2 * 1024 * 1024, "{} bytes", buffered.len());

    let pki = Pki::new();
    let identity = pki.identity("puppet.example.test");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let api = Api::new(d.db.clone());
        let running = GenericServer::new(pki.server_tls(), Arc::new(api), Limits::default())
            .bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let client = pki
            .client(running.local_addr(), &identity)
            .max_response_bytes(256 * 1024 * 1024)
            .build()
            .expect("client");
        // The client asks for gzip, as Puppet's terminus does: chunked and gzipped.
        let answer = client
            .request(
                "GET",
                "/pdb/query/v4/resources?include_total=true",
                &[],
                Vec::new(),
            )
            .await
            .expect("query");
        assert_eq!(answer.status, 200);
        assert!(
            answer.gzipped,
            "a committed answer is gzipped as it is written"
        );
        assert!(
            answer.body == buffered,
            "the streamed answer is the buffered one"
        );
        // A small answer is still one body (and a missing object PuppetDB's 404).
        let small = client
            .request("GET", "/pdb/query/v4/nodes", &[], Vec::new())
            .await
            .expect("nodes");
        let nodes: Value = serde_json::from_slice(&small.body).expect("JSON");
        assert_eq!(nodes.as_array().map(Vec::len), Some(NODES));
        let missing = client
            .request(
                "GET",
                "/pdb/query/v4/nodes/nosuch.example.test",
                &[],
                Vec::new(),
            )
            .await
            .expect("missing");
        assert_eq!(missing.status, 404);
        // The connection serves the next request after a streamed answer.
        let again = client
            .request("GET", "/pdb/query/v4/resources", &[], Vec::new())
            .await
            .expect("again");
        assert_eq!(again.body, buffered);
        running.shutdown().await;
    });
}

#[test]
fn a_client_that_does_not_read_keeps_the_buffer_bounded() {
    let d = large();
    let api = Api::new(d.db.clone());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for gzip in [false, true] {
        let r = runtime.block_on(api.handle(request(
            "/pdb/query/v4/resources",
            &[("include_total", "true")],
            gzip,
        )));
        assert_eq!(r.status, 200);
        // Known before the first byte.
        assert_eq!(
            header(&r, "X-Records"),
            Some((NODES * (RESOURCES + 6)).to_string().as_str())
        );
        assert_eq!(header(&r, "Content-Encoding").is_some(), gzip);
        let mut stream = r.stream.expect("a large answer is streamed");
        // Default limits: 4 chunks of 64 KiB in the channel and one handed over wait at
        // most (each plus at most one row).
        let bound = 5 * (64 * 1024 + 4096);
        // The client reads nothing while the storage thread has all the time it needs.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let waiting = stream.waiting_bytes();
        assert!(waiting <= bound, "{waiting} bytes wait (bound {bound})");
        let mut body = Vec::new();
        while let Some(chunk) = runtime.block_on(stream.next_chunk()) {
            assert!(stream.waiting_bytes() <= bound);
            body.extend_from_slice(&chunk.expect("no error"));
        }
        if gzip {
            use std::io::Read;
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .expect("gunzip");
            body = plain;
        }
        let (buffered, _) =
            d.db.query_json("resources", None, &Paging::default())
                .expect("buffered");
        assert!(body == buffered, "whole and identical (gzip {gzip})");
    }
}

#[test]
fn errors_before_the_first_row_are_puppetdb_error_answers() {
    let d = loaded(Backend::Sqlite);
    let api = Api::new(d.db.clone());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let call = |path: &str, query: &[(&str, &str)]| {
        let r = runtime.block_on(api.handle(request(path, query, true)));
        assert!(r.stream.is_none(), "{path}: an error is one body");
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    let (status, body) = call(
        "/pdb/query/v4/nodes",
        &[("query", r#"["=", "nosuch", "x"]"#)],
    );
    assert_eq!(status, 400);
    assert!(body.contains("'nosuch'"), "{body}");
    let (status, body) = call("/pdb/query/v4/nodes/nosuch.example.test", &[]);
    assert_eq!(status, 404);
    assert_eq!(
        body,
        "{\n  \"error\" : \"No information is known about node nosuch.example.test\"\n}"
    );
    let (status, body) = call("/pdb/query/v4/nosuch", &[]);
    assert_eq!(
        (status, body.as_str()),
        (404, "No such endpoint: /pdb/query/v4/nosuch")
    );
    // A parent that is not there: checked before anything is written.
    let (status, _) = call("/pdb/query/v4/catalogs/nosuch.example.test/resources", &[]);
    assert_eq!(status, 404);
}

crate::both!(the_streamed_text_is_the_buffered_text);

fn the_streamed_text_is_the_buffered_text(b: Backend) {
    // The same rows through `query_json_stream` into any writer, total counted first.
    let d = loaded(b);
    let db: &PuppetDb = &d.db;
    for (path, query) in [
        ("resources", None),
        ("nodes/web1.example.test", None),
        ("facts", Some(r#"["=", "name", "kernel"]"#)),
        ("", Some("nodes[certname] {}")),
    ] {
        let paging = Paging {
            include_total: !path.contains('/') && !path.is_empty(),
            limit: Some(2),
            ..Paging::default()
        };
        let answer = db.query(path, query, &paging).expect("query");
        let streamed = db.query_json_stream(path, query, &paging).expect("stream");
        assert_eq!(streamed.total(), answer.total, "{path}");
        let mut text = Vec::new();
        streamed.write_to(&mut text).expect("write");
        let parsed: Value = serde_json::from_slice(&text).expect("JSON");
        let expected = if answer.single {
            answer.rows[0].clone()
        } else {
            Value::Array(answer.rows)
        };
        assert_eq!(parsed, expected, "{path}");
    }
}
