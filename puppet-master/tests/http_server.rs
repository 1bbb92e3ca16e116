//! The master's HTTP behaviour through a real TLS connection: content negotiation and
//! Puppetserver's content-type spellings, gzip only when accepted, keep-alive, facts and
//! reports stored and read back, the file server's metadata options.

use puppet_master::testing::TestMaster;
use puppet_protocol::server::FactStore;

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiation_gzip_and_keep_alive() {
    let f = TestMaster::start().await.unwrap();
    let id = f.identity("n1.example.test").unwrap();
    let module = f.environments().join("production/modules/m/files");
    write(&module.join("a.txt"), "alpha\n");
    let mut conn = f.client(Some(&id)).unwrap().connect().await.unwrap();
    let path = "/puppet/v3/file_metadata/modules/m/a.txt?environment=production";

    // Many requests on one connection (keep-alive).
    for _ in 0..3 {
        let a = conn.request("GET", path, None, vec![]).await.unwrap();
        assert_eq!(a.status, 200);
        assert!(a.gzipped);
        assert_eq!(
            a.content_type.as_deref(),
            Some("application/json;charset=utf-8")
        );
    }
    // No Accept-Encoding: no gzip.
    let plain = conn
        .request_with("GET", path, &[("accept-encoding", "")], vec![])
        .await
        .unwrap();
    assert!(!plain.gzipped);
    let v: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(
        v["checksum"]["value"],
        format!(
            "{{sha256}}{}",
            puppet_protocol::files::digest(b"alpha\n", "sha256")
        )
    );
    // PSON only.
    let pson = conn
        .request_with("GET", path, &[("accept", "text/pson")], vec![])
        .await
        .unwrap();
    assert_eq!(pson.content_type.as_deref(), Some("text/pson"));
    // Nothing acceptable: 406 with Puppet's error body.
    let none = conn
        .request_with("GET", path, &[("accept", "text/yaml")], vec![])
        .await
        .unwrap();
    assert_eq!(none.status, 406);
    let e: serde_json::Value = serde_json::from_slice(&none.body).unwrap();
    assert_eq!(e["issue_kind"], "UNSUPPORTED_FORMAT");
    // File content is raw bytes.
    let content = conn
        .request(
            "GET",
            "/puppet/v3/file_content/modules/m/a.txt?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        content.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(content.body, b"alpha\n");
    // The status endpoints.
    let simple = conn
        .request("GET", "/status/v1/simple", None, vec![])
        .await
        .unwrap();
    assert_eq!(
        (simple.content_type.as_deref(), simple.body.as_slice()),
        (Some("text/plain;charset=utf-8"), &b"running"[..])
    );
    // An environment that does not exist.
    let env = conn
        .request(
            "GET",
            "/puppet/v3/file_metadata/modules/m/a.txt?environment=nope",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(env.status, 404);
    let e: serde_json::Value = serde_json::from_slice(&env.body).unwrap();
    assert_eq!(e["issue_kind"], "ENVIRONMENT_NOT_FOUND");
    // Wrong method: 405 with Puppet's body; unknown path: 404 HANDLER_NOT_FOUND.
    let wrong = conn.request("DELETE", path, None, vec![]).await.unwrap();
    assert_eq!(wrong.status, 405);
    let unknown = conn
        .request("GET", "/puppet/v3/nothing", None, vec![])
        .await
        .unwrap();
    assert_eq!(unknown.status, 404);
    let e: serde_json::Value = serde_json::from_slice(&unknown.body).unwrap();
    assert_eq!(e["issue_kind"], "HANDLER_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_put_and_node_read_back() {
    let f = TestMaster::start().await.unwrap();
    let id = f.identity("n2.example.test").unwrap();
    let mut conn = f.client(Some(&id)).unwrap().connect().await.unwrap();
    let facts = r#"{"name":"n2.example.test","values":{"os":{"family":"Debian"}},"timestamp":"2026-11-22T17:46:14.598794758+00:00","expiration":"2026-11-22T18:16:14.598844758+00:00"}"#;
    let put = conn
        .request(
            "PUT",
            "/puppet/v3/facts/n2.example.test?environment=production",
            Some("application/json"),
            facts.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200);
    assert!(!put.gzipped, "facts PUT answers are not gzipped (quirk Q2)");
    let node = conn
        .request(
            "GET",
            "/puppet/v3/node/n2.example.test?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    let node: serde_json::Value = serde_json::from_slice(&node.body).unwrap();
    assert_eq!(node["parameters"]["os"]["family"], "Debian");
    // The store the master wrote to sees the facts at once (queued or written).
    let stored = f.storage().facts("n2.example.test").await.unwrap();
    assert_eq!(
        stored.unwrap().get("os.family"),
        Some(&serde_json::json!("Debian"))
    );
    // On disk once the background writes are flushed.
    f.storage().flush().await;
    let path = f.dir().join("data/facts/n2.example.test.json");
    assert!(std::fs::read_to_string(path).unwrap().contains("Debian"));
    // Facts that are not a facts document: 400.
    let bad = conn
        .request(
            "PUT",
            "/puppet/v3/facts/n2.example.test",
            Some("application/json"),
            b"[1,2]".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    // In YAML: 415.
    let yaml = conn
        .request(
            "PUT",
            "/puppet/v3/facts/n2.example.test",
            Some("text/yaml"),
            b"a: 1".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(yaml.status, 415);
}

fn list(query: &str) -> String {
    format!("/puppet/v3/file_metadatas/modules/m/tree?environment=production&{query}")
}

async fn get(
    conn: &mut puppet_protocol::client::Connection,
    path: String,
) -> puppet_protocol::client::Answer {
    conn.request("GET", &path, None, vec![]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_metadatas_options() {
    let f = TestMaster::start().await.unwrap();
    let id = f.identity("n3.example.test").unwrap();
    let tree = f.environments().join("production/modules/m/files/tree");
    write(&tree.join("a.txt"), "a\n");
    write(&tree.join("skip.swp"), "x\n");
    write(&tree.join("sub/b.txt"), "b\n");
    write(&tree.join("sub/deeper/c.txt"), "c\n");
    std::os::unix::fs::symlink("a.txt", tree.join("link")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tree.join("a.txt"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
    }
    let mut conn = f.client(Some(&id)).unwrap().connect().await.unwrap();

    let a = get(
        &mut conn,
        list("recurse=true&ignore=*.swp&links=manage&checksum_type=sha256"),
    )
    .await;
    assert_eq!(a.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let rel: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["relative_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        rel,
        [
            ".",
            "a.txt",
            "link",
            "sub",
            "sub/b.txt",
            "sub/deeper",
            "sub/deeper/c.txt"
        ]
    );
    let a_txt = &v[1];
    assert_eq!(a_txt["mode"], 0o640, "mode in decimal: {a_txt}");
    assert_eq!(v[2]["type"], "link");
    assert_eq!(v[2]["destination"], "a.txt");
    assert!(
        v[0]["checksum"]["value"]
            .as_str()
            .unwrap()
            .starts_with("{ctime}")
    );

    // recurselimit=1: the root's children only; links=follow describes the target.
    let b = get(&mut conn, list("recurse=true&recurselimit=1&links=follow")).await;
    let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
    let rel: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["relative_path"].as_str().unwrap())
        .collect();
    assert_eq!(rel, [".", "a.txt", "link", "skip.swp", "sub"]);
    assert_eq!(v[2]["type"], "file");

    // max_files: over the limit is an error.
    let c = get(&mut conn, list("recurse=true&max_files=2")).await;
    assert_eq!(c.status, 400);

    // Not recursive: the root alone. sha512 checksums when asked.
    let d = get(&mut conn, list("checksum_type=sha512")).await;
    let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let one = get(
        &mut conn,
        "/puppet/v3/file_metadata/modules/m/tree/a.txt?environment=production&checksum_type=sha512"
            .into(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&one.body).unwrap();
    assert!(
        v["checksum"]["value"]
            .as_str()
            .unwrap()
            .starts_with("{sha512}")
    );
    assert_eq!(v["relative_path"], serde_json::Value::Null);
    // An unknown checksum type: 400.
    let bad = get(
        &mut conn,
        "/puppet/v3/file_metadata/modules/m/tree/a.txt?environment=production&checksum_type=crc99"
            .into(),
    )
    .await;
    assert_eq!(bad.status, 400);
}

/// `static_file_content` serves only the current code version: the `code_id` of the last
/// catalog the node was served. Any other `code_id` (never issued, or superseded by a newer
/// catalog) is refused with 404 and Puppet's error body, never answered with other content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_file_content_refuses_other_code_ids() {
    let f = TestMaster::start().await.unwrap();
    let id = f.identity("n4.example.test").unwrap();
    write(
        &f.environments().join("production/modules/m/files/a.txt"),
        "alpha\n",
    );
    let data = f.environments().join("production/resources.json");
    write(&data, r#"{"classes": {}, "nodes": []}"#);
    let mut conn = f.client(Some(&id)).unwrap().connect().await.unwrap();
    let content = |code_id: &str| {
        format!(
            "/puppet/v3/static_file_content/modules/m/files/a.txt?environment=production&code_id={code_id}"
        )
    };
    let code_id = |body: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["code_id"].as_str().unwrap().to_string()
    };
    let catalog = "/puppet/v3/catalog/n4.example.test?environment=production";

    // No catalog served yet: no current version for this node.
    let early = get(&mut conn, content("sha256:0123456789abcdef")).await;
    assert_eq!(early.status, 404);

    let first = get(&mut conn, catalog.to_string()).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let v1 = code_id(&first.body);
    let ok = get(&mut conn, content(&v1)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"alpha\n");

    let other = get(&mut conn, content("sha256:0123456789abcdef")).await;
    assert_eq!(other.status, 404);
    let err: serde_json::Value = serde_json::from_slice(&other.body).unwrap();
    assert_eq!(err["issue_kind"], "RESOURCE_NOT_FOUND");
    assert!(
        err["message"].as_str().unwrap().contains("code_id"),
        "{err}"
    );

    // New code: the old code_id is no longer current.
    write(&data, r#"{"classes": {"c": []}, "nodes": []}"#);
    let second = get(&mut conn, catalog.to_string()).await;
    assert_eq!(second.status, 200);
    let v2 = code_id(&second.body);
    assert_ne!(v1, v2);
    assert_eq!(get(&mut conn, content(&v1)).await.status, 404);
    assert_eq!(get(&mut conn, content(&v2)).await.status, 200);
}

/// Regression: `ignore` patterns are client input. A long run of `*` overflowed a worker's
/// stack (aborting the master) and `*` x30 then a letter pinned a core for minutes; the
/// matcher is now iterative and patterns are capped in length and count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ignore_patterns_are_cheap_or_refused() {
    let f = TestMaster::start().await.unwrap();
    let tree = f.environments().join("production/modules/m/files/tree");
    write(
        &tree.join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.txt"),
        "a\n",
    );
    let mut conn = f
        .client_for("n5.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();

    let stars = format!("{}b", "*".repeat(200));
    let answer = get(&mut conn, list(&format!("recurse=true&ignore={stars}"))).await;
    assert_eq!(answer.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "nothing ignored: {v}");

    let long = "*".repeat(puppet_protocol::files::MAX_IGNORE_PATTERN_BYTES + 1);
    let answer = get(&mut conn, list(&format!("recurse=true&ignore={long}"))).await;
    assert_eq!(answer.status, 400);
    let many = vec!["ignore=x"; puppet_protocol::files::MAX_IGNORE_PATTERNS + 1].join("&");
    let answer = get(&mut conn, list(&format!("recurse=true&{many}"))).await;
    assert_eq!(answer.status, 400);
    // The master still serves.
    let answer = get(&mut conn, list("recurse=true&ignore=*.txt")).await;
    assert_eq!(answer.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

/// Regression: the `plugins` mount merges every module's `lib/` (first module wins a path).
/// A directory several modules have (`lib/puppet`) was walked in the first module only, so
/// with eight real modules 8 of 220 plugin files were served and catalogs using stdlib's
/// types failed on the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_merge_every_modules_lib() {
    let f = TestMaster::start().await.unwrap();
    let modules = f.environments().join("production/modules");
    write(&modules.join("a/lib/puppet/type/alpha.rb"), "# a\n");
    write(&modules.join("a/lib/puppet/shared.rb"), "# from a\n");
    write(&modules.join("b/lib/puppet/type/beta.rb"), "# b\n");
    write(
        &modules.join("b/lib/puppet/provider/beta/posix.rb"),
        "# b\n",
    );
    write(&modules.join("b/lib/puppet/shared.rb"), "# from b\n");
    write(&modules.join("c/lib/facter/gamma.rb"), "# c\n");
    let mut conn = f
        .client_for("n6.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let answer = get(
        &mut conn,
        "/puppet/v3/file_metadatas/plugins?environment=production&recurse=true&max_files=-1&ignore=.svn&ignore=CVS&ignore=.git&ignore=.hg&links=follow&checksum_type=sha256&source_permissions=ignore".into(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let mut rel: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["relative_path"].as_str().unwrap())
        .collect();
    rel.sort();
    assert_eq!(
        rel,
        [
            ".",
            "facter",
            "facter/gamma.rb",
            "puppet",
            "puppet/provider",
            "puppet/provider/beta",
            "puppet/provider/beta/posix.rb",
            "puppet/shared.rb",
            "puppet/type",
            "puppet/type/alpha.rb",
            "puppet/type/beta.rb",
        ]
    );
    // The first module wins a path, in the listing and in the content.
    let shared = get(
        &mut conn,
        "/puppet/v3/file_content/plugins/puppet/shared.rb?environment=production".into(),
    )
    .await;
    assert_eq!(shared.body, b"# from a\n");
    let beta = get(
        &mut conn,
        "/puppet/v3/file_content/plugins/puppet/provider/beta/posix.rb?environment=production"
            .into(),
    )
    .await;
    assert_eq!(beta.status, 200);
}

/// `file_content` and `static_file_content` stream a large file (read in chunks as the
/// client takes it, not gzipped) and send a small one gzipped; the bytes are the file's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_content_is_streamed_whole() {
    let f = TestMaster::start().await.unwrap();
    let id = f.identity("n5.example.test").unwrap();
    let files = f.environments().join("production/modules/m/files");
    // 3 MiB and a bit, not a multiple of the chunk size, bytes that do not repeat simply.
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 12_345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("big.bin"), &big).unwrap();
    write(&files.join("small.txt"), "small\n");
    write(
        &f.environments().join("production/resources.json"),
        r#"{"classes": {}, "nodes": []}"#,
    );
    let mut conn = f.client(Some(&id)).unwrap().connect().await.unwrap();

    let a = conn
        .request(
            "GET",
            "/puppet/v3/file_content/modules/m/big.bin?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert!(!a.gzipped, "streamed as read");
    assert_eq!(a.body.len(), big.len());
    assert!(a.body == big, "the file's bytes");
    let small = conn
        .request(
            "GET",
            "/puppet/v3/file_content/modules/m/small.txt?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert!(small.gzipped);
    assert_eq!(small.body, b"small\n");

    // static_file_content: the same, at the current code version; the connection was kept.
    let catalog = conn
        .request(
            "GET",
            "/puppet/v3/catalog/n5.example.test?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&catalog.body).unwrap();
    let code_id = v["code_id"].as_str().unwrap();
    let s = conn
        .request(
            "GET",
            &format!("/puppet/v3/static_file_content/modules/m/files/big.bin?environment=production&code_id={code_id}"),
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.body == big);
    let missing = conn
        .request(
            "GET",
            "/puppet/v3/file_content/modules/m/none.bin?environment=production",
            None,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
}
