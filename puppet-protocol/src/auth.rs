//! Puppetserver's default authorization rules (its stock `auth.conf`).

use crate::{Endpoint, ProtocolError};

/// Who is asking: the verified client certificate, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientIdentity {
    /// The certificate's CN (the certname); `None` for a client without a certificate.
    pub certname: Option<String>,
    /// The certificate carries `pp_cli_auth` (1.3.6.1.4.1.34380.1.3.39) = `true`, which
    /// Puppetserver's rules accept for the CA admin endpoints.
    pub cli_auth: bool,
}

/// The authorization policy: Puppetserver's defaults plus the certnames allowed to use the
/// CA admin endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Certnames allowed on `certificate_status(es)`, `clean` and `expirations` (in addition
    /// to certificates carrying `pp_cli_auth`), and on `/file-sync/v1/publish`.
    pub admin_certnames: Vec<String>,
}

impl AuthPolicy {
    /// Checks one request against the rules:
    /// - CA bootstrap (`certificate`, `certificate_revocation_list`, `certificate_request`),
    ///   `/puppet/v3/status` and `/status/v1/*`: open, with or without a certificate;
    /// - `node`, `catalog`, `facts`, `report`: only the node named in the path;
    /// - `certificate_status(es)`, `clean`, `expirations`: admins only;
    /// - `/file-sync/v1/publish`: the admin certnames only;
    /// - everything else (files, environments, renewal): any client with a certificate.
    ///
    /// ```
    /// use puppet_protocol::{AuthPolicy, ClientIdentity, Endpoint};
    /// let policy = AuthPolicy::default();
    /// let a = ClientIdentity { certname: Some("a.example.test".into()), cli_auth: false };
    /// assert!(policy.check(&Endpoint::Catalog("a.example.test".into()), "POST", "/p", &a).is_ok());
    /// assert!(policy.check(&Endpoint::Catalog("b.example.test".into()), "POST", "/p", &a).is_err());
    /// assert!(policy.check(&Endpoint::Certificate("ca".into()), "GET", "/p", &ClientIdentity::default()).is_ok());
    /// ```
    pub fn check(
        &self,
        endpoint: &Endpoint,
        method: &str,
        path: &str,
        client: &ClientIdentity,
    ) -> Result<(), ProtocolError> {
        let allowed = match endpoint {
            Endpoint::Certificate(_)
            | Endpoint::CertificateRevocationList
            | Endpoint::CertificateRequest(_)
            | Endpoint::StatusSimple
            | Endpoint::StatusServices
            | Endpoint::PuppetStatus(_) => true,
            Endpoint::Node(name)
            | Endpoint::Catalog(name)
            | Endpoint::Facts(name)
            | Endpoint::Report(name) => client.certname.as_deref() == Some(name.as_str()),
            Endpoint::CertificateStatus(_)
            | Endpoint::CertificateStatuses
            | Endpoint::Clean
            | Endpoint::Expirations => {
                client.cli_auth
                    || client
                        .certname
                        .as_ref()
                        .is_some_and(|c| self.admin_certnames.iter().any(|a| a == c))
            }
            // Publishing changes what every master serves: the admin certnames only (not
            // `pp_cli_auth`, which is the CA's own rule).
            Endpoint::FileSyncPublish => client
                .certname
                .as_ref()
                .is_some_and(|c| self.admin_certnames.iter().any(|a| a == c)),
            _ => client.certname.is_some(),
        };
        if allowed {
            Ok(())
        } else {
            Err(ProtocolError::Forbidden {
                path: path.to_string(),
                method: method.to_ascii_lowercase(),
            })
        }
    }
}
