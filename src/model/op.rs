//! Cloud operation names, spelled once.
//!
//! Errors, faults of the simulated cloud and of chaos files, the remote
//! simulator's wire, mutation counts and metrics all name an operation as
//! the provider's API (and IAM) does: `rds:PromoteReadReplica`. [`Op`] is
//! the one place those spellings live.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares [`Op`] with each variant's spelling, and [`Op::ALL`].
macro_rules! ops {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A cloud operation drctl makes, named as the provider's API and IAM
        /// name it (`service:Action`). Serialized as that name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            $($(#[$doc])* $variant,)*
        }

        impl Op {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Op] = &[$(Op::$variant,)*];

            /// The operation's name (`rds:PromoteReadReplica`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Op::$variant => $name,)*
                }
            }
        }
    };
}

ops! {
    /// RDS DescribeDBInstances.
    DescribeDbInstances = "rds:DescribeDBInstances",
    /// RDS PromoteReadReplica.
    PromoteReadReplica = "rds:PromoteReadReplica",
    /// RDS ModifyDBInstance (the rename that fences an old primary).
    ModifyDbInstance = "rds:ModifyDBInstance",
    /// RDS AddTagsToResource.
    AddTagsToResource = "rds:AddTagsToResource",
    /// RDS CreateDBInstanceReadReplica (reprotect: a replica in the old
    /// primary region).
    CreateDbInstanceReadReplica = "rds:CreateDBInstanceReadReplica",
    /// EKS DescribeNodegroup.
    DescribeNodegroup = "eks:DescribeNodegroup",
    /// EKS UpdateNodegroupConfig.
    UpdateNodegroupConfig = "eks:UpdateNodegroupConfig",
    /// Route 53 ListHostedZonesByName.
    ListHostedZonesByName = "route53:ListHostedZonesByName",
    /// Route 53 ListResourceRecordSets.
    ListResourceRecordSets = "route53:ListResourceRecordSets",
    /// Route 53 ChangeResourceRecordSets.
    ChangeResourceRecordSets = "route53:ChangeResourceRecordSets",
    /// Route 53 GetChange.
    GetChange = "route53:GetChange",
    /// Route 53 GetHealthCheckStatus.
    GetHealthCheckStatus = "route53:GetHealthCheckStatus",
    /// ElastiCache DescribeGlobalReplicationGroups.
    DescribeGlobalReplicationGroups = "elasticache:DescribeGlobalReplicationGroups",
    /// ElastiCache FailoverGlobalReplicationGroup.
    FailoverGlobalReplicationGroup = "elasticache:FailoverGlobalReplicationGroup",
    /// ElastiCache DescribeReplicationGroups.
    DescribeReplicationGroups = "elasticache:DescribeReplicationGroups",
    /// ElastiCache DisassociateGlobalReplicationGroup.
    DisassociateGlobalReplicationGroup = "elasticache:DisassociateGlobalReplicationGroup",
    /// ElastiCache CreateGlobalReplicationGroup (reprotect: a new Global
    /// Datastore from a standalone member).
    CreateGlobalReplicationGroup = "elasticache:CreateGlobalReplicationGroup",
    /// ElastiCache CreateReplicationGroup (reprotect: a secondary member).
    CreateReplicationGroup = "elasticache:CreateReplicationGroup",
    /// ElastiCache DescribeUsers (fencing cache writers).
    DescribeUsers = "elasticache:DescribeUsers",
    /// ElastiCache ModifyUser (fencing cache writers).
    ModifyUser = "elasticache:ModifyUser",
    /// MSK ListClustersV2.
    ListClustersV2 = "kafka:ListClustersV2",
    /// MSK GetBootstrapBrokers.
    GetBootstrapBrokers = "kafka:GetBootstrapBrokers",
    /// MSK Replicator ListReplicators.
    ListReplicators = "kafka:ListReplicators",
    /// MSK Replicator DescribeReplicator.
    DescribeReplicator = "kafka:DescribeReplicator",
    /// MSK Replicator CreateReplicator (reprotect: the reverse replicator).
    CreateReplicator = "kafka:CreateReplicator",
    /// MSK DescribeClusterV2 (a cluster's network settings).
    DescribeClusterV2 = "kafka:DescribeClusterV2",
    /// ARC routing-control state, read from a cluster endpoint.
    GetRoutingControlState = "route53-recovery-cluster:GetRoutingControlState",
    /// ARC routing-control states, set through a cluster endpoint.
    UpdateRoutingControlStates = "route53-recovery-cluster:UpdateRoutingControlStates",
    /// A DNS lookup through a resolver (the data plane).
    Resolve = "dns:Resolve",
    /// CloudWatch GetMetricData (usage and replica lag).
    GetMetricData = "cloudwatch:GetMetricData",
    /// Service Quotas GetServiceQuota.
    GetServiceQuota = "servicequotas:GetServiceQuota",
    /// IAM SimulatePrincipalPolicy.
    SimulatePrincipalPolicy = "iam:SimulatePrincipalPolicy",
    /// ELB DescribeTargetHealth.
    DescribeTargetHealth = "elasticloadbalancing:DescribeTargetHealth",
    /// STS GetCallerIdentity.
    GetCallerIdentity = "sts:GetCallerIdentity",
    /// Loading AWS credentials from the SDK's default chain (the CLI exits
    /// 77 when it fails).
    Credentials = "sts:credentials",
    /// The application's writers of a tier in a region, fenced or given
    /// back (in AWS: roles revoked on the database, users made read-only).
    FenceWriters = "writers:Fence",
    /// Whether the application's writers of a tier in a region are fenced.
    GetWriters = "writers:State",
    /// The simulated replication-lag reading of any data tier.
    ReplicationLag = "sim:ReplicationLag",
    /// A call to the remote simulator that failed before naming its operation.
    SimCall = "sim:Call",
    /// A step's call that got no answer within its timeout, whichever
    /// operation it was (the error names where it went instead).
    AnyCall = "call",
}

impl Op {
    /// `ops`' names, comma-separated, for messages that list the valid ones.
    pub fn list(ops: &[Op]) -> String {
        ops.iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The service part of the name, as IAM writes it (`rds`, `route53`,
    /// `route53-recovery-cluster`, ...).
    pub fn service(self) -> &'static str {
        let name = self.as_str();
        name.split_once(':').map_or(name, |(service, _)| service)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Op {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Op> for &str {
    fn eq(&self, other: &Op) -> bool {
        *self == other.as_str()
    }
}

/// A name that is no operation's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{got:?} is not a cloud operation; expected one of {}",
    Op::list(Op::ALL)
)]
pub struct UnknownOp {
    /// The name given.
    pub got: String,
}

impl FromStr for Op {
    type Err = UnknownOp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .iter()
            .copied()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOp { got: s.to_string() })
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_parse_display_and_serde() {
        for &op in Op::ALL {
            assert_eq!(op.as_str().parse::<Op>(), Ok(op));
            assert_eq!(op.to_string(), op.as_str());
            let json = serde_json::to_string(&op).expect("an op serializes");
            assert_eq!(json, format!("\"{}\"", op.as_str()));
            assert_eq!(serde_json::from_str::<Op>(&json).expect("parses"), op);
        }
    }

    #[test]
    fn names_are_unique_and_each_names_its_service() {
        let mut seen = std::collections::BTreeSet::new();
        for &op in Op::ALL {
            assert!(seen.insert(op.as_str()), "{op} twice");
            if op != Op::AnyCall {
                assert!(op.as_str().starts_with(&format!("{}:", op.service())));
            }
        }
        assert_eq!(
            Op::UpdateRoutingControlStates.service(),
            "route53-recovery-cluster"
        );
    }

    #[test]
    fn an_unknown_name_is_refused_naming_the_valid_ones() {
        let e = "rds:Explode".parse::<Op>().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("\"rds:Explode\" is not a cloud operation"),
            "{msg}"
        );
        for &op in Op::ALL {
            assert!(msg.contains(op.as_str()), "{msg} lacks {op}");
        }
        let serde = serde_json::from_str::<Op>("\"promote\"").unwrap_err();
        assert!(
            serde.to_string().contains("rds:PromoteReadReplica"),
            "{serde}"
        );
    }

    #[test]
    fn compares_with_its_name() {
        assert_eq!(Op::PromoteReadReplica, "rds:PromoteReadReplica");
        assert!("writers:Fence" == Op::FenceWriters);
        assert!(Op::GetChange != "route53:ChangeResourceRecordSets");
    }
}
