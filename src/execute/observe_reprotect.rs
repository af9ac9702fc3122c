//! Observing what a reprotect needs: the active side's sources and the
//! standby region's resources, read-only, never failing (what cannot be
//! read is recorded as such).
//!
//! The policy given is the policy as oriented now: its secondary region is
//! active, its primary region is the standby region where the replicas are
//! made. Exposures are the new replicas' lag behind the active side, read
//! from the exposure source given the policy with the roles flipped.

use std::collections::BTreeMap;

use super::retry::{with_retry, Budget};
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

/// Observes the platform and builds the plan of a reprotect or, when
/// `failback`, of a failback, for `policy` as oriented now. `ctx` carries
/// the roles now and, for a failback, its execution id, the divergence
/// and the operator's acceptance (a reprotect reads only the roles).
/// One path for the controller, a local run and the drill's cycle.
pub async fn plan_way_home<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
    failback: bool,
    ctx: &crate::plan::failback::Context,
) -> crate::plan::Plan {
    if failback {
        let observed = observe_failback(cloud, exposures, policy).await;
        return crate::plan::failback::build(policy, &observed, ctx);
    }
    let observed = observe_reprotect_with(cloud, exposures, policy).await;
    let roles = crate::plan::reprotect::Context {
        orientation: ctx.orientation,
        protection: ctx.protection,
        reprotects: ctx.reprotects,
    };
    crate::plan::reprotect::build(policy, &observed, &roles)
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
    // Every read is bounded by the call timeout and the tiers are read at
    // once: a standby region that does not answer (it may still be down)
    // costs a few call timeouts, not a hang.
    let database = async {
        let db = t.database.as_ref()?;
        let (source, replica) = tokio::join!(
            bounded(
                policy,
                format!("rds.{active}"),
                cloud.get_database(active, &db.replica)
            ),
            bounded(
                policy,
                format!("rds.{standby}"),
                cloud.get_database(standby, &db.primary)
            ),
        );
        Some((seen(source), seen(replica)))
    };
    let cache = async {
        let c = t.cache.as_ref()?;
        let active_member = async {
            let member = seen(
                bounded(
                    policy,
                    format!("elasticache.{active}"),
                    cloud.get_replication_group(active, &c.dr_member),
                )
                .await,
            );
            // The datastore the active member belongs to: the policy's, or
            // the one a reprotect made after a disassociation.
            let gds = member
                .present()
                .and_then(|m| m.global_datastore.clone())
                .unwrap_or_else(|| c.global_datastore.clone());
            let gds = bounded(
                policy,
                format!("elasticache.{active}"),
                cloud.get_global_datastore(active, &gds),
            )
            .await;
            (member, seen(gds))
        };
        let standby_member = bounded(
            policy,
            format!("elasticache.{standby}"),
            cloud.get_replication_group(standby, &c.primary_member),
        );
        let ((member, gds), standby_member) = tokio::join!(active_member, standby_member);
        Some((member, gds, seen(standby_member)))
    };
    let stream = async {
        let s = t.stream.as_ref()?;
        let replicator = async {
            let r = s.reverse_replicator.as_ref()?;
            let got = bounded(
                policy,
                format!("kafka.{standby}"),
                cloud.get_replicator(standby, &r.name),
            )
            .await;
            Some(seen(got.map(|r| {
                r.map(|r| ReplicatorView {
                    name: r.name,
                    state: r.state,
                    source_cluster_arn: r.source_cluster_arn,
                    target_cluster_arn: r.target_cluster_arn,
                })
            })))
        };
        let (source, target, replicator) = tokio::join!(
            bounded(
                policy,
                format!("kafka.{active}"),
                cloud.get_stream_cluster(active, &s.dr_cluster)
            ),
            bounded(
                policy,
                format!("kafka.{standby}"),
                cloud.get_stream_cluster(standby, &s.primary_cluster)
            ),
            replicator,
        );
        Some((seen(source), seen(target), replicator))
    };
    let node_groups = async {
        let mut out = BTreeMap::new();
        let Some(n) = &t.node_groups else { return out };
        let Some(cluster) = &n.primary_cluster else {
            return out;
        };
        let reads = n.groups.iter().map(|g| async move {
            let got = bounded(
                policy,
                format!("eks.{standby}"),
                cloud.get_node_group(standby, cluster, &g.name),
            )
            .await;
            (g.name.clone(), seen(got))
        });
        out.extend(futures::future::join_all(reads).await);
        out
    };
    let (database, cache, stream, node_groups, exposures) = tokio::join!(
        database,
        cache,
        stream,
        node_groups,
        replica_exposures(exposures, policy)
    );
    let mut o = Observed {
        node_groups,
        exposures,
        ..Observed::default()
    };
    let mut unreachable = Vec::new();
    if let Some((source, replica)) = database {
        if let Seen::Unreadable(why) = &replica {
            let db = t.database.as_ref().expect("read above");
            unreachable.push(format!("RDS {}: {why}", db.primary));
        }
        o.database_source = Some(source);
        o.database_replica = Some(replica);
    }
    if let Some((member, gds, standby_member)) = cache {
        if let Seen::Unreadable(why) = &standby_member {
            let c = t.cache.as_ref().expect("read above");
            unreachable.push(format!("ElastiCache {}: {why}", c.primary_member));
        }
        o.cache = Some(gds);
        o.cache_active = Some(member);
        o.cache_standby = Some(standby_member);
    }
    if let Some((source, target, replicator)) = stream {
        o.stream_source = Some(source);
        o.stream_target = Some(target);
        o.replicator = replicator;
    }
    if !unreachable.is_empty() {
        o.standby_unreachable = Some(unreachable.join("; "));
    }
    o
}

/// `call`, bounded by the policy's call timeout and retried as a read that
/// builds a plan is.
async fn bounded<T>(
    policy: &Policy,
    what: String,
    call: impl std::future::Future<Output = CloudResult<T>>,
) -> CloudResult<T> {
    let budget = Budget {
        call_timeout: policy.execution.call_timeout,
        retries: 0,
    };
    let mut call = Some(call);
    let once = || {
        let c = call.take();
        async move {
            match c {
                Some(c) => c.await,
                None => unreachable!("one attempt only"),
            }
        }
    };
    with_retry(budget, &what, once, |_, _| {}).await
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
        // Read in the standby region, which may not answer: bounded.
        let read = tokio::time::timeout(
            policy.execution.call_timeout,
            exposures.exposure(&flipped, tier),
        );
        let e = match read.await {
            Ok(Ok(m)) => m.exposure,
            Ok(Err(_)) | Err(_) => crate::model::Exposure::Unknown,
        };
        out.insert(tier, e);
    }
    out
}
