//! Where a call goes: service, region and plane.
//!
//! A failover must not depend on the region being left (DESIGN.md,
//! guarantee 8). Every step declares the calls it makes as [`CallSite`]s,
//! so the dry run and the report can show, per step, whether it needs the
//! region being left or Route 53's control plane (served from us-east-1),
//! and the simulated cloud counts every call it answers the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The region that serves Route 53's control plane (and the global half of
/// several other services): its API is hosted in us-east-1 whatever region
/// the platform runs in.
pub const ROUTE53_CONTROL_REGION: &str = "us-east-1";

/// Whether a call goes to a provider's control plane or its data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plane {
    /// Management APIs (describe, modify, promote): served by one region.
    Control,
    /// Data-plane operations built to outlive a region: DNS answers,
    /// health checkers, ARC routing-control state.
    Data,
}

impl fmt::Display for Plane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "control",
            Self::Data => "data",
        })
    }
}

/// One kind of call a step makes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallSite {
    /// The service, as AWS names it in IAM (`rds`, `route53`,
    /// `route53-recovery-cluster`, `dns`, ...).
    pub service: String,
    /// The region whose endpoint answers (`global` for DNS resolution,
    /// `any` for the routing-control cluster's endpoints, tried in turn).
    pub region: String,
    /// Control or data plane.
    pub plane: Plane,
}

impl CallSite {
    /// A call to `service` in `region` on `plane`.
    pub fn new(service: &str, region: &str, plane: Plane) -> Self {
        Self {
            service: service.to_string(),
            region: region.to_string(),
            plane,
        }
    }

    /// Route 53's control plane (ListResourceRecordSets,
    /// ChangeResourceRecordSets, GetChange).
    pub fn route53_control() -> Self {
        Self::new("route53", ROUTE53_CONTROL_REGION, Plane::Control)
    }

    /// Why this call would fail when `leaving` is lost, if it would:
    /// a call to that region, or to Route 53's control plane.
    pub fn depends_on(&self, leaving: &str) -> Option<String> {
        if self.service == "route53" && self.plane == Plane::Control {
            Some(format!(
                "route53's control plane is served from {ROUTE53_CONTROL_REGION}"
            ))
        } else if self.region == leaving {
            Some(format!(
                "{}.{} is in the region being left",
                self.service, self.region
            ))
        } else {
            None
        }
    }
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} ({})", self.service, self.region, self.plane)
    }
}

/// How many calls went to one service, region and plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    /// The service.
    pub service: String,
    /// The region that answered (or was asked and did not answer).
    pub region: String,
    /// Control or data plane.
    pub plane: Plane,
    /// The number of calls.
    pub count: u32,
}
