//! Readers of the live version while new versions are published: always one whole version.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::util::{store, versioned_tree};

const FILES: usize = 40;
const VERSIONS: usize = 15;

#[test]
fn readers_always_see_a_whole_version() {
    let (_d, s) = store();
    let st = tempfile::tempdir().unwrap();
    versioned_tree(st.path(), FILES, "v0");
    s.publish("production", st.path()).unwrap();
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let seen_versions = std::sync::Mutex::new(std::collections::HashSet::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                // Bounded: stops when the publisher is done, or after many rounds.
                for _ in 0..100_000 {
                    if done.load(Ordering::Acquire) {
                        break;
                    }
                    let v = s.live("production").unwrap().unwrap();
                    let mut tags = std::collections::HashSet::new();
                    for i in 0..FILES {
                        let p = v.path.join(format!("modules/m{}/files/f{i}.txt", i % 4));
                        tags.insert(std::fs::read_to_string(&p).unwrap());
                        // The same file by code_id, as static_file_content would serve it.
                    }
                    assert_eq!(
                        tags.len(),
                        1,
                        "version {} mixes contents: {tags:?}",
                        v.code_id
                    );
                    let tag = tags.into_iter().next().unwrap();
                    let by_id = s
                        .content("production", &v.code_id, "modules/m1/files/f1.txt")
                        .unwrap();
                    assert_eq!(String::from_utf8(by_id).unwrap(), tag);
                    seen_versions.lock().unwrap().insert(tag);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for n in 1..=VERSIONS {
            // Let the readers read the current version at least once before the next publish
            // (bounded wait), so publishes and reads interleave even on a loaded machine.
            let before = reads.load(Ordering::Relaxed);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while reads.load(Ordering::Relaxed) == before && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            versioned_tree(st.path(), FILES, &format!("v{n}"));
            s.publish("production", st.path()).unwrap();
        }
        done.store(true, Ordering::Release);
    });
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert!(
        seen_versions.lock().unwrap().len() > 1,
        "readers only ever saw one version"
    );
    let live = s.live("production").unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(live.path.join("modules/m0/files/f0.txt")).unwrap(),
        format!("v{VERSIONS}\n")
    );
}

#[test]
fn two_publishers_serialize() {
    let (_d, s) = store();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    versioned_tree(a.path(), 20, "a");
    versioned_tree(b.path(), 20, "b");
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| s.publish("production", a.path()).unwrap());
            scope.spawn(|| s.publish("production", b.path()).unwrap());
        }
    });
    let live = s.live("production").unwrap().unwrap();
    s.verify("production", &live.code_id).unwrap();
    assert_eq!(s.versions("production").unwrap().len(), 2);
}
