//! Building a CSR as the Puppet agent does: a key (generated or given) and a CSR for a
//! certname with `csr_attributes.yaml`'s attributes and extension requests and
//! `dns_alt_names`.

use der::asn1::{Any, BitString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Tag};
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

use crate::keys::{self, PrivateKey};
use crate::{CaError, CsrAttributes, KeyType, cert, oids, validate_certname};

/// A key and a CSR made by [`CsrBuilder::build`], both PEM.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GeneratedCsr {
    /// The private key (PKCS#1 `RSA PRIVATE KEY` as Puppet writes it, PKCS#8 for EC).
    pub key_pem: String,
    /// The CSR (`CERTIFICATE REQUEST`).
    pub csr_pem: String,
}

impl std::fmt::Debug for GeneratedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCsr")
            .field("key_pem", &"<redacted>")
            .field("csr_pem", &self.csr_pem)
            .finish()
    }
}

/// Builds a certificate signing request the way the Puppet agent does: subject `CN=<certname>`
/// (UTF8String), the `custom_attributes` of `csr_attributes.yaml` as CSR attributes
/// (PrintableString, or UTF8String for a value outside its alphabet), its `extension_requests` as
/// non-critical extensions holding a UTF8String (Puppet short names such as `pp_role` or
/// dotted OIDs), and `dns_alt_names` as a subjectAltName with `DNS:<certname>` added. The
/// key is generated (RSA 4096 by default, Puppet's `keylength`) unless one is given.
///
/// ```
/// use puppet_ca::{CsrAttributes, CsrBuilder, Csr, KeyType};
/// let attrs = CsrAttributes::parse("extension_requests:\n  pp_role: webserver\n")?;
/// let made = CsrBuilder::new("agent1.example.test")?
///     .key_type(KeyType::EcP256)
///     .attributes(attrs)
///     .dns_alt_names(["puppet"])
///     .build()?;
/// let csr = Csr::from_pem(made.csr_pem.as_bytes())?;
/// assert_eq!(csr.common_name(), "agent1.example.test");
/// assert_eq!(csr.extension_requests()[0].name, Some("pp_role"));
/// assert_eq!(csr.subject_alt_names(), ["DNS:puppet", "DNS:agent1.example.test"]);
/// # Ok::<(), puppet_ca::CaError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsrBuilder {
    certname: String,
    key_type: KeyType,
    key_pem: Option<Vec<u8>>,
    attributes: CsrAttributes,
    dns_alt_names: Vec<String>,
}

impl CsrBuilder {
    /// A builder for `certname` (checked by Puppet's certname rules).
    pub fn new(certname: &str) -> Result<Self, CaError> {
        validate_certname(certname)?;
        Ok(CsrBuilder {
            certname: certname.to_string(),
            key_type: KeyType::default(),
            key_pem: None,
            attributes: CsrAttributes::default(),
            dns_alt_names: Vec::new(),
        })
    }

    /// The kind of key to generate (default RSA 4096; `KeyType::Rsa(bits)` for Puppet's
    /// `keylength`).
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// Uses this PEM private key (PKCS#1, PKCS#8 or SEC1) instead of generating one.
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key_pem = Some(pem.into());
        self
    }

    /// The attributes and extension requests of a `csr_attributes.yaml`.
    pub fn attributes(mut self, attributes: CsrAttributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Puppet's `dns_alt_names`: DNS names (or `DNS:x`, `IP:x`); `DNS:<certname>` is added.
    pub fn dns_alt_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.dns_alt_names = names
            .into_iter()
            .map(|n| n.as_ref().trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        self
    }

    /// Makes the key (unless given) and the signed CSR.
    pub fn build(self) -> Result<GeneratedCsr, CaError> {
        let key = match &self.key_pem {
            Some(pem) => PrivateKey::from_pem(pem, "private key")?,
            None => PrivateKey::generate(self.key_type)?,
        };
        let mut attributes = Vec::new();
        for (name, value) in &self.attributes.custom_attributes {
            let oid = attribute_oid(name)?;
            // Puppet writes custom attributes as PrintableString; a value outside its
            // alphabet goes as UTF8String rather than being refused.
            let any = if is_printable(value) {
                Any::new(Tag::PrintableString, value.as_bytes())
            } else {
                Any::new(Tag::Utf8String, value.as_bytes())
            }
            .map_err(CaError::encode("CSR attribute"))?;
            attributes.push(Attribute {
                oid,
                values: SetOfVec::try_from(vec![any]).map_err(CaError::encode("CSR attribute"))?,
            });
        }
        let mut extensions = Vec::new();
        for (name, value) in &self.attributes.extension_requests {
            let oid = extension_oid(name)?;
            let utf8 = Any::new(Tag::Utf8String, value.as_bytes())
                .and_then(|a| a.to_der())
                .map_err(CaError::encode("extension request"))?;
            extensions.push(Extension {
                extn_id: oid,
                critical: false,
                extn_value: OctetString::new(utf8).map_err(CaError::encode("extension"))?,
            });
        }
        if !self.dns_alt_names.is_empty() {
            let mut names: Vec<String> = self
                .dns_alt_names
                .iter()
                .map(|n| {
                    if n.starts_with("DNS:") || n.starts_with("IP:") {
                        n.clone()
                    } else {
                        format!("DNS:{n}")
                    }
                })
                .collect();
            let own = format!("DNS:{}", self.certname);
            if !names.contains(&own) {
                names.push(own);
            }
            extensions.push(cert::san_extension(&names)?);
        }
        if !extensions.is_empty() {
            let req = ExtensionReq(extensions)
                .to_der()
                .and_then(|d| Any::from_der(&d))
                .map_err(CaError::encode("extension request"))?;
            attributes.push(Attribute {
                oid: oids::EXTENSION_REQUEST,
                values: SetOfVec::try_from(vec![req])
                    .map_err(CaError::encode("extension request"))?,
            });
        }
        let info = CertReqInfo {
            version: Version::V1,
            subject: cert::cn_name(&self.certname)?,
            public_key: key.spki()?,
            attributes: SetOfVec::try_from(attributes).map_err(CaError::encode("attributes"))?,
        };
        let tbs = info.to_der().map_err(CaError::encode("CSR"))?;
        let signature = key.sign(&tbs)?;
        let req = CertReq {
            info,
            algorithm: key.signature_algorithm(),
            signature: BitString::from_bytes(&signature).map_err(CaError::encode("signature"))?,
        };
        let der = req.to_der().map_err(CaError::encode("CSR"))?;
        Ok(GeneratedCsr {
            key_pem: key.to_pem()?,
            csr_pem: keys::pem("CERTIFICATE REQUEST", &der)?,
        })
    }
}

/// A `custom_attributes` key: a dotted OID, or one of the attribute names OpenSSL knows
/// that Puppet sites use.
fn attribute_oid(name: &str) -> Result<ObjectIdentifier, CaError> {
    let dotted = match name {
        "challengePassword" => "1.2.840.113549.1.9.7",
        "unstructuredName" => "1.2.840.113549.1.9.2",
        other => other,
    };
    parse_oid(dotted, name, "custom_attributes")
}

/// An `extension_requests` key: a Puppet short name (`pp_role`) or a dotted OID.
fn extension_oid(name: &str) -> Result<ObjectIdentifier, CaError> {
    parse_oid(
        oids::oid_for(name).unwrap_or(name),
        name,
        "extension_requests",
    )
}

fn parse_oid(dotted: &str, name: &str, section: &str) -> Result<ObjectIdentifier, CaError> {
    ObjectIdentifier::new(dotted).map_err(|_| {
        CaError::malformed(
            format!("csr_attributes.yaml {section}"),
            format!("{name:?} is neither a known name nor a dotted OID"),
        )
    })
}

/// Whether `s` fits an ASN.1 PrintableString.
fn is_printable(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}
