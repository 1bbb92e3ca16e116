//! A replica copying versions from a primary: manifests and blobs are checked.

use puppet_filesync::{CodeId, Digest, Error, Manifest, Status};

use crate::util::{store, versioned_tree, write_tree};

fn sync(
    primary: &puppet_filesync::Store,
    replica: &puppet_filesync::Store,
    code_id: &CodeId,
) -> puppet_filesync::Published {
    let bytes = primary
        .manifest_bytes("production", code_id)
        .unwrap()
        .unwrap();
    let m = Manifest::parse(&bytes).unwrap();
    for d in replica.missing_blobs(&m) {
        let path = primary.blob_path(&d).unwrap();
        replica
            .put_blob(&d, std::fs::File::open(path).unwrap())
            .unwrap();
    }
    replica.install("production", &bytes, code_id).unwrap()
}

#[test]
fn replica_installs_what_the_primary_published() {
    let (_a, primary) = store();
    let (_b, replica) = store();
    let st = tempfile::tempdir().unwrap();
    versioned_tree(st.path(), 10, "one");
    let v1 = primary.publish("production", st.path()).unwrap().code_id;
    let p = sync(&primary, &replica, &v1);
    assert_eq!((p.status, p.stats.files), (Status::Published, 10));
    assert_eq!(replica.live("production").unwrap().unwrap().code_id, v1);
    replica.verify("production", &v1).unwrap();
    assert_eq!(sync(&primary, &replica, &v1).status, Status::Unchanged);

    write_tree(st.path(), &[("modules/m0/files/f0.txt", "two\n")]);
    let v2 = primary.publish("production", st.path()).unwrap().code_id;
    let m2 = Manifest::parse(&primary.manifest_bytes("production", &v2).unwrap().unwrap()).unwrap();
    assert_eq!(replica.missing_blobs(&m2), [Digest::of(b"two\n")]);
    sync(&primary, &replica, &v2);
    assert_eq!(
        replica
            .content("production", &v2, "modules/m0/files/f0.txt")
            .unwrap(),
        b"two\n"
    );
    assert_eq!(
        replica
            .content("production", &v1, "modules/m0/files/f0.txt")
            .unwrap(),
        b"one\n"
    );
}

#[test]
fn replica_refuses_bad_blobs_and_manifests() {
    let (_a, primary) = store();
    let (_b, replica) = store();
    let st = tempfile::tempdir().unwrap();
    write_tree(st.path(), &[("a", "right\n")]);
    let v = primary.publish("production", st.path()).unwrap().code_id;
    let bytes = primary.manifest_bytes("production", &v).unwrap().unwrap();

    // Blobs missing: nothing installed.
    let err = replica.install("production", &bytes, &v).unwrap_err();
    assert!(
        matches!(&err, Error::MissingBlobs { missing, .. } if missing == &[Digest::of(b"right\n")]),
        "{err}"
    );
    assert!(replica.live("production").unwrap().is_none());

    // A blob with the wrong content is not stored.
    let err = replica
        .put_blob(&Digest::of(b"right\n"), &b"wrong\n"[..])
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(!replica.has_blob(&Digest::of(b"right\n")));

    // A manifest that is not the code_id's.
    let mut tampered = bytes.clone();
    let at = tampered.len() - 3;
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let err = replica.install("production", &tampered, &v).unwrap_err();
    assert!(matches!(err, Error::CodeIdMismatch { .. }), "{err}");

    // A manifest that hashes to its code_id but is not canonical.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let spaced = format!("{header}\n{}", body.replace("\",\"", "\", \""));
    let spaced_id = CodeId::parse(&Digest::of(spaced.as_bytes()).to_string()).unwrap();
    let err = replica
        .install("production", spaced.as_bytes(), &spaced_id)
        .unwrap_err();
    assert!(matches!(err, Error::Manifest { line: 2, .. }), "{err}");

    replica
        .put_blob(&Digest::of(b"right\n"), &b"right\n"[..])
        .unwrap();
    replica.install("production", &bytes, &v).unwrap();
    assert_eq!(replica.content("production", &v, "a").unwrap(), b"right\n");
}

#[test]
fn a_manifest_linking_out_of_the_tree_is_refused() {
    let text = "{\"format\":\"puppet-filesync-manifest\",\"version\":1}\n{\"path\":\"l\",\"kind\":\"link\",\"mode\":\"0777\",\"target\":\"../../etc/shadow\"}\n".to_string();
    let err = Manifest::parse(text.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    let text = "{\"format\":\"puppet-filesync-manifest\",\"version\":1}\n{\"path\":\"../x\",\"kind\":\"dir\",\"mode\":\"0755\"}\n";
    let err = Manifest::parse(text.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
}
