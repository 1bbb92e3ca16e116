//! Retention: keep N, minimum age, live always kept, blobs collected.

use std::time::Duration;

use puppet_filesync::{Digest, Error, Retention};

use crate::util::{store, write_tree};

#[test]
fn keeps_newest_and_live_and_collects_blobs() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for i in 0..6 {
        write_tree(
            st.path(),
            &[("common", "shared\n"), ("v", &format!("{i}\n"))],
        );
        ids.push(s.publish("production", st.path()).unwrap().code_id);
    }
    // Nothing is old enough under the default policy.
    let r = s.retain(&Retention::default()).unwrap();
    assert!(r.removed_versions.is_empty());
    assert_eq!(s.versions("production").unwrap().len(), 6);

    let r = s.retain(&Retention::new(3, Duration::ZERO)).unwrap();
    let removed: Vec<_> = r.removed_versions.iter().map(|(_, c)| c.clone()).collect();
    let mut expect = ids[..3].to_vec();
    expect.sort();
    let mut removed_sorted = removed.clone();
    removed_sorted.sort();
    assert_eq!(removed_sorted, expect);
    assert_eq!(r.removed_blobs, 3);
    assert!(!s.has_blob(&Digest::of(b"0\n")));
    assert!(s.has_blob(&Digest::of(b"shared\n")));
    assert!(matches!(
        s.content("production", &ids[0], "v"),
        Err(Error::UnknownVersion { .. })
    ));
    assert_eq!(s.content("production", &ids[5], "v").unwrap(), b"5\n");

    // keep 0 still keeps the live version.
    s.retain(&Retention::new(0, Duration::ZERO)).unwrap();
    assert_eq!(s.versions("production").unwrap(), [ids[5].clone()]);
    s.verify("production", &ids[5]).unwrap();

    // After collection, republishing an old tree stores its blob again.
    write_tree(st.path(), &[("v", "0\n")]);
    let again = s.publish("production", st.path()).unwrap();
    assert_eq!(again.code_id, ids[0]);
    s.verify("production", &ids[0]).unwrap();
}
