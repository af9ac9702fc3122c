//! Probes of the primary, taken by every controller site each interval.
//!
//! A [`Prober`] runs one round: every probe the policy names, concurrently,
//! each bounded by the probe timeout, and the replication heartbeats of each
//! data tier that has them. The round becomes an [`Observation`] stamped with
//! the time it started; the controller sends it to every member, and the
//! detector (`crate::detect`) judges the rounds of all sites together.
//!
//! Reaching the primary goes through [`Reach`]: the real network and AWS
//! APIs in production ([`net`]), the simulated cloud's outage model in
//! drills and tests. Heartbeats always speak to real servers
//! ([`PostgresHeartbeat`], [`RedisHeartbeat`]).

mod heartbeat;
mod http;
pub mod net;
mod round;

pub use heartbeat::*;
pub use http::http_probe;
pub use round::Prober;

use std::future::Future;
use std::time::Duration;

use crate::policy::HttpProbe;

pub use crate::detect::{Observation, ProbeResult, TierReading};

/// How a site reaches the primary's endpoints and APIs. Every method is
/// asked on behalf of `site` (the prober's region) and must return within
/// `timeout`; `Ok` carries what was seen, `Err` why the probe failed.
pub trait Reach: Send + Sync {
    /// `GET` the probe's URL as the probe says (server name, Host header,
    /// certificate verification); passes on a 2xx answer.
    fn probe_http(
        &self,
        site: &str,
        probe: &HttpProbe,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, ProbeError>> + Send;

    /// Opens a TCP connection to `addr` (`host:port`) and closes it.
    fn probe_tcp(
        &self,
        site: &str,
        addr: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, ProbeError>> + Send;

    /// Reads the RDS primary's status; passes when it is `available`.
    fn probe_database(
        &self,
        site: &str,
        region: &str,
        id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, ProbeError>> + Send;

    /// Reads a Route 53 health check; passes when most checkers see the
    /// endpoint healthy.
    fn probe_health_check(
        &self,
        site: &str,
        id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, ProbeError>> + Send;
}

/// Why a probe did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// What went wrong.
    pub message: String,
    /// The probe could not tell either way because of the prober's own
    /// trouble (no credentials, access denied, a bad parameter): it is not
    /// evidence that the primary is down, and does not count as a failure.
    pub inconclusive: bool,
}

impl ProbeError {
    /// A failure that says nothing about the primary.
    pub fn inconclusive(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            inconclusive: true,
        }
    }
}

impl From<String> for ProbeError {
    fn from(message: String) -> Self {
        Self {
            message,
            inconclusive: false,
        }
    }
}

impl From<&str> for ProbeError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A failed cloud API call as a probe failure. Only the API's silence (no
/// answer in time, a connection that failed) counts against the primary:
/// when the primary region is gone its endpoints stop answering. Any answer
/// (a throttle, a 5xx, access denied, an unknown id) says the API is there
/// and nothing about the primary, and a failure on the prober's own side
/// (no credentials, a bad parameter) says nothing either: inconclusive.
pub fn cloud_failure(e: crate::cloud::CloudError) -> ProbeError {
    use crate::cloud::ErrorKind;
    match e.kind {
        ErrorKind::Fatal => ProbeError::inconclusive(format!("cannot check: {}", e.message)),
        _ if e.no_answer => format!("no answer from {}: {}", e.op, e.message).into(),
        ErrorKind::Throttled => ProbeError::inconclusive(format!(
            "{} throttled, no evidence either way: {}",
            e.op, e.message
        )),
        _ => ProbeError::inconclusive(format!(
            "{} answered with an error ({}), no evidence either way: {}",
            e.op, e.kind, e.message
        )),
    }
}

/// RDS DB instance statuses in which the instance still serves
/// connections: a backup, a storage change, a modification or maintenance
/// in progress, a configuration change that needs no restart. From the RDS
/// user guide's table of DB instance statuses ("Viewing DB instance
/// status"); `storage-optimization` is "fully operational" there.
pub const RDS_SERVING: &[&str] = &[
    "available",
    "backing-up",
    "configuring-activity-stream",
    "configuring-associated-roles",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "maintenance",
    "modifying",
    "renaming",
    "resetting-master-credentials",
    "storage-optimization",
];

/// RDS DB instance statuses in which the instance does not serve: it is
/// being created, deleted, rebooted, started, stopped or upgraded (an engine
/// upgrade takes a Multi-AZ instance's primary and standby down together),
/// is full, or is in a state RDS cannot recover from on its own.
pub const RDS_NOT_SERVING: &[&str] = &[
    "converting-to-vpc",
    "creating",
    "deleting",
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-credentials",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "insufficient-capacity",
    "moving-to-vpc",
    "rebooting",
    "restore-error",
    "starting",
    "stopped",
    "stopping",
    "storage-full",
    "upgrading",
];

/// The status probe's verdict on RDS's status of the primary instance:
/// passes while RDS serves connections in that status ([`RDS_SERVING`]),
/// fails when it does not ([`RDS_NOT_SERVING`]), and is inconclusive for a
/// status drctl does not know (RDS may add some).
pub fn rds_status(status: &str) -> Result<String, ProbeError> {
    if status == "available" {
        Ok(status.to_string())
    } else if RDS_SERVING.contains(&status) {
        Ok(format!("{status} (RDS serves connections in this status)"))
    } else if RDS_NOT_SERVING.contains(&status) {
        Err(format!("status {status}").into())
    } else {
        Err(ProbeError::inconclusive(format!(
            "status {status:?} is not one drctl knows, no evidence either way"
        )))
    }
}

/// The status probe's verdict on a read of the primary instance (see
/// [`rds_status`] and [`cloud_failure`]).
pub async fn database_status<F>(read: F, timeout: Duration) -> Result<String, ProbeError>
where
    F: Future<Output = crate::cloud::CloudResult<Option<crate::cloud::DatabaseState>>>,
{
    bounded(timeout, async {
        match read.await {
            Ok(Some(db)) => rds_status(&db.status),
            Ok(None) => Err("not found".into()),
            Err(e) => Err(cloud_failure(e)),
        }
    })
    .await
}

/// The health-check probe's verdict on a read of a Route 53 health check
/// (healthy checkers, all checkers): passes when most checkers see the
/// endpoint healthy.
pub async fn health_check_status<F>(read: F, timeout: Duration) -> Result<String, ProbeError>
where
    F: Future<Output = crate::cloud::CloudResult<(usize, usize)>>,
{
    bounded(timeout, async {
        let (healthy, total) = read.await.map_err(cloud_failure)?;
        let seen = format!("{healthy} of {total} checkers healthy");
        if total > 0 && healthy * 2 > total {
            Ok(seen)
        } else {
            Err(seen.into())
        }
    })
    .await
}

/// Bounds a probe by `timeout`, naming the timeout in the failure.
pub async fn bounded<F>(timeout: Duration, f: F) -> Result<String, ProbeError>
where
    F: Future<Output = Result<String, ProbeError>>,
{
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}", crate::duration::fmt(timeout)).into()),
    }
}

#[cfg(test)]
mod tests;
