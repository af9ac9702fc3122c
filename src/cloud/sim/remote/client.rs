//! [`RemoteSim`]: every cloud trait, sent as a [`SimCall`] to the simulated
//! cloud another process serves.

use std::time::Duration;

use serde_json::Value;

use super::super::reach::Outage;
use crate::cloud::{
    Cache, ChangeId, ChangeStatus, CloudError, CloudResult, ClusterEndpoint, Database,
    DatabaseState, Dns, ErrorKind, ExposureSource, GlobalDatastoreState, Measurement,
    NodeGroupState, NodeGroups, Record, RecordType, ReplicationGroupState, ReplicatorSpec,
    ReplicatorState, Resolved, Resolver, RoutingControl, Scaling, Stream, StreamClusterState,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Fence;
use crate::model::Op;
use crate::policy::Policy;
use futures::future::BoxFuture;

use super::{LagSetting, SimCall, WireError, SITE_HEADER};

/// A simulated cloud served by another process.
#[derive(Debug, Clone)]
pub struct RemoteSim {
    http: reqwest::Client,
    url: String,
    site: Option<String>,
}

impl RemoteSim {
    /// A client of the simulated cloud at `url` (like `http://127.0.0.1:7100`).
    pub fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client with only timeouts set always builds"),
            url: url.trim_end_matches('/').to_string(),
            site: None,
        }
    }

    /// The same client, calling as a site in `region`.
    pub fn as_site(mut self, region: &str) -> Self {
        self.site = Some(region.to_string());
        self
    }

    pub(in crate::cloud::sim) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        call: SimCall,
    ) -> CloudResult<T> {
        let unreachable =
            |e: String| CloudError::new(ErrorKind::Retryable, Op::SimCall, self.url.clone(), e);
        let mut req = self.http.post(format!("{}/sim/call", self.url)).json(&call);
        if let Some(site) = &self.site {
            req = req.header(SITE_HEADER, site);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(format!("simulated cloud unreachable: {e}")))?;
        let body: Result<Value, WireError> = resp
            .json()
            .await
            .map_err(|e| unreachable(format!("bad reply from the simulated cloud: {e}")))?;
        let value = body.map_err(CloudError::from)?;
        serde_json::from_value(value)
            .map_err(|e| unreachable(format!("bad value from the simulated cloud: {e}")))
    }
}

impl RemoteSim {
    /// What the sites cannot reach now.
    pub async fn outage(&self) -> Result<Outage, String> {
        let resp = self
            .http
            .get(format!("{}/sim/outage", self.url))
            .send()
            .await
            .map_err(|e| format!("simulated cloud unreachable at {}: {e}", self.url))?;
        resp.json()
            .await
            .map_err(|e| format!("bad reply from the simulated cloud: {e}"))
    }

    /// Sets what the sites cannot reach; returns the outage now in force.
    pub async fn set_outage(&self, outage: &Outage) -> Result<Outage, String> {
        let resp = self
            .http
            .put(format!("{}/sim/outage", self.url))
            .json(outage)
            .send()
            .await
            .map_err(|e| format!("simulated cloud unreachable at {}: {e}", self.url))?;
        resp.json()
            .await
            .map_err(|e| format!("bad reply from the simulated cloud: {e}"))
    }

    /// Sets a data tier's replication lag.
    pub async fn set_lag(&self, tier: DataTier, exposure: Exposure) -> Result<(), String> {
        self.http
            .put(format!("{}/sim/lag", self.url))
            .json(&LagSetting { tier, exposure })
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("simulated cloud unreachable at {}: {e}", self.url))?;
        Ok(())
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

impl Database for RemoteSim {
    async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        self.call(SimCall::GetDatabase {
            region: s(region),
            id: s(id),
        })
        .await
    }

    async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        let fence = fence.clone();
        self.call(SimCall::EnsurePromoted {
            region: s(region),
            id: s(id),
            fence,
        })
        .await
    }

    async fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> CloudResult<()> {
        self.call(SimCall::EnsureRenamed {
            region: s(region),
            id: s(id),
            renamed: s(renamed),
            tags: tags.to_vec(),
            fence: fence.clone(),
        })
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
        self.call(SimCall::EnsureReadReplica {
            region: s(region),
            id: s(id),
            source_region: s(source_region),
            source_id: s(source_id),
            fence: fence.clone(),
        })
        .await
    }
}

impl NodeGroups for RemoteSim {
    async fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<NodeGroupState>> {
        let (region, cluster, name) = (s(region), s(cluster), s(name));
        self.call(SimCall::GetNodeGroup {
            region,
            cluster,
            name,
        })
        .await
    }

    async fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        let (region, cluster, name, fence) = (s(region), s(cluster), s(name), fence.clone());
        self.call(SimCall::EnsureScaling {
            region,
            cluster,
            name,
            scaling,
            fence,
        })
        .await
    }
}

impl Dns for RemoteSim {
    async fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<Record>> {
        self.call(SimCall::GetRecord {
            zone: s(zone),
            name: s(name),
            rtype,
        })
        .await
    }

    async fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<Option<ChangeId>> {
        let (want, fence) = (want.clone(), fence.clone());
        self.call(SimCall::EnsureRecord {
            zone: s(zone),
            want,
            fence,
        })
        .await
    }

    async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        self.call(SimCall::GetChange { id: id.clone() }).await
    }
}

impl Cache for RemoteSim {
    async fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<GlobalDatastoreState>> {
        self.call(SimCall::GetGlobalDatastore {
            region: s(region),
            id: s(id),
        })
        .await
    }

    async fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let (id, region, member, fence) = (s(id), s(region), s(member), fence.clone());
        self.call(SimCall::EnsurePrimaryMember {
            id,
            region,
            member,
            fence,
        })
        .await
    }

    async fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroupState>> {
        self.call(SimCall::GetReplicationGroup {
            region: s(region),
            id: s(id),
        })
        .await
    }

    async fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.call(SimCall::EnsureDisassociated {
            id: s(id),
            region: s(region),
            member: s(member),
            fence: fence.clone(),
        })
        .await
    }

    async fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        self.call(SimCall::EnsureGlobalDatastore {
            region: s(region),
            suffix: s(suffix),
            primary_member: s(primary_member),
            fence: fence.clone(),
        })
        .await
    }

    async fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.call(SimCall::EnsureSecondaryMember {
            global_datastore: s(global_datastore),
            region: s(region),
            member: s(member),
            fence: fence.clone(),
        })
        .await
    }
}

impl RoutingControl for RemoteSim {
    async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        self.call(SimCall::GetRoutingControlState {
            endpoint: endpoint.clone(),
            arn: s(arn),
        })
        .await
    }

    async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> CloudResult<()> {
        self.call(SimCall::UpdateRoutingControlStates {
            endpoint: endpoint.clone(),
            states: states.to_vec(),
            fence: fence.clone(),
        })
        .await
    }
}

impl Resolver for RemoteSim {
    async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        self.call(SimCall::Resolve { name: s(name) }).await
    }
}

impl ExposureSource for RemoteSim {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        Box::pin(self.call(SimCall::Exposure {
            region: policy.regions.secondary.clone(),
            tier,
        }))
    }
}

impl Stream for RemoteSim {
    async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        self.call(SimCall::GetStreamCluster {
            region: s(region),
            name: s(name),
        })
        .await
    }

    async fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        self.call(SimCall::GetReplicator {
            region: s(region),
            name: s(name),
        })
        .await
    }

    async fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.call(SimCall::EnsureReplicator {
            region: s(region),
            want: want.clone(),
            fence: fence.clone(),
        })
        .await
    }
}
