//! Liveness: with the outage lasting and a majority that includes an
//! executing site connected, the failover completes within a bound; and an
//! operator's request ends (completes, fails, or is refused) within the
//! same bound from when it was asked, even one the cluster cannot carry
//! out (a step the next leader's policy lacks fails the execution instead
//! of leaving it running, so no later failover is refused as a conflict).
//!
//! The bound, from the later of the outage and the end of the last
//! partition or crash: the detector's confirmation window (the policy's
//! consecutive failures times its probe interval, plus one probe timeout),
//! then [`EXECUTION_BOUND`] for the execution itself — elections,
//! hand-offs and the shipped plan's steps on the latency model.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::LogId;

use crate::consensus::{ClusterState, NodeId};
use crate::execute::ExecutionStatus;

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

/// Checks that no execution still runs at `now`, past `deadline`, for an
/// operator's request asked at `asked_at`.
///
/// # Errors
///
/// A sentence naming the executions still running.
pub fn ended(
    states: &BTreeMap<NodeId, (Option<LogId<NodeId>>, ClusterState)>,
    asked_at: Duration,
    deadline: Duration,
) -> Result<(), String> {
    let running: std::collections::BTreeSet<String> = states
        .values()
        .flat_map(|(_, s)| s.executions.values())
        .filter(|e| e.record.status == ExecutionStatus::Running)
        .map(|e| {
            format!(
                "{} (started {}, resumed {} times)",
                e.record.id, e.record.started_at, e.record.resumed
            )
        })
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the operator's failover asked at {:.1}s had not ended by its bound {:.1}s: still running {}",
        asked_at.as_secs_f64(),
        deadline.as_secs_f64(),
        running.into_iter().collect::<Vec<_>>().join(", ")
    ))
}
