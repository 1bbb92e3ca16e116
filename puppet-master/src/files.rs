//! The file server: Puppet's `modules` mount and the pluginsync mounts (`plugins`,
//! `pluginfacts`, `locales`) served from an environment's modules, with file metadata in
//! Puppetserver's shape (mode in decimal, prefixed checksums, `{ctime}` for directories).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use puppet_protocol::ProtocolError;
use puppet_protocol::files::{
    Checksum, FileMetadata, FileType, Links, MetadataOptions, glob_match,
};
use puppet_protocol::server::{FileContent, FileServer};

use crate::{blocking, lock};

/// The default file server, over `<environments>/<env>/modules/<module>/`:
/// `modules/<m>/<path>` is `<m>/files/<path>`; `plugins`, `pluginfacts` and `locales` merge
/// every module's `lib/`, `facts.d/` and `locales/`; static content
/// (`modules/<m>/files/<path>`) is the same files.
#[derive(Debug, Clone)]
pub struct ModuleFileServer {
    environments: PathBuf,
    /// Serves only this environment, from `environments` itself (one version of its code).
    pinned: Option<String>,
    /// The `code_id` of the last catalog served to each (certname, environment): the one
    /// code version `static_file_content` serves that node.
    served: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl ModuleFileServer {
    /// A file server over an environments directory (Puppet's `environmentpath`).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use puppet_master::ModuleFileServer;
    /// use puppet_protocol::files::MetadataOptions;
    /// use puppet_protocol::server::FileServer;
    /// let dir = tempfile::tempdir().unwrap();
    /// let files = dir.path().join("production/modules/motd/files");
    /// std::fs::create_dir_all(&files).unwrap();
    /// std::fs::write(files.join("motd"), "hello\n").unwrap();
    /// let server = ModuleFileServer::new(dir.path());
    /// let meta = server.metadata("production", "modules/motd/motd", &MetadataOptions::default()).await.unwrap();
    /// assert_eq!(meta.file_type, puppet_protocol::files::FileType::File);
    /// assert!(meta.checksum.value.starts_with("{sha256}"));
    /// assert_eq!(server.content("production", "modules/motd/motd").await.unwrap(), b"hello\n");
    /// assert_eq!(server.content_uri("modules/motd/motd").as_deref(), Some("modules/motd/files/motd"));
    /// # });
    /// ```
    pub fn new(environments: impl Into<PathBuf>) -> ModuleFileServer {
        ModuleFileServer {
            environments: environments.into(),
            pinned: None,
            served: Arc::default(),
        }
    }

    /// A file server of one environment `env` whose directory is `dir` (a materialized
    /// version of file sync: `dir` never changes). Other environments are not found.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use puppet_master::ModuleFileServer;
    /// use puppet_protocol::server::FileServer;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir_all(dir.path().join("modules/m/files")).unwrap();
    /// std::fs::write(dir.path().join("modules/m/files/a"), "v1").unwrap();
    /// let server = ModuleFileServer::pinned("production", dir.path());
    /// assert_eq!(server.content("production", "modules/m/a").await.unwrap(), b"v1");
    /// assert!(server.content("testing", "modules/m/a").await.is_err());
    /// # });
    /// ```
    pub fn pinned(env: &str, dir: impl Into<PathBuf>) -> ModuleFileServer {
        ModuleFileServer {
            environments: dir.into(),
            pinned: Some(env.to_string()),
            served: Arc::default(),
        }
    }

    fn envdir(&self, env: &str) -> Result<PathBuf, ProtocolError> {
        match &self.pinned {
            None => Ok(self.environments.join(env)),
            Some(p) if p == env => Ok(self.environments.clone()),
            Some(_) => Err(ProtocolError::EnvironmentNotFound(env.to_string())),
        }
    }

    /// The filesystem roots a mount path resolves to, in priority order, and whether the
    /// path names a mount root merged from several modules.
    /// `false` with the roots: an empty pluginsync mount, described by one directory but not
    /// listed and holding no content.
    fn roots(
        &self,
        env: &str,
        path: &str,
        static_content: bool,
    ) -> Result<(Vec<PathBuf>, bool), ProtocolError> {
        check_env(env)?;
        let envdir = self.envdir(env)?;
        if !envdir.is_dir() {
            return Err(ProtocolError::EnvironmentNotFound(env.to_string()));
        }
        let modules = envdir.join("modules");
        let (mount, rest) = path.split_once('/').unwrap_or((path, ""));
        match mount {
            "modules" => {
                let (module, rest) = rest.split_once('/').unwrap_or((rest, ""));
                check_module(module)?;
                let base = modules.join(module);
                let p = if static_content {
                    // content_uri paths carry files/ already; nothing else is served.
                    if !rest.starts_with("files/") {
                        return Err(ProtocolError::NotFound(format!(
                            "Could not find static file {path}"
                        )));
                    }
                    base.join(rest)
                } else {
                    base.join("files").join(rest)
                };
                Ok((vec![p], true))
            }
            "plugins" | "pluginfacts" | "locales" => {
                let sub = match mount {
                    "plugins" => "lib",
                    "pluginfacts" => "facts.d",
                    _ => "locales",
                };
                let mut names: Vec<PathBuf> = std::fs::read_dir(&modules)
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                names.sort();
                let roots: Vec<PathBuf> = names
                    .into_iter()
                    .map(|m| m.join(sub))
                    .filter(|p| p.is_dir())
                    .map(|p| if rest.is_empty() { p } else { p.join(rest) })
                    .collect();
                if roots.is_empty() && rest.is_empty() {
                    // As Puppetserver: an empty mount is described by the modules directory
                    // alone (never recursed into: see `EMPTY_MOUNT`).
                    let root = if modules.is_dir() { modules } else { envdir };
                    return Ok((vec![root], false));
                }
                Ok((roots, true))
            }
            _ => Err(ProtocolError::NotFound(format!(
                "Could not find mount {mount}"
            ))),
        }
    }
}

fn check_env(env: &str) -> Result<(), ProtocolError> {
    if !env.is_empty()
        && env.len() <= 128
        && env
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(ProtocolError::BadRequest(format!(
            "Invalid environment name {env:?}"
        )))
    }
}

fn check_module(m: &str) -> Result<(), ProtocolError> {
    if !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(ProtocolError::NotFound(format!(
            "Could not find module {m:?}"
        )))
    }
}

/// The uid and gid of this process (owner reported with `source_permissions=ignore`).
fn process_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((0, 0))
}

fn ctime_string(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The content checksum of a file.
fn file_checksum(path: &Path, checksum_type: &str) -> std::io::Result<Checksum> {
    let bytes = std::fs::read(path)?;
    Ok(Checksum::of(&bytes, checksum_type))
}

/// Describes one file as Puppet's `file_metadata` does.
fn describe(
    root: &Path,
    full: &Path,
    relative: Option<&str>,
    o: &MetadataOptions,
) -> std::io::Result<FileMetadata> {
    use std::os::unix::fs::MetadataExt;
    let meta = match o.links {
        Links::Manage => std::fs::symlink_metadata(full)?,
        Links::Follow => std::fs::metadata(full)?,
    };
    let ft = meta.file_type();
    let (kind, destination) = if ft.is_symlink() {
        (
            FileType::Link,
            Some(std::fs::read_link(full)?.to_string_lossy().into_owned()),
        )
    } else if ft.is_dir() {
        (FileType::Directory, None)
    } else {
        (FileType::File, None)
    };
    let (owner, group) = if o.source_permissions_use {
        (meta.uid(), meta.gid())
    } else {
        process_ids()
    };
    let ctime = || Checksum::time("ctime", &ctime_string(meta.ctime()));
    let checksum = match (kind, o.checksum_type.as_str()) {
        (FileType::Directory, _) | (_, "ctime") => ctime(),
        (_, "mtime") => Checksum::time("mtime", &ctime_string(meta.mtime())),
        (_, "none") => Checksum::none(),
        (FileType::Link, t) => match std::fs::metadata(full) {
            Ok(m) if m.is_file() => file_checksum(full, t)?,
            _ => ctime(),
        },
        (_, t) => file_checksum(full, t)?,
    };
    Ok(FileMetadata {
        path: root.to_string_lossy().into_owned(),
        relative_path: relative.map(String::from),
        links: o.links,
        owner,
        group,
        mode: meta.mode() & 0o7777,
        checksum,
        file_type: kind,
        destination,
        content_uri: None,
        source: None,
    })
}

/// Lists `root` recursively (breadth first, names sorted) into `out`, keyed by relative path.
/// `seen` holds what earlier roots of a merged mount listed (relative path → directory?):
/// the first root wins a path, and a directory several roots have is listed once and
/// walked in each, so their contents merge (Puppet's `plugins` mount over every module's
/// `lib/`).
fn walk(
    root: &Path,
    o: &MetadataOptions,
    seen: &mut BTreeMap<String, bool>,
    out: &mut Vec<FileMetadata>,
) -> std::io::Result<()> {
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), String::new(), 0u32)]);
    while let Some((dir, rel, depth)) = queue.pop_front() {
        if o.recurselimit.is_some_and(|l| depth >= l) || depth > 64 {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if o.ignore.iter().any(|g| glob_match(g, &name)) {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let full = dir.join(&name);
            if let Some(&was_dir) = seen.get(&child_rel) {
                let is_dir = match o.links {
                    Links::Manage => std::fs::symlink_metadata(&full),
                    Links::Follow => std::fs::metadata(&full),
                }
                .is_ok_and(|m| m.is_dir());
                if was_dir && is_dir {
                    queue.push_back((full, child_rel, depth + 1));
                }
                continue;
            }
            let value = describe(root, &full, Some(&child_rel), o)?;
            let is_dir = value.file_type == FileType::Directory;
            if is_dir {
                queue.push_back((full, child_rel.clone(), depth + 1));
            }
            seen.insert(child_rel, is_dir);
            out.push(value);
        }
    }
    Ok(())
}

fn not_found(what: &str, path: &str) -> ProtocolError {
    ProtocolError::NotFound(format!("Could not find {what} {path}"))
}

fn first_existing(roots: Vec<PathBuf>) -> Option<PathBuf> {
    roots
        .into_iter()
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

impl ModuleFileServer {
    fn metadata_sync(
        &self,
        env: &str,
        path: &str,
        o: &MetadataOptions,
    ) -> Result<FileMetadata, ProtocolError> {
        let full = first_existing(self.roots(env, path, false)?.0)
            .ok_or_else(|| not_found("file_metadata", path))?;
        describe(&full, &full, None, o).map_err(|e| ProtocolError::io(path, e))
    }

    fn metadatas_sync(
        &self,
        env: &str,
        path: &str,
        o: &MetadataOptions,
    ) -> Result<Vec<FileMetadata>, ProtocolError> {
        let (roots, listable) = self.roots(env, path, false)?;
        let roots: Vec<PathBuf> = roots
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .collect();
        let Some(first) = roots.first() else {
            return Err(not_found("file_metadatas", path));
        };
        let io = |e: std::io::Error| ProtocolError::io(path, e);
        let mut out = vec![describe(first, first, Some("."), o).map_err(io)?];
        if o.recurse && listable {
            let mut seen = BTreeMap::new();
            for root in &roots {
                if std::fs::metadata(root).is_ok_and(|m| m.is_dir()) {
                    walk(root, o, &mut seen, &mut out).map_err(io)?;
                }
            }
        }
        if o.max_files > 0 && out.len() as i64 > o.max_files {
            return Err(ProtocolError::BadRequest(format!(
                "The directory '{path}' contains {} entries, which exceeds the limit of {} specified by max_files",
                out.len(),
                o.max_files
            )));
        }
        Ok(out)
    }

    fn content_path(
        &self,
        env: &str,
        path: &str,
        static_content: bool,
    ) -> Result<PathBuf, ProtocolError> {
        let (roots, listable) = self.roots(env, path, static_content)?;
        roots
            .into_iter()
            .filter(|_| listable)
            .find(|p| p.is_file())
            .ok_or_else(|| not_found("file_content", path))
    }

    pub(crate) fn content_sync(
        &self,
        env: &str,
        path: &str,
        static_content: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let full = self.content_path(env, path, static_content)?;
        std::fs::read(&full).map_err(|e| ProtocolError::io(path, e))
    }

    /// The file opened, for the master to stream.
    fn open_sync(
        &self,
        env: &str,
        path: &str,
        static_content: bool,
    ) -> Result<FileContent, ProtocolError> {
        let full = self.content_path(env, path, static_content)?;
        std::fs::File::open(&full)
            .map(FileContent::File)
            .map_err(|e| ProtocolError::io(path, e))
    }

    /// Whether `code_id` is the current code version for `certname` in `env`.
    fn check_code_id(
        &self,
        certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<(), ProtocolError> {
        let current = lock(&self.served)
            .get(&(certname.to_string(), env.to_string()))
            .cloned();
        if current.as_deref() != Some(code_id) {
            return Err(ProtocolError::NotFound(format!(
                "Could not find file content for {path} at code_id {code_id} in environment {env}: not the current code version"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl FileServer for ModuleFileServer {
    async fn metadata(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<FileMetadata, ProtocolError> {
        let (me, env, path, o) = (
            self.clone(),
            env.to_string(),
            path.to_string(),
            options.clone(),
        );
        blocking(move || me.metadata_sync(&env, &path, &o)).await
    }

    async fn metadatas(
        &self,
        env: &str,
        path: &str,
        options: &MetadataOptions,
    ) -> Result<Vec<FileMetadata>, ProtocolError> {
        let (me, env, path, o) = (
            self.clone(),
            env.to_string(),
            path.to_string(),
            options.clone(),
        );
        blocking(move || me.metadatas_sync(&env, &path, &o)).await
    }

    async fn content(&self, env: &str, path: &str) -> Result<Vec<u8>, ProtocolError> {
        let (me, env, path) = (self.clone(), env.to_string(), path.to_string());
        blocking(move || me.content_sync(&env, &path, false)).await
    }

    /// Serves only the current code version, which is the live tree: the `code_id` of the
    /// last catalog served to the node in that environment (kept in memory). Any other
    /// `code_id` (never issued, superseded, or asked before this process served the node a
    /// catalog) is refused with 404 rather than answered with other content.
    async fn static_content(
        &self,
        certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<Vec<u8>, ProtocolError> {
        self.check_code_id(certname, env, path, code_id)?;
        let (me, env, path) = (self.clone(), env.to_string(), path.to_string());
        blocking(move || me.content_sync(&env, &path, true)).await
    }

    /// The file opened, streamed by the master when it is large.
    async fn content_body(&self, env: &str, path: &str) -> Result<FileContent, ProtocolError> {
        let (me, env, path) = (self.clone(), env.to_string(), path.to_string());
        blocking(move || me.open_sync(&env, &path, false)).await
    }

    /// As [`Self::static_content`], the file opened.
    async fn static_content_body(
        &self,
        certname: &str,
        env: &str,
        path: &str,
        code_id: &str,
    ) -> Result<FileContent, ProtocolError> {
        self.check_code_id(certname, env, path, code_id)?;
        let (me, env, path) = (self.clone(), env.to_string(), path.to_string());
        blocking(move || me.open_sync(&env, &path, true)).await
    }

    fn catalog_served(&self, certname: &str, env: &str, code_id: &str) {
        lock(&self.served).insert((certname.to_string(), env.to_string()), code_id.to_string());
    }

    fn content_uri(&self, source_path: &str) -> Option<String> {
        module_content_uri(source_path)
    }
    async fn environments(&self) -> Result<Vec<String>, ProtocolError> {
        if let Some(env) = &self.pinned {
            return Ok(vec![env.clone()]);
        }
        let dir = self.environments.clone();
        blocking(move || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| check_env(n).is_ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            Ok(names)
        })
        .await
    }

    fn environment_dir(&self, env: &str) -> Option<PathBuf> {
        check_env(env).ok()?;
        self.envdir(env).ok()
    }
}

/// The `content_uri` path of a `modules/<m>/<file>` source: `modules/<m>/files/<file>`.
pub(crate) fn module_content_uri(source_path: &str) -> Option<String> {
    let rest = source_path.strip_prefix("modules/")?;
    let (module, file) = rest.split_once('/').unwrap_or((rest, ""));
    Some(if file.is_empty() {
        format!("modules/{module}/files")
    } else {
        format!("modules/{module}/files/{file}")
    })
}
