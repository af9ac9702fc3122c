//! How a policy moves traffic and data tiers without the region being left:
//! ARC routing controls, and what the cache does when the primary region
//! cannot take part.

use serde::Serialize;

/// An ARC cluster's regional endpoints, copied into the policy at setup
/// (from DescribeCluster) so that a failover never has to look them up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingControlCluster {
    /// The endpoints, as the policy lists them.
    pub endpoints: Vec<crate::cloud::ClusterEndpoint>,
}

impl RoutingControlCluster {
    /// The endpoints in the order a switch to `to` away from `from` tries
    /// them: `to`'s own first, then the others in policy order, `from`'s
    /// last, so that a healthy failover never calls the region being left.
    pub fn endpoints_for(&self, from: &str, to: &str) -> Vec<crate::cloud::ClusterEndpoint> {
        let mut out = self.endpoints.clone();
        out.sort_by_key(|e| match e.region.as_str() {
            r if r == to => 0,
            r if r == from => 2,
            _ => 1,
        });
        out
    }
}

/// How a tier moves traffic to the secondary region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum TrafficSwitch {
    /// UPSERT the record through Route 53's API. That API is served from
    /// us-east-1: when us-east-1 is lost, this switch may not work.
    Record,
    /// Turn ARC routing controls (the data plane): the secondary's on, the
    /// primary's off. The records are pre-created failover records whose
    /// health checks follow the routing controls.
    RoutingControl(RoutingControlPair),
}

/// The routing control of each region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RoutingControlPair {
    /// ARN of the primary region's routing control.
    pub primary: String,
    /// ARN of the secondary region's routing control.
    pub secondary: String,
}

/// What the cache step does when the primary region cannot take part in a
/// Global Datastore failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenPrimaryDown {
    /// Disassociate the DR member: it serves as a standalone primary.
    Disassociate,
    /// Keep trying the failover until the step times out.
    Wait,
}
