//! `last_run_summary.yaml` on disk: whole, replaced atomically, mode 0640, typed errors.

use puppet_report::{ReportBuilder, ReportError, SummaryOptions};

#[test]
fn the_summary_file_is_replaced_whole_with_puppets_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("last_run_summary.yaml");
    std::fs::write(&path, "old contents that are longer than nothing\n").expect("seed");
    let report = ReportBuilder::new("a.example.test", "production").finish();
    let options = SummaryOptions::agent(1795369576);
    report
        .write_last_run_summary(&path, &options)
        .expect("write");
    let written = std::fs::read_to_string(&path).expect("read");
    assert_eq!(written, report.last_run_summary_yaml(&options));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["last_run_summary.yaml"]);
}

#[test]
fn a_missing_directory_is_a_typed_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent").join("last_run_summary.yaml");
    let report = ReportBuilder::new("a.example.test", "production").finish();
    match report.write_last_run_summary(&path, &SummaryOptions::agent(0)) {
        Err(ReportError::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
