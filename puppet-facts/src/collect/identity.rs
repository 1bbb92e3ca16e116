//! `identity`: uid, user, gid, group, privileged.
//!
//! Source: `getpwuid(getuid())` and `getgrgid(pw_gid)` (NSS, so LDAP users are found too):
//! `gid` is the passwd entry's primary group, not `getgid()`.

use serde_json::{Map, Value};

use super::{Sources, System, s};
use crate::FactsError;

/// Collects `identity`.
pub fn collect(
    _sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let Some(user) = system.user() else {
        return Err(super::source_error(
            "identity",
            "getpwuid(3)",
            &"the real uid has no passwd entry",
        ));
    };
    let mut m = Map::new();
    m.insert("gid".into(), Value::from(user.gid));
    if let Some(group) = user.group {
        m.insert("group".into(), s(group));
    }
    m.insert("privileged".into(), Value::Bool(user.uid == 0));
    m.insert("uid".into(), Value::from(user.uid));
    m.insert("user".into(), s(user.user));
    facts.insert("identity".into(), Value::Object(m));
    Ok(())
}
