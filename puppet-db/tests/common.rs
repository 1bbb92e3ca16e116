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

/// One throwaway PostgreSQL cluster per test binary: `initdb` in a temp dir, a Unix socket
/// there (no TCP), `pg_ctl start`; each test gets its own database. A watchdog process stops
/// the cluster and removes the directory once this process is gone.
#[cfg(feature = "postgres")]
pub mod pg {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Cluster {
        /// Outlives this process on purpose: it stops the cluster after we are gone.
        _watchdog: std::process::Child,
        bin: PathBuf,
        socket: PathBuf,
        as_postgres: bool,
        next: AtomicUsize,
    }

    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

    /// The cluster, started on first use; `None` (after one line on stderr) without
    /// PostgreSQL's binaries, a panic instead when PUPPET_RS_REQUIRE_REAL=1.
    pub fn cluster() -> Option<&'static Cluster> {
        CLUSTER.get_or_init(start).as_ref()
    }

    /// Debian's /usr/lib/postgresql/<version>/bin (newest first), else `initdb` on PATH.
    fn bin_dir() -> Option<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((v, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Some(bin);
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        })
    }

    fn is_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    }

    impl Cluster {
        /// A command running `program` from the cluster's binaries (as `postgres` when we
        /// are root: initdb refuses root).
        fn command(&self, program: &str) -> Command {
            command(&self.bin, self.as_postgres, program)
        }

        /// A new, empty database; its connection string.
        pub fn database(&self) -> String {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let name = format!("t{}_{n}", std::process::id());
            let out = self
                .command("createdb")
                .args(["-h"])
                .arg(&self.socket)
                .args(["-U", "postgres", &name])
                .output()
                .expect("createdb");
            assert!(
                out.status.success(),
                "createdb: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            format!("host={} user=postgres dbname={name}", self.socket.display())
        }

        /// `pg_dump` of the database behind `url` (made by [`Cluster::database`]).
        pub fn dump(&self, url: &str) -> Vec<u8> {
            let name = url.rsplit("dbname=").next().unwrap_or_default();
            let out = self
                .command("pg_dump")
                .arg("-h")
                .arg(&self.socket)
                .args(["-U", "postgres", name])
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }

    fn command(bin: &Path, as_postgres: bool, program: &str) -> Command {
        if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        }
    }

    fn start() -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            if std::env::var("PUPPET_RS_REQUIRE_REAL").as_deref() == Ok("1") {
                panic!(
                    "PostgreSQL's binaries (initdb, pg_ctl) are not installed and PUPPET_RS_REQUIRE_REAL=1"
                );
            }
            eprintln!(
                "skipping the PostgreSQL runs of puppet-db's tests: no initdb (apt-get install postgresql)"
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("puppet-db-pg-")
            .tempdir()
            .expect("tempdir")
            .keep();
        if as_postgres {
            let st = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(st.success(), "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let run = |program: &str, args: &[&std::ffi::OsStr]| {
            let out = command(&bin, as_postgres, program)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            assert!(
                out.status.success(),
                "{program}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-locale".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c max_connections=200",
            dir.display()
        );
        let log = dir.join("log");
        run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        // The watchdog: when this test process is gone, stop the cluster and remove it.
        let stop = command(&bin, as_postgres, "pg_ctl");
        let mut stop_line: Vec<String> = std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        stop_line.extend([
            "-D".into(),
            data.display().to_string(),
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ]);
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg("while kill -0 \"$0\" 2>/dev/null; do sleep 0.5; done; \"$@\"; rm -rf \"$DIR\"")
            .arg(std::process::id().to_string())
            .args(&stop_line)
            .env("DIR", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watchdog");
        Some(Cluster {
            _watchdog: watchdog,
            bin,
            socket: dir,
            as_postgres,
            next: AtomicUsize::new(0),
        })
    }
}

pub fn submit(db: &PuppetDb, command: &str, version: u32, certname: &str, body: &Value) {
    let params = [
        ("command", command.to_string()),
        ("version", version.to_string()),
        ("certname", certname.to_string()),
    ];
    db.submit(&params, body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{command} for {certname}: {e}"));
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
