//! The whole loop on real data: a three-node cluster probes a real
//! PostgreSQL primary and a real Redis primary (TCP and heartbeats), the
//! simulated cloud's database and cache tiers are backed by their replicas,
//! so a failover really promotes them (`pg_promote()`, `REPLICAOF NO ONE`).
//! The primaries are killed under a write load; the rows and keys that did
//! not reach the replicas are counted and set against the exposure the
//! execution reported at its RPO gate.
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster_support::{sim_cloud, Cluster};
use crate::real_support::{
    missing_postgres, missing_redis, pg_connect, PgPair, RedisPair, WriteLoad,
};
use drctl::cloud::sim::{Backing, BackingServer};
use drctl::consensus::DETECTOR;
use drctl::detect::{Action, Health, Verdict};
use drctl::execute::ExecutionStatus;
use drctl::model::DataTier;
use drctl::model::Exposure;
use drctl::plan::RpoEvaluation;
use drctl::policy::{self, Policy};
use drctl::probe::Prober;

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
    // The shipped lease does not fit 250 ms rounds: tests that fence set
    // their own.
    let text = text.split("\nfencing:").next().unwrap().to_string();
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
    detector_execution_on(c, c.leader().await).await
}

/// The detector's execution as node `leader` holds it, once finished.
async fn detector_execution_on(c: &Cluster, leader: u64) -> (String, ExecutionStatus) {
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
    gate_on(c, 1, id)
}

/// The RPO gate as node `node` holds it, once it has applied it (a
/// follower may apply the entry a moment after the leader; 5 s at most).
fn gate_on(c: &Cluster, node: u64, id: &str) -> RpoEvaluation {
    for _ in 0..100 {
        let held = {
            let a = c.node(node).ctx.applied.read().unwrap();
            a.state
                .executions
                .get(id)
                .and_then(|e| e.record.rpo.clone())
        };
        if let Some(g) = held {
            return g;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node {node} does not hold the RPO gate of execution {id}")
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

fn with_user(conninfo: &str, user: &str) -> String {
    conninfo.replace("user=postgres", &format!("user={user}"))
}

/// The platform on the real pair with heartbeats written by their own role
/// and fenced with the application's: once the old primary fences itself,
/// no heartbeat is acknowledged there any more, so the measured exposure
/// stops where the application's writes stop. Rounds every 250 ms, twelve
/// failed rounds to confirm (3 s), a 1.5 s self-fence lease.
fn fenced_policy(pg: &PgPair) -> Arc<Policy> {
    let mut p = (*policy(pg, None, "15m")).clone();
    let hb = p.detection.heartbeats.database.as_mut().unwrap();
    hb.primary = with_user(&pg.primary_conninfo(), "drctl_heartbeat");
    hb.replica = with_user(&pg.standby_conninfo(), "drctl_heartbeat");
    p.detection.consecutive_failures = 12;
    p.fencing = Some(drctl::policy::Fencing {
        self_fence_after: Duration::from_millis(1500),
        max_clock_skew: Duration::from_millis(250),
        on_return: true,
        database: Some(drctl::policy::DatabaseFencing {
            connection: with_user(&pg.primary_conninfo(), "drctl_fence"),
            secondary_connection: Some(with_user(&pg.standby_conninfo(), "drctl_fence")),
            password: drctl::policy::SecretSource::None,
            ca_file: None,
            roles: vec!["emr_app".into(), "drctl_heartbeat".into()],
        }),
        cache: None,
        node_groups: None,
    });
    Arc::new(p)
}

/// Unix ms of an RFC 3339 time.
fn unix_ms(rfc3339: &str) -> u64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_primary_fences_itself_under_load_and_the_replica_is_promoted_only_after() {
    let pg = PgPair::start();
    pg_connect(&pg.primary_conninfo())
        .await
        .batch_execute(
            "CREATE ROLE emr_app LOGIN; CREATE ROLE drctl_heartbeat LOGIN; \
             GRANT ALL ON SCHEMA public TO emr_app, drctl_heartbeat; \
             CREATE ROLE drctl_fence LOGIN CREATEROLE; GRANT pg_signal_backend TO drctl_fence; \
             CREATE TABLE drctl_heartbeat (site text PRIMARY KEY, at_ms bigint NOT NULL); \
             ALTER TABLE drctl_heartbeat OWNER TO drctl_heartbeat; \
             GRANT SELECT ON drctl_heartbeat TO drctl_fence",
        )
        .await
        .unwrap();
    let p = fenced_policy(&pg);
    let lease = p.fencing.as_ref().unwrap().self_fence_after;
    let cloud = sim_cloud(&p, 0.01)
        .backed_by(Backing {
            postgres: Some(BackingServer {
                replica: pg.standby_conninfo(),
                password: None,
            }),
            redis: None,
        })
        .with_real_fences();
    for tier in [DataTier::Cache, DataTier::Stream] {
        cloud.set_lag(tier, Exposure::Known(Duration::from_millis(100)));
    }
    let c = Cluster::start_with(p, cloud).await;
    let app = with_user(&pg.primary_conninfo(), "emr_app");
    let rows = WriteLoad::postgres(&app, LOAD).await;
    measured(&c, DataTier::Database).await;
    wait_verdict(&c, Duration::from_secs(10), |v| v.health == Health::Healthy).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // us-east-1 is cut off from the other sites, alive inside: replication
    // stops, the controllers' links are cut, the other sites' probes fail;
    // the application goes on writing there.
    let cut_ms = crate::real_support::now_ms();
    pg.proxy().stall();
    c.isolate(1);
    c.cloud.set_outage(drctl::cloud::sim::Outage {
        isolated: ["us-east-1".to_string()].into(),
        ..Default::default()
    });

    // Node 1 fences itself within its lease: the application's writes stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let fenced = loop {
        let (_, status) = c.get(1, "/v1/status").await;
        let f = status["policies"][0]["self_fenced"].clone();
        if f.is_object() {
            break f;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node 1 did not fence itself: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let fenced_ms = unix_ms(fenced["at"].as_str().unwrap());
    let outcome = fenced["outcome"].to_string();
    assert!(
        outcome.contains("revoked LOGIN from emr_app, drctl_heartbeat"),
        "{outcome}"
    );
    let slack = (INTERVAL * 2 + SLACK).as_millis() as u64;
    assert!(
        fenced_ms <= cut_ms + lease.as_millis() as u64 + slack,
        "fenced {} ms after the cut",
        fenced_ms - cut_ms
    );
    let acked = rows.acked().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rows.acked().len(), acked, "the application still writes");
    let rows = rows.stop().await;
    let last_write = rows.iter().map(|a| a.at_ms).max().unwrap();
    assert!(
        last_write <= fenced_ms + SLACK.as_millis() as u64,
        "a write acknowledged after the fence"
    );
    assert!(
        last_write > cut_ms,
        "the application wrote after the cut, until the fence"
    );

    // The majority confirms the outage and fails over, promoting only
    // once the lease has ended.
    let leader = c.leader_among(&[2, 3], Duration::from_secs(20)).await;
    let (id, status) = detector_execution_on(&c, leader).await;
    assert_eq!(status, ExecutionStatus::Completed);
    assert!(!in_recovery(&pg).await, "the standby was not promoted");
    let record = c.node(leader).ctx.applied.read().unwrap().state.executions[&id]
        .record
        .clone();
    let promote = record.step("promote-database").unwrap();
    let promoted_ms = unix_ms(&record.started_at) + promote.started_ms.unwrap();
    assert!(
        promoted_ms > fenced_ms,
        "promoted {promoted_ms} before the fence {fenced_ms}"
    );
    assert!(
        record
            .decisions
            .iter()
            .any(|d| d.what.contains("self-fence lease")),
        "{:?}",
        record.decisions
    );
    let g = gate_on(&c, leader, &id);
    assert!(g.basis.bounded, "{:?}", g.basis);

    // The gate's figure and what the old primary took after the fork agree
    // within a probe interval: the fence ended both.
    let lost = missing_postgres(&pg.standby_conninfo(), &rows).await;
    let reported = exposure_ms(&g, DataTier::Database);
    eprintln!(
        "isolated: {} rows written on the old primary after the fork over {:?}; the gate reported {reported} ms",
        lost.count, lost.span
    );
    assert!(lost.count > 0, "{lost:?}");
    let interval = (INTERVAL + SLACK).as_millis() as i64;
    assert!(
        (reported - lost.span.as_millis() as i64).abs() <= interval,
        "reported {reported} ms, lost {lost:?}"
    );

    // us-east-1 answers again: its old primary is fenced (already, by its
    // own node) and renamed out of its endpoint without an operator.
    c.links.heal();
    c.cloud.set_outage(Default::default());
    let done = c
        .wait_for(leader, &id, Duration::from_secs(45), |v| {
            v.fence_old_primary.as_ref().is_some_and(|f| !f.is_open())
        })
        .await;
    let fenced_return = done.fence_old_primary.unwrap();
    let outcome = fenced_return.outcome.join("; ");
    assert!(outcome.contains("already fenced"), "{outcome}");
    // The divergence report, measured on the fenced old primary, spans what
    // the gate reported, within a probe interval.
    let d = fenced_return
        .divergence
        .iter()
        .find(|d| d.tier == DataTier::Database)
        .unwrap_or_else(|| {
            panic!(
                "no database divergence: {:?}",
                fenced_return.divergence_errors
            )
        });
    eprintln!("isolated: divergence {d}");
    assert!(d.bytes > 0 && d.heartbeat_rows >= 1, "{d:?}");
    let window = (d.window_end_ms.unwrap() - d.window_start_ms.unwrap()) as i64;
    assert!(
        (reported - window).abs() <= interval,
        "reported {reported} ms, divergence window {window} ms"
    );
    assert!(
        outcome.contains("renamed to emr-platform-prod-fenced-"),
        "{outcome}"
    );

    // An operator lifts node 1's fence: the application can log in again.
    let unfenced = c.unfence(1).await;
    assert!(
        unfenced.contains("granted LOGIN to emr_app, drctl_heartbeat"),
        "{unfenced}"
    );
    let client = pg_connect(&app).await;
    client.simple_query("SELECT 1").await.unwrap();
    c.stop().await;
}
