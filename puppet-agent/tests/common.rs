//! Helpers shared by the tests.

use puppet_agent::Logger;
use puppet_agent::apply::{Applied, ApplyOptions, apply};
use puppet_catalog::Catalog;
use puppet_report::LogLevel;
use serde_json::{Value, json};

/// A catalog of `resources` (each `[type, title, params]`) contained in `Class[Main]`.
pub fn catalog(resources: &[(&str, &str, Value)]) -> Catalog {
    let mut res = vec![
        json!({"type": "Stage", "title": "main"}),
        json!({"type": "Class", "title": "Main"}),
    ];
    let mut edges = vec![json!({"source": "Stage[main]", "target": "Class[Main]"})];
    for (t, title, params) in resources {
        res.push(json!({"type": t, "title": title, "parameters": params, "tags": [t.to_lowercase(), "class"]}));
        edges.push(json!({"source": "Class[Main]", "target": format!("{t}[{title}]")}));
    }
    let doc = json!({"name": "n1", "version": 1, "environment": "production",
        "classes": ["settings"], "resources": res, "edges": edges});
    Catalog::from_json(doc.to_string().as_bytes()).unwrap()
}

/// Applies a catalog with no master; the log lines and the result.
pub async fn run(catalog: &Catalog, noop: bool) -> (Vec<String>, Applied) {
    let log = Logger::capturing(LogLevel::Debug);
    let mut options = ApplyOptions::new("production");
    options.noop = noop;
    let applied = apply(catalog, &options, &log, None).await.unwrap();
    (log.lines(), applied)
}

/// The status of `reference`.
pub fn status<'a>(applied: &'a Applied, reference: &str) -> &'a puppet_report::ResourceStatus {
    applied
        .statuses
        .iter()
        .find(|s| s.resource == reference)
        .unwrap_or_else(|| panic!("no status for {reference}"))
}

/// Applies a catalog with `file` settings (clientbucketdir, show_diff) and no master.
pub async fn run_with(
    catalog: &Catalog,
    file: puppet_agent::apply::file::FileSettings,
    noop: bool,
) -> (Vec<String>, Applied) {
    let log = Logger::capturing(LogLevel::Debug);
    let mut options = ApplyOptions::new("production");
    options.noop = noop;
    options.file = file;
    let applied = apply(catalog, &options, &log, None).await.unwrap();
    (log.lines(), applied)
}
