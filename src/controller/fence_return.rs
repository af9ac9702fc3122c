//! The leader fences the old primary of a finished failover once the
//! region left answers again, without an operator: every
//! [`RETRY_EVERY`] it tries each pending fence once, under an epoch from
//! the log, and records the result (see `execute::fence_return`).

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use super::journal::propose;
use super::Context;
use crate::cloud::Cloud;
use crate::consensus::{Command, Reply};
use crate::execute::fence_return::{try_fence, FenceOldPrimary, RETRY_EVERY};
use crate::execute::{now_rfc3339 as now, StepStatus};
use crate::model::Fence;

/// The leader's pending fences: one task at a time, tried every
/// [`RETRY_EVERY`].
#[derive(Default)]
pub(super) struct FenceReturns {
    last: Option<Instant>,
    task: Option<JoinHandle<()>>,
}

impl FenceReturns {
    /// Starts a round of tries when one is due and none is running.
    pub(super) fn tick<C: Cloud + 'static>(&mut self, ctx: &Context, cloud: &Arc<C>) {
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        if self.last.is_some_and(|t| t.elapsed() < RETRY_EVERY) {
            return;
        }
        let open = open_fences(ctx);
        if open.is_empty() {
            return;
        }
        self.last = Some(Instant::now());
        let (ctx, cloud) = (ctx.clone(), cloud.clone());
        self.task = Some(crate::clock::spawn(async move {
            for (execution_id, policy, state) in open {
                fence_one(&ctx, &*cloud, &execution_id, &policy, state).await;
            }
        }));
    }

    /// Stops a round in flight (this node no longer leads).
    pub(super) fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.last = None;
    }
}

/// Every finished execution whose old primary is still to be fenced: the
/// latest of each policy.
fn open_fences(ctx: &Context) -> Vec<(String, String, FenceOldPrimary)> {
    let a = ctx.applied.read().expect("state lock");
    ctx.policies
        .keys()
        .filter_map(|name| a.state.latest(name))
        .filter(|e| e.record.status.is_finished())
        .filter_map(|e| {
            let f = e.record.fence_old_primary.clone()?;
            f.is_open()
                .then(|| (e.record.id.clone(), e.record.policy.clone(), f))
        })
        .collect()
}

async fn fence_one<C: Cloud>(
    ctx: &Context,
    cloud: &C,
    execution_id: &str,
    policy: &str,
    mut state: FenceOldPrimary,
) {
    // The policy as the failover read it: its old primary is that one's.
    let execution = {
        let a = ctx.applied.read().expect("state lock");
        a.state.executions.get(execution_id).cloned()
    };
    let Some(policy) = execution
        .and_then(|e| ctx.execution_policy(&e))
        .or_else(|| ctx.policies.get(policy).cloned())
    else {
        return;
    };
    let mut intent = state.clone();
    intent.status = StepStatus::Running;
    let cmd = Command::FenceOldPrimary {
        execution_id: execution_id.to_string(),
        state: intent,
        at: now(),
    };
    let epoch = match propose(ctx, cmd).await {
        Ok(Reply::Epoch { epoch }) => epoch,
        Ok(other) => {
            warn!(execution_id, reply = ?other, "fence of the old primary refused");
            return;
        }
        Err(error) => {
            warn!(execution_id, %error, "fence of the old primary not committed");
            return;
        }
    };
    let fence = Fence {
        execution_id: execution_id.to_string(),
        epoch,
    };
    try_fence(cloud, &policy, &fence, &mut state, now()).await;
    if state.is_open() {
        info!(
            execution_id,
            waiting_for = state.waiting_for.as_deref().unwrap_or(""),
            "old primary not fenced yet"
        );
    } else {
        warn!(execution_id, outcome = %state.outcome.join("; "), "old primary fenced");
    }
    let cmd = Command::FenceOldPrimary {
        execution_id: execution_id.to_string(),
        state,
        at: now(),
    };
    if let Err(error) = propose(ctx, cmd).await {
        warn!(execution_id, %error, "result of the fence not committed");
    }
}
