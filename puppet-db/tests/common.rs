//! Shared helpers: a fresh database and the fixture documents.

use puppet_db::{Paging, PuppetDb};
use serde_json::Value;

pub const FACTS: &str = include_str!("fixtures/facts-v5.json");
pub const CATALOG: &str = include_str!("fixtures/catalog-v9.json");
pub const REPORT: &str = include_str!("fixtures/report-v8.json");

/// Which storage a test runs on: every test body runs on both (see [`both!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

pub struct Db {
    pub db: PuppetDb,
    pub backend: Backend,
    _dir: tempfile::TempDir,
    /// The SQLite file (SQLite only).
    pub path: std::path::PathBuf,
    /// The PostgreSQL connection string of this test's own database (PostgreSQL only).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub url: String,
}

pub fn db(backend: Backend) -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pdb.sqlite");
    match backend {
        Backend::Sqlite => Db {
            db: PuppetDb::open_sqlite(&path).expect("open"),
            backend,
            _dir: dir,
            path,
            url: String::new(),
        },
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let url = pg::cluster().expect("a cluster").database();
            Db {
                db: PuppetDb::open_postgres(&url).expect("open postgres"),
                backend,
                _dir: dir,
                path,
                url,
            }
        }
    }
}

impl Db {
    /// A second, independent opening of the same storage (another process, another instance).
    pub fn reopen(&self) -> PuppetDb {
        match self.backend {
            Backend::Sqlite => PuppetDb::open_sqlite(&self.path).expect("reopen"),
            #[cfg(feature = "postgres")]
            Backend::Postgres => PuppetDb::open_postgres(&self.url).expect("reopen"),
        }
    }

    /// Whether `needle` is anywhere in what the storage keeps (the SQLite file and its WAL;
    /// PostgreSQL's dump of the database).
    pub fn stored_anywhere(&self, needle: &str) -> bool {
        let hay = match self.backend {
            Backend::Sqlite => {
                let mut bytes = std::fs::read(&self.path).expect("db file");
                bytes.extend(
                    std::fs::read(self.path.with_extension("sqlite-wal")).unwrap_or_default(),
                );
                bytes
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => pg::cluster().expect("a cluster").dump(&self.url),
        };
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

/// `both!(test_fn, ...)`: each `fn test_fn(b: Backend)` becomes the tests `test_fn::sqlite`
/// and `test_fn::postgres` (the latter skips with one line without PostgreSQL's binaries,
/// unless PUPPET_RS_REQUIRE_REAL=1).
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite)
                }

                #[cfg(feature = "postgres")]
                #[test]
                fn postgres() {
                    if $crate::common::pg::cluster().is_some() {
                        super::$name($crate::common::Backend::Postgres)
                    }
                }
            }
        )*
    };
}

/// The throwaway PostgreSQL cluster of this test binary.
#[cfg(feature = "postgres")]
#[path = "pg_cluster.rs"]
pub mod pg;

pub fn submit(db: &PuppetDb, command: &str, version: u32, certname: &str, body: &Value) {
    let params = [
        ("command", command.to_string()),
        ("version", version.to_string()),
        ("certname", certname.to_string()),
    ];
    db.submit(&params, body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{command} for {certname}: {e}"));
}

/// `deactivate node` v3 for `certname` at `producer_timestamp`.
pub fn deactivate(db: &PuppetDb, certname: &str, producer_timestamp: &str) {
    let body = serde_json::json!({"certname": certname, "producer_timestamp": producer_timestamp});
    submit(db, "deactivate node", 3, certname, &body);
}

/// The fixture document with `certname` (and `trusted.certname`) replaced.
pub fn doc(text: &str, certname: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).expect("fixture");
    v["certname"] = Value::from(certname);
    if v["values"]["trusted"].is_object() {
        v["values"]["trusted"]["certname"] = Value::from(certname);
    }
    v
}

/// Three nodes: web1 and web2 (Debian), db1 (RedHat), each with facts, catalog and report.
pub fn loaded(b: Backend) -> Db {
    let d = db(b);
    for (name, family) in [
        ("web1.example.test", "Debian"),
        ("web2.example.test", "Debian"),
        ("db1.example.test", "RedHat"),
    ] {
        let mut facts = doc(FACTS, name);
        facts["values"]["os"]["family"] = Value::from(family);
        submit(&d.db, "replace facts", 5, name, &facts);
        submit(&d.db, "replace catalog", 9, name, &doc(CATALOG, name));
        submit(&d.db, "store report", 8, name, &doc(REPORT, name));
    }
    d
}

pub fn q(db: &PuppetDb, path: &str, query: &str) -> Vec<Value> {
    db.query(path, Some(query), &Paging::default())
        .unwrap_or_else(|e| panic!("{path} {query}: {e}"))
        .rows
}

pub fn certnames(rows: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| r["certname"].as_str().unwrap_or("?").to_string())
        .collect();
    v.sort();
    v
}

/// A request to the API handler as the server hands it over (no TLS): `certname` is the
/// client certificate's, `None` without one.
#[cfg(feature = "server")]
pub fn http_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &str,
    certname: Option<&str>,
) -> puppet_protocol::server::generic::HttpRequest {
    puppet_protocol::server::generic::HttpRequest {
        method: method.parse().expect("method"),
        path: path.to_string(),
        query: puppet_protocol::form::Params(
            query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        headers: Default::default(),
        body: body.as_bytes().to_vec().into(),
        client: puppet_protocol::ClientIdentity {
            certname: certname.map(str::to_string),
            cli_auth: false,
        },
    }
}

/// A Puppet CA in a temp dir, with the server's certificate for `localhost` and
/// 127.0.0.1: what a test of the API over real mTLS needs.
#[cfg(feature = "server")]
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: puppet_ca::CertificateAuthority,
    pub ca_pem: String,
    server: (String, String),
}

#[cfg(feature = "server")]
impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = puppet_ca::CaSettings {
            key: puppet_ca::KeyType::EcP256,
            ..puppet_ca::CaSettings::new("Puppet CA: puppet.example.test")
        };
        let ca =
            puppet_ca::CertificateAuthority::setup(&dir.path().join("ca"), settings).expect("CA");
        let ca_pem = ca.ca_certificate_pem().expect("CA pem");
        let server = ca
            .generate("localhost", &["IP:127.0.0.1".into()])
            .expect("server cert");
        Pki {
            dir,
            ca,
            ca_pem,
            server,
        }
    }

    /// The server's TLS (its certificate, the CA and the CA's CRL).
    pub fn server_tls(&self) -> puppet_protocol::server::TlsSource {
        let (key_pem, cert_pem) = self.server.clone();
        puppet_protocol::server::TlsSource::new(puppet_protocol::server::TlsFiles {
            cert_pem,
            key_pem,
            ca_pem: self.ca_pem.clone(),
            crl_path: self.dir.path().join("ca/ca_crl.pem"),
        })
        .expect("tls")
    }

    /// A client certificate of the CA for `certname`.
    pub fn identity(&self, certname: &str) -> puppet_protocol::client::Identity {
        let (key_pem, cert_pem) = self.ca.generate(certname, &[]).expect("client cert");
        puppet_protocol::client::Identity { cert_pem, key_pem }
    }

    /// A client of the server at `addr` (`localhost`), presenting `identity`.
    pub fn client(
        &self,
        addr: std::net::SocketAddr,
        identity: &puppet_protocol::client::Identity,
    ) -> puppet_protocol::client::ClientBuilder {
        puppet_protocol::client::Client::builder("localhost", addr.port())
            .resolve_to(addr)
            .ca_pem(&self.ca_pem)
            .identity(identity.clone())
    }
}
