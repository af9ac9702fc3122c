//! The data-loss exposure of real primary/replica pairs, as the failback's
//! drain reads it: zero once the replica holds everything the primary has
//! written (PostgreSQL: replayed up to the primary's current WAL position;
//! Redis: the replica's offset at the primary's), read afresh each time.
//! Tiers without real servers are read from the simulated cloud.

use std::sync::Arc;
use std::time::Duration;

use drctl::cloud::sim::SimCloud;
use drctl::cloud::{CloudResult, ExposureSource, Measurement};
use drctl::model::{DataTier, Exposure};
use drctl::policy::Policy;
use futures::future::BoxFuture;

use super::{bounded, pg_connect};

/// The real pairs a drain reads, the simulated cloud for the rest.
pub struct RealExposures {
    /// PostgreSQL primary and replica (conninfo).
    pub postgres: (String, String),
    /// Redis primary and replica (URLs), when the cache is real.
    pub redis: Option<(String, String)>,
    /// The stream tier's figure.
    pub sim: Arc<SimCloud>,
}

impl ExposureSource for RealExposures {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        Box::pin(async move {
            match (tier, &self.redis) {
                (DataTier::Database, _) => Ok(postgres(&self.postgres.0, &self.postgres.1).await),
                (DataTier::Cache, Some((p, r))) => Ok(redis_offsets(p, r).await),
                _ => self.sim.exposure(policy, tier).await,
            }
        })
    }
}

/// Zero when the standby has replayed the primary's current WAL position;
/// otherwise its replay lag (at least 1 ms).
async fn postgres(primary: &str, standby: &str) -> Measurement {
    let p = pg_connect(primary).await;
    let lsn: String = bounded(p.query_one("SELECT pg_current_wal_lsn()::text", &[]))
        .await
        .unwrap()
        .get(0);
    let s = pg_connect(standby).await;
    let sql = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn, \
               COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)::float8";
    let row = bounded(s.query_one(sql, &[&lsn])).await.unwrap();
    let (caught_up, lag): (bool, f64) = (row.get(0), row.get(1));
    let exposure = if caught_up {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(lag.max(0.001))
    };
    Measurement::new(
        Exposure::Known(exposure),
        "replay position against the primary's WAL",
    )
}

/// Zero when the replica's offset has reached the primary's; 1 ms otherwise.
async fn redis_offsets(primary: &str, replica: &str) -> Measurement {
    let offset = |url: String, field: &'static str| async move {
        let client = redis::Client::open(url).unwrap();
        let mut c = bounded(client.get_multiplexed_async_connection())
            .await
            .unwrap();
        let info: String = bounded(redis::cmd("INFO").arg("replication").query_async(&mut c))
            .await
            .unwrap();
        info.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(field)?
                    .strip_prefix(':')?
                    .parse::<i64>()
                    .ok()
            })
            .unwrap_or(-1)
    };
    let wrote = offset(primary.to_owned(), "master_repl_offset").await;
    let holds = offset(replica.to_owned(), "slave_repl_offset").await;
    let exposure = if holds >= wrote && wrote >= 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(1)
    };
    Measurement::new(Exposure::Known(exposure), "replication offsets")
}
