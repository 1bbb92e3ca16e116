//! `source`: `puppet:///` URIs through the master (a static catalog's inlined metadata and
//! `static_file_content` by code_id when it has them), local paths and `file://` URIs.

use std::path::Path;

use puppet_catalog::FileMetadata;
use puppet_protocol::client::{LinksMode, MetadataQuery};

use super::checksum::Sum;
use super::{Context, Current};

/// Where content comes from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// The `content` parameter.
    Inline(Vec<u8>),
    /// A `puppet:///` source: the URI and its metadata.
    Remote {
        uri: String,
        meta: Box<FileMetadata>,
    },
    /// A local source path.
    Local(String),
    /// An `http://` source, with the checksum type and value its headers gave.
    Http {
        url: String,
        sum: Sum,
        checksum: String,
    },
    /// `content => '{sha256}<hex>'`: the contents of that checksum in the filebucket the
    /// resource's `backup` names (none: `Could not get filebucket from file`).
    Bucket {
        checksum: String,
        bucket: Option<String>,
    },
}

/// Puppet's `checksum?`: `^\{\w{3,10}\}\S+`.
pub(super) fn is_checksum(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('{') else {
        return false;
    };
    let Some(end) = rest.find('}') else {
        return false;
    };
    let (name, after) = (&rest[..end], &rest[end + 1..]);
    (3..=10).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && after
            .bytes()
            .next()
            .is_some_and(|b| !b.is_ascii_whitespace())
}

/// The contents of `checksum` in the filebucket `bucket`, as Puppet's content property reads
/// them (`FileBucket read <hex>` from a local bucket); errors are Puppet's.
async fn from_bucket(
    checksum: &str,
    bucket: Option<&str>,
    ctx: &Context<'_>,
) -> Result<Vec<u8>, String> {
    let fail = |detail: String| {
        format!("Could not retrieve content for {checksum} from filebucket: {detail}")
    };
    let bucket = bucket.ok_or_else(|| fail("Could not get filebucket from file".into()))?;
    // Ruby's `sub(/\{\w+\}/, '')`: the first `{type}` removed, wherever it is.
    let hex = match (checksum.find('{'), checksum.find('}')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &checksum[..a], &checksum[b + 1..]),
        _ => checksum.to_string(),
    };
    let sum = ctx.file.digest;
    match super::backup::resolve(bucket, ctx.catalog, &ctx.file.clientbucketdir).map_err(fail)? {
        super::backup::Store::Local(dir) => {
            if !sum.valid_value(&hex) {
                return Err(fail(format!("Invalid checksum {hex:?}")));
            }
            let contents = super::backup::bucket_dir(&dir, &hex).join("contents");
            match std::fs::read(&contents) {
                Ok(bytes) => {
                    ctx.log.info("Puppet", &format!("FileBucket read {hex}"));
                    Ok(bytes)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(fail("File not found".into()))
                }
                Err(e) => Err(fail(e.to_string())),
            }
        }
        super::backup::Store::Remote => {
            let client = ctx
                .client
                .ok_or_else(|| fail("no master to read the filebucket from".into()))?;
            match client
                .file_bucket_get(ctx.environment, sum.name(), &hex)
                .await
            {
                Ok(bytes) => Ok(bytes),
                Err(e) if e.status() == Some(404) => Err(fail("File not found".into())),
                Err(e) => Err(fail(e.to_string())),
            }
        }
    }
}

pub(super) fn mount_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("puppet://")?;
    // puppet:///mount/path or puppet://server/mount/path
    let idx = rest.find('/')?;
    Some(&rest[idx + 1..])
}

pub(super) fn local_path(uri: &str) -> Option<String> {
    if let Some(p) = uri.strip_prefix("file://") {
        return Some(p.to_string());
    }
    uri.starts_with('/').then(|| uri.to_string())
}

/// Finds the first source that exists and its metadata.
pub(super) async fn resolve_source(
    sources: &[String],
    title: &str,
    sum: Sum,
    follow: bool,
    ctx: &Context<'_>,
) -> Result<(Origin, String, Option<String>), String> {
    // Static catalogs: the metadata is inlined under the resource's title.
    if let Ok(Some(meta)) = ctx.catalog.file_metadata(title) {
        let same_sum = meta
            .checksum
            .as_ref()
            .is_some_and(|c| c.checksum_type == sum.name());
        if same_sum || meta.file_type.as_deref() != Some("file") {
            let uri = meta
                .source
                .clone()
                .or_else(|| sources.first().cloned())
                .unwrap_or_default();
            let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
            let dest = meta.destination.clone();
            return Ok((
                Origin::Remote {
                    uri,
                    meta: Box::new(meta),
                },
                kind,
                dest,
            ));
        }
    }
    for uri in sources {
        if uri.starts_with("http://") {
            match super::http::metadata(uri, sum).await {
                Ok(Some((sum, checksum))) => {
                    let origin = Origin::Http {
                        url: uri.clone(),
                        sum,
                        checksum,
                    };
                    return Ok((origin, "file".into(), None));
                }
                Ok(None) => continue,
                Err(e) => return Err(format!("Could not retrieve file metadata for {uri}: {e}")),
            }
        }
        if uri.starts_with("https://") {
            return Err(format!(
                "Could not retrieve file metadata for {uri}: https sources are not supported by this agent"
            ));
        }
        if let Some(p) = local_path(uri) {
            let (cur, _) = Current::look(Path::new(&p), follow);
            match cur {
                Current::Absent => continue,
                Current::Directory => return Ok((Origin::Local(p), "directory".into(), None)),
                Current::Link(t) => return Ok((Origin::Local(p), "link".into(), Some(t))),
                _ => return Ok((Origin::Local(p), "file".into(), None)),
            }
        }
        let Some(mount) = mount_path(uri) else {
            return Err(format!(
                "Cannot use URLs of type '{uri}' as source for fileserving"
            ));
        };
        let Some(client) = ctx.client else {
            return Err(format!(
                "Could not retrieve information from environment {} source(s) {uri}: no master to ask",
                ctx.environment
            ));
        };
        let query = MetadataQuery {
            checksum_type: sum.name().into(),
            links: if follow {
                LinksMode::Follow
            } else {
                LinksMode::Manage
            },
            ..MetadataQuery::default()
        };
        match client.file_metadata(ctx.environment, mount, &query).await {
            Ok(meta) => {
                let kind = meta.file_type.clone().unwrap_or_else(|| "file".into());
                let dest = meta.destination.clone();
                return Ok((
                    Origin::Remote {
                        uri: uri.clone(),
                        meta: Box::new(meta),
                    },
                    kind,
                    dest,
                ));
            }
            Err(e) if e.status() == Some(404) => continue,
            Err(e) => {
                return Err(format!("Could not retrieve file metadata for {uri}: {e}"));
            }
        }
    }
    Err(format!(
        "Could not retrieve information from environment {} source(s) {}",
        ctx.environment,
        sources.join(", ")
    ))
}

/// Downloads (or reads) the content and checks it against the expected checksum.
pub(super) async fn fetch(
    origin: &Origin,
    expected: Option<&str>,
    sum: Sum,
    ctx: &Context<'_>,
) -> Result<Vec<u8>, String> {
    let bytes = match origin {
        Origin::Inline(b) => return Ok(b.clone()),
        Origin::Http { url, .. } => super::http::content(url).await?,
        Origin::Bucket { checksum, bucket } => {
            from_bucket(checksum, bucket.as_deref(), ctx).await?
        }
        Origin::Local(p) => std::fs::read(p).map_err(|e| format!("Could not read {p}: {e}"))?,
        Origin::Remote { uri, meta } => {
            let client = ctx
                .client
                .ok_or_else(|| format!("no master to download {uri} from"))?;
            let code_id = ctx.catalog.code_id_str();
            match (code_id, meta.content_uri.as_deref()) {
                (Some(code_id), Some(content_uri)) => client
                    .static_file_content(ctx.environment, code_id, content_uri)
                    .await
                    .map_err(|e| format!("Could not retrieve content for {uri}: {e}"))?,
                _ => {
                    let mount = mount_path(uri).unwrap_or(uri);
                    client
                        .file_content(ctx.environment, mount)
                        .await
                        .map_err(|e| format!("Could not retrieve content for {uri}: {e}"))?
                }
            }
        }
    };
    if let Some(want) = expected.filter(|_| sum.is_digest()) {
        let got = sum.of(&bytes);
        if got != want {
            return Err(format!(
                "File written to disk did not match desired checksum; discarding changes ({got} vs {want})"
            ));
        }
    }
    Ok(bytes)
}
