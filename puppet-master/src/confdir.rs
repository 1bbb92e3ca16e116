//! A master composed from a Puppet confdir, as the `puppet-master` binary runs it.
//!
//! Layout below the confdir `DIR`:
//!
//! ```text
//! DIR/puppet.conf                        Puppet's settings ([main], then [server]/[master])
//! DIR/autosign.conf                      autosign globs (used when present and `autosign` is unset)
//! DIR/ca/                                the CA, in Puppetserver's layout (`cadir`)
//! DIR/ssl/{certs,private_keys,public_keys}/<certname>.pem   the master's own identity (`ssldir`)
//! DIR/code/environments/<env>/modules/<module>/files/...     puppet:///modules/<module>/...
//! DIR/code/environments/<env>/modules/<module>/{lib,facts.d,locales}/  pluginsync
//! DIR/code/environments/<env>/catalogs/<certname>.json       complete catalogs, per node
//! DIR/code/environments/<env>/resources.json                 the data format (compiler docs)
//! DIR/data/                               facts, catalogs, reports, bucket (`vardir`; storage docs)
//! ```
//!
//! Settings read (Puppet's names): `certname` (default: this host's name), `dns_alt_names`,
//! `autosign` (`true`, `false` or a path), `ca_ttl` (seconds or `5y`, `30d`, `12h`, ...),
//! `allow_auto_renewal` (`true` lets an agent renew its certificate on
//! `/puppet-ca/v1/certificate_renewal`, Puppetserver's `allow-auto-renewal`; default `false`, as
//! Puppetserver 7),
//! `keylength` (RSA bits for a new CA and master key; default 4096), `cadir`, `ssldir`,
//! `vardir`, `environmentpath`. Ours: `ca_admin_certnames` (comma list allowed on the CA
//! admin endpoints and on `POST /file-sync/v1/publish`; default the master's certname) and
//! `max_request_bytes` (default 32 MiB).
//!
//! PuppetDB ([`crate::puppetdb`]), as for Puppetserver's PuppetDB terminus: `storeconfigs =
//! true` with `storeconfigs_backend = puppetdb` sends facts and catalogs, `reports` (a comma
//! list, default `store`, `none` for none) with `puppetdb` sends reports, to the
//! `server_urls` of `DIR/puppetdb.conf` (`soft_write_failure`, `server_url_timeout`).
//!
//! File sync ([`crate::filesync`]), in `[server]`:
//!
//! - `file_sync = off | primary | replica` (default `off`: the code under `environmentpath`
//!   is served as it is on disk);
//! - `primary`: code is staged in `staging_codedir` (default `DIR/code-staging`, laid out as
//!   a codedir: `environments/<env>/...`) and made live by `POST /file-sync/v1/publish`;
//!   versions are kept in `$vardir/filesync` (its `environments/` is the live code), and
//!   compiled catalogs in `$vardir/catalog-reuse` (reused after a restart while the code_id
//!   is unchanged; never a catalog holding a Sensitive value);
//! - `replica`: `file_sync_primary = https://HOST:PORT` names the primary; the replica has
//!   no CA: its certificate, signed by the primary's CA, is in its ssldir as Puppet lays it
//!   out (`certs/<certname>.pem`, `private_keys/<certname>.pem`, `certs/ca.pem`, `crl.pem`),
//!   and its copy of the primary's versions in `$vardir/filesync` ([`bootstrap_replica`] asks
//!   the primary's CA for the certificate when it is absent).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use puppet_ca::{Autosign, CaSettings, CertificateAuthority, KeyType};

use puppet_protocol::AuthPolicy;
use puppet_protocol::server::{Master, MasterOptions, TlsFiles, TlsSource};

use crate::filesync::{ReplicaCa, SyncedCode};
use crate::{FsStorage, MasterError};

/// `puppet.conf` as this master reads it (Puppet's syntax, [`puppet_protocol::conf`]), and
/// what looked wrong in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PuppetConf {
    conf: puppet_protocol::conf::PuppetConf,
    warnings: Vec<ConfWarning>,
}

/// A line of `puppet.conf` that is ignored: not Puppet syntax, or a setting Puppet does not
/// know (a typo, as Puppet warns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfWarning {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The settings this master reads, and other Puppet settings commonly found in a
/// `puppet.conf` (used by agents or by Puppetserver): any other key is warned about.
const KNOWN_SETTINGS: &[&str] = &[
    // Read by this master.
    "certname",
    "dns_alt_names",
    "autosign",
    "ca_ttl",
    "allow_auto_renewal",
    "keylength",
    "cadir",
    "ssldir",
    "vardir",
    "environmentpath",
    "ca_admin_certnames",
    "max_request_bytes",
    "file_sync",
    "staging_codedir",
    "file_sync_primary",
    // Puppet's, read by agents or Puppetserver.
    "server",
    "server_list",
    "serverport",
    "masterport",
    "ca_server",
    "ca_port",
    "environment",
    "runinterval",
    "confdir",
    "codedir",
    "logdir",
    "rundir",
    "publicdir",
    "basemodulepath",
    "modulepath",
    "manifest",
    "hiera_config",
    "reports",
    "reportdir",
    "storeconfigs",
    "storeconfigs_backend",
    "node_terminus",
    "external_nodes",
    "user",
    "group",
    "pidfile",
    "strict_variables",
    "strict",
    "digest_algorithm",
    "ca_name",
    "csr_attributes",
    "allow_duplicate_certs",
    "certificate_revocation",
    "key_type",
    "named_curve",
    "noop",
    "splay",
    "usecacheonfailure",
    "waitforcert",
    "log_level",
    "environment_timeout",
    "default_manifest",
    "always_retry_plugins",
    "pluginsync",
    "factpath",
    "http_proxy_host",
    "http_proxy_port",
    "hostcert_renewal_interval",
    "trusted_server_facts",
    "static_catalogs",
    "localcacert",
    "hostcert",
    "hostprivkey",
];

impl PuppetConf {
    /// Parses the text. Lines Puppet would refuse, and settings no Puppet component knows,
    /// are kept as warnings: the master starts and logs them.
    ///
    /// ```
    /// use puppet_master::confdir::PuppetConf;
    /// let conf = PuppetConf::parse("[main]\ncertname = a\n[server]\ncertname = puppet.example.test\nautosign = true\n");
    /// assert_eq!(conf.server("certname"), Some("puppet.example.test"));
    /// assert_eq!(conf.server("autosign"), Some("true"));
    /// ```
    pub fn parse(text: &str) -> PuppetConf {
        let conf = puppet_protocol::conf::PuppetConf::parse(text);
        let mut warnings: Vec<ConfWarning> = conf
            .problems()
            .iter()
            .map(|p| ConfWarning {
                line: p.line,
                message: format!("{} (ignored)", p.message),
            })
            .collect();
        for (_, key, setting) in conf.settings() {
            if !KNOWN_SETTINGS.contains(&key) {
                warnings.push(ConfWarning {
                    line: setting.line,
                    message: format!("unknown setting {key:?} (ignored)"),
                });
            }
        }
        warnings.sort_by_key(|w| w.line);
        PuppetConf { conf, warnings }
    }

    /// The lines that were ignored, with why.
    ///
    /// ```
    /// use puppet_master::confdir::PuppetConf;
    /// let conf = PuppetConf::parse("[server]\nautosing = true\ncertname puppet\n");
    /// let lines: Vec<usize> = conf.warnings().iter().map(|w| w.line).collect();
    /// assert_eq!(lines, [2, 3]);
    /// assert!(conf.warnings()[0].message.contains("autosing"));
    /// ```
    pub fn warnings(&self) -> &[ConfWarning] {
        &self.warnings
    }

    /// A setting as the server sees it: `[server]`, then `[master]`, then `[main]`.
    pub fn server(&self, key: &str) -> Option<&str> {
        self.conf.get(&["server", "master", "main"], key)
    }
}

pub use puppet_protocol::conf::parse_duration;

/// A master and what it was made from: the paths, the CA and the storage, so a caller (a
/// test, an admin tool) can read back what the master stored.
#[derive(Debug)]
pub struct MasterSetup {
    /// The master, ready to bind.
    pub master: Master,
    /// Its certname.
    pub certname: String,
    /// The CA (`None` on a file sync replica, which has none).
    pub ca: Option<Arc<CertificateAuthority>>,
    /// The CA directory (`None` on a file sync replica).
    pub cadir: Option<PathBuf>,
    /// The master's ssldir.
    pub ssldir: PathBuf,
    /// The environments directory.
    pub environments: PathBuf,
    /// Facts, catalogs and reports.
    pub storage: FsStorage,
    /// File sync's versioned code (`None` with `file_sync = off`).
    pub code: Option<Arc<SyncedCode>>,
}

/// `file_sync` in `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileSyncMode {
    Off,
    Primary,
    Replica,
}

fn config_error(file: &Path, message: String) -> MasterError {
    MasterError::Config {
        file: file.to_path_buf(),
        message,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_ascii_lowercase())
        .ok()
        .filter(|h| puppet_ca::validate_certname(h).is_ok())
        .unwrap_or_else(|| "puppet".to_string())
}

/// Colon-separated upper-case hex SHA-256, as Puppet prints fingerprints.
fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl MasterSetup {
    /// As [`MasterSetup::from_confdir`], creating `dir` first when it does not exist (a
    /// first start: `puppet-master --init`).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let confdir = dir.path().join("new");
    /// assert!(puppet_master::confdir::MasterSetup::from_confdir(&confdir).is_err());
    /// std::fs::create_dir(&confdir).unwrap();
    /// std::fs::write(confdir.join("puppet.conf"), "[server]\ncertname = m.example.test\nkeylength = 2048\n").unwrap();
    /// let setup = puppet_master::confdir::MasterSetup::init(&confdir).unwrap();
    /// assert_eq!(setup.certname, "m.example.test");
    /// ```
    pub fn init(dir: &Path) -> Result<MasterSetup, MasterError> {
        std::fs::create_dir_all(dir).map_err(|source| MasterError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        MasterSetup::from_confdir(dir)
    }

    /// Reads `DIR/puppet.conf` (optional; ignored lines are logged as warnings with file and
    /// line), refuses a `DIR` that does not exist ([`MasterError::NoConfdir`]: a mistyped
    /// path must not get a new CA; see [`MasterSetup::init`]), opens the CA in `cadir` or creates it (with the
    /// master's own certificate, alt names `localhost`, `127.0.0.1`, `puppet` and
    /// `dns_alt_names`), and composes the default services.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use puppet_master::confdir::MasterSetup;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("puppet.conf"),
    ///     "[server]\ncertname = puppet.example.test\nautosign = true\nkeylength = 2048\n").unwrap();
    /// let setup = MasterSetup::from_confdir(dir.path()).unwrap();
    /// assert!(dir.path().join("ca/ca_crt.pem").is_file());
    /// assert!(dir.path().join("ssl/certs/puppet.example.test.pem").is_file());
    /// let running = setup.master.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    /// running.shutdown().await;
    /// # });
    /// ```
    pub fn from_confdir(dir: &Path) -> Result<MasterSetup, MasterError> {
        if !dir.is_dir() {
            return Err(MasterError::NoConfdir {
                path: dir.to_path_buf(),
            });
        }
        let conf_path = dir.join("puppet.conf");
        let conf = match std::fs::read_to_string(&conf_path) {
            Ok(t) => {
                let conf = PuppetConf::parse(&t);
                for w in conf.warnings() {
                    tracing::warn!("{}:{}: {}", conf_path.display(), w.line, w.message);
                }
                conf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PuppetConf::default(),
            Err(source) => {
                return Err(MasterError::Io {
                    what: format!("read {}", conf_path.display()),
                    source,
                });
            }
        };
        let path_setting =
            |key: &str, default: PathBuf| conf.server(key).map(PathBuf::from).unwrap_or(default);
        let certname = master_certname(&conf, &conf_path)?;
        let cadir = path_setting("cadir", dir.join("ca"));
        let ssldir = path_setting("ssldir", dir.join("ssl"));
        let vardir = path_setting("vardir", dir.join("data"));
        let environments = path_setting("environmentpath", dir.join("code/environments"));

        let autosign = match conf.server("autosign") {
            Some(v) => Autosign::from_setting(v),
            None if dir.join("autosign.conf").is_file() => {
                Autosign::Globs(dir.join("autosign.conf"))
            }
            None => Autosign::Off,
        };
        let mut settings = CaSettings::new(format!("Puppet CA: {certname}"));
        settings.autosign = autosign;
        // Serials reserved 64 at a time: a busy CA writes and syncs `serial` once per 64
        // certificates; the rest of a block is given back at shutdown, skipped after a crash.
        settings.serial_block = 64;
        if let Some(ttl) = conf.server("ca_ttl") {
            settings.ca_ttl = parse_duration(ttl).ok_or_else(|| {
                config_error(&conf_path, format!("ca_ttl: invalid duration {ttl:?}"))
            })?;
        }
        if let Some(v) = conf.server("allow_auto_renewal") {
            settings.allow_auto_renewal = match v {
                "true" => true,
                "false" => false,
                other => {
                    return Err(config_error(
                        &conf_path,
                        format!("allow_auto_renewal: expected true or false, got {other:?}"),
                    ));
                }
            };
        }
        if let Some(bits) = conf.server("keylength") {
            let bits: u32 = bits.parse().map_err(|_| {
                config_error(&conf_path, format!("keylength: invalid number {bits:?}"))
            })?;
            settings.key = KeyType::Rsa(bits);
        }
        let mode = match conf.server("file_sync").unwrap_or("off") {
            "off" => FileSyncMode::Off,
            "primary" => FileSyncMode::Primary,
            "replica" => FileSyncMode::Replica,
            other => {
                return Err(config_error(
                    &conf_path,
                    format!("file_sync: expected off, primary or replica, got {other:?}"),
                ));
            }
        };
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| MasterError::Io {
                what: format!("read {}", p.display()),
                source,
            })
        };
        let cert_path = ssldir.join("certs").join(format!("{certname}.pem"));
        let key_path = ssldir.join("private_keys").join(format!("{certname}.pem"));
        let (ca, tls) = if mode == FileSyncMode::Replica {
            // A replica never creates a CA: its identity comes from the primary's.
            let ca_pem_path = ssldir.join("certs/ca.pem");
            for p in [&cert_path, &key_path, &ca_pem_path, &ssldir.join("crl.pem")] {
                if !p.is_file() {
                    return Err(config_error(
                        &conf_path,
                        format!(
                            "file_sync = replica: {} is missing (a replica's certificate, key, the CA certificate and CRL come from the primary's CA, e.g. `puppet-ca --cadir PRIMARY/ca generate --certname {certname} --ssldir {}`, then copy the CA certificate and CRL beside them)",
                            p.display(),
                            ssldir.display()
                        ),
                    ));
                }
            }
            let tls = TlsSource::new(TlsFiles {
                cert_pem: read(&cert_path)?,
                key_pem: read(&key_path)?,
                ca_pem: read(&ca_pem_path)?,
                crl_path: ssldir.join("crl.pem"),
            })?;
            (None, tls)
        } else {
            let (ca, tls) = Self::open_ca(&cadir, &ssldir, settings, &conf, &certname)?;
            (Some(ca), tls)
        };

        let production = environments.join("production").join("modules");
        std::fs::create_dir_all(&production).map_err(|source| MasterError::Io {
            what: format!("create {}", production.display()),
            source,
        })?;

        // One store, shared with the caller: clones share the queue of pending writes.
        let storage = FsStorage::new(&vardir);
        let swept = storage
            .sweep_temp_files()
            .map_err(|source| MasterError::Io {
                what: format!("sweep temporary files in {}", vardir.display()),
                source,
            })?;
        if swept > 0 {
            tracing::warn!(
                "removed {swept} temporary files left by an interrupted write in {}",
                vardir.display()
            );
        }
        let mut services = match &ca {
            Some(ca) => crate::services_with_storage(ca.clone(), &environments, storage.clone()),
            None => crate::services_with_ca_service(
                Arc::new(ReplicaCa::new(&ssldir)),
                &environments,
                storage.clone(),
            ),
        };
        let code = match mode {
            FileSyncMode::Off => None,
            FileSyncMode::Primary => {
                let staging = path_setting("staging_codedir", dir.join("code-staging"));
                let staged = staging.join("environments").join("production");
                std::fs::create_dir_all(&staged).map_err(|source| MasterError::Io {
                    what: format!("create {}", staged.display()),
                    source,
                })?;
                let store = open_store(&vardir)?;
                Some(SyncedCode::primary(store, staging))
            }
            FileSyncMode::Replica => {
                let (_, host, port) = file_sync_primary(&conf, &conf_path)?;
                let client = puppet_protocol::client::Client::builder(&host, port)
                    .ca_pem(&read(&ssldir.join("certs/ca.pem"))?)
                    .identity(puppet_protocol::client::Identity {
                        cert_pem: read(&cert_path)?,
                        key_pem: read(&key_path)?,
                    })
                    .connect_timeout(Duration::from_secs(5))
                    .build()?;
                let store = open_store(&vardir)?;
                Some(SyncedCode::replica(
                    store,
                    client,
                    Some(ssldir.join("crl.pem")),
                ))
            }
        };
        if let Some(code) = &code {
            crate::filesync::use_file_sync(
                &mut services,
                code.clone(),
                crate::DataCompiler::new(&environments),
                Some(vardir.join("catalog-reuse")),
            );
        }
        // PuppetDB, as Puppetserver's terminus is configured: `storeconfigs` (facts and
        // catalogs), `reports` (`puppetdb` among the processors), `$confdir/puppetdb.conf`.
        let storeconfigs = match conf.server("storeconfigs") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(config_error(
                    &conf_path,
                    format!("storeconfigs: expected true or false, got {other:?}"),
                ));
            }
        };
        if storeconfigs && conf.server("storeconfigs_backend") != Some("puppetdb") {
            return Err(config_error(
                &conf_path,
                format!(
                    "storeconfigs = true needs storeconfigs_backend = puppetdb (got {:?}; no other backend exists here)",
                    conf.server("storeconfigs_backend")
                        .unwrap_or("active_record")
                ),
            ));
        }
        let reports: Vec<String> = match conf.server("reports").map(str::trim) {
            None => vec!["store".into()],
            Some("none") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect(),
        };
        for r in &reports {
            if r != "store" && r != "puppetdb" {
                tracing::warn!("{}: reports: No report named '{r}'", conf_path.display());
            }
        }
        if storeconfigs || reports.iter().any(|r| r == "puppetdb") || reports != ["store"] {
            let pdb = crate::puppetdb::PuppetDbConf::read(&dir.join("puppetdb.conf"))?;
            let (ca_pem, crl_path) = match &ca {
                Some(ca) => (ca.ca_certificate_pem()?, cadir.join("ca_crl.pem")),
                None => (read(&ssldir.join("certs/ca.pem"))?, ssldir.join("crl.pem")),
            };
            let crl = std::fs::read_to_string(&crl_path).ok();
            let client = crate::puppetdb::PuppetDbClient::new(
                &pdb,
                &ca_pem,
                crl.as_deref(),
                puppet_protocol::client::Identity {
                    cert_pem: read(&cert_path)?,
                    key_pem: read(&key_path)?,
                },
            )?;
            let db = Arc::new(
                crate::puppetdb::PuppetDbStorage::new(
                    storage.clone(),
                    Arc::new(client),
                    certname.clone(),
                    storeconfigs,
                    reports,
                    pdb.soft_write_failure,
                )
                .with_oid_mapping(crate::puppetdb::OidMapping::read(
                    &conf.server("trusted_oid_mapping_file").map_or_else(
                        || dir.join("custom_trusted_oid_mapping.yaml"),
                        PathBuf::from,
                    ),
                )?),
            );
            if storeconfigs {
                tracing::info!(
                    "facts and catalogs go to PuppetDB at {}",
                    pdb.server_urls
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            services.facts = db.clone();
            services.catalogs = db.clone();
            services.reports = db;
        }
        let admins = conf
            .server("ca_admin_certnames")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| vec![certname.clone()]);
        let mut options = MasterOptions {
            auth: AuthPolicy {
                admin_certnames: admins,
            },
            ..MasterOptions::default()
        };
        if let Some(v) = conf.server("max_request_bytes") {
            options.max_body_bytes = v.parse().map_err(|_| {
                config_error(
                    &conf_path,
                    format!("max_request_bytes: invalid number {v:?}"),
                )
            })?;
        }
        Ok(MasterSetup {
            master: Master::new(tls, services, options),
            certname,
            cadir: ca.as_ref().map(|_| cadir),
            ca,
            ssldir,
            environments,
            storage,
            code,
        })
    }

    /// Opens the CA in `cadir` or creates it, and the master's own certificate; the TLS
    /// material of the master.
    fn open_ca(
        cadir: &Path,
        ssldir: &Path,
        settings: CaSettings,
        conf: &PuppetConf,
        certname: &str,
    ) -> Result<(Arc<CertificateAuthority>, TlsSource), MasterError> {
        let new_ca = !cadir.join("ca_crt.pem").exists();
        let ca = Arc::new(CertificateAuthority::open_or_setup(cadir, settings)?);
        if new_ca {
            let der = puppet_ca::certificate_der(&ca.ca_certificate_pem()?)?;
            tracing::info!(
                "created a new CA in {}, fingerprint (SHA256) {}",
                cadir.display(),
                fingerprint(&der)
            );
        }

        let cert_path = ssldir.join("certs").join(format!("{certname}.pem"));
        let key_path = ssldir.join("private_keys").join(format!("{certname}.pem"));
        if !cert_path.is_file() || !key_path.is_file() {
            let mut alt: Vec<String> = vec![
                "localhost".into(),
                "puppet".into(),
                "IP:127.0.0.1".into(),
                "IP:::1".into(),
            ];
            for name in conf.server("dns_alt_names").unwrap_or("").split(',') {
                let name = name.trim();
                if !name.is_empty() && !alt.iter().any(|a| a == name) {
                    alt.push(name.to_string());
                }
            }
            let (key, cert) = ca.generate(certname, &alt)?;
            ca.save_to_ssldir(ssldir, certname, &key, &cert)?;
            tracing::info!(
                "created the master's certificate {} for {certname} (alt names {})",
                cert_path.display(),
                alt.join(", ")
            );
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| MasterError::Io {
                what: format!("read {}", p.display()),
                source,
            })
        };
        let tls = TlsSource::new(TlsFiles {
            cert_pem: read(&cert_path)?,
            key_pem: read(&key_path)?,
            ca_pem: ca.ca_certificate_pem()?,
            crl_path: cadir.join("ca_crl.pem"),
        })?;

        Ok((ca, tls))
    }
}

/// The file sync store in `$vardir/filesync`.
fn open_store(vardir: &Path) -> Result<puppet_filesync::Store, MasterError> {
    Ok(puppet_filesync::Store::open(vardir.join("filesync"))?)
}

/// The master's `certname` (lowercased; the host name when unset), validated.
fn master_certname(conf: &PuppetConf, conf_path: &Path) -> Result<String, MasterError> {
    let certname = conf
        .server("certname")
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(hostname);
    puppet_ca::validate_certname(&certname)
        .map_err(|e| config_error(conf_path, format!("certname: {e}")))?;
    Ok(certname)
}

/// A replica's `file_sync_primary` (read from `conf_path`): the setting, the primary's host
/// and its port.
fn file_sync_primary<'a>(
    conf: &'a PuppetConf,
    conf_path: &Path,
) -> Result<(&'a str, String, u16), MasterError> {
    let url = conf.server("file_sync_primary").ok_or_else(|| {
        config_error(
            conf_path,
            "file_sync = replica needs file_sync_primary = https://HOST:PORT".into(),
        )
    })?;
    let (host, port) = parse_primary(url).ok_or_else(|| {
        config_error(
            conf_path,
            format!("file_sync_primary: expected https://HOST:PORT, got {url:?}"),
        )
    })?;
    Ok((url, host, port))
}

/// `https://HOST:PORT` (port 8140 when absent; an IPv6 address in brackets).
fn parse_primary(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?.trim_end_matches('/');
    if rest.contains('/') || rest.is_empty() {
        return None;
    }
    if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 8140,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((rest.to_string(), 8140)),
    }
}

/// Gets a file sync replica its certificate from the primary's CA, as an agent does, when
/// `DIR/puppet.conf` says `file_sync = replica` and the replica's certificate is absent:
/// the key (`private_keys/<certname>.pem`, 0600; kept when it exists; `keylength` bits, or
/// EC P-256 with `key_type = ec`), a CSR with `dns_alt_names` submitted to
/// `file_sync_primary`, the signed certificate waited for (up to `wait`: sign it on the
/// primary, or autosign it there), then the certificate and the CRL written beside the CA
/// certificate. The trust anchor `certs/ca.pem` must be there already (copied from the
/// primary): nothing is trusted on first use. Returns whether a certificate was obtained
/// (`false`: not a replica, or it has one).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("puppet.conf"), "[server]\nfile_sync = off\n").unwrap();
/// let got = puppet_master::confdir::bootstrap_replica(dir.path(), std::time::Duration::ZERO).await;
/// assert!(!got.unwrap());
/// # });
/// ```
pub async fn bootstrap_replica(dir: &Path, wait: Duration) -> Result<bool, MasterError> {
    let conf_path = dir.join("puppet.conf");
    let conf = match std::fs::read_to_string(&conf_path) {
        Ok(t) => PuppetConf::parse(&t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(MasterError::Io {
                what: format!("read {}", conf_path.display()),
                source,
            });
        }
    };
    if conf.server("file_sync") != Some("replica") {
        return Ok(false);
    }
    let certname = master_certname(&conf, &conf_path)?;
    let ssldir = conf
        .server("ssldir")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("ssl"));
    let cert_path = ssldir.join("certs").join(format!("{certname}.pem"));
    if cert_path.is_file() {
        return Ok(false);
    }
    let ca_path = ssldir.join("certs/ca.pem");
    let ca_pem = std::fs::read_to_string(&ca_path).map_err(|e| {
        config_error(
            &conf_path,
            format!(
                "file_sync = replica: cannot read the primary's CA certificate {} ({e}): copy it from the primary first",
                ca_path.display()
            ),
        )
    })?;
    let (url, host, port) = file_sync_primary(&conf, &conf_path)?;
    let key_path = ssldir.join("private_keys").join(format!("{certname}.pem"));
    let key_type = match (conf.server("key_type"), conf.server("keylength")) {
        (Some("ec"), _) => KeyType::EcP256,
        (_, Some(bits)) => KeyType::Rsa(bits.parse().map_err(|_| {
            config_error(&conf_path, format!("keylength: invalid number {bits:?}"))
        })?),
        _ => KeyType::default(),
    };
    let mut builder = puppet_ca::CsrBuilder::new(&certname)?
        .key_type(key_type)
        .dns_alt_names(
            conf.server("dns_alt_names")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty()),
        );
    let existing_key = std::fs::read(&key_path).ok();
    if let Some(k) = &existing_key {
        builder = builder.key_pem(k.clone());
    }
    let made = tokio::task::spawn_blocking(move || builder.build())
        .await
        .map_err(|e| config_error(&conf_path, format!("key generation: {e}")))??;
    if existing_key.is_none() {
        write_private(&key_path, made.key_pem.as_bytes(), 0o600)?;
    }
    let client = puppet_protocol::client::Client::builder(&host, port)
        .ca_pem(&ca_pem)
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let start = std::time::Instant::now();
    let mut submitted = false;
    let cert = loop {
        if let Some(cert) = client.certificate(&certname).await? {
            break cert;
        }
        if !submitted {
            client.submit_csr(&certname, &made.csr_pem).await?;
            tracing::info!("submitted a certificate request for {certname} to {url}");
            submitted = true;
            continue;
        }
        if start.elapsed() >= wait {
            return Err(config_error(
                &conf_path,
                format!(
                    "the primary's CA has not signed {certname} within {wait:?}: sign it there (puppet-ca sign --certname {certname}) and start again"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500).min(wait)).await;
    };
    let crl = client.crl().await?;
    write_private(&cert_path, cert.as_bytes(), 0o644)?;
    write_private(&ssldir.join("crl.pem"), crl.as_bytes(), 0o644)?;
    tracing::info!(
        "file sync: got the certificate {} from the primary's CA",
        cert_path.display()
    );
    Ok(true)
}

/// Writes `bytes` to `path` with `mode` (temp file in the same directory, fsync, rename),
/// creating the directory (0750 for `private_keys`, as Puppet makes it).
fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), MasterError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let io = |what: String| move |source| MasterError::Io { what, source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    if mode == 0o600 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
            .map_err(io(format!("chmod {}", dir.display())))?;
    }
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(io(format!("write in {}", dir.display())))?;
    let what = format!("write {}", path.display());
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| tmp.write_all(bytes))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io(what.clone()))?;
    tmp.persist(path).map_err(|e| MasterError::Io {
        what,
        source: e.error,
    })?;
    Ok(())
}
