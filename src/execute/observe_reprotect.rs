//! Observing what a reprotect needs: the active side's sources and the
//! standby region's resources, read-only, never failing (what cannot be
//! read is recorded as such).
//!
//! The policy given is the policy as oriented now: its secondary region is
//! active, its primary region is the standby region where the replicas are
//! made. Exposures are the new replicas' lag behind the active side, read
//! from the exposure source given the policy with the roles flipped.

use std::collections::BTreeMap;

use crate::cloud::{Cloud, CloudResult, ErrorKind, ExposureSource};
use crate::model::{DataTier, Orientation};
use crate::plan::reprotect::{Observed, ReplicatorView};
use crate::plan::Seen;
use crate::policy::Policy;

fn seen<T>(r: CloudResult<Option<T>>) -> Seen<T> {
    match r {
        Ok(Some(t)) => Seen::Present(t),
        Ok(None) => Seen::Absent,
        Err(e) if e.kind == ErrorKind::NotFound => Seen::Unreadable(e.message),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

/// Reads everything [`crate::plan::failback::build`] needs for `policy`
/// (as oriented now: its primary region active, its secondary region
/// holding the replicas): the replica side as a failover reads it, with
/// `exposures`, and both regions as the failback's reprotect half reads
/// them.
pub async fn observe_failback<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
) -> crate::plan::failback::Observed {
    crate::plan::failback::Observed {
        failover: super::observe(cloud, exposures, policy, &super::no_notes).await,
        regions: observe_reprotect_with(cloud, exposures, policy).await,
    }
}

/// Reads everything [`crate::plan::reprotect::build`] needs for `policy`
/// (as oriented now), with the cloud as its own exposure source.
pub async fn observe_reprotect<C: Cloud>(cloud: &C, policy: &Policy) -> Observed {
    observe_reprotect_with(cloud, cloud, policy).await
}

/// [`observe_reprotect`] with the exposures read from `exposures`.
pub async fn observe_reprotect_with<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
) -> Observed {
    let active = policy.regions.secondary.as_str();
    let standby = policy.regions.primary.as_str();
    let t = &policy.tiers;
    let mut o = Observed::default();
    let mut unreachable = Vec::new();
    if let Some(db) = &t.database {
        o.database_source = Some(seen(cloud.get_database(active, &db.replica).await));
        let replica = seen(cloud.get_database(standby, &db.primary).await);
        if let Seen::Unreadable(why) = &replica {
            unreachable.push(format!("RDS {}: {why}", db.primary));
        }
        o.database_replica = Some(replica);
    }
    if let Some(c) = &t.cache {
        let member = seen(cloud.get_replication_group(active, &c.dr_member).await);
        // The datastore the active member belongs to: the policy's, or the
        // one a reprotect made after a disassociation.
        let gds = member
            .present()
            .and_then(|m| m.global_datastore.clone())
            .unwrap_or_else(|| c.global_datastore.clone());
        o.cache = Some(seen(cloud.get_global_datastore(active, &gds).await));
        o.cache_active = Some(member);
        let member = seen(
            cloud
                .get_replication_group(standby, &c.primary_member)
                .await,
        );
        if let Seen::Unreadable(why) = &member {
            unreachable.push(format!("ElastiCache {}: {why}", c.primary_member));
        }
        o.cache_standby = Some(member);
    }
    if let Some(s) = &t.stream {
        o.stream_source = Some(seen(cloud.get_stream_cluster(active, &s.dr_cluster).await));
        o.stream_target = Some(seen(
            cloud.get_stream_cluster(standby, &s.primary_cluster).await,
        ));
        if let Some(r) = &s.reverse_replicator {
            let got = cloud.get_replicator(standby, &r.name).await;
            o.replicator = Some(seen(got.map(|r| {
                r.map(|r| ReplicatorView {
                    name: r.name,
                    state: r.state,
                    source_cluster_arn: r.source_cluster_arn,
                    target_cluster_arn: r.target_cluster_arn,
                })
            })));
        }
    }
    if let Some(n) = &t.node_groups {
        if let Some(cluster) = &n.primary_cluster {
            for g in &n.groups {
                let got = seen(cloud.get_node_group(standby, cluster, &g.name).await);
                o.node_groups.insert(g.name.clone(), got);
            }
        }
    }
    if !unreachable.is_empty() {
        o.standby_unreachable = Some(unreachable.join("; "));
    }
    o.exposures = replica_exposures(exposures, policy).await;
    o
}

/// Each data tier's exposure behind the active region, read as if the
/// platform failed over back now: the roles flipped.
async fn replica_exposures(
    exposures: &dyn ExposureSource,
    policy: &Policy,
) -> BTreeMap<DataTier, crate::model::Exposure> {
    let flipped = policy.oriented(Orientation::Reversed);
    let t = &policy.tiers;
    let mut out = BTreeMap::new();
    for (tier, present) in [
        (DataTier::Database, t.database.is_some()),
        (DataTier::Cache, t.cache.is_some()),
        (DataTier::Stream, t.stream.is_some()),
    ] {
        if !present {
            continue;
        }
        let m = exposures.exposure(&flipped, tier).await;
        let e = m.map_or(crate::model::Exposure::Unknown, |m| m.exposure);
        out.insert(tier, e);
    }
    out
}
