//! The cache step: fail the Global Datastore over to the DR member, or,
//! when the primary region cannot take part, disassociate the DR member so
//! that it serves writes on its own.
//!
//! FailoverGlobalReplicationGroup needs the primary region to take part;
//! DisassociateGlobalReplicationGroup of the DR member does not (it becomes
//! a standalone replication group). The step tries the failover for
//! `tiers.cache.failover_timeout`; after that, with
//! `when_primary_region_down: disassociate` (the default), it disassociates
//! and journals the decision with its reason. Its postcondition is the DR
//! member serving writes, whichever way it got there.

use tokio::time::Instant;

use super::journal::StepStatus;
use super::retry::{with_retry, Budget};
use super::run_step::{destination, retry_note};
use super::steps::postcondition;
use crate::cloud::{Cloud, ErrorKind};
use crate::duration;
use crate::model::Fence;
use crate::plan::{Action, Step};
use crate::policy::{Policy, WhenPrimaryDown};

/// The longest wait between two failover attempts that were refused.
const REFUSED_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(15);

/// How the cache step ended.
pub(super) struct CacheOutcome {
    pub status: StepStatus,
    pub attempts: u32,
    pub outcome: String,
    pub decision: Option<String>,
}

/// Runs the cache step to its end. `begun` is how long ago the step first
/// started by its journal: a step run again after a restart or a takeover
/// goes on with its failover timeout (and step timeout) where the earlier
/// runs left them, instead of starting them afresh each time (so that a
/// leader whose runs keep being interrupted still reaches the fallback).
pub(super) async fn converge<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    (step, begun): (&Step, std::time::Duration),
    fence: &Fence,
    notes: &(dyn Fn(String) + Send + Sync),
    clock: &super::phase_clock::PhaseClock,
) -> CacheOutcome {
    let Action::FailoverCache {
        global_datastore,
        region,
        member,
    } = &step.action
    else {
        unreachable!("the cache step runs only failover-cache actions");
    };
    let tier = policy
        .tiers
        .cache
        .as_ref()
        .expect("a failover-cache step implies a cache tier");
    let settings = &policy.execution;
    let what = destination(step);
    let budget = Budget::step(settings.call_timeout);
    let end = |status, attempts, outcome: String, decision| CacheOutcome {
        status,
        attempts,
        outcome,
        decision,
    };
    let holds = || postcondition(cloud, policy, &step.action, None);
    match with_retry(budget, &what, holds, |e, a| notes(retry_note(&what, e, a))).await {
        Ok(true) => {
            return end(
                StepStatus::AlreadyDone,
                0,
                "postcondition already held; no call made".into(),
                None,
            )
        }
        Ok(false) => {}
        Err(e) => return end(StepStatus::Failed, 0, format!("check failed: {e}"), None),
    }
    clock.begin();
    let now = Instant::now();
    let started = now.checked_sub(begun).unwrap_or(now);
    let step_deadline = started + settings.step_timeout;
    let give_up = match tier.when_primary_region_down {
        WhenPrimaryDown::Disassociate => started + tier.failover_timeout,
        WhenPrimaryDown::Wait => step_deadline,
    };
    let mut attempts = 0;
    let mut last_error = None;
    let mut accepted = false;
    // Phase one: the failover, bounded by the failover timeout. A call that
    // does not answer, or is refused, is retried until then.
    while Instant::now() < give_up {
        if let Ok(true) = holds().await {
            let waited = duration::fmt(started.elapsed());
            return end(
                StepStatus::Done,
                attempts,
                format!("verified after waiting {waited}"),
                None,
            );
        }
        if accepted {
            tokio::time::sleep(settings.poll_interval).await;
            continue;
        }
        attempts += 1;
        let call =
            clock.acting(cloud.ensure_primary_member(global_datastore, region, member, fence));
        match tokio::time::timeout(settings.call_timeout, call).await {
            Ok(Ok(())) => accepted = true,
            // Not found, access denied, an invalid parameter: no waiting or
            // disassociating fixes those.
            Ok(Err(e)) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Fatal) => {
                return end(
                    StepStatus::Failed,
                    attempts,
                    format!("acting failed: {e}"),
                    None,
                )
            }
            Ok(Err(e)) => {
                notes(format!("waiting for {what}: {}", e.message));
                last_error = Some(e.message);
            }
            Err(_) => {
                let msg = format!(
                    "FailoverGlobalReplicationGroup got no answer for {}",
                    duration::fmt(settings.call_timeout)
                );
                notes(format!("waiting for {what}: {msg}"));
                last_error = Some(msg);
            }
        }
        // A refused failover is asked again less and less often (up to
        // every 15 s), so that a datastore that cannot fail over does not
        // spend the region's ElastiCache API rate on it.
        let refused = attempts.saturating_sub(u32::from(accepted));
        let wait = settings
            .poll_interval
            .saturating_mul(1 << refused.min(4))
            .min(REFUSED_WAIT_MAX)
            .max(settings.poll_interval);
        tokio::time::sleep(wait).await;
    }
    if tier.when_primary_region_down == WhenPrimaryDown::Wait {
        let why = last_error.unwrap_or_else(|| "the failover did not complete".into());
        return end(
            StepStatus::Failed,
            attempts,
            format!(
                "timed out after {} (execution.step_timeout): {why}",
                duration::fmt(settings.step_timeout)
            ),
            None,
        );
    }
    // Phase two: the primary region could not take part in time.
    let why = last_error.unwrap_or_else(|| {
        format!(
            "the failover did not complete within {}",
            duration::fmt(tier.failover_timeout)
        )
    });
    let decision = format!(
        "{} could not take part in the failover of Global Datastore {global_datastore} within {} \
         (tiers.cache.failover_timeout): {why}; disassociated {member} in {region}, which now \
         serves writes as a standalone replication group (reprotect rebuilds the Global Datastore)",
        policy.regions.primary,
        duration::fmt(tier.failover_timeout),
    );
    tracing::warn!(execution_id = %fence.execution_id, decision = %decision, "cache fallback");
    notes(decision.clone());
    let disassociated = with_retry(
        budget,
        &what,
        || clock.acting(cloud.ensure_disassociated(global_datastore, region, member, fence)),
        |e, a| notes(retry_note(&what, e, a)),
    )
    .await;
    attempts += 1;
    if let Err(e) = disassociated {
        return end(
            StepStatus::Failed,
            attempts,
            format!("disassociating {member} failed: {e}"),
            Some(decision),
        );
    }
    loop {
        if let Ok(true) = holds().await {
            let waited = duration::fmt(started.elapsed());
            return end(
                StepStatus::Done,
                attempts,
                format!("disassociated; {member} serves writes, verified after waiting {waited}"),
                Some(decision),
            );
        }
        if Instant::now() >= step_deadline {
            return end(
                StepStatus::Failed,
                attempts,
                format!(
                    "timed out: {member} does not serve writes after {} (execution.step_timeout)",
                    duration::fmt(settings.step_timeout)
                ),
                Some(decision),
            );
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}
