//! Building and signing certificates and CRLs, and reading what is in them.

use std::time::{Duration, SystemTime};

use der::asn1::{Any, BitString, GeneralizedTime, Ia5String, OctetString, SetOfVec, Uint, UtcTime};
use der::{Decode, Encode, Tag};
use rustls_pki_types::pem::{PemObject, SectionKind};
use sha2::Digest;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, ExtendedKeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use crate::keys::{self, PrivateKey};
use crate::{CaError, oids};

/// The Netscape comment Puppetserver puts in every certificate it issues.
pub const NETSCAPE_COMMENT: &str = "Puppet Server Internal Certificate";

/// One day: Puppetserver backdates `notBefore` by a day against clock skew.
pub(crate) const BACKDATE: Duration = Duration::from_secs(24 * 60 * 60);

/// A name with one CN, as a UTF8String (what Puppetserver writes).
pub(crate) fn cn_name(cn: &str) -> Result<Name, CaError> {
    let value = Any::new(Tag::Utf8String, cn.as_bytes()).map_err(CaError::encode("CN"))?;
    let atv = AttributeTypeAndValue {
        oid: oids::CN,
        value,
    };
    let set = SetOfVec::try_from(vec![atv]).map_err(CaError::encode("RDN"))?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(set)]))
}

/// An X.509 time: UTCTime before 2050, GeneralizedTime after (RFC 5280), whole seconds.
pub(crate) fn x509_time(t: SystemTime) -> Result<Time, CaError> {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| CaError::Crypto("clock before 1970".into()))?
        .as_secs();
    let d = Duration::from_secs(secs);
    Ok(match UtcTime::from_unix_duration(d) {
        Ok(u) => Time::UtcTime(u),
        Err(_) => Time::GeneralTime(
            GeneralizedTime::from_unix_duration(d).map_err(CaError::encode("time"))?,
        ),
    })
}

/// Puppet's inventory/status time format: `2026-11-21T17:44:14UTC`.
pub(crate) fn puppet_time(t: &Time) -> String {
    let d = t.to_date_time();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}UTC",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minutes(),
        d.seconds()
    )
}

/// A serial number from an integer.
pub(crate) fn serial_number(n: u64) -> Result<SerialNumber, CaError> {
    SerialNumber::new(&n.to_be_bytes()).map_err(CaError::encode("serial number"))
}

/// The integer value of a serial number, if it fits 64 bits.
pub(crate) fn serial_u64(s: &SerialNumber) -> Option<u64> {
    let b = s.as_bytes();
    let b = match b.iter().position(|&x| x != 0) {
        Some(i) => &b[i..],
        None => &[][..],
    };
    (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// An extension from an already-encoded value.
pub(crate) fn ext(
    oid: der::asn1::ObjectIdentifier,
    critical: bool,
    value: Vec<u8>,
) -> Result<Extension, CaError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).map_err(CaError::encode("extension"))?,
    })
}

/// The key identifier of a public key: SHA-1 of the subjectPublicKey bits (RFC 5280 method 1).
pub(crate) fn key_id(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        spki.subject_public_key.raw_bytes(),
    )
    .as_ref()
    .to_vec()
}

fn netscape_comment() -> Result<Extension, CaError> {
    let ia5 = Ia5String::new(NETSCAPE_COMMENT).map_err(CaError::encode("Netscape comment"))?;
    ext(
        oids::NETSCAPE_COMMENT,
        false,
        ia5.to_der().map_err(CaError::encode("Netscape comment"))?,
    )
}

fn ski(spki: &SubjectPublicKeyInfoOwned) -> Result<Extension, CaError> {
    let id = SubjectKeyIdentifier(OctetString::new(key_id(spki)).map_err(CaError::encode("SKI"))?);
    ext(
        oids::SUBJECT_KEY_ID,
        false,
        id.to_der().map_err(CaError::encode("SKI"))?,
    )
}

/// Subject alternative names from `DNS:x` / `IP:x` / bare `x` (DNS) strings.
pub(crate) fn san_extension(names: &[String]) -> Result<Extension, CaError> {
    let mut general = Vec::new();
    for n in names {
        let (kind, value) = n.split_once(':').unwrap_or(("DNS", n));
        match kind {
            "IP" => {
                let ip: std::net::IpAddr = value.parse().map_err(|_| {
                    CaError::malformed(
                        "subject alternative name",
                        format!("{n:?} is not an IP address"),
                    )
                })?;
                general.push(GeneralName::from(ip));
            }
            "DNS" => general.push(GeneralName::DnsName(Ia5String::new(value).map_err(
                |_| CaError::malformed("subject alternative name", format!("{n:?} is not ASCII")),
            )?)),
            _ => {
                return Err(CaError::malformed(
                    "subject alternative name",
                    format!("{n:?}: only DNS: and IP: names"),
                ));
            }
        }
    }
    ext(
        oids::SUBJECT_ALT_NAME,
        false,
        SubjectAltName(general)
            .to_der()
            .map_err(CaError::encode("subjectAltName"))?,
    )
}

/// The issuing side of a signature: the CA's key, name and certificate.
pub(crate) struct Issuer<'a> {
    pub(crate) key: &'a PrivateKey,
    pub(crate) cert: &'a Certificate,
}

impl Issuer<'_> {
    fn aki_full(&self) -> Result<Extension, CaError> {
        let tbs = &self.cert.tbs_certificate;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(
                OctetString::new(key_id(&tbs.subject_public_key_info))
                    .map_err(CaError::encode("AKI"))?,
            ),
            authority_cert_issuer: Some(vec![GeneralName::DirectoryName(tbs.issuer.clone())]),
            authority_cert_serial_number: Some(tbs.serial_number.clone()),
        };
        ext(
            oids::AUTHORITY_KEY_ID,
            false,
            aki.to_der().map_err(CaError::encode("AKI"))?,
        )
    }

    pub(crate) fn aki_keyid(&self) -> Result<Extension, CaError> {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(
                OctetString::new(key_id(&self.cert.tbs_certificate.subject_public_key_info))
                    .map_err(CaError::encode("AKI"))?,
            ),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        ext(
            oids::AUTHORITY_KEY_ID,
            false,
            aki.to_der().map_err(CaError::encode("AKI"))?,
        )
    }
}

/// What goes into an end-entity certificate.
pub(crate) struct LeafRequest<'a> {
    pub(crate) subject: &'a str,
    pub(crate) public_key: &'a SubjectPublicKeyInfoOwned,
    /// Extensions requested (Puppet arcs, SAN), in request order, already validated.
    pub(crate) requested: &'a [Extension],
    pub(crate) serial: u64,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
}

/// Signs an end-entity certificate with Puppetserver's extensions, in Puppetserver's order:
/// [SAN DNS:certname when none was requested], Netscape comment, AKI (keyid, issuer, serial),
/// SKI, the requested extensions, basic constraints CA:FALSE, EKU server+client auth and key
/// usage digitalSignature+keyEncipherment (the last three critical).
///
/// Only builds the TBS part (and checks that it encodes): [`sign_tbs`] signs it. The CA builds
/// it before it reserves the serial, so that nothing a request holds can fail after.
pub(crate) fn leaf_tbs(
    issuer: &Issuer<'_>,
    req: &LeafRequest<'_>,
) -> Result<TbsCertificate, CaError> {
    let mut exts = Vec::new();
    if !req
        .requested
        .iter()
        .any(|e| e.extn_id == oids::SUBJECT_ALT_NAME)
    {
        exts.push(san_extension(&[format!("DNS:{}", req.subject)])?);
    }
    exts.push(netscape_comment()?);
    exts.push(issuer.aki_full()?);
    exts.push(ski(req.public_key)?);
    exts.extend(req.requested.iter().cloned());
    exts.push(ext(oids::BASIC_CONSTRAINTS, true, vec![0x30, 0x00])?);
    let eku = ExtendedKeyUsage(vec![oids::SERVER_AUTH, oids::CLIENT_AUTH]);
    exts.push(ext(
        oids::EXT_KEY_USAGE,
        true,
        eku.to_der().map_err(CaError::encode("EKU"))?,
    )?);
    exts.push(ext(oids::KEY_USAGE, true, vec![0x03, 0x02, 0x05, 0xa0])?);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial_number(req.serial)?,
        signature: issuer.key.signature_algorithm(),
        issuer: issuer.cert.tbs_certificate.subject.clone(),
        validity: Validity {
            not_before: x509_time(req.not_before)?,
            not_after: x509_time(req.not_after)?,
        },
        subject: cn_name(req.subject)?,
        subject_public_key_info: req.public_key.clone(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    };
    tbs.to_der().map_err(CaError::encode("certificate"))?;
    Ok(tbs)
}

/// A self-signed CA certificate as Puppetserver makes it: Netscape comment, AKI (keyid), SKI,
/// basic constraints CA:TRUE and key usage keyCertSign+cRLSign (both critical).
pub(crate) fn self_signed_ca(
    key: &PrivateKey,
    name: &str,
    serial: u64,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, CaError> {
    let spki = key.spki()?;
    let id = OctetString::new(key_id(&spki)).map_err(CaError::encode("AKI"))?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(id),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let exts = vec![
        netscape_comment()?,
        ext(
            oids::AUTHORITY_KEY_ID,
            false,
            aki.to_der().map_err(CaError::encode("AKI"))?,
        )?,
        ski(&spki)?,
        ext(
            oids::BASIC_CONSTRAINTS,
            true,
            vec![0x30, 0x03, 0x01, 0x01, 0xff],
        )?,
        ext(oids::KEY_USAGE, true, vec![0x03, 0x02, 0x01, 0x06])?,
    ];
    let name = cn_name(name)?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial_number(serial)?,
        signature: key.signature_algorithm(),
        issuer: name.clone(),
        validity: Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        },
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    };
    sign_tbs(key, tbs)
}

/// Signs a TBS certificate with `key`.
pub(crate) fn sign_tbs(key: &PrivateKey, tbs: TbsCertificate) -> Result<Certificate, CaError> {
    let tbs_der = tbs.to_der().map_err(CaError::encode("certificate"))?;
    let sig = key.sign(&tbs_der)?;
    Ok(Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(&sig).map_err(CaError::encode("signature"))?,
    })
}

/// A revoked serial in the CRL.
#[derive(Debug, Clone)]
pub(crate) struct Revocation {
    pub(crate) serial: SerialNumber,
    pub(crate) date: Time,
    pub(crate) extensions: Option<Vec<Extension>>,
}

/// A new revocation entry with reason keyCompromise, as Puppetserver writes.
pub(crate) fn revocation(serial: SerialNumber, now: SystemTime) -> Result<Revocation, CaError> {
    Ok(Revocation {
        serial,
        date: x509_time(now)?,
        extensions: Some(vec![ext(oids::CRL_REASON, false, vec![0x0a, 0x01, 0x01])?]),
    })
}

/// Signs a v2 CRL: CRL number and AKI (keyid) extensions, the given entries, next update at `next_update`.
pub(crate) fn sign_crl(
    issuer: &Issuer<'_>,
    number: u64,
    entries: Vec<Revocation>,
    this_update: SystemTime,
    next_update: SystemTime,
) -> Result<CertificateList, CaError> {
    let number = Uint::new(&number.to_be_bytes()).map_err(CaError::encode("CRL number"))?;
    let exts = vec![
        ext(
            oids::CRL_NUMBER,
            false,
            number.to_der().map_err(CaError::encode("CRL number"))?,
        )?,
        issuer.aki_keyid()?,
    ];
    let revoked: Vec<RevokedCert> = entries
        .into_iter()
        .map(|r| RevokedCert {
            serial_number: r.serial,
            revocation_date: r.date,
            crl_entry_extensions: r.extensions,
        })
        .collect();
    let tbs = TbsCertList {
        version: Version::V2,
        signature: issuer.key.signature_algorithm(),
        issuer: issuer.cert.tbs_certificate.subject.clone(),
        this_update: x509_time(this_update)?,
        next_update: Some(x509_time(next_update)?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(exts),
    };
    let tbs_der = tbs.to_der().map_err(CaError::encode("CRL"))?;
    let sig = issuer.key.sign(&tbs_der)?;
    Ok(CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&sig).map_err(CaError::encode("signature"))?,
    })
}

/// The CRL number of a CRL (0 when absent).
pub(crate) fn crl_number(crl: &CertificateList) -> u64 {
    crl.tbs_cert_list
        .crl_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oids::CRL_NUMBER)
        .and_then(|e| Uint::from_der(e.extn_value.as_bytes()).ok())
        .and_then(|u| {
            let b = u.as_bytes();
            (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        })
        .unwrap_or(0)
}

/// Checks that `cert` was signed by the key of `issuer`.
pub(crate) fn signed_by(cert_der: &[u8], issuer: &Certificate) -> Result<bool, CaError> {
    let raw =
        keys::SignedRaw::from_der(cert_der).map_err(|e| CaError::malformed("certificate", e))?;
    let sig = raw
        .signature
        .as_bytes()
        .ok_or_else(|| CaError::malformed("certificate", "unaligned signature"))?;
    keys::verify(
        &issuer.tbs_certificate.subject_public_key_info,
        &raw.algorithm,
        &raw.tbs_der()?,
        sig,
        "certificate",
    )
}

/// Colon-separated upper-case hex, as Puppet prints fingerprints.
pub(crate) fn hex_colon(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// SHA-1, SHA-256 and SHA-512 fingerprints of a DER document.
pub(crate) fn fingerprints(der: &[u8]) -> (String, String, String) {
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    (
        hex_colon(sha1.as_ref()),
        hex_colon(&sha2::Sha256::digest(der)),
        hex_colon(&sha2::Sha512::digest(der)),
    )
}

/// PEM of a certificate.
pub(crate) fn cert_pem(cert: &Certificate) -> Result<String, CaError> {
    keys::pem(
        "CERTIFICATE",
        &cert.to_der().map_err(CaError::encode("certificate"))?,
    )
}

/// PEM of a CRL.
pub(crate) fn crl_pem(crl: &CertificateList) -> Result<String, CaError> {
    keys::pem("X509 CRL", &crl.to_der().map_err(CaError::encode("CRL"))?)
}

/// The (kind, DER) sections of a PEM bundle (`rustls-pki-types`' PEM reader; sections of
/// other kinds and text between them are skipped).
pub(crate) fn pem_blocks(text: &str, what: &str) -> Result<Vec<(SectionKind, Vec<u8>)>, CaError> {
    let out = <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaError::malformed(what, e))?;
    if out.is_empty() {
        return Err(CaError::malformed(what, "no PEM block"));
    }
    Ok(out)
}

/// Parses every certificate of a PEM bundle.
pub(crate) fn parse_certs(text: &str, what: &str) -> Result<Vec<(Certificate, Vec<u8>)>, CaError> {
    pem_blocks(text, what)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| {
            Certificate::from_der(&der)
                .map(|c| (c, der))
                .map_err(|e| CaError::malformed(what, e))
        })
        .collect()
}

/// Parses every CRL of a PEM bundle.
pub(crate) fn parse_crls(text: &str, what: &str) -> Result<Vec<CertificateList>, CaError> {
    pem_blocks(text, what)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Crl)
        .map(|(_, der)| CertificateList::from_der(&der).map_err(|e| CaError::malformed(what, e)))
        .collect()
}
