//! Observing the cloud: read-only calls that fill a [`plan::Observed`].
//!
//! Only the DR side is read: in a real regional outage the primary region
//! may not answer, and the plan must still be buildable. Traffic switched by
//! routing controls is read from ARC's data plane and DNS; only tiers in
//! record mode read Route 53's API (control plane, us-east-1). A resource
//! that cannot be read is recorded as such, not treated as absent, so
//! preflight can say which call failed. Every read is bounded (the policy's
//! call timeout, a small retry budget) and the reads run at once.

use std::collections::BTreeMap;

use futures::future::join_all;

use super::retry::{with_retry, Budget};
use crate::cloud::{
    through_endpoints, Cloud, CloudResult, ErrorKind, ExposureSource, Measurement, RecordType,
    ENDPOINT_TIMEOUT,
};
use crate::model::DataTier;
use crate::model::Op;
use crate::plan::{stream_target, Observed, RoutingView, Seen};
use crate::policy::{Policy, RoutingControlPair, TrafficSwitch};

/// Where progress notes go (a retried or unanswered read, as a sentence).
pub type Notes<'a> = &'a (dyn Fn(String) + Send + Sync);

fn seen<T>(r: CloudResult<Option<T>>) -> Seen<T> {
    match r {
        Ok(Some(t)) => Seen::Present(t),
        Ok(None) => Seen::Absent,
        Err(e) if e.kind == ErrorKind::NotFound => Seen::Unreadable(e.message),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

/// A read, retried by error kind like every other call: a throttled read
/// (Route 53 allows five calls a second) must not look like a missing resource.
async fn retried<T, F, Fut>(
    policy: &Policy,
    what: &str,
    notes: Notes<'_>,
    call: F,
) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CloudResult<T>>,
{
    let budget = Budget::read(policy.execution.call_timeout);
    with_retry(budget, what, call, |e, a| {
        tracing::debug!(error = %e, "read failed; retrying");
        notes(format!(
            "waiting for {what}: {}; attempt {} of {}, next in {}",
            e.message,
            a.number,
            a.of,
            crate::duration::fmt(a.delay)
        ));
    })
    .await
}

fn measurement(r: CloudResult<Measurement>) -> Measurement {
    // An exposure that cannot be read is unknown, which the gate treats as
    // above the RPO: failing to measure never lets a failover through.
    r.unwrap_or_else(|e| Measurement::unknown(format!("unreadable: {}", e.message)))
}

/// Reads everything the plan needs for `policy`. Never fails: what cannot be
/// read is recorded in the result. The tiers are read concurrently, so the
/// observation costs about as long as the slowest read, not their sum.
pub async fn observe<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
    notes: Notes<'_>,
) -> Observed {
    observe_scope(cloud, exposures, policy, Scope::Everything, notes).await
}

/// A progress sink that drops every note.
pub fn no_notes(_: String) {}

/// How much of the platform to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Every resource the policy names.
    Everything,
    /// Only what the RPO gate needs: the data tiers' state and exposure.
    DataTiers,
}

/// Reads the resources in `scope`; the others stay unobserved.
pub(super) async fn observe_scope<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
    scope: Scope,
    notes: Notes<'_>,
) -> Observed {
    let to = policy.regions.secondary.as_str();
    let tiers = &policy.tiers;
    let everything = scope == Scope::Everything;
    let rds = format!("rds.{to}");
    let exposure = |tier| async move { measurement(exposures.exposure(policy, tier).await) };
    let database = async {
        let db = tiers.database.as_ref()?;
        let (state, lag) = tokio::join!(
            retried(policy, &rds, notes, || cloud.get_database(to, &db.replica)),
            exposure(DataTier::Database)
        );
        Some((seen(state), lag))
    };
    let eks = format!("eks.{to}");
    let node_groups = async {
        let Some(ng) = tiers.node_groups.as_ref().filter(|_| everything) else {
            return BTreeMap::new();
        };
        let reads = ng.groups.iter().map(|g| async {
            let s = retried(policy, &eks, notes, || {
                cloud.get_node_group(to, &ng.cluster, &g.name)
            })
            .await;
            (g.name.clone(), seen(s))
        });
        join_all(reads).await.into_iter().collect()
    };
    let elasticache = format!("elasticache.{to}");
    let cache = async {
        let c = tiers.cache.as_ref()?;
        let (state, member, lag) = tokio::join!(
            retried(policy, &elasticache, notes, || cloud
                .get_global_datastore(to, &c.global_datastore)),
            retried(policy, &elasticache, notes, || cloud
                .get_replication_group(to, &c.dr_member)),
            exposure(DataTier::Cache)
        );
        Some((seen(state), seen(member), lag))
    };
    let kafka = format!("kafka.{to}");
    let stream = async {
        let s = tiers.stream.as_ref()?;
        let r = &s.client_record;
        let (cluster, lag) = tokio::join!(
            retried(policy, &kafka, notes, || cloud
                .get_stream_cluster(to, &s.dr_cluster)),
            exposure(DataTier::Stream)
        );
        let cluster = seen(cluster);
        let (record, routing) = match &s.switch {
            TrafficSwitch::Record => {
                let rec = retried(policy, "route53 (control plane)", notes, || {
                    cloud.get_record(&r.zone, &r.name, RecordType::Cname)
                })
                .await;
                (Some(seen(rec)), None)
            }
            TrafficSwitch::RoutingControl(pair) => {
                let target =
                    cluster
                        .present()
                        .and_then(|c| stream_target(s, c))
                        .map(|rec| match rec.target {
                            crate::cloud::RecordTarget::Cname { value, .. } => value,
                            crate::cloud::RecordTarget::Alias { dns_name, .. } => dns_name,
                        });
                let view = routing_view(cloud, policy, pair, &r.name, target.as_deref()).await;
                (None, Some(seen(view.map(Some))))
            }
        };
        Some((cluster, record, routing, lag))
    };
    let dns = async {
        let d = tiers.dns.as_ref().filter(|_| everything)?;
        Some(match &d.switch {
            TrafficSwitch::Record => {
                let rec = retried(policy, "route53 (control plane)", notes, || {
                    cloud.get_record(&d.zone, &d.record, RecordType::A)
                })
                .await;
                (Some(seen(rec)), None)
            }
            TrafficSwitch::RoutingControl(pair) => {
                let view = routing_view(
                    cloud,
                    policy,
                    pair,
                    &d.record,
                    Some(d.secondary.dns_name.as_str()),
                )
                .await;
                (None, Some(seen(view.map(Some))))
            }
        })
    };
    let (database, node_groups, cache, stream, dns) =
        tokio::join!(database, node_groups, cache, stream, dns);
    let mut o = Observed {
        node_groups,
        ..Observed::default()
    };
    if let Some((record, routing)) = dns {
        o.dns_record = record;
        o.dns_routing = routing;
    }
    let put = |o: &mut Observed, tier, m: Measurement| {
        o.exposures.insert(tier, m.exposure);
        o.exposure_sources.insert(tier, m.source);
    };
    if let Some((state, lag)) = database {
        o.database = Some(state);
        put(&mut o, DataTier::Database, lag);
    }
    if let Some((state, member, lag)) = cache {
        o.cache = Some(state);
        o.cache_member = Some(member);
        put(&mut o, DataTier::Cache, lag);
    }
    if let Some((cluster, record, routing, lag)) = stream {
        o.stream_cluster = Some(cluster);
        o.stream_record = record;
        o.stream_routing = routing;
        put(&mut o, DataTier::Stream, lag);
    }
    // Read only through the DR region's own connections: a policy that
    // names none would reach into the region being left.
    if everything && policy.fencing.is_some() && policy.orientation_gaps().is_empty() {
        let fenced = super::quiesce::any_fenced(cloud, policy, to).await;
        o.target_writers_fenced = Some(seen(fenced.map(Some)));
    }
    o
}

/// The routing-control cluster's endpoints, the activating region's first
/// and the region being left last.
pub(super) fn endpoints(policy: &Policy) -> Vec<crate::cloud::ClusterEndpoint> {
    policy
        .routing_control
        .as_ref()
        .map(|r| r.endpoints_for(&policy.regions.primary, &policy.regions.secondary))
        .unwrap_or_default()
}

/// Reads a routing-control switch from the data plane: both controls'
/// states through the cluster's endpoints, and what `record` resolves to,
/// compared with what `target` resolves to.
pub async fn routing_view<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    pair: &RoutingControlPair,
    record: &str,
    target: Option<&str>,
) -> CloudResult<RoutingView> {
    let endpoints = endpoints(policy);
    let endpoints = endpoints.as_slice();
    let state = |arn: &str| {
        let arn = arn.to_string();
        async move {
            through_endpoints(
                Op::GetRoutingControlState,
                endpoints,
                ENDPOINT_TIMEOUT,
                |ep| cloud.get_routing_control_state(ep, &arn),
            )
            .await
        }
    };
    let (primary_on, secondary_on) = tokio::join!(state(&pair.primary), state(&pair.secondary));
    let (primary_on, secondary_on) = (primary_on?, secondary_on?);
    let (answers_secondary, answer) = match target {
        None => (false, "the DR target is unknown".to_string()),
        Some(target) => {
            let (have, want) = tokio::join!(cloud.resolve(record), cloud.resolve(target));
            match (have, want) {
                (Ok(have), Ok(want)) => {
                    let shown = have
                        .names
                        .iter()
                        .map(String::clone)
                        .chain(have.addrs.iter().map(ToString::to_string))
                        .collect::<Vec<_>>()
                        .join(", ");
                    (have.points_at(target, &want), shown)
                }
                (Err(e), _) | (_, Err(e)) => (false, format!("no answer: {}", e.message)),
            }
        }
    };
    Ok(RoutingView {
        primary_on,
        secondary_on,
        answers_secondary,
        answer,
    })
}
