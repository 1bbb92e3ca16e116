//! puppet-report (in progress).
