//! One run (drill or execution) reduced to what history needs.

use serde::{Deserialize, Serialize};

use super::phases::{PhaseTimes, Phases};
use crate::execute::{ExecutionRecord, ExecutionStatus, StepStatus, TimeBasis};
use crate::plan::StepKind;

/// One finished run: its RTO and each step's duration. Small enough that
/// the replicated state keeps [`super::HISTORY_KEPT`] of them per policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The execution id.
    pub id: String,
    /// The policy.
    pub policy: String,
    /// When it started (RFC 3339, wall clock).
    pub started_at: String,
    /// How it ended.
    pub status: ExecutionStatus,
    /// Modeled (simulated cloud) or measured wall time.
    pub time_basis: TimeBasis,
    /// From the first step's start to the last step's end, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
    /// The phases from the fault to traffic on the DR side.
    #[serde(default)]
    pub phases: PhaseTimes,
    /// The fault and confirmation times the execution was started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<Phases>,
    /// Every step, in plan order.
    pub steps: Vec<StepTiming>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTiming {
    /// The step id (`scale-node-group:app-nodes`).
    pub id: String,
    /// Its kind.
    pub kind: StepKind,
    /// How it ended.
    pub status: StepStatus,
    /// Calls made to act, retries included.
    pub attempts: u32,
    /// How long it took, when it ran to an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Of it, the time inside mutating calls (see [`crate::execute::StepRecord::acting_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_ms: Option<u64>,
    /// Of it, the time spent waiting once it began acting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_ms: Option<u64>,
}

impl RunSummary {
    /// The summary of `record`.
    pub fn of(record: &ExecutionRecord) -> Self {
        let completed = record.status == ExecutionStatus::Completed;
        Self {
            id: record.id.clone(),
            policy: record.policy.clone(),
            started_at: record.started_at.clone(),
            status: record.status,
            time_basis: record.time_basis,
            rto_ms: completed.then(|| record.last_ms()),
            phases: PhaseTimes::of(record),
            detected: record.phases,
            steps: record
                .steps
                .iter()
                .map(|s| StepTiming {
                    id: s.id.clone(),
                    kind: s.kind,
                    status: s.status,
                    attempts: s.attempts,
                    duration_ms: s.duration_ms(),
                    acting_ms: s.acting_ms,
                    waiting_ms: s.waiting_ms,
                })
                .collect(),
        }
    }
}
