//! One step, run to its end: check → act → verify, or a check-only step.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info_span, Instrument};

use super::journal::StepStatus;
use super::observe::{observe, observe_scope, Scope};
use super::retry::with_retry;
use super::steps::{act, postcondition};
use crate::cloud::{ChangeId, Cloud, Fence};
use crate::duration;
use crate::plan::{self, preflight, Action, RpoEvaluation, Step};
use crate::policy::Policy;

/// What a running step tells the executor before it ends.
#[derive(Debug)]
pub(super) enum StepMsg {
    /// The step acted and got a change to wait for: journal it now, so a
    /// resumed run waits for this change instead of making another.
    Acted { id: String, change_id: String },
    /// A call failed and will be retried.
    Retry { id: String, error: String },
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
}

pub(super) async fn run_step<C: Cloud>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    step: Step,
    change: Option<ChangeId>,
    fence: Fence,
    accept: Option<Duration>,
    tx: mpsc::UnboundedSender<StepMsg>,
) -> StepOutcome {
    let span = info_span!("step", step = %step.id, execution_id = %fence.execution_id);
    let cloud = cloud.as_ref();
    let out = |status, attempts, outcome: String| StepOutcome {
        id: step.id.clone(),
        status,
        attempts,
        outcome,
        rpo: None,
    };
    async {
        match &step.action {
            Action::Preflight => {
                let problems = preflight(&policy, &observe(cloud, &policy).await);
                if problems.is_empty() {
                    out(
                        StepStatus::Done,
                        0,
                        format!("DR side in {} is ready", policy.regions.secondary),
                    )
                } else {
                    out(
                        StepStatus::Failed,
                        0,
                        format!("preflight failed: {}", problems.join("; ")),
                    )
                }
            }
            Action::RpoGate => {
                let observed = observe_scope(cloud, &policy, Scope::DataTiers).await;
                let gate = plan::rpo::evaluate(
                    policy.rpo,
                    plan::tier_exposures(&policy, &observed),
                    accept,
                );
                let status = if gate.allows() {
                    StepStatus::Done
                } else {
                    StepStatus::Failed
                };
                StepOutcome {
                    rpo: Some(gate.clone()),
                    ..out(status, 0, gate.to_string())
                }
            }
            Action::Verify => verify_all(cloud, &policy).await.map_or_else(
                |e| out(StepStatus::Failed, 0, e),
                |m| out(StepStatus::Done, 0, m),
            ),
            action => {
                let (status, attempts, outcome) =
                    converge(cloud, &policy, &step, action, change, &fence, &tx).await;
                out(status, attempts, outcome)
            }
        }
    }
    .instrument(span)
    .await
}

/// check → act → verify for one mutating step.
async fn converge<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    step: &Step,
    action: &Action,
    previous: Option<ChangeId>,
    fence: &Fence,
    tx: &mpsc::UnboundedSender<StepMsg>,
) -> (StepStatus, u32, String) {
    let retry_note = |e: &crate::cloud::CloudError, d: Duration| {
        let error = format!("{e}; retrying in {}", duration::fmt(d));
        let _ = tx.send(StepMsg::Retry {
            id: step.id.clone(),
            error,
        });
    };
    let check = with_retry(
        || postcondition(cloud, policy, action, previous.as_ref()),
        retry_note,
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
    let attempts = AtomicU32::new(0);
    let acted = with_retry(
        || {
            attempts.fetch_add(1, Ordering::Relaxed);
            act(cloud, policy, action, fence)
        },
        retry_note,
    )
    .await;
    let attempts = attempts.into_inner();
    let change = match acted {
        Ok(change) => change.or(previous),
        Err(e) => {
            return (
                StepStatus::Failed,
                attempts,
                format!("act failed after {attempts} attempt(s): {e}"),
            )
        }
    };
    if let Some(c) = &change {
        let _ = tx.send(StepMsg::Acted {
            id: step.id.clone(),
            change_id: c.0.clone(),
        });
    }
    let settings = &policy.execution;
    let deadline = Instant::now() + settings.step_timeout;
    let started = Instant::now();
    loop {
        match postcondition(cloud, policy, action, change.as_ref()).await {
            Ok(true) => {
                let waited = duration::fmt(started.elapsed());
                return (
                    StepStatus::Done,
                    attempts,
                    format!("done; verified after waiting {waited}"),
                );
            }
            Ok(false) => {}
            Err(e) if e.kind.is_retryable() => retry_note(&e, settings.poll_interval),
            Err(e) => return (StepStatus::Failed, attempts, format!("verify failed: {e}")),
        }
        if Instant::now() >= deadline {
            let what = match &change {
                Some(c) => format!("change {c} not INSYNC"),
                None => "postcondition not reached".to_string(),
            };
            let limit = duration::fmt(settings.step_timeout);
            return (
                StepStatus::Failed,
                attempts,
                format!("timed out: {what} after {limit} (execution.step_timeout)"),
            );
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

/// The final check: every mutating step's postcondition holds now.
async fn verify_all<C: Cloud>(cloud: &C, policy: &Policy) -> Result<String, String> {
    let observed = observe(cloud, policy).await;
    let plan = plan::build(policy, &observed, None);
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
