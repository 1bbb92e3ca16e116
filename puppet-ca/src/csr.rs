//! Certificate signing requests: parsing, signature verification, Puppet's attributes.

use der::asn1::Any;
use der::{Decode, Tag, Tagged};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::keys::{self, SignedRaw};
use crate::{CaError, oids};

/// A parsed and signature-verified certificate signing request.
#[derive(Debug, Clone)]
pub struct Csr {
    der: Vec<u8>,
    common_name: String,
    public_key: SubjectPublicKeyInfoOwned,
    challenge_password: Option<String>,
    extensions: Vec<Extension>,
}

/// One extension a CSR asks for (or a certificate carries), decoded for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestedExtension {
    /// Dotted OID.
    pub oid: String,
    /// Puppet's short name (`pp_role`), if the OID has one.
    pub name: Option<&'static str>,
    /// The value: the string for Puppet's string-valued extensions, else hex of the DER.
    pub value: String,
}

impl Csr {
    /// Parses a PEM CSR and verifies its self-signature. `what` names it in errors.
    ///
    /// ```
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-attributes.pem")).unwrap();
    /// let csr = puppet_ca::Csr::from_pem(&pem).unwrap();
    /// assert_eq!(csr.common_name(), "agent2.example.test");
    /// assert_eq!(csr.challenge_password(), Some("s3cr3t-Challenge"));
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Self, CaError> {
        Self::parse(pem, "CSR")
    }

    pub(crate) fn parse(pem: &[u8], what: &str) -> Result<Self, CaError> {
        let not_pem = || {
            CaError::malformed(
                what,
                "not a PEM CSR (no -----BEGIN CERTIFICATE REQUEST----- line; a DER CSR converts with `openssl req -inform DER`)",
            )
        };
        let text = std::str::from_utf8(pem).map_err(|_| not_pem())?;
        if !text.contains("-----BEGIN ") {
            return Err(not_pem());
        }
        let (label, der) = der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| CaError::malformed(what, e))?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CaError::malformed(
                what,
                format!("PEM label {label:?}, expected CERTIFICATE REQUEST"),
            ));
        }
        let raw = SignedRaw::from_der(&der).map_err(|e| CaError::malformed(what, e))?;
        let req = CertReq::from_der(&der).map_err(|e| CaError::malformed(what, e))?;
        let tbs = raw.tbs_der()?;
        let signature = raw
            .signature
            .as_bytes()
            .ok_or_else(|| CaError::malformed(what, "signature bit string is not octet-aligned"))?;
        let common_name = common_name(&req.info.subject)
            .ok_or_else(|| CaError::malformed(what, "subject has no CN"))?;
        if !keys::verify(&req.info.public_key, &req.algorithm, &tbs, signature, what)? {
            return Err(CaError::CsrSignature {
                certname: common_name,
            });
        }
        let mut challenge_password = None;
        let mut extensions = Vec::new();
        for attr in req.info.attributes.iter() {
            if attr.oid == oids::CHALLENGE_PASSWORD {
                challenge_password = attr.values.iter().next().and_then(any_string);
            } else if attr.oid == oids::EXTENSION_REQUEST || attr.oid == oids::MS_EXTENSION_REQUEST
            {
                for value in attr.values.iter() {
                    let exts: Vec<Extension> = value
                        .decode_as()
                        .map_err(|e| CaError::malformed(format!("{what} extension request"), e))?;
                    extensions.extend(exts);
                }
            }
        }
        Ok(Csr {
            der,
            common_name,
            public_key: req.info.public_key,
            challenge_password,
            extensions,
        })
    }

    /// The subject's CN.
    pub fn common_name(&self) -> &str {
        &self.common_name
    }

    /// The challengePassword attribute (csr_attributes.yaml's `1.2.840.113549.1.9.7`).
    pub fn challenge_password(&self) -> Option<&str> {
        self.challenge_password.as_deref()
    }

    /// The requested extensions, in the CSR's order.
    pub fn extension_requests(&self) -> Vec<RequestedExtension> {
        self.extensions.iter().map(describe_extension).collect()
    }

    /// The requested subject alternative names as Puppet prints them (`DNS:x`, `IP:1.2.3.4`).
    pub fn subject_alt_names(&self) -> Vec<String> {
        alt_names(&self.extensions)
    }

    /// The CSR as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The CSR as PEM.
    pub fn to_pem(&self) -> Result<String, CaError> {
        keys::pem("CERTIFICATE REQUEST", &self.der)
    }

    pub(crate) fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    pub(crate) fn extensions(&self) -> &[Extension] {
        &self.extensions
    }
}

/// The (last) CN of a name, if it is a string.
pub(crate) fn common_name(name: &Name) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oids::CN)
        .filter_map(|atv| any_string(&atv.value))
        .next_back()
}

/// A string-typed ASN.1 value as a Rust string.
pub(crate) fn any_string(any: &Any) -> Option<String> {
    match any.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => String::from_utf8(any.value().to_vec()).ok(),
        _ => None,
    }
}

/// Display form of an extension: Puppet's string values decoded, others in hex.
pub(crate) fn describe_extension(ext: &Extension) -> RequestedExtension {
    let oid = ext.extn_id.to_string();
    let bytes = ext.extn_value.as_bytes();
    let value = Any::from_der(bytes)
        .ok()
        .and_then(|a| any_string(&a))
        .unwrap_or_else(|| bytes.iter().map(|b| format!("{b:02x}")).collect());
    RequestedExtension {
        name: oids::short_name(&oid),
        oid,
        value,
    }
}

/// Subject alternative names in a set of extensions, as `DNS:x` / `IP:x` strings.
pub(crate) fn alt_names(exts: &[Extension]) -> Vec<String> {
    let mut out = Vec::new();
    for ext in exts.iter().filter(|e| e.extn_id == oids::SUBJECT_ALT_NAME) {
        let Ok(san) = SubjectAltName::from_der(ext.extn_value.as_bytes()) else {
            continue;
        };
        for name in san.0 {
            match name {
                GeneralName::DnsName(d) => out.push(format!("DNS:{}", d.as_str())),
                GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                    4 => {
                        let b = ip.as_bytes();
                        out.push(format!(
                            "IP:{}",
                            std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])
                        ));
                    }
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(ip.as_bytes());
                        out.push(format!("IP:{}", std::net::Ipv6Addr::from(a)));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    out
}

/// The names of one subjectAltName extension, refused as Puppetserver does: only DNS and IP
/// names, and no wildcard in DNS names. The error is Puppetserver's message.
pub(crate) fn checked_alt_names(ext: &Extension) -> Result<Vec<String>, String> {
    let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("malformed subjectAltName: {e}"))?;
    let only = "Only DNS and IP names are allowed in the Subject Alternative Names extension";
    for name in &san.0 {
        match name {
            GeneralName::DnsName(d) if d.as_str().contains('*') => {
                return Err(format!(
                    "Cert subjectAltName contains a wildcard, which is not allowed: {}",
                    d.as_str()
                ));
            }
            GeneralName::DnsName(_) => {}
            GeneralName::IpAddress(ip) if matches!(ip.as_bytes().len(), 4 | 16) => {}
            _ => return Err(only.to_string()),
        }
    }
    Ok(alt_names(std::slice::from_ref(ext)))
}
