//! `http://` sources, as Puppet 7's `http` file metadata and content termini use them: the
//! metadata from a `HEAD` (a `GET` of `Range: bytes=0-0` when the server answers `HEAD` with
//! 403 or 405), the content from a `GET`. The checksum comes from the answer's headers, in
//! Puppet's order: the resource's `checksum` type, then sha256, md5, mtime, where
//! `X-Checksum-Sha256`/`X-Checksum-Md5` give sha256/md5, `Content-MD5` (base64) gives md5, and
//! `Last-Modified` (else the time of the request) gives mtime (`{mtime}2026-12-03 09:00:00
//! UTC`). `X-Checksum-Sha1` is not read (this agent has no sha1 checksum type); `https://` is
//! not supported (it needs the system's trust store).

use std::time::Duration;

use base64ct::Encoding;
use http_body_util::BodyExt;

use super::checksum::{Sum, hex};

/// An HTTP answer: status, headers (names lower case), body.
pub(super) struct Answer {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) reason: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `(host:port, path)` of an `http://` URL.
fn split(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("Cannot use URLs of type '{url}' as source for fileserving"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // `user:pass@` is not sent (no basic authentication here).
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

/// One request on a new connection, the whole answer read within 60 seconds.
pub(super) async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let (authority, path) = split(url)?;
    let work = async {
        let tcp = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("Failed to open TCP connection to {authority}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let host = authority.strip_suffix(":80").unwrap_or(&authority);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(&path)
            .header("host", host)
            .header(
                "user-agent",
                "Puppet/7.23.0 Ruby/3.1.2-p20 (x86_64-linux-gnu)",
            )
            .header("accept", "*/*");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            res.into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes()
                .to_vec()
        };
        Ok(Answer {
            status: status.as_u16(),
            headers,
            body,
            reason: status.canonical_reason().unwrap_or("").to_string(),
        })
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .map_err(|_| format!("Request to {url} timed out after 60 seconds"))?
}

/// The source's metadata: `None` when the server does not have it (Puppet then tries the next
/// source), else the checksum type and value the resource's content is compared with.
pub(super) async fn metadata(url: &str, wanted: Sum) -> Result<Option<(Sum, String)>, String> {
    let mut answer = request("HEAD", url, &[]).await?;
    if matches!(answer.status, 403 | 405) {
        answer = request("GET", url, &[("range", "bytes=0-0")]).await?;
    }
    if !(200..300).contains(&answer.status) {
        return Ok(None);
    }
    let now = jiff::Timestamp::now();
    let mut sums: Vec<(Sum, String)> = Vec::new();
    let mut mtime = format!("{{mtime}}{}", now.strftime("%Y-%m-%d %H:%M:%S UTC"));
    if let Some(b64) = answer.header("content-md5")
        && let Ok(raw) = base64ct::Base64::decode_vec(b64.trim())
    {
        sums.push((Sum::Md5, format!("{{md5}}{}", hex(&raw))));
    }
    for (sum, header) in [
        (Sum::Md5, "x-checksum-md5"),
        (Sum::Sha256, "x-checksum-sha256"),
    ] {
        if let Some(v) = answer.header(header) {
            sums.retain(|(s, _)| *s != sum);
            sums.push((sum, format!("{{{}}}{v}", sum.name())));
        }
    }
    if let Some(lm) = answer.header("last-modified")
        && let Ok(t) = jiff::fmt::rfc2822::parse(lm)
    {
        mtime = format!(
            "{{mtime}}{}",
            t.timestamp().strftime("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    sums.push((Sum::Mtime, mtime));
    for want in [wanted, Sum::Sha256, Sum::Md5, Sum::Mtime] {
        if let Some(found) = sums.iter().find(|(s, _)| *s == want) {
            return Ok(Some(found.clone()));
        }
    }
    Ok(None)
}

/// The content by `GET`; an error status is Puppet's `Error <code> on SERVER: <body or
/// reason>`.
pub(super) async fn content(url: &str) -> Result<Vec<u8>, String> {
    let answer = request("GET", url, &[]).await?;
    if !(200..300).contains(&answer.status) {
        let detail = if answer.body.is_empty() {
            answer.reason.clone()
        } else {
            String::from_utf8_lossy(&answer.body).into_owned()
        };
        return Err(format!("Error {} on SERVER: {detail}", answer.status));
    }
    Ok(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split("http://example.test/a/b.txt"),
            Ok(("example.test:80".into(), "/a/b.txt".into()))
        );
        assert_eq!(
            split("http://u:p@127.0.0.1:8080"),
            Ok(("127.0.0.1:8080".into(), "/".into()))
        );
        assert!(split("ftp://x/y").is_err());
    }
}
