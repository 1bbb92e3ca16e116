//! `file`'s `source_permissions`, `validate_cmd`/`validate_replacement` and `content =>
//! '{sha256}...'` (from the filebucket) beside the real Puppet: `puppet apply --catalog` and
//! our engine apply the same catalog to two identical trees; the resource messages, the
//! warnings, the report statuses, the trees (content, mode, owner) and the clientbuckets must
//! be the same.
//!
//! Skipped with one line when `puppet` is absent, unless `PUPPET_RS_REQUIRE_REAL=1`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use puppet_agent::Logger;
use puppet_agent::apply::file::FileSettings;
use puppet_agent::apply::{ApplyOptions, apply};
use puppet_report::LogLevel;
use serde_json::{Value, json};

use crate::common::{
    Level, catalog_doc, have_real_puppet, our_statuses, real_apply, report_statuses,
};

const NAMES: [&str; 16] = [
    "src", "new", "exist", "keep", "ign", "v1", "v2", "v3", "v4", "a", "b", "c", "d", "e", "f", "g",
];

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    for (name, body, mode) in [
        ("src", "src\n", 0o600),
        ("exist", "old\n", 0o644),
        ("keep", "old\n", 0o644),
        ("ign", "old\n", 0o644),
        ("v2", "keep\n", 0o644),
        ("a", "bucketed\n", 0o644),
        ("c", "zzz\n", 0o644),
    ] {
        let p = root.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // The source belongs to nobody (65534).
    nix::unistd::chown(&root.join("src"), Some(65534.into()), None).unwrap();
}

fn catalog(root: &Path) -> Value {
    let p = |n: &str| root.join(n).display().to_string();
    let bucketed = "{sha256}e2e93857ae932d37394a407e6c583b59d706d7b5551bdfcda6e9a160cf6b2973";
    let resources = vec![
        (
            "File",
            p("new"),
            json!({"source": p("src"), "source_permissions": "use"}),
        ),
        (
            "File",
            p("exist"),
            json!({"source": p("src"), "source_permissions": "use"}),
        ),
        (
            "File",
            p("keep"),
            json!({"source": p("src"), "source_permissions": "use_when_creating"}),
        ),
        (
            "File",
            p("ign"),
            json!({"source": p("src"), "source_permissions": "ignore"}),
        ),
        (
            "File",
            p("v1"),
            json!({"content": "ok\n", "validate_cmd": "/bin/grep -q ok %"}),
        ),
        (
            "File",
            p("v2"),
            json!({"content": "bad\n", "validate_cmd": "/bin/sh -c 'echo nope; exit 3' XX",
                   "validate_replacement": "XX"}),
        ),
        (
            "File",
            p("v3"),
            json!({"content": "x\n", "validate_cmd": "/bin/false %"}),
        ),
        (
            "File",
            p("v4"),
            json!({"content": "y\n", "validate_cmd": "/bin/echo checked %"}),
        ),
        (
            "File",
            p("a"),
            json!({"content": "new\n", "backup": "puppet"}),
        ),
        (
            "File",
            p("b"),
            json!({"content": bucketed, "backup": "puppet", "require": format!("File[{}]", p("a"))}),
        ),
        (
            "File",
            p("c"),
            json!({"content": bucketed, "backup": "puppet", "require": format!("File[{}]", p("a"))}),
        ),
        (
            "File",
            p("d"),
            json!({"content": format!("{{sha256}}{}", "0".repeat(64)), "backup": "puppet"}),
        ),
        (
            "File",
            p("e"),
            json!({"content": "{md5}fbbe6330e979cbc948778b3cc34fb61c", "backup": "puppet"}),
        ),
        ("File", p("f"), json!({"content": bucketed})),
        (
            "File",
            p("g"),
            json!({"content": bucketed, "backup": ".bak"}),
        ),
    ];
    let list: Vec<(&str, &str, Value)> = resources
        .iter()
        .map(|(t, n, v)| (*t, n.as_str(), v.clone()))
        .collect();
    let mut doc = catalog_doc(&list);
    // Manifest locations: the deprecation warnings name them.
    for (i, r) in doc["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        r["file"] = json!("/etc/puppet/code/site.pp");
        r["line"] = json!(i + 1);
    }
    doc
}

/// `line` with `root` as `<dir>` and temporary file names (ours `.v2XXXXXX.puppettmp`,
/// Puppet's `v220261203-123-abc`) as `<tmp>`.
fn normalize(line: &str, root: &Path) -> String {
    let dir = format!("{}/", root.display());
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(&dir) {
        out.push_str(&rest[..i]);
        let after = &rest[i + dir.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '\'' || c == ']' || c == '"')
            .unwrap_or(after.len());
        let token = &after[..end];
        out.push_str("<dir>/");
        out.push_str(if NAMES.contains(&token) || token.is_empty() {
            token
        } else {
            "<tmp>"
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Resource lines, warnings and errors (not debug), and the `Executing` lines of validation.
fn interesting(lines: &[String], root: &Path) -> (Vec<String>, Vec<String>) {
    let mut resource = Vec::new();
    let mut warnings = Vec::new();
    for l in lines {
        let n = normalize(l, root);
        if n.starts_with("Error: Facter: ") {
            continue;
        }
        if n.starts_with("Warning: ") && !n.starts_with("Warning: /") {
            warnings.push(n);
        } else if n.starts_with("Notice: /Stage")
            || n.starts_with("Error: ")
            || n.starts_with("Warning: /")
            || n.starts_with("Info: FileBucket read")
            || n.starts_with("Info: /Stage[main]/Main/File[<dir>/")
            || (n.starts_with("Debug: Executing: ") && n.contains("<dir>"))
            || (n.starts_with("Debug: /Stage[main]/Main/File[<dir>/v4]: ") && n.contains("checked"))
        {
            resource.push(n);
        }
    }
    warnings.sort();
    (resource, warnings)
}

/// Name, content, mode and owner of every file in `root`, and the clientbucket's files.
fn state(root: &Path, bucket: &Path) -> Vec<(String, String, u32, u32)> {
    let mut out = Vec::new();
    for name in NAMES
        .iter()
        .map(|n| n.to_string())
        .chain(["g.bak".to_string()])
    {
        if let Ok(m) = std::fs::symlink_metadata(root.join(&name)) {
            let body = std::fs::read_to_string(root.join(&name)).unwrap_or_default();
            out.push((name, body, m.mode() & 0o7777, m.uid()));
        }
    }
    let mut stack = vec![bucket.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(bucket).unwrap().display().to_string();
                let body = std::fs::read_to_string(&p)
                    .unwrap_or_default()
                    .replace(&root.display().to_string(), "<dir>");
                out.push((format!("bucket/{rel}"), body, 0, 0));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_validation_and_bucket_content_as_puppet() {
    if !have_real_puppet("permissions_validation_and_bucket_content_as_puppet") {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() != Ok("1"),
            "root is required (PUPPET_RS_REQUIRE_REAL=1)"
        );
        eprintln!("skipping permissions_validation_and_bucket_content_as_puppet: not root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (real, ours) = (work.path().join("real/t"), work.path().join("ours/t"));
    make_tree(&real);
    make_tree(&ours);

    let (real_lines, report) = real_apply(
        &work.path().join("real/p"),
        &catalog(&real),
        Level::Debug,
        &[],
    );
    let real_bucket = work.path().join("real/p/var/clientbucket");

    let doc = catalog(&ours);
    let catalog = puppet_catalog::Catalog::from_json(doc.to_string().as_bytes()).unwrap();
    let log = Logger::capturing(LogLevel::Debug);
    let mut options = ApplyOptions::new("production");
    let our_bucket = work.path().join("ours/p/var/clientbucket");
    options.file = FileSettings::new(&our_bucket, false);
    let applied = apply(&catalog, &options, &log, None).await.unwrap();

    let (theirs, their_warnings) = interesting(&real_lines, &real);
    let (mine, my_warnings) = interesting(&log.lines(), &ours);
    assert_eq!(mine, theirs, "ours: {mine:#?}\nreal: {theirs:#?}");
    assert_eq!(my_warnings, their_warnings);
    // What Puppet did, for the reader.
    assert!(
        theirs
            .iter()
            .any(|l| l.ends_with("<dir>/exist]/mode: mode changed '0644' to '0600'"))
    );
    assert!(theirs.iter().any(|l| l.starts_with(
        "Error: Execution of '/bin/sh -c 'echo nope; exit 3' <dir>/<tmp>' returned 3: nope"
    )));
    assert!(
        theirs
            .iter()
            .any(|l| l.contains("FileBucket read e2e93857"))
    );
    assert_eq!(their_warnings.len(), 9, "{their_warnings:#?}");

    let statuses = |v: Vec<crate::common::StatusKey>, root: &Path| -> Vec<_> {
        let mut v: Vec<_> = v
            .into_iter()
            .filter(|s| s.0.starts_with("File["))
            .map(|mut s| {
                s.0 = normalize(&s.0, root);
                s
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        statuses(our_statuses(&applied), &ours),
        statuses(report_statuses(&report), &real)
    );
    assert_eq!(state(&ours, &our_bucket), state(&real, &real_bucket));
}

/// A small HTTP/1.1 server on 127.0.0.1 for `http://` sources: `HEAD` and `GET`, one request
/// per connection. Paths: `/md5.txt` (`Content-MD5`), `/sha.txt` (`X-Checksum-Sha256`),
/// `/lm.txt` (`Last-Modified` only), `/nohead.txt` (405 to `HEAD`, `X-Checksum-Md5`), anything
/// else 404. Returns its port.
fn http_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut words = head.split_whitespace();
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let md5 = |b: &[u8]| {
                    use base64ct::Encoding;
                    use md5::Digest;
                    base64ct::Base64::encode_string(&md5::Md5::digest(b))
                };
                let (status, headers, body): (&str, Vec<String>, &[u8]) = match path {
                    "/md5.txt" => (
                        "200 OK",
                        vec![format!("Content-MD5: {}", md5(b"md5 body\n"))],
                        b"md5 body\n",
                    ),
                    "/sha.txt" => {
                        use sha2::Digest;
                        let sum = sha2::Sha256::digest(b"sha body\n");
                        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
                        (
                            "200 OK",
                            vec![format!("X-Checksum-Sha256: {hex}")],
                            b"sha body\n",
                        )
                    }
                    "/lm.txt" => (
                        "200 OK",
                        vec!["Last-Modified: Wed, 02 Dec 2026 10:00:00 GMT".into()],
                        b"lm body\n",
                    ),
                    "/nohead.txt" if method == "HEAD" => ("405 Method Not Allowed", vec![], b""),
                    "/nohead.txt" => (
                        "200 OK",
                        vec!["X-Checksum-Md5: e3b4a535f0b07f1d7643ad1bc893c52c".into()],
                        b"nohead\n",
                    ),
                    _ => ("404 Not Found", vec![], b"not here"),
                };
                let mut out = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for h in headers {
                    out.push_str(&h);
                    out.push_str("\r\n");
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                if method != "HEAD" {
                    bytes.extend_from_slice(body);
                }
                let _ = stream.write_all(&bytes);
            });
        }
    });
    port
}

/// `source => 'http://...'` beside the real Puppet, both against the same local HTTP server:
/// checksums from `Content-MD5`, `X-Checksum-Sha256`, `Last-Modified`; a server refusing
/// `HEAD`; a missing file; a list of sources. Messages, report statuses and trees the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sources_as_puppet() {
    if !have_real_puppet("http_sources_as_puppet") {
        return;
    }
    let port = http_server();
    let base = format!("http://127.0.0.1:{port}");
    let work = tempfile::tempdir().unwrap();
    let (real, ours) = (work.path().join("real/t"), work.path().join("ours/t"));
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    for root in [&real, &ours] {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(root.join("md5-old"), "old\n").unwrap();
        std::fs::write(root.join("lm-old"), "old\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(root.join("lm-old"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::write(root.join("lm-new"), "local\n").unwrap();
    }
    let doc = |root: &Path| {
        let p = |n: &str| root.join(n).display().to_string();
        let list = vec![
            (p("md5"), json!({"source": format!("{base}/md5.txt")})),
            (p("md5-old"), json!({"source": format!("{base}/md5.txt")})),
            (p("sha"), json!({"source": format!("{base}/sha.txt")})),
            (
                p("sha-md5"),
                json!({"source": format!("{base}/sha.txt"), "checksum": "md5"}),
            ),
            (p("lm"), json!({"source": format!("{base}/lm.txt")})),
            (p("lm-old"), json!({"source": format!("{base}/lm.txt")})),
            (p("lm-new"), json!({"source": format!("{base}/lm.txt")})),
            (p("nohead"), json!({"source": format!("{base}/nohead.txt")})),
            (
                p("missing"),
                json!({"source": format!("{base}/missing.txt")}),
            ),
            (
                p("fallback"),
                json!({"source": [format!("{base}/missing.txt"), format!("{base}/sha.txt")]}),
            ),
        ];
        let list: Vec<(&str, &str, Value)> = list
            .iter()
            .map(|(n, v)| ("File", n.as_str(), v.clone()))
            .collect();
        catalog_doc(&list)
    };
    let (real_lines, report) =
        real_apply(&work.path().join("real/p"), &doc(&real), Level::Debug, &[]);

    let catalog = puppet_catalog::Catalog::from_json(doc(&ours).to_string().as_bytes()).unwrap();
    let log = Logger::capturing(LogLevel::Debug);
    let applied = apply(&catalog, &ApplyOptions::new("production"), &log, None)
        .await
        .unwrap();

    let lines = |lines: &[String], root: &Path| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.replace(&root.display().to_string(), "<dir>"))
            .filter(|l| {
                (l.starts_with("Notice: /Stage") || l.starts_with("Error: /Stage"))
                    && l.contains("<dir>")
            })
            .collect()
    };
    let (theirs, mine) = (lines(&real_lines, &real), lines(&log.lines(), &ours));
    assert_eq!(mine, theirs, "ours: {mine:#?}\nreal: {theirs:#?}");
    assert!(
        theirs.iter().any(|l| l
            .ends_with("<dir>/lm]/ensure: defined content as '{mtime}2026-12-02 10:00:00 UTC'")),
        "{theirs:#?}"
    );
    let statuses = |v: Vec<crate::common::StatusKey>, root: &Path| -> Vec<_> {
        let mut v: Vec<_> = v
            .into_iter()
            .filter(|s| s.0.starts_with("File["))
            .map(|mut s| {
                s.0 = s.0.replace(&root.display().to_string(), "<dir>");
                s
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        statuses(our_statuses(&applied), &ours),
        statuses(report_statuses(&report), &real)
    );
    let files = |root: &Path| -> Vec<(String, String)> {
        let mut v: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(&ours), files(&real));
}
