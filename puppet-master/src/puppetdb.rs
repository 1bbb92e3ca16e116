//! PuppetDB as the master's storage, configured as a Puppet user configures Puppetserver's
//! PuppetDB terminus:
//!
//! ```text
//! $confdir/puppetdb.conf           [main]
//!                                  server_urls = https://puppetdb.example.test:8081
//!                                  soft_write_failure = false
//! $confdir/puppet.conf  [server]   storeconfigs = true
//!                                  storeconfigs_backend = puppetdb
//!                                  reports = store,puppetdb
//! ```
//!
//! The master then sends PuppetDB what the terminus sends, in the same documents:
//! `replace facts` v5 when an agent's facts arrive (before its catalog is compiled),
//! `replace catalog` v9 after each compile (and each time the master sends a node its cached
//! catalog again, where Puppetserver would have compiled it again), and `store report` v8
//! for each report, over mTLS with the master's own certificate, gzipped, on keep-alive
//! connections. Sensitive values are taken out before anything leaves (parameters of
//! `sensitive_parameters`, and report events marked `redacted`). The facts carry `trusted` as
//! Puppetserver makes it from the certificate the agent presented ([`trusted_data`]:
//! `trusted.extensions` holds its `pp_role` and other Puppet extensions).
//! `replace catalog inputs` goes out only when a compiler has inputs to report
//! ([`PuppetDbStorage::send_catalog_inputs`]): the data compiler looks up no Hiera keys.
//!
//! Failures are handled as the terminus handles them: with `soft_write_failure = true` a
//! failed command is logged and the request goes on; with `false` (the default) the agent's
//! facts or catalog request fails with 500. A failed report processor is always only
//! logged (Puppet's report processing logs each processor's failure).
//!
//! The facts, catalogs and reports also go to the [`FsStorage`] (`reports` without `store`
//! keeps no report files), so the master still reads a node's last facts from disk.
//!
//! Library users may send the commands anywhere with a [`CommandSink`]: [`PuppetDbClient`]
//! over HTTPS, or (feature `puppet-db`) a `puppet_db::PuppetDb` in the same process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use puppet_ca::oids::{PP_PRIV_CERT_EXT, PP_REG_CERT_EXT};
use puppet_catalog::Catalog;
use puppet_facts::Facts;
use puppet_protocol::ProtocolError;
use puppet_protocol::client::{Client, ClientError, Identity, PdbCommand};
use puppet_protocol::server::{CatalogArchive, CompileRequest, FactStore, ReportSink};
use puppet_report::Report;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{FsStorage, MasterError};

/// `puppetdb.conf`'s settings (Puppet's names; others are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PuppetDbConf {
    /// `server_urls`: where commands go, tried in order (default `https://puppetdb:8081`).
    pub server_urls: Vec<ServerUrl>,
    /// `soft_write_failure`: a failed command is logged instead of failing the request.
    pub soft_write_failure: bool,
    /// `server_url_timeout` (seconds, default 30): the read timeout of each command.
    pub server_url_timeout: Duration,
}

/// One of `server_urls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Host name (the server's certificate must be valid for it) or IP address.
    pub host: String,
    /// Port (8081 when absent).
    pub port: u16,
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "https://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "https://{}:{}", self.host, self.port)
        }
    }
}

impl Default for PuppetDbConf {
    fn default() -> Self {
        PuppetDbConf {
            server_urls: vec![ServerUrl {
                host: "puppetdb".into(),
                port: 8081,
            }],
            soft_write_failure: false,
            server_url_timeout: Duration::from_secs(30),
        }
    }
}

impl PuppetDbConf {
    /// Parses `puppetdb.conf` (`[main]`; the terminus's defaults for what is absent).
    ///
    /// ```
    /// use puppet_master::puppetdb::PuppetDbConf;
    /// let conf = PuppetDbConf::parse("[main]\nserver_urls = https://db1:8081, https://db2\nsoft_write_failure = true\n").unwrap();
    /// assert_eq!(conf.server_urls.len(), 2);
    /// assert_eq!(conf.server_urls[1].port, 8081);
    /// assert!(conf.soft_write_failure);
    /// assert!(PuppetDbConf::parse("[main]\nserver_urls = http://db1:8080\n").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<PuppetDbConf, String> {
        let mut conf = PuppetDbConf::default();
        let mut section = "main".to_string();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                continue;
            }
            if section != "main" {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "server_urls" => {
                    conf.server_urls = value
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(parse_url)
                        .collect::<Result<_, _>>()?;
                    if conf.server_urls.is_empty() {
                        return Err("server_urls is empty".into());
                    }
                }
                "soft_write_failure" => {
                    conf.soft_write_failure = match value {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(format!(
                                "soft_write_failure: invalid value for Boolean: {other:?}"
                            ));
                        }
                    }
                }
                "server_url_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("server_url_timeout: not a number: {value:?}"))?;
                    conf.server_url_timeout = Duration::from_secs(secs.max(1));
                }
                _ => {}
            }
        }
        Ok(conf)
    }

    /// Reads `path`; the defaults when it does not exist (as the terminus).
    pub fn read(path: &Path) -> Result<PuppetDbConf, MasterError> {
        match std::fs::read_to_string(path) {
            Ok(text) => PuppetDbConf::parse(&text).map_err(|message| MasterError::Config {
                file: path.to_path_buf(),
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(
                    "no {}: PuppetDB at the default https://puppetdb:8081",
                    path.display()
                );
                Ok(PuppetDbConf::default())
            }
            Err(source) => Err(MasterError::Io {
                what: format!("read {}", path.display()),
                source,
            }),
        }
    }
}

/// `https://HOST[:PORT][/]`.
fn parse_url(url: &str) -> Result<ServerUrl, String> {
    let bad = || format!("server_urls: {url:?} is not https://HOST:PORT");
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 8081,
            None => return Err(bad()),
        };
        return Ok(ServerUrl {
            host: host.to_string(),
            port,
        });
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => Ok(ServerUrl {
            host: host.to_string(),
            port: port.parse().map_err(|_| bad())?,
        }),
        None => Ok(ServerUrl {
            host: rest.to_string(),
            port: 8081,
        }),
    }
}

/// Where PuppetDB commands go: a PuppetDB over HTTPS ([`PuppetDbClient`]), or an
/// in-process store.
#[async_trait]
pub trait CommandSink: Send + Sync {
    /// Submits one command; the UUID it was queued under. The error's text is logged or
    /// answered to the agent (500), so it must hold no secret.
    async fn submit(&self, command: &PdbCommand<'_>) -> Result<String, String>;
}

/// PuppetDB's command API over HTTPS: the master's certificate, each of `server_urls` in
/// turn until one takes the command, a pool of keep-alive connections per URL.
#[derive(Debug)]
pub struct PuppetDbClient {
    servers: Vec<(ServerUrl, Pool)>,
}

#[derive(Debug)]
struct Pool {
    template: Client,
    idle: std::sync::Mutex<Vec<Client>>,
}

/// Idle connections kept per server.
const POOL_SIZE: usize = 16;

impl Pool {
    fn take(&self) -> (Client, bool) {
        let popped = match self.idle.lock() {
            Ok(mut g) => g.pop(),
            Err(p) => p.into_inner().pop(),
        };
        match popped {
            Some(c) => (c, true),
            None => (self.template.with_own_connection(), false),
        }
    }

    fn give_back(&self, client: Client) {
        let mut idle = match self.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if idle.len() < POOL_SIZE {
            idle.push(client);
        }
    }
}

impl PuppetDbClient {
    /// A client of the servers of `conf`, trusting `ca_pem` (and checking `crl_pem` when
    /// given), presenting `identity` (the master's certificate and key).
    ///
    /// ```
    /// use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
    /// use puppet_master::puppetdb::{PuppetDbClient, PuppetDbConf};
    /// let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: m") };
    /// let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
    /// let (key_pem, cert_pem) = ca.generate("m.example.test", &[]).unwrap();
    /// let identity = puppet_protocol::client::Identity { cert_pem, key_pem };
    /// let conf = PuppetDbConf::parse("server_urls = https://localhost:8081\n").unwrap();
    /// let client = PuppetDbClient::new(&conf, &ca.ca_certificate_pem().unwrap(), None, identity);
    /// assert!(client.is_ok());
    /// ```
    pub fn new(
        conf: &PuppetDbConf,
        ca_pem: &str,
        crl_pem: Option<&str>,
        identity: Identity,
    ) -> Result<PuppetDbClient, MasterError> {
        let mut servers = Vec::new();
        for url in &conf.server_urls {
            let mut builder = Client::builder(&url.host, url.port)
                .ca_pem(ca_pem)
                .identity(identity.clone())
                .connect_timeout(conf.server_url_timeout.min(Duration::from_secs(10)))
                .read_timeout(conf.server_url_timeout)
                .max_response_bytes(1024 * 1024);
            if let Some(crl) = crl_pem {
                builder = builder.crl_pem(crl);
            }
            let template = builder.build()?;
            servers.push((
                url.clone(),
                Pool {
                    template,
                    idle: std::sync::Mutex::new(Vec::new()),
                },
            ));
        }
        Ok(PuppetDbClient { servers })
    }

    async fn submit_to(pool: &Pool, command: &PdbCommand<'_>) -> Result<String, ClientError> {
        let (client, reused) = pool.take();
        let result = match client.pdb_command(command).await {
            // A kept-alive connection the server had closed: once more on a new one.
            Err(ClientError::Http { .. }) if reused => {
                let fresh = pool.template.with_own_connection();
                let r = fresh.pdb_command(command).await;
                if r.is_ok() {
                    pool.give_back(fresh);
                }
                return r;
            }
            r => r,
        };
        if result.is_ok() {
            pool.give_back(client);
        }
        result
    }
}

#[async_trait]
impl CommandSink for PuppetDbClient {
    async fn submit(&self, command: &PdbCommand<'_>) -> Result<String, String> {
        let mut errors = Vec::new();
        for (url, pool) in &self.servers {
            match Self::submit_to(pool, command).await {
                Ok(uuid) => return Ok(uuid),
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        Err(errors.join("; "))
    }
}

/// In-process: the command applied to a `puppet_db::PuppetDb` (on a blocking thread).
#[cfg(feature = "puppet-db")]
#[async_trait]
impl CommandSink for puppet_db::PuppetDb {
    async fn submit(&self, command: &PdbCommand<'_>) -> Result<String, String> {
        let body = serde_json::to_vec(command.payload).map_err(|e| e.to_string())?;
        let params = vec![
            ("command".to_string(), command.command.replace(' ', "_")),
            ("version".to_string(), command.version.to_string()),
            ("certname".to_string(), command.certname.to_string()),
            (
                "producer-timestamp".to_string(),
                command.producer_timestamp.to_string(),
            ),
        ];
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.submit(&params, &body).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }
}

/// The master's storage with PuppetDB: [`FsStorage`] for what the master reads back, and
/// the terminus's commands to a [`CommandSink`].
#[derive(Clone)]
pub struct PuppetDbStorage {
    fs: FsStorage,
    sink: Arc<dyn CommandSink>,
    producer: String,
    storeconfigs: bool,
    reports: Vec<String>,
    soft_write_failure: bool,
    oid_mapping: Arc<OidMapping>,
}

impl std::fmt::Debug for PuppetDbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PuppetDbStorage")
            .field("producer", &self.producer)
            .field("storeconfigs", &self.storeconfigs)
            .field("reports", &self.reports)
            .field("soft_write_failure", &self.soft_write_failure)
            .finish_non_exhaustive()
    }
}

impl PuppetDbStorage {
    /// Storage over `fs` sending to `sink` as the master `producer` (its certname):
    /// facts and catalogs when `storeconfigs` (`storeconfigs = true`,
    /// `storeconfigs_backend = puppetdb`), reports when `reports` (Puppet's `reports`
    /// setting, split) holds `puppetdb`; report files when it holds `store`.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use puppet_master::{FsStorage, puppetdb::{CommandSink, PuppetDbStorage}};
    /// use puppet_protocol::client::PdbCommand;
    /// use puppet_protocol::server::FactStore;
    ///
    /// /// Keeps the commands' names (a test sink).
    /// #[derive(Default)]
    /// struct Names(std::sync::Mutex<Vec<String>>);
    /// #[async_trait::async_trait]
    /// impl CommandSink for Names {
    ///     async fn submit(&self, c: &PdbCommand<'_>) -> Result<String, String> {
    ///         self.0.lock().unwrap().push(format!("{} v{}", c.command, c.version));
    ///         Ok("uuid".into())
    ///     }
    /// }
    /// let dir = tempfile::tempdir().unwrap();
    /// let names = Arc::new(Names::default());
    /// let storage = PuppetDbStorage::new(FsStorage::new(dir.path()), names.clone(),
    ///     "puppet.example.test", true, vec!["store".into(), "puppetdb".into()], false);
    /// let facts = puppet_facts::Facts::from_json(br#"{"name": "n1", "values": {"kernel": "Linux"}}"#).unwrap();
    /// storage.save_facts_for("n1", &facts, "production").await.unwrap();
    /// assert_eq!(*names.0.lock().unwrap(), ["replace facts v5"]);
    /// # });
    /// ```
    pub fn new(
        fs: FsStorage,
        sink: Arc<dyn CommandSink>,
        producer: impl Into<String>,
        storeconfigs: bool,
        reports: Vec<String>,
        soft_write_failure: bool,
    ) -> PuppetDbStorage {
        PuppetDbStorage {
            fs,
            sink,
            producer: producer.into(),
            storeconfigs,
            reports,
            soft_write_failure,
            oid_mapping: Arc::new(OidMapping::default()),
        }
    }

    /// Names private certificate extensions in `trusted.extensions` by the short names of a
    /// `custom_trusted_oid_mapping.yaml`, as Puppetserver does.
    pub fn with_oid_mapping(mut self, mapping: OidMapping) -> PuppetDbStorage {
        self.oid_mapping = Arc::new(mapping);
        self
    }

    /// The filesystem store underneath.
    pub fn fs(&self) -> &FsStorage {
        &self.fs
    }

    /// Sends one command; a failure is logged (`soft_write_failure`) or returned as a 500.
    async fn send(
        &self,
        command: &str,
        version: u32,
        certname: &str,
        now: OffsetDateTime,
        payload: Result<Value, String>,
        soft: bool,
    ) -> Result<(), ProtocolError> {
        let stamp = wire_time_utc(now);
        let result = match payload {
            Ok(payload) => {
                self.sink
                    .submit(&PdbCommand {
                        command,
                        version,
                        certname,
                        producer_timestamp: &stamp,
                        payload: &payload,
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(uuid) => {
                tracing::info!(
                    "'{command}' command for {certname} submitted to PuppetDB with UUID {uuid}"
                );
                Ok(())
            }
            Err(e) => {
                let message =
                    format!("Failed to submit '{command}' command for {certname} to PuppetDB: {e}");
                tracing::error!("{message}");
                if soft {
                    Ok(())
                } else {
                    Err(ProtocolError::Internal(message))
                }
            }
        }
    }

    /// Sends `replace catalog inputs` v1: the `(type, name)` inputs the compile of the catalog
    /// `catalog_uuid` of `certname` used, as Puppetserver's terminus sends them after the
    /// catalog (one `("hiera", key)` per Hiera key looked up, with Puppetserver's
    /// `jruby-puppet.track-lookups`). The master's own data compiler looks nothing up and has
    /// no such inputs; a compiler that does sends them with this. No inputs: nothing is sent,
    /// as the terminus sends nothing. Without `storeconfigs` nothing is sent either.
    ///
    /// ```
    /// # #[cfg(feature = "puppet-db")] tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use puppet_master::{FsStorage, puppetdb::PuppetDbStorage};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = puppet_db::PuppetDb::open_sqlite(dir.path().join("pdb.sqlite")).unwrap();
    /// let storage = PuppetDbStorage::new(FsStorage::new(dir.path().join("fs")), Arc::new(db.clone()),
    ///     "puppet.example.test", true, vec![], false);
    /// let inputs = [("hiera".to_string(), "ntp::servers".to_string())];
    /// storage.send_catalog_inputs("n1", "6c2a2b15-1c1e-4081-a723-e9b40989d1e5", &inputs).await.unwrap();
    /// let rows = db.query("catalog-input-contents", Some(r#"["=", "node_state", "any"]"#), &Default::default()).unwrap().rows;
    /// assert_eq!(rows[0]["name"], "ntp::servers");
    /// # });
    /// ```
    pub async fn send_catalog_inputs(
        &self,
        certname: &str,
        catalog_uuid: &str,
        inputs: &[(String, String)],
    ) -> Result<(), ProtocolError> {
        if !self.storeconfigs || inputs.is_empty() {
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        let mut doc = Map::new();
        doc.insert("certname".into(), certname.into());
        doc.insert("catalog_uuid".into(), catalog_uuid.into());
        doc.insert("producer_timestamp".into(), wire_time_local(now).into());
        doc.insert(
            "inputs".into(),
            Value::Array(
                inputs
                    .iter()
                    .map(|(t, n)| Value::Array(vec![t.as_str().into(), n.as_str().into()]))
                    .collect(),
            ),
        );
        self.send(
            "replace catalog inputs",
            1,
            certname,
            now,
            Ok(Value::Object(doc)),
            self.soft_write_failure,
        )
        .await
    }

    async fn replace_catalog(
        &self,
        request: &CompileRequest,
        catalog: &Catalog,
    ) -> Result<(), ProtocolError> {
        let now = OffsetDateTime::now_utc();
        let payload = catalog_command(
            catalog,
            &request.environment,
            request.transaction_uuid.as_deref(),
            None,
            &self.producer,
            now,
        );
        self.send(
            "replace catalog",
            9,
            &request.certname,
            now,
            payload,
            self.soft_write_failure,
        )
        .await
    }
}

#[async_trait]
impl FactStore for PuppetDbStorage {
    async fn save_facts(&self, certname: &str, facts: &Facts) -> Result<(), ProtocolError> {
        self.save_facts_for(certname, facts, "production").await
    }

    async fn facts(&self, certname: &str) -> Result<Option<Facts>, ProtocolError> {
        self.fs.facts(certname).await
    }

    async fn save_facts_for(
        &self,
        certname: &str,
        facts: &Facts,
        environment: &str,
    ) -> Result<(), ProtocolError> {
        self.save_client_facts(certname, facts, environment, None)
            .await
    }

    async fn save_client_facts(
        &self,
        certname: &str,
        facts: &Facts,
        environment: &str,
        client_cert_der: Option<&[u8]>,
    ) -> Result<(), ProtocolError> {
        self.fs.save_facts(certname, facts).await?;
        if !self.storeconfigs {
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        let mut payload = facts_command(facts, certname, environment, &self.producer, now);
        payload["values"]["trusted"] =
            trusted_data_mapped(certname, client_cert_der, &self.oid_mapping);
        self.send(
            "replace facts",
            5,
            certname,
            now,
            Ok(payload),
            self.soft_write_failure,
        )
        .await
    }
}

#[async_trait]
impl CatalogArchive for PuppetDbStorage {
    async fn save_catalog(
        &self,
        certname: &str,
        catalog: &Catalog,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        let request = CompileRequest {
            certname: certname.to_string(),
            environment: catalog
                .environment
                .clone()
                .unwrap_or_else(|| "production".into()),
            facts: None,
            node: puppet_protocol::server::NodeInfo::default(),
            transaction_uuid: None,
            static_catalog: false,
            checksum_types: Vec::new(),
        };
        self.save_compiled(&request, catalog, json).await
    }

    async fn save_compiled(
        &self,
        request: &CompileRequest,
        catalog: &Catalog,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        self.fs
            .save_catalog(&request.certname, catalog, json)
            .await?;
        if !self.storeconfigs {
            return Ok(());
        }
        self.replace_catalog(request, catalog).await
    }

    async fn catalog_resent(
        &self,
        request: &CompileRequest,
        json: &[u8],
    ) -> Result<(), ProtocolError> {
        if !self.storeconfigs {
            return Ok(());
        }
        let catalog = Catalog::from_json(json)
            .map_err(|e| ProtocolError::Internal(format!("the cached catalog: {e}")))?;
        self.replace_catalog(request, &catalog).await
    }
}

#[async_trait]
impl ReportSink for PuppetDbStorage {
    async fn store_report(
        &self,
        certname: &str,
        report: &Report,
        raw: &[u8],
    ) -> Result<Vec<String>, ProtocolError> {
        for name in &self.reports {
            match name.as_str() {
                "store" => {
                    self.fs.store_report(certname, report, raw).await?;
                }
                "puppetdb" => {
                    let now = OffsetDateTime::now_utc();
                    let payload = report_command(report, &self.producer, now);
                    // Puppet logs a report processor's failure; the agent's request succeeds.
                    self.send("store report", 8, certname, now, payload, true)
                        .await?;
                }
                other => tracing::warn!("No report named '{other}'"),
            }
        }
        Ok(self.reports.clone())
    }
}

/// The time as the terminus writes a UTC time (`Time#utc.iso8601(3)`):
/// `2026-12-03T02:44:21.002Z`.
///
/// ```
/// let t = time::macros::datetime!(2026-12-03 02:44:21.002999 UTC);
/// assert_eq!(puppet_master::puppetdb::wire_time_utc(t), "2026-12-03T02:44:21.002Z");
/// ```
pub fn wire_time_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The time as the terminus writes a server-local time (`Time#iso8601(3)`, the master's
/// zone being UTC): `2026-12-03T02:44:17.701+00:00`.
fn wire_time_local(t: OffsetDateTime) -> String {
    let utc = wire_time_utc(t);
    format!("{}+00:00", &utc[..utc.len() - 1])
}

/// A time of the agent's (RFC 3339, any precision) as the terminus re-writes it: to the
/// millisecond, its offset kept (`Z` stays `Z`); `None` when it does not parse.
fn wire_time_of(s: &str) -> Option<String> {
    wire_time_plus(s, 0.0)
}

/// As [`wire_time_of`], `secs` later.
fn wire_time_plus(s: &str, secs: f64) -> Option<String> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let t = if secs.is_finite() && secs != 0.0 {
        t + time::Duration::seconds_f64(secs)
    } else {
        t
    };
    let off = t.offset();
    let zone = if s.ends_with('Z') || s.ends_with('z') {
        "Z".to_string()
    } else {
        let (h, m, _) = off.as_hms();
        let sign = if off.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

fn wire_time_value(s: &str) -> Value {
    Value::String(wire_time_of(s).unwrap_or_else(|| s.to_string()))
}

/// `trusted` as Puppetserver computes it for a remote node authenticated with the
/// certificate `client_cert_der` (DER): `authenticated`, `certname`, `hostname` and `domain`
/// (the certname split at its first dot; `domain` null without one), `external` (empty: no
/// `trusted_external_command`) and `extensions`: the certificate's extensions under Puppet's
/// registered (1.3.6.1.4.1.34380.1.1) and private (1.3.6.1.4.1.34380.1.2) arcs, in the
/// certificate's order, by Puppet's short name (`pp_role`) where the OID has one and by
/// dotted OID otherwise, valued by their text. Puppetserver selects them by a plain prefix of
/// the OID's text, and so does this. Authorization extensions (`pp_cli_auth`) are not among
/// them, as in Puppetserver. Without a certificate (or one that does not parse) the
/// extensions are empty.
///
/// ```
/// use puppet_ca::*;
/// let dir = tempfile::tempdir().unwrap();
/// let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
/// let attrs = CsrAttributes::parse("extension_requests:\n  pp_role: web\n  1.3.6.1.4.1.34380.1.2.1: mine\n").unwrap();
/// let csr = CsrBuilder::new("n1.example.test").unwrap().key_type(KeyType::EcP256).attributes(attrs).build().unwrap();
/// ca.submit_csr("n1.example.test", csr.csr_pem.as_bytes()).unwrap();
/// let der = certificate_der(&ca.sign("n1.example.test").unwrap()).unwrap();
/// let trusted = puppet_master::puppetdb::trusted_data("n1.example.test", Some(&der));
/// assert_eq!(trusted["extensions"], serde_json::json!({"pp_role": "web", "1.3.6.1.4.1.34380.1.2.1": "mine"}));
/// assert_eq!(trusted["hostname"], "n1");
/// assert_eq!(puppet_master::puppetdb::trusted_data("n1", None)["domain"], serde_json::Value::Null);
/// ```
pub fn trusted_data(certname: &str, client_cert_der: Option<&[u8]>) -> Value {
    trusted_data_mapped(certname, client_cert_der, &OidMapping::default())
}

/// [`trusted_data`] with the short names of a `custom_trusted_oid_mapping.yaml` for OIDs
/// Puppet has no name for (Puppet's own names come first, as in Puppetserver).
///
/// ```
/// use puppet_ca::*;
/// use puppet_master::puppetdb::{OidMapping, trusted_data_mapped};
/// let dir = tempfile::tempdir().unwrap();
/// let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
/// let attrs = CsrAttributes::parse("extension_requests:\n  pp_role: web\n  1.3.6.1.4.1.34380.1.2.1: lab1\n").unwrap();
/// let csr = CsrBuilder::new("n1").unwrap().key_type(KeyType::EcP256).attributes(attrs).build().unwrap();
/// ca.submit_csr("n1", csr.csr_pem.as_bytes()).unwrap();
/// let der = certificate_der(&ca.sign("n1").unwrap()).unwrap();
/// let mapping = OidMapping::parse("oid_mapping:\n  1.3.6.1.4.1.34380.1.2.1:\n    shortname: site\n    longname: Site\n  1.3.6.1.4.1.34380.1.1.13:\n    shortname: role\n    longname: Role\n").unwrap();
/// let trusted = trusted_data_mapped("n1", Some(&der), &mapping);
/// assert_eq!(trusted["extensions"], serde_json::json!({"pp_role": "web", "site": "lab1"}));
/// ```
pub fn trusted_data_mapped(
    certname: &str,
    client_cert_der: Option<&[u8]>,
    mapping: &OidMapping,
) -> Value {
    let (hostname, domain) = match certname.split_once('.') {
        Some((h, d)) => (h, Value::from(d)),
        None => (certname, Value::Null),
    };
    let mut extensions = Map::new();
    if let Some(der) = client_cert_der {
        match puppet_ca::certificate_extensions(der) {
            Ok(exts) => {
                for e in exts {
                    let puppet = [PP_REG_CERT_EXT, PP_PRIV_CERT_EXT]
                        .iter()
                        .any(|arc| e.oid.len() > arc.len() && e.oid.starts_with(arc));
                    if puppet {
                        let key = e
                            .name
                            .or_else(|| mapping.short_name(&e.oid))
                            .map_or_else(|| e.oid.clone(), str::to_string);
                        extensions.insert(key, Value::String(e.value));
                    }
                }
            }
            Err(err) => {
                tracing::warn!("the certificate of {certname} does not parse: {err}");
            }
        }
    }
    let mut m = Map::new();
    m.insert("authenticated".into(), "remote".into());
    m.insert("certname".into(), certname.into());
    m.insert("extensions".into(), Value::Object(extensions));
    m.insert("hostname".into(), hostname.into());
    m.insert("domain".into(), domain);
    m.insert("external".into(), Value::Object(Map::new()));
    Value::Object(m)
}

/// Puppet's `custom_trusted_oid_mapping.yaml` (the `trusted_oid_mapping_file` setting,
/// default `$confdir/custom_trusted_oid_mapping.yaml`): short names for OIDs, used for
/// `trusted.extensions`.
///
/// ```text
/// ---
/// oid_mapping:
///   1.3.6.1.4.1.34380.1.2.1.1:
///     shortname: 'myshortname'
///     longname: 'My Long Name'
/// ```
///
/// Only that shape is read (no YAML crate): `oid_mapping`, then each OID with its
/// `shortname` and `longname` (plain, `'single'` or `"double"` quoted); anything else is
/// refused with its line, as Puppet refuses a mapping without a shortname or longname.
///
/// ```
/// use puppet_master::puppetdb::OidMapping;
/// let m = OidMapping::parse("---\noid_mapping:\n  1.3.6.1.4.1.34380.1.2.1.1:\n    shortname: 'site'\n    longname: 'Site'\n").unwrap();
/// assert_eq!(m.short_name("1.3.6.1.4.1.34380.1.2.1.1"), Some("site"));
/// assert!(OidMapping::parse("oid_mapping:\n  1.2.3:\n    longname: x\n").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidMapping {
    names: Vec<(String, String)>,
}

impl OidMapping {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<OidMapping, String> {
        fn unquote(v: &str) -> &str {
            let v = v.trim();
            for q in ['\'', '"'] {
                if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
                    return inner;
                }
            }
            v
        }
        let mut names = Vec::new();
        // (oid, shortname, longname, line)
        let mut current: Option<(String, Option<String>, Option<String>, usize)> = None;
        let mut finish = |c: Option<(String, Option<String>, Option<String>, usize)>| match c {
            None => Ok(()),
            Some((oid, Some(short), Some(_), _)) => {
                names.push((oid, short));
                Ok(())
            }
            Some((oid, short, _, line)) => Err(format!(
                "line {line}: the mapping for {oid} is missing a {}",
                if short.is_none() {
                    "shortname"
                } else {
                    "longname"
                }
            )),
        };
        let mut seen_top = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split(" #").next().unwrap_or("").trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some((key, value)) = trimmed.split_once(':') else {
                return Err(format!("line {n}: expected `key: value`"));
            };
            let (key, value) = (unquote(key), value.trim());
            match (indent, seen_top) {
                (0, false) if key == "oid_mapping" && value.is_empty() => seen_top = true,
                (0, _) => return Err(format!("line {n}: expected oid_mapping:")),
                (_, true) if value.is_empty() => {
                    finish(current.take())?;
                    if !key
                        .split('.')
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    {
                        return Err(format!("line {n}: {key:?} is not an OID"));
                    }
                    current = Some((key.to_string(), None, None, n));
                }
                (_, true) => match (&mut current, key) {
                    (Some(c), "shortname") => c.1 = Some(unquote(value).to_string()),
                    (Some(c), "longname") => c.2 = Some(unquote(value).to_string()),
                    _ => return Err(format!("line {n}: unexpected {key:?}")),
                },
                (_, false) => return Err(format!("line {n}: expected oid_mapping:")),
            }
        }
        finish(current.take())?;
        Ok(OidMapping { names })
    }

    /// Reads `path`; empty when the file does not exist (as Puppet).
    pub fn read(path: &Path) -> Result<OidMapping, MasterError> {
        match std::fs::read_to_string(path) {
            Ok(text) => OidMapping::parse(&text).map_err(|message| MasterError::Config {
                file: path.to_path_buf(),
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OidMapping::default()),
            Err(source) => Err(MasterError::Io {
                what: format!("read {}", path.display()),
                source,
            }),
        }
    }

    /// The short name of `oid`, if the file names it.
    pub fn short_name(&self, oid: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(o, _)| o == oid)
            .map(|(_, s)| s.as_str())
    }
}

/// The `replace facts` v5 document the terminus sends for `facts` received for a run in
/// `environment`: the values with `trusted` added and `_puppet_inventory_1` taken out (its
/// `packages` become `package_inventory`).
///
/// ```
/// let facts = puppet_facts::Facts::from_json(br#"{"name": "n1.example.test", "values": {"kernel": "Linux"}}"#).unwrap();
/// let t = time::macros::datetime!(2026-12-03 02:44:17.701 UTC);
/// let doc = puppet_master::puppetdb::facts_command(&facts, "n1.example.test", "production", "puppet.example.test", t);
/// assert_eq!(doc["values"]["trusted"]["hostname"], "n1");
/// assert_eq!(doc["producer_timestamp"], "2026-12-03T02:44:17.701+00:00");
/// ```
pub fn facts_command(
    facts: &Facts,
    certname: &str,
    environment: &str,
    producer: &str,
    now: OffsetDateTime,
) -> Value {
    client_facts_command(facts, certname, environment, producer, now, None)
}

/// [`facts_command`] for facts an agent sent with the certificate `client_cert_der` (DER):
/// `trusted` has its extensions ([`trusted_data`]), as Puppetserver's terminus stores them.
pub fn client_facts_command(
    facts: &Facts,
    certname: &str,
    environment: &str,
    producer: &str,
    now: OffsetDateTime,
    client_cert_der: Option<&[u8]>,
) -> Value {
    let mut values = facts.values.clone();
    values.insert("trusted".into(), trusted_data(certname, client_cert_der));
    let inventory = values.shift_remove("_puppet_inventory_1");
    let mut doc = Map::new();
    doc.insert("certname".into(), facts.name.clone().into());
    doc.insert("values".into(), Value::Object(values));
    doc.insert("environment".into(), environment.into());
    doc.insert("producer_timestamp".into(), wire_time_local(now).into());
    doc.insert("producer".into(), producer.into());
    if let Some(inventory) = inventory {
        let packages = match &inventory {
            Value::Object(m) => m.get("packages").cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        doc.insert("package_inventory".into(), packages);
    }
    Value::Object(doc)
}

/// The namevar of a type whose namevar is not `name` (Puppet's core types).
fn namevar(type_name: &str) -> Option<&'static str> {
    match type_name.to_ascii_lowercase().as_str() {
        "file" => Some("path"),
        "exec" => Some("command"),
        // Composite namevars (name + command): no alias is added for these.
        "package" => None,
        _ => Some("name"),
    }
}

/// `Type[title]` split as the terminus splits a reference.
fn split_ref(r: &str) -> Option<(String, String)> {
    let r = r.strip_suffix(']')?;
    let open = r.find('[')?;
    let (t, title) = (&r[..open], &r[open + 1..]);
    if t.is_empty() || title.is_empty() || t.contains(']') {
        return None;
    }
    Some((t.to_string(), title.to_string()))
}

fn ref_hash(t: &str, title: &str) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), t.into());
    m.insert("title".into(), title.into());
    Value::Object(m)
}

/// Whether a reference is formatted as the terminus demands (`Foo::Bar[title]`).
fn well_formed_ref(r: &str) -> bool {
    let Some(open) = r.find('[') else {
        return false;
    };
    r.ends_with(']')
        && r[..open].split("::").all(|seg| {
            let mut c = seg.chars();
            c.next().is_some_and(|f| f.is_ascii_uppercase())
                && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        })
}

/// The `replace catalog` v9 document the terminus sends for `catalog` (Sensitive parameters
/// taken out, namevar aliases added, metaparameters that are sets sorted, containment edges
/// as `{type, title}` pairs, the relationship metaparameters made edges). An error names a
/// relationship to a resource that is not in the catalog (the terminus refuses it too).
///
/// ```
/// let catalog = puppet_catalog::Catalog::from_json(br#"{"name": "n1", "version": 1700000000,
///   "resources": [{"type": "Notify", "title": "a", "tags": ["notify"], "exported": false,
///                  "parameters": {"require": "Notify[b]"}},
///                 {"type": "Notify", "title": "b", "tags": ["notify"], "exported": false}],
///   "edges": []}"#).unwrap();
/// let t = time::macros::datetime!(2026-12-03 02:43:19.53 UTC);
/// let doc = puppet_master::puppetdb::catalog_command(&catalog, "production", Some("tx"), None, "puppet", t).unwrap();
/// assert_eq!(doc["version"], "1700000000");
/// assert_eq!(doc["edges"][0]["relationship"], "required-by");
/// assert_eq!(doc["resources"][1]["parameters"], serde_json::json!({}));
/// ```
pub fn catalog_command(
    catalog: &Catalog,
    environment: &str,
    transaction_uuid: Option<&str>,
    job_id: Option<&str>,
    producer: &str,
    now: OffsetDateTime,
) -> Result<Value, String> {
    let catalog = catalog.redacted();
    let mut resources: Vec<Map<String, Value>> = Vec::with_capacity(catalog.resources.len());
    for r in &catalog.resources {
        let Value::Object(mut m) = serde_json::to_value(r).map_err(|e| e.to_string())? else {
            return Err("a resource is not an object".into());
        };
        m.shift_remove("sensitive_parameters");
        // Rich data (`__ptype`) as the terminus sends it: stringified.
        if let Some(Value::Object(params)) = m.get_mut("parameters") {
            for v in params.values_mut() {
                stringify_rich(v);
            }
        }
        if !m.contains_key("tags") {
            m.insert("tags".into(), Value::Array(Vec::new()));
        }
        let params = m
            .entry("parameters")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = params else {
            return Err(format!("{}: parameters is not an object", r.reference()));
        };
        // Namevar aliases (Puppet's `main` stage and class are titled by a symbol, so their
        // name differs from their title).
        if r.title == "main" && matches!(r.resource_type.as_str(), "Stage" | "Class") {
            if !params.contains_key("name") {
                params.insert("name".into(), "main".into());
            }
            let mut aliases = alias_list(params.get("alias"));
            if !aliases.iter().any(|a| a == "main") {
                aliases.push("main".into());
            }
            params.insert(
                "alias".into(),
                Value::Array(aliases.into_iter().map(Value::String).collect()),
            );
        } else if let Some(nv) = namevar(&r.resource_type) {
            let mut aliases = alias_list(params.get("alias"));
            let name = params.get(nv).and_then(Value::as_str).map(str::to_string);
            if let Some(name) = name
                && name != r.title
                && !aliases.contains(&name)
            {
                aliases.push(name);
            }
            if !aliases.is_empty() {
                params.insert(
                    "alias".into(),
                    Value::Array(aliases.into_iter().map(Value::String).collect()),
                );
            }
        }
        for meta in [
            "alias",
            "audit",
            "before",
            "check",
            "notify",
            "require",
            "subscribe",
            "tag",
        ] {
            if let Some(Value::Array(values)) = params.get_mut(meta)
                && !values.is_empty()
            {
                values.sort_by_key(ruby_to_s);
            }
        }
        resources.push(m);
    }

    let mut edges: Vec<Value> = Vec::new();
    for e in &catalog.edges {
        let side = |s: &str| match split_ref(s) {
            Some((t, title)) => ref_hash(&t, &title),
            None => Value::String(s.to_string()),
        };
        let mut m = Map::new();
        m.insert("source".into(), side(&e.source));
        m.insert("target".into(), side(&e.target));
        for (k, v) in &e.extra {
            m.insert(k.clone(), v.clone());
        }
        if !m.contains_key("relationship") {
            m.insert("relationship".into(), "contains".into());
        }
        edges.push(Value::Object(m));
    }

    // Relationship metaparameters as edges, resolved by title or alias.
    let key = |m: &Map<String, Value>| -> (String, String) {
        (
            m.get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            m.get("title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    let table: std::collections::HashSet<(String, String)> = resources.iter().map(key).collect();
    let mut aliases: std::collections::HashMap<(String, String), String> = Default::default();
    for m in &resources {
        let (t, title) = key(m);
        let names = alias_list(m.get("parameters").and_then(|p| p.get("alias")));
        for name in names {
            aliases.insert((t.clone(), name), title.clone());
        }
    }
    for m in &resources {
        // Exported resources not collected are virtual: no edges to or from them.
        if m.get("exported") == Some(&Value::Bool(true)) {
            continue;
        }
        let (t, title) = key(m);
        let Some(Value::Object(params)) = m.get("parameters") else {
            continue;
        };
        for (param, relationship, forward) in [
            ("before", "before", true),
            ("require", "required-by", false),
            ("notify", "notifies", true),
            ("subscribe", "subscription-of", false),
        ] {
            let Some(value) = params.get(param) else {
                continue;
            };
            let refs: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            for other in refs {
                let other = match other {
                    Value::String(s) => s.clone(),
                    v => ruby_to_s(v),
                };
                let this = format!("{t}[{title}]");
                let invalid = |why: &str| {
                    format!("Invalid relationship: {this} {{ {param} => {other} }}, because {why}")
                };
                if !well_formed_ref(&other) {
                    return Err(invalid(&format!(
                        "{other} doesn't seem to be in the correct format. Resource references should be formatted as: Classname['title'] or Modulename::Classname['title'] (take careful note of the capitalization)."
                    )));
                }
                let Some((ot, mut otitle)) = split_ref(&other) else {
                    return Err(invalid(&format!(
                        "{other} doesn't seem to be in the catalog"
                    )));
                };
                if ot == "File" && otitle.ends_with('/') {
                    otitle = otitle.trim_end_matches('/').to_string();
                }
                let found = if table.contains(&(ot.clone(), otitle.clone())) {
                    Some(otitle.clone())
                } else {
                    aliases.get(&(ot.clone(), otitle.clone())).cloned()
                };
                let Some(found) = found else {
                    return Err(invalid(&format!(
                        "{other} doesn't seem to be in the catalog"
                    )));
                };
                let mut edge = Map::new();
                edge.insert("relationship".into(), relationship.into());
                let (source, target) = if forward {
                    (ref_hash(&t, &title), ref_hash(&ot, &found))
                } else {
                    (ref_hash(&ot, &found), ref_hash(&t, &title))
                };
                edge.insert("source".into(), source);
                edge.insert("target".into(), target);
                let edge = Value::Object(edge);
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
    }

    let version = match &catalog.version {
        Some(puppet_catalog::CatalogVersion::Integer(n)) => n.to_string(),
        Some(puppet_catalog::CatalogVersion::String(s)) => s.clone(),
        None => String::new(),
    };
    let job_id = catalog
        .extra
        .get("job_id")
        .filter(|v| !v.is_null())
        .map(|v| Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .or_else(|| job_id.map(Value::from))
        .unwrap_or(Value::Null);
    let catalog_uuid = catalog
        .catalog_uuid
        .clone()
        .or_else(|| transaction_uuid.map(str::to_string));
    let mut doc = Map::new();
    doc.insert("version".into(), version.into());
    doc.insert(
        "code_id".into(),
        catalog.code_id.clone().unwrap_or(Value::Null),
    );
    doc.insert(
        "catalog_uuid".into(),
        catalog_uuid.map_or(Value::Null, Value::from),
    );
    doc.insert(
        "resources".into(),
        Value::Array(resources.into_iter().map(Value::Object).collect()),
    );
    doc.insert("edges".into(), Value::Array(edges));
    doc.insert("job_id".into(), job_id);
    doc.insert("certname".into(), catalog.name.clone().into());
    doc.insert(
        "transaction_uuid".into(),
        transaction_uuid.map_or(Value::Null, Value::from),
    );
    doc.insert("environment".into(), environment.into());
    doc.insert("producer_timestamp".into(), wire_time_local(now).into());
    doc.insert("producer".into(), producer.into());
    Ok(Value::Object(doc))
}

/// Rich data values (`{"__ptype": ..., "__pvalue": ...}`) as strings, as the terminus's
/// `stringify_rich` writes them: the value's text (a `Timestamp`, `Version`, `Binary`, a
/// type), a regexp between slashes; values without a text form (`Deferred`, objects) as
/// their JSON.
fn stringify_rich(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(stringify_rich),
        Value::Object(m) => {
            let Some(ptype) = m.get("__ptype").and_then(Value::as_str).map(str::to_string) else {
                m.values_mut().for_each(stringify_rich);
                return;
            };
            let text = match (ptype.as_str(), m.get("__pvalue")) {
                ("Sensitive", _) => "Sensitive [value redacted]".to_string(),
                ("Regexp", Some(Value::String(s))) => format!("/{s}/"),
                (_, Some(Value::String(s))) => s.clone(),
                // A type: `Integer[1, 10]`, `String`.
                (t, None) if t.starts_with("Pcore::") && t.ends_with("Type") => {
                    let name = &t["Pcore::".len()..t.len() - "Type".len()];
                    let args: Vec<String> = ["from", "to"]
                        .iter()
                        .filter_map(|k| m.get(*k))
                        .map(ruby_to_s)
                        .collect();
                    if args.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}[{}]", args.join(", "))
                    }
                }
                _ => Value::Object(m.clone()).to_string(),
            };
            *v = Value::String(text);
        }
        _ => {}
    }
}

/// `[alias].flatten.compact`, as strings.
fn alias_list(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map_or_else(|| ruby_to_s(v), str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) => vec![ruby_to_s(v)],
    }
}

/// Ruby's `to_s` of a JSON value (strings as they are, `nil` empty, arrays and hashes as
/// Ruby inspects them).
fn ruby_to_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => ruby_inspect(other),
    }
}

fn ruby_inspect(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(ruby_inspect).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}=>{}", Value::String(k.clone()), ruby_inspect(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The `store report` v8 document the terminus's report processor sends for `report`
/// (events marked `redacted` keep no value; only resources with events or skipped, as the
/// terminus's default `include_unchanged_resources = false`).
///
/// ```
/// let report = puppet_report::Report::from_json(br#"{"host": "n1", "time": "2026-12-03T02:43:21.928126451+00:00",
///   "configuration_version": 1796265858, "transaction_uuid": "t", "report_format": 12,
///   "puppet_version": "7.23.0", "status": "unchanged", "transaction_completed": true, "noop": false,
///   "noop_pending": false, "environment": "production", "logs": [], "metrics": {}, "resource_statuses": {},
///   "corrective_change": false, "catalog_uuid": "c", "code_id": null, "cached_catalog_status": "not_used"}"#).unwrap();
/// let t = time::macros::datetime!(2026-12-03 02:44:21.002 UTC);
/// let doc = puppet_master::puppetdb::report_command(&report, "puppet", t).unwrap();
/// assert_eq!(doc["start_time"], "2026-12-03T02:43:21.928+00:00");
/// assert_eq!(doc["configuration_version"], "1796265858");
/// assert_eq!(doc["producer_timestamp"], "2026-12-03T02:44:21.002Z");
/// ```
pub fn report_command(
    report: &Report,
    producer: &str,
    now: OffsetDateTime,
) -> Result<Value, String> {
    let redact = report
        .resource_statuses
        .values()
        .any(|s| s.events.iter().any(|e| e.redacted == Some(true)));
    let redacted;
    let report = if redact {
        let mut copy = report.clone();
        copy.redact_sensitive();
        redacted = copy;
        &redacted
    } else {
        report
    };
    let total = report
        .metrics
        .value("time", "total")
        .and_then(serde_json::Number::as_f64)
        .unwrap_or(0.0);
    let mut resources = Vec::new();
    for s in report.resource_statuses.values() {
        if s.events.is_empty() && !s.skipped {
            continue;
        }
        let events: Vec<Value> = s
            .events
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("status".into(), e.status.as_str().into());
                m.insert("timestamp".into(), wire_time_value(&e.time));
                m.insert(
                    "name".into(),
                    e.name.clone().map_or(Value::Null, Value::from),
                );
                m.insert(
                    "property".into(),
                    e.property.clone().map_or(Value::Null, Value::from),
                );
                m.insert("new_value".into(), ruby_to_s(&e.desired_value).into());
                m.insert("old_value".into(), ruby_to_s(&e.previous_value).into());
                m.insert(
                    "corrective_change".into(),
                    e.corrective_change.map_or(Value::Null, Value::from),
                );
                m.insert(
                    "message".into(),
                    e.message.clone().map_or(Value::Null, Value::from),
                );
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("skipped".into(), s.skipped.into());
        m.insert("timestamp".into(), wire_time_value(&s.time));
        m.insert("resource_type".into(), s.resource_type.clone().into());
        m.insert("resource_title".into(), s.title.clone().into());
        m.insert(
            "file".into(),
            s.file.clone().map_or(Value::Null, Value::from),
        );
        m.insert("line".into(), s.line.map_or(Value::Null, Value::from));
        m.insert(
            "containment_path".into(),
            Value::Array(
                s.containment_path
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        m.insert("corrective_change".into(), s.corrective_change.into());
        m.insert("events".into(), Value::Array(events));
        resources.push(Value::Object(m));
    }
    let logs: Vec<Value> = report
        .logs
        .iter()
        .map(|l| {
            let mut m = Map::new();
            m.insert(
                "file".into(),
                l.file.clone().map_or(Value::Null, Value::from),
            );
            m.insert("line".into(), l.line.map_or(Value::Null, Value::from));
            m.insert("level".into(), l.level.as_str().into());
            m.insert("message".into(), l.message.clone().into());
            m.insert("source".into(), l.source.clone().into());
            m.insert(
                "tags".into(),
                Value::Array(l.tags.iter().cloned().map(Value::String).collect()),
            );
            m.insert("time".into(), wire_time_value(&l.time));
            Value::Object(m)
        })
        .collect();
    let mut metrics = Vec::new();
    for (_, metric) in report.metrics.iter() {
        for v in &metric.values {
            let mut m = Map::new();
            m.insert("category".into(), metric.name.clone().into());
            m.insert("name".into(), v.name.clone().into());
            m.insert("value".into(), Value::Number(v.value.clone()));
            metrics.push(Value::Object(m));
        }
    }
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
    let mut doc = Map::new();
    doc.insert("certname".into(), report.host.clone().into());
    doc.insert("job_id".into(), opt(&report.job_id));
    doc.insert(
        "puppet_version".into(),
        report.puppet_version.clone().into(),
    );
    doc.insert("report_format".into(), report.report_format.into());
    doc.insert(
        "configuration_version".into(),
        report
            .configuration_version
            .as_ref()
            .map_or_else(String::new, ToString::to_string)
            .into(),
    );
    doc.insert("producer_timestamp".into(), wire_time_utc(now).into());
    doc.insert("start_time".into(), wire_time_value(&report.time));
    doc.insert(
        "end_time".into(),
        Value::String(wire_time_plus(&report.time, total).unwrap_or_else(|| report.time.clone())),
    );
    doc.insert("environment".into(), report.environment.clone().into());
    doc.insert("transaction_uuid".into(), opt(&report.transaction_uuid));
    doc.insert("status".into(), report.status.as_str().into());
    doc.insert("noop".into(), report.noop.into());
    doc.insert("noop_pending".into(), report.noop_pending.into());
    doc.insert("corrective_change".into(), report.corrective_change.into());
    doc.insert("logs".into(), Value::Array(logs));
    doc.insert("metrics".into(), Value::Array(metrics));
    doc.insert("resources".into(), Value::Array(resources));
    doc.insert(
        "catalog_uuid".into(),
        opt(&report
            .catalog_uuid
            .clone()
            .or(report.transaction_uuid.clone())),
    );
    doc.insert("code_id".into(), opt(&report.code_id));
    doc.insert(
        "cached_catalog_status".into(),
        opt(&report.cached_catalog_status),
    );
    doc.insert("producer".into(), producer.into());
    Ok(Value::Object(doc))
}
