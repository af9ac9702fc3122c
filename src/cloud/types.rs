//! Plain values exchanged across the cloud boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A DB instance as RDS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseState {
    /// The instance identifier.
    pub id: String,
    /// RDS's status string (`available`, `modifying`, ...).
    pub status: String,
    /// The instance it replicates from, `None` once standalone.
    pub replica_source: Option<String>,
    /// Its tags (drctl reads `drctl:fenced-by` on a fenced old primary).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The tag that marks an old primary fenced by an execution.
pub const FENCED_BY_TAG: &str = "drctl:fenced-by";

/// The tag that records the epoch a fence was applied under.
pub const FENCED_EPOCH_TAG: &str = "drctl:epoch";

/// The tag that names the execution that created a resource (a
/// reprotect's replica); the epoch goes in [`FENCED_EPOCH_TAG`].
pub const CREATED_BY_TAG: &str = "drctl:created-by";

/// The tags a created resource carries: the execution and the epoch of
/// `fence`, as a fenced old primary carries them.
pub fn creation_tags(fence: &crate::model::Fence) -> Vec<(String, String)> {
    vec![
        (CREATED_BY_TAG.to_string(), fence.execution_id.clone()),
        (FENCED_EPOCH_TAG.to_string(), fence.epoch.to_string()),
    ]
}

/// The identifier an old primary is renamed to when it is fenced: its own,
/// with `-fenced-` and eight hex digits of the execution id (FNV-1a), within
/// RDS's 63 characters.
pub fn fenced_identifier(id: &str, execution_id: &str) -> String {
    let hash = execution_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let suffix = format!("-fenced-{:08x}", hash as u32);
    let keep = 63usize.saturating_sub(suffix.len()).min(id.len());
    format!("{}{suffix}", id[..keep].trim_end_matches('-'))
}

/// RDS statuses in which a replica is busy but will be promotable again
/// without anyone acting: a promotion waits through them.
pub const DATABASE_BUSY_STATUSES: &[&str] = &[
    "backing-up",
    "modifying",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "converting-to-vpc",
    "maintenance",
    "moving-to-vpc",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "storage-config-upgrade",
    "storage-optimization",
    "upgrading",
];

impl DatabaseState {
    /// Whether the instance is busy with something that ends by itself.
    pub fn is_busy(&self) -> bool {
        DATABASE_BUSY_STATUSES.contains(&self.status.as_str())
    }

    /// Whether the instance is available for connections.
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// Whether the instance is a standalone, available primary.
    pub fn is_promoted(&self) -> bool {
        self.is_available() && self.replica_source.is_none()
    }

    /// Whether the instance is an available read replica of `source_id`:
    /// its source names `source_id` by identifier or by an ARN ending in
    /// `:db:<source_id>` (RDS gives a cross-region replica's source as an
    /// ARN). Identifiers compare without case, as RDS stores them.
    pub fn replicates(&self, source_id: &str) -> bool {
        self.is_available() && self.is_replica_of(source_id)
    }

    /// Whether the instance is a read replica of `source_id` in any status
    /// (being created, available, busy), by identifier or ARN.
    pub fn is_replica_of(&self, source_id: &str) -> bool {
        self.replica_source.as_deref().is_some_and(|source| {
            let named = source.rsplit_once(":db:").map_or(source, |(_, id)| id);
            named.eq_ignore_ascii_case(source_id)
        })
    }
}

/// A node group's scaling configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scaling {
    /// Minimum size.
    pub min: u32,
    /// Desired size.
    pub desired: u32,
    /// Maximum size.
    pub max: u32,
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min {} / desired {} / max {}",
            self.min, self.desired, self.max
        )
    }
}

/// An EKS managed node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroupState {
    /// The node group name.
    pub name: String,
    /// EKS's status string (`ACTIVE`, `UPDATING`, ...).
    pub status: String,
    /// The current scaling configuration.
    pub scaling: Scaling,
}

impl NodeGroupState {
    /// Whether the node group is ACTIVE with exactly this configuration.
    pub fn is_at(&self, want: Scaling) -> bool {
        self.status == "ACTIVE" && self.scaling == want
    }
}

/// The DNS record types drctl manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordType {
    /// An address record (here always an alias to a load balancer).
    A,
    /// A canonical name record.
    #[serde(rename = "CNAME")]
    Cname,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::A => "A",
            Self::Cname => "CNAME",
        })
    }
}

/// What a record points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordTarget {
    /// A Route 53 alias (type A) to another AWS name, such as an ALB.
    Alias {
        /// The target's DNS name.
        dns_name: String,
        /// The target's hosted zone id (the ALB's canonical zone).
        hosted_zone_id: String,
    },
    /// A CNAME with a TTL.
    Cname {
        /// The canonical name.
        value: String,
        /// The record's TTL in seconds.
        ttl: u32,
    },
}

/// A record set: name, type and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The fully qualified name, without the trailing dot.
    pub name: String,
    /// What it points at.
    pub target: RecordTarget,
}

impl Record {
    /// The record type implied by the target.
    pub fn rtype(&self) -> RecordType {
        match self.target {
            RecordTarget::Alias { .. } => RecordType::A,
            RecordTarget::Cname { .. } => RecordType::Cname,
        }
    }

    /// Whether two records point at the same place. DNS names compare without
    /// case and without a trailing dot, as Route 53 does.
    pub fn points_like(&self, other: &Record) -> bool {
        fn norm(s: &str) -> String {
            s.trim_end_matches('.').to_ascii_lowercase()
        }
        norm(&self.name) == norm(&other.name)
            && match (&self.target, &other.target) {
                (
                    RecordTarget::Alias {
                        dns_name: a,
                        hosted_zone_id: za,
                    },
                    RecordTarget::Alias {
                        dns_name: b,
                        hosted_zone_id: zb,
                    },
                ) => norm(a) == norm(b) && za == zb,
                (
                    RecordTarget::Cname { value: a, ttl: ta },
                    RecordTarget::Cname { value: b, ttl: tb },
                ) => norm(a) == norm(b) && ta == tb,
                _ => false,
            }
    }
}

/// A Route 53 change id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeId(pub String);

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The propagation state of a Route 53 change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeStatus {
    /// Not yet applied on every Route 53 server.
    Pending,
    /// Applied everywhere.
    InSync,
}

/// The role of a Global Datastore member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Accepts writes.
    Primary,
    /// Read-only copy.
    Secondary,
}

/// One replication group in a Global Datastore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMember {
    /// The replication group id.
    pub replication_group_id: String,
    /// The member's region.
    pub region: String,
    /// Primary or secondary.
    pub role: MemberRole,
    /// ElastiCache's member status (`associated`, ...).
    pub status: String,
}

/// A Global Datastore as ElastiCache describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalDatastoreState {
    /// The global replication group id.
    pub id: String,
    /// ElastiCache's status (`available`, `modifying`, `primary-only`, ...).
    pub status: String,
    /// Its members.
    pub members: Vec<CacheMember>,
}

impl GlobalDatastoreState {
    /// The member with this replication group id.
    pub fn member(&self, replication_group_id: &str) -> Option<&CacheMember> {
        self.members
            .iter()
            .find(|m| m.replication_group_id == replication_group_id)
    }

    /// Whether `member` is primary and the datastore is no longer modifying.
    pub fn has_primary(&self, member: &str) -> bool {
        self.status == "available"
            && self
                .member(member)
                .is_some_and(|m| m.role == MemberRole::Primary)
    }
}

/// A replication group as ElastiCache describes it in its own region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationGroupState {
    /// The replication group id.
    pub id: String,
    /// ElastiCache's status (`available`, `modifying`, ...).
    pub status: String,
    /// The Global Datastore it belongs to, `None` when standalone.
    pub global_datastore: Option<String>,
    /// Its role there.
    pub global_role: Option<MemberRole>,
}

impl ReplicationGroupState {
    /// Whether it accepts writes: available, and either the primary of its
    /// Global Datastore or standalone.
    pub fn serves_writes(&self) -> bool {
        self.status == "available"
            && (self.global_datastore.is_none() || self.global_role == Some(MemberRole::Primary))
    }
}

/// What a DNS name resolves to, as clients see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The canonical names met on the way (CNAME targets), lower case,
    /// without the trailing dot.
    pub names: Vec<String>,
    /// The addresses at the end.
    pub addrs: Vec<std::net::IpAddr>,
}

impl Resolved {
    /// Whether this answer points at `target`: `target` is among the names
    /// on the way, or shares an address with `target`'s own answer.
    pub fn points_at(&self, target: &str, target_answer: &Resolved) -> bool {
        let target = target.trim_end_matches('.').to_ascii_lowercase();
        self.names.contains(&target) || self.addrs.iter().any(|a| target_answer.addrs.contains(a))
    }
}

/// An MSK cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamClusterState {
    /// The cluster name.
    pub name: String,
    /// The cluster ARN.
    pub arn: String,
    /// MSK's state (`ACTIVE`, `CREATING`, ...).
    pub state: String,
    /// The bootstrap broker hosts (without ports), sorted; empty when MSK gives none.
    pub bootstrap_hosts: Vec<String>,
}

impl StreamClusterState {
    /// Whether the cluster is ACTIVE.
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
    }
}

/// The MSK Replicator a reprotect creates: it copies every topic of the
/// source cluster to the target cluster under the same names, with the
/// consumer groups' offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatorSpec {
    /// The replicator's name.
    pub name: String,
    /// The ARN of the cluster it reads from.
    pub source_cluster_arn: String,
    /// The ARN of the cluster it writes to (in the region it is created in).
    pub target_cluster_arn: String,
    /// The IAM role MSK Replicator acts as on both clusters.
    pub service_execution_role_arn: String,
}

/// An MSK Replicator as MSK describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatorState {
    /// The replicator's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// MSK's state (`CREATING`, `RUNNING`, `UPDATING`, `DELETING`, `FAILED`).
    pub state: String,
    /// The ARN of the cluster it reads from.
    pub source_cluster_arn: String,
    /// The ARN of the cluster it writes to.
    pub target_cluster_arn: String,
}

impl ReplicatorState {
    /// Whether the replicator is RUNNING (copying records).
    pub fn is_running(&self) -> bool {
        self.state == "RUNNING"
    }

    /// Whether it copies from `source_cluster_arn` to `target_cluster_arn`.
    pub fn connects(&self, source_cluster_arn: &str, target_cluster_arn: &str) -> bool {
        self.source_cluster_arn == source_cluster_arn
            && self.target_cluster_arn == target_cluster_arn
    }
}

#[cfg(test)]
mod reprotect_tests {
    use super::*;

    fn db(status: &str, source: Option<&str>) -> DatabaseState {
        DatabaseState {
            id: "emr-db".into(),
            status: status.into(),
            replica_source: source.map(str::to_string),
            tags: Default::default(),
        }
    }

    #[test]
    fn replicates_names_the_source_by_identifier_or_arn_and_needs_available() {
        let arn = "arn:aws:rds:us-west-2:123456789012:db:emr-db-dr";
        assert!(db("available", Some(arn)).replicates("emr-db-dr"));
        assert!(db("available", Some("EMR-DB-DR")).replicates("emr-db-dr"));
        assert!(!db("available", Some(arn)).replicates("emr-db"));
        assert!(
            !db("available", Some("arn:aws:rds:us-west-2:1:db:x-emr-db-dr"))
                .replicates("emr-db-dr")
        );
        assert!(!db("creating", Some(arn)).replicates("emr-db-dr"));
        assert!(db("creating", Some(arn)).is_replica_of("emr-db-dr"));
        assert!(!db("available", None).replicates("emr-db-dr"));
    }

    #[test]
    fn a_replicator_runs_only_when_running() {
        let mut r = ReplicatorState {
            name: "rev".into(),
            arn: "arn:r".into(),
            state: "CREATING".into(),
            source_cluster_arn: "arn:s".into(),
            target_cluster_arn: "arn:t".into(),
        };
        assert!(!r.is_running());
        r.state = "RUNNING".into();
        assert!(r.is_running());
        assert!(r.connects("arn:s", "arn:t"));
        assert!(!r.connects("arn:t", "arn:s"));
    }
}
