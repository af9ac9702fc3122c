//! One simulated cloud shared by several processes over HTTP.
//!
//! A local cluster runs three controller processes that must act on the
//! same world, as three sites act on the same AWS account: `drctl sim serve`
//! holds a [`SimCloud`] and answers [`SimCall`]s on `POST /sim/call`;
//! [`RemoteSim`] implements every cloud trait by sending them. Killing a
//! controller process then leaves the world (a promotion in flight, a
//! Route 53 change pending) exactly as a crashed controller leaves AWS.

use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reach::Outage;
use super::SimCloud;
use crate::cloud::{
    Cache, Capacity, ChangeId, ChangeStatus, CloudError, CloudResult, ClusterEndpoint, Database,
    DatabaseState, Dns, DrHealth, ErrorKind, ExposureSource, GlobalDatastoreState, Measurement,
    NodeGroupState, NodeGroups, Permissions, Record, RecordType, ReplicationGroupState,
    ReplicatorSpec, ReplicatorState, Resolved, Resolver, RoutingControl, Scaling, Stream,
    StreamClusterState,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Fence;
use crate::model::Op;
use crate::policy::Policy;
use futures::future::BoxFuture;

/// One trait call, as sent over the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SimCall {
    GetVcpuQuota {
        region: String,
    },
    GetVcpusInUse {
        region: String,
    },
    GetNodeVcpus {
        region: String,
        cluster: String,
        name: String,
    },
    SimulateActions {
        actions: Vec<String>,
    },
    SimulateActionsFor {
        principal: String,
        actions: Vec<String>,
    },
    GetTargetHealth {
        region: String,
        arn: String,
    },
    GetReplicatorState {
        region: String,
        name: String,
    },
    GetDatabase {
        region: String,
        id: String,
    },
    EnsurePromoted {
        region: String,
        id: String,
        fence: Fence,
    },
    SetWritersFenced {
        region: String,
        tier: String,
        fenced: bool,
    },
    WritersFenced {
        region: String,
        tier: String,
    },
    EnsureRenamed {
        region: String,
        id: String,
        renamed: String,
        tags: Vec<(String, String)>,
        fence: Fence,
    },
    GetNodeGroup {
        region: String,
        cluster: String,
        name: String,
    },
    EnsureScaling {
        region: String,
        cluster: String,
        name: String,
        scaling: Scaling,
        fence: Fence,
    },
    GetRecord {
        zone: String,
        name: String,
        rtype: RecordType,
    },
    EnsureRecord {
        zone: String,
        want: Record,
        fence: Fence,
    },
    GetChange {
        id: ChangeId,
    },
    GetGlobalDatastore {
        region: String,
        id: String,
    },
    EnsurePrimaryMember {
        id: String,
        region: String,
        member: String,
        fence: Fence,
    },
    GetReplicationGroup {
        region: String,
        id: String,
    },
    EnsureDisassociated {
        id: String,
        region: String,
        member: String,
        fence: Fence,
    },
    GetRoutingControlState {
        endpoint: ClusterEndpoint,
        arn: String,
    },
    UpdateRoutingControlStates {
        endpoint: ClusterEndpoint,
        states: Vec<(String, bool)>,
        fence: Fence,
    },
    Resolve {
        name: String,
    },
    GetStreamCluster {
        region: String,
        name: String,
    },
    Exposure {
        region: String,
        tier: DataTier,
    },
    EnsureReadReplica {
        region: String,
        id: String,
        source_region: String,
        source_id: String,
        fence: Fence,
    },
    EnsureGlobalDatastore {
        region: String,
        suffix: String,
        primary_member: String,
        fence: Fence,
    },
    EnsureSecondaryMember {
        global_datastore: String,
        region: String,
        member: String,
        fence: Fence,
    },
    GetReplicator {
        region: String,
        name: String,
    },
    EnsureReplicator {
        region: String,
        want: ReplicatorSpec,
        fence: Fence,
    },
}

/// A cloud error on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireError {
    kind: ErrorKind,
    op: String,
    resource: String,
    message: String,
}

impl From<WireError> for CloudError {
    fn from(w: WireError) -> Self {
        // The remote side's operation, among the known ones.
        let op = w.op.parse().unwrap_or(Op::SimCall);
        CloudError::new(w.kind, op, w.resource, w.message)
    }
}

fn to_value<T: Serialize>(r: CloudResult<T>) -> Result<Value, WireError> {
    r.map(|v| serde_json::to_value(v).expect("cloud values serialize"))
        .map_err(|e| WireError {
            kind: e.kind,
            op: e.op.to_string(),
            resource: e.resource,
            message: e.message,
        })
}

/// Makes `call` on `cloud`.
async fn dispatch(cloud: &SimCloud, call: SimCall) -> Result<Value, WireError> {
    use SimCall as C;
    match call {
        C::GetDatabase { region, id } => to_value(cloud.get_database(&region, &id).await),
        C::GetVcpuQuota { region } => to_value(cloud.get_vcpu_quota(&region).await),
        C::GetVcpusInUse { region } => to_value(cloud.get_vcpus_in_use(&region).await),
        C::GetNodeVcpus {
            region,
            cluster,
            name,
        } => to_value(cloud.get_node_vcpus(&region, &cluster, &name).await),
        C::SimulateActions { actions } => to_value(cloud.simulate_actions(&actions).await),
        C::SimulateActionsFor { principal, actions } => {
            to_value(cloud.simulate_actions_for(&principal, &actions).await)
        }
        C::GetTargetHealth { region, arn } => {
            to_value(cloud.get_target_health(&region, &arn).await)
        }
        C::GetReplicatorState { region, name } => {
            to_value(cloud.get_replicator_state(&region, &name).await)
        }
        C::EnsurePromoted { region, id, fence } => {
            to_value(cloud.ensure_promoted(&region, &id, &fence).await)
        }
        C::SetWritersFenced {
            region,
            tier,
            fenced,
        } => to_value(cloud.set_writers_fenced(&region, &tier, fenced).await),
        C::WritersFenced { region, tier } => to_value(cloud.writers_fenced(&region, &tier).await),
        C::EnsureRenamed {
            region,
            id,
            renamed,
            tags,
            fence,
        } => to_value(
            cloud
                .ensure_renamed(&region, &id, &renamed, &tags, &fence)
                .await,
        ),
        C::GetNodeGroup {
            region,
            cluster,
            name,
        } => to_value(cloud.get_node_group(&region, &cluster, &name).await),
        C::EnsureScaling {
            region,
            cluster,
            name,
            scaling,
            fence,
        } => to_value(
            cloud
                .ensure_scaling(&region, &cluster, &name, scaling, &fence)
                .await,
        ),
        C::GetRecord { zone, name, rtype } => to_value(cloud.get_record(&zone, &name, rtype).await),
        C::EnsureRecord { zone, want, fence } => {
            to_value(cloud.ensure_record(&zone, &want, &fence).await)
        }
        C::GetChange { id } => to_value(cloud.get_change(&id).await),
        C::GetGlobalDatastore { region, id } => {
            to_value(cloud.get_global_datastore(&region, &id).await)
        }
        C::EnsurePrimaryMember {
            id,
            region,
            member,
            fence,
        } => to_value(
            cloud
                .ensure_primary_member(&id, &region, &member, &fence)
                .await,
        ),
        C::GetReplicationGroup { region, id } => {
            to_value(cloud.get_replication_group(&region, &id).await)
        }
        C::EnsureDisassociated {
            id,
            region,
            member,
            fence,
        } => to_value(
            cloud
                .ensure_disassociated(&id, &region, &member, &fence)
                .await,
        ),
        C::GetRoutingControlState { endpoint, arn } => {
            to_value(cloud.get_routing_control_state(&endpoint, &arn).await)
        }
        C::UpdateRoutingControlStates {
            endpoint,
            states,
            fence,
        } => to_value(
            cloud
                .update_routing_control_states(&endpoint, &states, &fence)
                .await,
        ),
        C::Resolve { name } => to_value(cloud.resolve(&name).await),
        C::GetStreamCluster { region, name } => {
            to_value(cloud.get_stream_cluster(&region, &name).await)
        }
        C::Exposure { region, tier } => to_value(cloud.sim_exposure(&region, tier).await),
        C::EnsureReadReplica {
            region,
            id,
            source_region,
            source_id,
            fence,
        } => to_value(
            cloud
                .ensure_read_replica(&region, &id, &source_region, &source_id, &fence)
                .await,
        ),
        C::EnsureGlobalDatastore {
            region,
            suffix,
            primary_member,
            fence,
        } => to_value(
            cloud
                .ensure_global_datastore(&region, &suffix, &primary_member, &fence)
                .await,
        ),
        C::EnsureSecondaryMember {
            global_datastore,
            region,
            member,
            fence,
        } => to_value(
            cloud
                .ensure_secondary_member(&global_datastore, &region, &member, &fence)
                .await,
        ),
        C::GetReplicator { region, name } => to_value(cloud.get_replicator(&region, &name).await),
        C::EnsureReplicator {
            region,
            want,
            fence,
        } => to_value(cloud.ensure_replicator(&region, &want, &fence).await),
    }
}

/// A data tier's replication lag, as `PUT /sim/lag` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LagSetting {
    /// The tier.
    pub tier: DataTier,
    /// Its lag.
    pub exposure: Exposure,
}

/// The routes of `drctl sim serve`: `POST /sim/call`, `GET /sim/mutations`
/// (accepted mutations per operation), `GET /sim/calls` (calls per
/// service, region and plane), `GET|PUT /sim/outage` (what the sites cannot
/// reach), `PUT /sim/lag`, `GET /healthz`.
pub fn router(cloud: SimCloud) -> Router {
    async fn call(
        State(cloud): State<SimCloud>,
        headers: axum::http::HeaderMap,
        Json(call): Json<SimCall>,
    ) -> Json<Result<Value, WireError>> {
        let site = headers.get(SITE_HEADER).and_then(|v| v.to_str().ok());
        let cloud = match site {
            Some(site) => cloud.as_site(site),
            None => cloud,
        };
        Json(dispatch(&cloud, call).await)
    }
    Router::new()
        .route("/sim/call", post(call))
        .route(
            "/sim/mutations",
            get(|State(c): State<SimCloud>| async move { Json(c.mutations()) }),
        )
        .route(
            "/sim/calls",
            get(|State(c): State<SimCloud>| async move { Json(c.call_counts()) }),
        )
        .route(
            "/sim/outage",
            get(|State(c): State<SimCloud>| async move { Json(c.outage()) }).put(
                |State(c): State<SimCloud>, Json(o): Json<Outage>| async move {
                    c.set_outage(o);
                    Json(c.outage())
                },
            ),
        )
        .route(
            "/sim/lag",
            put(
                |State(c): State<SimCloud>, Json(l): Json<LagSetting>| async move {
                    c.set_lag(l.tier, l.exposure);
                    Json(l)
                },
            ),
        )
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .with_state(cloud)
}

/// The header that names the calling site's region, so that a site in a
/// region under outage reaches nothing.
const SITE_HEADER: &str = "x-drctl-site";

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

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::SimOptions;
    use crate::execute::{self, ExecutionStatus, MemoryJournal, RunOptions};
    use std::sync::Arc;

    /// A whole failover through the wire equals one on the world itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failover_through_the_wire_acts_on_the_served_world() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("poll_interval: 1s", "poll_interval: 50ms");
        let policy = Arc::new(crate::policy::parse(&path, &text).unwrap());
        let world = SimCloud::new(
            &policy,
            SimOptions {
                latency: super::super::LatencyModel::default().scaled(0.002),
                ..SimOptions::default()
            },
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = world.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router(served)).await });
        let remote = Arc::new(RemoteSim::new(&url));
        let record = execute::execute(
            remote,
            policy,
            &mut MemoryJournal::default(),
            RunOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(record.status, ExecutionStatus::Completed, "{record:#?}");
        assert_eq!(
            world.mutations().get(Op::PromoteReadReplica.as_str()),
            Some(&1)
        );
        // Errors cross the wire with their kind and operation.
        let missing = RemoteSim::new(&url)
            .get_node_group("us-west-2", "nope", "x")
            .await;
        assert!(matches!(
            missing,
            Ok(None)
                | Err(CloudError {
                    kind: ErrorKind::NotFound,
                    ..
                })
        ));
        server.abort();
    }

    #[test]
    fn a_wire_error_keeps_its_operation_and_an_unknown_one_reads_as_the_remote_call() {
        let wire = |op: &str| WireError {
            kind: ErrorKind::Conflict,
            op: op.to_string(),
            resource: "r".into(),
            message: "m".into(),
        };
        let known = CloudError::from(wire("rds:PromoteReadReplica"));
        assert_eq!(known.op, Op::PromoteReadReplica);
        assert_eq!(known.kind, ErrorKind::Conflict);
        assert_eq!(CloudError::from(wire("rds:Explode")).op, Op::SimCall);
        // And back: the wire spells the operation as Op does.
        let sent = to_value::<()>(Err(known)).unwrap_err();
        assert_eq!(sent.op, "rds:PromoteReadReplica");
    }
}
