//! Faults the simulated cloud can be told to inject.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cloud::ErrorKind;

/// The operations of the simulated cloud, named as the AWS API names them.
/// Faults and mutation counts refer to these names.
pub const OPS: &[&str] = &[
    OP_DESCRIBE_DB,
    OP_PROMOTE,
    OP_DESCRIBE_NODE_GROUP,
    OP_UPDATE_NODE_GROUP,
    OP_LIST_RECORDS,
    OP_CHANGE_RECORDS,
    OP_GET_CHANGE,
    OP_DESCRIBE_GLOBAL,
    OP_FAILOVER_GLOBAL,
    OP_LIST_CLUSTERS,
    OP_REPLICATION_LAG,
    OP_DESCRIBE_REPLICATION_GROUPS,
    OP_DISASSOCIATE_GLOBAL,
    crate::cloud::OP_GET_ROUTING_CONTROL,
    crate::cloud::OP_UPDATE_ROUTING_CONTROLS,
    OP_RESOLVE,
    OP_RENAME_DB,
    OP_TAG_DB,
    OP_FENCE_WRITERS,
    OP_GET_WRITERS,
    crate::cloud::OP_GET_SERVICE_QUOTA,
    crate::cloud::OP_GET_USAGE,
    crate::cloud::OP_SIMULATE_PRINCIPAL_POLICY,
    crate::cloud::OP_DESCRIBE_TARGET_HEALTH,
    crate::cloud::OP_DESCRIBE_REPLICATOR,
];

/// `rds:DescribeDBInstances`.
pub const OP_DESCRIBE_DB: &str = "rds:DescribeDBInstances";
/// `rds:PromoteReadReplica`.
pub const OP_PROMOTE: &str = "rds:PromoteReadReplica";
/// The application's writers of a tier in a region, fenced or given back
/// (in AWS: roles revoked on the database, users made read-only).
pub const OP_FENCE_WRITERS: &str = "writers:Fence";
/// Whether the application's writers of a tier in a region are fenced.
pub const OP_GET_WRITERS: &str = "writers:State";
/// RDS ModifyDBInstance (rename).
pub const OP_RENAME_DB: &str = "rds:ModifyDBInstance";
/// RDS AddTagsToResource.
pub const OP_TAG_DB: &str = "rds:AddTagsToResource";
/// `eks:DescribeNodegroup`.
pub const OP_DESCRIBE_NODE_GROUP: &str = "eks:DescribeNodegroup";
/// `eks:UpdateNodegroupConfig`.
pub const OP_UPDATE_NODE_GROUP: &str = "eks:UpdateNodegroupConfig";
/// `route53:ListResourceRecordSets`.
pub const OP_LIST_RECORDS: &str = "route53:ListResourceRecordSets";
/// `route53:ChangeResourceRecordSets`.
pub const OP_CHANGE_RECORDS: &str = "route53:ChangeResourceRecordSets";
/// `route53:GetChange`.
pub const OP_GET_CHANGE: &str = "route53:GetChange";
/// `elasticache:DescribeGlobalReplicationGroups`.
pub const OP_DESCRIBE_GLOBAL: &str = "elasticache:DescribeGlobalReplicationGroups";
/// `elasticache:FailoverGlobalReplicationGroup`.
pub const OP_FAILOVER_GLOBAL: &str = "elasticache:FailoverGlobalReplicationGroup";
/// `kafka:ListClustersV2`.
pub const OP_LIST_CLUSTERS: &str = "kafka:ListClustersV2";
/// The simulated replication-lag reading of any data tier.
pub const OP_REPLICATION_LAG: &str = "sim:ReplicationLag";
/// `elasticache:DescribeReplicationGroups`.
pub const OP_DESCRIBE_REPLICATION_GROUPS: &str = "elasticache:DescribeReplicationGroups";
/// `elasticache:DisassociateGlobalReplicationGroup`.
pub const OP_DISASSOCIATE_GLOBAL: &str = "elasticache:DisassociateGlobalReplicationGroup";
/// A DNS lookup through a resolver (the data plane).
pub const OP_RESOLVE: &str = "dns:Resolve";

/// The service, plane and region of an operation called in `region`:
/// Route 53's control plane is always us-east-1; ARC routing-control state
/// and DNS are data planes.
pub fn call_site(op: &str, region: &str) -> crate::cloud::CallSite {
    use crate::cloud::{CallSite, Plane};
    let service = op.split(':').next().unwrap_or(op);
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
    /// The operation it hits, one of [`OPS`].
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
        if !OPS.contains(&self.op.as_str()) {
            return Err(format!(
                "op: {:?} is not a simulated operation; expected one of {}",
                self.op,
                OPS.join(", ")
            ));
        }
        match self.fault {
            FaultKind::Stuck => {
                self.stuck_for()?;
            }
            FaultKind::Busy => {
                self.stuck_for()?;
                if self.op != OP_PROMOTE {
                    return Err(format!("op: a busy fault applies to {OP_PROMOTE} only"));
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
        if matches!(self.fault, FaultKind::Stuck | FaultKind::NeverConverges)
            && !is_mutating(&self.op)
        {
            return Err(format!(
                "op: {} changes nothing, so it cannot be stuck; use a mutating operation",
                self.op
            ));
        }
        Ok(())
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
pub fn is_mutating(op: &str) -> bool {
    matches!(
        op,
        OP_PROMOTE
            | OP_UPDATE_NODE_GROUP
            | OP_CHANGE_RECORDS
            | OP_FAILOVER_GLOBAL
            | OP_DISASSOCIATE_GLOBAL
            | crate::cloud::OP_UPDATE_ROUTING_CONTROLS
    )
}
