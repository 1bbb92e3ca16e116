//! The master sends a node's last catalog again, from its cache of encoded bodies, while the
//! compiler's cache key stays the same: the bytes are those of an uncached compile, and
//! changed facts (those the data refers to), a changed data file, a changed catalog document
//! or module files inlined in a static catalog all give a freshly compiled catalog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use puppet_catalog::Catalog;
use puppet_facts::Facts;
use puppet_master::testing::TestMaster;
use puppet_protocol::ProtocolError;
use puppet_protocol::client::Connection;
use puppet_protocol::form::CatalogRequest;
use puppet_protocol::server::{CatalogCompiler, CompileRequest, NodeInfo};
use serde_json::json;

const NODE: &str = "cache1.example.test";

/// The master's own compiler, counting its compiles, remembering the last request, and
/// passing its cache key on.
struct Counting {
    inner: Arc<dyn CatalogCompiler>,
    compiles: AtomicUsize,
    last: Mutex<Option<CompileRequest>>,
}

#[async_trait]
impl CatalogCompiler for Counting {
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError> {
        self.compiles.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(request.clone());
        self.inner.compile(request).await
    }
    async fn cache_key(&self, request: &CompileRequest) -> Option<String> {
        self.inner.cache_key(request).await
    }
}

async fn master() -> (TestMaster, Arc<Counting>) {
    let slot: Arc<Mutex<Option<Arc<Counting>>>> = Arc::default();
    let s = slot.clone();
    let master = TestMaster::builder()
        .services(move |services| {
            let counting = Arc::new(Counting {
                inner: services.compiler.clone(),
                compiles: AtomicUsize::new(0),
                last: Mutex::new(None),
            });
            *s.lock().unwrap() = Some(counting.clone());
            services.compiler = counting;
        })
        .start()
        .await
        .unwrap();
    let counting = slot.lock().unwrap().take().unwrap();
    (master, counting)
}

fn facts(family: &str, uptime: u64) -> Facts {
    Facts::from_value(json!({
        "name": NODE,
        "values": {"os": {"family": family}, "role": "web", "uptime_seconds": uptime}
    }))
    .unwrap()
}

/// The catalog POST as the agent sends it; the body as sent (gzip undone) and whether it
/// came gzipped.
async fn post(conn: &mut Connection, facts: &Facts, static_catalog: bool) -> (Vec<u8>, bool) {
    let form = CatalogRequest {
        facts: Some(serde_json::to_value(facts).unwrap()),
        environment: Some("production".into()),
        configured_environment: Some("production".into()),
        transaction_uuid: Some("4b8c1a52-5d1e-4c8e-9a39-0d2f6f1e7a10".into()),
        job_uuid: None,
        check_environment: false,
        static_catalog,
        checksum_types: vec!["sha256".into()],
    }
    .to_form()
    .unwrap();
    let a = conn
        .request(
            "POST",
            &format!("/puppet/v3/catalog/{NODE}?environment=production"),
            Some("application/x-www-form-urlencoded"),
            form.into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    (a.body, a.gzipped)
}

/// What an uncached compile of the master's last request gives, encoded as the master
/// encodes it.
async fn uncached(c: &Counting, static_catalog: bool) -> Vec<u8> {
    let req = c.last.lock().unwrap().clone().unwrap();
    let mut catalog = c.inner.compile(&req).await.unwrap();
    if !static_catalog {
        catalog.metadata = None;
        catalog.recursive_metadata = None;
    }
    serde_json::to_vec(&catalog).unwrap()
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Replaced by rename, as an editor or a deployment does: a new inode.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The titles of the catalog's `Notify` resources.
fn titles(body: &[u8]) -> Vec<String> {
    Catalog::from_json(body)
        .unwrap()
        .resources
        .iter()
        .filter(|r| r.resource_type == "Notify")
        .map(|r| r.title.clone())
        .collect()
}

const DATA_V1: &str = r#"{
  "classes": {
    "motd": [{"type": "Notify", "title": "motd on ${facts.os.family}"}],
    "web": [{"type": "Notify", "title": "web v1"}]
  },
  "nodes": [
    {"certname": "*", "classes": ["motd"]},
    {"facts": {"role": "web"}, "classes": ["web"]}
  ]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_catalog_is_the_uncached_bytes_and_changes_give_a_fresh_one() {
    let (f, c) = master().await;
    let data = f.environments().join("production/resources.json");
    write(&data, DATA_V1);
    let mut conn = f.client_for(NODE).unwrap().connect().await.unwrap();

    // Compiled once, then sent again from the cache: the same bytes, gzipped as before.
    let (first, gz1) = post(&mut conn, &facts("Debian", 10), false).await;
    assert_eq!(c.compiles.load(Ordering::SeqCst), 1);
    let (second, gz2) = post(&mut conn, &facts("Debian", 10), false).await;
    assert_eq!(
        c.compiles.load(Ordering::SeqCst),
        1,
        "served from the cache"
    );
    assert!(gz1 && gz2);
    assert_eq!(first, second);
    assert_eq!(
        first,
        uncached(&c, false).await,
        "the bytes of an uncached compile"
    );
    assert_eq!(titles(&first), ["motd on Debian", "web v1"]);
    // Without gzip, the same document.
    let plain = conn
        .request_with(
            "GET",
            &format!("/puppet/v3/catalog/{NODE}?environment=production"),
            &[("accept-encoding", "")],
            vec![],
        )
        .await
        .unwrap();
    assert!(!plain.gzipped);

    // A fact the data does not refer to: the same catalog (and still the uncached bytes).
    let (other_uptime, _) = post(&mut conn, &facts("Debian", 99), false).await;
    assert_eq!(other_uptime, first);
    assert_eq!(other_uptime, uncached(&c, false).await);

    // A fact the data interpolates: compiled again, with the new value.
    let before = c.compiles.load(Ordering::SeqCst);
    let (redhat, _) = post(&mut conn, &facts("RedHat", 99), false).await;
    assert_eq!(c.compiles.load(Ordering::SeqCst), before + 1);
    assert_eq!(titles(&redhat), ["motd on RedHat", "web v1"]);
    assert_ne!(
        Catalog::from_json(&redhat).unwrap().catalog_uuid,
        Catalog::from_json(&first).unwrap().catalog_uuid
    );
    let (again, _) = post(&mut conn, &facts("RedHat", 99), false).await;
    assert_eq!(again, redhat);
    assert_eq!(c.compiles.load(Ordering::SeqCst), before + 1);

    // A fact a node rule matches on: the rule no longer applies.
    let mut db = facts("RedHat", 99);
    db.values.insert("role".into(), json!("db"));
    let (no_web, _) = post(&mut conn, &db, false).await;
    assert_eq!(titles(&no_web), ["motd on RedHat"]);

    // Static or not: two different documents, each cached under its own key.
    let (static_one, _) = post(&mut conn, &facts("RedHat", 99), true).await;
    assert_eq!(static_one, uncached(&c, true).await);
    assert_ne!(static_one, redhat);

    // The data file changes: a fresh catalog, the new code_id.
    write(&data, &DATA_V1.replace("web v1", "web v2"));
    let (v2, _) = post(&mut conn, &facts("RedHat", 99), false).await;
    assert_eq!(titles(&v2), ["motd on RedHat", "web v2"]);
    let code_id = |b: &[u8]| Catalog::from_json(b).unwrap().code_id;
    assert_ne!(code_id(&v2), code_id(&redhat));
    assert_eq!(v2, uncached(&c, false).await);

    // A complete catalog document for the node takes over, and its changes are seen.
    let doc = f
        .environments()
        .join(format!("production/catalogs/{NODE}.json"));
    let document = |title: &str| {
        json!({"tags": ["settings"], "name": NODE, "version": 1_700_000_000,
            "catalog_format": 2, "environment": "production",
            "resources": [{"type": "Notify", "title": title, "tags": ["notify"], "exported": false}],
            "edges": [], "classes": ["settings"]})
        .to_string()
    };
    write(&doc, &document("from the document"));
    let (d1, _) = post(&mut conn, &facts("RedHat", 99), false).await;
    assert_eq!(titles(&d1), ["from the document"]);
    let (d1_again, _) = post(&mut conn, &facts("Debian", 5), false).await;
    assert_eq!(d1_again, d1, "a document does not depend on facts");
    write(&doc, &document("document v2"));
    let (d2, _) = post(&mut conn, &facts("Debian", 5), false).await;
    assert_eq!(titles(&d2), ["document v2"]);
    assert_eq!(d2, uncached(&c, false).await);

    // The document goes: back to the data file.
    std::fs::remove_file(&doc).unwrap();
    let (back, _) = post(&mut conn, &facts("Debian", 5), false).await;
    assert_eq!(titles(&back), ["motd on Debian", "web v2"]);
    f.shutdown().await;
}

/// A static catalog inlines module files' metadata: it depends on those files, so it is
/// compiled for every request and a changed file is seen at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_catalog_with_sources_follows_module_files() {
    let (f, c) = master().await;
    let module_file = f.environments().join("production/modules/m/files/a.txt");
    write(&module_file, "alpha\n");
    write(
        &f.environments().join("production/resources.json"),
        r#"{"classes": {"c": [{"type": "File", "title": "/tmp/a",
            "parameters": {"source": "puppet:///modules/m/a.txt"}}]},
            "nodes": [{"classes": ["c"]}]}"#,
    );
    let req = CompileRequest {
        certname: NODE.into(),
        environment: "production".into(),
        facts: None,
        node: NodeInfo::default(),
        transaction_uuid: None,
        static_catalog: true,
        checksum_types: vec![],
    };
    assert_eq!(
        c.cache_key(&req).await,
        None,
        "no key: depends on module files"
    );
    let mut conn = f.client_for(NODE).unwrap().connect().await.unwrap();
    let checksum = |b: &[u8]| {
        Catalog::from_json(b).unwrap().metadata.unwrap()["/tmp/a"]["checksum"]["value"].clone()
    };
    let (one, _) = post(&mut conn, &facts("Debian", 1), true).await;
    write(&module_file, "beta\n");
    let (two, _) = post(&mut conn, &facts("Debian", 1), true).await;
    assert_eq!(c.compiles.load(Ordering::SeqCst), 2);
    assert_ne!(checksum(&one), checksum(&two));
    assert!(
        checksum(&two)
            .as_str()
            .unwrap()
            .ends_with(&puppet_protocol::files::digest(b"beta\n", "sha256"))
    );
    // Not static: no metadata inlined, so the catalog is cached again.
    let _ = post(&mut conn, &facts("Debian", 1), false).await;
    let _ = post(&mut conn, &facts("Debian", 1), false).await;
    assert_eq!(c.compiles.load(Ordering::SeqCst), 3);
    f.shutdown().await;
}
