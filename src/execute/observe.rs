//! Observing the cloud: read-only calls that fill a [`plan::Observed`].
//!
//! Only the DR side is read (and the records in Route 53): in a real regional
//! outage the primary region may not answer, and the plan must still be
//! buildable. A resource that cannot be read is recorded as such, not
//! treated as absent, so preflight can say which call failed.

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

fn exposure(r: Result<Exposure, CloudError>) -> Exposure {
    // An exposure that cannot be read is unknown, which the gate treats as
    // above the RPO: failing to measure never lets a failover through.
    r.unwrap_or(Exposure::Unknown)
}

/// Reads everything the plan needs for `policy`. Never fails: what cannot be
/// read is recorded in the result.
pub async fn observe<C: Cloud>(cloud: &C, policy: &Policy) -> Observed {
    let to = policy.regions.secondary.as_str();
    let tiers = &policy.tiers;
    let mut o = Observed::default();
    if let Some(db) = &tiers.database {
        o.database = Some(seen(cloud.get_database(to, &db.replica).await));
        o.exposures.insert(
            DataTier::Database,
            exposure(cloud.database_exposure(to, &db.replica).await),
        );
    }
    if let Some(ng) = &tiers.node_groups {
        for g in &ng.groups {
            let s = seen(cloud.get_node_group(to, &ng.cluster, &g.name).await);
            o.node_groups.insert(g.name.clone(), s);
        }
    }
    if let Some(c) = &tiers.cache {
        o.cache = Some(seen(cloud.get_global_datastore(&c.global_datastore).await));
        o.exposures.insert(
            DataTier::Cache,
            exposure(cloud.cache_exposure(&c.global_datastore, to).await),
        );
    }
    if let Some(s) = &tiers.stream {
        o.stream_cluster = Some(seen(cloud.get_stream_cluster(to, &s.dr_cluster).await));
        let r = &s.client_record;
        o.stream_record = Some(seen(
            cloud.get_record(&r.zone, &r.name, RecordType::Cname).await,
        ));
        o.exposures.insert(
            DataTier::Stream,
            exposure(cloud.stream_exposure(to, &s.dr_cluster).await),
        );
    }
    if let Some(d) = &tiers.dns {
        o.dns_record = Some(seen(
            cloud.get_record(&d.zone, &d.record, RecordType::A).await,
        ));
    }
    o
}
