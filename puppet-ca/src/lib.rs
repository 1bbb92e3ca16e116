//! A Puppet certificate authority.
//!
//! This crate will hold a CA that keeps its state in Puppetserver 7's CA directory layout
//! (`ca_crt.pem`, `ca_key.pem`, `ca_crl.pem`, `serial`, `inventory.txt`, `signed/`, `requests/`):
//! CSR parsing and verification, certname rules, Puppet's extension OIDs, signing with the
//! extensions Puppetserver issues, autosign policies, revocation, the CRL, clean, renewal and
//! generation of a master's own certificate. Work in progress: see issue 3.
