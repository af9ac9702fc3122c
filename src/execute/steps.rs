//! What each kind of step checks, does and verifies.
//!
//! Every mutating step is check → act → verify: [`postcondition`] reads the
//! cloud and says whether the step's goal already holds; [`act`] makes the
//! one idempotent call that moves towards it; the executor then polls
//! [`postcondition`] until it holds or the step times out. The check-only
//! steps (preflight, the RPO gate, verify) are in `run_step.rs`; the cache
//! step, which may fall back to a disassociation, is in `cache_step.rs`.

use std::time::Duration;

use super::observe::routing_view;
use crate::cloud::{
    through_endpoints, ChangeId, ChangeStatus, Cloud, CloudError, CloudResult, ErrorKind,
    RecordTarget, RecordType, ENDPOINT_TIMEOUT,
};
use crate::model::Fence;
use crate::model::Op;
use crate::plan::{stream_target, Action};
use crate::policy::{Policy, RoutingControlPair};

/// How long DNS may take beyond a record's TTL to answer with the new
/// target once the routing controls are set: Route 53's health checkers
/// need a few intervals to notice the change.
pub const DNS_MARGIN: Duration = Duration::from_secs(90);

/// How long a reprotect step may wait for a new replica to be made and to
/// replicate, beyond a failover step's timeout: RDS builds a cross-region
/// read replica in tens of minutes (more for a large instance), and a Global
/// Datastore member or an MSK Replicator takes up to half an hour.
pub const CREATION_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// Whether the step's postcondition holds. `change` is the change the step
/// made earlier, if any, which must also have propagated.
pub async fn postcondition<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
    change: Option<&ChangeId>,
) -> CloudResult<bool> {
    if let Some(holds) = super::reprotect_steps::postcondition(cloud, policy, action).await {
        return holds;
    }
    if let Some(holds) = super::quiesce::postcondition(cloud, policy, action).await {
        return holds;
    }
    let holds = match action {
        Action::Preflight | Action::RpoGate | Action::Verify => true,
        a @ (Action::PreflightReprotect
        | Action::CreateReplicaDatabase { .. }
        | Action::AddCacheSecondary { .. }
        | Action::CreateReverseReplicator { .. }
        | Action::WaitReplication
        | Action::SwitchRoles { .. }
        | Action::PreflightFailback
        | Action::QuiesceWriters { .. }
        | Action::Drain { .. }
        | Action::LiftQuiesce { .. }
        | Action::UndoQuiesce { .. }
        | Action::RenameOldPrimary { .. }) => return Err(not_a_failover_step(a)),
        Action::PromoteDatabase { region, replica } => {
            let db = cloud.get_database(region, replica).await?;
            db.ok_or_else(|| CloudError::not_found(Op::DescribeDbInstances, replica.clone()))?
                .is_promoted()
        }
        Action::ScaleNodeGroup {
            region,
            cluster,
            name,
            scaling,
        } => {
            let g = cloud.get_node_group(region, cluster, name).await?;
            g.ok_or_else(|| CloudError::not_found(Op::DescribeNodegroup, name.clone()))?
                .is_at(*scaling)
        }
        Action::FailoverCache { region, member, .. } => {
            let g = cloud.get_replication_group(region, member).await?;
            g.ok_or_else(|| CloudError::not_found(Op::DescribeReplicationGroups, member.clone()))?
                .serves_writes()
        }
        Action::SwitchStream {
            name,
            routing: Some(pair),
            ..
        } => {
            let want = stream_record(cloud, policy, action).await?;
            let target = target_name(&want);
            routing_view(cloud, policy, pair, name, Some(&target))
                .await?
                .switched()
        }
        Action::SwitchStream { zone, name, .. } => {
            let want = stream_record(cloud, policy, action).await?;
            let have = cloud.get_record(zone, name, RecordType::Cname).await?;
            have.is_some_and(|h| h.points_like(&want))
        }
        Action::FlipDns {
            record,
            routing: Some(pair),
            ..
        } => {
            let target = target_name(record);
            routing_view(cloud, policy, pair, &record.name, Some(&target))
                .await?
                .switched()
        }
        Action::FlipDns { zone, record, .. } => {
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

/// The longest one attempt of the step's calls may take: the policy's call
/// timeout, or, for a routing-control switch, long enough to try every
/// cluster endpoint in turn ([`ENDPOINT_TIMEOUT`] each), so that endpoints
/// that do not answer never use up the attempt before one that does.
pub fn attempt_limit(policy: &Policy, action: &Action) -> Duration {
    let call = policy.execution.call_timeout;
    let routes = matches!(
        action,
        Action::FlipDns {
            routing: Some(_),
            ..
        } | Action::SwitchStream {
            routing: Some(_),
            ..
        }
    );
    if !routes {
        return call;
    }
    let endpoints = policy
        .routing_control
        .as_ref()
        .map_or(0, |r| r.endpoints.len());
    let all = ENDPOINT_TIMEOUT * u32::try_from(endpoints).unwrap_or(u32::MAX);
    // Reading the states back also resolves DNS: one more call's time.
    call.max(all + call)
}

/// How long the step may wait for its postcondition after acting: a
/// routing-control switch waits the record's TTL plus [`DNS_MARGIN`] for DNS
/// to answer with the new target; a reprotect's creation
/// [`CREATION_TIMEOUT`] (or the step timeout when longer); everything else
/// the policy's step timeout.
pub fn wait_bound(policy: &Policy, action: &Action) -> Duration {
    let dns = |ttl: u32| Duration::from_secs(u64::from(ttl)) + DNS_MARGIN;
    let bound = match action {
        Action::FlipDns {
            routing: Some(_),
            ttl,
            ..
        }
        | Action::SwitchStream {
            routing: Some(_),
            ttl,
            ..
        } => dns(*ttl),
        Action::CreateReplicaDatabase { .. }
        | Action::AddCacheSecondary { .. }
        | Action::CreateReverseReplicator { .. }
        | Action::WaitReplication => {
            return policy.execution.step_timeout.max(CREATION_TIMEOUT);
        }
        _ => policy.execution.step_timeout,
    };
    bound.min(policy.execution.step_timeout)
}

/// Makes the step's one idempotent call. Returns the change to wait for,
/// when the provider gives one.
pub async fn act<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
    fence: &Fence,
    restore: &super::quiesce::StepRestore,
) -> CloudResult<Option<ChangeId>> {
    if let Some(done) = super::reprotect_steps::act(cloud, action, fence).await {
        return done.map(|()| None);
    }
    if let Some(done) = super::quiesce::act(cloud, policy, action, fence, restore).await {
        return done.map(|()| None);
    }
    match action {
        Action::Preflight | Action::RpoGate | Action::Verify => Ok(None),
        a @ (Action::PreflightReprotect
        | Action::CreateReplicaDatabase { .. }
        | Action::AddCacheSecondary { .. }
        | Action::CreateReverseReplicator { .. }
        | Action::WaitReplication
        | Action::SwitchRoles { .. }
        | Action::PreflightFailback
        | Action::QuiesceWriters { .. }
        | Action::Drain { .. }
        | Action::LiftQuiesce { .. }
        | Action::UndoQuiesce { .. }
        | Action::RenameOldPrimary { .. }) => Err(not_a_failover_step(a)),
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
        Action::SwitchStream {
            routing: Some(pair),
            ..
        }
        | Action::FlipDns {
            routing: Some(pair),
            ..
        } => {
            // The switch itself needs no stream state; switch-stream reads
            // the DR cluster first so that clients never move to a cluster
            // that is not ACTIVE.
            if matches!(action, Action::SwitchStream { .. }) {
                stream_record(cloud, policy, action).await?;
            }
            switch_routing(cloud, policy, pair, fence)
                .await
                .map(|()| None)
        }
        Action::SwitchStream { zone, .. } => {
            let want = stream_record(cloud, policy, action).await?;
            cloud.ensure_record(zone, &want, fence).await
        }
        Action::FlipDns { zone, record, .. } => cloud.ensure_record(zone, record, fence).await,
    }
}

/// Turns the secondary's routing control on and the primary's off in one
/// call, through the first cluster endpoint that answers.
async fn switch_routing<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    pair: &RoutingControlPair,
    fence: &Fence,
) -> CloudResult<()> {
    let endpoints = super::observe::endpoints(policy);
    let endpoints = endpoints.as_slice();
    let states = [
        (pair.secondary.clone(), true),
        (pair.primary.clone(), false),
    ];
    through_endpoints(
        Op::UpdateRoutingControlStates,
        endpoints,
        ENDPOINT_TIMEOUT,
        |ep| cloud.update_routing_control_states(ep, &states, fence),
    )
    .await
}

/// The name a record's answer must lead to.
fn target_name(record: &crate::cloud::Record) -> String {
    match &record.target {
        RecordTarget::Alias { dns_name, .. } => dns_name.clone(),
        RecordTarget::Cname { value, .. } => value.clone(),
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
        .ok_or_else(|| CloudError::not_found(Op::ListClustersV2, cluster.clone()))?;
    if !state.is_active() {
        let msg = format!("MSK cluster {cluster} is {}, not ACTIVE", state.state);
        return Err(CloudError::new(
            ErrorKind::Conflict,
            Op::ListClustersV2,
            cluster.clone(),
            msg,
        ));
    }
    stream_target(tier, &state).ok_or_else(|| {
        let msg = format!("MSK cluster {cluster} reports no bootstrap brokers");
        CloudError::new(
            ErrorKind::Fatal,
            Op::GetBootstrapBrokers,
            cluster.clone(),
            msg,
        )
    })
}

/// The refusal of a step the executor does not run yet (the failback's
/// own steps) or runs elsewhere (the check-only reprotect steps): fatal, so
/// it is never retried, and it changes nothing.
fn not_a_failover_step(action: &Action) -> CloudError {
    CloudError::new(
        ErrorKind::Fatal,
        Op::AnyCall,
        action.resource().unwrap_or_default(),
        format!(
            "{action:?} belongs to a reprotect or a failback plan; the failover executor does \
             not run it and changed nothing"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::Epoch;

    #[tokio::test]
    async fn a_failback_step_given_to_the_executor_is_refused_and_changes_nothing() {
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
        let fence = Fence {
            execution_id: "re-1".into(),
            epoch: Epoch::default(),
        };
        let action = Action::Drain { timeout_s: 300 };
        let err = act(&sim, &policy, &action, &fence, &Default::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(
            err.message.contains("reprotect or a failback"),
            "{}",
            err.message
        );
        let err = postcondition(&sim, &policy, &action, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(sim.mutations().is_empty(), "{:?}", sim.mutations());
    }
}
