//! Data-loss exposure: how much a failover of one data tier would lose, and
//! where that figure comes from.
//!
//! Exposure is read apart from the capability traits. Two kinds of source
//! implement [`ExposureSource`]: the provider's own replication metrics
//! (CloudWatch in the DR region for AWS: RDS `ReplicaLag`, ElastiCache
//! `GlobalDatastoreReplicationLag`, MSK Replicator `ReplicationLatency`; the
//! latency model for the simulated cloud), and the controller's replication
//! heartbeats, which override the provider's figure for the tiers they
//! measure. The executor and the RPO gate only see an `ExposureSource`.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::CloudResult;
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::Policy;

/// One exposure figure with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    /// The figure (unknown when it cannot be measured or is too old).
    pub exposure: Exposure,
    /// Where it comes from, for people: `cloudwatch AWS/RDS ReplicaLag`,
    /// `heartbeat`, `simulated`.
    pub source: String,
    /// When the figure was true (RFC 3339), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The source's resolution (a metric's period), in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_s: Option<u64>,
}

impl Measurement {
    /// A figure from `source` with no timestamp or resolution.
    pub fn new(exposure: Exposure, source: impl Into<String>) -> Self {
        Self {
            exposure,
            source: source.into(),
            at: None,
            resolution_s: None,
        }
    }

    /// An unknown figure, saying why.
    pub fn unknown(why: impl Into<String>) -> Self {
        Self::new(Exposure::Unknown, why)
    }
}

/// Where exposure figures come from.
pub trait ExposureSource: Send + Sync {
    /// The exposure of `tier` of `policy`'s platform if it failed over now
    /// to the secondary region. Reads only the secondary region.
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>>;
}
