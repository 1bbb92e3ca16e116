//! Certificate status in Puppet's `certificate_status` JSON shape.

use std::collections::BTreeMap;

use x509_cert::Certificate;

use crate::cert;
use crate::csr::{self, Csr};
use crate::oids;

/// `GET /puppet-ca/v1/expirations`: when each CA certificate and each CRL of the chains
/// expires (CN → `notAfter` / `nextUpdate`, Puppet's time format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Expirations {
    /// The certificates of `ca_crt.pem`, by subject CN.
    #[serde(rename = "ca-certs")]
    pub ca_certs: BTreeMap<String, String>,
    /// The CRLs of `ca_crl.pem`, by issuer CN.
    pub crls: BTreeMap<String, String>,
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CertState {
    /// A CSR waits in `requests/`.
    Requested,
    /// Signed and not revoked.
    Signed,
    /// Signed, and its serial is in the CRL.
    Revoked,
}

impl CertState {
    /// `requested`, `signed` or `revoked`, as Puppet writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CertState::Requested => "requested",
            CertState::Signed => "signed",
            CertState::Revoked => "revoked",
        }
    }
}

/// Fingerprints of a certificate or CSR (DER), colon-separated upper-case hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fingerprints {
    /// SHA-1.
    #[serde(rename = "SHA1")]
    pub sha1: String,
    /// SHA-256.
    #[serde(rename = "SHA256")]
    pub sha256: String,
    /// SHA-512.
    #[serde(rename = "SHA512")]
    pub sha512: String,
    /// The default digest's (SHA-256).
    pub default: String,
}

/// One entry of `puppetserver ca list` / `GET certificate_status/:name`, serialisable to
/// Puppet's JSON shape (`name`, `state`, `dns_alt_names`, `subject_alt_names`,
/// `authorization_extensions`, `fingerprint`, `fingerprints`, and for certificates
/// `not_before`, `not_after`, `serial_number`).
///
/// ```
/// # use puppet_ca::*;
/// # let dir = tempfile::tempdir().unwrap();
/// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
/// ca.generate("node1.example.test", &[]).unwrap();
/// let json = serde_json::to_value(ca.status("node1.example.test").unwrap().unwrap()).unwrap();
/// assert_eq!(json["state"], "signed");
/// assert_eq!(json["serial_number"], 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertStatus {
    /// The certname.
    pub name: String,
    /// requested / signed / revoked.
    pub state: CertState,
    /// The DNS subject alternative names (`DNS:x`).
    pub dns_alt_names: Vec<String>,
    /// All subject alternative names (`DNS:x`, `IP:x`).
    pub subject_alt_names: Vec<String>,
    /// Authorization extensions (arc 1.3.6.1.4.1.34380.1.3) by short name (or OID).
    pub authorization_extensions: BTreeMap<String, String>,
    /// The SHA-256 fingerprint.
    pub fingerprint: String,
    /// All fingerprints.
    pub fingerprints: Fingerprints,
    /// Start of validity (`2026-11-21T17:44:14UTC`), for certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// End of validity, for certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Serial number, for certificates (when it fits 64 bits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<u64>,
}

fn fingerprints(der: &[u8]) -> Fingerprints {
    let (sha1, sha256, sha512) = cert::fingerprints(der);
    Fingerprints {
        sha1,
        default: sha256.clone(),
        sha256,
        sha512,
    }
}

fn auth_extensions(exts: &[x509_cert::ext::Extension]) -> BTreeMap<String, String> {
    exts.iter()
        .filter(|e| oids::is_under(&e.extn_id.to_string(), oids::PP_AUTH_CERT_EXT))
        .map(|e| {
            let d = csr::describe_extension(e);
            (d.name.map_or(d.oid, str::to_string), d.value)
        })
        .collect()
}

fn dns_only(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| n.starts_with("DNS:"))
        .cloned()
        .collect()
}

pub(crate) fn from_csr(name: &str, csr: &Csr) -> CertStatus {
    let fp = fingerprints(csr.der());
    let sans = csr.subject_alt_names();
    CertStatus {
        name: name.to_string(),
        state: CertState::Requested,
        dns_alt_names: dns_only(&sans),
        subject_alt_names: sans,
        authorization_extensions: auth_extensions(csr.extensions()),
        fingerprint: fp.sha256.clone(),
        fingerprints: fp,
        not_before: None,
        not_after: None,
        serial_number: None,
    }
}

pub(crate) fn from_certificate(
    name: &str,
    c: &Certificate,
    der: &[u8],
    revoked: bool,
) -> CertStatus {
    let fp = fingerprints(der);
    let exts = c.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let sans = csr::alt_names(exts);
    CertStatus {
        name: name.to_string(),
        state: if revoked {
            CertState::Revoked
        } else {
            CertState::Signed
        },
        dns_alt_names: dns_only(&sans),
        subject_alt_names: sans,
        authorization_extensions: auth_extensions(exts),
        fingerprint: fp.sha256.clone(),
        fingerprints: fp,
        not_before: Some(cert::puppet_time(&c.tbs_certificate.validity.not_before)),
        not_after: Some(cert::puppet_time(&c.tbs_certificate.validity.not_after)),
        serial_number: cert::serial_u64(&c.tbs_certificate.serial_number),
    }
}

/// The text of `puppetserver ca list` (`all`: `list --all`): a header per state, then per
/// entry four spaces, the name padded to the section's longest name plus six, `(SHA256)`, two
/// spaces, the fingerprint, and tab-separated alt names and authorization extensions.
///
/// ```
/// assert_eq!(puppet_ca::list_text(&[], true), "No certificates to list\n");
/// ```
pub fn list_text(statuses: &[CertStatus], all: bool) -> String {
    let mut out = String::new();
    let sections = [
        (CertState::Requested, "Requested"),
        (CertState::Signed, "Signed"),
        (CertState::Revoked, "Revoked"),
    ];
    for (state, title) in sections {
        let entries: Vec<&CertStatus> = statuses.iter().filter(|s| s.state == state).collect();
        if entries.is_empty() || (!all && state != CertState::Requested) {
            continue;
        }
        let width = entries.iter().map(|s| s.name.len()).max().unwrap_or(0) + 6;
        out.push_str(&format!("{title} Certificates:\n"));
        for s in entries {
            out.push_str(&format!(
                "    {:<width$} (SHA256)  {}",
                s.name, s.fingerprints.sha256
            ));
            if !s.subject_alt_names.is_empty() {
                let quoted: Vec<String> = s
                    .subject_alt_names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect();
                out.push_str(&format!("\talt names: [{}]", quoted.join(", ")));
            }
            if !s.authorization_extensions.is_empty() {
                let exts: Vec<String> = s
                    .authorization_extensions
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                out.push_str(&format!(
                    "\tauthorization extensions: [{}]",
                    exts.join(", ")
                ));
            }
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("No certificates to list\n");
    }
    out
}
