//! DR resources and data-loss exposure, judged exactly as a failover
//! started now would judge them: from the plan built on the same reads,
//! its preflight problems and its RPO gate's evaluation.

use super::{Check, Status};
use crate::cloud::Exposure;
use crate::plan::Plan;
use crate::policy::Policy;

/// Every DR resource exists and is in a state a failover can start from.
pub const RESOURCES: &str = "dr-resources";
/// Each data tier's exposure against the RPO.
pub const EXPOSURE: &str = "exposure";

/// The resources check and the exposure check.
pub(super) fn checks(policy: &Policy, plan: &Plan) -> Vec<Check> {
    vec![resources(policy, plan), exposure(policy, plan)]
}

fn resources(policy: &Policy, plan: &Plan) -> Check {
    if plan.preflight_problems.is_empty() {
        return Check::new(
            RESOURCES,
            Status::Pass,
            format!(
                "every DR resource in {} exists and is in a state a failover can start from",
                policy.regions.secondary
            ),
        );
    }
    Check::new(
        RESOURCES,
        Status::Fail,
        format!(
            "{}; a failover would stop at preflight: fix these in {} (see runbooks/failover.md)",
            plan.preflight_problems.join("; "),
            policy.regions.secondary
        ),
    )
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
