//! The stat cache: per staging path, the (size, device, inode, mtime, ctime) it had when it was
//! hashed and its digest, so that a republish only reads files that changed.
//!
//! Text, one entry per line, closed by the SHA-256 of everything before it: a cache that is
//! torn or edited is ignored as a whole (everything is hashed again), never half-trusted.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::walk::Stat;
use crate::{Digest, Error};

const MAGIC: &str = "puppet-filesync-statcache 1";

#[derive(Default)]
pub(crate) struct StatCache {
    /// The version published from the tree this cache describes.
    pub code_id: Option<String>,
    pub entries: HashMap<String, (Stat, Digest)>,
}

fn escape(path: &str, out: &mut String) {
    for c in path.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl StatCache {
    /// Reads a cache; a missing, torn or foreign file gives an empty cache.
    pub(crate) fn load(path: &Path) -> StatCache {
        let Ok(bytes) = std::fs::read(path) else {
            return StatCache::default();
        };
        Self::parse(&bytes).unwrap_or_default()
    }

    fn parse(bytes: &[u8]) -> Option<StatCache> {
        let text = std::str::from_utf8(bytes).ok()?;
        let body = text.strip_suffix('\n')?;
        let (body, last) = body.rsplit_once('\n')?;
        let sum = last.strip_prefix("end ")?;
        if Digest::from_hex(sum)? != Digest::of(&bytes[..body.len() + 1]) {
            return None;
        }
        let mut lines = body.split('\n');
        let head = lines.next()?.strip_prefix(MAGIC)?.strip_prefix(' ')?;
        let code_id = (head != "-").then(|| head.to_owned());
        let mut entries = HashMap::new();
        for line in lines {
            let mut f = line.splitn(7, ' ');
            let digest = Digest::from_hex(f.next()?)?;
            let stat = Stat {
                size: f.next()?.parse().ok()?,
                dev: f.next()?.parse().ok()?,
                ino: f.next()?.parse().ok()?,
                mtime_ns: f.next()?.parse().ok()?,
                ctime_ns: f.next()?.parse().ok()?,
            };
            entries.insert(unescape(f.next()?)?, (stat, digest));
        }
        Some(StatCache { code_id, entries })
    }

    /// Writes the cache atomically (temporary file, rename). Not fsynced: losing it costs a
    /// full rehash, never a wrong digest.
    pub(crate) fn save(&self, path: &Path, tmp_dir: &Path) -> Result<(), Error> {
        let mut s = String::with_capacity(64 + self.entries.len() * 120);
        s.push_str(MAGIC);
        s.push(' ');
        s.push_str(self.code_id.as_deref().unwrap_or("-"));
        s.push('\n');
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        for k in keys {
            let (st, d) = &self.entries[k];
            d.hex_into(&mut s);
            use std::fmt::Write as _;
            let _ = write!(
                s,
                " {} {} {} {} {} ",
                st.size, st.dev, st.ino, st.mtime_ns, st.ctime_ns
            );
            escape(k, &mut s);
            s.push('\n');
        }
        let sum = Digest::of(s.as_bytes());
        s.push_str("end ");
        sum.hex_into(&mut s);
        s.push('\n');
        let mut tmp =
            tempfile::NamedTempFile::new_in(tmp_dir).map_err(|e| Error::io(tmp_dir, e))?;
        tmp.write_all(s.as_bytes())
            .map_err(|e| Error::io(tmp.path(), e))?;
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_file_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = StatCache {
            code_id: Some("ab".into()),
            ..Default::default()
        };
        let st = Stat {
            size: 3,
            dev: 1,
            ino: 2,
            mtime_ns: -5,
            ctime_ns: 7,
        };
        c.entries.insert("a b\\c\nd".into(), (st, Digest::of(b"x")));
        let p = dir.path().join("cache");
        c.save(&p, dir.path()).unwrap();
        let back = StatCache::load(&p);
        assert_eq!(back.code_id.as_deref(), Some("ab"));
        assert_eq!(back.entries["a b\\c\nd"], (st, Digest::of(b"x")));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        assert!(StatCache::load(&p).entries.is_empty());
        let mut edited = bytes.clone();
        edited[70] ^= 1;
        std::fs::write(&p, &edited).unwrap();
        assert!(StatCache::load(&p).entries.is_empty());
    }
}
