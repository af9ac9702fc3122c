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
use crate::clock::now_ms;
use crate::cloud::{Capacity, Cloud, DrHealth, Permissions};
use crate::consensus::state::{ClusterState, Command};
use crate::consensus::Reply;
use crate::policy::Policy;
use crate::readiness::{evaluate_with, Inputs, Readiness, SiteBeat};

/// Starts one readiness loop per policy.
pub(super) fn spawn<C: Cloud + Capacity + Permissions + DrHealth + 'static>(
    ctx: &Context,
    cloud: Arc<C>,
) -> Vec<JoinHandle<()>> {
    ctx.policies
        .values()
        .map(|p| crate::clock::spawn(run(ctx.clone(), cloud.clone(), p.clone())))
        .collect()
}

async fn run<C: Cloud + Capacity + Permissions + DrHealth + 'static>(
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
        // The policy as the replicated roles read it now: after a
        // reprotect, readiness judges the region that protects the other.
        let policy = ctx.policy(&policy.name).unwrap_or_else(|| policy.clone());
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

/// The region serving `policy`'s traffic as the replicated state says:
/// the region the last completed execution moved it to, else the primary
/// (as `GET /v1/status` shows it).
pub(super) fn active_region(state: &ClusterState, policy: &Policy) -> String {
    state
        .policies
        .get(&policy.name)
        .and_then(|p| p.active_region.clone())
        .unwrap_or_else(|| policy.regions.primary.clone())
}

/// The replicated summaries of `policy`'s finished runs, oldest first:
/// every one the state keeps (up to [`crate::history::HISTORY_KEPT`]), the
/// same list `GET /v1/history` answers, rather than the few full records
/// it keeps for the journal.
pub(super) fn history_of(state: &ClusterState, policy: &Policy) -> Vec<crate::history::RunSummary> {
    state
        .runs
        .get(&policy.name)
        .map(|runs| runs.iter().cloned().collect())
        .unwrap_or_default()
}

/// One evaluation with what this node knows: every site's newest round,
/// the policy's replicated run summaries, and exposure as its RPO gate
/// measures it.
pub(super) async fn evaluate_now<C: Cloud + Capacity + Permissions + DrHealth + 'static>(
    ctx: &Context,
    cloud: &Arc<C>,
    policy: &Policy,
) -> Readiness {
    let sites: Vec<SiteBeat> = {
        let d = ctx.detection.read().expect("detection lock");
        ctx.sites()
            .into_iter()
            .map(|site| {
                let last_at_ms = d
                    .rounds
                    .get(&policy.name)
                    .and_then(|s| s.get(&site))
                    .and_then(|r| r.back())
                    .map(|o| o.at_ms);
                let received_at_ms = d
                    .received
                    .get(&policy.name)
                    .and_then(|s| s.get(&site))
                    .filter(|(at, _)| Some(*at) == last_at_ms)
                    .map(|(_, received)| *received);
                SiteBeat {
                    site,
                    last_at_ms,
                    received_at_ms,
                }
            })
            .collect()
    };
    let (history, active) = {
        let a = ctx.applied.read().expect("state lock");
        (
            history_of(&a.state, policy),
            active_region(&a.state, policy),
        )
    };
    let inputs = Inputs {
        sites: Some(sites),
        active_region: Some(active),
        now_ms: now_ms(),
        history: &history,
        witness_role: policy.readiness.witness_role_arn.clone(),
        ..Inputs::default()
    };
    // Exposure from the same source as the RPO gate on this node.
    let exposures = super::measured::Measured {
        inner: cloud.clone(),
        ctx: ctx.clone(),
    };
    evaluate_with(&**cloud, &exposures, policy, &inputs).await
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::consensus::state::Execution;
    use crate::execute::{execute, ExecutionStatus, MemoryJournal, RunOptions};
    use crate::readiness::{evaluate, Status};

    #[tokio::test(start_paused = true)]
    async fn after_a_completed_failover_traffic_is_judged_against_the_dr_region() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
        let policy = Arc::new(crate::policy::load(&path).unwrap());
        let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
        let mut journal = MemoryJournal::default();
        let record = execute(
            sim.clone(),
            policy.clone(),
            &mut journal,
            RunOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(record.status, ExecutionStatus::Completed);
        let mut state = ClusterState::default();
        assert_eq!(active_region(&state, &policy), "us-east-1");
        let mut started = record.clone();
        started.status = ExecutionStatus::Running;
        let start = Command::Start {
            execution: Box::new(Execution {
                record: started,
                owner_term: 1,
                requested_by: "alice".into(),
                reason: None,
                accept_data_loss_ms: None,
                accept_unknown: Vec::new(),
                placement: None,
                orientation: Default::default(),
                names: Default::default(),
            }),
            at: "t".into(),
        };
        assert_eq!(state.apply(start, 1, 5), Reply::Ok);
        let save = Command::save(&record, "t".into());
        assert_eq!(state.apply(save, 1, 6), Reply::Ok);
        let active = active_region(&state, &policy);
        assert_eq!(active, "us-west-2");

        let traffic = |r: &Readiness| {
            ["routing-control", "dns"].map(|c| {
                let c = r.check(c).unwrap();
                (c.status, c.sentence.clone())
            })
        };
        let now = Inputs {
            active_region: Some(active),
            ..Inputs::default()
        };
        for (status, sentence) in traffic(&evaluate(&*sim, &policy, &now).await) {
            assert_eq!(status, Status::Pass, "{sentence}");
            assert!(sentence.contains("us-west-2"), "{sentence}");
        }
        // Judged against the primary, the same world fails both.
        let stale = Inputs::default();
        for (status, sentence) in traffic(&evaluate(&*sim, &policy, &stale).await) {
            assert_eq!(status, Status::Fail, "{sentence}");
            assert!(sentence.contains("us-east-1"), "{sentence}");
        }
    }

    #[test]
    fn the_prediction_rests_on_every_replicated_summary() {
        use crate::history::{RunSummary, StepTiming, HISTORY_KEPT};
        use crate::plan::{Acceptance, Observed};
        use crate::readiness::predict_rto;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
        let policy = crate::policy::load(&path).unwrap();
        let plan = crate::plan::build(&policy, &Observed::default(), Acceptance::default());
        let mut state = ClusterState::default();
        let modeled = predict_rto(&plan, &policy, &history_of(&state, &policy));
        assert!(modeled.basis.contains("latency model"), "{}", modeled.basis);
        // More summaries than the state keeps full records of, and no full
        // record at all: each step took `i` seconds in run `i`.
        let runs = crate::consensus::state::EXECUTIONS_KEPT + 5;
        for i in 1..=runs as u64 {
            let steps = plan
                .steps
                .iter()
                .map(|s| StepTiming {
                    id: s.id.clone(),
                    kind: s.kind,
                    status: crate::execute::StepStatus::Done,
                    attempts: 1,
                    duration_ms: Some(i * 1000),
                    acting_ms: None,
                    waiting_ms: None,
                })
                .collect();
            state
                .runs
                .entry(policy.name.clone())
                .or_default()
                .push_back(RunSummary {
                    id: format!("run-{i}"),
                    policy: policy.name.clone(),
                    started_at: String::new(),
                    status: ExecutionStatus::Completed,
                    time_basis: Default::default(),
                    rto_ms: None,
                    phases: Default::default(),
                    detected: None,
                    steps,
                });
        }
        assert!(state.executions.is_empty());
        let history = history_of(&state, &policy);
        assert_eq!(history.len(), runs.min(HISTORY_KEPT));
        let p = predict_rto(&plan, &policy, &history);
        assert!(
            p.basis.starts_with(&format!("{runs} past executions")),
            "{}",
            p.basis
        );
        // Five steps on the longest path, each at the median of 1..=25 s.
        assert_eq!(p.p50_ms, 5 * 13_000, "{p:?}");
        assert_ne!(p, modeled);
    }
}
