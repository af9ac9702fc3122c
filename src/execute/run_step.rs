//! One step, run to its end: check → act → verify, or a check-only step.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info_span, Instrument};

use super::journal::StepStatus;
use super::observe::{observe, observe_scope, Scope};
use super::phase_clock::{PhaseClock, StepTime};
use super::retry::{with_retry, Attempt, Budget};
use super::steps::{act, attempt_limit, postcondition, wait_bound};
use crate::cloud::{ChangeId, Cloud, CloudError, ErrorKind, ExposureSource};
use crate::duration;
use crate::model::Fence;
use crate::plan::{self, preflight, Acceptance, Action, RpoEvaluation, Step};
use crate::policy::Policy;

/// What a running step tells the executor before it ends.
#[derive(Debug)]
pub(super) enum StepMsg {
    /// The step acted and got a change to wait for: journal it now, so a
    /// resumed run waits for this change instead of making another.
    Acted { id: String, change_id: String },
    /// A call failed and will be retried.
    Retry { id: String, error: String },
    /// A quiesce fenced writers whose state the servers do not keep (the
    /// ElastiCache access strings from before): journal them now, for the
    /// lift or undo of `region` to restore.
    Fenced {
        region: String,
        restore: super::quiesce::Restore,
    },
}

/// How a step ended.
#[derive(Debug)]
pub(super) struct StepOutcome {
    pub id: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub outcome: String,
    /// The RPO gate's evaluation, from the gate step.
    pub rpo: Option<RpoEvaluation>,
    /// A choice the step made on its own (a fallback), with why.
    pub decision: Option<String>,
    /// The replicas' positions, from the gate step when it allows.
    pub fork: Option<super::fork::ForkPositions>,
    /// Acting versus waiting, for a step that acted.
    pub time: Option<StepTime>,
    /// The roles a `switch-roles` step switches to, committed by the
    /// executor through its journal before the step is done.
    pub roles: Option<crate::model::SwitchedRoles>,
}

impl StepOutcome {
    /// A step that failed before or without acting, with why.
    pub fn failed(id: &str, outcome: String) -> Self {
        Self {
            id: id.to_string(),
            status: StepStatus::Failed,
            attempts: 0,
            outcome,
            rpo: None,
            decision: None,
            fork: None,
            time: None,
            roles: None,
        }
    }
}

/// What a step needs besides its cloud.
pub(super) struct StepContext {
    pub policy: Arc<Policy>,
    pub exposures: Arc<dyn ExposureSource>,
    pub accept: Acceptance,
    pub tx: mpsc::UnboundedSender<StepMsg>,
    pub primary_controller: super::PrimaryController,
    /// When the step first started, Unix milliseconds (journaled; kept
    /// across restarts and takeovers).
    pub first_started_at_ms: u64,
    /// Whether the gate reads the replicas' positions from the policy's
    /// heartbeat targets (only against real servers).
    pub record_fork: bool,
    /// For a lift or an undo: what this execution's quiesce of the step's
    /// region recorded (journaled), for its unfence to restore.
    pub writer_restore: super::quiesce::Restore,
}

pub(super) async fn run_step<C: Cloud>(
    cloud: Arc<C>,
    ctx: StepContext,
    step: Step,
    change: Option<ChangeId>,
    fence: Fence,
) -> StepOutcome {
    let span = info_span!("step", step = %step.id, execution_id = %fence.execution_id);
    let cloud = cloud.as_ref();
    let policy = ctx.policy.clone();
    let exposures = ctx.exposures.as_ref();
    let out = |status, attempts, outcome: String| StepOutcome {
        id: step.id.clone(),
        status,
        attempts,
        outcome,
        rpo: None,
        decision: None,
        fork: None,
        time: None,
        roles: None,
    };
    let tx = ctx.tx.clone();
    let id = step.id.clone();
    let notes = move |note: String| {
        let _ = tx.send(StepMsg::Retry {
            id: id.clone(),
            error: note,
        });
    };
    async {
        match &step.action {
            // A failback's own conditions (protected, divergence reviewed)
            // were checked on the replicated state when it was planned; at
            // run time it checks, as a failover does, that the side it
            // moves to is ready.
            Action::Preflight | Action::PreflightFailback => {
                let observed = Box::pin(observe(cloud, exposures, &policy, &notes)).await;
                let problems = preflight(&policy, &observed);
                if problems.is_empty() {
                    out(
                        StepStatus::Done,
                        0,
                        format!("DR side in {} is ready", policy.regions.secondary),
                    )
                } else {
                    out(StepStatus::Failed, 0, problems.join("; "))
                }
            }
            Action::RpoGate => {
                let lease =
                    super::lease::wait_for_lease(&policy, ctx.primary_controller, &notes).await;
                let observed = Box::pin(observe_scope(
                    cloud,
                    exposures,
                    &policy,
                    Scope::DataTiers,
                    &notes,
                ))
                .await;
                let mut gate = plan::rpo::evaluate(
                    policy.rpo,
                    plan::tier_exposures(&policy, &observed),
                    &ctx.accept,
                );
                gate.basis = lease.basis;
                let status = if gate.allows() {
                    StepStatus::Done
                } else {
                    StepStatus::Failed
                };
                // Right before promotion: where each replica stands.
                let fork = match gate.allows() && ctx.record_fork {
                    true => Box::pin(super::fork::record(&policy)).await,
                    false => None,
                };
                StepOutcome {
                    rpo: Some(gate.clone()),
                    decision: lease.decision,
                    fork,
                    ..out(status, 0, gate.to_string())
                }
            }
            a @ Action::PreflightReprotect => {
                match Box::pin(super::reprotect_steps::check(cloud, exposures, &policy, a)).await {
                    Ok(m) => out(StepStatus::Done, 0, m),
                    Err(e) => out(StepStatus::Failed, 0, e),
                }
            }
            a @ Action::SwitchRoles { .. } => {
                match Box::pin(super::reprotect_steps::switch_roles(cloud, &policy, a)).await {
                    Ok((m, roles)) => StepOutcome {
                        roles: Some(roles),
                        ..out(StepStatus::Done, 0, m)
                    },
                    Err(e) => out(StepStatus::Failed, 0, e),
                }
            }
            Action::Drain { timeout_s } => {
                // At most the drain timeout, and never past the write pause
                // the policy allows, counted from the drain's first start
                // (a resumed failback does not start the count again).
                let begun = std::time::Duration::from_millis(
                    crate::clock::now_ms().saturating_sub(ctx.first_started_at_ms),
                );
                let bound = std::time::Duration::from_secs(*timeout_s)
                    .min(policy.failback.max_write_pause)
                    .saturating_sub(begun);
                match Box::pin(super::quiesce::drain(exposures, &policy, bound)).await {
                    Ok(m) => out(StepStatus::Done, 0, m),
                    Err(e) => out(StepStatus::Failed, 0, e),
                }
            }
            Action::Verify => Box::pin(verify_all(cloud, exposures, &policy, &notes))
                .await
                .map_or_else(
                    |e| out(StepStatus::Failed, 0, e),
                    |m| out(StepStatus::Done, 0, m),
                ),
            Action::FailoverCache { .. } => {
                let clock = PhaseClock::default();
                let begun = std::time::Duration::from_millis(
                    crate::clock::now_ms().saturating_sub(ctx.first_started_at_ms),
                );
                let c = Box::pin(super::cache_step::converge(
                    cloud,
                    &policy,
                    (&step, begun),
                    &fence,
                    &notes,
                    &clock,
                ))
                .await;
                StepOutcome {
                    decision: c.decision,
                    time: clock.split(),
                    ..out(c.status, c.attempts, c.outcome)
                }
            }
            action => {
                let clock = PhaseClock::default();
                let restore = super::quiesce::StepRestore {
                    given: ctx.writer_restore.clone(),
                    ..Default::default()
                };
                let (status, attempts, outcome) = Box::pin(converge(
                    cloud,
                    &policy,
                    &step,
                    (action, &restore),
                    change,
                    &fence,
                    (&ctx.tx, &clock),
                ))
                .await;
                StepOutcome {
                    time: clock.split(),
                    ..out(status, attempts, outcome)
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Where a step's calls go, for progress: its first call site.
pub(super) fn destination(step: &Step) -> String {
    step.calls.first().map_or_else(
        || step.id.clone(),
        |c| format!("{}.{}", c.service, c.region),
    )
}

/// The progress note of a failed attempt that will be retried.
pub(super) fn retry_note(what: &str, e: &CloudError, a: Attempt) -> String {
    format!(
        "waiting for {what}: {} ({}); attempt {} of {}, next in {}",
        e.message,
        e.op,
        a.number,
        a.of,
        duration::fmt(a.delay)
    )
}

/// check → act → verify for one mutating step; `clock` splits the time
/// from the first call on into acting and waiting.
async fn converge<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    step: &Step,
    (action, restore): (&Action, &super::quiesce::StepRestore),
    previous: Option<ChangeId>,
    fence: &Fence,
    (tx, clock): (&mpsc::UnboundedSender<StepMsg>, &PhaseClock),
) -> (StepStatus, u32, String) {
    let what = destination(step);
    let note = |text: String| {
        let _ = tx.send(StepMsg::Retry {
            id: step.id.clone(),
            error: text,
        });
    };
    let on_retry = |e: &CloudError, a: Attempt| note(retry_note(&what, e, a));
    let settings = &policy.execution;
    let budget = Budget::step(attempt_limit(policy, action));
    let check = with_retry(
        budget,
        &what,
        || postcondition(cloud, policy, action, previous.as_ref()),
        on_retry,
    )
    .await;
    match check {
        Ok(true) => {
            return (
                StepStatus::AlreadyDone,
                0,
                "postcondition already held; no call made".into(),
            )
        }
        Ok(false) => {}
        Err(e) => return (StepStatus::Failed, 0, format!("check failed: {e}")),
    }
    clock.begin();
    let started = Instant::now();
    let deadline = started + settings.step_timeout;
    let attempts = AtomicU32::new(0);
    let act_once = || {
        with_retry(
            budget,
            &what,
            || {
                attempts.fetch_add(1, Ordering::Relaxed);
                clock.acting(act(cloud, policy, action, fence, restore))
            },
            on_retry,
        )
    };
    // A resource busy with something that ends by itself (a replica
    // `backing-up`) answers Conflict: wait for it, within the step's
    // timeout, and act once it can be acted on.
    let acted = loop {
        match act_once().await {
            Err(e) if e.kind == ErrorKind::Conflict && Instant::now() < deadline => {
                note(format!("waiting for {what}: {}", e.message));
                tokio::time::sleep(settings.poll_interval).await;
            }
            other => break other,
        }
    };
    // Journaled even when the step fails later: the writers stay fenced
    // and only these strings give them back.
    let recorded = restore.recorded();
    if let (Some((region, true)), false) = (super::quiesce::target(action), recorded.is_empty()) {
        let _ = tx.send(StepMsg::Fenced {
            region: region.to_string(),
            restore: recorded,
        });
    }
    let change = match acted {
        Ok(change) => change.or(previous),
        Err(e) => {
            let n = attempts.load(Ordering::Relaxed);
            return (
                StepStatus::Failed,
                n,
                format!("acting failed after {n} attempt(s): {e}"),
            );
        }
    };
    if let Some(c) = &change {
        let _ = tx.send(StepMsg::Acted {
            id: step.id.clone(),
            change_id: c.0.clone(),
        });
    }
    let bound = wait_bound(policy, action);
    let deadline = Instant::now() + bound;
    let waiting = Instant::now();
    loop {
        match postcondition(cloud, policy, action, change.as_ref()).await {
            Ok(true) => {
                let waited = duration::fmt(waiting.elapsed());
                return (
                    StepStatus::Done,
                    attempts.into_inner(),
                    format!("verified after waiting {waited}"),
                );
            }
            Ok(false) => {
                // Never assume a change that was not seen: a replica that
                // is available and still a replica was not promoted (or the
                // promotion was lost), so ask again.
                if needs_acting_again(cloud, action).await {
                    note(format!(
                        "{what}: the replica is still a replica; promoting again"
                    ));
                    if let Err(e) = act_once().await {
                        if e.kind != ErrorKind::Conflict {
                            let n = attempts.into_inner();
                            return (
                                StepStatus::Failed,
                                n,
                                format!("acting failed after {n} attempt(s): {e}"),
                            );
                        }
                    }
                }
            }
            Err(e) if e.kind.is_retryable() => note(format!("waiting for {what}: {e}")),
            Err(e) => {
                return (
                    StepStatus::Failed,
                    attempts.into_inner(),
                    format!("verify failed: {e}"),
                )
            }
        }
        if Instant::now() >= deadline {
            let what = match (&change, action) {
                (Some(c), _) => format!("change {c} not INSYNC"),
                (
                    None,
                    Action::FlipDns {
                        routing: Some(_),
                        record,
                        ..
                    },
                ) => format!(
                    "{} does not answer with the DR target (TTL + {} margin)",
                    record.name,
                    duration::fmt(super::steps::DNS_MARGIN)
                ),
                (
                    None,
                    Action::SwitchStream {
                        routing: Some(_),
                        name,
                        ..
                    },
                ) => format!(
                    "{name} does not answer with the DR bootstrap brokers (TTL + {} margin)",
                    duration::fmt(super::steps::DNS_MARGIN)
                ),
                _ => "postcondition not reached".to_string(),
            };
            return (
                StepStatus::Failed,
                attempts.into_inner(),
                format!("timed out: {what} after {}", duration::fmt(bound)),
            );
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

/// Whether a step that acted must act again: a database replica that is
/// available and still replicating was not promoted.
async fn needs_acting_again<C: Cloud>(cloud: &C, action: &Action) -> bool {
    let Action::PromoteDatabase { region, replica } = action else {
        return false;
    };
    matches!(
        cloud.get_database(region, replica).await,
        Ok(Some(db)) if db.replica_source.is_some() && db.is_available()
    )
}

/// The final check: every mutating step's postcondition holds now.
async fn verify_all<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
    notes: super::observe::Notes<'_>,
) -> Result<String, String> {
    let observed = observe(cloud, exposures, policy, notes).await;
    let plan = plan::build(policy, &observed, Acceptance::default());
    let pending: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind.mutates() && !s.already_done)
        .map(|s| s.id.as_str())
        .collect();
    if pending.is_empty() {
        let n = plan.steps.iter().filter(|s| s.kind.mutates()).count();
        Ok(format!(
            "all {n} postconditions hold with traffic on {}",
            policy.regions.secondary
        ))
    } else {
        Err(format!(
            "postconditions not holding: {}",
            pending.join(", ")
        ))
    }
}
