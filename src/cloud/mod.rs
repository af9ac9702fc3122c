//! The cloud boundary: one small trait per capability the failover needs.
//!
//! Each trait has `get_*` methods that only read and `ensure_*` methods that
//! converge a resource towards a wanted state. `ensure_*` is idempotent: when
//! the resource is already as wanted it makes no mutating call. Waiting for a
//! change to settle is not the adapters' job: the executor polls `get_*` until
//! the step's postcondition holds, so the same waiting, timeouts and journaling
//! apply to every provider.
//!
//! Two implementations exist: [`aws`] (the AWS SDK) and [`sim`] (an in-memory
//! world with a latency model and seeded faults, used by drills and tests).

pub mod aws;
mod calls;
mod error;
mod exposure;
pub mod guard;
mod readiness;
mod routing;
pub mod sim;
mod token;
mod types;

pub use calls::{CallCount, CallSite, Plane, ROUTE53_CONTROL_REGION};
pub use error::{CloudError, ErrorKind};
pub use exposure::{ExposureSource, Measurement};
pub use guard::{Guarded, Lease};
pub use readiness::{
    vcpus_of_instance_type, Capacity, DrHealth, Permissions, Simulated, TargetHealth,
    VCPU_QUOTA_CODE,
};
pub use routing::{through_endpoints, ClusterEndpoint, RoutingControl, ENDPOINT_TIMEOUT};
pub use token::TOKEN_MAX;
pub use types::*;

use std::future::Future;

use crate::model::Fence;

/// The result of a cloud call.
pub type CloudResult<T> = Result<T, CloudError>;

/// RDS: the cross-region read replica and its promotion.
pub trait Database: Send + Sync {
    /// Reads one DB instance, `None` when it does not exist.
    fn get_database(
        &self,
        region: &str,
        id: &str,
    ) -> impl Future<Output = CloudResult<Option<DatabaseState>>> + Send;

    /// Promotes a read replica to a standalone instance. Makes no call when the
    /// instance is already standalone. A replica that cannot be promoted yet
    /// (`backing-up`, `modifying`, ...) is a `Conflict` naming its status:
    /// the caller waits and asks again; nothing is assumed to be in flight.
    fn ensure_promoted(
        &self,
        region: &str,
        id: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;

    /// Fences the old primary `id` after a failover: tags it with `tags`
    /// (AddTagsToResource), then renames it to `renamed` (ModifyDBInstance
    /// with NewDBInstanceIdentifier, applied immediately) so that its
    /// endpoint no longer answers under the name clients use. The instance
    /// keeps running, with its data, for a person to recover. Makes no call
    /// when `id` is gone and `renamed` exists (fenced already, or renaming).
    fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;

    /// Creates `id` in `region` as a read replica of `source_id` in
    /// `source_region` (CreateDBInstanceReadReplica called in `region`,
    /// SourceDBInstanceIdentifier = the source's ARN, SourceRegion), tagged
    /// with the execution and epoch of `fence`. No call when `id` exists
    /// and replicates `source_id` (or is being created as its replica);
    /// `Conflict` naming `id` when it exists otherwise. The replica starts
    /// `creating`; the caller polls [`Database::get_database`] until
    /// [`DatabaseState::replicates`] holds.
    fn ensure_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// EKS: the DR cluster's managed node groups.
pub trait NodeGroups: Send + Sync {
    /// Reads one node group, `None` when it (or its cluster) does not exist.
    fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<NodeGroupState>>> + Send;

    /// Sets the node group's scaling configuration. Makes no call when it
    /// already has this configuration.
    fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: Scaling,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// Route 53: records in hosted zones, and their changes.
pub trait Dns: Send + Sync {
    /// Reads the record set `name`/`rtype` in the zone named `zone`
    /// (`None` when absent). Fails with `NotFound` when the zone is absent.
    fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = CloudResult<Option<Record>>> + Send;

    /// Makes the record equal to `want` in one all-or-nothing change batch
    /// whose comment names the execution. Returns the change to wait for, or
    /// `None` when the record was already as wanted and nothing was sent.
    fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<Option<ChangeId>>> + Send;

    /// Reads the propagation status of a change.
    fn get_change(&self, id: &ChangeId) -> impl Future<Output = CloudResult<ChangeStatus>> + Send;
}

/// ElastiCache: the Global Datastore and its members.
pub trait Cache: Send + Sync {
    /// Reads a Global Datastore with its members, `None` when absent,
    /// through `region`'s endpoint. Any member region can answer; drctl reads
    /// through the DR region, the one still standing when the primary is lost.
    fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> impl Future<Output = CloudResult<Option<GlobalDatastoreState>>> + Send;

    /// Fails the Global Datastore over so that `member` in `region` becomes
    /// primary (FailoverGlobalReplicationGroup, which needs the primary
    /// region to take part). Makes no call when it already is; a datastore
    /// busy with another change is a `Conflict`.
    fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;

    /// Reads one replication group in `region`, with its place in a Global
    /// Datastore, `None` when absent.
    fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> impl Future<Output = CloudResult<Option<ReplicationGroupState>>> + Send;

    /// Removes `member` in `region` from the Global Datastore `id`
    /// (DisassociateGlobalReplicationGroup, called in `region`, without the
    /// primary region): it stops replicating and serves as a standalone
    /// primary. Makes no call when it is no longer a member.
    fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;

    /// Creates a Global Datastore with `primary_member` in `region` as its
    /// primary (CreateGlobalReplicationGroup with suffix `suffix`, called in
    /// `region`). Returns the datastore's id (AWS prefixes the suffix). No
    /// call when `primary_member` is already the primary of a datastore
    /// whose id ends with `suffix` (returns that id); `Conflict` when it is
    /// a member of another datastore.
    fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<String>> + Send;

    /// Adds `member` in `region` as a secondary of `global_datastore`
    /// (CreateReplicationGroup with GlobalReplicationGroupId, called in
    /// `region`). No call when it already is one; `Conflict` when `member`
    /// exists otherwise. The member starts `creating`/`associating`; the
    /// caller polls [`Cache::get_global_datastore`] until it is associated.
    fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// MSK: the Kafka clusters and the replicators between them; clients are
/// switched through DNS, not here.
pub trait Stream: Send + Sync {
    /// Reads a cluster by name, `None` when absent.
    fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<StreamClusterState>>> + Send;

    /// Reads a replicator by name in `region` (the target cluster's
    /// region), `None` when absent.
    fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<ReplicatorState>>> + Send;

    /// Creates the replicator (CreateReplicator in `region`: source →
    /// target, every topic (`.*`) under its own name (TopicNameConfiguration
    /// IDENTICAL, as AWS recommends for failover), consumer-group offset
    /// sync on). No call when one with that name exists with the same
    /// source and target; `Conflict` otherwise. It starts `CREATING`; the
    /// caller polls [`Stream::get_replicator`] until it is RUNNING.
    fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// DNS as clients see it: answers from resolvers (the data plane), not
/// Route 53's API.
pub trait Resolver: Send + Sync {
    /// Resolves `name` (A/AAAA, following CNAMEs): the names on the way and
    /// the addresses at the end.
    fn resolve(&self, name: &str) -> impl Future<Output = CloudResult<Resolved>> + Send;
}

/// Where the application's writers are fenced: the policy's fencing
/// methods (database roles, cache users) built for its primary region.
pub trait Writers: Send + Sync {
    /// The writer fences of `policy`'s `fencing` section; `restore` holds
    /// the access strings an earlier fence recorded (ElastiCache), to
    /// unfence.
    ///
    /// # Errors
    ///
    /// A method's settings or password that cannot be used, naming the
    /// policy field.
    fn writer_fences(
        &self,
        policy: &crate::policy::Policy,
        restore: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn crate::fence::WriterFence>>, String>;
}

/// Everything the failover needs from one cloud. The provider's own
/// exposure figures come with it ([`ExposureSource`]); the executor may be
/// given another source (heartbeats) instead.
pub trait Cloud:
    Database + NodeGroups + Dns + Cache + Stream + RoutingControl + Resolver + ExposureSource + Writers
{
}

impl<T> Cloud for T where
    T: Database
        + NodeGroups
        + Dns
        + Cache
        + Stream
        + RoutingControl
        + Resolver
        + ExposureSource
        + Writers
{
}
