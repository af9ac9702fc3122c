//! One policy file, two directions: the policy as read after a reprotect.
//!
//! A policy is written for the home direction. Once a reprotect has made
//! the secondary region active, every layer (probes, heartbeats, planner,
//! fencing) reads the same file [`Orientation::Reversed`]: each
//! primary/secondary pair swapped. Reading it reversed twice gives the file
//! as written, so a full cycle ends where it started.

use crate::model::{Orientation, RecordedNames};

use super::{Policy, ReverseReplicator};

/// What a reprotect recorded about the cache in the replicated state: the
/// Global Datastore it created (AWS prefixes its id) and the name it gave
/// the member in the old primary region, when either differs from the
/// policy's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheTopology {
    /// The Global Datastore now joining the members.
    pub global_datastore: Option<String>,
    /// The member a reprotect created in the policy's primary region.
    pub home_member: Option<String>,
}

impl Policy {
    /// The policy read in `orientation`. `AsWritten` returns it unchanged;
    /// `Reversed` swaps the regions, the database instances, the cache
    /// members, the stream clusters and replicators, the traffic targets
    /// and routing controls, the load balancers' target groups (with
    /// `tiers.dns.primary_target_groups`), the heartbeats' connections, the
    /// probes (with `detection.secondary_probes`), the node-group clusters (with
    /// `tiers.node_groups.primary_cluster`) and the fencing connections
    /// (with `secondary_connection`). A pair whose second half the policy
    /// does not set stays as written; [`Policy::orientation_gaps`] names it.
    pub fn oriented(&self, orientation: Orientation) -> Policy {
        let mut p = self.clone();
        if orientation == Orientation::AsWritten {
            return p;
        }
        std::mem::swap(&mut p.regions.primary, &mut p.regions.secondary);
        if let Some(s) = p.detection.secondary_probes.take() {
            p.detection.secondary_probes = Some(std::mem::replace(&mut p.detection.probes, s));
        }
        for h in [
            &mut p.detection.heartbeats.database,
            &mut p.detection.heartbeats.cache,
        ]
        .into_iter()
        .flatten()
        {
            std::mem::swap(&mut h.primary, &mut h.replica);
        }
        let t = &mut p.tiers;
        if let Some(d) = &mut t.database {
            std::mem::swap(&mut d.primary, &mut d.replica);
        }
        let mut cluster_swap = None;
        if let Some(n) = &mut t.node_groups {
            if let Some(home) = n.primary_cluster.take() {
                cluster_swap = Some((home.clone(), n.cluster.clone()));
                n.primary_cluster = Some(std::mem::replace(&mut n.cluster, home));
            }
        }
        if let Some(c) = &mut t.cache {
            std::mem::swap(&mut c.primary_member, &mut c.dr_member);
        }
        if let Some(s) = &mut t.stream {
            std::mem::swap(&mut s.primary_cluster, &mut s.dr_cluster);
            if let (Some(fwd), Some(rev)) = (s.replicator.take(), s.reverse_replicator.take()) {
                s.replicator = Some(rev.name);
                s.reverse_replicator = Some(ReverseReplicator {
                    name: fwd,
                    service_execution_role_arn: rev.service_execution_role_arn,
                });
            }
            swap_switch(&mut s.switch);
        }
        if let Some(d) = &mut t.dns {
            std::mem::swap(&mut d.primary, &mut d.secondary);
            swap_switch(&mut d.switch);
            if let Some(home) = d.primary_target_groups.take() {
                d.primary_target_groups = Some(std::mem::replace(&mut d.dr_target_groups, home));
            }
        }
        if let Some(f) = &mut p.fencing {
            if let Some(d) = &mut f.database {
                if let Some(other) = d.secondary_connection.take() {
                    d.secondary_connection = Some(std::mem::replace(&mut d.connection, other));
                }
            }
            if let Some(c) = &mut f.cache {
                if let (Some(other), Some(conn)) =
                    (c.secondary_connection.take(), c.connection.take())
                {
                    c.connection = Some(other);
                    c.secondary_connection = Some(conn);
                }
            }
            if let (Some(n), Some((a, b))) = (&mut f.node_groups, cluster_swap) {
                if n.cluster == a {
                    n.cluster = b;
                } else if n.cluster == b {
                    n.cluster = a;
                }
            }
        }
        p
    }

    /// The policy as written with what a reprotect recorded about the
    /// cache: its new Global Datastore and the name of the member it
    /// created in the policy's primary region, in place of the policy's
    /// names. Apply it before [`Policy::oriented`]:
    /// `policy.with_cache_topology(&t).oriented(o)`.
    pub fn with_cache_topology(&self, topology: &CacheTopology) -> Policy {
        let mut p = self.clone();
        if let Some(c) = &mut p.tiers.cache {
            if let Some(g) = &topology.global_datastore {
                c.global_datastore = g.clone();
            }
            if let Some(m) = &topology.home_member {
                c.primary_member = m.clone();
            }
        }
        p
    }

    /// The policy as written, read in `orientation` with the names a
    /// reprotect recorded (the Global Datastore it created, the cache
    /// member it made in the primary region): how every layer reads it once
    /// the roles switched.
    pub fn in_roles(&self, orientation: Orientation, names: &RecordedNames) -> Policy {
        let topology = CacheTopology {
            global_datastore: names.global_datastore.clone(),
            home_member: names.cache_member.clone(),
        };
        self.with_cache_topology(&topology).oriented(orientation)
    }

    /// The fields a policy as written needs before it can be read reversed
    /// (a reprotect and a failback refuse without them), each as
    /// `field: what to set`. Empty when the policy is ready.
    pub fn orientation_gaps(&self) -> Vec<String> {
        let mut out = Vec::new();
        let t = &self.tiers;
        if self.detection.secondary_probes.is_none() {
            out.push(format!(
                "detection.secondary_probes: set the probes of {} for when it is active",
                self.regions.secondary
            ));
        }
        if t.node_groups
            .as_ref()
            .is_some_and(|n| n.primary_cluster.is_none())
        {
            out.push(format!(
                "tiers.node_groups.primary_cluster: name the EKS cluster of {}",
                self.regions.primary
            ));
        }
        if t.dns
            .as_ref()
            .is_some_and(|d| !d.dr_target_groups.is_empty() && d.primary_target_groups.is_none())
        {
            out.push(format!(
                "tiers.dns.primary_target_groups: the target groups of the load balancer in {}, \
                 for readiness to read once it is the standby",
                self.regions.primary
            ));
        }
        if let Some(s) = &t.stream {
            if s.reverse_replicator.is_none() || s.replicator.is_none() {
                out.push(
                    "tiers.stream.replicator and tiers.stream.reverse_replicator: name the MSK \
                     Replicator of each direction (and the reverse one's service_execution_role_arn)"
                        .to_string(),
                );
            }
        }
        if let Some(f) = &self.fencing {
            if f.database
                .as_ref()
                .is_some_and(|d| d.secondary_connection.is_none())
            {
                out.push(format!(
                    "fencing.database.secondary_connection: the fencing role's connection settings \
                     on {} in {}",
                    t.database.as_ref().map(|d| d.replica.as_str()).unwrap_or("the DR instance"),
                    self.regions.secondary
                ));
            }
            if f.cache.as_ref().is_some_and(|c| {
                c.method == super::CacheFenceMethod::Acl && c.secondary_connection.is_none()
            }) {
                out.push(format!(
                    "fencing.cache.secondary_connection: the redis:// URL of the cache in {}",
                    self.regions.secondary
                ));
            }
        }
        out
    }
}

fn swap_switch(switch: &mut super::TrafficSwitch) {
    if let super::TrafficSwitch::RoutingControl(pair) = switch {
        std::mem::swap(&mut pair.primary, &mut pair.secondary);
    }
}

#[cfg(test)]
mod tests;
