//! Property tests: manifest serialization and code_id charset.

use proptest::prelude::*;
use puppet_filesync::{Digest, Entry, Manifest};

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9_.-]{1,8}", "[\\p{L}\\p{N} '\"\\\\]{1,6}",]
        .prop_filter("not . or ..", |s| s != "." && s != "..")
}

/// Random trees: directories at depth 1, files and links under them.
fn entries() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::btree_map(
        name(),
        prop::collection::btree_map(name(), (any::<u8>(), any::<bool>(), 0u8..4), 0..5),
        0..5,
    )
    .prop_map(|dirs| {
        let mut out = Vec::new();
        for (d, files) in dirs {
            out.push(Entry::dir(d.clone()));
            for (f, (content, exec, kind)) in files {
                let path = format!("{d}/{f}");
                if kind == 0 {
                    out.push(Entry::link(path, f.clone()));
                } else {
                    out.push(Entry::file(
                        path,
                        u64::from(content),
                        Digest::of(&[content]),
                        exec,
                    ));
                }
            }
        }
        out
    })
}

proptest! {
    #[test]
    fn manifests_round_trip_and_code_ids_are_puppet_safe(mut es in entries()) {
        // Links to themselves loop: drop those trees.
        let Ok(m) = Manifest::new(es.clone()) else { return Ok(()); };
        let bytes = m.to_bytes();
        let back = Manifest::parse(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_bytes(), bytes.clone());
        let id = m.code_id();
        prop_assert!(puppet_filesync::is_puppet_code_id(id.as_str()));
        prop_assert_eq!(id.as_str().len(), 64);
        // Order of input does not matter.
        es.reverse();
        prop_assert_eq!(Manifest::new(es).unwrap().code_id(), id);
    }

    #[test]
    fn any_byte_change_is_refused_or_changes_the_code_id(es in entries(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let Ok(m) = Manifest::new(es) else { return Ok(()); };
        let mut bytes = m.to_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != b);
        bytes[i] = b;
        if let Ok(other) = Manifest::parse(&bytes) {
            prop_assert_ne!(other.code_id(), m.code_id());
            prop_assert_eq!(other.to_bytes(), bytes);
        }
    }

    #[test]
    fn code_id_charset(s in "\\PC{0,20}") {
        let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || "_-:;".contains(c));
        prop_assert_eq!(puppet_filesync::is_puppet_code_id(&s), ok);
        if puppet_filesync::CodeId::parse(&s).is_ok() {
            prop_assert!(ok);
        }
    }
}
