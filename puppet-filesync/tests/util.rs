//! Helpers: staging trees on disk.

use std::path::Path;

use puppet_filesync::{PublishOptions, Store};

/// Writes `files` (path, content) under `root`, creating parents.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
}

/// A module tree of `n` files all holding `tag`.
pub fn versioned_tree(root: &Path, n: usize, tag: &str) {
    for i in 0..n {
        let path = root.join(format!("modules/m{}/files/f{i}.txt", i % 4));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{tag}\n")).unwrap();
    }
}

/// Options that trust a stat taken a moment ago (tests write files just before publishing).
pub fn no_racy_window() -> PublishOptions {
    PublishOptions::default().racy_window(std::time::Duration::ZERO)
}

/// A fresh store in a temp dir.
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}
