//! `ssh`: host public keys and their SSHFP fingerprints.
//!
//! Sources: `ssh_host_{rsa,dsa,ecdsa,ed25519}_key.pub` in `/etc/ssh`, `/usr/local/etc/ssh`,
//! `/etc`, `/usr/local/etc`, `/etc/opt/ssh` (a later directory overrides an earlier one).

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value};
use sha1::Digest;

use super::{Sources, System, s};
use crate::FactsError;

const DIRS: [&str; 5] = [
    "/etc/ssh",
    "/usr/local/etc/ssh",
    "/etc",
    "/usr/local/etc",
    "/etc/opt/ssh",
];
const FILES: [&str; 4] = ["rsa", "dsa", "ecdsa", "ed25519"];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One key's fact value from the `.pub` file's text: `(name, value)`, or `None` for a type
/// facter does not know or a key that is not base64.
pub fn key_fact(text: &str) -> Option<(&'static str, Value)> {
    let mut words = text.split_whitespace();
    let kind = words.next()?;
    let key = words.next()?;
    let (name, number) = match kind {
        "ssh-rsa" => ("rsa", 1),
        "ssh-dss" => ("dsa", 2),
        "ecdsa-sha2-nistp256" => ("ecdsa", 3),
        "ssh-ed25519" => ("ed25519", 4),
        _ => return None,
    };
    let decoded = Base64::decode_vec(key).ok()?;
    let sha1 = hex(&sha1::Sha1::digest(&decoded));
    let sha256 = hex(&sha2::Sha256::digest(&decoded));
    let mut fp = Map::new();
    fp.insert("sha1".into(), s(format!("SSHFP {number} 1 {sha1}")));
    fp.insert("sha256".into(), s(format!("SSHFP {number} 2 {sha256}")));
    let mut m = Map::new();
    m.insert("fingerprints".into(), Value::Object(fp));
    m.insert("key".into(), s(key));
    m.insert("type".into(), s(kind));
    Some((name, Value::Object(m)))
}

/// Collects `ssh`.
pub fn collect(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let mut ssh = Map::new();
    let mut error = None;
    for dir in DIRS {
        if !sources.is_dir(dir) {
            continue;
        }
        for file in FILES {
            let path = format!("{dir}/ssh_host_{file}_key.pub");
            match sources.read(&path) {
                Ok(Some(text)) => {
                    if let Some((name, value)) = key_fact(&text) {
                        ssh.insert(name.into(), value);
                    }
                }
                Ok(None) => {}
                Err(e) => error = Some(super::source_error("ssh", &path, &e)),
            }
        }
    }
    if !ssh.is_empty() {
        facts.insert("ssh".into(), Value::Object(ssh));
    }
    error.map_or(Ok(()), Err)
}
