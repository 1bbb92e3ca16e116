//! The data compiler caches parsed complete catalogs (`catalogs/<certname>.json`) and must see
//! a changed file on the next request; the store skips rewriting an identical last catalog.
use std::path::Path;
use std::time::{Duration, SystemTime};

use puppet_master::{DataCompiler, FsStorage};
use puppet_protocol::server::{CatalogArchive, CatalogCompiler, CompileRequest, NodeInfo};
use serde_json::json;

const NODE: &str = "n1.example.test";

fn request() -> CompileRequest {
    CompileRequest {
        certname: NODE.into(),
        environment: "production".into(),
        facts: None,
        node: NodeInfo::default(),
        transaction_uuid: None,
        static_catalog: true,
        checksum_types: vec![],
    }
}

fn catalog_doc(title: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "tags": ["settings"], "name": NODE, "version": 1_700_000_000,
        "catalog_format": 2, "environment": "production",
        "resources": [{"type": "Notify", "title": title, "tags": ["notify"], "exported": false}],
        "edges": [], "classes": ["settings"]
    }))
    .unwrap()
}

/// Writes `bytes` in place (same inode) and stamps the file with `mtime`.
fn write_in_place(path: &Path, bytes: &[u8], mtime: SystemTime) {
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(mtime).unwrap();
}

fn titles(c: &puppet_catalog::Catalog) -> Vec<String> {
    c.resources.iter().map(|r| r.title.clone()).collect()
}

#[tokio::test]
async fn changed_catalog_file_is_seen_on_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let cats = dir.path().join("production/catalogs");
    std::fs::create_dir_all(&cats).unwrap();
    let doc = cats.join(format!("{NODE}.json"));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    // Same length for both documents, so only the mtime (and content) tells them apart.
    write_in_place(&doc, &catalog_doc("first"), t0);
    let compiler = DataCompiler::new(dir.path());

    let a = compiler.compile(&request()).await.unwrap();
    let b = compiler.compile(&request()).await.unwrap();
    assert_eq!(titles(&a), ["first"]);
    assert_eq!(titles(&b), ["first"]);
    assert_eq!(a.code_id, b.code_id, "unchanged file keeps its code_id");
    assert_eq!(
        a.catalog_uuid, b.catalog_uuid,
        "the same inputs give the same catalog, uuid included (it is derived from them)"
    );
    assert_eq!(b.name, NODE);
    assert_eq!(b.environment.as_deref(), Some("production"));

    write_in_place(&doc, &catalog_doc("other"), t0 + Duration::from_secs(5));
    let c = compiler.compile(&request()).await.unwrap();
    assert_eq!(titles(&c), ["other"]);
    assert_ne!(c.code_id, a.code_id, "new content, new code_id");
    assert!(
        c.code_id
            .as_ref()
            .and_then(|v| v.as_str())
            .is_some_and(|s| s.starts_with("sha256:"))
    );

    // Replaced by rename (new inode), back to the first content: the first code_id again.
    let tmp = cats.join("tmp.json");
    write_in_place(&tmp, &catalog_doc("first"), t0 + Duration::from_secs(5));
    std::fs::rename(&tmp, &doc).unwrap();
    let d = compiler.compile(&request()).await.unwrap();
    assert_eq!(titles(&d), ["first"]);
    assert_eq!(d.code_id, a.code_id);

    // A broken file is an error naming the file, not a stale cached catalog.
    write_in_place(&doc, b"{\"name\": 1", t0 + Duration::from_secs(9));
    let err = compiler.compile(&request()).await.unwrap_err();
    assert!(err.to_string().contains(&format!("{NODE}.json")), "{err}");

    // Removed: falls back to resources.json, which is missing here: not found.
    std::fs::remove_file(&doc).unwrap();
    assert!(compiler.compile(&request()).await.is_err());
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[tokio::test]
async fn identical_last_catalog_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::new(dir.path());
    let path = dir.path().join("catalogs").join(format!("{NODE}.json"));
    let cat = puppet_catalog::Catalog::from_json(&catalog_doc("first")).unwrap();
    let first = catalog_doc("first");

    store.save_catalog(NODE, &cat, &first).await.unwrap();
    store.flush().await;
    assert_eq!(std::fs::read(&path).unwrap(), first);
    let ino = inode(&path);

    // Same bytes: no new file (writes go through a temp file and rename, so a write would
    // change the inode).
    store.save_catalog(NODE, &cat, &first).await.unwrap();
    store.flush().await;
    assert_eq!(inode(&path), ino);
    assert_eq!(std::fs::read(&path).unwrap(), first);

    // Different bytes: written.
    let second = catalog_doc("other");
    store.save_catalog(NODE, &cat, &second).await.unwrap();
    store.flush().await;
    assert_eq!(std::fs::read(&path).unwrap(), second);
    assert_ne!(inode(&path), ino);

    // The file removed behind the store's back: the same bytes are written again.
    std::fs::remove_file(&path).unwrap();
    store.save_catalog(NODE, &cat, &second).await.unwrap();
    store.flush().await;
    assert_eq!(std::fs::read(&path).unwrap(), second);
}
