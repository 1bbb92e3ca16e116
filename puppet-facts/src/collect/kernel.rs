//! `kernel`, `kernelrelease`, `kernelversion`, `kernelmajversion`.
//!
//! Source: `uname(2)` (`sysname`, `release`), as facter's `uname -s`/`uname -r`.

use serde_json::{Map, Value};

use super::{Sources, System, s};
use crate::FactsError;

/// `kernelversion`: the first three digit runs of the release joined by `.` (`6.1-rc1` →
/// `6.1.1`).
/// ```
/// use puppet_facts::collect::kernel::{kernel_major_version, kernel_version};
/// assert_eq!(kernel_version("6.1.0-13-amd64"), "6.1.0");
/// assert_eq!(kernel_version("6.1-rc1"), "6.1.1");
/// assert_eq!(kernel_major_version("6.1.0-13-amd64"), "6.1");
/// ```
pub fn kernel_version(release: &str) -> String {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(".")
}

/// `kernelmajversion`: the first two `.`-separated parts of the release.
pub fn kernel_major_version(release: &str) -> String {
    let parts: Vec<&str> = release.split('.').collect();
    match parts.as_slice() {
        [one] => (*one).to_string(),
        [a, b, ..] => format!("{a}.{b}"),
        [] => String::new(),
    }
}

/// Collects the kernel facts.
pub fn collect(
    _sources: &Sources,
    system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    let Some(uname) = system.uname() else {
        return Err(super::source_error("kernel", "uname(2)", &"uname failed"));
    };
    facts.insert("kernel".into(), s(uname.sysname.clone()));
    facts.insert("kernelrelease".into(), s(uname.release.clone()));
    facts.insert("kernelversion".into(), s(kernel_version(&uname.release)));
    facts.insert(
        "kernelmajversion".into(),
        s(kernel_major_version(&uname.release)),
    );
    Ok(())
}
