//! Keys: generation, PEM files, signing (aws-lc-rs) and signature verification.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Sequence, Tagged};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::{CaError, oids};

/// The kind of key the CA makes (for itself and for `generate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA with this many bits (2048, 3072, 4096 or 8192); Puppet's default is 4096.
    Rsa(u32),
    /// ECDSA on NIST P-256, signing with SHA-256.
    EcP256,
    /// ECDSA on NIST P-384, signing with SHA-384.
    EcP384,
}

impl Default for KeyType {
    /// RSA 4096, as Puppet.
    fn default() -> Self {
        KeyType::Rsa(4096)
    }
}

impl KeyType {
    /// From a command-line name: `rsa` (with `rsa_bits`), `ec-p256` or `ec-p384`.
    ///
    /// ```
    /// use puppet_ca::KeyType;
    /// assert_eq!(KeyType::from_name("rsa", 2048).unwrap(), KeyType::Rsa(2048));
    /// assert_eq!(KeyType::from_name("ec-p384", 0).unwrap(), KeyType::EcP384);
    /// assert!(KeyType::from_name("dsa", 1024).is_err());
    /// ```
    pub fn from_name(name: &str, rsa_bits: u32) -> Result<Self, CaError> {
        match name {
            "rsa" => Ok(KeyType::Rsa(rsa_bits)),
            "ec-p256" => Ok(KeyType::EcP256),
            "ec-p384" => Ok(KeyType::EcP384),
            other => Err(CaError::Key(format!(
                "unknown key type {other:?} (rsa, ec-p256 or ec-p384)"
            ))),
        }
    }
}

/// A private key that signs certificates and CRLs.
pub(crate) enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, KeyType),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateKey::Rsa(k) => write!(f, "PrivateKey::Rsa({} bits)", k.public_modulus_len() * 8),
            PrivateKey::Ec(_, t) => write!(f, "PrivateKey::Ec({t:?})"),
        }
    }
}

/// PKCS#8 `PrivateKeyInfo`, enough to take the PKCS#1 key out of it.
#[derive(Sequence)]
struct Pkcs8<'a> {
    version: u8,
    algorithm: AnyRef<'a>,
    private_key: OctetStringRef<'a>,
}

impl PrivateKey {
    /// Generates a new key.
    pub(crate) fn generate(kind: KeyType) -> Result<Self, CaError> {
        let crypto =
            |e: aws_lc_rs::error::Unspecified| CaError::Crypto(format!("key generation: {e}"));
        Ok(match kind {
            KeyType::Rsa(bits) => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    8192 => KeySize::Rsa8192,
                    _ => {
                        return Err(CaError::Key(format!(
                            "unsupported RSA key length {bits} (2048, 3072, 4096 or 8192)"
                        )));
                    }
                };
                PrivateKey::Rsa(RsaKeyPair::generate(size).map_err(crypto)?)
            }
            KeyType::EcP256 => PrivateKey::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(crypto)?,
                KeyType::EcP256,
            ),
            KeyType::EcP384 => PrivateKey::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
                    .map_err(crypto)?,
                KeyType::EcP384,
            ),
        })
    }

    /// Reads a PEM private key: PKCS#1 (`RSA PRIVATE KEY`, what Puppet writes), PKCS#8
    /// (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub(crate) fn from_pem(pem: &[u8], what: &str) -> Result<Self, CaError> {
        let (label, der) = der::pem::decode_vec(pem).map_err(|e| CaError::malformed(what, e))?;
        let bad = |e: aws_lc_rs::error::KeyRejected| CaError::malformed(what, e);
        match label {
            "RSA PRIVATE KEY" => Ok(PrivateKey::Rsa(RsaKeyPair::from_der(&der).map_err(bad)?)),
            "PRIVATE KEY" => {
                if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
                    return Ok(PrivateKey::Rsa(k));
                }
                if let Ok(k) =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                {
                    return Ok(PrivateKey::Ec(k, KeyType::EcP256));
                }
                let k = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &der)
                    .map_err(bad)?;
                Ok(PrivateKey::Ec(k, KeyType::EcP384))
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = EcdsaKeyPair::from_private_key_der(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &der,
                ) {
                    return Ok(PrivateKey::Ec(k, KeyType::EcP256));
                }
                let k = EcdsaKeyPair::from_private_key_der(
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    &der,
                )
                .map_err(bad)?;
                Ok(PrivateKey::Ec(k, KeyType::EcP384))
            }
            other => Err(CaError::malformed(
                what,
                format!("unexpected PEM label {other:?}"),
            )),
        }
    }

    /// The key as PEM: PKCS#1 for RSA (as Puppet and Puppetserver write it), PKCS#8 for EC.
    pub(crate) fn to_pem(&self) -> Result<String, CaError> {
        match self {
            PrivateKey::Rsa(k) => {
                let pkcs8 = k
                    .as_der()
                    .map_err(|e| CaError::Crypto(format!("key export: {e}")))?;
                let info =
                    Pkcs8::from_der(pkcs8.as_ref()).map_err(CaError::encode("PKCS#8 key"))?;
                pem("RSA PRIVATE KEY", info.private_key.as_bytes())
            }
            PrivateKey::Ec(k, _) => {
                let doc = k
                    .to_pkcs8v1()
                    .map_err(|e| CaError::Crypto(format!("key export: {e}")))?;
                pem("PRIVATE KEY", doc.as_ref())
            }
        }
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, CaError> {
        let err =
            |e: aws_lc_rs::error::Unspecified| CaError::Crypto(format!("public key export: {e}"));
        Ok(match self {
            PrivateKey::Rsa(k) => k.public_key().as_der().map_err(err)?.as_ref().to_vec(),
            PrivateKey::Ec(k, _) => k.public_key().as_der().map_err(err)?.as_ref().to_vec(),
        })
    }

    /// The public key as a parsed SubjectPublicKeyInfo.
    pub(crate) fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, CaError> {
        SubjectPublicKeyInfoOwned::from_der(&self.spki_der()?)
            .map_err(CaError::encode("public key"))
    }

    /// The signature algorithm this key signs with.
    pub(crate) fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self {
            PrivateKey::Rsa(_) => AlgorithmIdentifierOwned {
                oid: oids::SHA256_WITH_RSA,
                parameters: Some(der::asn1::Any::null()),
            },
            PrivateKey::Ec(_, KeyType::EcP384) => AlgorithmIdentifierOwned {
                oid: oids::ECDSA_SHA384,
                parameters: None,
            },
            PrivateKey::Ec(..) => AlgorithmIdentifierOwned {
                oid: oids::ECDSA_SHA256,
                parameters: None,
            },
        }
    }

    /// Signs `message` (RSA PKCS#1 v1.5 with SHA-256, or ECDSA).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        let rng = SystemRandom::new();
        let err = |e: aws_lc_rs::error::Unspecified| CaError::Crypto(format!("signing: {e}"));
        match self {
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(err)?;
                Ok(sig)
            }
            PrivateKey::Ec(k, _) => Ok(k.sign(&rng, message).map_err(err)?.as_ref().to_vec()),
        }
    }
}

/// PEM-encodes `der` under `label` with LF line endings.
pub(crate) fn pem(label: &str, der: &[u8]) -> Result<String, CaError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der)
        .map_err(|e| CaError::Crypto(format!("PEM encoding: {e}")))
}

/// Verifies `signature` over `message` by the key in `spki`, with the algorithm `alg`.
/// Accepts what Puppet agents and OpenSSL produce: RSA PKCS#1 v1.5 with SHA-1/256/384/512
/// (2048 bits and up) and ECDSA on P-256/P-384 with SHA-1/256/384/512.
pub(crate) fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
    what: &str,
) -> Result<bool, CaError> {
    use signature::VerificationAlgorithm;
    let unsupported = |oid: &ObjectIdentifier| CaError::UnsupportedAlgorithm {
        what: what.to_string(),
        oid: oid.to_string(),
    };
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CaError::malformed(what, "public key bit string is not octet-aligned"))?;
    // RFC 4055 / RFC 5758: RSA PKCS#1 v1.5 algorithms carry NULL parameters (or none), ECDSA
    // ones none. Anything else is a malformed (if unsigned) field.
    let null_or_absent = alg
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty());
    if !null_or_absent || (spki.algorithm.oid == oids::EC_PUBLIC_KEY && alg.parameters.is_some()) {
        return Err(CaError::malformed(
            what,
            "signature algorithm parameters are not NULL/absent",
        ));
    }
    let algorithm: &dyn VerificationAlgorithm = if spki.algorithm.oid == oids::RSA_ENCRYPTION {
        match alg.oid {
            o if o == oids::SHA256_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
            o if o == oids::SHA384_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
            o if o == oids::SHA512_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA512,
            o if o == oids::SHA1_WITH_RSA => {
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            o => return Err(unsupported(&o)),
        }
    } else if spki.algorithm.oid == oids::EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| CaError::malformed(what, "EC public key without a named curve"))?;
        match (curve, alg.oid) {
            (c, o) if c == oids::SECP256R1 && o == oids::ECDSA_SHA256 => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            (c, o) if c == oids::SECP256R1 && o == oids::ECDSA_SHA384 => {
                &signature::ECDSA_P256_SHA384_ASN1
            }
            (c, o) if c == oids::SECP256R1 && o == oids::ECDSA_SHA512 => {
                &signature::ECDSA_P256_SHA512_ASN1
            }
            (c, o) if c == oids::SECP256R1 && o == oids::ECDSA_SHA1 => {
                &signature::ECDSA_P256_SHA1_ASN1
            }
            (c, o) if c == oids::SECP384R1 && o == oids::ECDSA_SHA256 => {
                &signature::ECDSA_P384_SHA256_ASN1
            }
            (c, o) if c == oids::SECP384R1 && o == oids::ECDSA_SHA384 => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            (c, o) if c == oids::SECP384R1 && o == oids::ECDSA_SHA512 => {
                &signature::ECDSA_P384_SHA512_ASN1
            }
            (c, o) if c == oids::SECP384R1 => return Err(unsupported(&o)),
            (c, _) => return Err(unsupported(&c)),
        }
    } else {
        return Err(unsupported(&spki.algorithm.oid));
    };
    Ok(signature::UnparsedPublicKey::new(algorithm, key)
        .verify(message, signature)
        .is_ok())
}

/// The raw TBS bytes, algorithm and signature of a signed DER structure (certificate, CSR, CRL),
/// without re-encoding the TBS part.
#[derive(Sequence)]
pub(crate) struct SignedRaw<'a> {
    pub(crate) tbs: AnyRef<'a>,
    pub(crate) algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: BitStringRef<'a>,
}

impl SignedRaw<'_> {
    /// The TBS part exactly as it was encoded.
    pub(crate) fn tbs_der(&self) -> Result<Vec<u8>, CaError> {
        self.tbs.to_der().map_err(CaError::encode("signed data"))
    }
}
