//! What the CA accepts: certnames, CSR sizes and subjects, Puppetserver's extension policy,
//! one certificate per name.

use std::collections::HashSet;

use x509_cert::ext::Extension;

use crate::csr::{self, Csr};
use crate::store;
use crate::{CaError, CertificateAuthority, cert, oids, validate_certname, validate_subject};

impl CertificateAuthority {
    /// Validates a CSR against the certname and the extension policy.
    pub(crate) fn check_csr(&self, certname: &str, csr_pem: &[u8]) -> Result<Csr, CaError> {
        validate_certname(certname)?;
        if csr_pem.len() > self.settings.max_csr_bytes {
            return Err(CaError::CsrTooLarge {
                certname: certname.to_string(),
                size: csr_pem.len(),
                limit: self.settings.max_csr_bytes,
            });
        }
        let csr = Csr::parse(csr_pem, &format!("CSR for {certname}"))?;
        if csr.common_name() != certname {
            return Err(CaError::CertnameMismatch {
                certname: certname.to_string(),
                cn: csr.common_name().to_string(),
            });
        }
        validate_subject(certname)?;
        self.check_extensions(certname, csr.extensions())?;
        Ok(csr)
    }

    /// Puppetserver's extension policy: subject alternative names only if allowed (or only
    /// `DNS:<certname>`), DNS and IP only, no wildcard; authorization extensions only if
    /// allowed, and never `pp_cli_auth`; Puppet's registered and private arcs; nothing else.
    pub(crate) fn check_extensions(
        &self,
        certname: &str,
        exts: &[Extension],
    ) -> Result<(), CaError> {
        let mut refused = Vec::new();
        let mut seen = HashSet::new();
        for ext in exts {
            let oid = ext.extn_id.to_string();
            if !seen.insert(oid.clone()) {
                refused.push(format!("{oid} (duplicate)"));
            } else if ext.extn_id == oids::SUBJECT_ALT_NAME {
                let names =
                    csr::checked_alt_names(ext).map_err(|reason| CaError::InvalidAltName {
                        certname: certname.to_string(),
                        reason,
                    })?;
                let own = format!("DNS:{certname}");
                if !self.settings.allow_subject_alt_names && names != [own.clone()] {
                    let extra: Vec<String> = names.into_iter().filter(|n| *n != own).collect();
                    return Err(CaError::SubjectAltNamesNotAllowed {
                        certname: certname.to_string(),
                        names: extra.join(", "),
                    });
                }
            } else if oid == oids::PP_CLI_AUTH {
                refused.push(oid);
            } else if oids::is_under(&oid, oids::PP_AUTH_CERT_EXT) {
                if !self.settings.allow_authorization_extensions {
                    let shown = oids::short_name(&oid).map_or(oid.clone(), str::to_string);
                    return Err(CaError::AuthorizationExtensionNotAllowed {
                        certname: certname.to_string(),
                        oid: shown,
                    });
                }
            } else if !(oids::is_under(&oid, oids::PP_REG_CERT_EXT)
                || oids::is_under(&oid, oids::PP_PRIV_CERT_EXT))
            {
                refused.push(oid);
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(CaError::ExtensionNotAllowed {
                certname: certname.to_string(),
                oids: refused.join(", "),
            })
        }
    }

    /// Refuses a name that already has a certificate (unless `allow_duplicate_certs`).
    pub(crate) fn check_no_certificate(&self, certname: &str) -> Result<(), CaError> {
        if self.settings.allow_duplicate_certs {
            return Ok(());
        }
        if let Some(pem) = store::read_string_opt(&self.layout.signed(certname))? {
            let revoked = match cert::parse_certs(&pem, "signed certificate")?.first() {
                Some((c, _)) => self
                    .revoked_serials()?
                    .contains(c.tbs_certificate.serial_number.as_bytes()),
                None => false,
            };
            return Err(CaError::AlreadyHasCertificate {
                certname: certname.to_string(),
                state: if revoked { "revoked" } else { "signed" },
            });
        }
        Ok(())
    }
}
