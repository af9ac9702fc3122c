//! Liveness: with the outage lasting and a majority that includes an
//! executing site connected, the failover completes within a bound.
//!
//! The bound, from the later of the outage and the end of the last
//! partition or crash: the detector's confirmation window (the policy's
//! consecutive failures times its probe interval, plus one probe timeout),
//! then [`EXECUTION_BOUND`] for the execution itself — elections,
//! hand-offs and the shipped plan's steps on the latency model.

use std::time::Duration;

/// What the failover itself may take once the failure is confirmed.
pub const EXECUTION_BOUND: Duration = Duration::from_secs(15 * 60);

/// The time by which the failover must have completed, for a run whose
/// outage starts at `outage_at` and whose disturbances end at `calm_from`.
pub fn deadline(outage_at: Duration, calm_from: Duration, confirm_window: Duration) -> Duration {
    outage_at.max(calm_from) + confirm_window + EXECUTION_BOUND
}

/// Checks that the failover completed by `deadline`.
///
/// # Errors
///
/// A sentence: when it completed, or that it had not.
pub fn check(completed_at: Option<Duration>, deadline: Duration) -> Result<(), String> {
    match completed_at {
        Some(t) if t <= deadline => Ok(()),
        Some(t) => Err(format!(
            "the failover completed at {:.1}s, after its bound {:.1}s",
            t.as_secs_f64(),
            deadline.as_secs_f64()
        )),
        None => Err(format!(
            "the failover had not completed by its bound {:.1}s",
            deadline.as_secs_f64()
        )),
    }
}
