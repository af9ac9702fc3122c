//! The whole loop on real data: a three-node cluster probes a real
//! PostgreSQL primary and a real Redis primary (TCP and heartbeats), the
//! simulated cloud's database and cache tiers are backed by their replicas,
//! so a failover really promotes them (`pg_promote()`, `REPLICAOF NO ONE`).
//! The primaries are killed under a write load; the rows and keys that did
//! not reach the replicas are counted and set against the exposure the
//! execution reported at its RPO gate.
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

mod cluster_support;
mod real_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cluster_support::{sim_cloud, Cluster};
use drctl::cloud::sim::{Backing, BackingServer};
use drctl::cloud::Exposure;
use drctl::consensus::DETECTOR;
use drctl::detect::{Action, Health, Verdict};
use drctl::execute::ExecutionStatus;
use drctl::plan::{DataTier, RpoEvaluation};
use drctl::policy::{self, Policy};
use drctl::probe::Prober;
use real_support::{missing_postgres, missing_redis, pg_connect, PgPair, RedisPair, WriteLoad};

const INTERVAL: Duration = Duration::from_millis(250);
const LOAD: Duration = Duration::from_millis(10);
/// Slack on top of one probe interval: the clock is read at slightly
/// different moments on either side (write, acknowledgement, row stamps).
const SLACK: Duration = Duration::from_millis(100);

fn addr_of_conninfo(conninfo: &str) -> String {
    let field = |k: &str| {
        conninfo
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    format!("{}:{}", field("host"), field("port"))
}

/// The shipped platform, probed every 250 ms over TCP and heartbeats on the
/// real pairs (no simulated probes), automatic, with `rpo`.
fn policy(pg: &PgPair, redis: Option<&RedisPair>, rpo: &str) -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(policy::DEFAULT_POLICY);
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text.split_once("\ndetection:").unwrap();
    let (_, rest) = rest.split_once("\nmode:").unwrap();
    let (_, rest) = rest.split_once("\nexecution:").unwrap();
    let mut tcp = vec![addr_of_conninfo(&pg.primary_conninfo())];
    let mut heartbeats = format!(
        "    database:\n      primary: \"{}\"\n      replica: \"{}\"\n",
        pg.primary_conninfo(),
        pg.standby_conninfo()
    );
    if let Some(r) = redis {
        tcp.push(
            r.primary_url()
                .trim_start_matches("redis://")
                .trim_end_matches('/')
                .to_string(),
        );
        heartbeats.push_str(&format!(
            "    cache:\n      primary: {}\n      replica: {}\n",
            r.primary_url(),
            r.replica_url()
        ));
    }
    let text = format!(
        "{head}\ndetection:\n  probe_interval: 250ms\n  probe_timeout: 200ms\n  consecutive_failures: 3\n  probes:\n    database_status: false\n    tcp: [{}]\n  heartbeats:\n{heartbeats}\nmode: automatic\n\nexecution:{rest}",
        tcp.join(", ")
    )
    .replace("rpo: 15m", &format!("rpo: {rpo}"))
    .replace("poll_interval: 1s", "poll_interval: 100ms");
    Arc::new(policy::parse(&path, &text).unwrap())
}

/// Whether the pair's standby is still a standby.
async fn in_recovery(pg: &PgPair) -> bool {
    pg_connect(&pg.standby_conninfo())
        .await
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0)
}

fn verdict(c: &Cluster, id: u64) -> Verdict {
    let ctx = &c.node(id).ctx;
    ctx.verdict(ctx.policies.values().next().unwrap())
}

async fn wait_verdict(c: &Cluster, within: Duration, pred: impl Fn(&Verdict) -> bool) -> Verdict {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = verdict(c, c.leader().await);
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "verdict not as expected within {within:?}: {v:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the sites' heartbeats give a known exposure for `tier`.
async fn measured(c: &Cluster, tier: DataTier) -> Duration {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ctx = &c.node(1).ctx;
        let p = ctx.policies.values().next().unwrap();
        if let Some((Exposure::Known(d), source)) = ctx.exposures(p).get(&tier) {
            assert_eq!(source, "heartbeat");
            return *d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {tier} exposure measured"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The detector's execution, once finished.
async fn detector_execution(c: &Cluster) -> (String, ExecutionStatus) {
    let leader = c.leader().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let id = loop {
        let found = {
            let a = c.node(leader).ctx.applied.read().unwrap();
            a.state
                .executions
                .values()
                .find(|e| e.requested_by == DETECTOR)
                .map(|e| e.record.id.clone())
        };
        if let Some(id) = found {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no automatic failover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let v = c.wait_finished(leader, &id).await;
    (id, v.summary.status)
}

/// The RPO gate the execution journaled right before promotion.
fn gate(c: &Cluster, id: &str) -> RpoEvaluation {
    let a = c.node(1).ctx.applied.read().unwrap();
    a.state.executions[id]
        .record
        .rpo
        .clone()
        .expect("the execution journaled its RPO gate")
}

fn exposure_ms(g: &RpoEvaluation, tier: DataTier) -> i64 {
    match g.tiers.iter().find(|t| t.tier == tier).unwrap().exposure {
        Exposure::Known(d) => d.as_millis() as i64,
        Exposure::Unknown => panic!("{tier} exposure unknown at the gate: {g:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_primary_is_promoted_away_from_and_the_reported_exposure_covers_the_loss() {
    let mut pg = PgPair::start();
    let mut redis = RedisPair::start();
    let p = policy(&pg, Some(&redis), "15m");
    let cloud = sim_cloud(&p, 0.01).backed_by(Backing {
        postgres: Some(BackingServer {
            replica: pg.standby_conninfo(),
            password: None,
        }),
        redis: Some(BackingServer {
            replica: redis.replica_url(),
            password: None,
        }),
    });
    let c = Cluster::start_with(p, cloud).await;
    let rows = WriteLoad::postgres(&pg.primary_conninfo(), LOAD).await;
    let keys = WriteLoad::redis(&redis.primary_url(), LOAD).await;
    measured(&c, DataTier::Database).await;
    measured(&c, DataTier::Cache).await;
    wait_verdict(&c, Duration::from_secs(10), |v| v.health == Health::Healthy).await;

    // The replicas stop receiving; writes go on for a while, then the
    // primaries die.
    pg.proxy().stall();
    redis.proxy().stall();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.kill_primary();
    redis.kill_primary();
    let rows = rows.stop().await;
    let keys = keys.stop().await;

    let (id, status) = detector_execution(&c).await;
    assert_eq!(status, ExecutionStatus::Completed);
    let g = gate(&c, &id);
    assert!(g.allows(), "{g:?}");

    // Really promoted.
    assert!(!in_recovery(&pg).await, "the standby was not promoted");
    let replica = redis::Client::open(redis.replica_url()).unwrap();
    let mut conn = replica.get_multiplexed_async_connection().await.unwrap();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec())),
        "{role:?}"
    );

    // What was lost, against what was reported at the gate.
    let interval = (INTERVAL + SLACK).as_millis() as i64;
    let lost = missing_postgres(&pg.standby_conninfo(), &rows).await;
    let reported = exposure_ms(&g, DataTier::Database);
    eprintln!(
        "database: {} of {} rows lost over {:?}; reported {reported} ms",
        lost.count,
        rows.len(),
        lost.span
    );
    assert!(lost.count > 0, "nothing was lost: {lost:?}");
    assert!(
        (reported - lost.span.as_millis() as i64).abs() <= interval,
        "reported {reported} ms, lost {lost:?}"
    );
    let lost = missing_redis(&redis.replica_url(), &keys).await;
    let reported = exposure_ms(&g, DataTier::Cache);
    eprintln!(
        "cache: {} of {} keys lost over {:?}; reported {reported} ms",
        lost.count,
        keys.len(),
        lost.span
    );
    assert!(lost.count > 0, "nothing was lost: {lost:?}");
    assert!(
        (reported - lost.span.as_millis() as i64).abs() <= interval,
        "reported {reported} ms, lost {lost:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lag_above_the_rpo_refuses_on_its_own_and_an_accepted_loss_proceeds() {
    let mut pg = PgPair::start();
    let p = policy(&pg, None, "2s");
    let cloud = sim_cloud(&p, 0.01).backed_by(Backing {
        postgres: Some(BackingServer {
            replica: pg.standby_conninfo(),
            password: None,
        }),
        redis: None,
    });
    // The tiers without heartbeats report little lag: only the database's
    // measured exposure is over the RPO.
    for tier in [DataTier::Cache, DataTier::Stream] {
        cloud.set_lag(tier, Exposure::Known(Duration::from_millis(100)));
    }
    let c = Cluster::start_with(p, cloud).await;
    let rows = WriteLoad::postgres(&pg.primary_conninfo(), LOAD).await;
    measured(&c, DataTier::Database).await;

    // Replay paused: the standby falls behind past the RPO.
    pg.pause_replay().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while measured(&c, DataTier::Database).await < Duration::from_secs(3) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "exposure did not grow"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg.kill_primary();
    rows.stop().await;

    let (id, status) = detector_execution(&c).await;
    assert_eq!(status, ExecutionStatus::Refused);
    let v = wait_verdict(&c, Duration::from_secs(5), |v| v.action == Action::HeldDown).await;
    assert!(v.reason.contains("ended refused"), "{}", v.reason);
    let g = gate(&c, &id);
    assert!(exposure_ms(&g, DataTier::Database) > 2000, "{g:?}");
    let summary = c.execution(1, &id).unwrap().summary.summary.unwrap();
    assert!(
        summary.contains("database") && summary.contains("RPO"),
        "{summary}"
    );
    assert!(
        in_recovery(&pg).await,
        "a refused failover promoted the standby"
    );

    // The operator accepts the loss: promoted, and the override recorded.
    let (s, b) = c
        .post(2, "/v1/failover", serde_json::json!({"confirm": true, "accept_data_loss": "1m", "reason": "accept the lag"}))
        .await;
    assert_eq!(s, 202, "{b}");
    let id = b["execution_id"].as_str().unwrap().to_string();
    let done = c.wait_finished(c.leader().await, &id).await;
    assert_eq!(
        done.summary.status,
        ExecutionStatus::Completed,
        "{:?}",
        done.summary.summary
    );
    let g = gate(&c, &id);
    assert_eq!(g.accept_data_loss_ms, Some(60_000));
    assert!(!in_recovery(&pg).await, "the standby was not promoted");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_write_load_the_measured_lag_follows_the_standbys_own() {
    let pg = PgPair::start();
    let p = policy(&pg, None, "15m");
    let cloud = Arc::new(sim_cloud(&p, 0.01));
    let mut prober = Prober::new("us-west-2", 2, p, cloud).unwrap();
    let load = WriteLoad::postgres(&pg.primary_conninfo(), LOAD).await;
    let database = |o: &drctl::detect::Observation| {
        o.tiers
            .iter()
            .find(|t| t.tier == DataTier::Database)
            .map(|t| t.exposure)
            .unwrap()
    };
    // Rounds every interval, as a node takes them; the first ones learn
    // the heartbeat's way round.
    let mut tick = tokio::time::interval(INTERVAL);
    let mut steady = Vec::new();
    for _ in 0..8 {
        tick.tick().await;
        if let Exposure::Known(d) = database(&prober.round().await) {
            steady.push(d);
        }
    }
    assert!(steady.len() >= 6, "{steady:?}");
    // Keeping up: never more than one interval (the heartbeat's grain).
    assert!(steady.iter().all(|d| *d <= INTERVAL + SLACK), "{steady:?}");

    // Replay paused: the standby's own replay lag grows, and so must ours.
    pg.pause_replay().await;
    let mut pairs = Vec::new();
    for _ in 0..14 {
        tick.tick().await;
        let measured = database(&prober.round().await);
        let real = pg.replay_lag().await;
        pairs.push((measured, real));
    }
    pg.resume_replay().await;
    load.stop().await;
    eprintln!("(measured, replay lag): {pairs:?}");
    let (last, real) = pairs.last().unwrap();
    assert!(*real > Duration::from_secs(3), "{pairs:?}");
    assert!(
        matches!(last, Exposure::Known(d) if *d > Duration::from_millis(2500)),
        "{pairs:?}"
    );
    for (measured, real) in &pairs {
        let Exposure::Known(m) = measured else {
            panic!("unknown exposure under load: {pairs:?}")
        };
        let diff = (m.as_millis() as i64 - real.as_millis() as i64).abs();
        assert!(
            diff <= (INTERVAL + SLACK).as_millis() as i64,
            "{m:?} vs {real:?}: {pairs:?}"
        );
    }
}
