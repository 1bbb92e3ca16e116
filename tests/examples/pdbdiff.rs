//! The comparator of `scripts/puppetdb-side-by-side.sh`: asks the same queries of two
//! PuppetDB-compatible servers (ours and the real PuppetDB, which received the same commands
//! from the Puppetserver terminus) and compares the answers field for field.
//!
//! ```text
//! pdbdiff --ca ca.pem --cert client.pem --key client.key --ours 28182 --theirs 28181 \
//!   --queries tests/fixtures/pdb-side-by-side/queries.txt
//! pdbdiff ... --wait-reports 6 --wait-deactivated old1.example.test --timeout 600
//! ```
//!
//! The queries file: one query per line, `ENDPOINT QUERY [;; PARAM=VALUE]...`, `#` comments.
//! ENDPOINT is the path below `/pdb/query/v4/` (`nodes`, `facts/kernel`, ...) or `root` for
//! `/pdb/query/v4` itself; QUERY is AST or PQL as PuppetDB takes it, or `-` for none; PARAMs
//! are sent as they are (`limit=2`, `order_by=[{"field": "certname"}]`, `include_total=true`).
//! The parameter `compare=status` (not sent) compares only the status of an error whose text
//! is not PuppetDB's own but the JVM's (for the few listed in the file).
//!
//! What is compared: the status; for a 200 the rows, field for field (a row set as a multiset
//! unless `order_by` is given, arrays inside rows as multisets too: PuppetDB does not define
//! their order), and `X-Records` when `include_total` is asked; for an error the body text.
//!
//! What is normalised (per entity, top-level fields of each row only, and only when both
//! sides have a value of the same JSON type there: a field one side lacks is a difference):
//! see [`generated`]. These are values each server makes itself when it receives a command,
//! not ones the agent, the Puppetserver or the terminus sent.
//!
//! Prints each difference as `endpoint query :: path: ours=... theirs=...`, then
//! `N queries, M identical`; exits 1 on any difference.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use puppet_protocol::client::{Client, Tracer};
use serde_json::Value;

mod common;
use common::{BoxError, TlsArgs};

/// Lines of differences printed per query.
const MAX_LINES: usize = 30;

/// Compares two PuppetDB query APIs.
#[derive(Parser, Debug)]
#[command(name = "pdbdiff")]
struct Args {
    /// Server host name (both certificates must be valid for it)
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Our puppet-db's port
    #[arg(long)]
    ours: u16,
    /// The real PuppetDB's port
    #[arg(long)]
    theirs: u16,
    #[command(flatten)]
    tls: TlsArgs,
    /// The queries file
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Wait until both servers hold this many reports (and the same factsets and catalogs)
    #[arg(long)]
    wait_reports: Option<u64>,
    /// Wait until both servers show this node deactivated
    #[arg(long)]
    wait_deactivated: Option<String>,
    /// Seconds to wait at most
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Write every query with both answers (status, X-Records, body) to this JSON-lines file
    /// (how puppet-db's test fixtures of PuppetDB's answers are captured)
    #[arg(long)]
    save: Option<PathBuf>,
}

/// The fields each server generates itself, per entity, as paths (`*`: every element of an
/// array), and why (the side-by-side section of puppet-db's README repeats this list).
fn generated(entity: &str) -> &'static [&'static str] {
    match entity {
        // Receive times of the factset and catalog the server stamps when it stores them; the
        // hash of the latest report (computed by the server). Not `report_timestamp`: the
        // report's `end_time`, sent by the agent.
        "nodes" => &["facts_timestamp", "catalog_timestamp", "latest_report_hash"],
        // `timestamp`: the receive time; `hash`: computed by the server over what it stored.
        "factsets" => &["timestamp", "hash"],
        // The factset's receive time.
        "inventory" => &["timestamp"],
        // As factsets; `resource`: each resource's hash, computed by the server.
        "catalogs" => &["timestamp", "hash", "resources.data.*.resource"],
        "resources" => &["resource"],
        // `receive_time`: when the server got the report; `hash`: its id, computed by the server.
        "reports" => &["receive_time", "hash"],
        // The report's receive time and hash (as for reports).
        "events" => &["report_receive_time", "report"],
        _ => &[],
    }
}

struct Query {
    line: usize,
    endpoint: String,
    query: Option<String>,
    params: Vec<(String, String)>,
    status_only: bool,
}

fn parse_queries(text: &str) -> Result<Vec<Query>, BoxError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(" ;; ");
        let head = parts.next().unwrap_or("");
        let (endpoint, query) = head.split_once(' ').unwrap_or((head, "-"));
        let query = query.trim();
        let mut params = Vec::new();
        let mut status_only = false;
        for p in parts {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("line {}: parameter without '=': {p}", i + 1))?;
            if k == "compare" {
                status_only = v == "status";
            } else {
                params.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        out.push(Query {
            line: i + 1,
            endpoint: endpoint.to_string(),
            query: (query != "-").then(|| query.to_string()),
            params,
            status_only,
        });
    }
    Ok(out)
}

/// The entity a query is about: its endpoint's first segment, or for the root endpoint the
/// PQL entity (`nodes[...] {...}`) or the AST `["from", "nodes", ...]`.
fn entity(q: &Query) -> String {
    if q.endpoint != "root" {
        return q.endpoint.split('/').next().unwrap_or("").to_string();
    }
    let text = q.query.as_deref().unwrap_or("").trim();
    if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(text)
        && a.first() == Some(&Value::String("from".into()))
    {
        return a.get(1).and_then(Value::as_str).unwrap_or("").to_string();
    }
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

struct Server {
    client: Client,
    headers: Arc<Mutex<Vec<String>>>,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    records: Option<String>,
}

impl Server {
    fn new(args: &Args, port: u16) -> Result<Server, BoxError> {
        let headers = Arc::new(Mutex::new(Vec::new()));
        let sink = headers.clone();
        // The client's trace is how the response headers (X-Records) are seen.
        let tracer = Tracer::new(move |l| {
            if let Ok(mut v) = sink.lock() {
                v.push(l.to_string());
            }
        });
        let client = args
            .tls
            .client_builder(&args.host, port)?
            .read_timeout(Duration::from_secs(120))
            .trace(tracer)
            .build()?;
        Ok(Server { client, headers })
    }

    async fn get(&self, path: &str) -> Result<Reply, BoxError> {
        if let Ok(mut v) = self.headers.lock() {
            v.clear();
        }
        let answer = self
            .client
            .request("GET", path, &[("accept", "application/json")], Vec::new())
            .await?;
        let records = self.headers.lock().ok().and_then(|v| {
            v.iter().find_map(|l| {
                let l = l.strip_prefix("-> \"")?;
                let (name, value) = l.split_once(": ")?;
                name.eq_ignore_ascii_case("x-records")
                    .then(|| value.trim_end_matches("\\r\\n\"").to_string())
            })
        });
        Ok(Reply {
            status: answer.status,
            body: answer.body,
            records,
        })
    }

    async fn rows(&self, endpoint: &str, query: &str) -> Result<Vec<Value>, BoxError> {
        let r = self
            .get(&format!(
                "/pdb/query/v4/{endpoint}?query={}",
                puppet_protocol::form::encode(query)
            ))
            .await?;
        if r.status != 200 {
            return Err(format!(
                "{endpoint} {query}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )
            .into());
        }
        match serde_json::from_slice(&r.body)? {
            Value::Array(a) => Ok(a),
            other => Err(format!("{endpoint} {query}: not an array: {other}").into()),
        }
    }

    async fn count(&self, endpoint: &str) -> Result<u64, BoxError> {
        let rows = self
            .rows(endpoint, r#"["extract", [["function", "count"]]]"#)
            .await?;
        Ok(rows.first().and_then(|r| r["count"].as_u64()).unwrap_or(0))
    }

    async fn queue_depth(&self) -> Result<u64, BoxError> {
        let r = self.get("/status/v1/services/puppetdb-status").await?;
        let v: Value = serde_json::from_slice(&r.body)?;
        Ok(v["status"]["queue_depth"].as_u64().unwrap_or(0))
    }
}

fn path_for(q: &Query) -> String {
    let mut path = String::from("/pdb/query/v4");
    if q.endpoint != "root" {
        path.push('/');
        path.push_str(&puppet_protocol::form::encode_path(&q.endpoint));
    }
    let mut params: Vec<String> = Vec::new();
    if let Some(query) = &q.query {
        params.push(format!("query={}", puppet_protocol::form::encode(query)));
    }
    for (k, v) in &q.params {
        params.push(format!("{k}={}", puppet_protocol::form::encode(v)));
    }
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

/// Replaces the generated fields of a row by a marker of their JSON type (so that presence
/// and type are still compared), and every other occurrence of a generated hash in the row's
/// strings (the `href`s that name a report by its hash) by `<hash>`.
fn normalise(row: &mut Value, fields: &[&str]) {
    let mut hashes = Vec::new();
    for f in fields {
        let path: Vec<&str> = f.split('.').collect();
        mark(row, &path, &mut hashes);
    }
    if !hashes.is_empty() {
        replace_hashes(row, &hashes);
    }
    report_links(row);
}

/// A link to a report names it by its generated hash (`/pdb/query/v4/reports/<hash>/events`),
/// also when the row does not carry the hash itself (an `extract` without `hash`).
fn report_links(v: &mut Value) {
    const PREFIX: &str = "/pdb/query/v4/reports/";
    match v {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(PREFIX)
                && let Some((hash, tail)) = rest.split_once('/')
                && hash.len() == 40
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
            {
                *s = format!("{PREFIX}<hash>/{tail}");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(report_links),
        Value::Object(o) => o.values_mut().for_each(report_links),
        _ => {}
    }
}

fn mark(v: &mut Value, path: &[&str], hashes: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        if let Value::String(s) = v
            && s.len() == 40
            && s.bytes().all(|b| b.is_ascii_hexdigit())
        {
            hashes.push(s.clone());
        }
        *v = Value::String(format!("<generated {}>", kind(v)));
        return;
    };
    match v {
        Value::Array(items) if *first == "*" => {
            for item in items {
                mark(item, rest, hashes);
            }
        }
        Value::Object(o) => {
            if let Some(x) = o.get_mut(*first) {
                mark(x, rest, hashes);
            }
        }
        _ => {}
    }
}

fn replace_hashes(v: &mut Value, hashes: &[String]) {
    match v {
        Value::String(s) => {
            for h in hashes {
                if s.contains(h.as_str()) {
                    *s = s.replace(h.as_str(), "<hash>");
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_hashes(x, hashes)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_hashes(x, hashes)),
        _ => {}
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A canonical form in which arrays are sorted (arrays compare as multisets), objects too.
fn canonical(v: &Value) -> String {
    match v {
        Value::Array(a) => {
            let mut items: Vec<String> = a.iter().map(canonical).collect();
            items.sort();
            format!("[{}]", items.join(","))
        }
        Value::Object(o) => {
            let items: BTreeMap<&String, String> =
                o.iter().map(|(k, v)| (k, canonical(v))).collect();
            let parts: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String((*k).clone())))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        // Numbers: 1 and 1.0 are the same answer (PuppetDB's JSON writes what PostgreSQL holds).
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!("{}...", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

/// The differences between two values, as `path: ours=... theirs=...` lines.
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    if canonical(ours) == canonical(theirs) {
        return;
    }
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            let keys: std::collections::BTreeSet<&String> = o.keys().chain(t.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (o.get(k), t.get(k)) {
                    (Some(a), Some(b)) => diff(&p, a, b, out),
                    (Some(a), None) => out.push(format!("{p}: ours={} theirs=<absent>", short(a))),
                    (None, Some(b)) => out.push(format!("{p}: ours=<absent> theirs={}", short(b))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => diff_rows(path, o, t, false, out),
        _ => out.push(format!(
            "{path}: ours={} theirs={}",
            short(ours),
            short(theirs)
        )),
    }
}

/// Rows (or array items): in order when `ordered`, else as multisets: identical items are
/// paired first, the rest in canonical order.
fn diff_rows(path: &str, ours: &[Value], theirs: &[Value], ordered: bool, out: &mut Vec<String>) {
    if ours.len() != theirs.len() {
        out.push(format!(
            "{path}: ours has {} items, theirs {}",
            ours.len(),
            theirs.len()
        ));
    }
    if ordered {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            diff(&format!("{path}[{i}]"), a, b, out);
        }
        for (i, a) in ours.iter().enumerate().skip(theirs.len()) {
            out.push(format!("{path}[{i}]: ours={} theirs=<absent>", short(a)));
        }
        for (i, b) in theirs.iter().enumerate().skip(ours.len()) {
            out.push(format!("{path}[{i}]: ours=<absent> theirs={}", short(b)));
        }
        return;
    }
    let mut left: Vec<(String, &Value)> = ours.iter().map(|v| (canonical(v), v)).collect();
    let mut right: Vec<(String, &Value)> = theirs.iter().map(|v| (canonical(v), v)).collect();
    left.sort_by(|a, b| a.0.cmp(&b.0));
    right.sort_by(|a, b| a.0.cmp(&b.0));
    let mut only_left = Vec::new();
    let mut only_right = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        match left[i].0.cmp(&right[j].0) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                only_left.push(left[i].1);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_right.push(right[j].1);
                j += 1;
            }
        }
    }
    only_left.extend(left[i..].iter().map(|x| x.1));
    only_right.extend(right[j..].iter().map(|x| x.1));
    // Pair what is left by a key (certname/name/title...) when there is one, else in order.
    let key = |v: &Value| -> String {
        let mut k = String::new();
        for f in [
            "certname",
            "name",
            "path",
            "type",
            "title",
            "resource_type",
            "resource_title",
            "property",
            "source_type",
            "source_title",
            "target_type",
            "target_title",
            "relationship",
            "environment",
            "subject",
        ] {
            if let Some(x) = v.get(f) {
                k.push_str(&canonical(x));
                k.push('|');
            }
        }
        if k.is_empty() { canonical(v) } else { k }
    };
    only_left.sort_by_key(|v| key(v));
    only_right.sort_by_key(|v| key(v));
    let mut r: Vec<Option<&Value>> = only_right.iter().map(|v| Some(*v)).collect();
    let mut unpaired_left = Vec::new();
    for a in &only_left {
        let ka = key(a);
        if let Some(pos) = r.iter().position(|b| b.is_some_and(|b| key(b) == ka)) {
            let b = r[pos].take().unwrap_or(&Value::Null);
            diff(&format!("{path}[{}]", label(a)), a, b, out);
        } else {
            unpaired_left.push(*a);
        }
    }
    let unpaired_right: Vec<&Value> = r.into_iter().flatten().collect();
    for (a, b) in unpaired_left.iter().zip(&unpaired_right) {
        diff(&format!("{path}[{}]", label(a)), a, b, out);
    }
    for a in unpaired_left.iter().skip(unpaired_right.len()) {
        out.push(format!(
            "{path}[{}]: ours={} theirs=<absent>",
            label(a),
            short(a)
        ));
    }
    for b in unpaired_right.iter().skip(unpaired_left.len()) {
        out.push(format!(
            "{path}[{}]: ours=<absent> theirs={}",
            label(b),
            short(b)
        ));
    }
}

fn label(v: &Value) -> String {
    for f in ["certname", "name", "title", "resource_title", "path"] {
        if let Some(Value::String(s)) = v.get(f) {
            return format!("{f}={s}");
        }
    }
    "*".into()
}

fn saved(r: &Reply) -> Value {
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()));
    serde_json::json!({"status": r.status, "records": r.records, "body": body})
}

async fn compare(
    q: &Query,
    ours: &Server,
    theirs: &Server,
    save: &mut Option<std::fs::File>,
) -> Result<Vec<String>, BoxError> {
    let path = path_for(q);
    let (a, b) = tokio::join!(ours.get(&path), theirs.get(&path));
    let (a, b) = (a?, b?);
    if let Some(f) = save {
        use std::io::Write;
        let line = serde_json::json!({"line": q.line, "endpoint": q.endpoint, "query": q.query,
            "params": q.params, "ours": saved(&a), "theirs": saved(&b)});
        writeln!(f, "{line}")?;
    }
    let mut out = Vec::new();
    if a.status != b.status {
        out.push(format!(
            "status: ours={} theirs={} (ours: {}; theirs: {})",
            a.status,
            b.status,
            String::from_utf8_lossy(&a.body).trim(),
            String::from_utf8_lossy(&b.body).trim()
        ));
        return Ok(out);
    }
    if a.status != 200 {
        if !q.status_only && a.body != b.body {
            out.push(format!(
                "error text: ours={:?} theirs={:?}",
                String::from_utf8_lossy(&a.body).trim(),
                String::from_utf8_lossy(&b.body).trim()
            ));
        }
        return Ok(out);
    }
    let include_total = q
        .params
        .iter()
        .any(|(k, v)| k == "include_total" && v == "true");
    if include_total && a.records != b.records {
        out.push(format!(
            "X-Records: ours={:?} theirs={:?}",
            a.records, b.records
        ));
    }
    let va: Value = serde_json::from_slice(&a.body).map_err(|e| format!("ours: {e}"))?;
    let vb: Value = serde_json::from_slice(&b.body).map_err(|e| format!("theirs: {e}"))?;
    let fields = generated(&entity(q));
    match (va, vb) {
        (Value::Array(mut ra), Value::Array(mut rb)) => {
            ra.iter_mut().for_each(|r| normalise(r, fields));
            rb.iter_mut().for_each(|r| normalise(r, fields));
            let ordered = q.params.iter().any(|(k, _)| k == "order_by");
            diff_rows("", &ra, &rb, ordered, &mut out);
        }
        (mut x, mut y) => {
            normalise(&mut x, fields);
            normalise(&mut y, fields);
            diff("", &x, &y, &mut out);
        }
    }
    Ok(out)
}

async fn wait(args: &Args, ours: &Server, theirs: &Server) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut last = String::new();
    loop {
        let mut state = Vec::new();
        let mut ready = true;
        for (name, s) in [("ours", ours), ("theirs", theirs)] {
            let depth = s.queue_depth().await.unwrap_or(u64::MAX);
            let mut counts = Vec::new();
            for e in ["factsets", "catalogs", "reports"] {
                counts.push(s.count(e).await.unwrap_or(0));
            }
            let deactivated = match &args.wait_deactivated {
                Some(c) => s
                    .rows(
                        "nodes",
                        &format!(
                            r#"["and", ["=", "certname", "{c}"], ["=", "node_state", "inactive"]]"#
                        ),
                    )
                    .await
                    .map(|r| !r.is_empty())
                    .unwrap_or(false),
                None => true,
            };
            ready &= depth == 0 && deactivated;
            if let Some(n) = args.wait_reports {
                ready &= counts[2] == n;
            }
            state.push(format!(
                "{name}: queue {depth}, factsets/catalogs/reports {counts:?}, deactivated {deactivated}"
            ));
        }
        let line = state.join("; ");
        if line != last {
            eprintln!("  {line}");
            last = line;
        }
        let same = state[0].split_once(": ").map(|x| x.1) == state[1].split_once(": ").map(|x| x.1);
        if ready && same {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not both stored after {} s: {last}", args.timeout).into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let ours = Server::new(&args, args.ours)?;
    let theirs = Server::new(&args, args.theirs)?;
    if args.wait_reports.is_some() || args.wait_deactivated.is_some() {
        wait(&args, &ours, &theirs).await?;
    }
    let Some(file) = &args.queries else {
        return Ok(());
    };
    let text = common::read(file)?;
    let queries = parse_queries(&text)?;
    let mut save = match &args.save {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let mut identical = 0;
    for q in &queries {
        let what = format!(
            "line {} {} {}{}",
            q.line,
            q.endpoint,
            q.query.as_deref().unwrap_or("-"),
            q.params
                .iter()
                .map(|(k, v)| format!(" ;; {k}={v}"))
                .collect::<String>()
        );
        match compare(q, &ours, &theirs, &mut save).await {
            Ok(d) if d.is_empty() => identical += 1,
            Ok(d) => {
                println!("DIFF {what}");
                // The first lines of a long list say what is wrong; the count says how much.
                for l in d.iter().take(MAX_LINES) {
                    println!("    {l}");
                }
                if d.len() > MAX_LINES {
                    println!("    ... {} more differences", d.len() - MAX_LINES);
                }
            }
            Err(e) => println!("DIFF {what}\n    error: {e}"),
        }
    }
    println!("{} queries, {identical} identical", queries.len());
    if identical != queries.len() {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_compare_as_multisets_and_report_paths() {
        let mut out = Vec::new();
        diff_rows(
            "",
            &[
                json!({"certname": "a", "x": [1, 2]}),
                json!({"certname": "b", "x": 1}),
            ],
            &[
                json!({"certname": "b", "x": 2}),
                json!({"certname": "a", "x": [2, 1]}),
            ],
            false,
            &mut out,
        );
        assert_eq!(out, vec!["[certname=b].x: ours=1 theirs=2"]);
    }

    #[test]
    fn report_links_hide_the_generated_hash_only() {
        let h = "13d231e8236932f50efd81c8b757d77b6b7b1d66";
        let mut row = json!({"certname": "a", "metrics": {"href": format!("/pdb/query/v4/reports/{h}/metrics")},
            "other": format!("/pdb/query/v4/nodes/{h}/facts"), "short": "/pdb/query/v4/reports/abc/logs"});
        normalise(&mut row, &[]);
        assert_eq!(
            row["metrics"]["href"],
            "/pdb/query/v4/reports/<hash>/metrics"
        );
        assert_eq!(row["other"], format!("/pdb/query/v4/nodes/{h}/facts"));
        assert_eq!(row["short"], "/pdb/query/v4/reports/abc/logs");
    }

    #[test]
    fn queries_file_lines() {
        let q =
            parse_queries("# c\nroot nodes[certname] {} ;; limit=1 ;; compare=status\nnodes -\n")
                .expect("parse");
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].params, vec![("limit".to_string(), "1".to_string())]);
        assert!(q[0].status_only);
        assert_eq!(entity(&q[0]), "nodes");
        assert_eq!(q[1].query, None);
    }
}
