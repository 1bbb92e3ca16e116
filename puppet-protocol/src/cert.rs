//! Certificates as the protocol sees them: the certname in a certificate, and PEM reading
//! (features `server` or `client`).
//!
//! There is one rule for "which certname does this certificate speak for", used by the
//! server's authorization and by the client alike: [`certname`].

use der::Decode;
use der::asn1::ObjectIdentifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::ClientIdentity;

/// `commonName`: 2.5.4.3.
const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `pp_cli_auth`: 1.3.6.1.4.1.34380.1.3.39.
const PP_CLI_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.34380.1.3.39");

/// The certname a certificate (DER) speaks for: the **last** `CN` of its subject in encoding
/// order, as Puppetserver reads it (it takes the first CN of the RFC 2253 string form, which
/// lists the subject's RDNs in reverse). The Ruby agent's `cn_from_subject` takes the first
/// one instead; certificates Puppet issues carry exactly one CN, so the two agree on every
/// certificate a Puppet CA (or `puppet-ca`) signs, and where they differ the server's rule is
/// the one authorization follows.
///
/// The value must be a string type (UTF8String, PrintableString, IA5String, TeletexString or
/// VisibleString, as `puppet-ca` accepts in CSRs) and valid UTF-8. `None` when the DER is not a
/// certificate or the subject has no such CN.
///
/// ```
/// use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
/// use rustls_pki_types::{CertificateDer, pem::PemObject};
///
/// let dir = tempfile::tempdir().unwrap();
/// let settings = CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: m") };
/// let ca = CertificateAuthority::setup(dir.path(), settings).unwrap();
/// let (_key, cert_pem) = ca.generate("agent1.example.test", &[]).unwrap();
/// let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
/// assert_eq!(puppet_protocol::cert::certname(&der).as_deref(), Some("agent1.example.test"));
/// assert_eq!(puppet_protocol::cert::certname(b"not a certificate"), None);
/// ```
pub fn certname(cert_der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    certname_of(&cert)
}

fn certname_of(cert: &x509_cert::Certificate) -> Option<String> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == CN)
        .filter_map(|atv| string_value(&atv.value))
        .next_back()
}

fn string_value(any: &der::Any) -> Option<String> {
    use der::{Tag, Tagged};
    match any.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => String::from_utf8(any.value().to_vec()).ok(),
        _ => None,
    }
}

/// Who a verified client certificate (DER) says the client is: its [`certname`] and whether
/// it carries `pp_cli_auth` (1.3.6.1.4.1.34380.1.3.39) = `true`. A certificate that does not
/// parse, or has no CN, gives the identity of a client without a certificate.
///
/// ```
/// let none = puppet_protocol::cert::identity(b"junk");
/// assert_eq!(none, puppet_protocol::ClientIdentity::default());
/// ```
pub fn identity(cert_der: &[u8]) -> ClientIdentity {
    let Ok(cert) = x509_cert::Certificate::from_der(cert_der) else {
        return ClientIdentity::default();
    };
    let cli_auth = cert.tbs_certificate.extensions.iter().flatten().any(|ext| {
        ext.extn_id == PP_CLI_AUTH
            && der::asn1::Utf8StringRef::from_der(ext.extn_value.as_bytes())
                .map(|s| s.as_str() == "true")
                .unwrap_or(false)
    });
    ClientIdentity {
        certname: certname_of(&cert),
        cli_auth,
    }
}

/// Why PEM text could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct PemError {
    /// What was being read (`CA certificate`, `server key`, a path).
    pub what: String,
    /// What is wrong.
    pub reason: String,
}

fn pem_error(what: &str, reason: impl std::fmt::Display) -> PemError {
    PemError {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// Every `CERTIFICATE` block of a PEM text, in order; at least one.
///
/// ```
/// let err = puppet_protocol::cert::pem_certificates(b"nothing", "CA certificate").unwrap_err();
/// assert_eq!(err.to_string(), "CA certificate: no certificate");
/// ```
pub fn pem_certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, "no certificate"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`) of a
/// PEM text.
///
/// ```
/// assert!(puppet_protocol::cert::pem_private_key(b"", "key").is_err());
/// ```
pub fn pem_private_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => pem_error(what, "no private key"),
        other => pem_error(what, other),
    })
}

/// Every `X509 CRL` block of a PEM text, in order (possibly none).
///
/// ```
/// assert!(puppet_protocol::cert::pem_crls(b"", "crl").unwrap().is_empty());
/// ```
pub fn pem_crls(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateRevocationListDer<'static>>, PemError> {
    CertificateRevocationListDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))
}

/// PEM text of one DER object (`label` such as `CERTIFICATE`): base64 in 64-column lines with
/// `\n` endings, as Puppet writes its PEM files. [`pem_certificates`] reads it back.
///
/// ```
/// let pem = puppet_protocol::cert::pem_encode("CERTIFICATE", &[0x30, 0x03, 0x02, 0x01, 0x05]).unwrap();
/// assert_eq!(pem, "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n");
/// let der = puppet_protocol::cert::pem_certificates(pem.as_bytes(), "x").unwrap();
/// assert_eq!(der[0].as_ref(), &[0x30, 0x03, 0x02, 0x01, 0x05]);
/// ```
pub fn pem_encode(label: &str, der: &[u8]) -> Result<String, PemError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).map_err(|e| pem_error(label, e))
}

#[cfg(all(test, feature = "server"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use der::Encode;
    use der::asn1::{SetOfVec, Utf8StringRef};
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    fn rdn(oid: ObjectIdentifier, value: &str) -> RelativeDistinguishedName {
        let value = der::Any::encode_from(&Utf8StringRef::new(value).unwrap()).unwrap();
        RelativeDistinguishedName(
            SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }]).unwrap(),
        )
    }

    /// A certificate whose subject is `CN=first, O=x, CN=last` in encoding order.
    fn two_cn_certificate() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let settings = puppet_ca::CaSettings {
            key: puppet_ca::KeyType::EcP256,
            ..puppet_ca::CaSettings::new("Puppet CA: t")
        };
        let ca = puppet_ca::CertificateAuthority::setup(dir.path(), settings).unwrap();
        let (_k, pem) = ca.generate("one.example.test", &[]).unwrap();
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let mut cert = x509_cert::Certificate::from_der(&der).unwrap();
        let o = ObjectIdentifier::new_unwrap("2.5.4.10");
        cert.tbs_certificate.subject = RdnSequence(vec![
            rdn(CN, "first.example.test"),
            rdn(o, "x"),
            rdn(CN, "last.example.test"),
        ]);
        cert.to_der().unwrap()
    }

    #[test]
    fn certname_is_the_last_cn_as_puppetserver_reads_it() {
        let der = two_cn_certificate();
        assert_eq!(certname(&der).as_deref(), Some("last.example.test"));
        assert_eq!(
            identity(&der).certname.as_deref(),
            Some("last.example.test")
        );
    }

    #[test]
    fn pem_readers_say_what_failed() {
        let err = pem_certificates(b"-----BEGIN CERTIFICATE-----\n!!\n", "ca.pem").unwrap_err();
        assert_eq!(err.what, "ca.pem");
        assert_eq!(
            pem_private_key(b"", "key.pem").unwrap_err().reason,
            "no private key"
        );
    }
}
