//! The executing role holds every permission the plan needs: exactly the
//! IAM actions of the plan's steps, asked of IAM's policy simulator.

use super::{Check, Status};
use crate::cloud::Permissions;
use crate::plan::{Action, Plan};
use crate::policy::{Policy, TrafficSwitch, WhenPrimaryDown};

/// The executing role may make every call of the plan.
pub const PERMISSIONS: &str = "permissions";

/// The IAM actions `action` calls under `policy` (reads and writes, as the
/// AWS adapters make them), sorted and without repeats.
fn of(policy: &Policy, action: &Action) -> Vec<&'static str> {
    let t = &policy.tiers;
    let route = |routing: bool| -> Vec<&'static str> {
        if routing {
            vec!["route53-recovery-cluster:GetRoutingControlState"]
        } else {
            vec![
                "route53:ListHostedZonesByName",
                "route53:ListResourceRecordSets",
            ]
        }
    };
    let switch = |s: &TrafficSwitch| route(matches!(s, TrafficSwitch::RoutingControl(_)));
    let mut out = Vec::new();
    match action {
        Action::Preflight | Action::Verify | Action::RpoGate => {
            if t.database.is_some() {
                out.push("rds:DescribeDBInstances");
            }
            if t.node_groups.is_some() && !matches!(action, Action::RpoGate) {
                out.push("eks:DescribeNodegroup");
            }
            if t.cache.is_some() {
                out.push("elasticache:DescribeGlobalReplicationGroups");
                out.push("elasticache:DescribeReplicationGroups");
            }
            if let Some(s) = &t.stream {
                out.extend(["kafka:ListClustersV2", "kafka:GetBootstrapBrokers"]);
                out.extend(switch(&s.switch));
            }
            if let Some(d) = t
                .dns
                .as_ref()
                .filter(|_| !matches!(action, Action::RpoGate))
            {
                out.extend(switch(&d.switch));
            }
            out.push("cloudwatch:GetMetricData");
        }
        Action::PromoteDatabase { .. } => {
            out.extend(["rds:DescribeDBInstances", "rds:PromoteReadReplica"]);
        }
        Action::ScaleNodeGroup { .. } => {
            out.extend(["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"]);
        }
        Action::FailoverCache { .. } => {
            out.extend([
                "elasticache:DescribeGlobalReplicationGroups",
                "elasticache:DescribeReplicationGroups",
                "elasticache:FailoverGlobalReplicationGroup",
            ]);
            let disassociates = t
                .cache
                .as_ref()
                .is_some_and(|c| c.when_primary_region_down == WhenPrimaryDown::Disassociate);
            if disassociates {
                out.push("elasticache:DisassociateGlobalReplicationGroup");
            }
        }
        Action::SwitchStream { routing, .. } | Action::FlipDns { routing, .. } => {
            if matches!(action, Action::SwitchStream { .. }) {
                out.extend(["kafka:ListClustersV2", "kafka:GetBootstrapBrokers"]);
            }
            if routing.is_some() {
                out.extend([
                    "route53-recovery-cluster:GetRoutingControlState",
                    "route53-recovery-cluster:UpdateRoutingControlStates",
                ]);
            } else {
                out.extend([
                    "route53:ListHostedZonesByName",
                    "route53:ListResourceRecordSets",
                    "route53:ChangeResourceRecordSets",
                    "route53:GetChange",
                ]);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Every IAM action the plan's steps call, sorted, without repeats.
pub fn iam_actions(policy: &Policy, plan: &Plan) -> Vec<String> {
    let mut all: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|s| of(policy, &s.action))
        .map(str::to_string)
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Asks IAM's simulator about every action of the plan.
pub(super) async fn check<C: Permissions>(cloud: &C, policy: &Policy, plan: &Plan) -> Check {
    let actions = iam_actions(policy, plan);
    let simulated = cloud.simulate_actions(&actions);
    match super::bounded(
        policy,
        crate::cloud::OP_SIMULATE_PRINCIPAL_POLICY,
        simulated,
    )
    .await
    {
        Ok(s) if s.denied.is_empty() => Check::new(
            PERMISSIONS,
            Status::Pass,
            format!(
                "{} may call every one of the {} IAM actions the plan needs",
                s.principal,
                actions.len()
            ),
        ),
        Ok(s) => {
            let denied: Vec<String> = s.denied.iter().map(|(a, d)| format!("{a} ({d})")).collect();
            Check::new(
                PERMISSIONS,
                Status::Fail,
                format!(
                    "{} may not call {}: the failover would stop at the step that needs it; \
                     grant it in the role's IAM policy",
                    s.principal,
                    denied.join(", ")
                ),
            )
        }
        Err(e) => Check::new(
            PERMISSIONS,
            Status::Warn,
            format!(
                "the role's permissions could not be simulated: {}; allow \
                 iam:SimulatePrincipalPolicy on it to have them checked",
                e.message
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_of_the_shipped_policy_needs_its_writes_and_no_route53_api() {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        let plan = crate::plan::build(
            &policy,
            &crate::plan::Observed::default(),
            Default::default(),
        );
        let actions = iam_actions(&policy, &plan);
        for want in [
            "rds:PromoteReadReplica",
            "eks:UpdateNodegroupConfig",
            "elasticache:FailoverGlobalReplicationGroup",
            "elasticache:DisassociateGlobalReplicationGroup",
            "route53-recovery-cluster:UpdateRoutingControlStates",
            "cloudwatch:GetMetricData",
        ] {
            assert!(
                actions.contains(&want.to_string()),
                "{want} missing from {actions:?}"
            );
        }
        assert!(
            !actions.iter().any(|a| a.starts_with("route53:")),
            "routing-control mode needs no Route 53 API: {actions:?}"
        );
    }
}
