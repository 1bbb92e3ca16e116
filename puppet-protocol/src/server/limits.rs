//! What one client may take from a master: body sizes per endpoint, read timeouts, open
//! connections, and how long a shutdown waits for requests in flight.

use std::time::Duration;

use crate::Endpoint;

/// Resource limits of a master ([`super::MasterOptions::limits`]).
///
/// Every request may come from a hostile client, and the CA bootstrap endpoints are open to
/// clients without a certificate, so the limits apply before any work is done for a request:
///
/// - **Body size per endpoint**, decided from the [`Endpoint`] (and authorization) *before* the
///   body is read, and enforced *while* it is read: a body announced larger than the limit is
///   refused without reading it, a chunked body is cut off at the limit. Either way the answer
///   is 413 with Puppet's error body and the connection is closed. A client without a
///   certificate can only send bodies to `certificate_request` (a CSR: [`Limits::csr_body_bytes`]).
///   [`super::MasterOptions::max_body_bytes`] caps every one of these limits.
/// - **Timeouts**: the TLS handshake, the request headers (which is also the keep-alive idle
///   timeout: the clock starts when a connection begins waiting for its next request), and the
///   whole request body (a client sending one byte a second is cut off with 408), and writes
///   of the answer that make no progress (a client that stops reading).
/// - **Request head size**: [`Limits::max_header_bytes`] (431 above it).
/// - **Open connections**: at most [`Limits::max_connections`]; beyond it the master stops
///   accepting (new connections wait in the kernel's listen backlog) until one closes.
///
/// ```
/// use std::time::Duration;
/// use puppet_protocol::Endpoint;
/// use puppet_protocol::server::{Limits, MasterOptions};
///
/// let limits = Limits { body_timeout: Duration::from_secs(30), ..Limits::default() };
/// let csr = Endpoint::CertificateRequest("agent1.example.test".into());
/// assert_eq!(limits.body_limit(&csr), 64 * 1024);
/// assert_eq!(limits.body_limit(&Endpoint::Report("agent1".into())), 32 * 1024 * 1024);
/// let options = MasterOptions { limits, ..MasterOptions::default() };
/// assert_eq!(options.limits.max_connections, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at the same time (default 1024, at least 1). At the cap the master
    /// stops accepting until one closes; it never refuses with an error. Size it below the
    /// process's file descriptor limit (each connection is one descriptor).
    pub max_connections: usize,
    /// The TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// From the moment a connection waits for a request (just accepted, or idle after a
    /// response) to the end of that request's headers (default 30 s). This is the keep-alive
    /// idle timeout too: an idle connection is closed when it runs out.
    pub header_timeout: Duration,
    /// Reading a whole request body (default 120 s, enough for the largest default body at
    /// about 300 KB/s). Over it the request is answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// Writing an answer making no progress (default 60 s): a client that stops reading its
    /// answer loses the connection.
    pub write_timeout: Duration,
    /// How long [`super::RunningMaster::shutdown`] lets requests in flight finish before it
    /// closes their connections (default 30 s).
    pub shutdown_grace: Duration,
    /// `PUT certificate_request` (a CSR: a few KB; default 64 KiB). Open to clients without a
    /// certificate.
    pub csr_body_bytes: u64,
    /// The CA admin endpoints: `certificate_status`, `certificate_statuses`, `clean`,
    /// `certificate_renewal`, `expirations` (default 1 MiB: a `clean` of thousands of names).
    pub admin_body_bytes: u64,
    /// The documents: catalog request (a form with the facts), facts, report (default 32 MiB).
    pub document_body_bytes: u64,
    /// `PUT file_bucket_file` (a file backed up by the agent; default 32 MiB).
    pub file_bucket_body_bytes: u64,
    /// The `/file-sync/v1` endpoints: a publish request (`{"environment": "..."}`) or nothing
    /// (default 4 KiB).
    pub file_sync_body_bytes: u64,
    /// Every other endpoint (they take no body; default 64 KiB).
    pub other_body_bytes: u64,
    /// A request's line and headers (default 64 KiB, at least 8 KiB); over it the answer is
    /// 431 and the connection is closed. This also bounds each connection's read buffer.
    pub max_header_bytes: usize,
    /// Memory for the catalogs kept to be sent again (the last one of each node, plain and
    /// gzipped, for a compiler that gives [`super::CatalogCompiler::cache_key`]; default
    /// 256 MiB; 0 turns the cache off). Over it, the oldest entries are dropped.
    pub catalog_cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            csr_body_bytes: 64 * 1024,
            admin_body_bytes: 1024 * 1024,
            document_body_bytes: 32 * 1024 * 1024,
            file_bucket_body_bytes: 32 * 1024 * 1024,
            file_sync_body_bytes: 4 * 1024,
            other_body_bytes: 64 * 1024,
            max_header_bytes: 64 * 1024,
            catalog_cache_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The largest body accepted for `endpoint`, in bytes (before the
    /// [`super::MasterOptions::max_body_bytes`] cap).
    ///
    /// ```
    /// use puppet_protocol::{Endpoint, server::Limits};
    /// let limits = Limits::default();
    /// assert_eq!(limits.body_limit(&Endpoint::CertificateStatus("n".into())), 1024 * 1024);
    /// assert_eq!(limits.body_limit(&Endpoint::StatusSimple), 64 * 1024);
    /// assert_eq!(limits.body_limit(&Endpoint::FileSyncPublish), 4 * 1024);
    /// ```
    pub fn body_limit(&self, endpoint: &Endpoint) -> u64 {
        match endpoint {
            Endpoint::CertificateRequest(_) => self.csr_body_bytes,
            Endpoint::CertificateStatus(_)
            | Endpoint::CertificateStatuses
            | Endpoint::CertificateRenewal
            | Endpoint::Clean
            | Endpoint::Expirations => self.admin_body_bytes,
            Endpoint::Catalog(_) | Endpoint::Facts(_) | Endpoint::Report(_) => {
                self.document_body_bytes
            }
            Endpoint::FileBucketFile(_) => self.file_bucket_body_bytes,
            Endpoint::FileSyncPublish
            | Endpoint::FileSyncLatest
            | Endpoint::FileSyncManifest { .. }
            | Endpoint::FileSyncBlob(_) => self.file_sync_body_bytes,
            _ => self.other_body_bytes,
        }
    }
}
