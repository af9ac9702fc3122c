//! The simulated primary as the sites reach it: an outage model.
//!
//! The primary region can be down for everyone, and single sites can be cut
//! off from it. A probe that cannot reach the primary fails the way a dead
//! region fails: no answer until the probe's timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::remote::RemoteSim;
use super::SimCloud;
use crate::cloud::Database;
use crate::probe::{ProbeError, Reach};

/// What the sites cannot reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The primary region is down: no site reaches it.
    #[serde(default)]
    pub primary_down: bool,
    /// Sites cut off from the primary region (it stays up for the others).
    #[serde(default)]
    pub cut_off: BTreeSet<String>,
}

impl Outage {
    /// Whether `site` reaches the primary, and why not.
    pub fn reach(&self, site: &str) -> Result<(), String> {
        if self.primary_down {
            Err("primary region down (simulated outage)".into())
        } else if self.cut_off.contains(site) {
            Err(format!(
                "{site} cut off from the primary region (simulated)"
            ))
        } else {
            Ok(())
        }
    }
}

impl SimCloud {
    /// Sets what the sites cannot reach, from now.
    pub fn set_outage(&self, outage: Outage) {
        self.world().outage = outage;
    }

    /// What the sites cannot reach now.
    pub fn outage(&self) -> Outage {
        self.world().outage.clone()
    }

    /// One probe's trip: a network round trip (a fifth of an API call's)
    /// when the primary answers, the whole timeout when it does not.
    async fn trip(&self, site: &str, timeout: Duration) -> Result<(), ProbeError> {
        let (outage, wait) = {
            let mut w = self.world();
            (w.outage.reach(site), w.api_latency() / 5)
        };
        match outage {
            Ok(()) if wait < timeout => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Ok(()) => {
                tokio::time::sleep(timeout).await;
                Err(format!("no answer within {}", crate::duration::fmt(timeout)).into())
            }
            Err(why) => {
                tokio::time::sleep(timeout).await;
                Err(why.into())
            }
        }
    }
}

impl Reach for SimCloud {
    async fn probe_http(
        &self,
        site: &str,
        _url: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        self.trip(site, timeout).await.map(|()| "HTTP 200".into())
    }

    async fn probe_tcp(
        &self,
        site: &str,
        addr: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        self.trip(site, timeout)
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
        self.outage().reach(site)?;
        database_status(self.get_database(region, id), timeout).await
    }

    async fn probe_health_check(
        &self,
        site: &str,
        _id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        // Route 53's checkers stand outside the regions: they see the
        // primary down only when it is down, whatever cuts off a site.
        let down = self.outage().primary_down;
        self.trip("route53", timeout).await?;
        let _ = site;
        if down {
            Err("0 of 3 checkers healthy".into())
        } else {
            Ok("3 of 3 checkers healthy".into())
        }
    }
}

/// The status probe's verdict on a read of the primary instance.
async fn database_status<F>(read: F, timeout: Duration) -> Result<String, ProbeError>
where
    F: std::future::Future<Output = crate::cloud::CloudResult<Option<crate::cloud::DatabaseState>>>,
{
    crate::probe::bounded(timeout, async {
        match read.await {
            Ok(Some(db)) if db.status == "available" => Ok("available".into()),
            Ok(Some(db)) => Err(format!("status {}", db.status).into()),
            Ok(None) => Err("not found".into()),
            Err(e) => Err(crate::probe::cloud_failure(e)),
        }
    })
    .await
}

impl Reach for RemoteSim {
    async fn probe_http(
        &self,
        site: &str,
        _url: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        self.trip(site, timeout).await.map(|()| "HTTP 200".into())
    }

    async fn probe_tcp(
        &self,
        site: &str,
        addr: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        self.trip(site, timeout)
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
        self.trip(site, timeout).await?;
        database_status(self.get_database(region, id), timeout).await
    }

    async fn probe_health_check(
        &self,
        _site: &str,
        _id: &str,
        timeout: Duration,
    ) -> Result<String, ProbeError> {
        let outage = self.outage().await.map_err(ProbeError::inconclusive)?;
        if outage.primary_down {
            tokio::time::sleep(timeout).await;
            Err("0 of 3 checkers healthy".into())
        } else {
            Ok("3 of 3 checkers healthy".into())
        }
    }
}
