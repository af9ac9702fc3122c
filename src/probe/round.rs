//! One site's probe rounds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Beat, HeartbeatError, PostgresHeartbeat, ProbeError, Reach, RedisHeartbeat};
use crate::clock::now_ms;
use crate::cloud::Cloud;
use crate::detect::{Observation, ProbeResult, TierReading};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::{HeartbeatTarget, Policy};
use crate::redact::redact;

/// One tier's heartbeat and the last write the primary took.
struct Heartbeat<H> {
    beat: H,
    last: Option<Beat>,
}

/// Takes one site's probe rounds for one policy.
pub struct Prober<R> {
    site: String,
    node: u64,
    policy: Arc<Policy>,
    reach: Arc<R>,
    round: u64,
    database: Option<Heartbeat<PostgresHeartbeat>>,
    cache: Option<Heartbeat<RedisHeartbeat>>,
}

type Probe<'a> = Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>>;

fn password(at: &str, t: &HeartbeatTarget) -> Result<Option<String>, String> {
    t.password.read().map_err(|e| format!("{at}: {e}"))
}

impl<R: Reach + Cloud> Prober<R> {
    /// A prober for `policy` at `site`. Heartbeat connection settings are
    /// checked and their passwords read here.
    ///
    /// # Errors
    ///
    /// A heartbeat whose settings do not parse or whose password cannot be
    /// read, naming the policy field.
    pub fn new(site: &str, node: u64, policy: Arc<Policy>, reach: Arc<R>) -> Result<Self, String> {
        let hb = &policy.detection.heartbeats;
        let timeout = policy.detection.probe_timeout;
        let database = match &hb.database {
            Some(t) => {
                let at = "detection.heartbeats.database";
                let beat =
                    PostgresHeartbeat::new(site, &t.primary, &t.replica, password(at, t)?, timeout)
                        .map_err(|e| format!("{at}: {e}"))?;
                let beat = match &t.ca_file {
                    Some(f) => beat
                        .with_ca_file(f)
                        .map_err(|e| format!("{at}.ca_file: {e}"))?,
                    None => beat,
                };
                Some(Heartbeat { beat, last: None })
            }
            None => None,
        };
        let cache = match &hb.cache {
            Some(t) => {
                let at = "detection.heartbeats.cache";
                let beat =
                    RedisHeartbeat::new(site, &t.primary, &t.replica, password(at, t)?, timeout)
                        .map_err(|e| format!("{at}: {e}"))?;
                Some(Heartbeat { beat, last: None })
            }
            None => None,
        };
        Ok(Self {
            site: site.to_string(),
            node,
            policy,
            reach,
            round: 0,
            database,
            cache,
        })
    }

    /// The policy this prober probes for.
    pub fn policy_name(&self) -> String {
        self.policy.name.clone()
    }

    /// Stops writing heartbeats, for good: after a failover the old primary
    /// takes no write from drctl, and its heartbeats would only hide that
    /// the application still writes there. Returns whether any were
    /// written until now.
    pub fn stop_heartbeats(&mut self) -> bool {
        let had = self.database.is_some() || self.cache.is_some();
        self.database = None;
        self.cache = None;
        had
    }

    /// Takes one round: every probe, the provider's lag figures and the
    /// heartbeats at once, each bounded by the probe timeout.
    pub async fn round(&mut self) -> Observation {
        self.round += 1;
        let at_ms = now_ms();
        let Self {
            site,
            policy: p,
            reach,
            database,
            cache,
            ..
        } = self;
        let t = p.detection.probe_timeout;
        let (site, reach) = (site.as_str(), reach.as_ref());
        let mut probes: Vec<Probe<'_>> = Vec::new();
        for probe in &p.detection.probes.http {
            probes.push(Box::pin(timed(
                format!("http {probe}"),
                reach.probe_http(site, probe, t),
            )));
        }
        for addr in &p.detection.probes.tcp {
            probes.push(Box::pin(timed(
                format!("tcp {addr}"),
                reach.probe_tcp(site, addr, t),
            )));
        }
        if let (true, Some(db)) = (p.detection.probes.database_status, &p.tiers.database) {
            probes.push(Box::pin(timed(
                format!("rds {}", db.primary),
                reach.probe_database(site, &p.regions.primary, &db.primary, t),
            )));
        }
        if let Some(id) = &p.detection.probes.health_check {
            probes.push(Box::pin(timed(
                format!("route53 health check {id}"),
                reach.probe_health_check(site, id, t),
            )));
        }
        let skip = (database.is_some(), cache.is_some());
        let (mut results, mut tiers, db, redis) = futures::join!(
            futures::future::join_all(probes),
            cloud_readings(p, reach, skip),
            async {
                match database.as_mut() {
                    Some(h) => Some(heartbeat(DataTier::Database, h).await),
                    None => None,
                }
            },
            async {
                match cache.as_mut() {
                    Some(h) => Some(heartbeat(DataTier::Cache, h).await),
                    None => None,
                }
            },
        );
        for (probe, reading) in [db, redis].into_iter().flatten() {
            results.push(probe);
            tiers.push(reading);
        }
        Observation {
            policy: p.name.clone(),
            site: site.to_string(),
            node: self.node,
            round: self.round,
            at_ms,
            probes: results,
            tiers,
        }
    }
}

/// The provider's own lag figures, for the data tiers without a heartbeat
/// (`skip`: database, cache have one). Supporting evidence: the gate
/// prefers heartbeats.
async fn cloud_readings<C: Cloud>(p: &Policy, cloud: &C, skip: (bool, bool)) -> Vec<TierReading> {
    let t = p.detection.probe_timeout;
    let mut reads = Vec::new();
    if let (Some(_), false) = (&p.tiers.database, skip.0) {
        reads.push(read(
            t,
            DataTier::Database,
            Box::pin(async move {
                cloud
                    .exposure(p, DataTier::Database)
                    .await
                    .map(|m| m.exposure)
            }),
        ));
    }
    if let (Some(_), false) = (&p.tiers.cache, skip.1) {
        reads.push(read(
            t,
            DataTier::Cache,
            Box::pin(async move { cloud.exposure(p, DataTier::Cache).await.map(|m| m.exposure) }),
        ));
    }
    if p.tiers.stream.is_some() {
        reads.push(read(
            t,
            DataTier::Stream,
            Box::pin(async move {
                cloud
                    .exposure(p, DataTier::Stream)
                    .await
                    .map(|m| m.exposure)
            }),
        ));
    }
    futures::future::join_all(reads).await
}

type Read<'a> = Pin<Box<dyn Future<Output = crate::cloud::CloudResult<Exposure>> + Send + 'a>>;

/// One provider lag figure, bounded by the probe timeout.
async fn read(t: Duration, tier: DataTier, f: Read<'_>) -> TierReading {
    let (exposure, detail) = match tokio::time::timeout(t, f).await {
        Ok(Ok(e)) => (e, None),
        Ok(Err(e)) => (Exposure::Unknown, Some(e.message)),
        Err(_) => (Exposure::Unknown, Some("no answer in time".to_string())),
    };
    TierReading {
        tier,
        exposure,
        source: "cloud".into(),
        detail,
        source_reachable: None,
    }
}

/// Runs a probe, timing it.
async fn timed<F>(target: String, f: F) -> ProbeResult
where
    F: Future<Output = Result<String, ProbeError>>,
{
    let started = Instant::now();
    let r = f.await;
    let latency_ms = started.elapsed().as_millis() as u64;
    // Targets and client errors may quote a URL with its userinfo; a
    // result is logged, sent to every site and served by the API.
    let target = redact(&target);
    let r = r.map(|seen| redact(&seen)).map_err(|why| ProbeError {
        message: redact(&why.message),
        ..why
    });
    match r {
        Ok(seen) => ProbeResult {
            target,
            ok: true,
            inconclusive: false,
            latency_ms,
            detail: Some(seen),
        },
        Err(why) => ProbeResult {
            target,
            ok: false,
            inconclusive: why.inconclusive,
            latency_ms,
            detail: Some(why.message),
        },
    }
}

/// A tier's heartbeat for one round: write on the primary, then read the
/// replica.
async fn heartbeat<H: HeartbeatOps>(
    tier: DataTier,
    h: &mut Heartbeat<H>,
) -> (ProbeResult, TierReading) {
    let started = Instant::now();
    let written = h.beat.beat().await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let probe = match &written {
        Ok(b) => {
            h.last = Some(Beat {
                written_ms: b.written_ms,
                acked_ms: b.acked_ms,
            });
            ProbeResult {
                target: format!("heartbeat {tier}"),
                ok: true,
                inconclusive: false,
                latency_ms,
                detail: Some("written on the primary".into()),
            }
        }
        Err(e) => ProbeResult {
            target: format!("heartbeat {tier}"),
            ok: false,
            inconclusive: matches!(e, HeartbeatError::Config { .. }),
            latency_ms,
            detail: Some(e.to_string()),
        },
    };
    // The replica is read after the primary took this round's beat, so the
    // figure (last acknowledged beat minus newest visible one) is never
    // below the data the replica lacks, and at most one interval above it:
    // the replica has at least everything up to the visible beat and less
    // than everything up to the next one.
    let visible = h.beat.visible().await;
    let source_reachable = h.beat.source_link().await.ok().flatten();
    let (exposure, detail) = match (&h.last, visible) {
        (Some(last), Ok(Some(v))) => (
            Exposure::Known(Duration::from_millis(last.acked_ms.saturating_sub(v))),
            Some(format!(
                "replica's newest heartbeat written {} before the primary last took one",
                crate::duration::fmt(Duration::from_millis(last.acked_ms.saturating_sub(v)))
            )),
        ),
        (None, _) => (
            Exposure::Unknown,
            Some("the primary has not taken a heartbeat from this site yet".into()),
        ),
        (_, Ok(None)) => (
            Exposure::Unknown,
            Some("no heartbeat from this site on the replica yet".into()),
        ),
        (_, Err(e)) => (Exposure::Unknown, Some(e.to_string())),
    };
    (
        probe,
        TierReading {
            tier,
            exposure,
            source: "heartbeat".into(),
            detail,
            source_reachable,
        },
    )
}

/// What a prober needs of a heartbeat, for both engines.
trait HeartbeatOps {
    async fn beat(&mut self) -> Result<Beat, HeartbeatError>;
    async fn visible(&mut self) -> Result<Option<u64>, HeartbeatError>;
    async fn source_link(&mut self) -> Result<Option<bool>, HeartbeatError>;
}

impl HeartbeatOps for PostgresHeartbeat {
    async fn beat(&mut self) -> Result<Beat, HeartbeatError> {
        PostgresHeartbeat::beat(self).await
    }
    async fn visible(&mut self) -> Result<Option<u64>, HeartbeatError> {
        PostgresHeartbeat::visible(self).await
    }
    async fn source_link(&mut self) -> Result<Option<bool>, HeartbeatError> {
        PostgresHeartbeat::source_link(self).await
    }
}

impl HeartbeatOps for RedisHeartbeat {
    async fn beat(&mut self) -> Result<Beat, HeartbeatError> {
        RedisHeartbeat::beat(self).await
    }
    async fn visible(&mut self) -> Result<Option<u64>, HeartbeatError> {
        RedisHeartbeat::visible(self).await
    }
    async fn source_link(&mut self) -> Result<Option<bool>, HeartbeatError> {
        RedisHeartbeat::source_link(self).await
    }
}
