//! Probes of the primary.

mod heartbeat;
pub use heartbeat::*;
