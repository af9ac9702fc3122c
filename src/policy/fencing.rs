//! What drctl fences so that the old primary never writes beside the
//! promoted replica: self-fencing by lease in a region cut off from the
//! majority, and fencing again when the region left answers after a
//! failover (see `runbooks/fencing.md`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{secs, Detection, SecretSource};

/// The policy's `fencing` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fencing {
    /// How long the primary region's controller node may be cut off from
    /// the majority before it fences the writers it reaches locally.
    /// Strictly shorter than [`Fencing::earliest_confirmation`].
    #[serde(with = "secs")]
    pub self_fence_after: Duration,
    /// The most two sites' clocks may disagree (default 5s).
    #[serde(with = "secs")]
    pub max_clock_skew: Duration,
    /// Whether the old primary is fenced and renamed on its own once its
    /// region answers after a failover (default true).
    pub on_return: bool,
    /// The database's application roles.
    pub database: Option<DatabaseFencing>,
    /// The cache's application users.
    pub cache: Option<CacheFencing>,
    /// Node groups of the primary region scaled to zero.
    pub node_groups: Option<NodeGroupFencing>,
}

impl Fencing {
    /// The earliest moment, after the primary region was cut off, at which
    /// the majority could confirm its outage: consecutive failures × probe
    /// interval, less the clock-skew allowance.
    pub fn earliest_confirmation(&self, detection: &Detection) -> Duration {
        (detection.probe_interval * detection.consecutive_failures)
            .saturating_sub(self.max_clock_skew)
    }

    /// How long after the majority last heard from the primary region's
    /// site a promotion must wait: one probe interval (the site's rounds
    /// come that often, so it may have been in contact that much longer),
    /// the lease, and the clock-skew allowance; by then the cut-off node
    /// has fenced itself.
    pub fn promotion_not_before(&self, detection: &Detection) -> Duration {
        detection.probe_interval + self.self_fence_after + self.max_clock_skew
    }

    /// Every method as a line for plans and status.
    pub fn methods(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = &self.database {
            out.push(format!(
                "database: revoke LOGIN from {} and end their sessions",
                d.roles.join(", ")
            ));
        }
        if let Some(c) = &self.cache {
            out.push(format!(
                "cache: make {} read-only ({})",
                c.users.join(", "),
                c.method.label()
            ));
        }
        if let Some(n) = &self.node_groups {
            out.push(format!(
                "node groups: scale {} of {} to zero",
                n.groups.join(", "),
                n.cluster
            ));
        }
        out
    }
}

/// PostgreSQL fencing: revoke LOGIN from the application roles and end
/// their sessions, through a fencing role (RDS allows neither `ALTER SYSTEM`
/// nor superuser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseFencing {
    /// The primary's connection settings as the fencing role (libpq
    /// conninfo), reached from the primary region.
    pub connection: String,
    /// The DR instance's connection settings as the fencing role, used when
    /// the platform runs from the secondary region (`None`: a failback
    /// cannot quiesce the database's writers; its preflight says so).
    pub secondary_connection: Option<String>,
    /// Where the fencing role's password comes from.
    pub password: SecretSource,
    /// Extra certificates (PEM) to trust, like RDS's `global-bundle.pem`.
    pub ca_file: Option<PathBuf>,
    /// The application roles that write.
    pub roles: Vec<String>,
}

/// How the cache's writers are fenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheFenceMethod {
    /// ElastiCache RBAC: `ModifyUser` gives the users a read-only access
    /// string (ElastiCache refuses `ACL` commands).
    ElasticacheUser,
    /// Self-managed Redis: `ACL SETUSER <user> -@write`, then their
    /// connections are closed.
    Acl,
}

impl CacheFenceMethod {
    /// The policy spelling.
    pub fn label(self) -> &'static str {
        match self {
            Self::ElasticacheUser => "elasticache_user",
            Self::Acl => "acl",
        }
    }
}

/// Cache fencing: the application users made read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheFencing {
    /// How.
    pub method: CacheFenceMethod,
    /// The primary's `redis://` URL (method `acl` only).
    pub connection: Option<String>,
    /// The DR member's `redis://` URL (method `acl` only), used when the
    /// platform runs from the secondary region.
    pub secondary_connection: Option<String>,
    /// Where the password for `connection` comes from.
    pub password: SecretSource,
    /// The ElastiCache user ids (`elasticache_user`) or ACL user names.
    pub users: Vec<String>,
}

/// Node groups of the primary region's cluster scaled to zero when fencing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeGroupFencing {
    /// The primary region's EKS cluster.
    pub cluster: String,
    /// The node groups to scale to zero.
    pub groups: Vec<String>,
}
