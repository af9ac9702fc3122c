//! The reprotect plan: replicas of the active region, built in the standby
//! region, then the roles switched. Pure, like the failover plan.
//!
//! The policy given is the policy *as oriented now* (after a failover from
//! the home direction: as written). Its primary region is where the old
//! primary was and where the replicas are made (the standby region); its
//! secondary region is active. The DAG: `preflight-reprotect` →
//! `create-replica-database`, `add-cache-secondary`,
//! `create-reverse-replicator` in parallel → `wait-replication` →
//! `switch-roles` (the orientation flip and `Protected`, committed in the
//! replicated state). Node groups and traffic are only checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Action, ExecutionKind, Plan, Seen, Step, StepKind};
use crate::cloud::{
    DatabaseState, GlobalDatastoreState, MemberRole, NodeGroupState, ReplicationGroupState,
    StreamClusterState,
};
use crate::model::{DataTier, Exposure, Orientation, Protection};
use crate::policy::Policy;

/// What a reprotect reads: the active side's sources, the standby region's
/// resources (the fenced old instance, the old cache member, the reverse
/// replicator) and the new replicas' exposures. A field is `None` when the
/// policy has no such tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Why the standby region did not answer, when it did not.
    pub standby_unreachable: Option<String>,
    /// The active primary, the new replica's source.
    pub database_source: Option<Seen<DatabaseState>>,
    /// Whatever holds the new replica's name in the standby region.
    pub database_replica: Option<Seen<DatabaseState>>,
    /// The old primary, kept fenced under the name the fence gave it.
    pub fenced_old: Option<DatabaseState>,
    /// The Global Datastore the policy (or the replicated topology) names.
    pub cache: Option<Seen<GlobalDatastoreState>>,
    /// The active cache member.
    pub cache_active: Option<Seen<ReplicationGroupState>>,
    /// The replication group holding the policy's member name in the
    /// standby region (the old member, after a disassociation).
    pub cache_standby: Option<Seen<ReplicationGroupState>>,
    /// The active MSK cluster (the reverse replicator's source).
    pub stream_source: Option<Seen<StreamClusterState>>,
    /// The standby MSK cluster (its target).
    pub stream_target: Option<Seen<StreamClusterState>>,
    /// The reverse replicator, read in the standby region.
    pub replicator: Option<Seen<ReplicatorView>>,
    /// The standby region's node groups, by name.
    pub node_groups: BTreeMap<String, Seen<NodeGroupState>>,
    /// Whether traffic is on the active region (`None`: not read).
    pub traffic_on_active: Option<bool>,
    /// Each new replica's exposure behind the active region.
    pub exposures: BTreeMap<DataTier, Exposure>,
}

/// An MSK Replicator as the plan needs it (the executor reads it through
/// the cloud's `Stream` trait).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatorView {
    /// Its name.
    pub name: String,
    /// MSK's state (`CREATING`, `RUNNING`, ...).
    pub state: String,
    /// The ARN of the cluster it reads from.
    pub source_cluster_arn: String,
    /// The ARN of the cluster it writes to.
    pub target_cluster_arn: String,
}

impl ReplicatorView {
    /// Whether it is RUNNING.
    pub fn is_running(&self) -> bool {
        self.state == "RUNNING"
    }

    /// Whether it copies `source` to `target` (cluster ARNs).
    pub fn connects(&self, source: &str, target: &str) -> bool {
        self.source_cluster_arn == source && self.target_cluster_arn == target
    }
}

/// Whether `d` is a read replica of `source_id` (its source named by
/// identifier or by an ARN ending in `:db:<source_id>`), in any status.
pub fn is_replica_of(d: &DatabaseState, source_id: &str) -> bool {
    d.replica_source.as_deref().is_some_and(|source| {
        let named = source.rsplit_once(":db:").map_or(source, |(_, id)| id);
        named.eq_ignore_ascii_case(source_id)
    })
}

/// Whether `d` is an available read replica of `source_id`.
pub fn replicates(d: &DatabaseState, source_id: &str) -> bool {
    d.status == "available" && is_replica_of(d, source_id)
}

/// What the replicated state says when a reprotect is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// How the policy is read now.
    pub orientation: Orientation,
    /// The protection now.
    pub protection: Protection,
    /// How many reprotects finished before this one: the `N` of names
    /// made when the policy's own name is taken (`<member>-r<N>`).
    pub reprotects: u32,
}

/// The cache member and Global Datastore a reprotect works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheChoice {
    /// The existing Global Datastore whose primary is the active member,
    /// or `None` when one is created with `suffix`.
    pub global_datastore: Option<String>,
    /// The suffix of the Global Datastore to create.
    pub suffix: String,
    /// The member in the standby region.
    pub member: String,
    /// Whether the member already is a secondary of that datastore.
    pub done: bool,
}

/// Which Global Datastore and member name the reprotect uses: the policy's
/// member name when it is free (or already the secondary), else
/// `<member>-r<N>`; the observed datastore when the active member is its
/// primary, else a new one with the suffix `<datastore>-r<N>`.
pub fn cache_choice(policy: &Policy, observed: &Observed, ctx: &Context) -> Option<CacheChoice> {
    let c = policy.tiers.cache.as_ref()?;
    let standby = &policy.regions.primary;
    let n = ctx.reprotects + 1;
    let gds = observed
        .cache
        .as_ref()
        .and_then(Seen::present)
        .filter(|g| g.has_primary(&c.dr_member));
    let is_secondary = |member: &str| {
        gds.and_then(|g| g.member(member))
            .is_some_and(|m| m.role == MemberRole::Secondary && &m.region == standby)
    };
    let free = matches!(observed.cache_standby, Some(Seen::Absent));
    let member = if free || is_secondary(&c.primary_member) {
        c.primary_member.clone()
    } else {
        format!("{}-r{n}", c.primary_member)
    };
    Some(CacheChoice {
        global_datastore: gds.map(|g| g.id.clone()),
        suffix: format!("{}-r{n}", c.global_datastore),
        done: is_secondary(&member),
        member,
    })
}

/// Builds the reprotect plan. Pure: the same inputs give the same plan.
pub fn build(policy: &Policy, observed: &Observed, ctx: &Context) -> Plan {
    let active = policy.regions.secondary.clone();
    let standby = policy.regions.primary.clone();
    let mut steps = Vec::new();
    push(
        policy,
        &mut steps,
        "preflight-reprotect",
        StepKind::PreflightReprotect,
        vec![],
        Action::PreflightReprotect,
        format!("check that {standby} answers and that every name a replica takes there is free"),
        false,
    );
    let cache = cache_choice(policy, observed, ctx);
    let member = cache.as_ref().map(|c| c.member.clone());
    let after = |_| vec!["preflight-reprotect".to_string()];
    let made = replica_steps(policy, observed, cache, &mut steps, after);
    finish(policy, observed, ctx, &mut steps, (made, member));
    Plan {
        kind: ExecutionKind::Reprotect,
        policy: policy.name.clone(),
        from_region: active,
        to_region: standby,
        preflight_problems: preflight(policy, observed, ctx),
        steps,
        rpo: super::rpo::evaluate(policy.rpo, Vec::new(), &Default::default()),
    }
}

/// Adds `step` to `steps` with its calls.
#[allow(clippy::too_many_arguments)]
pub(super) fn push(
    policy: &Policy,
    steps: &mut Vec<Step>,
    id: &str,
    kind: StepKind,
    after: Vec<String>,
    action: Action,
    summary: String,
    already_done: bool,
) {
    let (calls, depends_on_primary) = super::calls::of(policy, &action);
    steps.push(Step {
        id: id.to_string(),
        kind,
        after,
        action,
        summary,
        already_done,
        calls,
        depends_on_primary,
    });
}

/// The steps that create one replica per data tier, each after the steps
/// `after` gives for its kind (the cache's per `cache`); returns their ids.
pub(super) fn replica_steps(
    policy: &Policy,
    observed: &Observed,
    cache: Option<CacheChoice>,
    steps: &mut Vec<Step>,
    after: impl Fn(StepKind) -> Vec<String>,
) -> Vec<String> {
    let active = policy.regions.secondary.clone();
    let standby = policy.regions.primary.clone();
    let t = &policy.tiers;
    let mut made = Vec::new();
    if let Some(db) = &t.database {
        let done = replica_ok(observed, &db.replica);
        let kept = observed
            .fenced_old
            .as_ref()
            .map(|o| format!("; the fenced old instance is kept as {} in {standby}", o.id))
            .unwrap_or_default();
        push(
            policy,
            steps,
            "create-replica-database",
            StepKind::CreateReplicaDatabase,
            after(StepKind::CreateReplicaDatabase),
            Action::CreateReplicaDatabase {
                region: standby.clone(),
                id: db.primary.clone(),
                source_region: active.clone(),
                source_id: db.replica.clone(),
            },
            format!(
                "create RDS read replica {} in {standby} from {} in {active}{kept}",
                db.primary, db.replica
            ),
            done,
        );
        made.push("create-replica-database".to_string());
    }
    if let Some(choice) = cache {
        let c = t.cache.as_ref().expect("a cache choice needs a cache tier");
        let how = match &choice.global_datastore {
            Some(g) => format!("add {} in {standby} to Global Datastore {g}", choice.member),
            None => format!(
                "create a Global Datastore (suffix {}) from {} in {active}, then add {} in {standby}",
                choice.suffix, c.dr_member, choice.member
            ),
        };
        push(
            policy,
            steps,
            "add-cache-secondary",
            StepKind::AddCacheSecondary,
            after(StepKind::AddCacheSecondary),
            Action::AddCacheSecondary {
                global_datastore: choice.global_datastore.clone(),
                suffix: choice.suffix.clone(),
                active_region: active.clone(),
                active_member: c.dr_member.clone(),
                region: standby.clone(),
                member: choice.member.clone(),
            },
            how,
            choice.done,
        );
        made.push("add-cache-secondary".to_string());
    }
    if let (Some(s), Some(r)) = (
        &t.stream,
        t.stream
            .as_ref()
            .and_then(|s| s.reverse_replicator.as_ref()),
    ) {
        let done = replicator_ok(observed);
        push(
            policy,
            steps,
            "create-reverse-replicator",
            StepKind::CreateReverseReplicator,
            after(StepKind::CreateReverseReplicator),
            Action::CreateReverseReplicator {
                region: standby.clone(),
                name: r.name.clone(),
                source_cluster: s.dr_cluster.clone(),
                source_region: active.clone(),
                target_cluster: s.primary_cluster.clone(),
                service_execution_role_arn: r.service_execution_role_arn.clone(),
            },
            format!(
                "create MSK Replicator {} from {} in {active} to {} in {standby} \
                 (topic names kept, consumer-group offsets synced)",
                r.name, s.dr_cluster, s.primary_cluster
            ),
            done,
        );
        made.push("create-reverse-replicator".to_string());
    }
    made
}

/// `wait-replication` after `made`, then `switch-roles`.
pub(super) fn finish(
    policy: &Policy,
    observed: &Observed,
    ctx: &Context,
    steps: &mut Vec<Step>,
    (made, member): (Vec<String>, Option<String>),
) {
    let standby = &policy.regions.primary;
    let waited = replicating(policy, observed, ctx);
    push(
        policy,
        steps,
        "wait-replication",
        StepKind::WaitReplication,
        made,
        Action::WaitReplication,
        format!(
            "wait until every replica in {standby} replicates, its lag within the RPO of {}",
            crate::duration::fmt(policy.rpo)
        ),
        waited,
    );
    let orientation = ctx.orientation.flipped();
    // The cache member in the written primary region once the roles
    // switch: the one made there now, or the active one.
    let home_member = match orientation {
        Orientation::Reversed => member,
        Orientation::AsWritten => policy.tiers.cache.as_ref().map(|c| c.dr_member.clone()),
    };
    push(
        policy,
        steps,
        "switch-roles",
        StepKind::SwitchRoles,
        vec!["wait-replication".into()],
        Action::SwitchRoles {
            orientation,
            protection: Protection::Protected,
            reprotects: ctx.reprotects + 1,
            home_member,
        },
        format!(
            "record {} as active and {standby} as standby (orientation {orientation}, protected)",
            policy.regions.secondary
        ),
        false,
    );
}

/// Whether the standby database replicates from the active one.
fn replica_ok(observed: &Observed, source: &str) -> bool {
    observed
        .database_replica
        .as_ref()
        .and_then(Seen::present)
        .is_some_and(|d| replicates(d, source))
}

/// Whether the reverse replicator runs from the active cluster to the
/// standby one.
fn replicator_ok(observed: &Observed) -> bool {
    let arn = |s: &Option<Seen<StreamClusterState>>| {
        s.as_ref().and_then(Seen::present).map(|c| c.arn.clone())
    };
    let (Some(src), Some(dst)) = (arn(&observed.stream_source), arn(&observed.stream_target))
    else {
        return false;
    };
    observed
        .replicator
        .as_ref()
        .and_then(Seen::present)
        .is_some_and(|r| r.is_running() && r.connects(&src, &dst))
}

/// Whether every tier's new replica replicates within the RPO.
pub fn replicating(policy: &Policy, observed: &Observed, ctx: &Context) -> bool {
    let within =
        |t| matches!(observed.exposures.get(&t), Some(Exposure::Known(d)) if *d <= policy.rpo);
    let t = &policy.tiers;
    t.database
        .as_ref()
        .is_none_or(|d| replica_ok(observed, &d.replica) && within(DataTier::Database))
        && (t.cache.is_none()
            || cache_choice(policy, observed, ctx).is_some_and(|c| c.done)
                && within(DataTier::Cache))
        && (t.stream.is_none() || replicator_ok(observed) && within(DataTier::Stream))
}

/// Every problem that stops a reprotect, as sentences saying what to do.
pub fn preflight(policy: &Policy, observed: &Observed, ctx: &Context) -> Vec<String> {
    let active = &policy.regions.secondary;
    let standby = &policy.regions.primary;
    let t = &policy.tiers;
    let as_written = policy.oriented(ctx.orientation);
    let mut out: Vec<String> = as_written
        .orientation_gaps()
        .into_iter()
        .map(|g| format!("the policy lacks {g}"))
        .collect();
    if ctx.protection == Protection::Protected {
        out.push(format!(
            "the platform is protected already ({active} has replicas in {standby}); \
             a reprotect follows a failover"
        ));
    }
    if let Some(why) = &observed.standby_unreachable {
        out.push(format!(
            "{standby} does not answer ({why}): a reprotect builds the replicas there; \
             run it again once {standby} answers"
        ));
    }
    if let Some(db) = &t.database {
        match &observed.database_source {
            Some(Seen::Present(s)) if s.replica_source.is_none() => {}
            Some(Seen::Present(_)) => out.push(format!(
                "RDS instance {} in {active} is still a read replica: fail over first",
                db.replica
            )),
            Some(Seen::Absent) => out.push(format!(
                "RDS instance {} in {active} does not exist: check tiers.database",
                db.replica
            )),
            Some(Seen::Unreadable(e)) => out.push(format!(
                "RDS instance {} in {active} could not be read: {e}",
                db.replica
            )),
            None => {}
        }
        if let Some(Seen::Present(d)) = &observed.database_replica {
            if !is_replica_of(d, &db.replica) {
                out.push(format!(
                    "RDS instance {} in {standby} exists and is not a replica of {}: it is the \
                     old primary, not yet fenced and renamed; let the fence on return rename it \
                     (`drctl failover --confirm` tries it again now), then reprotect",
                    db.primary, db.replica
                ));
            }
        }
    }
    if let Some(c) = &t.cache {
        let serves = observed
            .cache_active
            .as_ref()
            .and_then(Seen::present)
            .is_some_and(ReplicationGroupState::serves_writes);
        if observed.cache_active.is_some() && !serves {
            out.push(format!(
                "cache member {} in {active} does not serve writes: fail the cache over first",
                c.dr_member
            ));
        }
    }
    if let Some(s) = &t.stream {
        for (seen, name, region) in [
            (&observed.stream_source, &s.dr_cluster, active),
            (&observed.stream_target, &s.primary_cluster, standby),
        ] {
            match seen {
                Some(Seen::Absent) => out.push(format!(
                    "MSK cluster {name} in {region} does not exist: check tiers.stream"
                )),
                Some(Seen::Unreadable(e)) => out.push(format!(
                    "MSK cluster {name} in {region} could not be read: {e}"
                )),
                _ => {}
            }
        }
        let foreign = observed
            .replicator
            .as_ref()
            .and_then(Seen::present)
            .filter(|_| !replicator_ok(observed));
        if let Some(r) = foreign.filter(|r| r.is_running()) {
            out.push(format!(
                "MSK Replicator {} in {standby} exists and does not copy {} to {}: \
                 give tiers.stream.reverse_replicator.name a free name",
                r.name, s.dr_cluster, s.primary_cluster
            ));
        }
    }
    if let Some(n) = &t.node_groups {
        for g in &n.groups {
            if let Some(Seen::Absent) = observed.node_groups.get(&g.name) {
                out.push(format!(
                    "node group {} of EKS cluster {} in {standby} does not exist: a failover \
                     back could not scale it; check tiers.node_groups",
                    g.name, n.cluster
                ));
            }
        }
    }
    if observed.traffic_on_active == Some(false) {
        out.push(format!(
            "traffic is not on {active}: a reprotect keeps the records where a failover put them; \
             finish the failover first"
        ));
    }
    out
}

#[cfg(test)]
mod tests;
