//! The divergence report end to end against real PostgreSQL and Redis
//! primary/replica pairs: the RPO gate's recording of the fork, the
//! promotion, writes the old primaries take after it, then the fence on
//! return measuring exactly those writes.
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

use std::path::Path;
use std::time::Duration;

use crate::real_support::{pg_connect, PgPair, RedisPair};
use drctl::cloud::sim::{LatencyModel, SimCloud, SimOptions};
use drctl::execute::fence_return::view::DivergenceReport;
use drctl::execute::fence_return::{try_fence, FenceOldPrimary};
use drctl::execute::{fork, StepStatus};
use drctl::model::DataTier;
use drctl::model::Epoch;
use drctl::model::Fence;
use drctl::policy::{HeartbeatTarget, Heartbeats, Policy, SecretSource};
use drctl::probe::{promote_postgres, promote_redis, PostgresHeartbeat, RedisHeartbeat};

const TIMEOUT: Duration = Duration::from_secs(5);

/// The shipped policy with heartbeat targets on both pairs.
fn policy(pg: &PgPair, redis: &RedisPair) -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    let mut policy = drctl::policy::load(&path).unwrap();
    let target = |primary: String, replica: String| HeartbeatTarget {
        primary,
        replica,
        password: SecretSource::None,
        ca_file: None,
    };
    policy.detection.heartbeats = Heartbeats {
        database: Some(target(pg.primary_conninfo(), pg.standby_conninfo())),
        cache: Some(target(redis.primary_url(), redis.replica_url())),
    };
    // The shipped database method names production roles and a fencing
    // role's password: without it, the old primary is read as the
    // heartbeat role.
    policy.fencing.as_mut().unwrap().database = None;
    policy
}

/// Beats once for each of `sites` on both primaries, 5 ms apart; returns
/// the newest values written (PostgreSQL, Redis).
async fn beats(pg: &PgPair, redis: &RedisPair, sites: &[&str]) -> (u64, u64) {
    let mut newest = (0, 0);
    for site in sites {
        let (p, s) = (pg.primary_conninfo(), pg.standby_conninfo());
        let mut hb = PostgresHeartbeat::new(site, &p, &s, None, TIMEOUT).unwrap();
        newest.0 = hb.beat().await.unwrap().written_ms;
        let (p, r) = (redis.primary_url(), redis.replica_url());
        let mut hb = RedisHeartbeat::new(site, &p, &r, None, TIMEOUT).unwrap();
        newest.1 = hb.beat().await.unwrap().written_ms;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    newest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fence_on_return_measures_exactly_what_the_old_primaries_took_after_the_gate() {
    let (pg, redis) = (PgPair::start(), RedisPair::start());
    let policy = policy(&pg, &redis);
    let admin = pg_connect(&pg.primary_conninfo()).await;
    admin
        .batch_execute("CREATE TABLE app (id bigserial PRIMARY KEY, body text NOT NULL)")
        .await
        .unwrap();
    let shared = beats(&pg, &redis, &["east", "west", "witness"]).await;
    let mut caught_up = false;
    for _ in 0..200 {
        let f = fork::record(&policy).await.unwrap();
        let seen = (
            f.database.and_then(|p| p.newest_heartbeat_ms),
            f.cache.and_then(|p| p.newest_heartbeat_ms),
        );
        if seen == (Some(shared.0), Some(shared.1)) {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the replicas never saw the shared heartbeats");

    // The fork: replication stops, the gate records the replicas'
    // positions, they are promoted, and the old primaries take writes.
    pg.proxy().stall();
    redis.proxy().stall();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_fork = fork::record(&policy).await.expect("heartbeat targets");
    assert_eq!(at_fork.errors, Vec::<String>::new());
    promote_postgres(&pg.standby_conninfo(), None, Duration::from_secs(60))
        .await
        .unwrap();
    promote_redis(&redis.replica_url(), None, TIMEOUT)
        .await
        .unwrap();
    let newest = beats(&pg, &redis, &["east", "witness"]).await;
    admin
        .batch_execute("INSERT INTO app (body) SELECT repeat('x', 200) FROM generate_series(1, 50)")
        .await
        .unwrap();

    // The old primaries' region answers: fenced, then measured.
    let options = SimOptions {
        latency: LatencyModel::default().scaled(0.0),
        ..SimOptions::default()
    };
    let sim = SimCloud::new(&policy, options).unwrap();
    let fence = Fence {
        execution_id: "x-divergence".into(),
        epoch: Epoch::default(),
    };
    let mut state = FenceOldPrimary::pending(&policy.regions.primary);
    state.fork = Some(at_fork.clone());
    try_fence(&sim, &policy, &fence, &mut state, "now".into()).await;
    assert_eq!(state.status, StepStatus::Done, "{}", state.line());
    assert_eq!(state.divergence_errors, Vec::<String>::new());
    let by_tier = |t: DataTier| {
        state
            .divergence
            .iter()
            .find(|d| d.tier == t)
            .unwrap_or_else(|| panic!("no {t:?} divergence: {:?}", state.divergence))
            .clone()
    };
    let (db, cache) = (by_tier(DataTier::Database), by_tier(DataTier::Cache));
    assert_eq!(db.heartbeat_rows, 2, "{db}");
    assert_eq!(db.window_start_ms, Some(shared.0));
    assert_eq!(db.window_end_ms, Some(newest.0));
    assert!(db.bytes >= 50 * 200, "50 rows of 200 bytes: {db}");
    assert_eq!(cache.heartbeat_rows, 2, "{cache}");
    assert_eq!(cache.window_end_ms, Some(newest.1));
    assert!(cache.bytes > 0, "{cache}");

    let report = DivergenceReport::new(
        "x-divergence",
        &policy.name,
        &policy.regions.primary,
        Some(&at_fork),
        Some(&state),
    );
    let lines = report.lines();
    assert!(
        lines[0].starts_with(&format!(
            "database: at the fork, replica at WAL {}",
            at_fork.database.as_ref().unwrap().lsn
        )),
        "{lines:#?}"
    );
    assert!(
        lines[1].contains("of WAL and 2 heartbeat rows written on the old primary after the fork")
            && lines[1].contains("the fenced old primary keeps these writes"),
        "{lines:#?}"
    );
    assert!(
        lines[3].contains("of replication stream and 2 heartbeat keys written"),
        "{lines:#?}"
    );
    // The promoted replica has none of the old primary's rows.
    let promoted = pg_connect(&pg.standby_conninfo()).await;
    let rows: i64 = promoted
        .query_one("SELECT count(*) FROM app", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}
