//! DR resources and data-loss exposure, judged exactly as a failover
//! started now would judge them: from the plan built on the same reads,
//! its preflight problems and its RPO gate's evaluation; plus what only
//! readiness reads (`dr_health.rs`): the replica replicating, the MSK
//! Replicator running, the DR load balancer's targets healthy.
//!
//! After a failover (the active region is the DR region) the resources
//! are judged as they now are: the promoted database is standalone and
//! primary, as expected, and the sentence says the platform is
//! unprotected until it is reprotected.

use super::{Check, Status};
use crate::cloud::{DatabaseState, DrHealth};
use crate::model::Exposure;
use crate::plan::{Observed, Plan, Seen};
use crate::policy::Policy;

/// Every DR resource exists and is in a state a failover can start from.
pub const RESOURCES: &str = "dr-resources";
/// Each data tier's exposure against the RPO.
pub const EXPOSURE: &str = "exposure";

/// The resources check and the exposure check; `active` is the region
/// serving traffic now.
pub(super) async fn checks<C: DrHealth>(
    cloud: &C,
    policy: &Policy,
    plan: &Plan,
    observed: &Observed,
    active: &str,
) -> Vec<Check> {
    let failed_over = active == policy.regions.secondary;
    let mut fails = plan.preflight_problems.clone();
    if !failed_over {
        fails.extend(replica_not_replicating(policy, observed));
    }
    let (mut more_fails, warns) = super::dr_health::problems(cloud, policy, failed_over).await;
    fails.append(&mut more_fails);
    vec![
        resources(policy, &fails, &warns, failed_over),
        exposure(policy, plan),
    ]
}

/// While the primary region is active, a replica that is standalone
/// holds none of the primary's newer writes.
fn replica_not_replicating(policy: &Policy, observed: &Observed) -> Option<String> {
    let db = policy.tiers.database.as_ref()?;
    let Some(Seen::Present(DatabaseState {
        replica_source: None,
        ..
    })) = &observed.database
    else {
        return None;
    };
    Some(format!(
        "RDS instance {} in {} is standalone, not replicating from {}: it receives none of \
         the primary's writes; recreate it as a read replica",
        db.replica, policy.regions.secondary, db.primary
    ))
}

fn resources(policy: &Policy, fails: &[String], warns: &[String], failed_over: bool) -> Check {
    let dr = &policy.regions.secondary;
    let (status, mut sentence) = if !fails.is_empty() {
        let stop = if failed_over {
            format!("fix these in {dr}, which serves traffic now")
        } else {
            format!(
                "a failover would stop at preflight or serve errors: fix these in {dr} \
                 (see runbooks/failover.md)"
            )
        };
        let all: Vec<&str> = fails.iter().chain(warns).map(String::as_str).collect();
        (Status::Fail, format!("{}; {stop}", all.join("; ")))
    } else if !warns.is_empty() {
        (
            Status::Warn,
            format!(
                "{}; look at them before a failover relies on them",
                warns.join("; ")
            ),
        )
    } else if failed_over {
        (
            Status::Warn,
            format!("every resource in {dr} is in the state a failover leaves it in"),
        )
    } else {
        (
            Status::Pass,
            format!("every DR resource in {dr} exists and is in a state a failover can start from"),
        )
    };
    if failed_over {
        sentence.push_str(&format!(
            "; the platform runs in {dr} after a failover and is unprotected until reprotected \
             (runbooks/failover.md, \"After a failover\")"
        ));
    }
    Check::new(RESOURCES, status, sentence)
}

fn exposure(policy: &Policy, plan: &Plan) -> Check {
    let rpo = policy.rpo;
    let rpo_text = crate::duration::fmt(rpo);
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut fine = Vec::new();
    for t in plan.rpo.tiers.iter().filter(|t| !t.already_failed_over) {
        let source = t.source.as_deref().unwrap_or("unknown source");
        match t.exposure {
            Exposure::Unknown => fails.push(format!(
                "{} exposure cannot be measured ({source}); the RPO gate would refuse",
                t.tier
            )),
            Exposure::Known(d) if d > rpo => fails.push(format!(
                "{} exposure {} is above the RPO of {rpo_text} ({source})",
                t.tier,
                crate::duration::fmt(d)
            )),
            Exposure::Known(d) if d * 2 > rpo => warns.push(format!(
                "{} exposure {} is over half the RPO of {rpo_text} ({source})",
                t.tier,
                crate::duration::fmt(d)
            )),
            Exposure::Known(d) => fine.push(format!("{} {}", t.tier, crate::duration::fmt(d))),
        }
    }
    if !fails.is_empty() {
        let sentence = format!(
            "{}; a failover now would be refused at the RPO gate unless the loss is accepted: \
             find why replication lags (runbooks/rpo-gate.md)",
            fails.join("; ")
        );
        return Check::new(EXPOSURE, Status::Fail, sentence);
    }
    if !warns.is_empty() {
        let sentence = format!(
            "{}; watch replication before it reaches the RPO",
            warns.join("; ")
        );
        return Check::new(EXPOSURE, Status::Warn, sentence);
    }
    let sentence = if fine.is_empty() {
        "no data tier is left to fail over".to_string()
    } else {
        format!("within the RPO of {rpo_text}: {}", fine.join(", "))
    };
    Check::new(EXPOSURE, Status::Pass, sentence)
}
