//! Unit tests of the relationship graph.
//!
//! The expected orders and messages of the hand-made catalogs below were checked against real
//! Puppet 7.23 (`puppet apply --catalog <file>.json`, reading `last_run_report.yaml`).

use super::autorequire::{line_start_paths, line_start_quoted};
use super::index::normalize_path;
use super::*;
use crate::reference::{canonical_type, split_ref};
use proptest::prelude::*;
use serde_json::Value;
use serde_json::json;

fn catalog(value: Value) -> Catalog {
    match serde_json::from_value(value) {
        Ok(c) => c,
        Err(e) => panic!("test catalog does not parse: {e}"),
    }
}

fn r(text: &str) -> ResourceRef {
    match split_ref(text) {
        Ok((t, n)) => ResourceRef {
            type_name: t.into_owned(),
            title: n.into_owned(),
        },
        Err(e) => panic!("bad reference in test: {text}: {e}"),
    }
}

fn names(refs: &[ResourceRef]) -> Vec<String> {
    refs.iter()
        .map(|r| format!("{}[{}]", r.type_name, r.title))
        .collect()
}

fn order(c: &Catalog) -> Vec<String> {
    let graph = Graph::new(c).expect("graph");
    names(&graph.apply_order().expect("no cycles"))
}

/// A resource: `("Notify", "a", kind, params)`.
fn res(ty: &str, title: &str, kind: &str, params: Value) -> Value {
    json!({"type": ty, "title": title, "kind": kind, "exported": false, "tags": [], "parameters": params})
}

fn contain(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(s, t)| json!({"source": s, "target": t}))
            .collect(),
    )
}

/// Puppet: `Class[Foo]` contains `Notify[a]`; `b` requires the class, `c` comes after `b` and
/// before `a`; `d` requires itself.
fn class_cycle_catalog() -> Catalog {
    catalog(json!({
        "name": "vm", "version": 1,
        "resources": [
            res("Stage", "main", "compilable_type", json!({})),
            res("Class", "Settings", "unknown", json!({})),
            res("Class", "Main", "unknown", json!({})),
            res("Class", "Foo", "class", json!({})),
            res("Notify", "a", "compilable_type", json!({})),
            res("Notify", "b", "compilable_type", json!({"require": "Class[Foo]"})),
            res("Notify", "c", "compilable_type", json!({"before": "Notify[a]", "require": "Notify[b]"})),
            res("Notify", "d", "compilable_type", json!({"require": "Notify[d]"})),
        ],
        "edges": contain(&[
            ("Stage[main]", "Class[Settings]"), ("Stage[main]", "Class[Main]"),
            ("Stage[main]", "Class[Foo]"), ("Class[Foo]", "Notify[a]"),
            ("Class[Main]", "Notify[b]"), ("Class[Main]", "Notify[c]"), ("Class[Main]", "Notify[d]"),
        ]),
    }))
}

#[test]
fn cycle_through_a_class_gives_puppets_message() {
    let graph = Graph::new(&class_cycle_catalog()).expect("graph");
    let err = graph.apply_order().expect_err("cycles");
    assert_eq!(
        err.to_string(),
        "Found 2 dependency cycles:\n\
         (Notify[a] => Class[Foo] => Notify[b] => Notify[c] => Notify[a])\\n\
         (Notify[d] => Notify[d])\\n\
         Try the '--graph' option and opening the resulting '.dot' file in OmniGraffle or GraphViz"
    );
    let cycles = graph.cycles();
    assert_eq!(
        names(&cycles[0].members),
        ["Notify[a]", "Notify[b]", "Notify[c]", "Class[Foo]"]
    );
    assert_eq!(names(&cycles[1].path), ["Notify[d]", "Notify[d]"]);
    match err {
        CatalogError::Cycles(c) => assert_eq!(c, cycles),
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn self_loop_alone_is_one_cycle() {
    let c = catalog(json!({"name": "n", "resources": [
        res("Exec", "x", "compilable_type", json!({"command": "/bin/true", "subscribe": ["Exec[x]"]})),
        res("Notify", "y", "compilable_type", json!({})),
    ], "edges": []}));
    let graph = Graph::new(&c).expect("graph");
    assert_eq!(
        cycles_message(&graph.cycles()),
        "Found 1 dependency cycle:\n(Exec[x] => Exec[x])\\nTry the '--graph' option and opening \
         the resulting '.dot' file in OmniGraffle or GraphViz"
    );
}

/// Resources listed children first; autorequires put parents, the exec's files and the link
/// target first. Order checked against Puppet 7.23.
#[test]
fn file_and_exec_autorequires_order_like_puppet() {
    let c = catalog(json!({
        "name": "vm", "version": 1,
        "resources": [
            res("Stage", "main", "compilable_type", json!({})),
            res("Class", "Main", "unknown", json!({})),
            res("Exec", "build", "compilable_type", json!({
                "command": "/tmp/cgft/a/b/c --flag\n/tmp/cgft/a/tool",
                "cwd": "/tmp/cgft/a",
                "onlyif": ["/tmp/cgft/a/b/c x", "/usr/bin/test -e /tmp/cgft"]})),
            res("File", "/tmp/cgft/a/b/c", "compilable_type", json!({"ensure": "file"})),
            res("File", "/tmp/cgft/link", "compilable_type", json!({"ensure": "link", "target": "/tmp/cgft/a/b/c"})),
            res("Notify", "n", "compilable_type", json!({})),
            res("File", "/tmp/cgft/a/tool", "compilable_type", json!({"ensure": "file"})),
            res("File", "/tmp/cgft/a", "compilable_type", json!({"ensure": "directory", "before": "File[/tmp/cgft/a/b]"})),
            res("File", "/tmp/cgft/a/b", "compilable_type", json!({"ensure": "directory"})),
            res("File", "/tmp/cgft", "compilable_type", json!({"ensure": "directory"})),
        ],
        "edges": contain(&[
            ("Stage[main]", "Class[Main]"), ("Class[Main]", "Exec[build]"),
            ("Class[Main]", "File[/tmp/cgft/a/b/c]"), ("Class[Main]", "File[/tmp/cgft/link]"),
            ("Class[Main]", "Notify[n]"), ("Class[Main]", "File[/tmp/cgft/a/tool]"),
            ("Class[Main]", "File[/tmp/cgft/a]"), ("Class[Main]", "File[/tmp/cgft/a/b]"),
            ("Class[Main]", "File[/tmp/cgft]"),
        ]),
    }));
    assert_eq!(
        order(&c),
        [
            "Notify[n]",
            "File[/tmp/cgft]",
            "File[/tmp/cgft/a]",
            "File[/tmp/cgft/a/tool]",
            "File[/tmp/cgft/a/b]",
            "File[/tmp/cgft/a/b/c]",
            "Exec[build]",
            "File[/tmp/cgft/link]",
        ]
    );
    let graph = Graph::new(&c).expect("graph");
    assert_eq!(
        names(&graph.dependencies(&r("Exec[build]"))),
        [
            "File[/tmp/cgft/a/b/c]",
            "File[/tmp/cgft/a/tool]",
            "File[/tmp/cgft/a]"
        ]
    );
    // The nearest managed ancestor only, not every ancestor.
    assert_eq!(
        names(&graph.dependencies(&r("File[/tmp/cgft/a/b/c]"))),
        ["File[/tmp/cgft/a/b]"]
    );
}

#[test]
fn autorequires_users_and_groups_by_name_only() {
    let c = catalog(json!({"name": "n", "resources": [
        res("File", "/srv/a", "compilable_type", json!({"owner": "app", "group": "staff"})),
        res("File", "/srv/b", "compilable_type", json!({"owner": "0", "group": 50})),
        res("Exec", "run", "compilable_type", json!({"command": "echo hi", "user": "app"})),
        res("Cron", "job", "compilable_type", json!({"command": "/bin/true", "user": "app"})),
        res("User", "app", "compilable_type", json!({"gid": 1234, "groups": ["wheel", "adm,staff"]})),
        res("Group", "staff", "compilable_type", json!({})),
        res("Group", "wheel", "compilable_type", json!({})),
        res("Group", "appgroup", "compilable_type", json!({"gid": "1234"})),
        res("Group", "adm", "compilable_type", json!({})),
    ], "edges": []}));
    let graph = Graph::new(&c).expect("graph");
    assert_eq!(
        names(&graph.dependencies(&r("File[/srv/a]"))),
        ["User[app]", "Group[staff]"]
    );
    assert!(graph.dependencies(&r("File[/srv/b]")).is_empty());
    assert_eq!(names(&graph.dependencies(&r("Exec[run]"))), ["User[app]"]);
    assert_eq!(names(&graph.dependencies(&r("Cron[job]"))), ["User[app]"]);
    assert_eq!(
        names(&graph.dependencies(&r("User[app]"))),
        [
            "Group[staff]",
            "Group[wheel]",
            "Group[appgroup]",
            "Group[adm]"
        ]
    );
    assert_eq!(
        order(&c),
        [
            "File[/srv/b]",
            "Group[staff]",
            "Group[wheel]",
            "Group[appgroup]",
            "Group[adm]",
            "User[app]",
            "File[/srv/a]",
            "Exec[run]",
            "Cron[job]"
        ]
    );
}

/// An autorequire never reverses a manual relationship (no cycle) nor duplicates one.
#[test]
fn autorequire_yields_to_manual_relationships() {
    let c = catalog(json!({"name": "n", "resources": [
        res("File", "/a/b", "compilable_type", json!({"before": "File[/a]"})),
        res("File", "/a", "compilable_type", json!({})),
    ], "edges": []}));
    assert_eq!(order(&c), ["File[/a/b]", "File[/a]"]);
}

#[test]
fn references_are_canonicalized_and_aliases_resolve() {
    let c = catalog(json!({"name": "n", "resources": [
        res("Class", "Foo::Bar", "class", json!({})),
        res("Notify", "x", "compilable_type", json!({"require": [["class[foo::bar]"], "file[/etc/motd/]"]})),
        res("File", "motd", "compilable_type", json!({"path": "/etc/motd"})),
        res("Package", "ssh", "compilable_type", json!({"name": "openssh-server", "alias": "sshd"})),
        res("Service", "sshd-svc", "compilable_type", json!({"subscribe": ["Package[openssh-server]", "Package[sshd]"]})),
    ], "edges": []}));
    let graph = Graph::new(&c).expect("graph");
    assert_eq!(names(&graph.dependencies(&r("Notify[x]"))), ["File[motd]"]);
    assert_eq!(
        names(&graph.dependencies(&r("Service[sshd-svc]"))),
        ["Package[ssh]"]
    );
    assert_eq!(
        names(&graph.refreshed_by(&r("Package[ssh]"))),
        ["Service[sshd-svc]"]
    );
}

#[test]
fn classes_and_defined_types_order_as_units() {
    // Class[B] comes first in the catalog but is required after Class[A]; members of a
    // container follow its priority, and a defined type's members stay together.
    let c = catalog(json!({"name": "n", "resources": [
        res("Stage", "main", "compilable_type", json!({})),
        res("Class", "B", "class", json!({"require": "Class[A]"})),
        res("Notify", "b1", "compilable_type", json!({})),
        res("Class", "A", "class", json!({})),
        res("Notify", "a1", "compilable_type", json!({})),
        res("App::Thing", "t", "defined_type", json!({"before": "Notify[a1]"})),
        res("Notify", "t1", "compilable_type", json!({})),
        res("Notify", "t2", "compilable_type", json!({})),
        res("Class", "Empty", "class", json!({"before": "Notify[b1]"})),
    ], "edges": contain(&[
        ("Stage[main]", "Class[B]"), ("Stage[main]", "Class[A]"), ("Stage[main]", "Class[Empty]"),
        ("Class[B]", "Notify[b1]"), ("Class[A]", "Notify[a1]"), ("Class[A]", "App::Thing[t]"),
        ("App::Thing[t]", "Notify[t1]"), ("App::Thing[t]", "Notify[t2]"),
    ])}));
    assert_eq!(
        order(&c),
        ["Notify[t1]", "Notify[t2]", "Notify[a1]", "Notify[b1]"]
    );
    let graph = Graph::new(&c).expect("graph");
    assert_eq!(graph.len(), 4);
    assert!(graph.contains(&r("Class[A]")));
    assert_eq!(
        names(&graph.dependencies(&r("Notify[b1]"))),
        ["Notify[a1]", "Notify[t1]", "Notify[t2]"],
        "Class[A] completes after all its members, nested ones included"
    );
    assert_eq!(names(&graph.dependents(&r("Class[A]"))), ["Notify[b1]"]);
}

#[test]
fn notifying_a_class_refreshes_its_refreshable_members() {
    let c = catalog(json!({"name": "n", "resources": [
        res("Stage", "main", "compilable_type", json!({})),
        res("File", "/etc/app.conf", "compilable_type", json!({"notify": "Class[App]"})),
        res("Class", "App", "class", json!({"before": "Exec[after]"})),
        res("Service", "app", "compilable_type", json!({})),
        res("Notify", "say", "compilable_type", json!({})),
        res("Exec", "inner", "compilable_type", json!({"command": "/bin/true", "notify": "Exec[chained]"})),
        res("Exec", "chained", "compilable_type", json!({"command": "/bin/true"})),
        res("Exec", "after", "compilable_type", json!({"command": "/bin/true"})),
    ], "edges": contain(&[
        ("Stage[main]", "File[/etc/app.conf]"), ("Stage[main]", "Class[App]"),
        ("Class[App]", "Service[app]"), ("Class[App]", "Notify[say]"), ("Class[App]", "Exec[inner]"),
        ("Stage[main]", "Exec[chained]"), ("Stage[main]", "Exec[after]"),
    ])}));
    let graph = Graph::new(&c).expect("graph");
    // `before` carries no refresh: Exec[after] is not refreshed; Exec[chained] is, through
    // the `restarted` event of Exec[inner].
    assert_eq!(
        names(&graph.refreshed_by(&r("File[/etc/app.conf]"))),
        ["Service[app]", "Exec[inner]", "Exec[chained]"]
    );
    assert!(graph.refreshed_by(&r("Notify[say]")).is_empty());
    assert!(graph.refreshed_by(&r("Exec[nope]")).is_empty());
    assert_eq!(
        names(&graph.skipped_if_failed(&r("File[/etc/app.conf]"))),
        [
            "Service[app]",
            "Notify[say]",
            "Exec[inner]",
            "Exec[chained]",
            "Exec[after]"
        ]
    );
    assert_eq!(
        names(&graph.skipped_if_failed(&r("Service[app]"))),
        ["Exec[after]"]
    );
}

#[test]
fn unknown_targets_fail_or_are_listed() {
    let c = catalog(json!({"name": "n", "resources": [
        res("Notify", "a", "compilable_type", json!({})),
        res("Notify", "b", "compilable_type", json!({"before": ["Notify[a]", "Notify[zz]"]})),
    ], "edges": []}));
    match Graph::new(&c) {
        Err(CatalogError::UnknownReference {
            path,
            resource,
            reference,
        }) => {
            assert_eq!(path, "resources[1].parameters.before");
            assert_eq!(resource, "Notify[b]");
            assert_eq!(reference, "Notify[zz]");
        }
        other => panic!("unexpected {other:?}"),
    }
    let lenient = Graph::new_lenient(&c);
    assert_eq!(lenient.unresolved().len(), 1);
    assert_eq!(
        names(&lenient.apply_order().expect("order")),
        ["Notify[b]", "Notify[a]"]
    );

    let bad_edge = catalog(json!({"name": "n", "resources": [
        res("Notify", "a", "compilable_type", json!({})),
    ], "edges": contain(&[("Class[Gone]", "Notify[a]")])}));
    match Graph::new(&bad_edge) {
        Err(CatalogError::UnknownEdgeEndpoint { path, reference }) => {
            assert_eq!(path, "edges[0].source");
            assert_eq!(reference, "Class[Gone]");
        }
        other => panic!("unexpected {other:?}"),
    }

    let not_a_ref = catalog(json!({"name": "n", "resources": [
        res("Notify", "a", "compilable_type", json!({"require": 3})),
    ], "edges": []}));
    assert!(matches!(
        Graph::new(&not_a_ref),
        Err(CatalogError::InvalidReference { .. })
    ));
}

#[test]
fn reference_helpers() {
    assert_eq!(
        line_start_paths("/bin/a b\n c /d\n/e").collect::<Vec<_>>(),
        ["/bin/a", "/e"]
    );
    assert_eq!(
        line_start_quoted("\"/x y\" z").collect::<Vec<_>>(),
        ["/x y"]
    );
    assert_eq!(normalize_path("/a//b///"), "/a/b");
    assert_eq!(normalize_path("/"), "/");
    assert_eq!(canonical_type("foo::BAR"), "Foo::Bar");
    assert_eq!(canonical_type("Foo::bar"), "Foo::bar");
    assert!(split_ref("File").is_err());
    assert!(split_ref("[x]").is_err());
    assert_eq!(
        split_ref("File[/a[1]]").ok().map(|(_, t)| t.into_owned()),
        Some("/a[1]".to_string())
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A random catalog: `n` notifies spread over up to three classes, with relationships
/// `(from, to, metaparameter)` between resources or classes (index >= n means class).
fn random_catalog(n: usize, classes: usize, rels: &[(usize, usize, u8)]) -> Catalog {
    let mut resources = vec![res("Stage", "main", "compilable_type", json!({}))];
    let mut edges = Vec::new();
    for k in 0..classes {
        resources.push(res("Class", &format!("C{k}"), "class", json!({})));
        edges.push(("Stage[main]".to_string(), format!("Class[C{k}]")));
    }
    let name = |i: usize| {
        if i < n {
            format!("Notify[n{i}]")
        } else {
            format!("Class[C{}]", (i - n) % classes.max(1))
        }
    };
    let mut params: Vec<serde_json::Map<String, Value>> = vec![serde_json::Map::new(); n];
    for &(a, b, p) in rels {
        if a >= n {
            continue; // metaparameters on notifies only
        }
        let meta = ["require", "subscribe", "before", "notify"][p as usize % 4];
        let entry = params[a]
            .entry(meta)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(name(b)));
        }
    }
    for (i, p) in params.into_iter().enumerate() {
        resources.push(res(
            "Notify",
            &format!("n{i}"),
            "compilable_type",
            Value::Object(p),
        ));
        let parent = if classes > 0 && i % 3 != 0 {
            format!("Class[C{}]", i % classes)
        } else {
            "Stage[main]".to_string()
        };
        edges.push((parent, format!("Notify[n{i}]")));
    }
    let edges: Vec<(&str, &str)> = edges
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    catalog(json!({"name": "p", "resources": resources, "edges": contain(&edges)}))
}

proptest! {
    #[test]
    fn dag_orders_respect_every_relationship(
        n in 1usize..40,
        classes in 0usize..3,
        raw in proptest::collection::vec((0usize..60, 0usize..60, 0u8..4), 0..80),
    ) {
        // Keep edges "forward" (lower index first) between notifies: a DAG.
        let rels: Vec<(usize, usize, u8)> = raw
            .into_iter()
            .map(|(a, b, p)| (a % n, b % n, p))
            .filter(|(a, b, _)| a != b)
            .map(|(a, b, p)| {
                let (lo, hi) = (a.min(b), a.max(b));
                // lo must come before hi: before/notify live on lo, require/subscribe on hi.
                if p >= 2 { (lo, hi, p) } else { (hi, lo, p) }
            })
            .collect();
        let c = random_catalog(n, classes, &rels);
        let graph = Graph::new(&c).expect("graph");
        let order = graph.apply_order().expect("a DAG has an order");
        prop_assert_eq!(order.len(), n);
        let pos = |i: usize| order.iter().position(|r| r.title == format!("n{i}"));
        for &(a, b, p) in &rels {
            let (first, then) = if p >= 2 { (a, b) } else { (b, a) };
            prop_assert!(pos(first) < pos(then), "n{} must precede n{}", first, then);
        }
        prop_assert!(graph.cycles().is_empty());
    }

    #[test]
    fn any_graph_has_an_order_or_cycles(
        n in 1usize..30,
        classes in 0usize..3,
        raw in proptest::collection::vec((0usize..40, 0usize..40, 0u8..4), 0..60),
    ) {
        let rels: Vec<(usize, usize, u8)> = raw
            .into_iter()
            .map(|(a, b, p)| (a % n, b % (n + classes), p))
            .collect();
        let c = random_catalog(n, classes, &rels);
        let graph = Graph::new(&c).expect("graph");
        let cycles = graph.cycles();
        match graph.apply_order() {
            Ok(order) => {
                prop_assert!(cycles.is_empty());
                prop_assert_eq!(order.len(), n);
            }
            Err(CatalogError::Cycles(found)) => {
                prop_assert!(!cycles.is_empty());
                prop_assert_eq!(&found, &cycles);
                for cycle in &cycles {
                    // A path closes on a vertex it already visited.
                    let last = cycle.path.last().expect("non-empty path");
                    prop_assert!(cycle.path[..cycle.path.len() - 1].contains(last));
                    prop_assert!(cycles_message(&cycles).contains(&cycle.to_string()));
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
        for i in 0..n {
            let me = r(&format!("Notify[n{i}]"));
            // Refreshing needs a relationship, so it is within what a failure skips.
            let skipped = graph.skipped_if_failed(&me);
            for refreshed in graph.refreshed_by(&me) {
                prop_assert!(skipped.contains(&refreshed));
            }
        }
    }
}
