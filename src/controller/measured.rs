//! The cloud as the executor sees it on a controller node: every call goes
//! to the provider, except the data-loss exposure of a tier the policy
//! measures with heartbeats, which comes from the sites' rounds instead.
//! So the RPO gate, both when a failover is decided and in its journaled
//! step right before promotion, uses the measured figure.

use std::sync::Arc;

use super::Context;
use crate::cloud::*;
use crate::plan::DataTier;

/// A cloud whose heartbeat-measured exposures come from the detector.
pub(super) struct Measured<C> {
    pub inner: Arc<C>,
    pub ctx: Context,
}

impl<C> Measured<C> {
    /// The measured exposure of `tier` for the policy whose resource is
    /// `id`, when that policy has a heartbeat for the tier.
    fn measured(&self, tier: DataTier, id: &str) -> Option<Exposure> {
        let policy = self.ctx.policies.values().find(|p| {
            let hb = &p.detection.heartbeats;
            match tier {
                DataTier::Database => {
                    hb.database.is_some()
                        && p.tiers.database.as_ref().is_some_and(|d| d.replica == id)
                }
                DataTier::Cache => {
                    hb.cache.is_some()
                        && p.tiers
                            .cache
                            .as_ref()
                            .is_some_and(|c| c.global_datastore == id)
                }
                DataTier::Stream => false,
            }
        })?;
        Some(
            self.ctx
                .exposures(policy)
                .get(&tier)
                .map_or(Exposure::Unknown, |(e, _)| *e),
        )
    }
}

impl<C: Database> Database for Measured<C> {
    async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        self.inner.get_database(region, id).await
    }

    async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        self.inner.ensure_promoted(region, id, fence).await
    }

    async fn database_exposure(&self, region: &str, id: &str) -> CloudResult<Exposure> {
        match self.measured(DataTier::Database, id) {
            Some(e) => Ok(e),
            None => self.inner.database_exposure(region, id).await,
        }
    }
}

impl<C: NodeGroups> NodeGroups for Measured<C> {
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
        self.inner
            .ensure_scaling(region, cluster, name, scaling, fence)
            .await
    }
}

impl<C: Dns> Dns for Measured<C> {
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
        self.inner.ensure_record(zone, want, fence).await
    }

    async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        self.inner.get_change(id).await
    }
}

impl<C: Cache> Cache for Measured<C> {
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
        self.inner
            .ensure_primary_member(id, region, member, fence)
            .await
    }

    async fn cache_exposure(&self, id: &str, region: &str) -> CloudResult<Exposure> {
        match self.measured(DataTier::Cache, id) {
            Some(e) => Ok(e),
            None => self.inner.cache_exposure(id, region).await,
        }
    }
}

impl<C: Stream> Stream for Measured<C> {
    async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        self.inner.get_stream_cluster(region, name).await
    }

    async fn stream_exposure(&self, region: &str, name: &str) -> CloudResult<Exposure> {
        self.inner.stream_exposure(region, name).await
    }
}
