//! The steps a failover plan is made of.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::{CallSite, Record, Scaling};
use crate::policy::RoutingControlPair;

/// The kinds of step a plan can contain. Each kind's name is what the plan,
/// the journal, the report and `runbooks/failover.md` call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Every resource exists and the DR side is healthy.
    Preflight,
    /// The data-loss exposure of every data tier is within the RPO, or accepted.
    RpoGate,
    /// Promote the cross-region read replica to a standalone primary.
    PromoteDatabase,
    /// Scale one DR node group to its production size.
    ScaleNodeGroup,
    /// Fail the cache's Global Datastore over to the DR member.
    FailoverCache,
    /// Point the stream clients' record at the DR cluster.
    SwitchStream,
    /// Flip the public record to the DR load balancer.
    FlipDns,
    /// Re-check every postcondition once traffic is on the DR side.
    Verify,
}

impl StepKind {
    /// Every kind, in plan order.
    pub const ALL: [StepKind; 8] = [
        Self::Preflight,
        Self::RpoGate,
        Self::PromoteDatabase,
        Self::ScaleNodeGroup,
        Self::FailoverCache,
        Self::SwitchStream,
        Self::FlipDns,
        Self::Verify,
    ];

    /// The kind's name as the plan prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Preflight => "preflight",
            Self::RpoGate => "rpo-gate",
            Self::PromoteDatabase => "promote-database",
            Self::ScaleNodeGroup => "scale-node-group",
            Self::FailoverCache => "failover-cache",
            Self::SwitchStream => "switch-stream",
            Self::FlipDns => "flip-dns",
            Self::Verify => "verify",
        }
    }

    /// Whether steps of this kind change anything in the cloud.
    pub fn mutates(self) -> bool {
        !matches!(self, Self::Preflight | Self::RpoGate | Self::Verify)
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a step does, with everything it needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Re-observe the DR side and fail on any preflight problem.
    Preflight,
    /// Measure each data tier's exposure and compare it with the RPO.
    RpoGate,
    /// Promote `replica` in `region`.
    PromoteDatabase {
        /// The DR region.
        region: String,
        /// The read replica.
        replica: String,
    },
    /// Scale `name` in `cluster` to `scaling`.
    ScaleNodeGroup {
        /// The DR region.
        region: String,
        /// The DR cluster.
        cluster: String,
        /// The node group.
        name: String,
        /// The production size.
        scaling: Scaling,
    },
    /// Make `member` in `region` the primary of `global_datastore`.
    FailoverCache {
        /// The Global Datastore.
        global_datastore: String,
        /// The DR region.
        region: String,
        /// The DR member replication group.
        member: String,
    },
    /// Point the record `name` in `zone` at the DR cluster's bootstrap brokers.
    SwitchStream {
        /// The DR region.
        region: String,
        /// The DR MSK cluster.
        cluster: String,
        /// The clients' hosted zone.
        zone: String,
        /// The clients' record.
        name: String,
        /// Its TTL.
        ttl: u32,
        /// The routing controls that switch it (ARC data plane); `None`:
        /// the record is UPSERTed through Route 53's control plane.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing: Option<RoutingControlPair>,
    },
    /// Make the public record equal to `record`.
    FlipDns {
        /// The public hosted zone.
        zone: String,
        /// The wanted record (alias to the DR load balancer).
        record: Record,
        /// The routing controls that switch it (ARC data plane); `None`:
        /// the record is UPSERTed through Route 53's control plane.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing: Option<RoutingControlPair>,
        /// The record's TTL in seconds: how long resolvers may keep the old answer.
        #[serde(default)]
        ttl: u32,
    },
    /// Re-check every postcondition of the plan.
    Verify,
}

impl Action {
    /// The resource the step acts on, as the journal and the simulated cloud name it.
    pub fn resource(&self) -> Option<String> {
        match self {
            Self::Preflight | Self::RpoGate | Self::Verify => None,
            Self::PromoteDatabase { region, replica } => Some(format!("rds:{region}/{replica}")),
            Self::ScaleNodeGroup {
                region,
                cluster,
                name,
                ..
            } => Some(format!("eks:{region}/{cluster}/{name}")),
            Self::FailoverCache {
                global_datastore, ..
            } => Some(format!("elasticache:{global_datastore}")),
            Self::SwitchStream { zone, name, .. } => Some(format!("route53:{zone}/{name}")),
            Self::FlipDns { zone, record, .. } => Some(format!("route53:{zone}/{}", record.name)),
        }
    }
}

/// One node of the plan's DAG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the plan: the kind's name, plus `:target` where a kind
    /// occurs more than once (`scale-node-group:app-nodes`).
    pub id: String,
    /// The kind of step.
    pub kind: StepKind,
    /// Ids of the steps that must finish first.
    pub after: Vec<String>,
    /// What the step does.
    pub action: Action,
    /// A sentence for people: what the step will do.
    pub summary: String,
    /// Whether the observed state already satisfies the step's postcondition
    /// (so executing it will change nothing).
    pub already_done: bool,
    /// The kinds of call the step makes: service, region, plane.
    #[serde(default)]
    pub calls: Vec<CallSite>,
    /// Why the step would not work with the region being left gone, and
    /// what to do instead; empty when it does not depend on that region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on_primary: Vec<String>,
}
