//! Faults the simulated cloud can be told to inject.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cloud::ErrorKind;
use crate::model::Op;

/// The operations of the simulated cloud, named as the AWS API names them.
/// Faults and mutation counts refer to these names.
pub const OPS: &[Op] = &[
    Op::DescribeDbInstances,
    Op::PromoteReadReplica,
    Op::DescribeNodegroup,
    Op::UpdateNodegroupConfig,
    Op::ListResourceRecordSets,
    Op::ChangeResourceRecordSets,
    Op::GetChange,
    Op::DescribeGlobalReplicationGroups,
    Op::FailoverGlobalReplicationGroup,
    Op::ListClustersV2,
    Op::ReplicationLag,
    Op::DescribeReplicationGroups,
    Op::DisassociateGlobalReplicationGroup,
    Op::GetRoutingControlState,
    Op::UpdateRoutingControlStates,
    Op::Resolve,
    Op::ModifyDbInstance,
    Op::AddTagsToResource,
    Op::FenceWriters,
    Op::GetWriters,
    Op::GetServiceQuota,
    Op::GetMetricData,
    Op::SimulatePrincipalPolicy,
    Op::DescribeTargetHealth,
    Op::DescribeReplicator,
    Op::CreateDbInstanceReadReplica,
    Op::CreateGlobalReplicationGroup,
    Op::CreateReplicationGroup,
    Op::CreateReplicator,
];

/// The service, plane and region of an operation called in `region`:
/// Route 53's control plane is always us-east-1; ARC routing-control state
/// and DNS are data planes.
pub fn call_site(op: Op, region: &str) -> crate::cloud::CallSite {
    use crate::cloud::{CallSite, Plane};
    let service = op.service();
    match service {
        "route53" => CallSite::route53_control(),
        "route53-recovery-cluster" => CallSite::new(service, region, Plane::Data),
        "dns" => CallSite::new(service, "global", Plane::Data),
        "sim" => CallSite::new("monitoring", region, Plane::Control),
        _ => CallSite::new(service, region, Plane::Control),
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The call fails, `times` times, with the error kind given.
    Fail,
    /// The call is throttled, `times` times.
    Throttle,
    /// The call is accepted but the resource stays in its transitional
    /// state for `for` longer than the latency model says.
    Stuck,
    /// The call is accepted but the resource never leaves its transitional
    /// state (a Route 53 change that stays PENDING, say).
    NeverConverges,
    /// The resource reports `status` for `for` from the start, and refuses
    /// the operation meanwhile (a replica `backing-up` cannot be promoted).
    Busy,
}

/// One fault, switched on in the simulated cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// What happens.
    pub fault: FaultKind,
    /// The operation it hits, the name of one of [`OPS`] (kept as written
    /// so that [`Fault::validate`] can name a wrong one).
    pub op: String,
    /// Only calls whose resource contains this text (all when absent).
    #[serde(default)]
    pub resource: Option<String>,
    /// How many calls it hits (`fail` and `throttle`); every call when absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// The error kind of a `fail` fault (default `retryable`).
    #[serde(default)]
    pub error: Option<ErrorKind>,
    /// The extra time of a `stuck` fault, or how long a `busy` one lasts, like `20m`.
    #[serde(default, rename = "for")]
    pub extra: Option<String>,
    /// The status a `busy` resource reports (`backing-up`, `modifying`, ...).
    #[serde(default)]
    pub status: Option<String>,
}

impl Fault {
    /// Checks the fault, naming the field that is wrong.
    ///
    /// # Errors
    ///
    /// A sentence naming the field and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        let op = self.simulated_op()?;
        match self.fault {
            FaultKind::Stuck => {
                self.stuck_for()?;
            }
            FaultKind::Busy => {
                self.stuck_for()?;
                if op != Op::PromoteReadReplica {
                    return Err(format!(
                        "op: a busy fault applies to {} only",
                        Op::PromoteReadReplica
                    ));
                }
                if self.status.as_deref().is_none_or(str::is_empty) {
                    return Err(
                        "status: a busy fault needs the status to report, like backing-up".into(),
                    );
                }
            }
            FaultKind::Fail | FaultKind::Throttle | FaultKind::NeverConverges => {
                if self.extra.is_some() {
                    return Err("for: only a stuck or busy fault takes a duration".into());
                }
            }
        }
        if self.status.is_some() && self.fault != FaultKind::Busy {
            return Err("status: only a busy fault takes a status".into());
        }
        if matches!(self.fault, FaultKind::Stuck | FaultKind::NeverConverges) && !is_mutating(op) {
            return Err(format!(
                "op: {} changes nothing, so it cannot be stuck; use a mutating operation",
                self.op
            ));
        }
        Ok(())
    }

    /// The simulated operation the fault names.
    ///
    /// # Errors
    ///
    /// A sentence naming the `op` field when it names no simulated operation.
    pub fn simulated_op(&self) -> Result<Op, String> {
        self.op
            .parse()
            .ok()
            .filter(|op| OPS.contains(op))
            .ok_or_else(|| {
                format!(
                    "op: {:?} is not a simulated operation; expected one of {}",
                    self.op,
                    Op::list(OPS)
                )
            })
    }

    /// The extra duration of a `stuck` fault.
    pub(super) fn stuck_for(&self) -> Result<Duration, String> {
        let text = self
            .extra
            .as_deref()
            .ok_or("for: a stuck or busy fault needs a duration like 20m")?;
        crate::duration::parse(text).map_err(|e| format!("for: {e}"))
    }
}

/// Whether the operation changes the world.
pub fn is_mutating(op: Op) -> bool {
    matches!(
        op,
        Op::PromoteReadReplica
            | Op::UpdateNodegroupConfig
            | Op::ChangeResourceRecordSets
            | Op::FailoverGlobalReplicationGroup
            | Op::DisassociateGlobalReplicationGroup
            | Op::UpdateRoutingControlStates
            | Op::CreateDbInstanceReadReplica
            | Op::CreateGlobalReplicationGroup
            | Op::CreateReplicationGroup
            | Op::CreateReplicator
    )
}
