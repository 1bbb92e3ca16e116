//! File sync through real TLS connections: a primary and replicas on loopback
//! ([`TestMaster`] with `file_sync_primary` / `file_sync_replica_of`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use puppet_catalog::Catalog;
use puppet_filesync::{CodeId, Digest};
use puppet_master::testing::{ADMIN_CERTNAME, TestMaster};
use puppet_protocol::ProtocolError;
use puppet_protocol::client::{CatalogOptions, Client, ClientError};
use puppet_protocol::filesync::{Latest, PublishAnswer, PublishStatus};
use puppet_protocol::server::FileSync;

/// Writes version `n` of production into the primary's staging codedir: a data catalog
/// whose Notify names the version and whose File takes its content from a module file
/// holding the same version (written by rename, as a deploy tool does).
fn stage(primary: &TestMaster, n: u32) {
    let env = primary.staging().join("environments/production");
    let files = env.join("modules/m/files");
    std::fs::create_dir_all(&files).unwrap();
    let write = |path: &Path, text: String| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    };
    write(&files.join("f.txt"), format!("version {n}\n"));
    write(
        &env.join("resources.json"),
        format!(
            r#"{{"classes": {{"base": [
                {{"type": "File", "title": "/tmp/fs-test", "parameters": {{"source": "puppet:///modules/m/f.txt"}}}},
                {{"type": "Notify", "title": "version {n}"}}]}},
              "nodes": [{{"certname": "*", "classes": ["base"]}}]}}"#
        ),
    );
}

async fn publish(admin: &Client) -> PublishAnswer {
    admin.file_sync_publish(Some("production")).await.unwrap()
}

fn facts(certname: &str) -> puppet_facts::Facts {
    puppet_facts::Facts::new(certname, serde_json::Map::new())
}

/// The code_id a catalog names and the version its Notify says.
fn version_of(catalog: &Catalog) -> (String, u32) {
    let code_id = catalog
        .code_id
        .as_ref()
        .and_then(|v| v.as_str())
        .expect("every catalog names a code_id")
        .to_string();
    let n = catalog
        .resources
        .iter()
        .find(|r| r.resource_type == "Notify")
        .and_then(|r| r.title.strip_prefix("version "))
        .and_then(|v| v.parse().ok())
        .expect("the Notify names the version");
    (code_id, n)
}

/// The file of the catalog, fetched for the catalog's code_id.
async fn static_file(client: &Client, catalog: &Catalog, code_id: &str) -> Vec<u8> {
    let meta = catalog
        .file_metadata("/tmp/fs-test")
        .unwrap()
        .expect("static metadata is inlined");
    let uri = meta.content_uri.expect("a content_uri");
    client
        .static_file_content("production", code_id, &uri)
        .await
        .unwrap()
}

async fn primary_and_replicas(n: usize) -> (TestMaster, Vec<TestMaster>) {
    let primary = TestMaster::builder()
        .file_sync_primary()
        .start()
        .await
        .unwrap();
    let mut replicas = Vec::new();
    for i in 0..n {
        replicas.push(
            TestMaster::builder()
                .file_sync_replica_of(&primary, &format!("replica{i}.example.test"))
                .start()
                .await
                .unwrap(),
        );
    }
    (primary, replicas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_publishes_under_load_every_catalog_and_file_is_one_version() {
    let (primary, replicas) = primary_and_replicas(2).await;
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    stage(&primary, 0);
    let first = publish(&admin).await;
    assert_eq!(
        first.environments["production"].status,
        PublishStatus::Published
    );

    // Clients hammer the replicas (bounded loops) while versions are published.
    let stop = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, replica) in replicas.iter().enumerate() {
        for j in 0..2 {
            let certname = format!("node{i}{j}.example.test");
            let client = replica.client_for(&certname).unwrap();
            let (stop, checked) = (stop.clone(), checked.clone());
            tasks.push(tokio::spawn(async move {
                let mut last = 0;
                let mut seen = std::collections::HashMap::<String, u32>::new();
                for _ in 0..5_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let catalog = client
                        .catalog(
                            &certname,
                            "production",
                            &facts(&certname),
                            &CatalogOptions::default(),
                        )
                        .await
                        .unwrap();
                    let (code_id, n) = version_of(&catalog);
                    // One code_id is always one version, and versions never go back.
                    assert_eq!(*seen.entry(code_id.clone()).or_insert(n), n, "{code_id}");
                    assert!(n >= last, "version {n} after {last}");
                    last = n;
                    let content = static_file(&client, &catalog, &code_id).await;
                    assert_eq!(content, format!("version {n}\n").into_bytes(), "{code_id}");
                    checked.fetch_add(1, Ordering::Relaxed);
                }
                seen
            }));
        }
    }

    let mut published = vec![first.environments["production"].code_id.clone()];
    let observers: Vec<(Client, String)> = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = format!("observer{i}.example.test");
            (r.client_for(&name).unwrap(), name)
        })
        .collect();
    for n in 1..=20 {
        stage(&primary, n);
        let answer = publish(&admin).await;
        let p = &answer.environments["production"];
        assert_eq!(p.status, PublishStatus::Published, "version {n}");
        // After the publish returns, every replica's next catalog names the new code_id.
        for (client, name) in &observers {
            let catalog = client
                .catalog(name, "production", &facts(name), &CatalogOptions::default())
                .await
                .unwrap();
            assert_eq!(
                version_of(&catalog),
                (p.code_id.clone(), n),
                "replica {name}"
            );
            assert_eq!(
                static_file(client, &catalog, &p.code_id).await,
                format!("version {n}\n").into_bytes()
            );
            // file_content comes from the live version too.
            assert_eq!(
                client
                    .file_content("production", "modules/m/f.txt")
                    .await
                    .unwrap(),
                format!("version {n}\n").into_bytes()
            );
        }
        published.push(p.code_id.clone());
    }
    stop.store(true, Ordering::SeqCst);
    let mut all = std::collections::HashMap::<String, u32>::new();
    for t in tasks {
        for (code_id, n) in t.await.unwrap() {
            assert_eq!(*all.entry(code_id.clone()).or_insert(n), n);
            assert_eq!(published[n as usize], code_id, "version {n}");
        }
    }
    let checked = checked.load(Ordering::Relaxed);
    assert!(checked > 0, "the replicas were hammered");
    eprintln!("20 publishes; {checked} catalogs and their files checked on the replicas meanwhile");
    // An old version's files stay available by code_id (retention keeps them for an hour).
    let (client, _) = &observers[0];
    let old = client
        .static_file_content("production", &published[3], "modules/m/files/f.txt")
        .await
        .unwrap();
    assert_eq!(old, b"version 3\n");
    // Publishing the same tree again changes nothing.
    let again = publish(&admin).await;
    assert_eq!(
        again.environments["production"].status,
        PublishStatus::Unchanged
    );
    assert_eq!(
        &again.environments["production"].code_id,
        published.last().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_by_a_non_admin_is_forbidden_and_changes_nothing() {
    let (primary, replicas) = primary_and_replicas(1).await;
    stage(&primary, 1);
    let v1 = publish(&primary.client_for(ADMIN_CERTNAME).unwrap()).await;
    stage(&primary, 2);
    // Any other certificate of the CA (a node, a replica).
    for who in ["n1.example.test", "replica7.example.test"] {
        let client = primary.client_for(who).unwrap();
        let err = client.file_sync_publish(None).await.unwrap_err();
        assert_eq!(err.status(), Some(403), "{who}: {err}");
        // Puppetserver's text for a request its rules refuse.
        let ClientError::Status { message, .. } = err else {
            panic!("an HTTP status expected");
        };
        assert!(message.contains("Forbidden request"), "{message}");
    }
    let latest: Latest = primary
        .client_for("n2.example.test")
        .unwrap()
        .file_sync_latest()
        .await
        .unwrap();
    assert_eq!(
        latest.environments["production"].code_id,
        v1.environments["production"].code_id
    );
    let r = replicas[0].client_for("n3.example.test").unwrap();
    let catalog = r
        .catalog(
            "n3.example.test",
            "production",
            &facts("n3.example.test"),
            &CatalogOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(version_of(&catalog).1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sync_endpoints_need_a_certificate_and_sane_input() {
    let (primary, _) = primary_and_replicas(0).await;
    stage(&primary, 1);
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    let v1 = publish(&admin).await;
    let code_id = v1.environments["production"].code_id.clone();
    // No certificate: 403 on every file-sync endpoint.
    let anonymous = primary.client(None).unwrap();
    for path in [
        "/file-sync/v1/latest".to_string(),
        format!("/file-sync/v1/manifest/production/{code_id}"),
        format!("/file-sync/v1/blob/{}", Digest::of(b"version 1\n")),
    ] {
        let a = anonymous.request("GET", &path, &[], vec![]).await.unwrap();
        assert_eq!(a.status, 403, "{path}");
    }
    // A body over the endpoint's limit is refused while read: 413.
    let big = vec![b' '; 8 * 1024];
    let a = admin
        .request(
            "POST",
            "/file-sync/v1/publish",
            &[("content-type", "application/json")],
            big,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 413);
    // An environment that is not staged, a bad name, a wrong document.
    let a = admin.file_sync_publish(Some("nosuch")).await.unwrap_err();
    assert_eq!(a.status(), Some(404), "{a}");
    for body in [
        r#"{"environment": "../x"}"#,
        r#"{"env": "production"}"#,
        "nope",
    ] {
        let a = admin
            .request(
                "POST",
                "/file-sync/v1/publish",
                &[("content-type", "application/json")],
                body.as_bytes().to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(
            a.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    let a = admin
        .request("GET", "/file-sync/v1/blob/..%2F..%2Fx", &[], vec![])
        .await
        .unwrap();
    assert_eq!(a.status, 400);
    // A replica's typed calls: the manifest hashes to its code_id, blobs to their digest.
    let client = primary.client_for("replica9.example.test").unwrap();
    let id = CodeId::parse(&code_id).unwrap();
    let manifest = client
        .file_sync_manifest("production", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Digest::of(&manifest).to_string(), code_id);
    let d = Digest::of(b"version 1\n");
    assert_eq!(
        client.file_sync_blob(&d).await.unwrap().unwrap(),
        b"version 1\n"
    );
    assert_eq!(
        client.file_sync_blob(&Digest::of(b"absent")).await.unwrap(),
        None
    );
    let unknown = CodeId::parse(&"0".repeat(64)).unwrap();
    assert_eq!(
        client
            .file_sync_manifest("production", &unknown)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_file_content_serves_retained_versions_and_404s_unknown_ones() {
    let (primary, _) = primary_and_replicas(0).await;
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    stage(&primary, 1);
    let v1 = publish(&admin).await.environments["production"]
        .code_id
        .clone();
    stage(&primary, 2);
    publish(&admin).await;
    let client = primary.client_for("n1.example.test").unwrap();
    let path = "modules/m/files/f.txt";
    assert_eq!(
        client
            .static_file_content("production", &v1, path)
            .await
            .unwrap(),
        b"version 1\n"
    );
    assert_eq!(
        client
            .file_content("production", "modules/m/f.txt")
            .await
            .unwrap(),
        b"version 2\n"
    );
    for unknown in ["0".repeat(64), "urn:puppet:code-id:1".to_string()] {
        let err = client
            .static_file_content("production", &unknown, path)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404), "{err}");
        let ClientError::Status {
            error: Some(body), ..
        } = err
        else {
            panic!("Puppet's error body expected");
        };
        assert_eq!(body.issue_kind, "RESOURCE_NOT_FOUND");
        assert!(body.message.contains(&unknown), "{}", body.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_is_reused_while_the_code_id_is_unchanged() {
    let (primary, replicas) = primary_and_replicas(1).await;
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    stage(&primary, 1);
    publish(&admin).await;
    let replica = &replicas[0];
    let compiler = replica.synced_compiler().unwrap();
    let name = "n1.example.test";
    let client = replica.client_for(name).unwrap();
    let options = CatalogOptions::default();
    let first = client
        .catalog(name, "production", &facts(name), &options)
        .await
        .unwrap();
    assert_eq!(compiler.compiles(), 1);
    // Facts changing does not matter: the catalog is a function of the code.
    let mut changed = facts(name);
    changed
        .values
        .insert("os".into(), serde_json::json!({"family": "Debian"}));
    let second = client
        .catalog(name, "production", &changed, &options)
        .await
        .unwrap();
    assert_eq!(compiler.compiles(), 1, "reused");
    assert_eq!(version_of(&first), version_of(&second));
    // Another node compiles; a new code_id compiles again.
    let other = replica.client_for("n2.example.test").unwrap();
    other
        .catalog(
            "n2.example.test",
            "production",
            &facts("n2.example.test"),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(compiler.compiles(), 2);
    stage(&primary, 2);
    publish(&admin).await;
    let third = client
        .catalog(name, "production", &facts(name), &options)
        .await
        .unwrap();
    assert_eq!(compiler.compiles(), 3);
    assert_eq!(version_of(&third).1, 2);
}

/// A primary whose blobs come out damaged when they hold "version 2".
struct Corrupting(Arc<dyn FileSync>);

#[async_trait]
impl FileSync for Corrupting {
    async fn publish(&self, e: Option<&str>) -> Result<PublishAnswer, ProtocolError> {
        self.0.publish(e).await
    }
    async fn latest(&self) -> Result<Latest, ProtocolError> {
        self.0.latest().await
    }
    async fn manifest(&self, e: &str, c: &CodeId) -> Result<Option<Vec<u8>>, ProtocolError> {
        self.0.manifest(e, c).await
    }
    async fn blob(&self, d: &Digest) -> Result<Option<Vec<u8>>, ProtocolError> {
        Ok(self.0.blob(d).await?.map(|b| {
            if b == b"version 2\n" {
                b"version X\n".to_vec()
            } else {
                b
            }
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_refuses_a_corrupt_blob_and_keeps_serving_the_old_version() {
    let primary = TestMaster::builder()
        .file_sync_primary()
        .services(|s| {
            let inner = s.file_sync.take().unwrap();
            s.file_sync = Some(Arc::new(Corrupting(inner)));
        })
        .start()
        .await
        .unwrap();
    let replica = TestMaster::builder()
        .file_sync_replica_of(&primary, "replica0.example.test")
        .start()
        .await
        .unwrap();
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    stage(&primary, 1);
    let v1 = publish(&admin).await.environments["production"]
        .code_id
        .clone();
    let name = "n1.example.test";
    let client = replica.client_for(name).unwrap();
    let catalog = client
        .catalog(name, "production", &facts(name), &CatalogOptions::default())
        .await
        .unwrap();
    assert_eq!(version_of(&catalog), (v1.clone(), 1));

    stage(&primary, 2);
    let v2 = publish(&admin).await.environments["production"]
        .code_id
        .clone();
    let catalog = client
        .catalog(name, "production", &facts(name), &CatalogOptions::default())
        .await
        .unwrap();
    assert_eq!(
        version_of(&catalog),
        (v1.clone(), 1),
        "the old version stays live"
    );
    let store = replica.code().unwrap().store();
    assert!(
        !store.has_blob(&Digest::of(b"version X\n")),
        "nothing corrupt is stored"
    );
    assert!(!store.has_blob(&Digest::of(b"version 2\n")));
    assert!(
        store
            .version("production", &CodeId::parse(&v2).unwrap())
            .unwrap()
            .is_none()
    );
    let err = client
        .static_file_content("production", &v2, "modules/m/files/f.txt")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        client
            .file_content("production", "modules/m/f.txt")
            .await
            .unwrap(),
        b"version 1\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_primary_is_down_serves_its_newest_version() {
    let (primary, replicas) = primary_and_replicas(1).await;
    stage(&primary, 1);
    let v1 = publish(&primary.client_for(ADMIN_CERTNAME).unwrap())
        .await
        .environments["production"]
        .code_id
        .clone();
    let name = "n1.example.test";
    let client = replicas[0].client_for(name).unwrap();
    let options = CatalogOptions::default();
    client
        .catalog(name, "production", &facts(name), &options)
        .await
        .unwrap();
    primary.shutdown().await;
    for _ in 0..3 {
        let catalog = client
            .catalog(name, "production", &facts(name), &options)
            .await
            .unwrap();
        assert_eq!(version_of(&catalog), (v1.clone(), 1));
        assert_eq!(static_file(&client, &catalog, &v1).await, b"version 1\n");
    }
}

mod confdir {
    use puppet_master::MasterError;
    use puppet_master::confdir::{MasterSetup, PuppetConf};

    fn setup(conf: &str) -> (tempfile::TempDir, Result<MasterSetup, MasterError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("puppet.conf"), conf).unwrap();
        let s = MasterSetup::from_confdir(dir.path());
        (dir, s)
    }

    fn message(r: Result<MasterSetup, MasterError>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn the_file_sync_settings_are_known_settings() {
        let conf = PuppetConf::parse(
            "[server]\nfile_sync = primary\nstaging_codedir = /x\nfile_sync_primary = https://p:8140\n",
        );
        assert_eq!(conf.warnings(), []);
        assert_eq!(conf.server("file_sync"), Some("primary"));
    }

    #[test]
    fn a_primary_from_a_confdir_stages_in_code_staging() {
        let (dir, s) =
            setup("[server]\ncertname = p.example.test\nkeylength = 2048\nfile_sync = primary\n");
        let s = s.unwrap();
        assert!(s.ca.is_some() && s.code.is_some());
        assert!(
            dir.path()
                .join("code-staging/environments/production")
                .is_dir()
        );
        assert_eq!(
            s.code.unwrap().store().root(),
            dir.path().join("data/filesync")
        );
    }

    #[test]
    fn a_wrong_file_sync_value_is_refused_naming_the_setting() {
        let (_dir, s) = setup("[server]\ncertname = p.example.test\nfile_sync = yes\n");
        let m = message(s);
        assert!(m.contains("file_sync") && m.contains("\"yes\""), "{m}");
    }

    #[test]
    fn a_replica_never_creates_a_ca_and_names_what_it_lacks() {
        let (dir, s) = setup(
            "[server]\ncertname = r.example.test\nfile_sync = replica\nfile_sync_primary = https://p.example.test:8140\n",
        );
        let m = message(s);
        assert!(m.contains("ssl/certs/r.example.test.pem"), "{m}");
        assert!(!dir.path().join("ca").exists(), "no CA made");
        assert!(!dir.path().join("ssl/certs/r.example.test.pem").exists());
    }

    #[test]
    fn a_replica_needs_an_https_primary() {
        // A replica's ssldir made with a CA elsewhere.
        let ca_dir = tempfile::tempdir().unwrap();
        let ca = puppet_ca::CertificateAuthority::setup(
            ca_dir.path(),
            puppet_ca::CaSettings {
                key: puppet_ca::KeyType::EcP256,
                ..puppet_ca::CaSettings::new("Puppet CA: p")
            },
        )
        .unwrap();
        for (conf, expect) in [
            ("", "file_sync_primary = https://HOST:PORT"),
            (
                "file_sync_primary = http://p.example.test:8140\n",
                "http://",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let ssl = dir.path().join("ssl");
            let (key, cert) = ca.generate("r.example.test", &[]).unwrap_or_else(|_| {
                ca.clean("r.example.test").unwrap();
                ca.generate("r.example.test", &[]).unwrap()
            });
            ca.save_to_ssldir(&ssl, "r.example.test", &key, &cert)
                .unwrap();
            std::fs::copy(ca_dir.path().join("ca_crl.pem"), ssl.join("crl.pem")).unwrap();
            std::fs::write(
                dir.path().join("puppet.conf"),
                format!("[server]\ncertname = r.example.test\nfile_sync = replica\n{conf}"),
            )
            .unwrap();
            let m = message(MasterSetup::from_confdir(dir.path()));
            assert!(m.contains(expect), "{m}");
        }
    }
}

mod bootstrap {
    use std::time::Duration;

    use puppet_master::confdir::{MasterSetup, bootstrap_replica};
    use puppet_master::testing::{ADMIN_CERTNAME, TestMaster};
    use puppet_protocol::client::CatalogOptions;

    /// A replica confdir holding only the primary's CA certificate.
    fn replica_confdir(primary: &TestMaster) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ssl/certs")).unwrap();
        std::fs::write(dir.path().join("ssl/certs/ca.pem"), primary.ca_pem()).unwrap();
        std::fs::write(
            dir.path().join("puppet.conf"),
            format!(
                "[server]\ncertname = replica5.example.test\ndns_alt_names = replica5.example.test,localhost\n\
                 key_type = ec\nfile_sync = replica\nfile_sync_primary = https://localhost:{}\n",
                primary.addr().port()
            ),
        )
        .unwrap();
        dir
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_without_a_certificate_gets_one_from_the_primarys_ca() {
        let primary = TestMaster::builder()
            .file_sync_primary()
            .ca_settings(|s| {
                // A replica asks for its own names, as a compile master does.
                s.autosign = puppet_ca::Autosign::On;
                s.allow_subject_alt_names = true;
            })
            .start()
            .await
            .unwrap();
        super::stage(&primary, 1);
        super::publish(&primary.client_for(ADMIN_CERTNAME).unwrap()).await;
        let dir = replica_confdir(&primary);
        let got = bootstrap_replica(dir.path(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(got);
        let key = dir
            .path()
            .join("ssl/private_keys/replica5.example.test.pem");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(dir.path().join("ssl/crl.pem").is_file());
        let status = primary
            .ca()
            .status("replica5.example.test")
            .unwrap()
            .unwrap();
        assert!(
            status.dns_alt_names.iter().any(|n| n == "DNS:localhost"),
            "{:?}",
            status.dns_alt_names
        );
        // Has one now: nothing more to do.
        assert!(!bootstrap_replica(dir.path(), Duration::ZERO).await.unwrap());

        let setup = MasterSetup::from_confdir(dir.path()).unwrap();
        assert!(setup.ca.is_none() && !dir.path().join("ca").exists());
        let running = setup
            .master
            .bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = puppet_protocol::client::Client::new(
            running.local_addr(),
            "localhost",
            primary.ca_pem(),
            Some(&primary.identity("n1.example.test").unwrap()),
        )
        .unwrap();
        let catalog = client
            .catalog(
                "n1.example.test",
                "production",
                &super::facts("n1.example.test"),
                &CatalogOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(super::version_of(&catalog).1, 1);
        running.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsigned_replica_request_is_left_pending_with_a_clear_error() {
        let primary = TestMaster::builder()
            .file_sync_primary()
            .ca_settings(|s| s.allow_subject_alt_names = true)
            .start()
            .await
            .unwrap();
        let dir = replica_confdir(&primary);
        let err = bootstrap_replica(dir.path(), Duration::from_millis(600))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("sign it there"), "{err}");
        assert!(
            primary
                .ca()
                .csr_pem("replica5.example.test")
                .unwrap()
                .is_some()
        );
        // Without the CA certificate nothing is trusted on first use.
        std::fs::remove_file(dir.path().join("ssl/certs/ca.pem")).unwrap();
        std::fs::remove_file(
            dir.path()
                .join("ssl/private_keys/replica5.example.test.pem"),
        )
        .unwrap();
        let err = bootstrap_replica(dir.path(), Duration::ZERO)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("ca.pem"), "{err}");
    }
}

mod restart {
    use puppet_master::confdir::MasterSetup;
    use puppet_protocol::client::{CatalogOptions, Client, Identity};

    const NAME: &str = "p.example.test";

    async fn catalog(
        setup: &MasterSetup,
        publish: bool,
    ) -> (
        puppet_catalog::Catalog,
        puppet_protocol::server::RunningMaster,
    ) {
        let running = setup
            .master
            .bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
        let ssl = &setup.ssldir;
        // The master's own certificate: the default admin, and a node as any other.
        let client = Client::new(
            running.local_addr(),
            "localhost",
            &read(ssl.join("../ca/ca_crt.pem")),
            Some(&Identity {
                cert_pem: read(ssl.join(format!("certs/{NAME}.pem"))),
                key_pem: read(ssl.join(format!("private_keys/{NAME}.pem"))),
            }),
        )
        .unwrap();
        if publish {
            client.file_sync_publish(None).await.unwrap();
        }
        let c = client
            .catalog(
                NAME,
                "production",
                &super::facts(NAME),
                &CatalogOptions::default(),
            )
            .await
            .unwrap();
        (c, running)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_catalog_is_reused_across_a_restart_while_the_code_id_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("puppet.conf"),
            format!("[server]\ncertname = {NAME}\nkeylength = 2048\nfile_sync = primary\n"),
        )
        .unwrap();
        let staging = dir.path().join("code-staging");
        let stage = |n: u32| {
            let env = staging.join("environments/production");
            std::fs::create_dir_all(env.join("modules/m/files")).unwrap();
            std::fs::write(env.join("modules/m/files/f.txt"), format!("version {n}\n")).unwrap();
            std::fs::write(
                env.join("resources.json"),
                format!(
                    r#"{{"classes": {{"base": [
                      {{"type": "File", "title": "/tmp/fs-test", "parameters": {{"source": "puppet:///modules/m/f.txt"}}}},
                      {{"type": "Notify", "title": "version {n}"}}]}},
                     "nodes": [{{"certname": "*", "classes": ["base"]}}]}}"#
                ),
            )
            .unwrap();
        };
        stage(1);
        let setup = MasterSetup::from_confdir(dir.path()).unwrap();
        let (first, running) = catalog(&setup, true).await;
        running.shutdown().await;
        setup.storage.flush().await;
        drop(setup);

        let setup = MasterSetup::from_confdir(dir.path()).unwrap();
        let (again, running) = catalog(&setup, false).await;
        assert_eq!(
            again.catalog_uuid, first.catalog_uuid,
            "served again, not compiled"
        );
        assert_eq!(again.code_id, first.code_id);
        running.shutdown().await;

        use std::os::unix::fs::PermissionsExt;
        let kept = dir
            .path()
            .join(format!("data/catalog-reuse/production/{NAME}.json"));
        assert_eq!(
            std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
            0o600
        );

        stage(2);
        let (new, running) = catalog(&setup, true).await;
        assert_ne!(new.catalog_uuid, first.catalog_uuid);
        assert_ne!(new.code_id, first.code_id);
        assert_eq!(super::version_of(&new).1, 2);
        running.shutdown().await;

        // A catalog holding a Sensitive value is never written down: compiled again after a
        // restart.
        let doc = staging.join(format!("environments/production/catalogs/{NAME}.json"));
        std::fs::create_dir_all(doc.parent().unwrap()).unwrap();
        std::fs::write(
            &doc,
            br#"{"name": "x", "edges": [], "resources": [
              {"type": "Notify", "title": "version 3", "sensitive_parameters": ["message"],
               "parameters": {"message": "s3cret"}}]}"#,
        )
        .unwrap();
        let (secret, running) = catalog(&setup, true).await;
        running.shutdown().await;
        setup.storage.flush().await;
        drop(setup);
        let setup = MasterSetup::from_confdir(dir.path()).unwrap();
        let (again, running) = catalog(&setup, false).await;
        assert_eq!(again.code_id, secret.code_id);
        // Compiled again, not read back: the reuse store never holds the value, and the
        // agent gets it. (The catalog_uuid cannot tell: it is derived from the inputs.)
        let notify = again
            .resources
            .iter()
            .find(|r| r.title == "version 3")
            .unwrap();
        assert_eq!(notify.parameter("message").unwrap(), "s3cret");
        let kept = std::fs::read_to_string(&kept).unwrap();
        assert!(!kept.contains("s3cret"), "no Sensitive value on disk");
        running.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_copies_a_many_file_version_whole_over_parallel_connections() {
    let (primary, replicas) = primary_and_replicas(1).await;
    stage(&primary, 1);
    let files = primary
        .staging()
        .join("environments/production/modules/m/files/many");
    std::fs::create_dir_all(&files).unwrap();
    for i in 0..100 {
        std::fs::write(files.join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    let v = publish(&primary.client_for(ADMIN_CERTNAME).unwrap()).await;
    let code_id = v.environments["production"].code_id.clone();
    let client = replicas[0].client_for("n1.example.test").unwrap();
    for i in [0, 37, 99] {
        assert_eq!(
            client
                .static_file_content(
                    "production",
                    &code_id,
                    &format!("modules/m/files/many/f{i}")
                )
                .await
                .unwrap(),
            format!("file {i}\n").into_bytes()
        );
    }
    let store = replicas[0].code().unwrap().store();
    store
        .verify("production", &CodeId::parse(&code_id).unwrap())
        .unwrap();
}

/// Waits (bounded) until `master`'s store has `code_id` live for production, without
/// sending the master any request.
async fn live_without_asking(master: &TestMaster, code_id: &str) -> bool {
    let store = master.code().unwrap().store().clone();
    for _ in 0..500 {
        if store
            .live("production")
            .unwrap()
            .is_some_and(|v| v.code_id.as_str() == code_id)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_learns_of_a_publish_by_long_poll_without_a_request() {
    let (primary, replicas) = primary_and_replicas(1).await;
    let admin = primary.client_for(ADMIN_CERTNAME).unwrap();
    for n in 1..=3 {
        stage(&primary, n);
        let id = publish(&admin).await.environments["production"]
            .code_id
            .clone();
        // Nobody asks the replica anything: its long poll brings the version.
        assert!(
            live_without_asking(&replicas[0], &id).await,
            "version {n} reached the replica by itself"
        );
    }
    // The long poll itself: an unknown tag is answered at once with the code_ids; the
    // current tag is held until the wait runs out; a bad tag or wait is refused.
    let client = primary.client_for("replica7.example.test").unwrap();
    let latest = client
        .file_sync_latest_changed(&"0".repeat(64), std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(latest, client.file_sync_latest().await.unwrap());
    let t = std::time::Instant::now();
    let held = client
        .file_sync_latest_changed(&latest.tag(), std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(held, latest);
    assert!(t.elapsed() >= std::time::Duration::from_millis(900), "held");
    // Held, then answered when a publish changes the code_ids.
    let waiter = {
        let (client, tag) = (client.with_own_connection(), latest.tag());
        tokio::spawn(async move {
            client
                .file_sync_latest_changed(&tag, std::time::Duration::from_secs(30))
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stage(&primary, 4);
    let v4 = publish(&admin).await.environments["production"]
        .code_id
        .clone();
    let woken = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("the long poll answers when the publish happens")
        .unwrap();
    assert_eq!(woken.environments["production"].code_id, v4);
    for (known, wait) in [("xyz", "1"), (&"0".repeat(64)[..], "soon")] {
        let a = client
            .request(
                "GET",
                &format!("/file-sync/v1/latest?known={known}&wait={wait}"),
                &[],
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(a.status, 400, "{known} {wait}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_of_a_replica_is_strictly_consistent_and_serves_retained_versions() {
    let (primary, replicas) = primary_and_replicas(1).await;
    let middle = &replicas[0];
    let leaf = TestMaster::builder()
        .file_sync_replica_of(middle, "leaf.example.test")
        .start()
        .await
        .unwrap();
    let admin_identity = primary.identity(ADMIN_CERTNAME).unwrap();
    let admin = primary.client(Some(&admin_identity)).unwrap();
    let node = leaf.client_for("n1.example.test").unwrap();
    let catalog = |n: &'static str| {
        let node = node.clone();
        async move {
            node.catalog(n, "production", &facts(n), &CatalogOptions::default())
                .await
                .unwrap()
        }
    };
    stage(&primary, 1);
    let v1 = publish(&admin).await.environments["production"]
        .code_id
        .clone();
    // The leaf's first request after the publish returned: the new version, through the
    // middle replica.
    let c1 = catalog("n1.example.test").await;
    assert_eq!(version_of(&c1), (v1.clone(), 1));
    // An agent mid-run: it got its catalog for v1, then v2 is published.
    for n in 2..=4 {
        stage(&primary, n);
        let id = publish(&admin).await.environments["production"]
            .code_id
            .clone();
        let c = catalog("n1.example.test").await;
        assert_eq!(version_of(&c), (id.clone(), n), "version {n} at the leaf");
        assert_eq!(
            node.file_content("production", "modules/m/f.txt")
                .await
                .unwrap(),
            format!("version {n}\n").into_bytes()
        );
    }
    // ...still gets its catalog's files, from the leaf and from the middle replica.
    assert_eq!(static_file(&node, &c1, &v1).await, b"version 1\n");
    let other = middle.client_for("n2.example.test").unwrap();
    assert_eq!(static_file(&other, &c1, &v1).await, b"version 1\n");
    // The leaf holds every version it served, whole.
    let store = leaf.code().unwrap().store();
    for id in store.versions("production").unwrap() {
        store.verify("production", &id).unwrap();
    }
    assert_eq!(store.versions("production").unwrap().len(), 4);
    // Publishing is the primary's: a replica answers 404 and changes nothing.
    let admin_at_middle = middle.client(Some(&admin_identity)).unwrap();
    let err = admin_at_middle
        .file_sync_publish(Some("production"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    // A replica's endpoints need a certificate too.
    let anonymous = middle.client(None).unwrap();
    let a = anonymous
        .request("GET", "/file-sync/v1/latest", &[], vec![])
        .await
        .unwrap();
    assert_eq!(a.status, 403);
    // The primary down: the chain keeps serving its newest version.
    let last = store.live("production").unwrap().unwrap().code_id;
    primary.shutdown().await;
    let c = catalog("n1.example.test").await;
    assert_eq!(version_of(&c).0, last.as_str());
}

/// Loopback addresses free a moment ago, for masters not started yet (each replica of a ring
/// needs its primary's address before that one starts).
fn free_addrs(n: usize) -> Vec<std::net::SocketAddr> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter().map(|l| l.local_addr().unwrap()).collect()
}

/// `n` replicas, each the primary of the one before (the last's primary is the first), with
/// certificates of another master's CA.
async fn ring_of_replicas(n: usize) -> (TestMaster, Vec<TestMaster>) {
    let ca = TestMaster::builder()
        .file_sync_primary()
        .start()
        .await
        .unwrap();
    let addrs = free_addrs(n);
    let mut ring = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        ring.push(
            TestMaster::builder()
                .file_sync_replica_at(&ca, &format!("ring{i}.example.test"), addrs[(i + 1) % n])
                .listen_on(*addr)
                .start()
                .await
                .unwrap(),
        );
    }
    (ca, ring)
}

/// Every member of a ring refuses `latest` with a 508 and Puppet's JSON error body naming
/// the loop (through each member), at once rather than after a timeout; and each member's
/// own check met the loop (what it logs as an error).
async fn a_ring_is_refused(n: usize) {
    let (_ca, ring) = ring_of_replicas(n).await;
    let ids: Vec<String> = ring
        .iter()
        .map(|m| m.code().unwrap().id().unwrap().to_string())
        .collect();
    for (i, member) in ring.iter().enumerate() {
        let node = member.client_for(&format!("node{i}.example.test")).unwrap();
        let started = std::time::Instant::now();
        // Bounded: a loop that hung would fail here, not stall the test run.
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                let a = node
                    .request("GET", "/file-sync/v1/latest", &[], vec![])
                    .await
                    .unwrap();
                // Until the whole ring is up (a member whose primary did not answer yet
                // serves its local versions for a second).
                if a.status != 200 {
                    return a;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the loop is refused, not left going round");
        let body = String::from_utf8_lossy(&answer.body).to_string();
        assert_eq!(answer.status, 508, "ring{i}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["issue_kind"], "RUNTIME_ERROR", "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with("File sync loop: "), "{message}");
        for id in &ids {
            assert!(message.contains(id.as_str()), "{id} not in {message}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "ring{i} took {:?}",
            started.elapsed()
        );
    }
    for (i, member) in ring.iter().enumerate() {
        let problem = member.code().unwrap().problem();
        assert!(
            problem
                .as_deref()
                .is_some_and(|p| p.starts_with("File sync loop: ")),
            "ring{i}: {problem:?}"
        );
    }
    // A chain header that names the asked replica is refused without asking anyone.
    let node = ring[0].client_for("asker.example.test").unwrap();
    let a = node
        .request(
            "GET",
            "/file-sync/v1/latest",
            &[("x-puppet-file-sync-chain", &format!("other/1, {}", ids[0]))],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(a.status, 508);
    // A chain header that is not one is a 400.
    for bad in ["a b", "a,,b", &vec!["r"; 33].join(",")] {
        let a = node
            .request(
                "GET",
                "/file-sync/v1/latest",
                &[("x-puppet-file-sync-chain", bad)],
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(a.status, 400, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_that_are_each_others_primary_refuse_the_loop() {
    a_ring_is_refused(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ring_of_three_replicas_refuses_the_loop() {
    a_ring_is_refused(3).await;
}
