//! How long things take in the simulated cloud.
//!
//! The defaults follow what AWS documents and what operators report (see
//! DESIGN.md): RDS read-replica promotion takes a few minutes, an EKS node
//! group scale-up two to four minutes until nodes are Ready, a Route 53
//! change up to a minute to reach INSYNC, an ElastiCache Global Datastore
//! failover about a minute. The resources a reprotect creates take longer:
//! a cross-region read replica twenty to forty-five minutes, a Global
//! Datastore secondary or an MSK Replicator fifteen to thirty. Each value
//! is a range; a seeded generator picks within it, so a run is repeatable
//! for a given seed.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A closed range of durations, written `[min, max]` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Shortest, in milliseconds.
    pub min_ms: u64,
    /// Longest, in milliseconds.
    pub max_ms: u64,
}

impl Span {
    const fn secs(min: u64, max: u64) -> Self {
        Self {
            min_ms: min * 1000,
            max_ms: max * 1000,
        }
    }

    /// A duration within the span.
    pub fn sample(&self, rng: &mut SmallRng) -> Duration {
        let (lo, hi) = (self.min_ms.min(self.max_ms), self.max_ms.max(self.min_ms));
        Duration::from_millis(rng.random_range(lo..=hi))
    }
}

/// The latency model of the simulated cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyModel {
    /// Round trip of one control-plane API call.
    pub api_call: Span,
    /// RDS read replica promotion until the instance is standalone and available.
    pub database_promotion: Span,
    /// EKS node group update until ACTIVE at the new size with nodes Ready.
    pub node_group_scaling: Span,
    /// Route 53 change until INSYNC.
    pub dns_propagation: Span,
    /// ElastiCache Global Datastore failover until the new primary is available.
    pub cache_failover: Span,
    /// DisassociateGlobalReplicationGroup until the member is standalone and available.
    pub cache_disassociation: Span,
    /// A routing-control change until DNS answers follow it (Route 53's
    /// health checkers noticing, before any TTL).
    pub routing_control_effect: Span,
    /// CreateDBInstanceReadReplica across regions until the new replica is
    /// available and replicating (a snapshot copied across regions, then
    /// restored and caught up: tens of minutes).
    pub database_replica_creation: Span,
    /// CreateGlobalReplicationGroup until the new datastore is available.
    pub cache_datastore_creation: Span,
    /// CreateReplicationGroup into a Global Datastore until the new
    /// secondary is available and associated (a cluster built and synced
    /// in another region).
    pub cache_member_creation: Span,
    /// CreateReplicator until the replicator is RUNNING.
    pub replicator_creation: Span,
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self {
            api_call: Span {
                min_ms: 40,
                max_ms: 250,
            },
            database_promotion: Span::secs(180, 300),
            node_group_scaling: Span::secs(120, 240),
            dns_propagation: Span::secs(20, 60),
            cache_failover: Span::secs(45, 75),
            cache_disassociation: Span::secs(20, 40),
            routing_control_effect: Span::secs(10, 40),
            database_replica_creation: Span::secs(1200, 2700),
            cache_datastore_creation: Span::secs(60, 180),
            cache_member_creation: Span::secs(900, 1800),
            replicator_creation: Span::secs(900, 1800),
        }
    }
}

impl Span {
    /// The span with both ends multiplied by `factor`.
    pub fn scaled(self, factor: f64) -> Self {
        let f = |ms: u64| (ms as f64 * factor).round() as u64;
        Self {
            min_ms: f(self.min_ms),
            max_ms: f(self.max_ms),
        }
    }
}

impl LatencyModel {
    /// Every state change sped up (or slowed down) by `factor`; API round
    /// trips keep their real length. A local cluster on the real clock uses
    /// this to make minutes of promotion and scaling pass in seconds.
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            api_call: self.api_call,
            database_promotion: self.database_promotion.scaled(factor),
            node_group_scaling: self.node_group_scaling.scaled(factor),
            dns_propagation: self.dns_propagation.scaled(factor),
            cache_failover: self.cache_failover.scaled(factor),
            cache_disassociation: self.cache_disassociation.scaled(factor),
            routing_control_effect: self.routing_control_effect.scaled(factor),
            database_replica_creation: self.database_replica_creation.scaled(factor),
            cache_datastore_creation: self.cache_datastore_creation.scaled(factor),
            cache_member_creation: self.cache_member_creation.scaled(factor),
            replicator_creation: self.replicator_creation.scaled(factor),
        }
    }
}
