//! What each kind of step checks, does and verifies.
//!
//! Every mutating step is check → act → verify: [`postcondition`] reads the
//! cloud and says whether the step's goal already holds; [`act`] makes the
//! one idempotent call that moves towards it; the executor then polls
//! [`postcondition`] until it holds or the step times out. The check-only
//! steps (preflight, the RPO gate, verify) are in `mod.rs`.

use crate::cloud::{
    ChangeId, ChangeStatus, Cloud, CloudError, CloudResult, ErrorKind, Fence, RecordType,
};
use crate::plan::{stream_target, Action};
use crate::policy::Policy;

/// Whether the step's postcondition holds. `change` is the change the step
/// made earlier, if any, which must also have propagated.
pub async fn postcondition<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
    change: Option<&ChangeId>,
) -> CloudResult<bool> {
    let holds = match action {
        Action::Preflight | Action::RpoGate | Action::Verify => true,
        Action::PromoteDatabase { region, replica } => {
            let db = cloud.get_database(region, replica).await?;
            db.ok_or_else(|| CloudError::not_found("rds:DescribeDBInstances", replica.clone()))?
                .is_promoted()
        }
        Action::ScaleNodeGroup {
            region,
            cluster,
            name,
            scaling,
        } => {
            let g = cloud.get_node_group(region, cluster, name).await?;
            g.ok_or_else(|| CloudError::not_found("eks:DescribeNodegroup", name.clone()))?
                .is_at(*scaling)
        }
        Action::FailoverCache {
            global_datastore,
            region,
            member,
        } => {
            let g = cloud.get_global_datastore(region, global_datastore).await?;
            g.ok_or_else(|| {
                CloudError::not_found(
                    "elasticache:DescribeGlobalReplicationGroups",
                    global_datastore.clone(),
                )
            })?
            .has_primary(member)
        }
        Action::SwitchStream { zone, name, .. } => {
            let want = stream_record(cloud, policy, action).await?;
            let have = cloud.get_record(zone, name, RecordType::Cname).await?;
            have.is_some_and(|h| h.points_like(&want))
        }
        Action::FlipDns { zone, record } => {
            let have = cloud.get_record(zone, &record.name, RecordType::A).await?;
            have.is_some_and(|h| h.points_like(record))
        }
    };
    if !holds {
        return Ok(false);
    }
    match change {
        Some(id) => Ok(cloud.get_change(id).await? == ChangeStatus::InSync),
        None => Ok(true),
    }
}

/// Makes the step's one idempotent call. Returns the change to wait for,
/// when the provider gives one.
pub async fn act<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
    fence: &Fence,
) -> CloudResult<Option<ChangeId>> {
    match action {
        Action::Preflight | Action::RpoGate | Action::Verify => Ok(None),
        Action::PromoteDatabase { region, replica } => cloud
            .ensure_promoted(region, replica, fence)
            .await
            .map(|()| None),
        Action::ScaleNodeGroup {
            region,
            cluster,
            name,
            scaling,
        } => cloud
            .ensure_scaling(region, cluster, name, *scaling, fence)
            .await
            .map(|()| None),
        Action::FailoverCache {
            global_datastore,
            region,
            member,
        } => cloud
            .ensure_primary_member(global_datastore, region, member, fence)
            .await
            .map(|()| None),
        Action::SwitchStream { zone, .. } => {
            let want = stream_record(cloud, policy, action).await?;
            cloud.ensure_record(zone, &want, fence).await
        }
        Action::FlipDns { zone, record } => cloud.ensure_record(zone, record, fence).await,
    }
}

/// The clients' record the stream step wants, read from the DR cluster,
/// which must be ACTIVE.
async fn stream_record<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
) -> CloudResult<crate::cloud::Record> {
    let Action::SwitchStream {
        region, cluster, ..
    } = action
    else {
        unreachable!("stream_record is only called for switch-stream");
    };
    let tier = policy
        .tiers
        .stream
        .as_ref()
        .expect("a switch-stream step implies a stream tier");
    let state = cloud
        .get_stream_cluster(region, cluster)
        .await?
        .ok_or_else(|| CloudError::not_found("kafka:ListClustersV2", cluster.clone()))?;
    if !state.is_active() {
        let msg = format!("MSK cluster {cluster} is {}, not ACTIVE", state.state);
        return Err(CloudError::new(
            ErrorKind::Conflict,
            "kafka:ListClustersV2",
            cluster.clone(),
            msg,
        ));
    }
    stream_target(tier, &state).ok_or_else(|| {
        let msg = format!("MSK cluster {cluster} reports no bootstrap brokers");
        CloudError::new(
            ErrorKind::Fatal,
            "kafka:GetBootstrapBrokers",
            cluster.clone(),
            msg,
        )
    })
}
