//! The agent's settings: Puppet's defaults (Debian paths), `puppet.conf` (`[main]`, then
//! `[agent]` over it) and the command line over both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use puppet_protocol::conf::PuppetConf;

use crate::AgentError;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `certname`.
    pub certname: String,
    /// `server`.
    pub server: String,
    /// `masterport` / `serverport`.
    pub masterport: u16,
    /// `ca_server` (default: `server`).
    pub ca_server: String,
    /// `ca_port` (default: `masterport`).
    pub ca_port: u16,
    /// `environment`.
    pub environment: String,
    /// Whether `environment` was set on the command line or in puppet.conf (then the node
    /// request does not switch it).
    pub environment_given: bool,
    /// `confdir`.
    pub confdir: PathBuf,
    /// `vardir`.
    pub vardir: PathBuf,
    /// `ssldir`.
    pub ssldir: PathBuf,
    /// `publicdir`.
    pub publicdir: PathBuf,
    /// `statedir` (`$vardir/state`).
    pub statedir: PathBuf,
    /// `keylength` (RSA bits).
    pub keylength: u32,
    /// `waitforcert`: how long to wait between certificate requests (0: exit).
    pub waitforcert: Duration,
    /// `noop`.
    pub noop: bool,
    /// `tags`.
    pub tags: Vec<String>,
    /// `report`: send the report (and write `last_run_report.yaml`).
    pub report: bool,
    /// `pluginsync`.
    pub pluginsync: bool,
    /// `dns_alt_names` for the CSR.
    pub dns_alt_names: Vec<String>,
    /// `runinterval` (daemon mode).
    pub runinterval: Duration,
    /// `usecacheonfailure`: apply the cached catalog when a new one cannot be had (`--test`
    /// turns it off).
    pub usecacheonfailure: bool,
    /// `show_diff`: log the diff of a file's content before it is replaced.
    pub show_diff: bool,
    /// `clientbucketdir` (`$vardir/clientbucket`): the local `puppet` filebucket.
    pub clientbucketdir: PathBuf,
    /// `diff` (the command `show_diff` runs) and `diff_args`.
    pub diff: (String, String),
    /// `digest_algorithm` (`sha256`; `md5` and the other sha2 digests are accepted).
    pub digest_algorithm: String,
    /// `certificate_revocation`: which certificates are checked against the CRL.
    pub certificate_revocation: Revocation,
    /// `hostcrl`, when set: the agent's copy of the CRL (`None`: `$ssldir/crl.pem`, see
    /// [`Settings::hostcrl`]).
    pub hostcrl: Option<PathBuf>,
    /// `crl_refresh_interval`: refresh the CRL when `hostcrl` is older (by its mtime). Puppet
    /// 7.23 has no default (the CRL is downloaded once and never refreshed); Puppet 8's is 1d.
    pub crl_refresh_interval: Option<Duration>,
    /// `ca_refresh_interval`: refresh the CA certificates when `certs/ca.pem` is older (a
    /// Puppet 8.1 setting; Puppet 7.23 never refreshes them, which is the default here too).
    pub ca_refresh_interval: Option<Duration>,
    /// `splay`: wait a random time up to `splaylimit` before the first run of the process.
    pub splay: bool,
    /// `splaylimit` (default: `runinterval`).
    pub splaylimit: Duration,
    /// `daemonize` (default true; `--no-daemonize`, `--test` turn it off).
    pub daemonize: bool,
    /// `rundir` (Debian: `/run/puppet`).
    pub rundir: PathBuf,
    /// `pidfile` (`$rundir/agent.pid`).
    pub pidfile: PathBuf,
    /// `logdir` (Debian: `/var/log/puppet`).
    pub logdir: PathBuf,
    /// `http_debug`: where each HTTP request and response line goes (headers only, never a
    /// body or a key). `http_debug = true` sends them to stderr; a caller may set its own.
    pub http_trace: Option<puppet_protocol::client::Tracer>,
    /// Settings from puppet.conf or the command line this agent does not know (kept so a
    /// caller can warn).
    pub unknown: Vec<String>,
}

/// `certificate_revocation`: Puppet's `chain` (`true`, the default), `leaf` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// Every certificate of a chain is checked against a CRL of its issuer.
    Chain,
    /// Only the peer's own certificate is checked.
    Leaf,
    /// No CRL is downloaded or checked.
    Off,
}

impl Revocation {
    /// Parses the setting's value as Puppet does (`true`/`chain`, `leaf`, `false`).
    ///
    /// ```
    /// use puppet_agent::settings::Revocation;
    /// assert_eq!(Revocation::parse("true"), Some(Revocation::Chain));
    /// assert_eq!(Revocation::parse("leaf"), Some(Revocation::Leaf));
    /// assert_eq!(Revocation::parse("false"), Some(Revocation::Off));
    /// assert_eq!(Revocation::parse("maybe"), None);
    /// ```
    pub fn parse(v: &str) -> Option<Revocation> {
        match v {
            "true" | "chain" => Some(Revocation::Chain),
            "leaf" => Some(Revocation::Leaf),
            "false" => Some(Revocation::Off),
            _ => None,
        }
    }
}

fn truthy(v: &str) -> Result<bool, AgentError> {
    match v {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        other => Err(AgentError::Setting(format!(
            "Invalid value '{other}' for boolean parameter"
        ))),
    }
}

pub use puppet_protocol::conf::parse_duration;

impl Settings {
    /// What the `file` type reads of these settings.
    ///
    /// ```
    /// let s = puppet_agent::Settings::load(&[("vardir".into(), "/tmp/v".into())]).unwrap();
    /// assert_eq!(s.file_settings().clientbucketdir, std::path::Path::new("/tmp/v/clientbucket"));
    /// ```
    pub fn file_settings(&self) -> crate::apply::file::FileSettings {
        let mut f = crate::apply::file::FileSettings::new(&self.clientbucketdir, self.show_diff);
        f.diff.command = self.diff.0.clone();
        f.diff.args = self.diff.1.clone();
        f.digest = crate::apply::file::Sum::parse(&self.digest_algorithm)
            .unwrap_or(crate::apply::file::Sum::Sha256);
        f
    }

    /// Settings from Puppet's defaults, `<confdir>/puppet.conf` (`[main]`, then `[agent]`),
    /// then `overrides` (command-line `name=value`, applied last). `confdir` itself may be in
    /// `overrides`; the default is `/etc/puppet`.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("puppet.conf"),
    ///     "[main]\nserver = a.example.test\nvardir = /tmp/v\n[agent]\nserver = b.example.test\n").unwrap();
    /// let confdir = dir.path().to_str().unwrap().to_string();
    /// let s = puppet_agent::Settings::load(&[("confdir".into(), confdir), ("certname".into(), "n1".into())]).unwrap();
    /// assert_eq!(s.server, "b.example.test");
    /// assert_eq!(s.ca_server, "b.example.test");
    /// assert_eq!(s.statedir, std::path::Path::new("/tmp/v/state"));
    /// assert_eq!(s.masterport, 8140);
    /// ```
    pub fn load(overrides: &[(String, String)]) -> Result<Settings, AgentError> {
        let cli: HashMap<&str, &str> = overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let confdir = PathBuf::from(cli.get("confdir").copied().unwrap_or("/etc/puppet"));
        let conf_path = confdir.join("puppet.conf");
        let conf = match std::fs::read_to_string(&conf_path) {
            Ok(text) => PuppetConf::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PuppetConf::default(),
            Err(e) => return Err(AgentError::io("read", &conf_path)(e)),
        };
        // Puppet refuses to start on a line it cannot read.
        if let Some(p) = conf.problems().first() {
            return Err(AgentError::Setting(format!(
                "{} (file: {}, line: {})",
                p.message,
                conf_path.display(),
                p.line
            )));
        }
        let mut merged: HashMap<String, String> = conf
            .merged(&["agent", "main"])
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let from_conf_env = merged.contains_key("environment");
        for (k, v) in &cli {
            merged.insert((*k).to_string(), (*v).to_string());
        }
        // Aliases.
        if let Some(p) = merged.remove("serverport") {
            merged.entry("masterport".into()).or_insert(p);
        }
        let get = |k: &str| merged.get(k).cloned();
        let confdir_s = confdir.to_string_lossy().into_owned();
        let vardir = get("vardir").unwrap_or_else(|| "/var/cache/puppet".into());
        let vardir = vardir.replace("$confdir", &confdir_s);
        let ssldir = get("ssldir")
            .unwrap_or_else(|| "/var/lib/puppet/ssl".into())
            .replace("$confdir", &confdir_s)
            .replace("$vardir", &vardir);
        let publicdir = get("publicdir")
            .unwrap_or_else(|| "$vardir/public".into())
            .replace("$confdir", &confdir_s)
            .replace("$vardir", &vardir);
        let statedir = get("statedir")
            .unwrap_or_else(|| "$vardir/state".into())
            .replace("$vardir", &vardir);
        let rundir = get("rundir")
            .unwrap_or_else(|| "/run/puppet".into())
            .replace("$vardir", &vardir);
        let logdir = get("logdir")
            .unwrap_or_else(|| "/var/log/puppet".into())
            .replace("$vardir", &vardir);
        let certname = match get("certname") {
            Some(c) => c.to_lowercase(),
            None => default_certname(),
        };
        let server = get("server").unwrap_or_else(|| "puppet".into());
        let port = |k: &str, default: u16| -> Result<u16, AgentError> {
            match get(k) {
                Some(v) => v
                    .parse()
                    .map_err(|_| AgentError::Setting(format!("invalid {k} {v:?}"))),
                None => Ok(default),
            }
        };
        let masterport = port("masterport", 8140)?;
        let ca_port = port("ca_port", masterport)?;
        let ca_server = get("ca_server").unwrap_or_else(|| server.clone());
        let keylength = match get("keylength") {
            Some(v) => v
                .parse()
                .map_err(|_| AgentError::Setting(format!("invalid keylength {v:?}")))?,
            None => 4096,
        };
        let duration = |k: &str, default: Duration| -> Result<Duration, AgentError> {
            match get(k) {
                Some(v) => parse_duration(&v)
                    .ok_or_else(|| AgentError::Setting(format!("invalid {k} {v:?}"))),
                None => Ok(default),
            }
        };
        let flag = |k: &str, default: bool| -> Result<bool, AgentError> {
            match get(k) {
                Some(v) => truthy(&v),
                None => Ok(default),
            }
        };
        let list = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .map(|t| t.trim().to_lowercase())
                        .filter(|t| !t.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        const KNOWN: &[&str] = &[
            "confdir",
            "vardir",
            "ssldir",
            "publicdir",
            "statedir",
            "certname",
            "server",
            "masterport",
            "ca_server",
            "ca_port",
            "environment",
            "keylength",
            "waitforcert",
            "noop",
            "tags",
            "report",
            "pluginsync",
            "dns_alt_names",
            "runinterval",
            "show_diff",
            "clientbucketdir",
            "diff",
            "diff_args",
            "digest_algorithm",
            "logdir",
            "rundir",
            "codedir",
            "splay",
            "daemonize",
            "onetime",
            "color",
            "detailed_exitcodes",
            "usecacheonfailure",
            "certificate_revocation",
            "hostcrl",
            "crl_refresh_interval",
            "ca_refresh_interval",
            "splaylimit",
            "pidfile",
            "http_debug",
            "logdest",
        ];
        let mut unknown: Vec<String> = merged
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .cloned()
            .collect();
        unknown.sort();
        let runinterval = duration("runinterval", Duration::from_secs(1800))?;
        let optional = |k: &str| -> Result<Option<Duration>, AgentError> {
            match get(k) {
                Some(v) => parse_duration(&v)
                    .map(Some)
                    .ok_or_else(|| AgentError::Setting(format!("invalid {k} {v:?}"))),
                None => Ok(None),
            }
        };
        let certificate_revocation = match get("certificate_revocation") {
            Some(v) => Revocation::parse(&v).ok_or_else(|| {
                AgentError::Setting(format!(
                    "Invalid certificate_revocation value {v:?}: must be one of 'true', 'chain', 'leaf', or 'false'"
                ))
            })?,
            None => Revocation::Chain,
        };
        let http_trace = flag("http_debug", false)?.then(puppet_protocol::client::Tracer::stderr);
        Ok(Settings {
            hostcrl: get("hostcrl").map(|v| PathBuf::from(v.replace("$ssldir", &ssldir))),
            pidfile: PathBuf::from(
                get("pidfile")
                    .unwrap_or_else(|| "$rundir/agent.pid".into())
                    .replace("$rundir", &rundir),
            ),
            rundir: PathBuf::from(&rundir),
            logdir: PathBuf::from(&logdir),
            certificate_revocation,
            crl_refresh_interval: optional("crl_refresh_interval")?,
            ca_refresh_interval: optional("ca_refresh_interval")?,
            splay: flag("splay", false)?,
            splaylimit: duration("splaylimit", runinterval)?,
            daemonize: flag("daemonize", true)?,
            http_trace,
            certname,
            ca_server,
            ca_port,
            server,
            masterport,
            environment_given: cli.contains_key("environment") || from_conf_env,
            environment: get("environment").unwrap_or_else(|| "production".into()),
            confdir,
            vardir: PathBuf::from(&vardir),
            ssldir: PathBuf::from(&ssldir),
            publicdir: PathBuf::from(publicdir),
            statedir: PathBuf::from(statedir),
            keylength,
            waitforcert: duration("waitforcert", Duration::ZERO)?,
            noop: flag("noop", false)?,
            tags: list("tags"),
            report: flag("report", true)?,
            pluginsync: flag("pluginsync", true)?,
            dns_alt_names: list("dns_alt_names"),
            runinterval,
            show_diff: flag("show_diff", false)?,
            clientbucketdir: PathBuf::from(
                get("clientbucketdir")
                    .unwrap_or_else(|| "$vardir/clientbucket".into())
                    .replace("$vardir", &vardir),
            ),
            diff: (
                get("diff").unwrap_or_else(|| "diff".into()),
                get("diff_args").unwrap_or_else(|| "-u".into()),
            ),
            digest_algorithm: match get("digest_algorithm") {
                Some(d) if crate::apply::file::Sum::parse(&d).is_some_and(|s| s.is_digest()) => d,
                Some(d) => {
                    return Err(AgentError::Setting(format!(
                        "invalid digest_algorithm {d:?}"
                    )));
                }
                None => "sha256".into(),
            },
            usecacheonfailure: flag("usecacheonfailure", true)?,
            unknown,
        })
    }

    /// `hostcrl`: the agent's CRL (`$ssldir/crl.pem` unless set).
    ///
    /// ```
    /// let s = puppet_agent::Settings::load(&[("ssldir".into(), "/tmp/s".into())]).unwrap();
    /// assert_eq!(s.hostcrl(), std::path::Path::new("/tmp/s/crl.pem"));
    /// ```
    pub fn hostcrl(&self) -> PathBuf {
        self.hostcrl
            .clone()
            .unwrap_or_else(|| self.ssldir.join("crl.pem"))
    }

    /// `$vardir/lib` (pluginsync's `plugins` mount).
    pub fn libdir(&self) -> PathBuf {
        self.vardir.join("lib")
    }

    /// `$vardir/facts.d` (pluginsync's `pluginfacts` mount).
    pub fn pluginfactdest(&self) -> PathBuf {
        self.vardir.join("facts.d")
    }

    /// `$vardir/client_data/catalog/<certname>.json`.
    pub fn catalog_cache(&self) -> PathBuf {
        self.vardir
            .join("client_data")
            .join("catalog")
            .join(format!("{}.json", self.certname))
    }

    /// `$confdir/csr_attributes.yaml`.
    pub fn csr_attributes(&self) -> PathBuf {
        self.confdir.join("csr_attributes.yaml")
    }

    /// `$statedir/agent_catalog_run.lock`.
    pub fn run_lock(&self) -> PathBuf {
        self.statedir.join("agent_catalog_run.lock")
    }

    /// `$statedir/agent_disabled.lock`.
    pub fn disable_lock(&self) -> PathBuf {
        self.statedir.join("agent_disabled.lock")
    }
}

/// The machine's fully qualified name, lower case, as Puppet's default certname (Facter's
/// `networking.fqdn`).
fn default_certname() -> String {
    if let Some((facts, _)) = puppet_facts::collect::collect_family("networking")
        && let Some(fqdn) = facts
            .get("networking")
            .and_then(|n| n.get("fqdn"))
            .and_then(|v| v.as_str())
    {
        return fqdn.to_lowercase();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
        .to_lowercase()
}
