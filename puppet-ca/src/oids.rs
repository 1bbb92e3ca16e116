//! Puppet's certificate extension OIDs (arc 1.3.6.1.4.1.34380.1) and the standard ones the CA uses.

use der::asn1::ObjectIdentifier as Oid;

/// Puppet's registered extension arc, `ppRegCertExt`.
pub const PP_REG_CERT_EXT: &str = "1.3.6.1.4.1.34380.1.1";
/// Puppet's private extension arc, `ppPrivCertExt`, free for sites to use.
pub const PP_PRIV_CERT_EXT: &str = "1.3.6.1.4.1.34380.1.2";
/// Puppet's authorization extension arc, `ppAuthCertExt` (refused unless allowed).
pub const PP_AUTH_CERT_EXT: &str = "1.3.6.1.4.1.34380.1.3";

/// `pp_cli_auth`: only Puppetserver's own certificate carries it; never signed from a CSR.
pub const PP_CLI_AUTH: &str = "1.3.6.1.4.1.34380.1.3.39";

/// Puppet's short names for its registered and authorization OIDs, as in Puppet's
/// `Puppet::SSL::Oids` (and `pp_cli_auth`, which Puppetserver puts in its own certificate).
pub const PUPPET_OIDS: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.34380.1.1.1", "pp_uuid"),
    ("1.3.6.1.4.1.34380.1.1.2", "pp_instance_id"),
    ("1.3.6.1.4.1.34380.1.1.3", "pp_image_name"),
    ("1.3.6.1.4.1.34380.1.1.4", "pp_preshared_key"),
    ("1.3.6.1.4.1.34380.1.1.5", "pp_cost_center"),
    ("1.3.6.1.4.1.34380.1.1.6", "pp_product"),
    ("1.3.6.1.4.1.34380.1.1.7", "pp_project"),
    ("1.3.6.1.4.1.34380.1.1.8", "pp_application"),
    ("1.3.6.1.4.1.34380.1.1.9", "pp_service"),
    ("1.3.6.1.4.1.34380.1.1.10", "pp_employee"),
    ("1.3.6.1.4.1.34380.1.1.11", "pp_created_by"),
    ("1.3.6.1.4.1.34380.1.1.12", "pp_environment"),
    ("1.3.6.1.4.1.34380.1.1.13", "pp_role"),
    ("1.3.6.1.4.1.34380.1.1.14", "pp_software_version"),
    ("1.3.6.1.4.1.34380.1.1.15", "pp_department"),
    ("1.3.6.1.4.1.34380.1.1.16", "pp_cluster"),
    ("1.3.6.1.4.1.34380.1.1.17", "pp_provisioner"),
    ("1.3.6.1.4.1.34380.1.1.18", "pp_region"),
    ("1.3.6.1.4.1.34380.1.1.19", "pp_datacenter"),
    ("1.3.6.1.4.1.34380.1.1.20", "pp_zone"),
    ("1.3.6.1.4.1.34380.1.1.21", "pp_network"),
    ("1.3.6.1.4.1.34380.1.1.22", "pp_securitypolicy"),
    ("1.3.6.1.4.1.34380.1.1.23", "pp_cloudplatform"),
    ("1.3.6.1.4.1.34380.1.1.24", "pp_apptier"),
    ("1.3.6.1.4.1.34380.1.1.25", "pp_hostname"),
    ("1.3.6.1.4.1.34380.1.1.26", "pp_owner"),
    ("1.3.6.1.4.1.34380.1.3.1", "pp_authorization"),
    ("1.3.6.1.4.1.34380.1.3.13", "pp_auth_role"),
    ("1.3.6.1.4.1.34380.1.3.39", "pp_cli_auth"),
];

/// Puppet's short name for an OID (`pp_role` for 1.3.6.1.4.1.34380.1.1.13), if it has one.
///
/// ```
/// assert_eq!(puppet_ca::oids::short_name("1.3.6.1.4.1.34380.1.1.13"), Some("pp_role"));
/// assert_eq!(puppet_ca::oids::short_name("1.3.6.1.4.1.34380.1.2.1"), None);
/// ```
pub fn short_name(oid: &str) -> Option<&'static str> {
    PUPPET_OIDS.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// The OID for one of Puppet's short names (`pp_role` → 1.3.6.1.4.1.34380.1.1.13).
///
/// ```
/// assert_eq!(puppet_ca::oids::oid_for("pp_uuid"), Some("1.3.6.1.4.1.34380.1.1.1"));
/// ```
pub fn oid_for(short: &str) -> Option<&'static str> {
    PUPPET_OIDS
        .iter()
        .find(|(_, n)| *n == short)
        .map(|(o, _)| *o)
}

/// Whether `oid` lies strictly under `arc` (`1.3.6.1.4.1.34380.1.1.13` is under `PP_REG_CERT_EXT`).
///
/// ```
/// use puppet_ca::oids::{is_under, PP_AUTH_CERT_EXT};
/// assert!(is_under("1.3.6.1.4.1.34380.1.3.39", PP_AUTH_CERT_EXT));
/// assert!(!is_under("1.3.6.1.4.1.34380.1.39", PP_AUTH_CERT_EXT));
/// ```
pub fn is_under(oid: &str, arc: &str) -> bool {
    oid.len() > arc.len() + 1 && oid.starts_with(arc) && oid.as_bytes()[arc.len()] == b'.'
}

pub(crate) const CN: Oid = Oid::new_unwrap("2.5.4.3");
pub(crate) const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
pub(crate) const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub(crate) const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub(crate) const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
pub(crate) const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub(crate) const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
pub(crate) const ECDSA_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
pub(crate) const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
pub(crate) const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
pub(crate) const CHALLENGE_PASSWORD: Oid = Oid::new_unwrap("1.2.840.113549.1.9.7");
pub(crate) const EXTENSION_REQUEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.14");
pub(crate) const MS_EXTENSION_REQUEST: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.14");
pub(crate) const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
pub(crate) const SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
pub(crate) const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub(crate) const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub(crate) const CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
pub(crate) const CRL_REASON: Oid = Oid::new_unwrap("2.5.29.21");
pub(crate) const AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
pub(crate) const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
pub(crate) const SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
pub(crate) const CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
pub(crate) const NETSCAPE_COMMENT: Oid = Oid::new_unwrap("2.16.840.1.113730.1.13");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips() {
        for (oid, name) in PUPPET_OIDS {
            assert_eq!(short_name(oid), Some(*name));
            assert_eq!(oid_for(name), Some(*oid));
        }
        assert_eq!(
            PUPPET_OIDS
                .iter()
                .filter(|(o, _)| is_under(o, PP_REG_CERT_EXT))
                .count(),
            26
        );
    }

    #[test]
    fn arcs() {
        assert!(is_under("1.3.6.1.4.1.34380.1.1.13", PP_REG_CERT_EXT));
        assert!(!is_under("1.3.6.1.4.1.34380.1.13", PP_REG_CERT_EXT));
        assert!(!is_under("1.3.6.1.4.1.34380.1.1", PP_REG_CERT_EXT));
        assert!(is_under("1.3.6.1.4.1.34380.1.3.39", PP_AUTH_CERT_EXT));
    }
}
