//! Commands: wire format, PuppetDB's rules, refusals that store nothing.

use std::io::Write;

use puppet_db::{CommandErrorKind, DbError, Paging};
use serde_json::{Value, json};

use crate::common::*;

fn node(db: &puppet_db::PuppetDb, certname: &str) -> Option<Value> {
    let q = json!([
        "and",
        ["=", "certname", certname],
        ["=", "node_state", "any"]
    ])
    .to_string();
    q_opt(db, &q)
}

fn q_opt(db: &puppet_db::PuppetDb, query: &str) -> Option<Value> {
    q(db, "nodes", query).into_iter().next()
}

fn names_with_underscores_and_gzip_bodies_are_accepted(b: Backend) {
    let d = db(b);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(doc(FACTS, "gz.example.test").to_string().as_bytes())
        .expect("gzip");
    let body = gz.finish().expect("gzip");
    let params = [
        ("command", "replace_facts"),
        ("version", "5"),
        ("certname", "gz.example.test"),
        ("producer-timestamp", "2026-12-02T10:00:00.000Z"),
        ("checksum", "ignored"),
    ];
    let uuid = d.db.submit(&params, &body).expect("submit");
    assert_eq!(uuid.as_bytes()[14], b'4', "{uuid}");
    let facts = q(&d.db, "facts", r#"["=", "name", "kernel"]"#);
    assert_eq!(
        facts,
        vec![
            json!({"certname": "gz.example.test", "name": "kernel", "value": "Linux", "environment": "production"})
        ]
    );
}

fn an_older_factset_or_catalog_does_not_replace_a_newer_one(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    submit(&d.db, "replace facts", 5, name, &doc(FACTS, name));
    let mut old = doc(FACTS, name);
    old["producer_timestamp"] = json!("2026-12-01T10:00:00.000Z");
    old["values"]["kernel"] = json!("OldKernel");
    submit(&d.db, "replace facts", 5, name, &old);
    let kernel = q(&d.db, "facts/kernel", "");
    assert_eq!(kernel[0]["value"], json!("Linux"));

    let mut newer = doc(FACTS, name);
    newer["producer_timestamp"] = json!("2026-12-03T10:00:00.000Z");
    newer["values"]["kernel"] = json!("NewKernel");
    submit(&d.db, "replace facts", 5, name, &newer);
    assert_eq!(q(&d.db, "facts/kernel", "")[0]["value"], json!("NewKernel"));

    submit(&d.db, "replace catalog", 9, name, &doc(CATALOG, name));
    let mut old = doc(CATALOG, name);
    old["producer_timestamp"] = json!("2026-12-01T10:00:00.000Z");
    old["version"] = json!("old");
    submit(&d.db, "replace catalog", 9, name, &old);
    let catalog = q(&d.db, "catalogs", "");
    assert_eq!(catalog[0]["version"], json!("1764669600"));
}

fn a_deactivated_node_is_hidden_then_reactivated_by_newer_data(b: Backend) {
    let d = loaded(b);
    let name = "web2.example.test";
    deactivate(&d.db, name, "2026-12-02T11:00:00.000Z");
    assert_eq!(
        certnames(&q(&d.db, "nodes", "")),
        ["db1.example.test", "web1.example.test"]
    );
    let n = node(&d.db, name).expect("still known");
    assert_eq!(n["deactivated"], json!("2026-12-02T11:00:00.000Z"));
    // Data older than the deactivation does not bring it back.
    submit(&d.db, "replace facts", 5, name, &doc(FACTS, name));
    assert!(node(&d.db, name).expect("known")["deactivated"].is_string());
    // Newer data does.
    let mut newer = doc(FACTS, name);
    newer["producer_timestamp"] = json!("2026-12-02T12:00:00.000Z");
    submit(&d.db, "replace facts", 5, name, &newer);
    assert_eq!(
        node(&d.db, name).expect("known")["deactivated"],
        Value::Null
    );
    assert_eq!(certnames(&q(&d.db, "nodes", "")).len(), 3);
}

fn sensitive_parameters_never_reach_storage(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    let mut catalog = doc(CATALOG, name);
    catalog["resources"][2]["parameters"]["password"] =
        json!({"__ptype": "Sensitive", "__pvalue": "rich-secret"});
    submit(&d.db, "replace catalog", 9, name, &catalog);
    // A title with a `/` in the path: `%2F`, decoded per segment as PuppetDB routes it.
    let by_path = q(&d.db, "resources/File/%2Fetc%2Fsecret", "");
    assert_eq!(
        by_path[0]["parameters"],
        json!({"ensure": "file", "owner": "root"})
    );
    let secret = q(&d.db, "resources", r#"["=", "title", "/etc/secret"]"#);
    assert_eq!(
        secret[0]["parameters"],
        json!({"ensure": "file", "owner": "root"})
    );
    for secret in ["hunter2", "rich-secret"] {
        assert!(
            !d.stored_anywhere(secret),
            "{secret} is in the database ({:?})",
            d.backend
        );
    }
    // The check can fail: what was stored is found.
    assert!(d.stored_anywhere("/etc/secret"));
}

fn the_same_report_twice_is_stored_once_and_is_the_latest(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    submit(&d.db, "store report", 8, name, &doc(REPORT, name));
    submit(&d.db, "store report", 8, name, &doc(REPORT, name));
    let reports = q(&d.db, "reports", "");
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r["status"], json!("changed"));
    assert_eq!(r["noop"], json!(false));
    assert_eq!(
        r["metrics"]["data"][0],
        json!({"category": "resources", "name": "total", "value": 6})
    );
    assert_eq!(
        r["resource_events"]["data"][0]["property"],
        json!("content")
    );
    assert_eq!(
        r["resource_events"]["data"][0]["containing_class"],
        json!("Main")
    );
    let hash = r["hash"].as_str().expect("hash");
    assert_eq!(
        r["logs"]["href"],
        json!(format!("/pdb/query/v4/reports/{hash}/logs"))
    );
    let nodes = q(&d.db, "nodes", "");
    assert_eq!(nodes[0]["latest_report_hash"], json!(hash));
    assert_eq!(nodes[0]["latest_report_status"], json!("changed"));
    let events = q(&d.db, &format!("reports/{hash}/events"), "");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["new_value"], json!("{sha256}abc"));
}

fn refused(b: Backend, params: &[(&str, &str)], body: &str) -> (CommandErrorKind, String) {
    let d = db(b);
    let e = d.db.submit(params, body.as_bytes()).expect_err("refused");
    assert_eq!(e.http_status(), 400);
    // Nothing stored.
    let all =
        d.db.query(
            "nodes",
            Some(r#"["=", "node_state", "any"]"#),
            &Paging::default(),
        )
        .expect("query");
    assert!(all.rows.is_empty(), "{:?}", all.rows);
    match e {
        DbError::Command { kind, message } => (kind, message),
        other => panic!("{other}"),
    }
}

fn bad_commands_are_refused_with_puppetdbs_text_and_store_nothing(b: Backend) {
    let facts = doc(FACTS, "web1.example.test").to_string();
    let (kind, msg) = refused(
        b,
        &[
            ("command", "replace stuff"),
            ("version", "5"),
            ("certname", "web1.example.test"),
        ],
        &facts,
    );
    assert_eq!(kind, CommandErrorKind::UnknownCommand);
    assert!(msg.starts_with("Command \"replace stuff\" for certname \"web1.example.test\" is invalid. Command must be one of:"), "{msg}");

    let (kind, msg) = refused(
        b,
        &[
            ("command", "replace facts"),
            ("version", "five"),
            ("certname", "web1.example.test"),
        ],
        &facts,
    );
    assert_eq!(kind, CommandErrorKind::Version);
    assert!(msg.ends_with("Version must be a valid integer."), "{msg}");

    let (_, msg) = refused(b, &[("command", "replace facts"), ("version", "5")], &facts);
    assert_eq!(
        msg,
        "Command \"replace facts\" for certname nil is invalid. Command is missing required parameters: certname."
    );

    let (_, msg) = refused(
        b,
        &[
            ("command", "replace facts"),
            ("version", "5"),
            ("certname", "w"),
            ("evil", "1"),
        ],
        &facts,
    );
    assert!(
        msg.ends_with("Command has invalid parameters: evil."),
        "{msg}"
    );

    // Missing values, wrong types, not JSON, a body for another node.
    let mut no_values = doc(FACTS, "web1.example.test");
    no_values.as_object_mut().map(|m| m.remove("values"));
    for body in [
        no_values.to_string(),
        r#"{"certname": 1}"#.to_string(),
        "not json".to_string(),
        doc(FACTS, "other.example.test").to_string(),
    ] {
        let (kind, msg) = refused(
            b,
            &[
                ("command", "replace facts"),
                ("version", "5"),
                ("certname", "web1.example.test"),
            ],
            &body,
        );
        assert_eq!(kind, CommandErrorKind::Body, "{msg}");
        assert!(msg.contains("has an invalid body"), "{msg}");
    }
    let (kind, _) = refused(
        b,
        &[
            ("command", "store report"),
            ("version", "8"),
            ("certname", "web1.example.test"),
        ],
        &json!({"certname": "web1.example.test"}).to_string(),
    );
    assert_eq!(kind, CommandErrorKind::Body);
}

fn a_command_answered_is_in_the_file_for_the_next_process(b: Backend) {
    let d = db(b);
    submit(
        &d.db,
        "replace facts",
        5,
        "a.example.test",
        &doc(FACTS, "a.example.test"),
    );
    // A second, independent opening of the file (as after a crash and restart) sees it.
    let again = d.reopen();
    assert_eq!(certnames(&q(&again, "nodes", "")), ["a.example.test"]);
}

fn catalog_inputs_are_replaced_unless_older_and_queryable(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    let inputs = |ts: &str, key: &str| {
        json!({"certname": name, "catalog_uuid": "0d3c4c8b-5b1a-7d36-9c3e-6f1f5d7f1a11",
            "producer_timestamp": ts, "inputs": [["hiera", key], ["hiera", "ntp::servers"]]})
    };
    submit(
        &d.db,
        "replace catalog inputs",
        1,
        name,
        &inputs("2026-12-02T10:00:00.000Z", "apache::port"),
    );
    submit(
        &d.db,
        "replace catalog inputs",
        1,
        name,
        &inputs("2026-12-01T10:00:00.000Z", "old::key"),
    );
    let rows = q(&d.db, "catalog-inputs", "");
    assert_eq!(
        rows,
        vec![
            json!({"certname": name, "producer_timestamp": "2026-12-02T10:00:00.000Z",
            "catalog_uuid": "0d3c4c8b-5b1a-7d36-9c3e-6f1f5d7f1a11",
            "inputs": [["hiera", "apache::port"], ["hiera", "ntp::servers"]]})
        ]
    );
    let rows = q(
        &d.db,
        "",
        r#"catalog_input_contents[certname, name] { type = "hiera" and name ~ "^apache" }"#,
    );
    assert_eq!(
        rows,
        vec![json!({"certname": name, "name": "apache::port"})]
    );
    let rows = q(
        &d.db,
        "",
        r#"nodes[certname] { certname in catalog_input_contents[certname] { name = "ntp::servers" } }"#,
    );
    assert_eq!(rows, vec![json!({"certname": name})]);
}

crate::both!(
    names_with_underscores_and_gzip_bodies_are_accepted,
    an_older_factset_or_catalog_does_not_replace_a_newer_one,
    a_deactivated_node_is_hidden_then_reactivated_by_newer_data,
    sensitive_parameters_never_reach_storage,
    the_same_report_twice_is_stored_once_and_is_the_latest,
    bad_commands_are_refused_with_puppetdbs_text_and_store_nothing,
    a_command_answered_is_in_the_file_for_the_next_process,
    catalog_inputs_are_replaced_unless_older_and_queryable,
    a_command_refused_part_way_stores_nothing_and_the_next_are_stored,
);

/// A command the database refuses part-way through its transaction stores nothing of
/// itself, and the commands after it are stored. PostgreSQL takes no NUL character in text:
/// in a fact's name it fails the command's writes after the factset's row was written (the
/// second batch of statements), in a certname the node's row lock (the first). SQLite takes
/// both. Then more commands than a backend keeps idle connections: a connection whose
/// transaction failed is not used again.
fn a_command_refused_part_way_stores_nothing_and_the_next_are_stored(b: Backend) {
    let d = db(b);
    let name = "midway.example.test";
    let mut facts = doc(FACTS, name);
    facts["producer_timestamp"] = json!("2026-12-02T10:00:00.000Z");
    facts["values"]["kernel"] = json!("Linux");
    submit(&d.db, "replace facts", 5, name, &facts);
    let fact = |db: &puppet_db::PuppetDb, certname: &str, fact: &str| {
        let query = json!(["and", ["=", "certname", certname], ["=", "name", fact]]).to_string();
        q(db, "facts", &query).first().map(|r| r["value"].clone())
    };
    let mut bad = facts.clone();
    bad["producer_timestamp"] = json!("2026-12-02T11:00:00.000Z");
    bad["values"]["kernel"] = json!("Changed");
    bad["values"]["bad\u{0}name"] = json!("x");
    let params = [
        ("command", "replace facts"),
        ("version", "5"),
        ("certname", name),
    ];
    let stored = d.db.submit(&params, bad.to_string().as_bytes());
    #[cfg(feature = "postgres")]
    if b == Backend::Postgres {
        assert!(stored.is_err(), "PostgreSQL took a NUL in text");
    }
    let factset = q(
        &d.db,
        "factsets",
        &json!(["=", "certname", name]).to_string(),
    );
    match stored {
        Ok(_) => {
            assert_eq!(fact(&d.db, name, "kernel"), Some(json!("Changed")));
            assert_eq!(factset[0]["producer_timestamp"], "2026-12-02T11:00:00.000Z");
        }
        Err(_) => {
            // The factset written first in that transaction is not there either.
            assert_eq!(fact(&d.db, name, "kernel"), Some(json!("Linux")));
            let all = q(&d.db, "facts", &json!(["=", "certname", name]).to_string());
            assert_eq!(
                all.len(),
                facts["values"].as_object().map_or(0, |v| v.len())
            );
            assert_eq!(factset[0]["producer_timestamp"], "2026-12-02T10:00:00.000Z");
        }
    }
    let nul = "nul\u{0}.example.test";
    let params = [
        ("command", "replace facts"),
        ("version", "5"),
        ("certname", nul),
    ];
    let stored = d.db.submit(&params, doc(FACTS, nul).to_string().as_bytes());
    #[cfg(feature = "postgres")]
    if b == Backend::Postgres {
        assert!(stored.is_err(), "PostgreSQL took a NUL in text");
    }
    let any = r#"["=", "node_state", "any"]"#;
    assert_eq!(
        certnames(&q(&d.db, "nodes", any)).contains(&nul.to_string()),
        stored.is_ok()
    );
    for i in 0..24 {
        let c = format!("after{i}.example.test");
        let mut facts = doc(FACTS, &c);
        facts["values"]["kernel"] = json!(format!("kernel {i}"));
        submit(&d.db, "replace facts", 5, &c, &facts);
        submit(&d.db, "replace catalog", 9, &c, &doc(CATALOG, &c));
        assert_eq!(
            fact(&d.db, &c, "kernel"),
            Some(json!(format!("kernel {i}")))
        );
    }
    assert_eq!(q(&d.db, "catalogs", "").len(), 24);
}

/// Two storages on one database (two `puppet-db` instances sharing PostgreSQL, or two
/// openings of one SQLite file) see each other's writes, and keep PuppetDB's rules between
/// them.
fn two_instances_share_one_database(b: Backend) {
    let d = db(b);
    let other = d.reopen();
    let name = "shared.example.test";
    let mut facts = doc(FACTS, name);
    facts["producer_timestamp"] = json!("2026-12-02T10:00:00.000Z");
    submit(&d.db, "replace facts", 5, name, &facts);
    assert_eq!(certnames(&q(&other, "nodes", "")), [name]);
    // The other instance writes newer facts; the first sees them.
    facts["producer_timestamp"] = json!("2026-12-02T11:00:00.000Z");
    facts["values"]["kernel"] = json!("FreeBSD");
    submit(&other, "replace facts", 5, name, &facts);
    let rows = q(&d.db, "facts", r#"["=", "name", "kernel"]"#);
    assert_eq!(rows[0]["value"], json!("FreeBSD"));
    // An older factset sent to the first does not replace the other's newer one.
    facts["producer_timestamp"] = json!("2026-12-02T09:00:00.000Z");
    facts["values"]["kernel"] = json!("Linux");
    submit(&d.db, "replace facts", 5, name, &facts);
    let rows = q(&other, "facts", r#"["=", "name", "kernel"]"#);
    assert_eq!(rows[0]["value"], json!("FreeBSD"));
    // Concurrent writers for many nodes from both instances: every command lands.
    std::thread::scope(|s| {
        for (i, db) in [&d.db, &other].into_iter().enumerate() {
            s.spawn(move || {
                for n in 0..10 {
                    let c = format!("n{n}-{i}.example.test");
                    let mut facts = doc(FACTS, &c);
                    if i == 1 {
                        // The same facts in the other order: shared rows (fact paths) are
                        // still written without deadlocks.
                        let values = facts["values"].as_object().expect("values").clone();
                        facts["values"] = Value::Object(values.into_iter().rev().collect());
                    }
                    submit(db, "replace facts", 5, &c, &facts);
                    submit(db, "replace catalog", 9, &c, &doc(CATALOG, &c));
                }
            });
        }
    });
    assert_eq!(q(&d.db, "nodes", "").len(), 21);
    assert_eq!(q(&other, "catalogs", "").len(), 20);
}

/// PuppetDB's garbage collection: nodes without new data for node-ttl are expired (and come
/// back when they send data), nodes expired longer than node-purge-ttl are deleted with
/// their data, reports older than report-ttl are deleted.
fn garbage_collection_expires_purges_and_drops_old_reports(b: Backend) {
    use puppet_db::{Retention, Timestamp};
    let d = loaded(b);
    let day = |n: u64| Some(std::time::Duration::from_secs(n * 86_400));
    let fresh = "fresh.example.test";
    let mut facts = doc(FACTS, fresh);
    facts["producer_timestamp"] = json!("2026-12-20T10:00:00.000Z");
    facts["values"] = json!({"kernel": "Linux"});
    submit(&d.db, "replace facts", 5, fresh, &facts);
    let any = r#"["=", "node_state", "any"]"#;

    let now = Timestamp::parse("2026-12-20T12:00:00Z").expect("time");
    let round = Retention {
        node_ttl: day(7),
        node_purge_ttl: None,
        report_ttl: day(7),
    };
    let done = d.db.storage().collect_garbage(&round, &now).expect("gc");
    assert_eq!((done.expired, done.purged, done.reports), (3, 0, 3));
    assert_eq!(certnames(&q(&d.db, "nodes", "")), [fresh]);
    let all = q(&d.db, "nodes", any);
    assert_eq!(all.len(), 4);
    let web1 = all
        .iter()
        .find(|n| n["certname"] == "web1.example.test")
        .expect("web1");
    assert_eq!(web1["expired"], json!("2026-12-20T12:00:00.000Z"));
    assert_eq!(web1["latest_report_hash"], Value::Null);
    assert!(q(&d.db, "reports", any).is_empty());
    assert!(q(&d.db, "events", any).is_empty());
    // Again: nothing more to do.
    let again = d.db.storage().collect_garbage(&round, &now).expect("gc");
    assert_eq!((again.expired, again.reports), (0, 0));

    // web1 sends newer facts: active again, and not purged.
    let mut facts = doc(FACTS, "web1.example.test");
    facts["producer_timestamp"] = json!("2026-12-20T13:00:00.000Z");
    submit(&d.db, "replace facts", 5, "web1.example.test", &facts);
    assert_eq!(
        certnames(&q(&d.db, "nodes", "")),
        [fresh, "web1.example.test"]
    );

    let later = Timestamp::parse("2027-01-10T00:00:00Z").expect("time");
    let purge = Retention {
        node_ttl: None,
        node_purge_ttl: day(14),
        report_ttl: None,
    };
    let done = d.db.storage().collect_garbage(&purge, &later).expect("gc");
    assert_eq!(done.purged, 2);
    assert_eq!(
        certnames(&q(&d.db, "nodes", any)),
        [fresh, "web1.example.test"]
    );
    assert!(
        q(
            &d.db,
            "catalogs",
            r#"["=", "certname", "db1.example.test"]"#
        )
        .is_empty()
    );
    assert!(
        q(
            &d.db,
            "fact-contents",
            r#"["=", "certname", "db1.example.test"]"#
        )
        .is_empty()
    );
    assert_eq!(q(&d.db, "catalogs", "").len(), 1, "web1's catalog stays");
}

/// A catalog naming one resource twice stores it once, the last one winning, on both
/// backends (PostgreSQL writes a catalog's rows in one statement).
fn a_resource_twice_in_a_catalog_is_stored_once(b: Backend) {
    let d = db(b);
    let name = "web1.example.test";
    let mut catalog = doc(CATALOG, name);
    let mut again = catalog["resources"][4].clone();
    again["parameters"]["command"] = json!("/bin/false");
    catalog["resources"]
        .as_array_mut()
        .expect("array")
        .push(again);
    submit(&d.db, "replace catalog", 9, name, &catalog);
    let rows = q(&d.db, "resources", r#"["=", "type", "Exec"]"#);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["parameters"]["command"], json!("/bin/false"));
    assert_eq!(q(&d.db, "resources", "").len(), 6);
}

crate::both!(
    a_resource_twice_in_a_catalog_is_stored_once,
    two_instances_share_one_database,
    garbage_collection_expires_purges_and_drops_old_reports
);

/// PostgreSQL: several instances opening one new database at once all succeed, and each
/// migration is applied once.
#[cfg(feature = "postgres")]
#[test]
fn concurrent_openers_migrate_once() {
    let Some(cluster) = crate::common::pg::cluster() else {
        return;
    };
    let url = cluster.database();
    let opened: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| puppet_db::PostgresStorage::open(&url)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for o in &opened {
        assert!(o.is_ok(), "{:?}", o.as_ref().err());
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM puppet_db_migrations ORDER BY version",
            &[],
        )
        .expect("migrations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i64> = (1..=puppet_db::PostgresStorage::schema_version()).collect();
    assert_eq!(versions, expected);
    // And the password-free Debug of a storage names the database, not secrets.
    let debug = format!("{:?}", opened[0].as_ref().ok());
    assert!(debug.contains("dbname"), "{debug}");
}
