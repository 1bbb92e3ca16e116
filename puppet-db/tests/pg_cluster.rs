//! One throwaway PostgreSQL cluster per test binary: `initdb` in a temp dir, a Unix socket
//! there (no TCP), `pg_ctl start`; each test gets its own database. A watchdog process stops
//! the cluster and removes the directory once the test process is gone. Shared by
//! puppet-db's tests and the `puppet-db` binary's (bins/tests/db_cli.rs includes this file).

#![allow(dead_code)]

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

    /// The directory of the cluster's Unix socket.
    pub fn socket(&self) -> &Path {
        &self.socket
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
