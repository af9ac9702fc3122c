//! Running a plan: parallel where independent, each step check → act →
//! verify, every change of state journaled.
//!
//! [`execute`] is the one entry point. It resumes the policy's unfinished
//! execution if the journal has one; otherwise it observes the cloud, builds
//! the plan, and, when the failover has already happened, says so and
//! changes nothing. Steps start as soon as everything they depend on has
//! succeeded; a failed step stops its dependants (recorded as `not_run`)
//! while independent branches finish.

mod any_plan;
mod cache_step;
pub mod cycle;
pub mod fence_return;
pub mod fork;
pub mod journal;
mod lease;
mod observe;
mod observe_reprotect;
mod phase_clock;
mod policy_match;
pub mod quiesce;
mod reprotect_steps;
pub mod retry;
mod run_step;
mod steps;
mod undo_quiesce;
mod writer_restore;

mod dag;
mod file_journal;
mod record;
pub use any_plan::{execute_plan, switched_roles};
use dag::run_dag;
pub use file_journal::{FileJournal, LOCK_FILE};
pub use journal::{
    DataLossOverride, Decision, ExecutionRecord, ExecutionStatus, Journal, JournalError,
    MemoryJournal, StepRecord, StepStatus, TimeBasis,
};
pub use observe::{no_notes, observe, routing_view, Notes};
pub use observe_reprotect::{
    observe_failback, observe_reprotect, observe_reprotect_with, plan_way_home,
};
pub use record::{
    mark_already_complete, new_execution_id, new_record, now_rfc3339, rfc3339_ms, started_ms,
};
pub use steps::{postcondition, DNS_MARGIN};
pub use writer_restore::{known_writer_restore, merge_writer_restore, WriterRestore};

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::info;

use crate::cloud::{Cloud, ExposureSource};
use crate::model::Epoch;
use crate::model::Fence;
use crate::plan::{self, Acceptance, Plan, StepKind};
use crate::policy::Policy;
use run_step::{run_step, StepContext, StepMsg, StepOutcome};

/// How to run an execution.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The id of a new execution (a generated one when `None`).
    pub execution_id: Option<String>,
    /// What the operator accepts above the RPO (`--accept-data-loss`,
    /// `--accept-unknown-loss`).
    pub accept: Acceptance,
    /// Where exposure figures come from (the cloud's own when `None`).
    pub exposures: Option<Arc<dyn ExposureSource>>,
    /// Whether times are modeled (simulated cloud) or measured (real cloud).
    pub time_basis: TimeBasis,
    /// Who asked, for the audit trail.
    pub operator: String,
    /// Why, in the operator's words (recorded with any data-loss override).
    pub reason: Option<String>,
    /// Run one step at a time, in plan order (the manual procedure), instead
    /// of every independent step at once.
    pub sequential: bool,
    /// Where progress events go, if anywhere.
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// What the majority knows of the controller in the region being
    /// left: its self-fence lease runs from when it was last heard, and the
    /// RPO gate waits for it to end.
    pub primary_controller: PrimaryController,
    /// When the fault behind an automatic execution was first seen and
    /// confirmed, recorded with the execution.
    pub phases: Option<crate::history::Phases>,
}

/// The controller of the region being left, as the executing site sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrimaryController {
    /// No controller (a CLI run), or none ever heard from.
    #[default]
    Unknown,
    /// Heard within the last two probe intervals: in contact with the
    /// majority, so it does not fence itself.
    InContact,
    /// Last heard at this Unix time (ms): cut off since.
    LastHeard(u64),
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("execution_id", &self.execution_id)
            .field("accept", &self.accept)
            .field("exposures", &self.exposures.as_ref().map(|_| "custom"))
            .field("time_basis", &self.time_basis)
            .field("operator", &self.operator)
            .field("reason", &self.reason)
            .field("sequential", &self.sequential)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// The exposure source: the one given, or the cloud's own.
    pub fn exposures<C: Cloud + 'static>(&self, cloud: &Arc<C>) -> Arc<dyn ExposureSource> {
        self.exposures
            .clone()
            .unwrap_or_else(|| cloud.clone() as Arc<dyn ExposureSource>)
    }
}

/// Progress of an execution, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Reading the cloud to build the plan, before any step exists: what
    /// is read, or what a read is waiting for.
    Observing {
        /// A sentence.
        note: String,
    },
    /// The execution started (or resumed).
    Started {
        /// Its id.
        execution_id: String,
        /// Whether an interrupted execution is being resumed.
        resumed: bool,
        /// The step ids, in plan order.
        steps: Vec<String>,
    },
    /// A step started.
    StepStarted {
        /// The step.
        id: String,
        /// Milliseconds since the execution started.
        at_ms: u64,
    },
    /// A call of the step failed and will be retried.
    StepRetry {
        /// The step.
        id: String,
        /// The error, as a sentence.
        error: String,
    },
    /// A step ended.
    StepFinished {
        /// The step.
        id: String,
        /// How it ended.
        status: StepStatus,
        /// Milliseconds since the execution started.
        at_ms: u64,
        /// What happened.
        outcome: String,
    },
}

/// The policy's execution the journal holds as still running, made ready
/// to run again (see [`prepare_resume`]), when `wanted` accepts it.
async fn resumable<J: Journal>(
    journal: &mut J,
    policy: &str,
    wanted: impl Fn(&ExecutionRecord) -> bool,
) -> Result<Option<ExecutionRecord>, JournalError> {
    let Some(mut r) = journal
        .last(policy)
        .await?
        .filter(|r| r.status == ExecutionStatus::Running && wanted(r))
    else {
        return Ok(None);
    };
    info!(execution_id = %r.id, policy, kind = %r.plan.kind, "resuming interrupted execution");
    prepare_resume(&mut r);
    Ok(Some(r))
}

/// Runs (or resumes) the failover for `policy` against `cloud`.
///
/// # Errors
///
/// Only when the journal cannot be read or written: every cloud failure is
/// recorded in the returned record instead.
pub async fn execute<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    options: RunOptions,
) -> Result<ExecutionRecord, JournalError> {
    // The execution's time axis starts now, so the observation that builds
    // the plan counts towards the modeled RTO.
    let clock = Instant::now();
    let mut record = match resumable(journal, &policy.name, |_| true).await? {
        Some(r) => r,
        None => {
            let exposures = options.exposures(&cloud);
            let events = options.events.clone();
            let note = move |note: String| {
                if let Some(tx) = &events {
                    let _ = tx.send(Event::Observing { note });
                }
            };
            let bound = retry::Budget::read(policy.execution.call_timeout).bound();
            note(format!(
                "reading the DR side in {} to build the plan (each read ends within {})",
                policy.regions.secondary,
                crate::duration::fmt(bound)
            ));
            let observed = observe(cloud.as_ref(), exposures.as_ref(), &policy, &note).await;
            let plan = plan::build(&policy, &observed, options.accept.clone());
            let mut r = new_record(&plan, &options);
            if plan.is_complete() && plan.preflight_problems.is_empty() {
                mark_already_complete(&mut r);
                journal.save(&r).await?;
                return Ok(r);
            }
            r
        }
    };
    journal.save(&record).await?;
    run_record(cloud, policy, journal, &mut record, &options, clock).await?;
    Ok(record)
}

/// Marks an interrupted execution as resumed: steps that were running start
/// again from their check, which finds what the earlier run already did.
pub fn prepare_resume(record: &mut ExecutionRecord) {
    record.resumed += 1;
    rerun_running_steps(record);
}

/// Marks an execution whose run stopped on the leader that owns it as
/// restarted there, in the same term: like [`prepare_resume`], but counted
/// apart, since no other leader took it over.
pub fn prepare_restart(record: &mut ExecutionRecord) {
    record.restarted += 1;
    rerun_running_steps(record);
}

fn rerun_running_steps(record: &mut ExecutionRecord) {
    for s in &mut record.steps {
        if s.status == StepStatus::Running {
            s.status = StepStatus::Pending;
        }
    }
}

/// Runs an execution already in the journal (new, or prepared with
/// [`prepare_resume`]) to its end. `clock` is when the caller started
/// working on it; a resumed execution continues its time axis after the
/// last recorded event.
///
/// # Errors
///
/// The journal cannot be written, or it fenced this executor off: the
/// steps still running are then dropped, and the record is left running
/// for the next owner.
pub async fn run_record<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    record: &mut ExecutionRecord,
    options: &RunOptions,
    clock: Instant,
) -> Result<(), JournalError> {
    let base = if record.resumed > 0 || record.restarted > 0 {
        record.last_ms()
    } else {
        0
    };
    // A lift of a region an earlier execution fenced gives back what that
    // fence replaced: journaled before any step acts.
    let known = journal.writer_restore(&record.policy).await?;
    let before = record.writer_restore.clone();
    record.inherit_writer_restore(&known);
    if record.writer_restore != before {
        journal.save(record).await?;
    }
    run_dag(cloud, policy, journal, record, options, (clock, base)).await
}

#[cfg(test)]
mod quiesce_fake;
#[cfg(test)]
mod quiesce_tests;
#[cfg(test)]
mod restore_cycle_tests;
#[cfg(test)]
mod tests;
