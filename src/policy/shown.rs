//! `Debug` of the policy parts that hold connection strings: the strings
//! are shown redacted ([`crate::redact`]), so that printing a policy (in a
//! log line, a panic, a test failure) never prints a secret.

use std::fmt;

use super::{HeartbeatTarget, HttpProbe};
use crate::redact::Redacted;

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbe")
            .field("url", &Redacted(&self.url))
            .field("server_name", &self.server_name)
            .field("host", &self.host)
            .field("tls_verify", &self.tls_verify)
            .finish()
    }
}

impl fmt::Debug for HeartbeatTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeartbeatTarget")
            .field("primary", &Redacted(&self.primary))
            .field("replica", &Redacted(&self.replica))
            .field("password", &self.password)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}
