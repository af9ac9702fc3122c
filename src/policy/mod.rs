//! Policies: what is protected, and the objectives a failover must meet.
//!
//! A policy file goes through two stages. [`raw`] reads the YAML into plain
//! serde types, recording every unknown field; [`validate`] turns those into
//! a [`Policy`] whose values are checked and typed, collecting every problem
//! before reporting. [`load`] ties the two together. The same function serves
//! `drctl policy validate`, every command that takes `--policy`, and the chaos
//! runner, so a policy that validates is a policy every command accepts.

mod failback;
mod fencing;
mod load;
mod orient;
pub use orient::CacheTopology;
mod names;
mod raw;
pub mod read;
mod schema;
mod shown;
mod traffic;
mod validate;
mod validate_budgets;
mod validate_detection;
mod validate_fencing;
/// The clock-skew allowance between sites when the policy sets none.
pub(crate) use validate_fencing::DEFAULT_SKEW as DEFAULT_MAX_CLOCK_SKEW;
mod validate_readiness;
mod validate_routing;
mod validate_targets;
mod validate_tiers;

pub use failback::{Failback, ReverseReplicator, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_WRITE_PAUSE};
pub use fencing::{CacheFenceMethod, CacheFencing, DatabaseFencing, Fencing, NodeGroupFencing};
pub use load::{load, parse};
pub use names::{
    is_plain_file_name, is_region, is_valid_name, shown as shown_name, NAME_LEN_MAX, NAME_RULE,
    REGION_LEN_MAX, REGION_RULE,
};
pub use schema::schema;
pub use traffic::{RoutingControlCluster, RoutingControlPair, TrafficSwitch, WhenPrimaryDown};
pub use validate_readiness::{
    iam_role_arn, ReadinessSettings, READINESS_INTERVAL_MAX, READINESS_INTERVAL_MIN,
};

pub(crate) use validate_targets::target_group_region;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::Scaling;

/// The default policy path, relative to the working directory.
pub const DEFAULT_POLICY: &str = "policies/emr-platform.yaml";

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// The policy's name; also names its journal.
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// Where the policy was read from.
    pub source: PathBuf,
    /// The three sites.
    pub regions: Regions,
    /// Recovery time objective: the longest a failover may take.
    #[serde(with = "secs")]
    pub rto: Duration,
    /// Recovery point objective: the most data a failover may lose.
    #[serde(with = "secs")]
    pub rpo: Duration,
    /// How failure of the primary is detected.
    pub detection: Detection,
    /// Whether a confirmed failure starts a failover on its own.
    pub mode: Mode,
    /// In manual mode: what happens when nobody confirms a recommended
    /// failover in time (`None`: keep waiting).
    pub manual_timeout: Option<ManualTimeout>,
    /// How steps are driven.
    pub execution: ExecutionSettings,
    /// The ARC cluster whose routing controls switch traffic, for tiers in
    /// `routing_control` mode.
    pub routing_control: Option<RoutingControlCluster>,
    /// The protected resources, per tier.
    pub tiers: Tiers,
    /// What is fenced so that the old primary never writes beside the
    /// promoted replica (`None`: nothing is fenced; plans say so).
    pub fencing: Option<Fencing>,
    /// How often the controllers evaluate readiness.
    pub readiness: ReadinessSettings,
    /// The bounds of a failback (the planned switchover home).
    pub failback: Failback,
}

/// Primary, secondary and witness regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regions {
    /// The active region in normal operation.
    pub primary: String,
    /// The DR region a failover moves to.
    pub secondary: String,
    /// The tie-breaker site; never runs the platform.
    pub witness: String,
}

/// Detection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// Time between probes.
    #[serde(with = "secs")]
    pub probe_interval: Duration,
    /// How long one probe may take.
    #[serde(with = "secs")]
    pub probe_timeout: Duration,
    /// Failed probes in a row before a site calls the primary down.
    pub consecutive_failures: u32,
    /// After an execution, automatic failover is held down until an
    /// operator acknowledges it; with a duration, also until that long after
    /// the execution ended, whichever comes first (`None`: only the
    /// acknowledgement ends it).
    #[serde(with = "opt_secs")]
    pub hold_down: Option<Duration>,
    /// What each site probes.
    pub probes: Probes,
    /// What each site probes once the secondary region is active (after a
    /// reprotect); `None`: a reprotect refuses, naming
    /// `detection.secondary_probes`.
    pub secondary_probes: Option<Probes>,
    /// Replication heartbeats that measure data-loss exposure.
    pub heartbeats: Heartbeats,
}

/// What every controller site probes on the primary, each round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Probes {
    /// The primary's public health endpoints; a round passes when each
    /// answers 2xx within the probe timeout.
    pub http: Vec<HttpProbe>,
    /// `host:port` endpoints (database, cache) that must accept a connection.
    pub tcp: Vec<String>,
    /// Read the RDS primary's status through the API (on by default when
    /// the policy has a database tier).
    pub database_status: bool,
    /// A Route 53 health check whose status counts as a probe.
    pub health_check: Option<String>,
}

/// One HTTP probe: `GET url`, passing on a 2xx answer.
///
/// A load balancer's certificate covers the public name its clients use
/// (`api.example.com`), never its own DNS name, and its listener rules may
/// route by Host. So the probe can connect where the URL points (the
/// balancer's addresses) while presenting `server_name` (SNI), verifying
/// the certificate against it and sending it as the Host header, as a
/// client of the public name would; or, said explicitly, not verify the
/// certificate at all.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct HttpProbe {
    /// The URL requested; its host is where the probe connects. Shown and
    /// serialized redacted (any userinfo masked).
    #[serde(serialize_with = "crate::redact::serialize")]
    pub url: String,
    /// The name presented (SNI) and verified in the certificate instead of
    /// the URL's host (https only); also the default Host header.
    pub server_name: Option<String>,
    /// The Host header sent, `host` or `host:port` (default: the server
    /// name when set, else the URL's host).
    pub host: Option<String>,
    /// Whether the server's certificate is verified (https only); `false`
    /// only when the policy says so, and every result of the probe says so.
    pub tls_verify: bool,
}

impl HttpProbe {
    /// A probe of `url` as it stands: its own host name, certificate
    /// verified.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            server_name: None,
            host: None,
            tls_verify: true,
        }
    }
}

/// The URL, then what the probe does differently from a plain `GET` of it:
/// `https://lb.example/health (as api.example.com, Host www.example.com,
/// certificate not verified)`; a Host equal to the server name goes
/// without saying.
impl fmt::Display for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::redact(&self.url))?;
        let mut notes = Vec::new();
        if let Some(name) = &self.server_name {
            notes.push(format!("as {name}"));
        }
        if let Some(host) = self
            .host
            .as_ref()
            .filter(|h| Some(*h) != self.server_name.as_ref())
        {
            notes.push(format!("Host {host}"));
        }
        if !self.tls_verify {
            notes.push("certificate not verified".to_string());
        }
        if !notes.is_empty() {
            write!(f, " ({})", notes.join(", "))?;
        }
        Ok(())
    }
}

/// Heartbeats per data tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Heartbeats {
    /// PostgreSQL: a row per site in `drctl_heartbeat` on the primary.
    pub database: Option<HeartbeatTarget>,
    /// Redis: a key per site, `drctl:heartbeat:<site>`, on the primary.
    pub cache: Option<HeartbeatTarget>,
}

/// Where one tier's heartbeat is written and read. Passwords never live in
/// the policy: they come from an environment variable or a file.
///
/// `Debug` and serialization show the connection settings redacted.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct HeartbeatTarget {
    /// The primary's connection settings (libpq conninfo or `redis://` URL).
    #[serde(serialize_with = "crate::redact::serialize")]
    pub primary: String,
    /// The replica's connection settings.
    #[serde(serialize_with = "crate::redact::serialize")]
    pub replica: String,
    /// Where the password comes from.
    pub password: SecretSource,
    /// Extra certificates (PEM) to trust for `sslmode=require`, like RDS's
    /// `global-bundle.pem` (PostgreSQL only).
    pub ca_file: Option<PathBuf>,
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// No password.
    None,
    /// An environment variable, read when the probe starts.
    Env(String),
    /// A file (first line), read when the probe starts.
    File(PathBuf),
}

impl SecretSource {
    /// Reads the secret; an error names the variable or file.
    pub fn read(&self) -> Result<Option<String>, String> {
        match self {
            Self::None => Ok(None),
            Self::Env(var) => std::env::var(var)
                .map(Some)
                .map_err(|_| format!("environment variable {var} is not set")),
            Self::File(path) => std::fs::read_to_string(path)
                .map(|s| Some(s.lines().next().unwrap_or("").to_string()))
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// What a manual-mode policy does when a recommended failover waits too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ManualTimeout {
    /// How long a recommendation waits for an operator.
    #[serde(with = "secs")]
    pub after: Duration,
    /// What happens then.
    pub action: TimeoutAction,
}

/// The action after a manual timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutAction {
    /// Start the failover, if the RPO gate passes.
    Proceed,
    /// Keep waiting for an operator.
    Wait,
}

/// Whether failover is automatic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A confirmed failure starts the failover.
    Automatic,
    /// A confirmed failure recommends a failover; an operator confirms it.
    Manual,
}

/// How the executor drives steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionSettings {
    /// Time between two reads of a step's postcondition while waiting.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// The longest one step may wait for its postcondition.
    #[serde(with = "secs")]
    pub step_timeout: Duration,
    /// The longest one attempt of one cloud call may take; the retry budget
    /// counts each attempt that runs out of time.
    #[serde(with = "secs")]
    pub call_timeout: Duration,
    /// The longest connecting to a cloud endpoint may take.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// How long each kind of step is expected to take at most: `drctl
    /// history` flags a step whose p95 has drifted above it. A kind left
    /// out is held to `step_timeout`.
    #[serde(
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        serialize_with = "validate_budgets::serialize"
    )]
    pub step_budgets: std::collections::BTreeMap<crate::plan::StepKind, Duration>,
}

/// The protected resources. A tier left out of the policy is not failed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tiers {
    /// RDS PostgreSQL with a cross-region read replica.
    pub database: Option<DatabaseTier>,
    /// The DR EKS cluster's node groups.
    pub node_groups: Option<NodeGroupTier>,
    /// ElastiCache Global Datastore.
    pub cache: Option<CacheTier>,
    /// MSK with a replicated DR cluster.
    pub stream: Option<StreamTier>,
    /// The public record that sends traffic to the active region.
    pub dns: Option<DnsTier>,
}

/// The database tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseTier {
    /// The primary instance (in the primary region).
    pub primary: String,
    /// The cross-region read replica (in the secondary region).
    pub replica: String,
    /// Whether traffic moves only once the replica is promoted (default true).
    pub required_for_traffic: bool,
}

/// The node-group tier: the DR cluster and the size each group must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeGroupTier {
    /// The DR EKS cluster.
    pub cluster: String,
    /// The primary region's EKS cluster, whose groups scale to the same
    /// production sizes on a failover back (`None`: a reprotect refuses,
    /// naming `tiers.node_groups.primary_cluster`).
    pub primary_cluster: Option<String>,
    /// The node groups, in policy order.
    pub groups: Vec<NodeGroupTarget>,
}

/// One node group and its production size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeGroupTarget {
    /// The node group name.
    pub name: String,
    /// The scaling configuration to reach on failover.
    pub scaling: Scaling,
}

/// The cache tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheTier {
    /// The Global Datastore id.
    pub global_datastore: String,
    /// The member replication group in the primary region.
    pub primary_member: String,
    /// The member replication group in the secondary region.
    pub dr_member: String,
    /// How long the Global Datastore failover may try before the primary
    /// region counts as unable to take part (default 2m).
    #[serde(with = "secs")]
    pub failover_timeout: Duration,
    /// What to do then (default: disassociate).
    pub when_primary_region_down: WhenPrimaryDown,
    /// Whether traffic moves only once the cache serves writes in the
    /// secondary region (default false).
    pub required_for_traffic: bool,
}

/// The stream tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamTier {
    /// The MSK cluster in the primary region.
    pub primary_cluster: String,
    /// The MSK cluster in the secondary region, fed by the replicator.
    pub dr_cluster: String,
    /// The private record clients use as their bootstrap address.
    pub client_record: ClientRecord,
    /// The MSK Replicator feeding the DR cluster (its CloudWatch
    /// `ReplicatorName`), whose `ReplicationLatency` is the tier's exposure.
    pub replicator: Option<String>,
    /// The replicator a reprotect creates from the DR cluster back to the
    /// primary cluster (`None`: a reprotect refuses, naming the field).
    pub reverse_replicator: Option<ReverseReplicator>,
    /// How clients are moved to the DR cluster.
    pub switch: TrafficSwitch,
    /// Whether public traffic moves only once clients are on the DR cluster
    /// (default true).
    pub required_for_traffic: bool,
}

/// A record clients resolve to find the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientRecord {
    /// The hosted zone that holds it.
    pub zone: String,
    /// The record name.
    pub name: String,
    /// The TTL to set.
    pub ttl: u32,
}

/// The traffic tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsTier {
    /// The public hosted zone.
    pub zone: String,
    /// The record to flip.
    pub record: String,
    /// The alias target in the primary region.
    pub primary: AliasTarget,
    /// The alias target in the secondary region.
    pub secondary: AliasTarget,
    /// How traffic is switched.
    pub switch: TrafficSwitch,
    /// How long resolvers may keep the old answer, in seconds (the record's
    /// TTL; for an alias to a load balancer, 60): verification waits this
    /// plus a margin for the DNS answer to change.
    pub ttl: u32,
    /// The DR load balancer's target groups (ARNs in the secondary
    /// region) whose targets readiness requires healthy; empty: not read.
    pub dr_target_groups: Vec<String>,
    /// The primary load balancer's target groups (ARNs in the primary
    /// region): what readiness reads once the policy is read reversed
    /// (swapped with `dr_target_groups`). `None`: not set, so the standby's
    /// target groups cannot be read after a reprotect.
    pub primary_target_groups: Option<Vec<String>>,
}

/// An alias target: a load balancer's name and canonical hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasTarget {
    /// The load balancer's DNS name.
    pub dns_name: String,
    /// Its canonical hosted zone id.
    pub hosted_zone_id: String,
}

/// Every problem found in one policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The file the problems are in.
    pub file: PathBuf,
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

/// One problem: where, what was there, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The field path, for example `tiers.node_groups.groups[1].min`.
    pub path: String,
    /// What the field held, when there is a value to show.
    pub value: Option<String>,
    /// What was expected.
    pub expected: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}: {}", self.file.display(), p)?;
        }
        Ok(())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.expected)?;
        if let Some(v) = &self.value {
            write!(f, " (got {v})")?;
        }
        Ok(())
    }
}

mod opt_secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::duration::fmt(*d)),
            None => s.serialize_none(),
        }
    }
}

mod secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::duration::fmt(*d))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_routing;

#[cfg(test)]
mod tests_fencing;

#[cfg(test)]
mod tests_secrets;

#[cfg(test)]
mod tests_names;
