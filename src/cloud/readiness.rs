//! Read-only capabilities that only the readiness checks need: the
//! capacity a failover's scale-up draws on, and what the executing role
//! may call. Nothing here changes anything; none of it is on the failover
//! path, so a failover never waits on these calls.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::CloudResult;

/// The Service Quotas code of "Running On-Demand Standard (A, C, D, H, I,
/// M, R, T, Z) instances", counted in vCPUs.
pub const VCPU_QUOTA_CODE: &str = "L-1216C47A";

/// `servicequotas:GetServiceQuota`.
pub const OP_GET_SERVICE_QUOTA: &str = "servicequotas:GetServiceQuota";
/// `cloudwatch:GetMetricData` on `AWS/Usage`: vCPUs in use.
pub const OP_GET_USAGE: &str = "cloudwatch:GetMetricData";
/// `iam:SimulatePrincipalPolicy`.
pub const OP_SIMULATE_PRINCIPAL_POLICY: &str = "iam:SimulatePrincipalPolicy";

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
    use super::vcpus_of_instance_type;

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
