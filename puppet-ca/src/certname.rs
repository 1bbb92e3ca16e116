//! Puppet's certname rules.

use crate::CaError;

/// The longest certname accepted (a file name is at most 255 bytes; `.pem` is appended).
pub const MAX_CERTNAME_LEN: usize = 250;

/// Checks a certname against Puppet's rules before it is used in any path: printable ASCII
/// from space to `~` except `/` (Puppet's `/\A[ -.0-~]+\Z/`), lower case, no wildcard, not
/// `.` or `..`, and at most [`MAX_CERTNAME_LEN`] bytes.
///
/// ```
/// use puppet_ca::validate_certname;
/// assert!(validate_certname("agent1.example.test").is_ok());
/// assert!(validate_certname("../ca_key").is_err());
/// assert!(validate_certname("Agent1").is_err());
/// ```
pub fn validate_certname(name: &str) -> Result<(), CaError> {
    let fail = |reason| {
        Err(CaError::InvalidCertname {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.len() > MAX_CERTNAME_LEN {
        return fail("it is longer than 250 bytes");
    }
    if !name
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'/')
    {
        return fail("it must not contain unprintable or non-ASCII characters, or '/'");
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return fail("certificate names must be lower case");
    }
    if name.contains('*') {
        return fail("certificate names must not contain wildcards");
    }
    if name == "." || name == ".." {
        return fail("it is a relative directory name");
    }
    if name.starts_with('-') {
        return fail("it must not start with '-'");
    }
    Ok(())
}

/// Puppetserver's rules for the subject of a certificate it signs, on top of
/// [`validate_certname`]: lower case, no wildcard, not ending in `-`, dot-separated labels of
/// ASCII letters, digits, `-` and `_`, each ending in a letter, digit or `_`, the first one
/// starting with one.
///
/// ```
/// use puppet_ca::validate_subject;
/// assert!(validate_subject("agent_1.example-site.test").is_ok());
/// assert!(validate_subject("host name").is_err());
/// assert!(validate_subject("a..b").is_err());
/// ```
pub fn validate_subject(name: &str) -> Result<(), CaError> {
    validate_certname(name)?;
    let fail = |reason: String| {
        Err(CaError::InvalidSubject {
            certname: name.to_string(),
            reason,
        })
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let label_ok =
        |l: &str| l.chars().last().is_some_and(word) && l.chars().all(|c| word(c) || c == '-');
    if name.ends_with('-')
        || !name.chars().next().is_some_and(word)
        || !name.split('.').all(label_ok)
    {
        return fail("Subject hostname format is invalid".to_string());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_puppet_names() {
        for ok in [
            "agent1.example.test",
            "puppet",
            "a_b-c.d",
            "x y",
            "host:8140",
            "a~b",
        ] {
            assert!(validate_certname(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "UPPER",
            "*.example",
            "a\nb",
            "é",
            "-rf",
            "a\0b",
        ] {
            assert!(
                matches!(validate_certname(bad), Err(CaError::InvalidCertname { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_certname(&"a".repeat(251)).is_err());
    }

    #[test]
    fn puppetserver_subject_rules() {
        for ok in ["agent1.example.test", "puppet", "a_b-c.d", "_x.y", "x1"] {
            assert!(validate_subject(ok).is_ok(), "{ok}");
        }
        for bad in [
            "x y",
            "host:8140",
            "a~b",
            "a..b",
            "a.",
            ".a",
            "a-",
            "a.b-.c",
            "-a",
        ] {
            assert!(validate_subject(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_names_are_safe_file_names(name in "\\PC{0,40}") {
            if validate_certname(&name).is_ok() {
                proptest::prop_assert!(!name.contains('/'));
                proptest::prop_assert!(name != "." && name != "..");
                proptest::prop_assert!(name.is_ascii());
            }
        }
    }
}
