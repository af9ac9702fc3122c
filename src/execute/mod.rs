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

mod file_journal;
pub use any_plan::{execute_plan, switched_roles};
pub use file_journal::{FileJournal, LOCK_FILE};
pub use journal::{
    DataLossOverride, Decision, ExecutionRecord, ExecutionStatus, Journal, JournalError,
    MemoryJournal, StepRecord, StepStatus, TimeBasis,
};
pub use observe::{no_notes, observe, routing_view, Notes};
pub use observe_reprotect::{
    observe_failback, observe_reprotect, observe_reprotect_with, plan_way_home,
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

/// Four hex digits that tell apart executions started in the same second:
/// random, or under the simulation's virtual clock drawn from the clock's
/// nanoseconds so that a seed replays to the same ids.
fn id_suffix(now: time::OffsetDateTime) -> u16 {
    if crate::clock::is_virtual() {
        (now.nanosecond() / 1000 % 65_536) as u16
    } else {
        rand::random::<u16>()
    }
}

/// A new execution id for `policy`: the policy, the time and a random
/// suffix (`emr-platform-20261202T061500Z-3f2a`).
pub fn new_execution_id(policy: &str) -> String {
    let now = crate::clock::now_utc();
    let stamp = now.format(time::macros::format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ));
    format!(
        "{policy}-{}-{:04x}",
        stamp.unwrap_or_default(),
        id_suffix(now)
    )
}

/// A new execution record for `plan`, every step pending.
pub fn new_record(plan: &Plan, options: &RunOptions) -> ExecutionRecord {
    let now = crate::clock::now_utc();
    let id = options
        .execution_id
        .clone()
        .unwrap_or_else(|| new_execution_id(&plan.policy));
    let steps = plan
        .steps
        .iter()
        .map(|s| StepRecord {
            id: s.id.clone(),
            kind: s.kind,
            after: s.after.clone(),
            resource: s.action.resource(),
            status: StepStatus::Pending,
            attempts: 0,
            started_ms: None,
            ended_ms: None,
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        })
        .collect();
    ExecutionRecord {
        id,
        policy: plan.policy.clone(),
        started_at: rfc3339(now),
        status: ExecutionStatus::Running,
        plan: plan.clone(),
        steps,
        rpo: None,
        overrides: Vec::new(),
        resumed: 0,
        restarted: 0,
        summary: None,
        decisions: Vec::new(),
        time_basis: options.time_basis,
        fence_old_primary: None,
        fork: None,
        phases: options.phases,
        roles: None,
        writer_restore: Default::default(),
    }
}

/// Marks a new record whose plan found every postcondition holding: nothing
/// runs, every step is already done.
pub fn mark_already_complete(record: &mut ExecutionRecord) {
    record.status = ExecutionStatus::AlreadyComplete;
    for s in &mut record.steps {
        s.status = StepStatus::AlreadyDone;
    }
    record.summary = Some(format!(
        "already failed over to {}: every step's postcondition holds; nothing changed",
        record.plan.to_region
    ));
}

/// The wall clock now, in RFC 3339 (journal and audit timestamps).
pub fn now_rfc3339() -> String {
    rfc3339(crate::clock::now_utc())
}

/// When an execution started, Unix milliseconds (0 when its start time
/// does not parse).
pub fn started_ms(record: &ExecutionRecord) -> u64 {
    time::OffsetDateTime::parse(
        &record.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
}

/// A Unix time in milliseconds, RFC 3339 (UTC).
pub fn rfc3339_ms(ms: u64) -> String {
    let ns = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(ns).map_or_else(|_| String::new(), rfc3339)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn run_dag<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    record: &mut ExecutionRecord,
    options: &RunOptions,
    (clock, base): (Instant, u64),
) -> Result<(), JournalError> {
    let emit = |e: Event| {
        if let Some(tx) = &options.events {
            let _ = tx.send(e);
        }
    };
    emit(Event::Started {
        execution_id: record.id.clone(),
        resumed: record.resumed > 0,
        steps: record.steps.iter().map(|s| s.id.clone()).collect(),
    });
    let now_ms = || base + clock.elapsed().as_millis() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut running: JoinSet<StepOutcome> = JoinSet::new();
    let mut tasks: std::collections::HashMap<tokio::task::Id, String> = Default::default();
    // An operator's override is journaled before any step the gate let
    // through may act: saved only after the next steps started, a promotion
    // above the RPO could be made with no override on record (found by the
    // simulation; a leader crashing in between would lose it for good).
    let mut journaled_overrides = record.overrides.len();
    loop {
        if record.overrides.len() != journaled_overrides {
            journal.save(record).await?;
            journaled_overrides = record.overrides.len();
        }
        for i in ready(record, options.sequential && !running.is_empty()) {
            let step = record
                .plan
                .step(&record.steps[i].id)
                .expect("journal steps come from the plan")
                .clone();
            if let Some(why) = policy_match::mismatch(&policy, &step) {
                tracing::error!(execution_id = %record.id, step = %step.id, "{why}");
                let failed = StepOutcome::failed(&step.id, why);
                finish(record, failed, now_ms(), options, &emit);
                continue;
            }
            let mut fence = Fence {
                execution_id: record.id.clone(),
                epoch: Epoch::default(),
            };
            // Before a step may act, the journal confirms this executor may
            // still act and records the intent under the current epoch.
            if step.kind.mutates() {
                fence.epoch = journal.begin_step(record, &step.id).await?;
            }
            let s = &mut record.steps[i];
            s.status = StepStatus::Running;
            s.started_ms = Some(now_ms());
            let first_started = *s
                .first_started_at_ms
                .get_or_insert_with(crate::clock::now_ms);
            s.ended_ms = None;
            (s.acting_ms, s.waiting_ms) = (None, None);
            s.epoch = step.kind.mutates().then_some(fence.epoch);
            info!(execution_id = %record.id, step = %s.id, epoch = %fence.epoch, "step started");
            emit(Event::StepStarted {
                id: s.id.clone(),
                at_ms: now_ms(),
            });
            let change = s.change_id.clone().map(crate::cloud::ChangeId);
            let ctx = StepContext {
                policy: policy.clone(),
                exposures: options.exposures(&cloud),
                accept: options.accept.clone(),
                tx: tx.clone(),
                primary_controller: options.primary_controller,
                first_started_at_ms: first_started,
                // A drill on the simulated cloud has no servers behind the
                // policy's heartbeat targets; a controller measures through
                // them (its exposures are the heartbeats), on AWS or not.
                record_fork: options.time_basis == TimeBasis::Wall || options.exposures.is_some(),
                writer_restore: quiesce::target(&step.action)
                    .and_then(|(region, _)| record.writer_restore.get(region).cloned())
                    .unwrap_or_default(),
            };
            let id = step.id.clone();
            // The step's task keeps this node's clock (the simulation's skew).
            let task = running.spawn(crate::clock::inherit(run_step(
                cloud.clone(),
                ctx,
                step,
                change,
                fence,
            )));
            tasks.insert(task.id(), id);
            if options.sequential {
                break;
            }
        }
        journal.save(record).await?;
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some(msg) = rx.recv() => match msg {
                StepMsg::Acted { id, change_id } => {
                    if let Some(s) = record.steps.iter_mut().find(|s| s.id == id) {
                        s.change_id = Some(change_id);
                    }
                }
                StepMsg::Fenced { region, restore } => {
                    record.keep_writer_restore(&region, restore);
                }
                StepMsg::Retry { id, error } => {
                    info!(execution_id = %record.id, step = %id, %error, "call failed; retrying");
                    emit(Event::StepRetry { id, error });
                }
            },
            Some(done) = running.join_next_with_id() => {
                let outcome = match done {
                    Ok((_, outcome)) => outcome,
                    // A step that panicked fails like any other: the
                    // execution ends instead of being restarted forever.
                    Err(e) => {
                        let id = tasks.get(&e.id()).cloned().unwrap_or_default();
                        let why = format!("step {id} stopped unexpectedly: {e}");
                        tracing::error!(execution_id = %record.id, step = %id, "{why}");
                        StepOutcome::failed(&id, why)
                    }
                };
                if let Some(roles) = &outcome.roles {
                    journal.switch_roles(record, roles).await?;
                    record.roles = Some(roles.clone());
                }
                finish(record, outcome, now_ms(), options, &emit);
            }
        }
    }
    conclude(record);
    // A failback stopped between its quiesce and its promotion gives the
    // writers back, so the platform always has one.
    undo_quiesce::undo_if_needed(cloud.as_ref(), &policy, record, now_ms()).await;
    // Once a replica was promoted, the old primary must not write beside it:
    // it is fenced when its region answers (see `fence_return`).
    let promoted = record
        .steps
        .iter()
        .any(|s| s.kind == StepKind::PromoteDatabase && s.status.succeeded());
    if record.plan.kind == plan::ExecutionKind::Failover
        && record.fence_old_primary.is_none()
        && (promoted || record.status == ExecutionStatus::Completed)
    {
        record.fence_old_primary = fence_return::planned(&policy).map(|mut f| {
            f.fork = record.fork.clone();
            f
        });
    }
    journal.save(record).await?;
    Ok(())
}

/// Indices of steps that may start: pending, with every dependency done.
fn ready(record: &ExecutionRecord, busy: bool) -> Vec<usize> {
    if busy {
        return Vec::new();
    }
    let ok: BTreeSet<&str> = record
        .steps
        .iter()
        .filter(|s| s.status.succeeded())
        .map(|s| s.id.as_str())
        .collect();
    record
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.status == StepStatus::Pending && s.after.iter().all(|d| ok.contains(d.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

fn finish(
    record: &mut ExecutionRecord,
    out: StepOutcome,
    at_ms: u64,
    options: &RunOptions,
    emit: &impl Fn(Event),
) {
    if let Some(what) = out.decision.clone() {
        record.decisions.push(Decision {
            step: out.id.clone(),
            at: now_rfc3339(),
            what,
        });
    }
    if let Some(gate) = out.rpo {
        if let plan::RpoVerdict::Accepted {
            accepted_ms,
            unbounded,
        } = gate.verdict.clone()
        {
            record.overrides.push(DataLossOverride {
                accepted_ms,
                unbounded,
                by: options.operator.clone(),
                at: now_rfc3339(),
                reason: options.reason.clone(),
                gate: gate.clone(),
            });
        }
        record.rpo = Some(gate);
    }
    if let Some(fork) = out.fork {
        record.fork = Some(fork);
    }
    let s = record
        .steps
        .iter_mut()
        .find(|s| s.id == out.id)
        .expect("outcome of a journal step");
    s.status = out.status;
    s.attempts += out.attempts;
    s.ended_ms = Some(at_ms);
    s.acting_ms = out.time.map(|t| t.acting_ms);
    s.waiting_ms = out.time.map(|t| t.waiting_ms);
    s.outcome = Some(out.outcome.clone());
    info!(execution_id = %record.id, step = %s.id, status = ?s.status, elapsed_ms = s.duration_ms(), outcome = %out.outcome, "step ended");
    emit(Event::StepFinished {
        id: out.id.clone(),
        status: out.status,
        at_ms,
        outcome: out.outcome,
    });
    if out.status == StepStatus::Failed {
        block_dependants(record, &out.id, emit, at_ms);
    }
}

/// Marks every step that depends, directly or not, on `failed` as not run.
fn block_dependants(record: &mut ExecutionRecord, failed: &str, emit: &impl Fn(Event), at_ms: u64) {
    let mut blocked: BTreeSet<String> = BTreeSet::from([failed.to_string()]);
    loop {
        let next: Vec<usize> = record
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.status == StepStatus::Pending && s.after.iter().any(|d| blocked.contains(d))
            })
            .map(|(i, _)| i)
            .collect();
        if next.is_empty() {
            return;
        }
        for i in next {
            let s = &mut record.steps[i];
            s.status = StepStatus::NotRun;
            // The status already says "not run".
            let outcome = format!("{failed} failed");
            s.outcome = Some(outcome.clone());
            blocked.insert(s.id.clone());
            emit(Event::StepFinished {
                id: s.id.clone(),
                status: StepStatus::NotRun,
                at_ms,
                outcome,
            });
        }
    }
}

fn conclude(record: &mut ExecutionRecord) {
    let failed: Vec<&StepRecord> = record
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .collect();
    let (status, summary) = match failed.first() {
        None => (
            ExecutionStatus::Completed,
            any_plan::completed_summary(&record.plan),
        ),
        Some(s)
            if matches!(
                s.kind,
                StepKind::Preflight | StepKind::PreflightReprotect | StepKind::PreflightFailback
            ) =>
        {
            (
                ExecutionStatus::PreflightFailed,
                format!("nothing changed: {}", s.outcome.clone().unwrap_or_default()),
            )
        }
        Some(s) if s.kind == StepKind::RpoGate => (
            ExecutionStatus::Refused,
            // The status already says it was refused.
            match &record.rpo {
                Some(gate) if !gate.allows() => format!("nothing changed: {}", gate.refusal()),
                _ => format!("nothing changed: {}", s.outcome.clone().unwrap_or_default()),
            },
        ),
        Some(_) => {
            let names: Vec<&str> = failed.iter().map(|s| s.id.as_str()).collect();
            // The first failure's own sentence says why (for a step this
            // site's policy lacks: that the policies differ).
            let why = failed[0]
                .outcome
                .as_deref()
                .map(|o| format!(" ({}: {o})", failed[0].id))
                .unwrap_or_default();
            (
                ExecutionStatus::Failed,
                format!(
                    "{} stopped: {} failed{why}",
                    record.plan.kind.name(),
                    names.join(", ")
                ),
            )
        }
    };
    record.status = status;
    record.summary = Some(summary);
}

#[cfg(test)]
mod quiesce_fake;
#[cfg(test)]
mod quiesce_tests;
#[cfg(test)]
mod restore_cycle_tests;
#[cfg(test)]
mod tests;
