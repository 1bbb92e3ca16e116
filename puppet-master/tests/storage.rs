//! The on-disk store: private modes, long certnames, temporary files swept.

use std::os::unix::fs::PermissionsExt;

use puppet_master::FsStorage;
use puppet_protocol::server::{CatalogArchive, FactStore, ReportSink};

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

/// The archived catalog is for other readers: Sensitive values are left out, as PuppetDB
/// receives them (`Catalog::redacted`).
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
    assert_eq!(file.parameters.as_ref().unwrap()["mode"], "0600");
    assert!(!file.parameters.as_ref().unwrap().contains_key("content"));
}

/// Stored reports are for other readers too: an event marked `redacted` keeps no value, and
/// the log line that repeats its message is redacted with it.
#[tokio::test]
async fn stored_reports_keep_no_redacted_value() {
    use puppet_report::{Event, EventStatus, Log, LogLevel, ReportBuilder, ResourceStatus};
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::new(dir.path());
    let mut status = ResourceStatus::new("notify", "db");
    let mut event = Event::new(EventStatus::Success)
        .with_property("message")
        .with_values("absent", "hunter2")
        .with_message("defined 'message' as 'hunter2'");
    event.redacted = Some(true);
    status.add_event(event);
    let mut builder = ReportBuilder::new("db1.example.test", "production");
    builder.add_resource_status(status).add_log(Log::new(
        LogLevel::Notice,
        "defined 'message' as 'hunter2'",
        "/Stage[main]/Main/Notify[db]/message",
    ));
    let report = builder.finish();
    let raw = report.to_json().unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("hunter2"));
    store
        .store_report("db1.example.test", &report, &raw)
        .await
        .unwrap();
    let dir = dir.path().join("reports/db1.example.test");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert_eq!(mode(&file), 0o600);
}
