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
pub mod net;
mod round;

pub use heartbeat::*;
pub use round::{now_ms, Prober};

use std::future::Future;
use std::time::Duration;

pub use crate::detect::{Observation, ProbeResult, TierReading};

/// How a site reaches the primary's endpoints and APIs. Every method is
/// asked on behalf of `site` (the prober's region) and must return within
/// `timeout`; `Ok` carries what was seen, `Err` why the probe failed.
pub trait Reach: Send + Sync {
    /// `GET url`; passes on a 2xx answer.
    fn probe_http(
        &self,
        site: &str,
        url: &str,
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

/// The status probe's verdict on a read of the primary instance: passes
/// when RDS says `available`.
pub async fn database_status<F>(read: F, timeout: Duration) -> Result<String, ProbeError>
where
    F: Future<Output = crate::cloud::CloudResult<Option<crate::cloud::DatabaseState>>>,
{
    bounded(timeout, async {
        match read.await {
            Ok(Some(db)) if db.status == "available" => Ok("available".into()),
            Ok(Some(db)) => Err(format!("status {}", db.status).into()),
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
