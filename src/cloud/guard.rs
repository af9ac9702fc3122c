//! A lease check in front of every mutating cloud call.
//!
//! The leader confirms its leadership when a step begins, but one step's
//! retries can go on for a long time, and a leader cut off from the
//! majority in the meantime may already be replaced. [`Guarded`] wraps a
//! cloud and asks its [`Lease`] immediately before each mutating call
//! (every `ensure_*` and `update_*` method); reads pass through unchecked.
//! A refused call is not sent: it fails with a `Retryable` [`CloudError`]
//! whose message says why, so the step's retry budget applies and each
//! retry is checked again (a leader whose lease merely lapsed for a moment
//! goes on once a majority acknowledges it; a deposed one never sends).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{
    Cache, ChangeId, ChangeStatus, CloudError, CloudResult, ClusterEndpoint, Database,
    DatabaseState, Dns, ErrorKind, ExposureSource, GlobalDatastoreState, Measurement,
    NodeGroupState, NodeGroups, Record, RecordType, ReplicationGroupState, ReplicatorSpec,
    ReplicatorState, Resolved, Resolver, RoutingControl, Scaling, Stream, StreamClusterState,
};
use crate::model::Op;
use crate::model::{DataTier, Fence};
use crate::policy::Policy;

/// Whether this node may make a mutating call now. A cheap, synchronous
/// check (no network): it runs before every mutating call.
pub trait Lease: Send + Sync {
    /// `Ok` when a call of `op` under `fence` may be sent; otherwise why not.
    /// Implementations count their own refusals (metrics).
    ///
    /// # Errors
    ///
    /// Why the call may not be sent.
    fn check(&self, op: Op, fence: &Fence) -> Result<(), String>;
}

impl<F: Fn(Op, &Fence) -> Result<(), String> + Send + Sync> Lease for F {
    fn check(&self, op: Op, fence: &Fence) -> Result<(), String> {
        self(op, fence)
    }
}

/// A cloud whose mutating calls are sent only while [`Lease`] allows them.
pub struct Guarded<C: ?Sized> {
    inner: Arc<C>,
    lease: Arc<dyn Lease>,
    refused: AtomicU64,
}

impl<C: ?Sized> Guarded<C> {
    /// Wraps `inner`; `lease` is asked before each mutating call.
    pub fn new(inner: Arc<C>, lease: Arc<dyn Lease>) -> Self {
        Self {
            inner,
            lease,
            refused: AtomicU64::new(0),
        }
    }

    /// How many mutating calls were refused (not sent) so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn allow(&self, op: Op, resource: String, fence: &Fence) -> CloudResult<()> {
        self.lease.check(op, fence).map_err(|why| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(op = op.as_str(), %resource, epoch = %fence.epoch, %why, "mutating call refused by the lease check; not sent");
            CloudError::new(
                ErrorKind::Retryable,
                op,
                resource,
                format!("fenced, not sent: {why}"),
            )
        })
    }
}

impl<C: Database + ?Sized> Database for Guarded<C> {
    async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        self.inner.get_database(region, id).await
    }

    async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        self.allow(Op::PromoteReadReplica, format!("{region}/{id}"), fence)?;
        self.inner.ensure_promoted(region, id, fence).await
    }

    async fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> CloudResult<()> {
        self.allow(Op::ModifyDbInstance, format!("{region}/{id}"), fence)?;
        self.inner
            .ensure_renamed(region, id, renamed, tags, fence)
            .await
    }

    async fn ensure_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateDbInstanceReadReplica;
        self.allow(op, format!("{region}/{id}"), fence)?;
        self.inner
            .ensure_read_replica(region, id, source_region, source_id, fence)
            .await
    }
}

impl<C: NodeGroups + ?Sized> NodeGroups for Guarded<C> {
    async fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<NodeGroupState>> {
        self.inner.get_node_group(region, cluster, name).await
    }

    async fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        let resource = format!("{region}/{cluster}/{name}");
        self.allow(Op::UpdateNodegroupConfig, resource, fence)?;
        self.inner
            .ensure_scaling(region, cluster, name, scaling, fence)
            .await
    }
}

impl<C: Dns + ?Sized> Dns for Guarded<C> {
    async fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<Record>> {
        self.inner.get_record(zone, name, rtype).await
    }

    async fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<Option<ChangeId>> {
        let resource = format!("{zone}/{}", want.name);
        self.allow(Op::ChangeResourceRecordSets, resource, fence)?;
        self.inner.ensure_record(zone, want, fence).await
    }

    async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        self.inner.get_change(id).await
    }
}

impl<C: Cache + ?Sized> Cache for Guarded<C> {
    async fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<GlobalDatastoreState>> {
        self.inner.get_global_datastore(region, id).await
    }

    async fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::FailoverGlobalReplicationGroup;
        self.allow(op, format!("{id}/{region}/{member}"), fence)?;
        self.inner
            .ensure_primary_member(id, region, member, fence)
            .await
    }

    async fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroupState>> {
        self.inner.get_replication_group(region, id).await
    }

    async fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::DisassociateGlobalReplicationGroup;
        self.allow(op, format!("{id}/{region}/{member}"), fence)?;
        self.inner
            .ensure_disassociated(id, region, member, fence)
            .await
    }

    async fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        let op = Op::CreateGlobalReplicationGroup;
        self.allow(op, format!("{region}/{primary_member}"), fence)?;
        self.inner
            .ensure_global_datastore(region, suffix, primary_member, fence)
            .await
    }

    async fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateReplicationGroup;
        self.allow(op, format!("{global_datastore}/{region}/{member}"), fence)?;
        self.inner
            .ensure_secondary_member(global_datastore, region, member, fence)
            .await
    }
}

impl<C: Stream + ?Sized> Stream for Guarded<C> {
    async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        self.inner.get_stream_cluster(region, name).await
    }

    async fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        self.inner.get_replicator(region, name).await
    }

    async fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateReplicator;
        self.allow(op, format!("{region}/{}", want.name), fence)?;
        self.inner.ensure_replicator(region, want, fence).await
    }
}

impl<C: RoutingControl + ?Sized> RoutingControl for Guarded<C> {
    async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        self.inner.get_routing_control_state(endpoint, arn).await
    }

    async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> CloudResult<()> {
        let resource = states
            .iter()
            .map(|(arn, _)| arn.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.allow(Op::UpdateRoutingControlStates, resource, fence)?;
        self.inner
            .update_routing_control_states(endpoint, states, fence)
            .await
    }
}

impl<C: Resolver + ?Sized> Resolver for Guarded<C> {
    async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        self.inner.resolve(name).await
    }
}

impl<C: ExposureSource + ?Sized> ExposureSource for Guarded<C> {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        self.inner.exposure(policy, tier)
    }
}

#[cfg(test)]
mod tests;

impl<C: crate::cloud::Writers + ?Sized> crate::cloud::Writers for Guarded<C> {
    fn writer_fences(
        &self,
        policy: &crate::policy::Policy,
        restore: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn crate::fence::WriterFence>>, String> {
        self.inner.writer_fences(policy, restore)
    }
}
