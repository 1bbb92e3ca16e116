//! Settings as PuppetDB names them: `jetty.ini`, `database.ini`, `config.ini` in a
//! `conf.d` directory, and the `--database` URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::DbError;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// An SQLite file (`sqlite:PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://...`, or PuppetDB's `//host:port/db` subname with
    /// `username`/`password`). [`Database::open`] needs the `postgres` feature.
    Postgres(PostgresTarget),
}

/// Where a PostgreSQL database is and who logs in; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// `postgres://...`, a libpq `key=value` string, or PuppetDB's `//host:port/db`.
    pub url: String,
    /// The user, overriding the URL's (`database.ini`'s `username`).
    pub user: Option<String>,
    /// The password, overriding the URL's (`database.ini`'s `password`).
    pub password: Option<String>,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("url", &self.redacted_url())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl PostgresTarget {
    /// A target from a URL alone.
    pub fn new(url: impl Into<String>) -> PostgresTarget {
        PostgresTarget {
            url: url.into(),
            user: None,
            password: None,
        }
    }

    /// The URL as `postgres://` (PuppetDB's `//host:port/db` gets the scheme), without
    /// PuppetDB's JDBC-only `ssl=false`; a URL asking for TLS is refused (not supported).
    #[cfg(feature = "postgres")]
    fn full_url(&self) -> Result<String, DbError> {
        let url = if self.url.starts_with("//") {
            format!("postgres:{}", self.url)
        } else {
            self.url.clone()
        };
        let Some((base, query)) = url.split_once('?') else {
            return Ok(url);
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match (k, v) {
                ("ssl", "false") => {}
                ("ssl", _) | ("sslmode", "require" | "verify-ca" | "verify-full") => {
                    return Err(DbError::Config(format!(
                        "{}: TLS to PostgreSQL is not supported (use a Unix socket or a trusted network, and ssl=false)",
                        self.redacted_url()
                    )));
                }
                _ => kept.push(pair),
            }
        }
        Ok(if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        })
    }

    /// The URL without a password it may hold (`postgres://user:secret@host` ->
    /// `postgres://user:<redacted>@host`; a libpq `password=` likewise): for logs.
    ///
    /// ```
    /// use puppet_db::config::PostgresTarget;
    /// let t = PostgresTarget::new("postgres://pdb:s3cret@db.example.test:5432/puppetdb");
    /// assert_eq!(t.redacted_url(), "postgres://pdb:<redacted>@db.example.test:5432/puppetdb");
    /// assert!(!format!("{t:?}").contains("s3cret"));
    /// ```
    pub fn redacted_url(&self) -> String {
        let url = &self.url;
        if let Some(scheme_end) = url.find("//") {
            let rest = &url[scheme_end + 2..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            if let Some(at) = rest[..authority_end].rfind('@') {
                let userinfo = &rest[..at];
                if let Some(colon) = userinfo.find(':') {
                    return format!(
                        "{}{}:<redacted>{}",
                        &url[..scheme_end + 2],
                        &userinfo[..colon],
                        &rest[at..]
                    );
                }
            }
            return url.clone();
        }
        url.split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=<redacted>".to_string()
                } else {
                    kv.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The client configuration: the URL, then `user` and `password` over it.
    ///
    /// ```
    /// use puppet_db::config::PostgresTarget;
    /// let mut t = PostgresTarget::new("//db.example.test:5433/puppetdb?ssl=false");
    /// t.user = Some("puppetdb".into());
    /// let c = t.client_config().unwrap();
    /// assert_eq!(c.get_ports(), &[5433]);
    /// assert_eq!(c.get_user(), Some("puppetdb"));
    /// let tls = PostgresTarget::new("//db.example.test/puppetdb?ssl=true&sslmode=require");
    /// assert!(tls.client_config().unwrap_err().to_string().contains("TLS to PostgreSQL is not supported"));
    /// ```
    #[cfg(feature = "postgres")]
    pub fn client_config(&self) -> Result<postgres::Config, DbError> {
        let mut config: postgres::Config =
            self.full_url()?.parse().map_err(|e: postgres::Error| {
                DbError::Config(format!(
                    "the PostgreSQL database {} does not parse: {e}",
                    self.redacted_url()
                ))
            })?;
        if let Some(user) = &self.user {
            config.user(user);
        }
        if let Some(password) = &self.password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(30));
        }
        if config.get_application_name().is_none() {
            config.application_name("puppet-db");
        }
        Ok(config)
    }
}

impl Database {
    /// Parses `sqlite:PATH` or `postgres://...`/`postgresql://...`.
    ///
    /// ```
    /// use puppet_db::config::Database;
    /// assert_eq!(Database::parse("sqlite:/var/lib/pdb.sqlite").unwrap(),
    ///     Database::Sqlite("/var/lib/pdb.sqlite".into()));
    /// assert!(Database::parse("mysql://x").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Database, DbError> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(DbError::Config("sqlite: needs a path (sqlite:PATH)".into()));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") || s.starts_with("//") {
            return Ok(Database::Postgres(PostgresTarget::new(s)));
        }
        Err(DbError::Config(format!(
            "database {s:?}: expected sqlite:PATH or postgres://..."
        )))
    }

    /// Opens it.
    pub fn open(&self) -> Result<crate::PuppetDb, DbError> {
        match self {
            Database::Sqlite(path) => crate::PuppetDb::open_sqlite(path.clone()),
            #[cfg(feature = "postgres")]
            Database::Postgres(target) => Ok(crate::PuppetDb::new(std::sync::Arc::new(
                crate::PostgresStorage::with_config(target.client_config()?)?,
            ))),
            #[cfg(not(feature = "postgres"))]
            Database::Postgres(target) => Err(DbError::Config(format!(
                "{}: this puppet-db is built without the `postgres` feature; use sqlite:PATH",
                target.redacted_url()
            ))),
        }
    }
}

/// The settings of a PuppetDB installation's `conf.d` that this service uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `[jetty] ssl-host`.
    pub ssl_host: Option<String>,
    /// `[jetty] ssl-port`.
    pub ssl_port: Option<u16>,
    /// `[jetty] ssl-cert`.
    pub ssl_cert: Option<PathBuf>,
    /// `[jetty] ssl-key`.
    pub ssl_key: Option<PathBuf>,
    /// `[jetty] ssl-ca-cert`.
    pub ssl_ca_cert: Option<PathBuf>,
    /// `[jetty] ssl-crl-path`.
    pub ssl_crl: Option<PathBuf>,
    /// `[database] subname` (`sqlite:PATH` here, or PostgreSQL's `//host:port/db` with
    /// `username` and `password`), else `[global] vardir`/`puppetdb.sqlite`.
    pub database: Option<Database>,
    /// `[database]`'s `node-ttl`, `node-purge-ttl`, `report-ttl` (in `database.ini` or
    /// `config.ini`), PuppetDB's defaults for those not set.
    pub retention: crate::Retention,
    /// `[database] gc-interval` (minutes; PuppetDB's default 60; `0` turns collection off).
    pub gc_interval: Option<std::time::Duration>,
    /// `[puppetdb] certificate-allowlist` of `config.ini` (PuppetDB 7; also read from
    /// `[jetty]`, and under its former name `certificate-whitelist`): the file of the
    /// certnames allowed to use the API.
    pub certificate_allowlist: Option<PathBuf>,
}

/// An INI file as `section -> key -> value` (`#` and `;` comments).
pub fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

impl Settings {
    /// Reads `jetty.ini`, `database.ini` and `config.ini` from `dir` (each optional).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("jetty.ini"),
    ///     "[jetty]\nssl-host = 127.0.0.1\nssl-port = 8081\nssl-cert = /etc/puppetdb/ssl/cert.pem\n").unwrap();
    /// std::fs::write(dir.path().join("config.ini"), "[global]\nvardir = /var/lib/puppetdb\n").unwrap();
    /// let s = puppet_db::config::Settings::from_conf_dir(dir.path()).unwrap();
    /// assert_eq!(s.ssl_port, Some(8081));
    /// assert_eq!(s.database, Some(puppet_db::config::Database::Sqlite("/var/lib/puppetdb/puppetdb.sqlite".into())));
    ///
    /// // PuppetDB's PostgreSQL settings, as its installer writes them.
    /// std::fs::write(dir.path().join("database.ini"),
    ///     "[database]\nsubname = //127.0.0.1:5432/puppetdb\nusername = puppetdb\npassword = s3cret\n").unwrap();
    /// let s = puppet_db::config::Settings::from_conf_dir(dir.path()).unwrap();
    /// let Some(puppet_db::config::Database::Postgres(target)) = &s.database else { panic!() };
    /// assert_eq!(target.user.as_deref(), Some("puppetdb"));
    /// assert!(!format!("{s:?}").contains("s3cret"));
    ///
    /// // Node expiry and report retention, PuppetDB's defaults unless set.
    /// assert_eq!(s.retention, puppet_db::Retention::puppetdb_defaults());
    /// std::fs::write(dir.path().join("config.ini"),
    ///     "[database]\nnode-ttl = 2h\nreport-ttl = 0s\ngc-interval = 5\n").unwrap();
    /// let s = puppet_db::config::Settings::from_conf_dir(dir.path()).unwrap();
    /// assert_eq!(s.retention.node_ttl, Some(std::time::Duration::from_secs(7200)));
    /// assert_eq!(s.retention.report_ttl, None);
    /// assert_eq!(s.gc_interval, Some(std::time::Duration::from_secs(300)));
    /// ```
    pub fn from_conf_dir(dir: &Path) -> Result<Settings, DbError> {
        let read = |name: &str| -> Result<BTreeMap<String, BTreeMap<String, String>>, DbError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(parse_ini(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
                Err(source) => Err(DbError::Io {
                    what: format!("read {}", path.display()),
                    source,
                }),
            }
        };
        let jetty = read("jetty.ini")?;
        let database = read("database.ini")?;
        let config = read("config.ini")?;
        let j = |k: &str| jetty.get("jetty").and_then(|s| s.get(k)).cloned();
        let ssl_port = match j("ssl-port") {
            Some(p) => Some(p.parse::<u16>().map_err(|_| {
                DbError::Config(format!("jetty.ini: ssl-port = {p:?} is not a port"))
            })?),
            None => None,
        };
        let d = |k: &str| {
            database
                .get("database")
                .and_then(|s| s.get(k))
                .or_else(|| config.get("database").and_then(|s| s.get(k)))
                .cloned()
        };
        let mut retention = crate::Retention::puppetdb_defaults();
        let ttl = |k: &str, default| -> Result<Option<std::time::Duration>, DbError> {
            match d(k) {
                Some(v) => crate::Retention::parse_ttl(&v)
                    .map_err(|e| DbError::Config(format!("[database] {k}: {e}"))),
                None => Ok(default),
            }
        };
        retention.node_ttl = ttl("node-ttl", retention.node_ttl)?;
        retention.node_purge_ttl = ttl("node-purge-ttl", retention.node_purge_ttl)?;
        retention.report_ttl = ttl("report-ttl", retention.report_ttl)?;
        let gc_interval = match d("gc-interval") {
            Some(v) => {
                let minutes: u64 = v.trim().parse().map_err(|_| {
                    DbError::Config(format!(
                        "[database] gc-interval = {v:?} is not a number of minutes"
                    ))
                })?;
                (minutes > 0).then(|| std::time::Duration::from_secs(minutes * 60))
            }
            None => Some(std::time::Duration::from_secs(3600)),
        };
        let db = match d("subname") {
            Some(subname) => Some(
                match Database::parse(&subname)
                    .map_err(|e| DbError::Config(format!("database.ini: subname: {e}")))?
                {
                    Database::Postgres(mut target) => {
                        target.user = d("username");
                        target.password = d("password");
                        Database::Postgres(target)
                    }
                    other => other,
                },
            ),
            None => config
                .get("global")
                .and_then(|s| s.get("vardir"))
                .map(|v| Database::Sqlite(Path::new(v).join("puppetdb.sqlite"))),
        };
        let allowlist = ["certificate-allowlist", "certificate-whitelist"]
            .iter()
            .find_map(|k| {
                config
                    .get("puppetdb")
                    .and_then(|s| s.get(*k))
                    .or_else(|| jetty.get("jetty").and_then(|s| s.get(*k)))
            })
            .map(PathBuf::from);
        Ok(Settings {
            certificate_allowlist: allowlist,
            ssl_host: j("ssl-host"),
            ssl_port,
            ssl_cert: j("ssl-cert").map(PathBuf::from),
            ssl_key: j("ssl-key").map(PathBuf::from),
            ssl_ca_cert: j("ssl-ca-cert").map(PathBuf::from),
            ssl_crl: j("ssl-crl-path").map(PathBuf::from),
            database: db,
            retention,
            gc_interval,
        })
    }
}
