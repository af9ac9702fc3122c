//! What a reprotect creates in the simulated world: a cross-region read
//! replica, a Global Datastore and its new secondary member, an MSK
//! Replicator.
//!
//! Each is accepted like any mutation (one API round trip, the seeded
//! faults, regional outages, the mutation log) and then exists in its
//! creating state (`creating`, `associating`, `CREATING`) until the latency
//! model's span for it has passed; only then is it available and
//! replicating. Until then its tier's exposure in its region is unknown:
//! a replica being built has no lag to report.

use tokio::time::Instant;

use super::latency::Span;
use super::world::{key, Pending, SimDatabase, SimDatastore, SimReplicationGroup, World};
use super::SimCloud;
use crate::cloud::*;
use crate::model::{DataTier, Fence, Op};

/// RDS's status of an instance being created.
pub(super) const CREATING_DB: &str = "creating";

/// ElastiCache's status of a replication group or datastore being created.
const CREATING_CACHE: &str = "creating";

/// A Global Datastore member's status while it joins.
const ASSOCIATING: &str = "associating";

/// MSK's state of a replicator being created.
pub(super) const CREATING_REPLICATOR: &str = "CREATING";

/// The prefix the simulated ElastiCache puts before a new Global
/// Datastore's suffix, as AWS puts its own five letters and a dash.
pub const GLOBAL_DATASTORE_PREFIX: &str = "sdgxq-";

/// The account the simulated ARNs name.
pub(super) const ACCOUNT: &str = "123456789012";

/// The ARN of a simulated DB instance.
pub(super) fn db_arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:{ACCOUNT}:db:{id}")
}

/// A simulated MSK Replicator, keyed by `region/name`.
#[derive(Debug, Clone)]
pub(super) struct SimReplicator {
    pub arn: String,
    pub source: String,
    pub target: String,
    pub state: String,
}

/// Something being created, and what it becomes when it settles.
#[derive(Debug)]
pub(super) enum Created {
    /// A DB instance (`region/id`) that becomes `available`.
    Database(String),
    /// A Global Datastore (its id) that becomes `available`.
    Datastore(String),
    /// A secondary joining a datastore: its replication group
    /// (`region/id`) becomes `available` and the member `associated`.
    Member {
        datastore: String,
        key: String,
        member: String,
    },
    /// A replicator (`region/name`) that becomes `RUNNING`.
    Replicator(String),
}

/// A creation in flight.
#[derive(Debug)]
pub(super) struct Creation {
    pub what: Created,
    pub pending: Pending,
}

impl World {
    /// The policy's forward replicator, RUNNING from the primary cluster
    /// to the DR cluster, as the platform runs before any failover.
    pub(super) fn seed_replicator(&mut self, policy: &crate::policy::Policy) {
        let Some(s) = &policy.tiers.stream else {
            return;
        };
        let Some(name) = &s.replicator else {
            return;
        };
        let (primary, dr) = (&policy.regions.primary, &policy.regions.secondary);
        let arn_of = |region: &str, cluster: &str| {
            self.streams
                .get(&key(&[region, cluster]))
                .map(|c| c.arn.clone())
                .unwrap_or_default()
        };
        let replicator = SimReplicator {
            arn: format!("arn:aws:kafka:{dr}:{ACCOUNT}:replicator/{name}/sim"),
            source: arn_of(primary, &s.primary_cluster),
            target: arn_of(dr, &s.dr_cluster),
            state: "RUNNING".into(),
        };
        self.replicators.insert(key(&[dr, name]), replicator);
    }

    /// Applies every creation due by `now`.
    pub(super) fn settle_creations(&mut self, now: Instant) {
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.creations)
            .into_iter()
            .partition(|c| c.pending.until.is_some_and(|u| u <= now));
        self.creations = waiting;
        for c in due {
            let at = c.pending.until.expect("partitioned on a due time");
            self.transitions[c.pending.transition].completed = Some(at);
            match c.what {
                Created::Database(k) => {
                    if let Some(db) = self.databases.get_mut(&k) {
                        db.status = "available".into();
                    }
                }
                Created::Datastore(id) => {
                    if let Some(g) = self.datastores.get_mut(&id) {
                        g.status = "available".into();
                    }
                }
                Created::Member {
                    datastore,
                    key,
                    member,
                } => {
                    if let Some(rg) = self.replication_groups.get_mut(&key) {
                        rg.status = "available".into();
                    }
                    if let Some(g) = self.datastores.get_mut(&datastore) {
                        g.status = "available".into();
                        for m in &mut g.members {
                            if m.replication_group_id == member {
                                m.status = "associated".into();
                            }
                        }
                    }
                }
                Created::Replicator(k) => {
                    if let Some(r) = self.replicators.get_mut(&k) {
                        r.state = "RUNNING".into();
                    }
                }
            }
        }
    }

    /// Why `tier` has no replication lag to report in `region` yet: a
    /// replica of it there is still being created.
    pub(super) fn still_creating(&self, region: &str, tier: DataTier) -> Option<String> {
        let prefix = format!("{region}/");
        let mut keys: Vec<&String> = match tier {
            DataTier::Database => self
                .databases
                .iter()
                .filter(|(_, d)| d.status == CREATING_DB && d.replica_source.is_some())
                .map(|(k, _)| k)
                .collect(),
            DataTier::Cache => self
                .replication_groups
                .iter()
                .filter(|(_, rg)| rg.status == CREATING_CACHE && rg.global.is_some())
                .map(|(k, _)| k)
                .collect(),
            DataTier::Stream => self
                .replicators
                .iter()
                .filter(|(_, r)| r.state == CREATING_REPLICATOR)
                .map(|(k, _)| k)
                .collect(),
        };
        keys.retain(|k| k.starts_with(&prefix));
        let k = keys.first()?;
        Some(format!(
            "{} {k} is still being created: no replication lag yet",
            tier.name()
        ))
    }

    /// Starts a creation of `what` with `op`, logged under `fence`.
    pub(super) fn create(
        &mut self,
        op: Op,
        resource: String,
        span_of: Span,
        what: Created,
        fence: &Fence,
        caller: Option<&str>,
    ) {
        let pending = self.start(op, resource, span_of);
        let resource = self.transitions[pending.transition].resource.clone();
        self.log_mutation(op, &resource, fence, caller);
        self.creations.push(Creation { what, pending });
    }
}

pub(super) fn conflict(op: Op, resource: impl Into<String>, message: String) -> CloudError {
    CloudError::new(ErrorKind::Conflict, op, resource, message)
}

impl SimCloud {
    /// CreateDBInstanceReadReplica, after reading the source in its region.
    pub(super) async fn sim_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateDbInstanceReadReplica;
        let (k, src) = (key(&[region, id]), key(&[source_region, source_id]));
        // As the adapter does: the name first, then the source in its region.
        {
            let w = self.call(Op::DescribeDbInstances, region, &k).await?;
            if let Some(db) = w.databases.get(&k) {
                let existing = DatabaseState {
                    id: id.to_string(),
                    status: db.status.clone(),
                    replica_source: db.replica_source.clone(),
                    tags: Default::default(),
                };
                if existing.is_replica_of(source_id) {
                    return Ok(());
                }
                let msg = format!(
                    "DB instance {id} already exists in {region} and is not a replica of {source_id} (DBInstanceAlreadyExists)"
                );
                return Err(conflict(op, k, msg));
            }
        }
        {
            let w = self
                .call(Op::DescribeDbInstances, source_region, &src)
                .await?;
            if !w.databases.contains_key(&src) {
                return Err(CloudError::not_found(op, src));
            }
        }
        let mut w = self.call(op, region, &k).await?;
        if w.databases.contains_key(&k) {
            let msg =
                format!("DB instance {id} already exists in {region} (DBInstanceAlreadyExists)");
            return Err(conflict(op, k, msg));
        }
        // Read again under this call's lock: the source may have changed.
        let Some(source) = w.databases.get(&src) else {
            return Err(CloudError::not_found(op, src));
        };
        if source.status != "available"
            || source.replica_source.is_some()
            || source.pending.is_some()
        {
            let what = if source.replica_source.is_some() {
                "a read replica".to_string()
            } else {
                source.status.clone()
            };
            let msg = format!(
                "source DB instance {source_id} in {source_region} is {what}; a cross-region replica is made only of an available standalone primary (InvalidDBInstanceState)"
            );
            return Err(conflict(op, k, msg));
        }
        let span = w.latency.database_replica_creation;
        let caller = self.caller.as_deref();
        w.create(
            op,
            format!("rds:{k}"),
            span,
            Created::Database(k.clone()),
            fence,
            caller,
        );
        let replica = SimDatabase {
            status: CREATING_DB.into(),
            replica_source: Some(db_arn(source_region, source_id)),
            pending: None,
            tags: creation_tags(fence).into_iter().collect(),
        };
        w.databases.insert(k, replica);
        Ok(())
    }

    /// CreateGlobalReplicationGroup with `primary_member` as the primary.
    pub(super) async fn sim_create_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        let op = Op::CreateGlobalReplicationGroup;
        let k = key(&[region, primary_member]);
        let mut w = self.call(op, region, &k).await?;
        let done = w.datastores.iter().find(|(id, g)| {
            id.ends_with(suffix)
                && g.members.iter().any(|m| {
                    m.replication_group_id == primary_member
                        && m.region == region
                        && m.role == MemberRole::Primary
                })
        });
        if let Some((id, _)) = done {
            return Ok(id.clone());
        }
        let Some(rg) = w.replication_groups.get(&k) else {
            return Err(CloudError::not_found(op, k));
        };
        if let Some(other) = &rg.global {
            let msg = format!(
                "replication group {primary_member} is already a member of Global Datastore {other} (InvalidReplicationGroupState)"
            );
            return Err(conflict(op, k, msg));
        }
        if rg.status != "available" || rg.pending.is_some() {
            let msg = format!(
                "replication group {primary_member} is {}; it cannot start a Global Datastore now (InvalidReplicationGroupState)",
                rg.status
            );
            return Err(conflict(op, k, msg));
        }
        let id = format!("{GLOBAL_DATASTORE_PREFIX}{suffix}");
        if w.datastores.contains_key(&id) {
            let msg = format!(
                "Global Datastore {id} already exists (GlobalReplicationGroupAlreadyExistsFault)"
            );
            return Err(conflict(op, k, msg));
        }
        let span = w.latency.cache_datastore_creation;
        let caller = self.caller.as_deref();
        w.create(
            op,
            format!("elasticache:{id}"),
            span,
            Created::Datastore(id.clone()),
            fence,
            caller,
        );
        let datastore = SimDatastore {
            status: CREATING_CACHE.into(),
            members: vec![CacheMember {
                replication_group_id: primary_member.into(),
                region: region.into(),
                role: MemberRole::Primary,
                status: "associated".into(),
            }],
            pending: None,
            promoting: None,
        };
        w.datastores.insert(id.clone(), datastore);
        w.replication_groups
            .get_mut(&k)
            .expect("checked above")
            .global = Some(id.clone());
        Ok(id)
    }

    /// CreateReplicationGroup in `region` as a secondary of `datastore`.
    pub(super) async fn sim_add_secondary(
        &self,
        datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateReplicationGroup;
        let k = key(&[region, member]);
        let mut w = self.call(op, region, &k).await?;
        let Some(g) = w.datastores.get(datastore) else {
            return Err(CloudError::not_found(op, datastore));
        };
        if g.members
            .iter()
            .any(|m| m.replication_group_id == member && m.region == region)
        {
            return Ok(());
        }
        if w.replication_groups.contains_key(&k) {
            let msg = format!(
                "replication group {member} already exists in {region} and is not a member of {datastore} (ReplicationGroupAlreadyExists)"
            );
            return Err(conflict(op, k, msg));
        }
        if let Some(m) = g.members.iter().find(|m| m.region == region) {
            let msg = format!(
                "Global Datastore {datastore} already has member {} in {region} (InvalidGlobalReplicationGroupState)",
                m.replication_group_id
            );
            return Err(conflict(op, k, msg));
        }
        // The primary copies its data to the new member: its region takes part.
        let primary_out = g
            .members
            .iter()
            .find(|m| m.role == MemberRole::Primary && w.outage.regions.contains(&m.region));
        if let Some(p) = primary_out {
            let msg = format!(
                "Global Datastore {datastore} cannot add a member: its primary region {} does not answer (InvalidGlobalReplicationGroupState)",
                p.region
            );
            return Err(conflict(op, k, msg));
        }
        if g.status != "available" || g.pending.is_some() {
            let msg = format!(
                "Global Datastore {datastore} is {}; it cannot add a member now (InvalidGlobalReplicationGroupState)",
                g.status
            );
            return Err(conflict(op, k, msg));
        }
        let span = w.latency.cache_member_creation;
        let caller = self.caller.as_deref();
        let what = Created::Member {
            datastore: datastore.to_string(),
            key: k.clone(),
            member: member.to_string(),
        };
        w.create(op, format!("elasticache:{k}"), span, what, fence, caller);
        let g = w.datastores.get_mut(datastore).expect("checked above");
        g.status = "modifying".into();
        g.members.push(CacheMember {
            replication_group_id: member.into(),
            region: region.into(),
            role: MemberRole::Secondary,
            status: ASSOCIATING.into(),
        });
        let rg = SimReplicationGroup {
            status: CREATING_CACHE.into(),
            global: Some(datastore.to_string()),
            pending: None,
        };
        w.replication_groups.insert(k, rg);
        Ok(())
    }
}
