//! Where Puppet keeps the CA and the ssldir on this platform.

use std::path::{Path, PathBuf};

/// Whether this host lays Puppet out as Debian's packages do (`/etc/puppet`,
/// `/var/lib/puppet`) rather than as Puppet's own packages (`/etc/puppetlabs`): a Debian
/// system (`/etc/debian_version`) without `/etc/puppetlabs`, or any system with `/etc/puppet`
/// and no `/etc/puppetlabs`.
fn debian_layout() -> bool {
    let puppetlabs = Path::new("/etc/puppetlabs").is_dir();
    !puppetlabs && (Path::new("/etc/debian_version").exists() || Path::new("/etc/puppet").is_dir())
}

/// Puppetserver's CA directory on this platform: `/etc/puppet/puppetserver/ca` with Debian's
/// packages, else `/etc/puppetlabs/puppetserver/ca`.
///
/// ```
/// let dir = puppet_ca::default_cadir();
/// assert!(dir.ends_with("puppetserver/ca"));
/// ```
pub fn default_cadir() -> PathBuf {
    if debian_layout() {
        PathBuf::from("/etc/puppet/puppetserver/ca")
    } else {
        PathBuf::from("/etc/puppetlabs/puppetserver/ca")
    }
}

/// Puppet's ssldir on this platform: `/var/lib/puppet/ssl` with Debian's packages, else
/// `/etc/puppetlabs/puppet/ssl`.
///
/// ```
/// assert!(puppet_ca::default_ssldir().ends_with("ssl"));
/// ```
pub fn default_ssldir() -> PathBuf {
    if debian_layout() {
        PathBuf::from("/var/lib/puppet/ssl")
    } else {
        PathBuf::from("/etc/puppetlabs/puppet/ssl")
    }
}
