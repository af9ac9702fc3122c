//! The failback plan: the planned switchover home, with zero data loss,
//! then the reprotect in the other direction. Pure.
//!
//! The policy given is the policy *as oriented now* (after a reprotect:
//! reversed), so its primary region is active and its secondary region
//! holds the replicas. The DAG: `preflight-failback` → `quiesce-writers` →
//! `drain` → the failover's tier steps (`promote-database`,
//! `scale-node-group:*`, `failover-cache`, `switch-stream`, `flip-dns`) →
//! `lift-quiesce` on the new primary's side → `rename-old-primary` →
//! the reprotect's replica steps → `wait-replication` → `switch-roles` →
//! `verify`. A quiesce whose promotion fails is undone by the executor
//! (`undo-quiesce`), so the platform always has a writer.

use serde::{Deserialize, Serialize};

use super::reprotect::{self, CacheChoice};
use super::rpo::Acceptance;
use super::{Action, ExecutionKind, Plan, Step, StepKind};
use crate::cloud::fenced_identifier;
use crate::model::{Orientation, Protection};
use crate::policy::Policy;

/// What the replicated state and the operator say when a failback is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// How the policy is read now.
    pub orientation: Orientation,
    /// The protection now: a failback starts only when protected.
    pub protection: Protection,
    /// How many reprotects finished before (see [`reprotect::Context`]).
    pub reprotects: u32,
    /// The failback's execution id: names the old primary once renamed.
    pub execution_id: String,
    /// The last failover's divergence report, when it was not empty: that
    /// failover's execution id.
    pub divergence: Option<String>,
    /// `--divergence-reviewed EXECUTION`, as given.
    pub divergence_reviewed: Option<String>,
    /// `--accept-data-loss`, as for a failover.
    pub accept: Acceptance,
}

impl Context {
    /// A failback's context after the policy as written failed over and
    /// was reprotected once (us-west-2 active and protected), with no
    /// divergence to review and no loss accepted: what a plan printout or
    /// a rehearsal of the failback starts from.
    pub fn after_one_reprotect(execution_id: &str) -> Self {
        Self {
            orientation: Orientation::Reversed,
            protection: Protection::Protected,
            reprotects: 1,
            execution_id: execution_id.to_string(),
            divergence: None,
            divergence_reviewed: None,
            accept: Acceptance::default(),
        }
    }
}

/// The observed state a failback is planned from: the failover's view of
/// the replica side and the reprotect's view of both regions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The replica side, as a failover reads it (exposures included).
    pub failover: super::Observed,
    /// Both regions, as a reprotect reads them.
    pub regions: reprotect::Observed,
}

/// Builds the failback plan. Pure: the same inputs give the same plan.
pub fn build(policy: &Policy, observed: &Observed, ctx: &Context) -> Plan {
    let active = policy.regions.primary.clone();
    let home = policy.regions.secondary.clone();
    let over = super::build(policy, &observed.failover, ctx.accept.clone());
    let mut steps: Vec<Step> = Vec::new();
    let push = reprotect::push;
    push(
        policy,
        &mut steps,
        "preflight-failback",
        StepKind::PreflightFailback,
        vec![],
        Action::PreflightFailback,
        format!(
            "check that the platform is protected, the divergence reviewed and the replicas in \
             {home} caught up"
        ),
        false,
    );
    let fenced = policy
        .fencing
        .as_ref()
        .map(|f| f.methods().join("; "))
        .unwrap_or_default();
    push(
        policy,
        &mut steps,
        "quiesce-writers",
        StepKind::QuiesceWriters,
        vec!["preflight-failback".into()],
        Action::QuiesceWriters {
            region: active.clone(),
        },
        format!("stop the application's writes in {active} ({fenced})"),
        false,
    );
    let drain = policy.failback.drain_timeout;
    push(
        policy,
        &mut steps,
        "drain",
        StepKind::Drain,
        vec!["quiesce-writers".into()],
        Action::Drain {
            timeout_s: drain.as_secs(),
        },
        format!(
            "wait until the replicas in {home} hold the last heartbeat written before the \
             quiesce (exposure 0), at most {}",
            crate::duration::fmt(drain)
        ),
        false,
    );
    for mut s in over.steps {
        if matches!(
            s.kind,
            StepKind::Preflight | StepKind::RpoGate | StepKind::Verify | StepKind::LiftQuiesce
        ) {
            continue;
        }
        for a in &mut s.after {
            if a == "rpo-gate" {
                *a = "drain".into();
            }
        }
        s.already_done = false;
        steps.push(s);
    }
    let has = |steps: &[Step], id: &str| steps.iter().any(|s| s.id == id);
    // The writers come back as soon as the database at home took the
    // writes: the cache may still be failing over, but neither of its
    // members takes a write meanwhile (the old primary's users are
    // quiesced, a secondary refuses writes), and a cache failover that
    // fails then leaves the platform with its database writer.
    let lift_after: Vec<String> = ["promote-database", "failover-cache"]
        .into_iter()
        .find(|id| has(&steps, id))
        .map(str::to_string)
        .into_iter()
        .collect();
    push(
        policy,
        &mut steps,
        "lift-quiesce",
        StepKind::LiftQuiesce,
        if lift_after.is_empty() {
            vec!["drain".into()]
        } else {
            lift_after
        },
        Action::LiftQuiesce {
            region: home.clone(),
        },
        format!("give the application its writes back in {home}, the new primary's side only"),
        false,
    );
    if let Some(db) = &policy.tiers.database {
        let renamed = fenced_identifier(&db.primary, &ctx.execution_id);
        push(
            policy,
            &mut steps,
            "rename-old-primary",
            StepKind::RenameOldPrimary,
            vec!["lift-quiesce".into()],
            Action::RenameOldPrimary {
                region: active.clone(),
                id: db.primary.clone(),
                renamed: renamed.clone(),
            },
            format!(
                "rename the old primary {} in {active} to {renamed} (kept, fenced) so that its \
                 replica can take the name",
                db.primary
            ),
            false,
        );
    }
    let cache = policy.tiers.cache.as_ref().map(|c| CacheChoice {
        global_datastore: Some(c.global_datastore.clone()),
        suffix: format!("{}-r{}", c.global_datastore, ctx.reprotects + 1),
        member: c.primary_member.clone(),
        done: false,
    });
    let after = |kind| match kind {
        StepKind::CreateReplicaDatabase => vec!["rename-old-primary".to_string()],
        StepKind::AddCacheSecondary => vec!["failover-cache".to_string()],
        _ => vec!["switch-stream".to_string()],
    };
    let member = cache.as_ref().map(|c| c.member.clone());
    let made = reprotect::replica_steps(policy, &observed.regions, cache, &mut steps, after);
    let tail = reprotect::Context {
        orientation: ctx.orientation,
        protection: Protection::Unprotected,
        reprotects: ctx.reprotects,
    };
    reprotect::finish(policy, &observed.regions, &tail, &mut steps, (made, member));
    let mut verify_after: Vec<String> = vec!["switch-roles".into()];
    if has(&steps, "flip-dns") {
        verify_after.push("flip-dns".into());
    }
    verify_after.extend(
        steps
            .iter()
            .filter(|s| s.kind == StepKind::ScaleNodeGroup)
            .map(|s| s.id.clone()),
    );
    push(
        policy,
        &mut steps,
        "verify",
        StepKind::Verify,
        verify_after,
        Action::Verify,
        format!("re-check every postcondition with traffic on {home}"),
        false,
    );
    let mut problems = preflight(policy, ctx);
    problems.extend(over.preflight_problems);
    if !over.rpo.allows() {
        problems.push(format!(
            "the replicas in {home} are behind: {}; wait until they catch up, or name the loss \
             with --accept-data-loss",
            over.rpo.refusal()
        ));
    }
    Plan {
        kind: ExecutionKind::Failback,
        policy: policy.name.clone(),
        from_region: active,
        to_region: home,
        preflight_problems: problems,
        steps,
        rpo: over.rpo,
    }
}

/// The failback's own preflight problems (the failover's and the RPO
/// gate's are added by [`build`]), each saying what to do.
pub fn preflight(policy: &Policy, ctx: &Context) -> Vec<String> {
    let mut out: Vec<String> = policy
        .oriented(ctx.orientation)
        .orientation_gaps()
        .into_iter()
        .map(|g| format!("the policy lacks {g}"))
        .collect();
    if ctx.protection != Protection::Protected {
        out.push(format!(
            "the platform is {}: a failback starts only from a reprotected state; run \
             `drctl reprotect --confirm` first",
            ctx.protection
        ));
    }
    if policy.fencing.is_none() {
        out.push(
            "the policy has no fencing section: a failback quiesces the writers with its \
             methods; add fencing (runbooks/fencing.md)"
                .to_string(),
        );
    }
    if let Some(id) = &ctx.divergence {
        if ctx.divergence_reviewed.as_deref() != Some(id.as_str()) {
            out.push(format!(
                "the divergence report of failover {id} is not empty: read it \
                 (`drctl divergence {id}`), then confirm with --divergence-reviewed {id}"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
