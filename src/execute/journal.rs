//! The execution journal: every execution, step by step, on disk.
//!
//! The executor writes the whole record after every change of state (a step
//! starting, acting, finishing), so a process killed at any point leaves a
//! journal from which the next run resumes. Here the journal is a local JSON
//! file per policy; under consensus the same records go through the
//! replicated log.

use std::future::Future;
use std::io;

use serde::{Deserialize, Serialize};

use crate::model::Epoch;
use crate::plan::{Plan, RpoEvaluation, StepKind};

/// The state of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Started and not finished; a new run resumes it.
    Running,
    /// Every step finished and verification passed.
    Completed,
    /// The observed state already met every postcondition; nothing was done.
    AlreadyComplete,
    /// Preflight found problems; nothing was changed.
    PreflightFailed,
    /// The RPO gate refused; nothing was changed.
    Refused,
    /// A step failed; its dependants did not run.
    Failed,
}

impl ExecutionStatus {
    /// Its name as in the journal and the API (`already_complete`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::AlreadyComplete => "already_complete",
            Self::PreflightFailed => "preflight_failed",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    /// Whether the execution has ended.
    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

/// The state of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Started and not finished.
    Running,
    /// Acted, and its postcondition was verified.
    Done,
    /// Its postcondition already held; no call was made.
    AlreadyDone,
    /// Failed; the outcome says why.
    Failed,
    /// Not run because a step it depends on failed.
    NotRun,
}

impl StepStatus {
    /// Its name as in the journal and the API (`already_done`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::AlreadyDone => "already_done",
            Self::Failed => "failed",
            Self::NotRun => "not_run",
        }
    }

    /// Whether the step's postcondition holds.
    pub fn succeeded(self) -> bool {
        matches!(self, Self::Done | Self::AlreadyDone)
    }
}

/// One step's journal entry. Times are milliseconds since the execution started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step id from the plan.
    pub id: String,
    /// Its kind.
    pub kind: StepKind,
    /// The steps it waited for.
    pub after: Vec<String>,
    /// The resource it acts on.
    pub resource: Option<String>,
    /// Where it is.
    pub status: StepStatus,
    /// Calls made to act, retries included.
    pub attempts: u32,
    /// When it started (last).
    pub started_ms: Option<u64>,
    /// When it first started, Unix milliseconds by the executing node's
    /// clock: kept when it runs again after a restart or a takeover, so
    /// that a time limit of the step (the cache's failover timeout) counts
    /// from its first attempt, not from the latest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_started_at_ms: Option<u64>,
    /// When it ended.
    pub ended_ms: Option<u64>,
    /// What happened, as a sentence.
    pub outcome: Option<String>,
    /// The provider's change id to wait for (Route 53), kept so that a
    /// resumed run waits for the same change instead of making another.
    pub change_id: Option<String>,
    /// The fencing epoch under which the step was last started (under
    /// consensus: the leader's term and the log index of its intent).
    #[serde(default)]
    pub epoch: Option<Epoch>,
    /// Of its duration, the time spent inside mutating calls (`None`: it
    /// made none, or ran before this was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_ms: Option<u64>,
    /// Of its duration, the time spent waiting once it began acting:
    /// backoff between attempts, a busy resource, polling for the
    /// postcondition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_ms: Option<u64>,
}

impl StepRecord {
    /// How long the step took, once it has ended.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.ended_ms?.saturating_sub(self.started_ms?))
    }
}

/// An operator's acceptance of data loss above the RPO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLossOverride {
    /// The loss accepted, in milliseconds.
    pub accepted_ms: u64,
    /// Tiers whose unknown exposure was accepted: their loss is unbounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unbounded: Vec<crate::model::DataTier>,
    /// Who accepted it (the local user, or the API caller).
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Why, in the operator's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the gate measured when the override was used.
    pub gate: RpoEvaluation,
}

/// One execution of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// Unique id; Route 53 change comments and EKS request tokens carry it.
    pub id: String,
    /// The policy it executes.
    pub policy: String,
    /// When it started (RFC 3339, wall clock).
    pub started_at: String,
    /// Where it is.
    pub status: ExecutionStatus,
    /// The plan as built when the execution started.
    pub plan: Plan,
    /// The steps, in plan order.
    pub steps: Vec<StepRecord>,
    /// The RPO gate's evaluation when the gate step ran.
    pub rpo: Option<RpoEvaluation>,
    /// Operator overrides used by this execution.
    pub overrides: Vec<DataLossOverride>,
    /// How many times a later run resumed it (under consensus: a new
    /// leader took it over).
    pub resumed: u32,
    /// How many times the leader that owns it ran it again, in the same
    /// term, after its run there stopped (its lease lapsed for a moment, or
    /// a journal write failed): not a change of leader.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarted: u32,
    /// A sentence saying how it ended.
    pub summary: Option<String>,
    /// Choices the executor made on its own (a fallback taken), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<Decision>,
    /// Whether the times are modeled (a simulated cloud on a virtual clock)
    /// or measured on the wall clock (a real cloud).
    #[serde(default)]
    pub time_basis: TimeBasis,
    /// Fencing the old primary once its region answers, after the failover
    /// completed (`None`: the policy does not fence on return, or the
    /// execution did not promote anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_old_primary: Option<super::fence_return::FenceOldPrimary>,
    /// The replicas' positions the RPO gate recorded right before promotion
    /// (`None`: the gate did not run against real servers, or the policy
    /// has no heartbeat target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<super::fork::ForkPositions>,
    /// When the fault was first seen and confirmed, for an execution the
    /// detector started (`None`: a drill or an operator's request, which
    /// start at the decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<crate::history::Phases>,
    /// The roles its `switch-roles` step committed (`None`: it has none,
    /// or the step has not finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<crate::model::SwitchedRoles>,
    /// What the quiesce's fences returned for `unfence` to restore, per
    /// region: ElastiCache user id → access string from before the fence
    /// (never a secret). The lift or undo of that region gives them back.
    /// A region the execution lifts without quiescing it first starts with
    /// what an earlier execution's fence recorded there
    /// ([`Journal::writer_restore`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub writer_restore: super::WriterRestore,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the execution's times mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// The simulated cloud's latency model on a virtual clock.
    #[default]
    Modeled,
    /// Measured wall time against a real cloud.
    Wall,
}

/// A choice the executor made on its own, journaled with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The step that made it.
    pub step: String,
    /// When (RFC 3339).
    pub at: String,
    /// What was decided and why, as a sentence.
    pub what: String,
}

impl ExecutionRecord {
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The latest time recorded in the journal.
    pub fn last_ms(&self) -> u64 {
        self.steps
            .iter()
            .flat_map(|s| [s.started_ms, s.ended_ms])
            .flatten()
            .max()
            .unwrap_or(0)
    }
}

/// The executor could not keep its journal, or lost the right to act.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The journal cannot be read or written.
    #[error("execution journal: {0}")]
    Io(#[from] io::Error),
    /// This executor is no longer the execution's owner (under consensus: a
    /// later leader claimed the execution, or the state machine refused
    /// this node's write); it must stop this execution without acting.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The journal could not be written in time (under consensus: no
    /// majority committed the write, or leadership could not be confirmed).
    /// Nothing says another node owns the execution: it may be retried.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
}

/// Where executions are kept.
pub trait Journal: Send {
    /// The most recent execution of `policy`, if any.
    ///
    /// # Errors
    ///
    /// The journal cannot be read or parsed.
    fn last(
        &self,
        policy: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, JournalError>> + Send;

    /// Writes `record`, replacing an earlier version with the same id.
    ///
    /// # Errors
    ///
    /// The journal cannot be written, or the writer has been fenced off.
    fn save(
        &mut self,
        record: &ExecutionRecord,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Called before a mutating step acts: confirms that this executor may
    /// still act and records the step's intent, returning the epoch the
    /// step acts under. A local journal always allows it (epoch zero).
    ///
    /// # Errors
    ///
    /// [`JournalError::Fenced`] when this executor must stop,
    /// [`JournalError::Unavailable`] when the intent could not be recorded.
    fn begin_step(
        &mut self,
        record: &ExecutionRecord,
        step: &str,
    ) -> impl Future<Output = Result<Epoch, JournalError>> + Send {
        let _ = (record, step);
        async { Ok(Epoch::default()) }
    }

    /// Called when `record`'s `switch-roles` step has found the roles to
    /// switch to, before the step is recorded done: commits them where the
    /// executor's readers look. A local journal keeps them in the record
    /// (saved right after); the controller cluster commits them in its
    /// replicated state, so every node reads the policy the new way.
    ///
    /// # Errors
    ///
    /// As [`Journal::begin_step`]: the step is then not done, and runs
    /// again when the execution is resumed.
    fn switch_roles(
        &mut self,
        record: &ExecutionRecord,
        roles: &crate::model::SwitchedRoles,
    ) -> impl Future<Output = Result<(), JournalError>> + Send {
        let _ = (record, roles);
        async { Ok(()) }
    }

    /// The access strings the fences of `policy`'s executions replaced and
    /// no later fence superseded, per region: what a lift of a region that
    /// an earlier execution fenced gives back (ElastiCache users keep no
    /// state of their own).
    ///
    /// # Errors
    ///
    /// The journal cannot be read.
    fn writer_restore(
        &self,
        policy: &str,
    ) -> impl Future<Output = Result<super::WriterRestore, JournalError>> + Send;
}

/// A journal held in memory (drills, tests).
#[derive(Debug, Default, Clone)]
pub struct MemoryJournal {
    /// Every execution saved, oldest first.
    pub records: Vec<ExecutionRecord>,
}

impl Journal for MemoryJournal {
    async fn last(&self, policy: &str) -> Result<Option<ExecutionRecord>, JournalError> {
        Ok(self
            .records
            .iter()
            .rev()
            .find(|r| r.policy == policy)
            .cloned())
    }

    async fn save(&mut self, record: &ExecutionRecord) -> Result<(), JournalError> {
        upsert(&mut self.records, record);
        Ok(())
    }

    async fn writer_restore(&self, policy: &str) -> Result<super::WriterRestore, JournalError> {
        Ok(super::known_writer_restore(
            self.records.iter().filter(|r| r.policy == policy),
        ))
    }
}

/// Replaces the record with `record`'s id, or appends it.
pub(super) fn upsert(records: &mut Vec<ExecutionRecord>, record: &ExecutionRecord) {
    match records.iter_mut().find(|r| r.id == record.id) {
        Some(r) => *r = record.clone(),
        None => records.push(record.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_serialized_names() {
        use ExecutionStatus as E;
        for e in [
            E::Running,
            E::Completed,
            E::AlreadyComplete,
            E::PreflightFailed,
            E::Refused,
            E::Failed,
        ] {
            assert_eq!(serde_json::to_value(e).unwrap(), e.label());
        }
        use StepStatus as S;
        for s in [
            S::Pending,
            S::Running,
            S::Done,
            S::AlreadyDone,
            S::Failed,
            S::NotRun,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.label());
        }
    }

    #[test]
    fn a_step_journaled_before_acting_and_waiting_were_recorded_still_loads() {
        let old = serde_json::json!({
            "id": "promote-database", "kind": "promote-database", "after": [],
            "resource": null, "status": "done", "attempts": 1, "started_ms": 0,
            "ended_ms": 1000, "outcome": null, "change_id": null
        });
        let s: StepRecord = serde_json::from_value(old).unwrap();
        assert_eq!((s.acting_ms, s.waiting_ms), (None, None));
        let back = serde_json::to_value(&s).unwrap();
        assert!(back.get("acting_ms").is_none(), "{back}");
    }
}
