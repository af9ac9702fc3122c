//! Preflight: what must hold on the DR side before anything is changed.
//!
//! An unknown resource fails here, before the first mutation, never midway
//! through a failover.

use super::{stream_target, Observed, Seen};
use crate::cloud::{RecordTarget, StreamClusterState};
use crate::policy::Policy;

/// RDS statuses from which a replica cannot be promoted.
const DB_BROKEN: &[&str] = &[
    "failed",
    "deleting",
    "stopped",
    "stopping",
    "storage-full",
    "inaccessible-encryption-credentials",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-restore",
    "restore-error",
];

/// EKS node-group statuses that an update cannot fix.
const NODE_GROUP_BROKEN: &[&str] = &["CREATE_FAILED", "DELETING", "DELETE_FAILED", "DEGRADED"];

/// Every problem that stops the plan from running, as sentences naming the
/// resource. Empty when the DR side is ready.
pub fn preflight(policy: &Policy, observed: &Observed) -> Vec<String> {
    let to = &policy.regions.secondary;
    let tiers = &policy.tiers;
    let mut problems = Vec::new();
    let mut control_plane = Vec::new();
    let mut missing = |what: String, seen: Option<&dyn Missing>| {
        if let Some(p) = seen.and_then(|s| s.problem(&what)) {
            problems.push(p);
        }
    };
    if let Some(db) = &tiers.database {
        let what = format!("RDS read replica {} in {to}", db.replica);
        missing(what, observed.database.as_ref().map(|s| s as &dyn Missing));
    }
    if let Some(ng) = &tiers.node_groups {
        for g in &ng.groups {
            let what = format!(
                "node group {} of EKS cluster {} in {to}",
                g.name, ng.cluster
            );
            let seen = observed.node_groups.get(&g.name).unwrap_or(&Seen::Absent);
            missing(what, Some(seen));
        }
    }
    if let Some(c) = &tiers.cache {
        let what = format!("Global Datastore {}", c.global_datastore);
        missing(what, observed.cache.as_ref().map(|s| s as &dyn Missing));
    }
    if let Some(s) = &tiers.stream {
        let what = format!("MSK cluster {} in {to}", s.dr_cluster);
        missing(
            what,
            observed.stream_cluster.as_ref().map(|s| s as &dyn Missing),
        );
        if let Some(seen) = &observed.stream_routing {
            let what = format!("the routing controls of {}", s.client_record.name);
            missing(what, Some(seen));
        }
        // An absent clients' record is fine: switch-stream creates it.
        if let Some(Seen::Unreadable(e)) = &observed.stream_record {
            let zone = &s.client_record.zone;
            missing(
                format!("record {} in zone {zone}", s.client_record.name),
                Some(&Seen::<()>::Unreadable(e.clone())),
            );
        }
    }
    if let Some(d) = &tiers.dns {
        let what = format!("record {} in zone {}", d.record, d.zone);
        if let Some(Seen::Unreadable(e)) = &observed.dns_record {
            control_plane.push(format!(
                "{what} could not be read through Route 53's control plane, which is served from \
                 us-east-1 ({e}); switch traffic by hand as {} says, or use mode: routing_control",
                super::calls::RECORD_MODE_RUNBOOK
            ));
        }
        missing(
            what,
            observed
                .dns_record
                .as_ref()
                .filter(|s| !matches!(s, Seen::Unreadable(_)))
                .map(|s| s as &dyn Missing),
        );
        if let Some(seen) = &observed.dns_routing {
            missing(format!("the routing controls of {}", d.record), Some(seen));
        }
    }
    problems.extend(control_plane);
    problems.extend(state_problems(policy, observed));
    problems
}

/// A resource that may be absent or unreadable, whatever its state type.
trait Missing {
    /// The problem to report about `what`, if any.
    fn problem(&self, what: &str) -> Option<String>;
}

impl<T> Missing for Seen<T> {
    fn problem(&self, what: &str) -> Option<String> {
        match self {
            Seen::Present(_) => None,
            Seen::Absent => Some(format!("{what} does not exist")),
            Seen::Unreadable(e) => Some(format!("{what} could not be read: {e}")),
        }
    }
}

/// Problems with resources that exist but are in no state to fail over.
fn state_problems(policy: &Policy, observed: &Observed) -> Vec<String> {
    let to = &policy.regions.secondary;
    let tiers = &policy.tiers;
    let mut problems = Vec::new();
    if let (Some(db), Some(Seen::Present(s))) = (&tiers.database, &observed.database) {
        if DB_BROKEN.contains(&s.status.as_str()) {
            problems.push(format!(
                "RDS instance {} in {to} is {}; it cannot be promoted",
                db.replica, s.status
            ));
        }
        if let Some(source) = &s.replica_source {
            let ours = source == &db.primary || source.ends_with(&format!(":db:{}", db.primary));
            if !ours {
                problems.push(format!(
                    "RDS instance {} replicates from {source}, not from {}; check tiers.database",
                    db.replica, db.primary
                ));
            }
        }
    }
    if let Some(ng) = &tiers.node_groups {
        for g in &ng.groups {
            if let Some(Seen::Present(s)) = observed.node_groups.get(&g.name) {
                if NODE_GROUP_BROKEN.contains(&s.status.as_str()) {
                    problems.push(format!(
                        "node group {} in {to} is {}; it cannot be scaled",
                        g.name, s.status
                    ));
                }
            }
        }
    }
    let cache_done = tiers
        .cache
        .as_ref()
        .is_some_and(|c| super::cache_serves_writes(observed, &c.dr_member));
    if let (Some(c), Some(Seen::Present(gds)), false) = (&tiers.cache, &observed.cache, cache_done)
    {
        match gds.member(&c.dr_member) {
            None => problems.push(format!(
                "replication group {} is not a member of Global Datastore {}",
                c.dr_member, c.global_datastore
            )),
            Some(m) if &m.region != to => problems.push(format!(
                "replication group {} is in {}, not in the DR region {to}",
                c.dr_member, m.region
            )),
            Some(_) => {}
        }
    }
    if let (Some(s), Some(Seen::Present(cluster))) = (&tiers.stream, &observed.stream_cluster) {
        problems.extend(stream_problems(
            s.dr_cluster.as_str(),
            cluster,
            stream_target(s, cluster).is_none(),
        ));
    }
    if let (Some(d), Some(Seen::Present(r))) = (&tiers.dns, &observed.dns_record) {
        let ours = [&d.primary, &d.secondary].iter().any(|t| match &r.target {
            RecordTarget::Alias { dns_name, .. } => dns_name
                .trim_end_matches('.')
                .eq_ignore_ascii_case(t.dns_name.trim_end_matches('.')),
            RecordTarget::Cname { .. } => false,
        });
        if !ours {
            problems.push(format!(
                "record {} points at neither the primary nor the secondary target of tiers.dns; refusing to overwrite it",
                d.record
            ));
        }
    }
    problems
}

fn stream_problems(name: &str, cluster: &StreamClusterState, no_brokers: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if !cluster.is_active() {
        problems.push(format!(
            "MSK cluster {name} is {}, not ACTIVE",
            cluster.state
        ));
    }
    if no_brokers {
        problems.push(format!("MSK cluster {name} reports no bootstrap brokers"));
    }
    problems
}
