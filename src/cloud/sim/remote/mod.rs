//! One simulated cloud shared by several processes over HTTP.
//!
//! A local cluster runs three controller processes that must act on the
//! same world, as three sites act on the same AWS account: `drctl sim serve`
//! holds a [`SimCloud`] and answers [`SimCall`]s on `POST /sim/call`;
//! [`RemoteSim`] implements every cloud trait by sending them. Killing a
//! controller process then leaves the world (a promotion in flight, a
//! Route 53 change pending) exactly as a crashed controller leaves AWS.

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reach::Outage;
use super::SimCloud;
use crate::cloud::{
    Cache, Capacity, ChangeId, CloudError, CloudResult, ClusterEndpoint, Database, Dns, DrHealth,
    ErrorKind, NodeGroups, Permissions, Record, RecordType, ReplicatorSpec, Resolver,
    RoutingControl, Scaling, Stream,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Fence;
use crate::model::Op;

mod client;

pub use client::RemoteSim;

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

#[cfg(test)]
mod tests;
