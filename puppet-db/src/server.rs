//! PuppetDB's HTTP API (feature `server`), as a [`Handler`] for puppet-protocol's generic
//! TLS server: `/pdb/cmd/v1`, `/pdb/query/v4[/...]`, `/pdb/meta/v1/version`,
//! `/pdb/meta/v1/server-time`, `/status/v1/services[/puppetdb-status]`, with PuppetDB's
//! status codes and error bodies. Storage work runs on blocking threads.
//!
//! Query answers are written while they are sent ([`ResponseWriter`]): the rows go out as the
//! storage reads them, in chunks of [`ApiLimits::stream`], gzipped as written when the client
//! takes gzip, and a client that reads slowly makes the storage thread wait rather than the
//! answer pile up in memory. What must be known before the first byte is: the status, the
//! `X-Records` of `include_total` (counted before the rows), and any error found until then
//! (a query that does not parse or compile, an unknown parent or object), which is answered
//! with PuppetDB's error status and body. An answer that fits its first chunk is sent whole,
//! with a `Content-Length`. A storage error after the first chunk has left closes the
//! connection before the last chunk, as PuppetDB (Jetty) does: the client sees a truncated
//! body, never a short answer taken for the whole. While it is sent, a streamed answer holds a
//! blocking thread and a storage connection (a client that stops reading is cut off by the
//! server's write timeout).

use std::sync::Arc;

use async_trait::async_trait;
use puppet_protocol::server::generic::{
    Handler, HttpRequest, HttpResponse, ResponseWriter, StreamOptions,
};
use serde_json::{Value, json};

use crate::error::{DbError, QueryErrorKind};
use crate::query::event_counts::EventCountsQuery;
use crate::{PUPPETDB_VERSION, Paging, PuppetDb, Timestamp};

const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Body limits of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiLimits {
    /// A command body as sent (gzipped or not; default 64 MiB). Gunzipped, a body is also
    /// bounded by [`crate::MAX_UNCOMPRESSED_BYTES`].
    pub command_bytes: u64,
    /// A query sent with POST (default 1 MiB).
    pub query_bytes: u64,
    /// How a query's answer is streamed: 64 KiB chunks, at most 4 waiting for a client
    /// (an answer of any size holds about 320 KiB of this process while it is sent).
    pub stream: StreamOptions,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            command_bytes: 64 * 1024 * 1024,
            query_bytes: 1024 * 1024,
            stream: StreamOptions::default(),
        }
    }
}

/// PuppetDB's API over a [`PuppetDb`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use puppet_db::{PuppetDb, server::Api};
/// use puppet_protocol::server::{Limits, TlsFiles, TlsSource, generic::GenericServer};
///
/// let db = PuppetDb::open_sqlite("/var/lib/puppet-db/puppetdb.sqlite")?;
/// let tls = TlsSource::new(TlsFiles {
///     cert_pem: std::fs::read_to_string("/etc/puppetdb/ssl/cert.pem")?,
///     key_pem: std::fs::read_to_string("/etc/puppetdb/ssl/key.pem")?,
///     ca_pem: std::fs::read_to_string("/etc/puppetdb/ssl/ca.pem")?,
///     crl_path: "".into(),
/// })?;
/// let server = GenericServer::new(tls, Arc::new(Api::new(db)), Limits::default());
/// let running = server.bind("127.0.0.1:8081".parse()?).await?;
/// running.wait().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Api {
    db: PuppetDb,
    limits: ApiLimits,
    allowlist: Option<Arc<CertificateAllowlist>>,
}

/// PuppetDB's `certificate-allowlist`: a file of certnames, one a line; when set, only those
/// certnames may use the `/pdb/` API (commands, queries, metadata), the others get 403 with
/// PuppetDB's text. Read once, at start (as PuppetDB reads it). Blank lines and lines
/// starting with `#` are ignored; names are matched exactly.
///
/// ```
/// use puppet_db::server::CertificateAllowlist;
/// let list = CertificateAllowlist::parse("puppet.example.test\n\n# dashboards\nboard.example.test\n");
/// assert!(list.allows("puppet.example.test"));
/// assert!(list.allows("board.example.test"));
/// assert!(!list.allows("agent1.example.test"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateAllowlist {
    names: std::collections::HashSet<String>,
    source: String,
}

impl CertificateAllowlist {
    /// The certnames of `text`.
    pub fn parse(text: &str) -> CertificateAllowlist {
        CertificateAllowlist {
            names: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
            source: String::new(),
        }
    }

    /// Reads the file `path`.
    pub fn read(path: &std::path::Path) -> Result<CertificateAllowlist, DbError> {
        let text = std::fs::read_to_string(path).map_err(|source| DbError::Io {
            what: format!("read the certificate-allowlist {}", path.display()),
            source,
        })?;
        let mut list = CertificateAllowlist::parse(&text);
        list.source = path.display().to_string();
        Ok(list)
    }

    /// Whether `certname` may use the API.
    pub fn allows(&self, certname: &str) -> bool {
        self.names.contains(certname)
    }

    /// How many certnames it holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it holds none (then nobody may use the API).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl Api {
    /// The API over `db`, default limits.
    pub fn new(db: PuppetDb) -> Api {
        Api {
            db,
            limits: ApiLimits::default(),
            allowlist: None,
        }
    }

    /// The same, serving the `/pdb/` API only to the certnames of `allowlist` (PuppetDB's
    /// `certificate-allowlist`).
    pub fn with_certificate_allowlist(mut self, allowlist: CertificateAllowlist) -> Api {
        self.allowlist = Some(Arc::new(allowlist));
        self
    }

    /// The same, with `limits`.
    pub fn with_limits(mut self, limits: ApiLimits) -> Api {
        self.limits = limits;
        self
    }
}

fn json_response(status: u16, v: &Value) -> HttpResponse {
    HttpResponse::new(status, JSON, serde_json::to_vec(v).unwrap_or_default())
}

fn text(status: u16, msg: &str) -> HttpResponse {
    HttpResponse::new(status, TEXT, msg.as_bytes().to_vec())
}

fn status_body() -> Value {
    json!({
        "service_version": PUPPETDB_VERSION,
        "service_status_version": 1,
        "detail_level": "info",
        "state": "running",
        "status": {
            "maintenance_mode?": false,
            "queue_depth": 0,
            "read_db_up?": true,
            "write_db_up?": true,
            "write_dbs_up?": true,
            "read_db": ["default"],
            "write_dbs": ["default"]
        },
        "active_alerts": []
    })
}

/// Runs storage work on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Storage(format!("worker: {e}")))?
}

impl Api {
    async fn command(&self, req: HttpRequest) -> HttpResponse {
        let db = self.db.clone();
        let params = req.query.0.clone();
        let body = req.body;
        match blocking(move || db.submit(&params, &body)).await {
            Ok(uuid) => json_response(200, &json!({"uuid": uuid})),
            Err(e) => json_response(e.http_status(), &json!({"error": e.to_string()})),
        }
    }

    async fn query(&self, req: HttpRequest, rest: &str) -> HttpResponse {
        // Decoded segment by segment by the routes (a `%2F` in a title is not a `/`); the
        // endpoint's name is compared decoded.
        let decoded = match puppet_protocol::form::decode_path(rest, "query path") {
            Ok(r) => r,
            Err(e) => return text(400, &e.to_string()),
        };
        let rest = rest.to_string();
        // GET: parameters; POST: a JSON body with the same keys.
        let mut params: Vec<(String, String)> = req.query.0.clone();
        if req.method.as_str() == "POST" {
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return text(400, &format!("Malformed JSON for body: {e}")),
            };
            let Some(map) = body.as_object() else {
                return text(400, "The body must be a JSON object");
            };
            for (k, v) in map {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                params.push((k.clone(), s));
            }
        }
        let paging = match Paging::from_params(&params) {
            Ok(p) => p,
            Err(e) => return text(400, &e.to_string()),
        };
        let query = params
            .iter()
            .rev()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.clone());
        let db = self.db.clone();
        let ast_only = params
            .iter()
            .any(|(k, v)| k == "ast_only" && (v == "true" || v.is_empty()));
        if params.iter().any(|(k, _)| k == "ast_only") && !decoded.trim_matches('/').is_empty() {
            // PuppetDB takes `ast_only` on the root endpoint only.
            return text(400, "Unsupported query parameter 'ast_only'");
        }
        if ast_only {
            // The root endpoint's `ast_only`: the AST of a query that compiles.
            let Some(query) = query else {
                return text(400, "Missing required query parameter 'query'");
            };
            return match blocking(move || db.ast_only(&query)).await {
                Ok(ast) => json_response(200, &ast),
                Err(e) => text(e.http_status(), &e.to_string()),
            };
        }
        let path = rest.clone();
        let endpoint = decoded.trim_matches('/').to_string();
        if endpoint == "event-counts" || endpoint == "aggregate-event-counts" {
            let counts = match EventCountsQuery::from_params(&params) {
                Ok(c) => c,
                Err(e) => return text(e.http_status(), &e.to_string()),
            };
            let answer = blocking(move || {
                if endpoint == "event-counts" {
                    db.event_counts(query.as_deref(), &counts, &paging)
                } else {
                    db.aggregate_event_counts(query.as_deref(), &counts)
                        .map(|rows| crate::Answer {
                            rows,
                            total: None,
                            single: false,
                        })
                }
            })
            .await;
            return match answer {
                Ok(answer) => {
                    let mut r = json_response(200, &Value::Array(answer.rows));
                    if let Some(total) = answer.total {
                        r.headers.push(("X-Records".into(), total.to_string()));
                    }
                    r
                }
                Err(e) => text(e.http_status(), &e.to_string()),
            };
        }
        // Everything known before the first byte (parse, compile, parent checks, the total)
        // is done first: an error there is PuppetDB's error answer. Then the rows are
        // written while they are sent, in bounded memory (see `ResponseWriter`).
        let options = StreamOptions {
            gzip: req.accepts_gzip(),
            ..self.limits.stream
        };
        let (mut writer, pending) = ResponseWriter::new(200, JSON, options);
        let streamed = tokio::task::spawn_blocking(move || {
            let answer = match db.query_json_stream(&path, query.as_deref(), &paging) {
                Ok(a) => a,
                Err(e) => {
                    writer.fail(query_error(e), "");
                    return;
                }
            };
            if let Some(total) = answer.total() {
                writer.set_header("X-Records", &total.to_string());
            }
            match answer.write_to(&mut writer) {
                Ok(()) => {
                    // A client gone before the end: nothing to tell.
                    let _ = writer.finish();
                }
                Err(DbError::Io { what, source }) if what == "send the answer" => {
                    tracing::debug!("query answer not sent whole: {source}");
                }
                Err(e) => {
                    let why = format!("query failed after its answer started: {e}");
                    if !writer.fail(query_error(e), &why) {
                        // PuppetDB (Jetty) does the same: the client sees a truncated
                        // body, never a short answer taken for the whole.
                        tracing::error!("{why}: connection aborted");
                    }
                }
            }
        });
        // Dropped with this future (client gone), the task's next write fails and it stops.
        drop(streamed);
        pending.response().await
    }
}

/// PuppetDB's answer to a query error: 404 with its JSON body for an object it does not
/// know, 404 text for an unknown endpoint, the error's status and text otherwise.
fn query_error(e: DbError) -> HttpResponse {
    match e {
        DbError::Query {
            kind: QueryErrorKind::UnknownEntity,
            message,
        } if message.starts_with("No information") => {
            // Pretty-printed as PuppetDB's JSON writer does (`"error" : ...`).
            let body = format!(
                "{{\n  \"error\" : {}\n}}",
                serde_json::to_string(&message).unwrap_or_default()
            );
            HttpResponse::new(404, JSON, body.into_bytes())
        }
        DbError::Query {
            kind: QueryErrorKind::UnknownEntity,
            message,
        } if message.starts_with("No such endpoint") => text(404, &message),
        e => text(e.http_status(), &e.to_string()),
    }
}

#[async_trait]
impl Handler for Api {
    fn body_limit(&self, method: &http::Method, path: &str) -> u64 {
        match (method.as_str(), path) {
            ("POST", "/pdb/cmd/v1") => self.limits.command_bytes,
            ("POST", p) if p.starts_with("/pdb/query/v4") => self.limits.query_bytes,
            _ => 64 * 1024,
        }
    }

    async fn handle(&self, req: HttpRequest) -> HttpResponse {
        let path = req.path.clone();
        let method = req.method.as_str().to_string();
        if path.starts_with("/pdb/")
            && let Some(list) = &self.allowlist
        {
            let cn = req.client.certname.as_deref();
            if !cn.is_some_and(|c| list.allows(c)) {
                let cn = cn.unwrap_or("");
                if !cn.is_empty() {
                    tracing::warn!("{cn} rejected by certificate allowlist {}", list.source);
                }
                return text(
                    403,
                    &format!(
                        "Permission denied: The client certificate name {cn} doesn't appear in the certificate allowlist. Is your master's (or other PuppetDB client's) certname listed in PuppetDB's certificate-allowlist file?"
                    ),
                );
            }
        }
        if path.starts_with("/status/v1/") || path.starts_with("/pdb/meta/v1/") {
            return match (method.as_str(), path.as_str()) {
                ("GET", "/status/v1/services/puppetdb-status") => {
                    json_response(200, &status_body())
                }
                ("GET", "/status/v1/services") => {
                    json_response(200, &json!({"puppetdb-status": status_body()}))
                }
                ("GET", "/pdb/meta/v1/version") => {
                    json_response(200, &json!({"version": PUPPETDB_VERSION}))
                }
                ("GET", "/pdb/meta/v1/server-time") => {
                    json_response(200, &json!({"server_time": Timestamp::now().to_string()}))
                }
                _ => text(404, "Not Found"),
            };
        }
        // PuppetDB over TLS needs a client certificate from the CA for its API.
        if req.client.certname.is_none() {
            return text(403, "Permission denied: a client certificate is required");
        }
        if path == "/pdb/cmd/v1" || path == "/pdb/cmd/v1/" {
            if method != "POST" {
                return text(405, "Method Not Allowed: commands are submitted with POST");
            }
            return self.command(req).await;
        }
        if let Some(rest) = path.strip_prefix("/pdb/query/v4") {
            if !(rest.is_empty() || rest.starts_with('/')) {
                return text(404, "Not Found");
            }
            if method != "GET" && method != "POST" {
                return text(405, "Method Not Allowed");
            }
            let rest = rest.to_string();
            return self.query(req, &rest).await;
        }
        text(404, "Not Found")
    }
}

impl From<Arc<PuppetDb>> for Api {
    fn from(db: Arc<PuppetDb>) -> Api {
        Api::new((*db).clone())
    }
}

/// The TLS side from PuppetDB's `ssl-cert`, `ssl-key`, `ssl-ca-cert` and optional
/// `ssl-crl-path` files.
pub fn tls_source(
    cert: &std::path::Path,
    key: &std::path::Path,
    ca: &std::path::Path,
    crl: Option<&std::path::Path>,
) -> Result<puppet_protocol::server::TlsSource, DbError> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|source| DbError::Io {
            what: format!("read {}", p.display()),
            source,
        })
    };
    puppet_protocol::server::TlsSource::new(puppet_protocol::server::TlsFiles {
        cert_pem: read(cert)?,
        key_pem: read(key)?,
        ca_pem: read(ca)?,
        crl_path: crl.map(std::path::Path::to_path_buf).unwrap_or_default(),
    })
    .map_err(|e| DbError::Config(e.to_string()))
}
