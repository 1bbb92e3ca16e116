//! Integration tests of puppet-facts: one test binary (as ripgrep does).

#[cfg(feature = "collect")]
mod collect;
mod documents;
#[cfg(feature = "collect")]
mod external;
#[cfg(feature = "collect")]
mod facter;
mod properties;
