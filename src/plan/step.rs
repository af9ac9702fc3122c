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
    /// Reprotect: the standby region answers, the names are free, the
    /// policy names every resource of the way back.
    PreflightReprotect,
    /// Create a cross-region read replica of the active primary in the
    /// standby region.
    CreateReplicaDatabase,
    /// Add a cache member in the standby region to the Global Datastore
    /// (creating a Global Datastore first when the failover disassociated).
    AddCacheSecondary,
    /// Create the MSK Replicator from the active cluster to the standby one.
    CreateReverseReplicator,
    /// Wait until every new replica replicates, its lag within the RPO.
    WaitReplication,
    /// Commit the orientation flip and the protection in the replicated state.
    SwitchRoles,
    /// Failback: reprotected, divergence reviewed, replica caught up.
    PreflightFailback,
    /// Fence the active primary's writers with the policy's methods.
    QuiesceWriters,
    /// Wait until the replica holds the last heartbeat written before the quiesce.
    Drain,
    /// Give the writers back on the new primary's side.
    LiftQuiesce,
    /// Give the writers back on the old side: the promotion did not happen.
    UndoQuiesce,
    /// Rename the old primary out of its name so that its replica can take it.
    RenameOldPrimary,
}

impl StepKind {
    /// Every kind, in plan order.
    pub const ALL: [StepKind; 20] = [
        Self::Preflight,
        Self::RpoGate,
        Self::PromoteDatabase,
        Self::ScaleNodeGroup,
        Self::FailoverCache,
        Self::SwitchStream,
        Self::FlipDns,
        Self::Verify,
        Self::PreflightReprotect,
        Self::CreateReplicaDatabase,
        Self::AddCacheSecondary,
        Self::CreateReverseReplicator,
        Self::WaitReplication,
        Self::SwitchRoles,
        Self::PreflightFailback,
        Self::QuiesceWriters,
        Self::Drain,
        Self::LiftQuiesce,
        Self::UndoQuiesce,
        Self::RenameOldPrimary,
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
            Self::PreflightReprotect => "preflight-reprotect",
            Self::CreateReplicaDatabase => "create-replica-database",
            Self::AddCacheSecondary => "add-cache-secondary",
            Self::CreateReverseReplicator => "create-reverse-replicator",
            Self::WaitReplication => "wait-replication",
            Self::SwitchRoles => "switch-roles",
            Self::PreflightFailback => "preflight-failback",
            Self::QuiesceWriters => "quiesce-writers",
            Self::Drain => "drain",
            Self::LiftQuiesce => "lift-quiesce",
            Self::UndoQuiesce => "undo-quiesce",
            Self::RenameOldPrimary => "rename-old-primary",
        }
    }

    /// Whether steps of this kind change anything: the cloud, the
    /// platform's writers, or (`switch-roles`) the replicated roles.
    /// Checks and waits do not.
    pub fn mutates(self) -> bool {
        !matches!(
            self,
            Self::Preflight
                | Self::RpoGate
                | Self::Verify
                | Self::PreflightReprotect
                | Self::WaitReplication
                | Self::PreflightFailback
                | Self::Drain
        )
    }

    /// Whether this kind belongs to the failover's runbook
    /// (`runbooks/failover.md`); the others belong to
    /// `runbooks/reprotect.md` or `runbooks/failback.md`.
    pub fn in_failover(self) -> bool {
        matches!(
            self,
            Self::Preflight
                | Self::RpoGate
                | Self::PromoteDatabase
                | Self::ScaleNodeGroup
                | Self::FailoverCache
                | Self::SwitchStream
                | Self::FlipDns
                | Self::LiftQuiesce
                | Self::Verify
        )
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
    /// Check the standby region and the names a reprotect uses.
    PreflightReprotect,
    /// Create `id` in `region` as a read replica of `source_id` in
    /// `source_region`.
    CreateReplicaDatabase {
        /// The standby region, where the replica is made.
        region: String,
        /// The new replica's identifier.
        id: String,
        /// The active region.
        source_region: String,
        /// The active primary.
        source_id: String,
    },
    /// Make `member` in `region` a secondary of the Global Datastore that
    /// `active_member` is the primary of.
    AddCacheSecondary {
        /// The Global Datastore, `None` when the failover disassociated and
        /// one is created from `active_member` with `suffix`.
        global_datastore: Option<String>,
        /// The suffix of the Global Datastore to create (AWS prefixes it).
        suffix: String,
        /// The active region.
        active_region: String,
        /// The replication group serving writes in the active region.
        active_member: String,
        /// The standby region.
        region: String,
        /// The member to create there.
        member: String,
    },
    /// Create the MSK Replicator `name` from `source_cluster` to
    /// `target_cluster` (topics named identically, offsets synced).
    CreateReverseReplicator {
        /// The target cluster's region (the standby region).
        region: String,
        /// The replicator's name.
        name: String,
        /// The active MSK cluster.
        source_cluster: String,
        /// The active region.
        source_region: String,
        /// The standby MSK cluster.
        target_cluster: String,
        /// The IAM role MSK Replicator assumes.
        service_execution_role_arn: String,
    },
    /// Wait until every replica the plan made replicates within the RPO.
    WaitReplication,
    /// Record the roles in the replicated state.
    SwitchRoles {
        /// How the policy is read from now on.
        orientation: crate::model::Orientation,
        /// The protection the platform has then.
        protection: crate::model::Protection,
        /// How many reprotects will have completed (names a cache member
        /// a later reprotect creates `-r<N+1>`).
        #[serde(default)]
        reprotects: u32,
        /// The cache member in the policy's primary region (as written)
        /// once the roles switch, when the policy has a cache tier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        home_member: Option<String>,
    },
    /// Check that a failback may start.
    PreflightFailback,
    /// Fence the application's writers in `region` (the active region).
    QuiesceWriters {
        /// The active region.
        region: String,
    },
    /// Wait until the replica holds the last beat written before the quiesce.
    Drain {
        /// The longest wait (`failback.drain_timeout`), in seconds.
        timeout_s: u64,
    },
    /// Unfence the writers in `region` (the new primary's region).
    LiftQuiesce {
        /// The new primary's region.
        region: String,
    },
    /// Unfence the writers in `region` (the old primary's region).
    UndoQuiesce {
        /// The old primary's region.
        region: String,
    },
    /// Rename the old primary `id` in `region` to `renamed`.
    RenameOldPrimary {
        /// The old primary's region.
        region: String,
        /// Its identifier now.
        id: String,
        /// The identifier it gets (`fenced_identifier`).
        renamed: String,
    },
}

impl Action {
    /// The resource the step acts on, as the journal and the simulated cloud name it.
    pub fn resource(&self) -> Option<String> {
        match self {
            Self::Preflight
            | Self::RpoGate
            | Self::Verify
            | Self::PreflightReprotect
            | Self::WaitReplication
            | Self::SwitchRoles { .. }
            | Self::PreflightFailback
            | Self::Drain { .. } => None,
            Self::CreateReplicaDatabase { region, id, .. } => Some(format!("rds:{region}/{id}")),
            Self::AddCacheSecondary { region, member, .. } => {
                Some(format!("elasticache:{region}/{member}"))
            }
            Self::CreateReverseReplicator { region, name, .. } => {
                Some(format!("kafka:{region}/replicator/{name}"))
            }
            Self::QuiesceWriters { region }
            | Self::LiftQuiesce { region }
            | Self::UndoQuiesce { region } => Some(format!("writers:{region}")),
            Self::RenameOldPrimary { region, id, .. } => Some(format!("rds:{region}/{id}")),
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
