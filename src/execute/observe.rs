//! Observing the cloud: read-only calls that fill a [`plan::Observed`].
//!
//! Only the DR side is read (and the records in Route 53): in a real regional
//! outage the primary region may not answer, and the plan must still be
//! buildable. A resource that cannot be read is recorded as such, not
//! treated as absent, so preflight can say which call failed.

use std::collections::BTreeMap;

use super::retry::with_retry;
use crate::cloud::{Cloud, CloudError, CloudResult, ErrorKind, Exposure, RecordType};
use crate::plan::{DataTier, Observed, Seen};
use crate::policy::Policy;

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
async fn retried<T, F, Fut>(call: F) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CloudResult<T>>,
{
    with_retry(
        call,
        |e, _| tracing::debug!(error = %e, "read failed; retrying"),
    )
    .await
}

fn exposure(r: Result<Exposure, CloudError>) -> Exposure {
    // An exposure that cannot be read is unknown, which the gate treats as
    // above the RPO: failing to measure never lets a failover through.
    r.unwrap_or(Exposure::Unknown)
}

/// Reads everything the plan needs for `policy`. Never fails: what cannot be
/// read is recorded in the result. The tiers are read concurrently, so the
/// observation costs about as long as the slowest tier, not their sum.
pub async fn observe<C: Cloud>(cloud: &C, policy: &Policy) -> Observed {
    observe_scope(cloud, policy, Scope::Everything).await
}

/// How much of the platform to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Every resource the policy names.
    Everything,
    /// Only what the RPO gate needs: the data tiers' state and exposure.
    /// Skipping the rest saves calls, among them a Route 53 read, whose
    /// control plane allows five calls a second.
    DataTiers,
}

/// Reads the resources in `scope`; the others stay unobserved.
pub(super) async fn observe_scope<C: Cloud>(cloud: &C, policy: &Policy, scope: Scope) -> Observed {
    let to = policy.regions.secondary.as_str();
    let tiers = &policy.tiers;
    let everything = scope == Scope::Everything;
    let database = async {
        let db = tiers.database.as_ref()?;
        let (state, lag) = tokio::join!(
            retried(|| cloud.get_database(to, &db.replica)),
            retried(|| cloud.database_exposure(to, &db.replica))
        );
        Some((seen(state), exposure(lag)))
    };
    let node_groups = async {
        let mut out = BTreeMap::new();
        if let Some(ng) = tiers.node_groups.as_ref().filter(|_| everything) {
            for g in &ng.groups {
                let s = seen(retried(|| cloud.get_node_group(to, &ng.cluster, &g.name)).await);
                out.insert(g.name.clone(), s);
            }
        }
        out
    };
    let cache = async {
        let c = tiers.cache.as_ref()?;
        let (state, lag) = tokio::join!(
            retried(|| cloud.get_global_datastore(to, &c.global_datastore)),
            retried(|| cloud.cache_exposure(&c.global_datastore, to))
        );
        Some((seen(state), exposure(lag)))
    };
    let stream = async {
        let s = tiers.stream.as_ref()?;
        let r = &s.client_record;
        let (cluster, record, lag) = tokio::join!(
            retried(|| cloud.get_stream_cluster(to, &s.dr_cluster)),
            retried(|| cloud.get_record(&r.zone, &r.name, RecordType::Cname)),
            retried(|| cloud.stream_exposure(to, &s.dr_cluster))
        );
        Some((seen(cluster), seen(record), exposure(lag)))
    };
    let dns = async {
        let d = tiers.dns.as_ref().filter(|_| everything)?;
        Some(seen(
            retried(|| cloud.get_record(&d.zone, &d.record, RecordType::A)).await,
        ))
    };
    let (database, node_groups, cache, stream, dns_record) =
        tokio::join!(database, node_groups, cache, stream, dns);
    let mut o = Observed {
        node_groups,
        dns_record,
        ..Observed::default()
    };
    if let Some((state, lag)) = database {
        o.database = Some(state);
        o.exposures.insert(DataTier::Database, lag);
    }
    if let Some((state, lag)) = cache {
        o.cache = Some(state);
        o.exposures.insert(DataTier::Cache, lag);
    }
    if let Some((cluster, record, lag)) = stream {
        o.stream_cluster = Some(cluster);
        o.stream_record = Some(record);
        o.exposures.insert(DataTier::Stream, lag);
    }
    o
}
