//! The simulated primary as the sites reach it: an outage model.
//!
//! The primary region can be down for everyone, and single sites can be cut
//! off from it. A probe that cannot reach the primary fails the way a dead
//! region fails: no answer until the probe's timeout.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::remote::RemoteSim;
use super::SimCloud;
use crate::cloud::Database;
use crate::policy::HttpProbe;
use crate::probe::{database_status, ProbeError, Reach};

/// What the sites cannot reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The primary region is down: no site reaches it.
    #[serde(default)]
    pub primary_down: bool,
    /// Sites cut off from the primary region (it stays up for the others).
    #[serde(default)]
    pub cut_off: BTreeSet<String>,
    /// Whole regions down: their endpoints (API and routing-control
    /// cluster) do not answer, and a site in one reaches nothing.
    #[serde(default)]
    pub regions: BTreeSet<String>,
    /// Regions whose routing-control cluster endpoint alone does not
    /// answer (ARC cycles its endpoints through maintenance).
    #[serde(default)]
    pub routing_endpoints: BTreeSet<String>,
    /// Sites cut off from the other sites (the controllers' links), alive
    /// inside: their region keeps serving and taking writes.
    #[serde(default)]
    pub isolated: BTreeSet<String>,
    /// The primary region (filled in by the simulated cloud).
    #[serde(default)]
    pub primary_region: String,
}

impl Outage {
    /// Whether `site` reaches the primary, and why not.
    pub fn reach(&self, site: &str) -> Result<(), String> {
        if self.primary_down {
            Err("primary region down (simulated outage)".into())
        } else if self.regions.contains(site) {
            Err(format!("{site} is down (simulated regional outage)"))
        } else if self.cut_off.contains(site) {
            Err(format!(
                "{site} cut off from the primary region (simulated)"
            ))
        } else if self.isolated.contains(site) != self.isolated.contains(&self.primary_region) {
            Err(format!(
                "{site} and the primary region {} are partitioned from each other (simulated)",
                self.primary_region
            ))
        } else {
            Ok(())
        }
    }
}

impl SimCloud {
    /// Sets what the sites cannot reach, from now. Regions under outage
    /// include the primary region's outage: the primary is then down.
    pub fn set_outage(&self, mut outage: Outage) {
        let mut w = self.world();
        outage.primary_down = outage.primary_down || outage.regions.contains(&w.primary_region);
        w.outage = outage;
    }

    /// What the sites cannot reach now.
    pub fn outage(&self) -> Outage {
        let w = self.world();
        Outage {
            primary_region: w.primary_region.clone(),
            ..w.outage.clone()
        }
    }
}

/// A simulated primary, reached through its outage model: the world in this
/// process, or one served by `drctl sim serve`.
pub(crate) trait SimPrimary: Database {
    /// What the sites cannot reach now. An error is the simulator's own
    /// trouble, not the primary's.
    fn current_outage(&self) -> impl Future<Output = Result<Outage, ProbeError>> + Send;

    /// One network round trip to the primary when it answers.
    fn round_trip(&self) -> Duration;
}

impl SimPrimary for SimCloud {
    async fn current_outage(&self) -> Result<Outage, ProbeError> {
        Ok(self.outage())
    }

    fn round_trip(&self) -> Duration {
        // A fifth of an API call's round trip.
        self.world().api_latency() / 5
    }
}

impl SimPrimary for RemoteSim {
    async fn current_outage(&self) -> Result<Outage, ProbeError> {
        self.outage().await.map_err(ProbeError::inconclusive)
    }

    fn round_trip(&self) -> Duration {
        Duration::ZERO
    }
}

/// Whether `site` reaches the simulated primary; a site that does not waits
/// the whole timeout, as for a dead region.
async fn reach<S: SimPrimary>(sim: &S, site: &str, timeout: Duration) -> Result<(), ProbeError> {
    let outage = tokio::time::timeout(timeout, sim.current_outage())
        .await
        .map_err(|_| ProbeError::inconclusive("the simulated cloud did not answer in time"))??;
    match outage.reach(site) {
        Ok(()) => Ok(()),
        Err(why) => {
            tokio::time::sleep(timeout).await;
            Err(why.into())
        }
    }
}

/// One probe's trip: the network round trip when the primary answers.
async fn trip<S: SimPrimary>(sim: &S, site: &str, timeout: Duration) -> Result<(), ProbeError> {
    reach(sim, site, timeout).await?;
    let wait = sim.round_trip();
    if wait < timeout {
        tokio::time::sleep(wait).await;
        Ok(())
    } else {
        tokio::time::sleep(timeout).await;
        Err(format!("no answer within {}", crate::duration::fmt(timeout)).into())
    }
}

impl<S: SimPrimary> Reach for S {
    async fn probe_http(
        &self,
        site: &str,
        _probe: &HttpProbe,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        trip(self, site, timeout).await.map(|()| "HTTP 200".into())
    }

    async fn probe_tcp(
        &self,
        site: &str,
        addr: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        trip(self, site, timeout)
            .await
            .map(|()| format!("connected to {addr}"))
    }

    async fn probe_database(
        &self,
        site: &str,
        region: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        reach(self, site, timeout).await?;
        database_status(self.get_database(region, id), timeout).await
    }

    async fn probe_health_check(
        &self,
        _site: &str,
        _id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        // Route 53's checkers stand outside the regions: they see the
        // primary down only when it is down, whatever cuts off a site.
        if self.current_outage().await?.primary_down {
            tokio::time::sleep(timeout).await;
            Err("0 of 3 checkers healthy".into())
        } else {
            Ok("3 of 3 checkers healthy".into())
        }
    }
}
