//! The executing role holds every permission the plan needs: exactly the
//! IAM actions of the plan's steps, asked of IAM's policy simulator. And
//! the witness's role, when named, holds none of the plan's writes: the
//! witness only breaks ties, and a witness that could write could act.

use super::{Check, Status};
use crate::cloud::Permissions;
use crate::model::Op;
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
            vec![Op::GetRoutingControlState.as_str()]
        } else {
            vec![
                Op::ListHostedZonesByName.as_str(),
                Op::ListResourceRecordSets.as_str(),
            ]
        }
    };
    let switch = |s: &TrafficSwitch| route(matches!(s, TrafficSwitch::RoutingControl(_)));
    let mut out = Vec::new();
    match action {
        Action::Preflight | Action::Verify | Action::RpoGate => {
            if t.database.is_some() {
                out.push(Op::DescribeDbInstances.as_str());
            }
            if t.node_groups.is_some() && !matches!(action, Action::RpoGate) {
                out.push(Op::DescribeNodegroup.as_str());
            }
            if t.cache.is_some() {
                out.push(Op::DescribeGlobalReplicationGroups.as_str());
                out.push(Op::DescribeReplicationGroups.as_str());
            }
            if let Some(s) = &t.stream {
                out.extend([
                    Op::ListClustersV2.as_str(),
                    Op::GetBootstrapBrokers.as_str(),
                ]);
                out.extend(switch(&s.switch));
            }
            if let Some(d) = t
                .dns
                .as_ref()
                .filter(|_| !matches!(action, Action::RpoGate))
            {
                out.extend(switch(&d.switch));
            }
            out.push(Op::GetMetricData.as_str());
        }
        Action::PromoteDatabase { .. } => {
            out.extend([
                Op::DescribeDbInstances.as_str(),
                Op::PromoteReadReplica.as_str(),
            ]);
        }
        Action::ScaleNodeGroup { .. } => {
            out.extend([
                Op::DescribeNodegroup.as_str(),
                Op::UpdateNodegroupConfig.as_str(),
            ]);
        }
        Action::FailoverCache { .. } => {
            out.extend([
                Op::DescribeGlobalReplicationGroups.as_str(),
                Op::DescribeReplicationGroups.as_str(),
                Op::FailoverGlobalReplicationGroup.as_str(),
            ]);
            let disassociates = t
                .cache
                .as_ref()
                .is_some_and(|c| c.when_primary_region_down == WhenPrimaryDown::Disassociate);
            if disassociates {
                out.push(Op::DisassociateGlobalReplicationGroup.as_str());
            }
        }
        Action::PreflightReprotect
        | Action::PreflightFailback
        | Action::WaitReplication
        | Action::Drain { .. }
        | Action::SwitchRoles { .. } => {
            if t.database.is_some() {
                out.push(Op::DescribeDbInstances.as_str());
            }
            if t.node_groups.is_some() {
                out.push(Op::DescribeNodegroup.as_str());
            }
            if t.cache.is_some() {
                out.push(Op::DescribeGlobalReplicationGroups.as_str());
                out.push(Op::DescribeReplicationGroups.as_str());
            }
            if t.stream.is_some() {
                out.extend([
                    Op::ListClustersV2.as_str(),
                    Op::ListReplicators.as_str(),
                    Op::DescribeReplicator.as_str(),
                ]);
            }
            out.push(Op::GetMetricData.as_str());
        }
        Action::CreateReplicaDatabase { .. } => {
            out.extend(create_ops::DATABASE.iter().map(|o| o.as_str()));
        }
        Action::AddCacheSecondary { .. } => {
            out.extend(create_ops::CACHE.iter().map(|o| o.as_str()));
        }
        Action::CreateReverseReplicator { .. } => {
            out.extend(create_ops::STREAM.iter().map(|o| o.as_str()));
        }
        Action::QuiesceWriters { .. } | Action::LiftQuiesce { .. } | Action::UndoQuiesce { .. } => {
            let rbac = policy
                .fencing
                .as_ref()
                .and_then(|f| f.cache.as_ref())
                .is_some_and(|c| c.method == crate::policy::CacheFenceMethod::ElasticacheUser);
            if rbac {
                out.extend([Op::DescribeUsers.as_str(), Op::ModifyUser.as_str()]);
            }
        }
        Action::RenameOldPrimary { .. } => {
            out.extend([
                Op::DescribeDbInstances.as_str(),
                Op::AddTagsToResource.as_str(),
                Op::ModifyDbInstance.as_str(),
            ]);
        }
        Action::SwitchStream { routing, .. } | Action::FlipDns { routing, .. } => {
            if matches!(action, Action::SwitchStream { .. }) {
                out.extend([
                    Op::ListClustersV2.as_str(),
                    Op::GetBootstrapBrokers.as_str(),
                ]);
            }
            if routing.is_some() {
                out.extend([
                    Op::GetRoutingControlState.as_str(),
                    Op::UpdateRoutingControlStates.as_str(),
                ]);
            } else {
                out.extend([
                    Op::ListHostedZonesByName.as_str(),
                    Op::ListResourceRecordSets.as_str(),
                    Op::ChangeResourceRecordSets.as_str(),
                    Op::GetChange.as_str(),
                ]);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The calls of the reprotect steps that create the standby region's
/// replicas.
mod create_ops {
    use crate::model::Op;

    /// Creating the database replica.
    pub(super) const DATABASE: &[Op] = &[Op::DescribeDbInstances];
    /// Adding the cache member (and a Global Datastore).
    pub(super) const CACHE: &[Op] = &[
        Op::DescribeGlobalReplicationGroups,
        Op::DescribeReplicationGroups,
    ];
    /// Creating the reverse replicator.
    pub(super) const STREAM: &[Op] = &[
        Op::ListClustersV2,
        Op::ListReplicators,
        Op::DescribeReplicator,
    ];
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

/// The plan's actions that change something (every IAM action whose verb
/// is not a read: `Describe*`, `Get*`, `List*`), sorted.
pub fn mutating_actions(policy: &Policy, plan: &Plan) -> Vec<String> {
    iam_actions(policy, plan)
        .into_iter()
        .filter(|a| {
            let verb = a.split_once(':').map_or(a.as_str(), |(_, v)| v);
            !["Describe", "Get", "List"]
                .iter()
                .any(|read| verb.starts_with(read))
        })
        .collect()
}

/// Asks IAM's simulator about every action of the plan for the executing
/// role, and about the plan's writes for the witness's role `witness`.
pub(super) async fn check<C: Permissions>(
    cloud: &C,
    policy: &Policy,
    plan: &Plan,
    witness: Option<&str>,
) -> Check {
    let (executing, witness) = tokio::join!(
        executing_role(cloud, policy, plan),
        witness_role(cloud, policy, plan, witness),
    );
    let status = executing.0.max(witness.0);
    Check::new(
        PERMISSIONS,
        status,
        format!("{}; {}", executing.1, witness.1),
    )
}

async fn executing_role<C: Permissions>(
    cloud: &C,
    policy: &Policy,
    plan: &Plan,
) -> (Status, String) {
    let actions = iam_actions(policy, plan);
    let simulated = cloud.simulate_actions(&actions);
    match super::bounded(policy, Op::SimulatePrincipalPolicy, simulated).await {
        Ok(s) if s.denied.is_empty() => (
            Status::Pass,
            format!(
                "{} may call every one of the {} IAM actions the plan needs",
                s.principal,
                actions.len()
            ),
        ),
        Ok(s) => {
            let denied: Vec<String> = s.denied.iter().map(|(a, d)| format!("{a} ({d})")).collect();
            (
                Status::Fail,
                format!(
                    "{} may not call {}: the failover would stop at the step that needs it; \
                     grant it in the role's IAM policy",
                    s.principal,
                    denied.join(", ")
                ),
            )
        }
        Err(e) => (
            Status::Warn,
            format!(
                "the role's permissions could not be simulated: {}; allow \
                 iam:SimulatePrincipalPolicy on it to have them checked",
                e.message
            ),
        ),
    }
}

async fn witness_role<C: Permissions>(
    cloud: &C,
    policy: &Policy,
    plan: &Plan,
    witness: Option<&str>,
) -> (Status, String) {
    let Some(witness) = witness else {
        return (
            Status::Pass,
            "the witness role is not checked: name it with --witness-role-arn to confirm it \
             cannot make the plan's writes"
                .to_string(),
        );
    };
    let writes = mutating_actions(policy, plan);
    let simulated = cloud.simulate_actions_for(witness, &writes);
    match super::bounded(policy, Op::SimulatePrincipalPolicy, simulated).await {
        Ok(s) => {
            let allowed: Vec<&str> = writes
                .iter()
                .filter(|w| !s.denied.iter().any(|(a, _)| a == *w))
                .map(String::as_str)
                .collect();
            if allowed.is_empty() {
                (
                    Status::Pass,
                    format!(
                        "the witness role {witness} may call none of the plan's {} writes",
                        writes.len()
                    ),
                )
            } else {
                (
                    Status::Fail,
                    format!(
                        "the witness role {witness} can call {}; a witness must be read-only: \
                         remove these from its IAM policy",
                        allowed.join(", ")
                    ),
                )
            }
        }
        Err(e) => (
            Status::Warn,
            format!(
                "the witness role {witness}'s permissions could not be simulated: {}",
                e.message
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped policy and its plan on a platform observed as nothing.
    fn shipped() -> (Policy, Plan) {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        let plan = crate::plan::build(
            &policy,
            &crate::plan::Observed::default(),
            Default::default(),
        );
        (policy, plan)
    }

    #[test]
    fn the_plan_of_the_shipped_policy_needs_its_writes_and_no_route53_api() {
        let (policy, plan) = shipped();
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

    #[test]
    fn the_writes_of_the_shipped_plan_are_its_mutating_calls_only() {
        let (policy, plan) = shipped();
        assert_eq!(
            mutating_actions(&policy, &plan),
            [
                "eks:UpdateNodegroupConfig",
                "elasticache:DisassociateGlobalReplicationGroup",
                "elasticache:FailoverGlobalReplicationGroup",
                "rds:PromoteReadReplica",
                "route53-recovery-cluster:UpdateRoutingControlStates",
            ]
        );
    }
}
