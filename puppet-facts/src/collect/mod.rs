//! Collect facts on this machine (Linux), giving facter 4.3's answers.
//!
//! Enabled by the `collect` feature. Each fact family is a module that names its sources
//! (files under `/proc`, `/sys` and `/etc`, and a few system calls); nothing is run through a
//! shell. A family that fails loses only its own facts and adds a warning naming the source
//! ([`Collection::warnings`]); a source that does not exist on this machine (no `/sys/class/dmi`
//! in a container, no swap) makes the fact absent, never invented.
//!
//! - [`collect`] runs every family, then external facts ([`external`]) and `FACTER_*`
//!   variables, and returns a [`Collection`].
//! - [`Collection::facts`] is the tree `facter --json` prints (core facts with external ones
//!   overriding, legacy facts when asked); [`Collection::query`] answers dotted queries as
//!   `facter os.release.major` does; [`format`](mod@format) prints facter's JSON, YAML and text formats.
//! - [`Sources`] says where the files are (`/` normally, a fixture tree in tests) and
//!   [`System`] supplies the system calls, so every family can be run on captured data.
//!
//! ```no_run
//! use puppet_facts::collect::{collect, Options};
//!
//! let collection = collect(&Options::default());
//! for warning in &collection.warnings {
//!     eprintln!("warning: {warning}");
//! }
//! let facts = collection.facts(false);
//! println!("{}", puppet_facts::collect::format::json(&facts));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::FactsError;

pub mod disks;
pub mod dmi;
pub mod external;
pub mod format;
pub mod identity;
pub mod kernel;
pub mod legacy;
pub mod memory;
pub mod misc;
pub mod mountpoints;
pub mod networking;
pub mod os;
pub mod processors;
pub mod query;
pub mod ruby;
pub mod ssh;
mod system;
pub mod virtualization;
mod yaml;

pub use system::{
    FsStats, IfAddr, Live, Route, System, Uname, UserInfo, local_zone, parse_route_dump,
    timezone_abbreviation,
};

/// The facter version whose output this crate reproduces; the `facterversion` fact.
pub const FACTER_VERSION: &str = "4.3.0";

/// Where a collection reads its files: `/` for this machine, or a directory holding a copy of
/// `proc/`, `sys/`, `etc/` (fixtures).
#[derive(Debug, Clone)]
pub struct Sources {
    root: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources::live()
    }
}

impl Sources {
    /// This machine's files.
    pub fn live() -> Sources {
        Sources {
            root: PathBuf::from("/"),
        }
    }

    /// Files under `root` instead of `/` (`root/proc/cpuinfo` for `/proc/cpuinfo`).
    pub fn at(root: impl Into<PathBuf>) -> Sources {
        Sources { root: root.into() }
    }

    /// Whether this reads the live machine.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The real path of an absolute source path such as `/proc/meminfo`.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Reads a source file; `Ok(None)` when it does not exist.
    pub fn read(&self, path: &str) -> io::Result<Option<String>> {
        match std::fs::read(self.path(path)) {
            Ok(bytes) => Ok(Some(match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(20) => Ok(None), // ENOTDIR
            Err(e) => Err(e),
        }
    }

    /// Reads a source file as [`Sources::read`] does, and turns an error into the family's
    /// warning.
    pub fn read_for(&self, family: &'static str, path: &str) -> Result<Option<String>, FactsError> {
        self.read(path).map_err(|e| source_error(family, path, &e))
    }

    /// Reads a small sysfs attribute, stripped; `None` when absent, unreadable or empty.
    pub fn attr(&self, path: &str) -> Option<String> {
        let text = self.read(path).ok()??;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// The names in a directory (not starting with `.`), in readdir order; `Ok(None)` when it
    /// does not exist.
    pub fn list(&self, path: &str) -> io::Result<Option<Vec<String>>> {
        match std::fs::read_dir(self.path(path)) {
            Ok(entries) => {
                let mut names = Vec::new();
                for entry in entries {
                    let name = entry?.file_name().to_string_lossy().into_owned();
                    if !name.starts_with('.') {
                        names.push(name);
                    }
                }
                Ok(Some(names))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the path exists (following links).
    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// Whether the path is a directory (following links).
    pub fn is_dir(&self, path: &str) -> bool {
        self.path(path).is_dir()
    }
}

/// The warning for a source that exists but could not be read or understood.
pub(crate) fn source_error(
    family: &'static str,
    path: &str,
    e: &dyn std::fmt::Display,
) -> FactsError {
    FactsError::Source {
        family,
        path: PathBuf::from(path),
        message: e.to_string(),
    }
}

/// What a collection does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read external facts ([`external`]); `--no-external-facts` clears it.
    pub external_facts: bool,
    /// External fact directories (`--external-dir`, in order); empty = facter's defaults
    /// ([`external::default_dirs`]).
    pub external_dirs: Vec<PathBuf>,
    /// How long an executable external fact may run before it is killed.
    pub exec_timeout: Duration,
    /// Read `FACTER_<name>` environment variables (facter skips them with
    /// `--no-external-facts`).
    pub environment: bool,
    /// Run the families on several threads. Measured with `benches/collect.rs` on a 2-core
    /// VM it does not pay (3.5 ms against 3.2 ms sequentially: each family takes well under
    /// a millisecond), so it is off by default. External executables always run
    /// concurrently, each with its own timeout.
    pub concurrent: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            external_facts: true,
            external_dirs: Vec::new(),
            exec_timeout: Duration::from_secs(300),
            environment: true,
            concurrent: false,
        }
    }
}

/// How long one family (or one external fact file) took.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The family (`os`, `networking`, ...) or the external file's base name.
    pub name: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Everything one collection found.
#[derive(Debug, Default)]
pub struct Collection {
    /// Core facts, nested (`os` → `release` → `major`).
    pub core: Map<String, Value>,
    /// Legacy flat facts (`ipaddress`, `osfamily`, ...), shown with `--show-legacy` or when
    /// queried.
    pub legacy: Map<String, Value>,
    /// External facts and `FACTER_*` variables, flat (a key `os.name` stays one key); each one
    /// replaces the core fact with the same root name.
    pub external: Map<String, Value>,
    /// Sources that failed; the other facts are still there.
    pub warnings: Vec<FactsError>,
    /// Whether an external fact file was broken (facter exits 1 then).
    pub external_failed: bool,
    /// Per-family times, in collection order.
    pub timings: Vec<Timing>,
}

impl Collection {
    /// The facts facter prints: core facts (with legacy ones when `show_legacy`), minus every
    /// core or legacy fact whose root name an external fact has, plus the external facts;
    /// every hash reached through hashes sorted by key (bytewise), arrays left as they are.
    pub fn facts(&self, show_legacy: bool) -> Map<String, Value> {
        let mut out = Map::new();
        let overridden = |name: &str| {
            let root = name.split('.').next().unwrap_or(name);
            self.external.contains_key(root)
        };
        for (k, v) in &self.core {
            if !overridden(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        if show_legacy {
            for (k, v) in &self.legacy {
                if !self.external.contains_key(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        for (k, v) in &self.external {
            if !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
        sort_map(out)
    }

    /// The facts document an agent sends for `certname`: every fact, legacy ones included
    /// (Puppet's facter terminus asks for them), stamped now; add the agent's own facts with
    /// [`Facts::add_local_facts`](crate::Facts::add_local_facts).
    ///
    /// ```no_run
    /// use puppet_facts::collect::{collect, Options};
    ///
    /// let mut facts = collect(&Options::default()).to_facts("agent1.example.test");
    /// facts.add_local_facts("agent1.example.test", "7.23.0", false);
    /// let body = facts.to_json()?;
    /// # Ok::<(), puppet_facts::FactsError>(())
    /// ```
    pub fn to_facts(&self, certname: &str) -> crate::Facts {
        crate::Facts::new(certname, self.facts(true))
    }

    /// Answers queries as facter does ([`query`]).
    pub fn query(&self, queries: &[String]) -> Map<String, Value> {
        query::answer(self, queries)
    }

    /// Whether facter would exit non-zero: an external fact file was broken.
    pub fn failed(&self) -> bool {
        self.external_failed
    }
}

/// Sorts every hash reached through hashes by key, bytewise; hashes inside arrays keep their
/// order (facter's `sort_hash_by_key`).
pub fn sort_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Object(m) => Value::Object(sort_map(m)),
                other => other,
            };
            (k, v)
        })
        .collect()
}

/// A family's collector: reads its sources and inserts its facts.
type Collector = fn(&Sources, &dyn System, &mut Map<String, Value>) -> Result<(), FactsError>;

/// What one family's run gave.
type FamilyRun = (Map<String, Value>, Result<(), FactsError>, Timing);

/// One fact family: its name and its collector.
struct Family {
    name: &'static str,
    run: Collector,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "os",
        run: os::collect,
    },
    Family {
        name: "kernel",
        run: kernel::collect,
    },
    Family {
        name: "processors",
        run: processors::collect,
    },
    Family {
        name: "memory",
        run: memory::collect,
    },
    Family {
        name: "networking",
        run: networking::collect,
    },
    Family {
        name: "mountpoints",
        run: mountpoints::collect,
    },
    Family {
        name: "filesystems",
        run: mountpoints::collect_filesystems,
    },
    Family {
        name: "disks",
        run: disks::collect,
    },
    Family {
        name: "partitions",
        run: disks::collect_partitions,
    },
    Family {
        name: "dmi",
        run: dmi::collect,
    },
    Family {
        name: "identity",
        run: identity::collect,
    },
    Family {
        name: "timezone",
        run: misc::collect_timezone,
    },
    Family {
        name: "path",
        run: misc::collect_path,
    },
    Family {
        name: "system_uptime",
        run: misc::collect_uptime,
    },
    Family {
        name: "load_averages",
        run: misc::collect_load_averages,
    },
    Family {
        name: "fips_enabled",
        run: misc::collect_fips,
    },
    Family {
        name: "aio_agent_version",
        run: misc::collect_aio_agent_version,
    },
    Family {
        name: "facterversion",
        run: misc::collect_facterversion,
    },
    Family {
        name: "ssh",
        run: ssh::collect,
    },
    Family {
        name: "virtual",
        run: virtualization::collect,
    },
];

/// Names of the core fact families, in collection order.
pub fn family_names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().map(|f| f.name)
}

/// Collects every family from this machine, then external facts and `FACTER_*` variables.
pub fn collect(options: &Options) -> Collection {
    collect_from(&Sources::live(), &Live, options)
}

/// Collects from the given sources and system calls (fixtures in tests).
pub fn collect_from(sources: &Sources, system: &dyn System, options: &Options) -> Collection {
    let mut collection = Collection::default();
    let results: Vec<FamilyRun> = if options.concurrent {
        std::thread::scope(|scope| {
            let handles: Vec<_> = FAMILIES
                .iter()
                .map(|family| scope.spawn(move || run_family(family, sources, system)))
                .collect();
            handles
                .into_iter()
                .zip(FAMILIES)
                .map(|(h, family)| {
                    h.join().unwrap_or_else(|_| {
                        (
                            Map::new(),
                            Err(FactsError::Source {
                                family: family.name,
                                path: PathBuf::new(),
                                message: "collector panicked".into(),
                            }),
                            Timing {
                                name: family.name.into(),
                                elapsed: Duration::ZERO,
                            },
                        )
                    })
                })
                .collect()
        })
    } else {
        FAMILIES
            .iter()
            .map(|family| run_family(family, sources, system))
            .collect()
    };
    for (facts, result, timing) in results {
        collection.core.extend(facts);
        if let Err(e) = result {
            collection.warnings.push(e);
        }
        collection.timings.push(timing);
    }
    let started = Instant::now();
    collection.legacy = legacy::derive(&collection.core, sources);
    collection.timings.push(Timing {
        name: "legacy".into(),
        elapsed: started.elapsed(),
    });
    if options.external_facts {
        let dirs = if options.external_dirs.is_empty() {
            external::default_dirs(system)
        } else {
            options.external_dirs.clone()
        };
        let loaded = external::load_dirs(&dirs, options.exec_timeout);
        for (name, value) in loaded.facts {
            collection.external.entry(name).or_insert(value);
        }
        collection.external_failed |= !loaded.errors.is_empty();
        collection.warnings.extend(loaded.errors);
        collection.warnings.extend(loaded.warnings);
        collection.timings.extend(loaded.timings);
    }
    if options.environment {
        for (name, value) in external::environment_facts(std::env::vars_os()) {
            collection.external.insert(name, Value::String(value));
        }
    }
    collection
}

/// Collects one family from this machine (`os`, `networking`, ... as [`family_names`] lists);
/// `None` for an unknown name.
pub fn collect_family(name: &str) -> Option<(Map<String, Value>, Result<(), FactsError>)> {
    let family = FAMILIES.iter().find(|f| f.name == name)?;
    let (facts, result, _) = run_family(family, &Sources::live(), &Live);
    Some((facts, result))
}

fn run_family(family: &Family, sources: &Sources, system: &dyn System) -> FamilyRun {
    let started = Instant::now();
    let mut facts = Map::new();
    let result = (family.run)(sources, system, &mut facts);
    (
        facts,
        result,
        Timing {
            name: family.name.into(),
            elapsed: started.elapsed(),
        },
    )
}

/// Inserts `value` at a dotted path, creating hashes on the way.
pub(crate) fn insert_path(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        let entry = current
            .entry((*key).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert((*last).to_string(), value);
}

/// A string value.
pub(crate) fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}
