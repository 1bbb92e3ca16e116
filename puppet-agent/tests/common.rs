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

/// An agent's settings: confdir, vardir, ssldir and publicdir under `root`, the master at
/// `server`:`port`, `certname` with a 2048-bit key, then `extra` settings.
pub fn agent_settings(
    root: &std::path::Path,
    server: &str,
    port: u16,
    certname: &str,
    extra: &[(&str, &str)],
) -> puppet_agent::Settings {
    let p = |d: &str| root.join(d).to_str().unwrap().to_string();
    std::fs::create_dir_all(root.join("conf")).unwrap();
    let mut settings: Vec<(String, String)> = vec![
        ("confdir".into(), p("conf")),
        ("vardir".into(), p("var")),
        ("ssldir".into(), p("ssl")),
        ("publicdir".into(), p("public")),
        ("server".into(), server.into()),
        ("masterport".into(), port.to_string()),
        ("certname".into(), certname.into()),
        ("keylength".into(), "2048".into()),
    ];
    settings.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    puppet_agent::Settings::load(&settings).unwrap()
}

/// Whether the real `puppet` is here; else one skip line naming `test` (a failure with
/// `PUPPET_RS_REQUIRE_REAL=1`).
pub fn have_real_puppet(test: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v puppet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() != Ok("1"),
            "{test}: puppet is required (PUPPET_RS_REQUIRE_REAL=1)"
        );
        eprintln!("skipping {test}: the real `puppet` is not installed");
    }
    found
}

/// How much `puppet apply` prints: notices and up, `--verbose` (info) or `--debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Notices, warnings and errors (Puppet's default).
    Notice,
    /// `--verbose`: info lines too.
    Verbose,
    /// `--debug`: everything.
    Debug,
}

/// What one run of the real `puppet apply` printed and wrote.
pub struct RealRun {
    /// It exited 0.
    pub success: bool,
    /// Its output, stdout and stderr as one stream (Puppet's order: warnings go to stderr).
    pub text: String,
    /// [`RealRun::text`] by message: lines that do not start a message (a diff's) are joined
    /// to the message before them.
    pub lines: Vec<String>,
    /// Its `last_run_report.yaml` (empty when it wrote none).
    pub report: String,
}

/// The real `puppet apply` at `level`, then `args` (a manifest, or `--catalog FILE`, and
/// options), with its own confdir, vardir, codedir, logdir, rundir, publicdir and ssldir under
/// `root` (kept between calls, so `state.yaml` and the clientbucket carry over).
pub fn puppet_apply(root: &std::path::Path, level: Level, args: &[&str]) -> RealRun {
    let d = |x: &str| root.join(x).display().to_string();
    std::fs::create_dir_all(root).unwrap();
    let level = match level {
        Level::Notice => None,
        Level::Verbose => Some("--verbose"),
        Level::Debug => Some("--debug"),
    };
    let out = std::process::Command::new("sh")
        .args(["-c", "exec puppet \"$@\" 2>&1", "sh", "apply"])
        .args(level)
        .args(["--color", "false"])
        .args([
            "--confdir",
            &d("conf"),
            "--vardir",
            &d("var"),
            "--codedir",
            &d("code"),
        ])
        .args([
            "--logdir",
            &d("log"),
            "--rundir",
            &d("run"),
            "--publicdir",
            &d("pub"),
        ])
        .args(["--ssldir", &d("ssl")])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts = ["Notice: ", "Info: ", "Warning: ", "Error: ", "Debug: "]
            .iter()
            .any(|p| line.starts_with(p));
        match lines.last_mut() {
            Some(last) if !starts => {
                last.push('\n');
                last.push_str(line);
            }
            _ => lines.push(line.to_string()),
        }
    }
    let report =
        std::fs::read_to_string(root.join("var/state/last_run_report.yaml")).unwrap_or_default();
    RealRun {
        success: out.status.success(),
        text,
        lines,
        report,
    }
}

/// [`puppet_apply`] of the catalog `doc` as node `prs-test`, `extra` options after it: its
/// output by message and its `last_run_report.yaml`.
pub fn real_apply(
    root: &std::path::Path,
    doc: &Value,
    level: Level,
    extra: &[&str],
) -> (Vec<String>, String) {
    let file = root.join("catalog.json");
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(&file, doc.to_string()).unwrap();
    let mut args = vec![
        "--certname",
        "prs-test",
        "--catalog",
        file.to_str().unwrap(),
    ];
    args.extend(extra);
    let run = puppet_apply(root, level, &args);
    (run.lines, run.report)
}

/// A catalog document as Puppet's compiler writes it (so `puppet apply --catalog` takes it):
/// `resources` (`[type, title, params]`) in `Class[Main]`.
pub fn catalog_doc(resources: &[(&str, &str, Value)]) -> Value {
    let mut res = vec![
        json!({"type": "Stage", "title": "main", "tags": ["stage"], "exported": false, "parameters": {}}),
        json!({"type": "Class", "title": "Main", "tags": ["class"], "exported": false, "parameters": {}}),
    ];
    let mut edges = vec![json!({"source": "Stage[main]", "target": "Class[Main]"})];
    for (t, title, params) in resources {
        res.push(
            json!({"type": t, "title": title, "tags": [t.to_lowercase(), "class"],
            "exported": false, "parameters": params}),
        );
        edges.push(json!({"source": "Class[Main]", "target": format!("{t}[{title}]")}));
    }
    json!({"tags": ["settings"], "name": "prs-test", "version": 1, "code_id": null,
        "catalog_uuid": "5a3e2f3c-0000-4000-8000-000000000001", "catalog_format": 1,
        "environment": "production", "resources": res, "edges": edges, "classes": ["settings"]})
}

/// The lines about catalog resources (`<Level>: /Stage[main]/...`), debug lines only when
/// they end with one of `debug`.
pub fn resource_lines(lines: &[String], debug: &[&str]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            [
                "Notice: /Stage[main]/",
                "Warning: /Stage[main]/",
                "Error: /Stage[main]/",
            ]
            .iter()
            .any(|p| l.starts_with(p))
                || (l.starts_with("Debug: /Stage[main]/") && debug.iter().any(|d| l.ends_with(d)))
        })
        .cloned()
        .collect()
}

/// One resource status as both reports can be compared: (resource, skipped, failed, events as
/// `property/name/status`).
pub type StatusKey = (String, bool, bool, Vec<String>);

/// The statuses of a `last_run_report.yaml` Puppet wrote, in order.
pub fn report_statuses(yaml: &str) -> Vec<StatusKey> {
    let mut out: Vec<StatusKey> = Vec::new();
    let mut in_statuses = false;
    let mut event = (String::new(), String::new(), String::new());
    let flush = |out: &mut Vec<StatusKey>, e: &mut (String, String, String)| {
        if let Some(last) = out.last_mut()
            && !(e.0.is_empty() && e.1.is_empty() && e.2.is_empty())
        {
            last.3.push(format!("{}/{}/{}", e.0, e.1, e.2));
        }
        *e = Default::default();
    };
    for line in yaml.lines() {
        if line.starts_with("resource_statuses:") {
            in_statuses = true;
            continue;
        }
        if !in_statuses {
            continue;
        }
        if !line.starts_with(' ') {
            flush(&mut out, &mut event);
            break;
        }
        let v = |key: &str, indent: &str| {
            line.strip_prefix(&format!("{indent}{key}:"))
                .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        };
        if line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':') {
            flush(&mut out, &mut event);
            let r = line
                .trim()
                .trim_end_matches(':')
                .trim_matches('"')
                .trim_matches('\'');
            out.push((r.to_string(), false, false, Vec::new()));
        } else if line.starts_with("    - ") {
            flush(&mut out, &mut event);
        } else if let Some(s) = v("skipped", "    ") {
            out.last_mut().unwrap().1 = s == "true";
        } else if let Some(s) = v("failed", "    ") {
            out.last_mut().unwrap().2 = s == "true";
        } else if let Some(s) = v("property", "      ") {
            event.0 = s;
        } else if let Some(s) = v("name", "      ") {
            event.1 = s;
        } else if let Some(s) = v("status", "      ") {
            event.2 = s;
        }
        // `- audited:` opens an event too.
        if line.starts_with("    - audited:") {
            event = Default::default();
        }
    }
    flush(&mut out, &mut event);
    out
}

/// Our statuses in the same shape, without the agent's default schedules and filebucket.
pub fn our_statuses(applied: &Applied) -> Vec<StatusKey> {
    applied
        .statuses
        .iter()
        .map(|s| {
            let events = s
                .events
                .iter()
                .map(|e| {
                    let status = serde_json::to_value(e.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    format!(
                        "{}/{}/{status}",
                        e.property.clone().unwrap_or_default(),
                        e.name.clone().unwrap_or_default()
                    )
                })
                .collect();
            (s.resource.clone(), s.skipped, s.failed, events)
        })
        .collect()
}
