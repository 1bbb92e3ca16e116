//! The on-disk store: private modes, long certnames, temporary files swept.

use std::os::unix::fs::PermissionsExt;

use puppet_master::FsStorage;
use puppet_protocol::server::{CatalogArchive, FactStore};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Regression: a 250-character certname (allowed) gave a 500 because the temporary file's
/// name went over 255 bytes. And what is stored may hold secrets: files 0600, directories
/// 0700.
#[tokio::test]
async fn long_certnames_are_stored_privately() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::new(dir.path());
    let name = format!("{}.example.test", "a".repeat(236));
    assert_eq!(name.len(), 249);
    let facts = puppet_facts::Facts::from_value(
        serde_json::json!({"name": name, "values": {"secret": "s3cret"}}),
    )
    .unwrap();
    store.save_facts(&name, &facts).await.unwrap();
    let catalog = puppet_catalog::CatalogBuilder::new(&name).build().unwrap();
    store
        .save_catalog(&name, &catalog, catalog.to_json().unwrap().as_bytes())
        .await
        .unwrap();
    store.flush().await;
    let facts_file = dir.path().join(format!("facts/{name}.json"));
    let catalog_file = dir.path().join(format!("catalogs/{name}.json"));
    assert_eq!(mode(&facts_file), 0o600);
    assert_eq!(mode(&catalog_file), 0o600);
    assert_eq!(mode(&dir.path().join("facts")), 0o700);
    assert_eq!(mode(&dir.path().join("catalogs")), 0o700);
    assert_eq!(store.facts(&name).await.unwrap(), Some(facts));
}

#[test]
fn temporary_files_of_interrupted_writes_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports/n1.example.test");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join(".tmp-puppet-master-abc123"), "half a report").unwrap();
    std::fs::write(reports.join("20261203T000000.000000000Z-1.json"), "{}").unwrap();
    let store = FsStorage::new(dir.path());
    assert_eq!(store.sweep_temp_files().unwrap(), 1);
    assert_eq!(std::fs::read_dir(&reports).unwrap().count(), 1);
    assert_eq!(store.sweep_temp_files().unwrap(), 0);
}

/// The archived catalog is for other readers: Sensitive values are left out (PuppetDB
/// never receives them either), their names kept.
#[tokio::test]
async fn archived_catalogs_leave_sensitive_values_out() {
    use puppet_catalog::{CatalogBuilder, Declaration};
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::new(dir.path());
    let mut b = CatalogBuilder::new("db1.example.test");
    b.add(
        Declaration::new("file", "/etc/db.key")
            .param("mode", "0600")
            .sensitive_param("content", "s3cret-value"),
    )
    .unwrap();
    let catalog = b.build().unwrap();
    let json = catalog.to_json().unwrap();
    assert!(json.contains("s3cret-value"));
    store
        .save_catalog("db1.example.test", &catalog, json.as_bytes())
        .await
        .unwrap();
    store.flush().await;
    let text = std::fs::read_to_string(dir.path().join("catalogs/db1.example.test.json")).unwrap();
    assert!(!text.contains("s3cret-value"), "{text}");
    let archived = store.last_catalog("db1.example.test").unwrap().unwrap();
    let file = &archived.resources[3];
    assert!(file.is_sensitive("content"));
    assert_eq!(file.parameters.as_ref().unwrap()["mode"], "0600");
    assert!(!file.parameters.as_ref().unwrap().contains_key("content"));
}
