//! Readiness on the controllers: every `readiness.interval` the leader
//! evaluates each policy's readiness (the same read-only checks as
//! `drctl check`) and records the result through raft, so that every node
//! serves the newest one (`GET /v1/status`, `drctl_readiness{check}`) and
//! a change of verdict lands in the audit log. Followers only wait.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::journal::propose;
use super::Context;
use crate::cloud::{Capacity, Cloud, Permissions};
use crate::consensus::state::Command;
use crate::consensus::Reply;
use crate::policy::Policy;
use crate::probe::now_ms;
use crate::readiness::{evaluate_with, Inputs, Readiness, SiteBeat};

/// Starts one readiness loop per policy.
pub(super) fn spawn<C: Cloud + Capacity + Permissions + 'static>(
    ctx: &Context,
    cloud: Arc<C>,
) -> Vec<JoinHandle<()>> {
    ctx.policies
        .values()
        .map(|p| tokio::spawn(run(ctx.clone(), cloud.clone(), p.clone())))
        .collect()
}

async fn run<C: Cloud + Capacity + Permissions + 'static>(
    ctx: Context,
    cloud: Arc<C>,
    policy: Arc<Policy>,
) {
    // The first evaluation waits one interval: a node that just started
    // has heard no site's round yet, and would report stale heartbeats.
    let every = policy.readiness.interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        tick.tick().await;
        if ctx.leader().map(|(id, _)| id) != Some(ctx.id) {
            continue;
        }
        // Every read is bounded (the policy's call timeout); this bounds
        // the whole in case many are slow.
        let Ok(r) = tokio::time::timeout(every, evaluate_now(&ctx, &cloud, &policy)).await else {
            warn!(policy = %policy.name, "readiness evaluation took longer than its interval");
            continue;
        };
        if last != Some(r.verdict) {
            info!(policy = %policy.name, verdict = ?r.verdict, "readiness evaluated");
            last = Some(r.verdict);
        }
        ctx.readiness_verdict(&policy.name, r.failing());
        let cmd = Command::Readiness {
            result: Box::new(r),
        };
        match propose(&ctx, cmd).await {
            Ok(Reply::Ok) => {}
            Ok(other) => warn!(policy = %policy.name, reply = ?other, "readiness not recorded"),
            Err(e) => warn!(policy = %policy.name, error = %e, "readiness not recorded"),
        }
    }
}

/// One evaluation with what this node knows: every site's newest round,
/// the policy's kept executions, and exposure as its RPO gate measures it.
pub(super) async fn evaluate_now<C: Cloud + Capacity + Permissions + 'static>(
    ctx: &Context,
    cloud: &Arc<C>,
    policy: &Policy,
) -> Readiness {
    let sites: Vec<SiteBeat> = {
        let d = ctx.detection.read().expect("detection lock");
        ctx.sites()
            .into_iter()
            .map(|site| SiteBeat {
                last_at_ms: d
                    .rounds
                    .get(&policy.name)
                    .and_then(|s| s.get(&site))
                    .and_then(|r| r.back())
                    .map(|o| o.at_ms),
                site,
            })
            .collect()
    };
    let history: Vec<_> = {
        let a = ctx.applied.read().expect("state lock");
        a.state
            .executions
            .values()
            .filter(|e| e.record.policy == policy.name)
            .map(|e| e.record.clone())
            .collect()
    };
    let inputs = Inputs {
        sites: Some(sites),
        now_ms: now_ms(),
        history: &history,
        ..Inputs::default()
    };
    // Exposure from the same source as the RPO gate on this node.
    let exposures = super::measured::Measured {
        inner: cloud.clone(),
        ctx: ctx.clone(),
    };
    evaluate_with(&**cloud, &exposures, policy, &inputs).await
}
