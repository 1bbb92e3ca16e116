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
    /// A PostgreSQL URL (`postgres://...`, or PuppetDB's `//host:port/db` subname). Not
    /// served yet: [`Database::open`] refuses it.
    Postgres(String),
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
            return Ok(Database::Postgres(s.to_string()));
        }
        Err(DbError::Config(format!(
            "database {s:?}: expected sqlite:PATH or postgres://..."
        )))
    }

    /// Opens it.
    pub fn open(&self) -> Result<crate::PuppetDb, DbError> {
        match self {
            Database::Sqlite(path) => crate::PuppetDb::open_sqlite(path.clone()),
            Database::Postgres(url) => Err(DbError::Config(format!(
                "{url}: the PostgreSQL backend is not implemented yet; use sqlite:PATH"
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
    /// `[database] subname` (`sqlite:PATH` here, or PostgreSQL's `//host:port/db`), else
    /// `[global] vardir`/`puppetdb.sqlite`.
    pub database: Option<Database>,
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
        let db = match database.get("database").and_then(|s| s.get("subname")) {
            Some(subname) => Some(
                Database::parse(subname)
                    .map_err(|e| DbError::Config(format!("database.ini: subname: {e}")))?,
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
        })
    }
}
