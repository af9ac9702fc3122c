//! Capacity for the scale-up: each DR node group's maximum allows its
//! target size, and the DR region's vCPU quota leaves room for the nodes
//! the failover adds.

use futures::future::join_all;

use super::{Check, Status};
use crate::cloud::{Capacity, Cloud, VCPU_QUOTA_CODE};
use crate::model::Op;
use crate::plan::{Observed, Seen};
use crate::policy::Policy;

/// Node-group maxima allow the target sizes.
pub const NODE_GROUPS: &str = "node-group-capacity";
/// The DR region's EC2 vCPU quota leaves room for the scale-up.
pub const VCPU_QUOTA: &str = "vcpu-quota";

/// The node-group check and the quota check.
pub(super) async fn checks<C: Cloud + Capacity>(
    cloud: &C,
    policy: &Policy,
    observed: &Observed,
) -> Vec<Check> {
    vec![
        maxima(policy, observed),
        quota(cloud, policy, observed).await,
    ]
}

fn maxima(policy: &Policy, observed: &Observed) -> Check {
    let Some(ng) = &policy.tiers.node_groups else {
        return Check::new(NODE_GROUPS, Status::Pass, "the policy scales no node group");
    };
    let to = &policy.regions.secondary;
    let mut low = Vec::new();
    let mut unread = Vec::new();
    for g in &ng.groups {
        match observed.node_groups.get(&g.name).and_then(Seen::present) {
            Some(s) if s.scaling.max < g.scaling.max => low.push(format!(
                "node group {} of {} in {to} allows at most {} nodes, below the target of {} \
                 (desired {}): raise its maximum to {} now (aws eks update-nodegroup-config \
                 --scaling-config maxSize={}), so that the failover does not have to",
                g.name,
                ng.cluster,
                s.scaling.max,
                g.scaling.max,
                g.scaling.desired,
                g.scaling.max,
                g.scaling.max
            )),
            Some(_) => {}
            None => unread.push(g.name.clone()),
        }
    }
    if !low.is_empty() {
        return Check::new(NODE_GROUPS, Status::Fail, low.join("; "));
    }
    if !unread.is_empty() {
        return Check::new(
            NODE_GROUPS,
            Status::Warn,
            format!(
                "node groups {} could not be read, so their maxima are unknown (see {})",
                unread.join(", "),
                super::resources::RESOURCES
            ),
        );
    }
    let sizes: Vec<String> = ng
        .groups
        .iter()
        .map(|g| format!("{} {}", g.name, g.scaling))
        .collect();
    Check::new(
        NODE_GROUPS,
        Status::Pass,
        format!(
            "every DR node group's maximum allows its target: {}",
            sizes.join(", ")
        ),
    )
}

/// The vCPUs the scale-up adds: for each group, the nodes from its
/// current desired size to the target's, times one node's vCPUs.
async fn needed<C: Capacity>(
    cloud: &C,
    policy: &Policy,
    observed: &Observed,
) -> Result<u64, String> {
    let Some(ng) = &policy.tiers.node_groups else {
        return Ok(0);
    };
    let to = &policy.regions.secondary;
    let reads = ng.groups.iter().map(|g| async move {
        let now = observed
            .node_groups
            .get(&g.name)
            .and_then(Seen::present)
            .map_or(0, |s| s.scaling.desired);
        let adds = u64::from(g.scaling.desired.saturating_sub(now));
        if adds == 0 {
            return Ok(0);
        }
        let read = cloud.get_node_vcpus(to, &ng.cluster, &g.name);
        match super::bounded(policy, Op::DescribeNodegroup, read).await {
            Ok(Some(v)) => Ok(adds * u64::from(v)),
            Ok(None) => Err(format!(
                "the instance type of node group {} is unknown",
                g.name
            )),
            Err(e) => Err(format!("node group {}: {}", g.name, e.message)),
        }
    });
    let mut total = 0;
    for r in join_all(reads).await {
        total += r?;
    }
    Ok(total)
}

async fn quota<C: Cloud + Capacity>(cloud: &C, policy: &Policy, observed: &Observed) -> Check {
    let to = policy.regions.secondary.as_str();
    let (needed, quota, in_use) = tokio::join!(
        needed(cloud, policy, observed),
        super::bounded(policy, Op::GetServiceQuota, cloud.get_vcpu_quota(to)),
        super::bounded(policy, Op::GetMetricData, cloud.get_vcpus_in_use(to))
    );
    let needed = match needed {
        Ok(0) => {
            return Check::new(
                VCPU_QUOTA,
                Status::Pass,
                format!("the failover adds no nodes in {to}"),
            )
        }
        Ok(n) => n as f64,
        Err(e) => return unknown(to, &e),
    };
    let quota = match quota {
        Ok(Some(q)) => q,
        Ok(None) => return unknown(to, "Service Quotas has no applied value"),
        Err(e) => return unknown(to, &e.to_string()),
    };
    let in_use = match in_use {
        Ok(Some(u)) => u,
        Ok(None) => return unknown(to, "CloudWatch AWS/Usage has no recent vCPU figure"),
        Err(e) => return unknown(to, &e.to_string()),
    };
    let room = (quota - in_use).max(0.0);
    let figures = format!(
        "the scale-up adds {needed:.0} vCPUs; {to}'s quota {VCPU_QUOTA_CODE} is {quota:.0} \
         with {in_use:.0} in use ({room:.0} free)"
    );
    if needed > room {
        let sentence = format!(
            "{figures}: the new nodes would not start; request a quota increase of at least \
             {:.0} vCPUs in Service Quotas for {to}",
            in_use + needed
        );
        return Check::new(VCPU_QUOTA, Status::Fail, sentence);
    }
    if needed * 2.0 > room {
        let sentence = format!("{figures}: less than twice what it needs; consider an increase");
        return Check::new(VCPU_QUOTA, Status::Warn, sentence);
    }
    Check::new(VCPU_QUOTA, Status::Pass, figures)
}

fn unknown(region: &str, why: &str) -> Check {
    Check::new(
        VCPU_QUOTA,
        Status::Warn,
        format!(
            "the room left by {region}'s vCPU quota is unknown: {why}; check \
             servicequotas:GetServiceQuota and cloudwatch:GetMetricData access"
        ),
    )
}
