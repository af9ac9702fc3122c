//! Read-only capabilities that only the readiness checks need: the
//! capacity a failover's scale-up draws on, what the executing role (and
//! the witness's) may call, and the DR load balancer's targets and MSK
//! Replicator ([`DrHealth`]). Nothing here changes anything; none of it
//! is on the failover path, so a failover never waits on these calls.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::CloudResult;

/// The Service Quotas code of "Running On-Demand Standard (A, C, D, H, I,
/// M, R, T, Z) instances", counted in vCPUs.
pub const VCPU_QUOTA_CODE: &str = "L-1216C47A";

/// EC2 capacity in a region, as the vCPU quota counts it.
pub trait Capacity: Send + Sync {
    /// The applied vCPU quota of on-demand standard instances in `region`
    /// ([`VCPU_QUOTA_CODE`]); `None` when Service Quotas has no value.
    fn get_vcpu_quota(&self, region: &str)
        -> impl Future<Output = CloudResult<Option<f64>>> + Send;

    /// The vCPUs of on-demand standard instances running in `region` now
    /// (CloudWatch `AWS/Usage` `ResourceCount`); `None` when not published.
    fn get_vcpus_in_use(
        &self,
        region: &str,
    ) -> impl Future<Output = CloudResult<Option<f64>>> + Send;

    /// The vCPUs of one node of a node group (from its instance type);
    /// `None` when the group or its instance type is unknown.
    fn get_node_vcpus(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<u32>>> + Send;
}

/// What IAM's policy simulator says about the calling principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulated {
    /// The principal simulated (a role ARN).
    pub principal: String,
    /// Each action that is not allowed, with IAM's decision
    /// (`implicitDeny`, `explicitDeny`).
    pub denied: Vec<(String, String)>,
}

/// The executing principal's permissions, read through IAM's simulator.
pub trait Permissions: Send + Sync {
    /// Simulates `actions` (IAM names like `rds:PromoteReadReplica`) for
    /// the principal this cloud calls as.
    fn simulate_actions(
        &self,
        actions: &[String],
    ) -> impl Future<Output = CloudResult<Simulated>> + Send;

    /// Simulates `actions` for another principal, `principal` (a role
    /// ARN), such as the witness's role, which must be read-only.
    fn simulate_actions_for(
        &self,
        principal: &str,
        actions: &[String],
    ) -> impl Future<Output = CloudResult<Simulated>> + Send;
}

/// How the targets of one target group are, as the load balancer's health
/// checks see them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// Targets passing their health checks (`healthy`).
    pub healthy: u32,
    /// Targets failing them (`unhealthy`, `unavailable`).
    pub unhealthy: u32,
    /// Targets being deregistered (`draining`, `unhealthy.draining`).
    pub draining: u32,
    /// Targets in no serving state yet (`initial`, `unused`).
    pub other: u32,
}

impl TargetHealth {
    /// Every registered target.
    pub fn total(&self) -> u32 {
        self.healthy + self.unhealthy + self.draining + self.other
    }

    /// Counts one target in AWS's state `state` (`healthy`, `draining`, ...).
    pub fn count(&mut self, state: &str) {
        match state {
            "healthy" => self.healthy += 1,
            "unhealthy" | "unavailable" => self.unhealthy += 1,
            "draining" | "unhealthy.draining" => self.draining += 1,
            _ => self.other += 1,
        }
    }
}

/// Read-only state of the DR side that a failover does not wait on but
/// that decides whether it would serve: the DR load balancer's targets and
/// the MSK Replicator feeding the DR cluster.
pub trait DrHealth: Send + Sync {
    /// The health of the targets of target group `arn` in `region`;
    /// `None` when no such target group exists.
    fn get_target_health(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = CloudResult<Option<TargetHealth>>> + Send;

    /// The state (`RUNNING`, `FAILED`, ...) of the MSK Replicator `name`
    /// (its name or ARN) in `region`; `None` when no such replicator exists.
    fn get_replicator_state(
        &self,
        region: &str,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<String>>> + Send;
}

/// The vCPUs of one instance of `instance_type`, from its size: EC2 sizes
/// double with each step (`large` 2, `xlarge` 4, `Nxlarge` 4×N) across the
/// standard families; `medium` and smaller have 2 in the burstable `t`
/// families and 1 elsewhere. `None` for a name without a known size
/// (`metal` varies by family).
pub fn vcpus_of_instance_type(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    let burstable = family.starts_with('t');
    match size {
        "nano" | "micro" | "small" | "medium" => Some(if burstable { 2 } else { 1 }),
        "large" => Some(2),
        "xlarge" => Some(4),
        s => {
            let n: u32 = s.strip_suffix("xlarge")?.parse().ok()?;
            n.checked_mul(4)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{vcpus_of_instance_type, TargetHealth};

    #[test]
    fn target_states_are_counted_by_what_they_serve() {
        let mut h = TargetHealth::default();
        for s in [
            "healthy",
            "unhealthy",
            "draining",
            "unhealthy.draining",
            "initial",
            "healthy",
        ] {
            h.count(s);
        }
        let want = TargetHealth {
            healthy: 2,
            unhealthy: 1,
            draining: 2,
            other: 1,
        };
        assert_eq!(h, want);
        assert_eq!(h.total(), 6);
    }

    #[test]
    fn instance_sizes_give_their_vcpus() {
        assert_eq!(vcpus_of_instance_type("m5.large"), Some(2));
        assert_eq!(vcpus_of_instance_type("m6i.xlarge"), Some(4));
        assert_eq!(vcpus_of_instance_type("c5.4xlarge"), Some(16));
        assert_eq!(vcpus_of_instance_type("t3.medium"), Some(2));
        assert_eq!(vcpus_of_instance_type("m6g.medium"), Some(1));
        assert_eq!(vcpus_of_instance_type("m5.metal"), None);
        assert_eq!(vcpus_of_instance_type("nonsense"), None);
    }
}
