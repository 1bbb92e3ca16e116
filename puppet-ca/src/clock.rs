//! Where the CA reads the time.

use std::time::SystemTime;

/// The CA's source of the current time. [`SystemClock`] by default; a test gives a closure
/// (`move || fixed_time`) to [`crate::CertificateAuthority::with_clock`] instead of sleeping.
///
/// ```
/// use puppet_ca::{Clock, SystemClock};
/// use std::time::{Duration, SystemTime};
/// let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
/// let clock = move || fixed;
/// assert_eq!(clock.now(), fixed);
/// assert!(SystemClock.now() > SystemTime::UNIX_EPOCH);
/// ```
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F: Fn() -> SystemTime + Send + Sync> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}
