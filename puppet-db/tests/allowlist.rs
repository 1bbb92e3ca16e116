//! PuppetDB's `certificate-allowlist` over real mTLS: two client certificates of the same
//! CA, one listed and one not; the other is refused on every `/pdb/` endpoint with
//! PuppetDB's 403 text, and nothing it sends is stored.

use std::sync::Arc;

use puppet_db::config::Settings;
use puppet_db::server::{Api, CertificateAllowlist};
use puppet_protocol::client::{ClientError, PdbCommand};
use puppet_protocol::server::Limits;
use puppet_protocol::server::generic::GenericServer;
use serde_json::json;

use crate::common::*;

const ALLOWED: &str = "puppet.example.test";
const OTHER: &str = "agent1.example.test";

#[test]
fn only_listed_certnames_may_use_the_api() {
    let pki = Pki::new();
    let dir = &pki.dir;
    let (allowed, other) = (pki.identity(ALLOWED), pki.identity(OTHER));

    // As PuppetDB reads it: `[puppetdb] certificate-allowlist` in config.ini.
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).expect("conf.d");
    let list = conf.join("certificate-allowlist");
    std::fs::write(&list, format!("# who may use PuppetDB\n{ALLOWED}\n\n")).expect("list");
    std::fs::write(
        conf.join("config.ini"),
        format!("[puppetdb]\ncertificate-allowlist = {}\n", list.display()),
    )
    .expect("config.ini");
    let from_conf = Settings::from_conf_dir(&conf).expect("settings");
    assert_eq!(
        from_conf.certificate_allowlist.as_deref(),
        Some(list.as_path())
    );
    let allowlist = CertificateAllowlist::read(&list).expect("read the allowlist");
    assert_eq!(allowlist.len(), 1);

    let d = db(Backend::Sqlite);
    let api = Api::new(d.db.clone()).with_certificate_allowlist(allowlist);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let running = GenericServer::new(pki.server_tls(), Arc::new(api), Limits::default())
            .bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let client = |id| pki.client(running.local_addr(), id).build().expect("client");
        let (ok, refused) = (client(&allowed), client(&other));
        let facts = doc(FACTS, "web1.example.test");
        let command = |payload| PdbCommand {
            command: "replace facts",
            version: 5,
            certname: "web1.example.test",
            producer_timestamp: "2026-12-03T02:44:17.701Z",
            payload,
        };

        // The listed certname: commands and queries.
        let uuid = ok.pdb_command(&command(&facts)).await.expect("command");
        assert_eq!(uuid.len(), 36, "{uuid}");
        let answer = ok
            .request("GET", "/pdb/query/v4/nodes", &[], Vec::new())
            .await
            .expect("query");
        assert_eq!(answer.status, 200);
        let nodes: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        assert_eq!(nodes[0]["certname"], "web1.example.test");

        // The other: 403 with PuppetDB's text on queries, commands and metadata.
        let text = format!(
            "Permission denied: The client certificate name {OTHER} doesn't appear in the certificate allowlist. Is your master's (or other PuppetDB client's) certname listed in PuppetDB's certificate-allowlist file?"
        );
        for path in ["/pdb/query/v4/nodes", "/pdb/query/v4?query=nodes%20%7B%7D", "/pdb/meta/v1/version"] {
            let answer = refused
                .request("GET", path, &[], Vec::new())
                .await
                .expect("request");
            assert_eq!(answer.status, 403, "{path}");
            assert_eq!(String::from_utf8_lossy(&answer.body), text, "{path}");
        }
        let mut other_facts = doc(FACTS, "intruder.example.test");
        other_facts["values"]["kernel"] = json!("Intruder");
        let err = refused
            .pdb_command(&PdbCommand {
                certname: "intruder.example.test",
                ..command(&other_facts)
            })
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, ClientError::Status { status: 403, message, .. } if *message == text),
            "{err}"
        );
        // Status stays open, as PuppetDB's status service is not behind the allowlist.
        let status = refused
            .request("GET", "/status/v1/services/puppetdb-status", &[], Vec::new())
            .await
            .expect("status");
        assert_eq!(status.status, 200);
        running.shutdown().await;
    });
    assert_eq!(certnames(&q(&d.db, "nodes", "")), ["web1.example.test"]);
}
