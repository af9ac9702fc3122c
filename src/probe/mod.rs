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
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Opens a TCP connection to `addr` (`host:port`) and closes it.
    fn probe_tcp(
        &self,
        site: &str,
        addr: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Reads the RDS primary's status; passes when it is `available`.
    fn probe_database(
        &self,
        site: &str,
        region: &str,
        id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Reads a Route 53 health check; passes when most checkers see the
    /// endpoint healthy.
    fn probe_health_check(
        &self,
        site: &str,
        id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// Bounds a probe by `timeout`, naming the timeout in the failure.
pub async fn bounded<F>(timeout: Duration, f: F) -> Result<String, String>
where
    F: Future<Output = Result<String, String>>,
{
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {}",
            crate::duration::fmt(timeout)
        )),
    }
}
