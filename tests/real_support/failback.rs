//! The way home on real servers: the shipped platform on the simulated
//! cloud, its database and cache tiers backed by a real PostgreSQL pair and
//! a real Redis pair (plus a Redis server standing in the old primary's
//! region), failed over, reprotected, then failed back under a steady
//! write load. Used by tests/real/failback.rs and by the failback
//! benchmark.
//!
//! Each phase is the product's: the failover is `execute::execute`, the
//! reprotect and the failback are planned by `execute::cycle::plan_way_home`
//! in the roles the phase before left and run by `execute::execute_plan`
//! (the failback in [`back`], its writer fences acting on the real
//! servers); what the new primary holds and the write pause are measured
//! on the real servers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drctl::cloud::sim::{Backing, BackingServer, LatencyModel, Rebuild, SimCloud, SimOptions};
use drctl::execute::cycle::{self, CyclePhase, CycleRoles};
use drctl::execute::{self, ExecutionStatus, MemoryJournal, RunOptions};
use drctl::model::{DataTier, Epoch, Exposure, Fence};
use drctl::policy::{self, Policy};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{
    bounded, missing_postgres, pg_connect, Acked, PgPair, RedisAlone, RedisPair, Standbys,
    WriteLoad,
};

mod back;

pub use back::{fail_back, FailedBack, StepTimes};

/// The application's write period.
pub const LOAD: Duration = Duration::from_millis(10);
/// The simulated cloud's latencies, scaled down: a modeled 3–5 minute RDS
/// promotion takes 0.2–0.3 s, so the figures are mostly the real servers'.
pub const SCALE: f64 = 0.001;

/// Everything a run holds.
pub struct Home {
    /// us-east-1's primary (killed at the failover) and us-west-2's standby.
    pub pg: PgPair,
    /// The same for Redis.
    pub redis: RedisPair,
    /// The Redis server of the cache member in us-east-1 after the failover.
    pub redis_home: RedisAlone,
    /// The standbys the reprotect makes.
    pub standbys: Standbys,
    /// The simulated cloud (simulated writers).
    pub sim: Arc<SimCloud>,
    /// The same world, fencing the real servers.
    pub real: Arc<SimCloud>,
    /// The policy as written, fencing us-east-1's original primary.
    pub policy: Arc<Policy>,
    target: watch::Sender<String>,
    load: Option<WriteLoad>,
}

/// The conninfo of `conninfo`'s server as the application role.
pub fn app(conninfo: &str) -> String {
    conninfo.replace("user=postgres", "user=emr_app")
}

fn fencer(conninfo: &str) -> String {
    conninfo.replace("user=postgres", "user=drctl_fence")
}

/// The shipped policy, polling every 100 ms, whose database fencing
/// revokes LOGIN from `emr_app` on `east` (us-east-1) or `west`.
pub fn policy(east: &str, west: &str) -> Arc<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(policy::DEFAULT_POLICY);
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text.split_once("\nfencing:").unwrap();
    let (_, failback) = rest.split_once("\nfailback:").unwrap();
    let text = format!(
        "{head}\nfencing:\n  self_fence_after: 120s\n  on_return: true\n  database:\n    \
         connection: \"{}\"\n    secondary_connection: \"{}\"\n    roles: [emr_app]\n\
         \nfailback:{failback}",
        fencer(east),
        fencer(west)
    )
    .replace("poll_interval: 1s", "poll_interval: 100ms");
    Arc::new(policy::parse(&path, &text).unwrap_or_else(|e| panic!("{e}")))
}

/// Whether the server at `conninfo` is a standby.
pub async fn in_recovery(conninfo: &str) -> bool {
    let c = pg_connect(conninfo).await;
    bounded(c.query_one("SELECT pg_is_in_recovery()", &[]))
        .await
        .unwrap()
        .get(0)
}

impl Home {
    /// Starts the servers, the application's roles and its write load on
    /// the us-east-1 primary, and the simulated cloud backed by them.
    pub async fn start() -> Home {
        let pg = PgPair::start();
        let redis = RedisPair::start();
        let redis_home = RedisAlone::start();
        let admin = pg_connect(&pg.primary_conninfo()).await;
        bounded(admin.batch_execute(
            "CREATE ROLE emr_app LOGIN; GRANT ALL ON SCHEMA public TO emr_app; \
             CREATE ROLE drctl_fence LOGIN CREATEROLE; GRANT pg_signal_backend TO drctl_fence",
        ))
        .await
        .unwrap();
        let policy = policy(&pg.primary_conninfo(), &pg.standby_conninfo());
        let options = SimOptions {
            seed: 12,
            latency: LatencyModel::default().scaled(SCALE),
            ..SimOptions::default()
        };
        let standbys = Standbys::new();
        let sim = SimCloud::new(&policy, options)
            .unwrap()
            .backed_by(Backing {
                postgres: Some(server(pg.standby_conninfo())),
                redis: Some(server(redis.replica_url())),
            })
            .rebuilt_by(Rebuild {
                postgres: Some(Arc::new(standbys.clone())),
                redis: Some(server(redis_home.url())),
            });
        for tier in [DataTier::Database, DataTier::Cache, DataTier::Stream] {
            sim.set_lag(tier, Exposure::Known(Duration::from_millis(100)));
        }
        let real = Arc::new(sim.clone().with_real_fences());
        let (target, follow) = watch::channel(app(&pg.primary_conninfo()));
        let load = WriteLoad::postgres_following(follow, LOAD).await;
        Home {
            pg,
            redis,
            redis_home,
            standbys,
            sim: Arc::new(sim),
            real,
            policy,
            target,
            load: Some(load),
        }
    }

    fn acked(&self, target: u32) -> Vec<Acked> {
        let all = self.load.as_ref().unwrap().acked();
        all.into_iter().filter(|a| a.target == target).collect()
    }

    /// Waits (at most 20 s) until target `target` acknowledged `n` writes.
    async fn acked_at_least(&self, target: u32, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.acked(target).len() < n {
            assert!(
                Instant::now() < deadline,
                "target {target} took under {n} writes in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn server(url: String) -> BackingServer {
    BackingServer {
        replica: url,
        password: None,
    }
}

/// Run options of an execution called `id`.
pub fn opts(id: &str) -> RunOptions {
    RunOptions {
        execution_id: Some(id.into()),
        operator: "test".into(),
        ..RunOptions::default()
    }
}

/// What the failover left.
#[derive(Debug)]
pub struct FailedOver {
    /// Writes the promoted standby acknowledged once the application moved.
    pub acked_on_new_primary: usize,
}

/// Kills us-east-1's primaries and fails the platform over; the old
/// primary is fenced and renamed once its region answers (it does, in the
/// simulated world), and the application moves to the promoted standby.
pub async fn fail_over(home: &mut Home) -> FailedOver {
    home.acked_at_least(0, 20).await;
    let written = home.acked(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while missing_postgres(&home.pg.standby_conninfo(), &written)
        .await
        .count
        > 0
    {
        assert!(Instant::now() < deadline, "the standby never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    home.pg.kill_primary();
    home.redis.kill_primary();
    let (sim, p) = (home.sim.clone(), home.policy.clone());
    let mut journal = MemoryJournal::default();
    let r = execute::execute(sim.clone(), p.clone(), &mut journal, opts("failover"))
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let mut state = r
        .fence_old_primary
        .clone()
        .expect("the policy fences on return");
    let fence = Fence {
        execution_id: r.id.clone(),
        epoch: Epoch::default(),
    };
    execute::fence_return::try_fence(sim.as_ref(), &p, &fence, &mut state, execute::now_rfc3339())
        .await;
    assert!(state.status.succeeded(), "{:?}", state.outcome);
    home.target.send_replace(app(&home.pg.standby_conninfo()));
    home.acked_at_least(1, 20).await;
    FailedOver {
        acked_on_new_primary: home.acked(1).len(),
    }
}

/// What the reprotect built, as seen on the real servers.
#[derive(Debug, Clone)]
pub struct Reprotected {
    /// The new standby in us-east-1 (conninfo as `postgres`).
    pub standby: String,
    /// It streams, from the new primary's port.
    pub streams_from_new_primary: bool,
    /// Every row the new primary had acknowledged reached it.
    pub row_replicated: bool,
    /// A key set on the new Redis primary reached us-east-1's server.
    pub key_replicated: bool,
    /// Modeled time of the reprotect execution (scaled latencies).
    pub rto_ms: u64,
    /// The roles the reprotect switched to, which the failback is read in.
    pub roles: CycleRoles,
}

/// Runs the reprotect, planned in the roles a failover leaves, on the
/// simulated cloud, which builds the real standby and Redis replica, and
/// checks they replicate.
pub async fn reprotect(home: &mut Home) -> Reprotected {
    let sim = home.sim.clone();
    let failed_over = CycleRoles {
        protection: drctl::model::Protection::Unprotected,
        ..CycleRoles::default()
    };
    let mut run = opts("reprotect");
    let (p, plan) = cycle::plan_way_home(
        sim.as_ref(),
        &home.policy,
        &failed_over,
        CyclePhase::Reprotect,
        &mut run,
    )
    .await;
    assert!(
        plan.preflight_problems.is_empty(),
        "{:?}",
        plan.preflight_problems
    );
    let mut journal = MemoryJournal::default();
    let r = execute::execute_plan(sim, p, &mut journal, &plan, run)
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let switched = execute::switched_roles(&r).expect("a completed reprotect switches roles");
    let roles = CycleRoles {
        orientation: switched.orientation,
        protection: switched.protection,
        names: switched.names.clone(),
    };
    let made = home.standbys.made();
    assert_eq!(made.len(), 1, "{made:?}");
    let standby = made[0].clone();
    let streams_from_new_primary = streams_from(&standby, &home.pg.standby_conninfo()).await;
    home.acked_at_least(1, home.acked(1).len() + 10).await;
    let rows = home.acked(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut row_replicated = false;
    while !row_replicated && Instant::now() < deadline {
        row_replicated = missing_postgres(&standby, &rows).await.count == 0;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Reprotected {
        standby,
        streams_from_new_primary,
        row_replicated,
        key_replicated: key_reaches(&home.redis.replica_url(), &home.redis_home.url()).await,
        rto_ms: r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap_or(0),
        roles,
    }
}

/// Whether the standby at `standby` streams WAL from the server at
/// `primary` (both conninfo).
pub async fn streams_from(standby: &str, primary: &str) -> bool {
    let c = pg_connect(standby).await;
    let row = bounded(c.query_one("SELECT status, sender_port FROM pg_stat_wal_receiver", &[]))
        .await
        .unwrap();
    let (status, port): (String, i32) = (row.get(0), row.get(1));
    status == "streaming" && primary.contains(&format!("port={port} "))
}

/// Sets a key on `primary` and waits (at most 10 s) until `replica` has it.
pub async fn key_reaches(primary: &str, replica: &str) -> bool {
    let conn = |url: &str| {
        let client = redis::Client::open(url).unwrap();
        async move {
            bounded(client.get_multiplexed_async_connection())
                .await
                .unwrap()
        }
    };
    let (mut p, mut r) = (conn(primary).await, conn(replica).await);
    let value = super::now_ms().to_string();
    let set = redis::cmd("SET").arg("failback:probe").arg(&value).clone();
    bounded(set.query_async::<()>(&mut p)).await.unwrap();
    for _ in 0..500 {
        let get = redis::cmd("GET").arg("failback:probe").clone();
        let seen: Option<String> = bounded(get.query_async(&mut r)).await.unwrap();
        if seen.as_deref() == Some(value.as_str()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
