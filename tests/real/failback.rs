//! The way home on real PostgreSQL and Redis: the simulated cloud's data
//! tiers are backed by real servers, so its promotions really promote
//! (`pg_promote()`, `REPLICAOF NO ONE`), its reprotect really builds a new
//! standby from the new primary with `pg_basebackup` and makes a Redis
//! server a `REPLICAOF` it, and the failback's quiesce really revokes the
//! application's LOGIN on the active primary.
//!
//! The primary is killed under a write load and the platform fails over;
//! a reprotect builds the replicas in the old primary's region; then, under
//! a steady write load on the new primary, the product's failback runs: its
//! plan, built in the roles the reprotect left, run by the executor
//! (`quiesce-writers`, `drain`, `promote-database`, `failover-cache`,
//! `lift-quiesce`, then the reprotect the other way). Every row
//! acknowledged before the quiesce must be on the server promoted by the
//! failback, and the application's write pause must stay under
//! `failback.max_write_pause`.
//!
//! The scenario itself is in `crate::real_support::failback`, shared with the
//! benchmark (`cargo bench --bench failback_pause`).
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

use std::sync::Arc;
use std::time::Duration;

use crate::real_support::failback::{self, Home};
use crate::real_support::{missing_postgres, pg_connect, RedisAlone, RedisPair};
use drctl::cloud::sim::{Backing, BackingServer, LatencyModel, Rebuild, SimCloud, SimOptions};
use drctl::execute::{self, ExecutionStatus, MemoryJournal, StepStatus};
use drctl::model::{DataTier, Epoch, Exposure, Fence, Orientation, Protection};
use drctl::plan::reprotect;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failback_after_failover_and_reprotect_loses_no_row_and_pauses_writes_briefly() {
    let mut home = Home::start().await;
    let failed_over = failback::fail_over(&mut home).await;
    // Really promoted: the DR standby takes the application's writes.
    assert!(!failback::in_recovery(&home.pg.standby_conninfo()).await);
    assert!(failed_over.acked_on_new_primary > 0, "{failed_over:?}");

    let reprotected = failback::reprotect(&mut home).await;
    // A new standby in the old primary's region, cloned from the new
    // primary and streaming from it, and a Redis replica of the new Redis
    // primary: what the new primary writes reaches both.
    let standby = reprotected.standby.clone();
    assert!(failback::in_recovery(&standby).await, "{reprotected:?}");
    assert!(reprotected.streams_from_new_primary, "{reprotected:?}");
    assert!(reprotected.row_replicated, "{reprotected:?}");
    assert!(reprotected.key_replicated, "{reprotected:?}");

    let f = failback::fail_back(&mut home, &reprotected).await;
    // The executor ran the failback to its end, every step of the switch
    // done by it.
    assert_eq!(
        f.record.status,
        ExecutionStatus::Completed,
        "{:#?}",
        f.record.steps
    );
    for id in [
        "quiesce-writers",
        "drain",
        "promote-database",
        "failover-cache",
        "lift-quiesce",
        "rename-old-primary",
        "switch-roles",
        "verify",
    ] {
        let step = f.record.steps.iter().find(|s| s.id == id);
        let status = step.map(|s| s.status);
        assert_eq!(status, Some(StepStatus::Done), "{id}: {step:?}");
    }
    eprintln!(
        "failback: {} rows acknowledged before the quiesce, {} missing on the new primary; \
         write pause {:?} (quiesce {:?}, drain {:?}, promotion {:?}, lift {:?})",
        f.before_quiesce.len(),
        f.missing.count,
        f.pause,
        f.steps.quiesce,
        f.steps.drain,
        f.steps.promote,
        f.steps.lift
    );
    // Zero loss, counted row by row on the server the failback promoted.
    assert!(f.before_quiesce.len() > 20, "{}", f.before_quiesce.len());
    let missing = missing_postgres(&standby, &f.before_quiesce).await;
    assert_eq!(missing.count, 0, "{missing:?}");
    assert!(!failback::in_recovery(&standby).await, "not promoted");
    // The pause, from the last write the old primary acknowledged to the
    // first the new one did, stays within what the policy allows.
    assert!(f.pause > Duration::ZERO);
    assert!(
        f.pause < f.max_write_pause,
        "paused {:?}, over failback.max_write_pause {:?}",
        f.pause,
        f.max_write_pause
    );
    assert!(f.acked_after > 0, "no write on the new primary");
    // The quiesce was lifted on the new primary's side only: the old
    // primary still refuses the application.
    let refused = tokio_postgres::connect(
        &failback::app(&home.pg.standby_conninfo()),
        tokio_postgres::NoTls,
    )
    .await;
    let err = refused
        .err()
        .expect("the old primary let the application in");
    let why = err.as_db_error().map(|e| e.message().to_string());
    assert!(
        why.as_deref()
            .is_some_and(|m| m.contains("not permitted to log in")),
        "{err:?}"
    );
    // The cache failed back too: the Redis server in the old primary's
    // region is the primary, the DR one replicates from it.
    assert!(f.cache_roles_swapped, "{f:?}");
    // The reprotect the other way made a real standby in us-west-2 with
    // `pg_basebackup` from the new primary, and it streams from it.
    let made = home.standbys.made();
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(failback::in_recovery(&made[1]).await, "{made:?}");
    assert!(failback::streams_from(&made[1], &standby).await, "{made:?}");
    // The new primary's admin still reaches it (the fence is on the
    // application's roles only).
    pg_connect(&standby)
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

/// `ROLE`'s first element on the Redis server at `url`: master or slave.
async fn redis_role(url: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
    match role.first() {
        Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("ROLE answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reprotect_after_a_disassociation_makes_the_new_cache_secondary_a_real_replica() {
    let mut redis = RedisPair::start();
    let home = RedisAlone::start();
    // The database is simulated only here; its fencing names a server
    // nobody connects to.
    let nowhere = "host=127.0.0.1 port=1 user=postgres dbname=postgres";
    let written = failback::policy(nowhere, nowhere);
    let mut p = (*written).clone();
    p.tiers.cache.as_mut().unwrap().failover_timeout = Duration::from_secs(1);
    let p = Arc::new(p);
    let options = SimOptions {
        seed: 12,
        latency: LatencyModel::default().scaled(failback::SCALE),
        ..SimOptions::default()
    };
    let server = |url: String| BackingServer {
        replica: url,
        password: None,
    };
    let sim = SimCloud::new(&p, options)
        .unwrap()
        .backed_by(Backing {
            postgres: None,
            redis: Some(server(redis.replica_url())),
        })
        .rebuilt_by(Rebuild {
            postgres: None,
            redis: Some(server(home.url())),
        });
    for tier in [DataTier::Database, DataTier::Cache, DataTier::Stream] {
        sim.set_lag(tier, Exposure::Known(Duration::from_millis(100)));
    }
    let sim = Arc::new(sim);

    // us-east-1 is gone: the Global Datastore cannot fail over, so the DR
    // member is disassociated, and its real server stops replicating.
    redis.kill_primary();
    sim.set_region_outage(["us-east-1".to_string()]);
    let mut journal = MemoryJournal::default();
    let r = execute::execute(
        sim.clone(),
        p.clone(),
        &mut journal,
        failback::opts("failover"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let cache = r.steps.iter().find(|s| s.id == "failover-cache").unwrap();
    assert!(
        cache
            .outcome
            .as_deref()
            .unwrap_or("")
            .contains("disassociat"),
        "{cache:?}"
    );
    assert_eq!(redis_role(&redis.replica_url()).await, "master");
    assert_eq!(
        redis_role(&home.url()).await,
        "master",
        "home replicates already"
    );

    // us-east-1 answers again: the reprotect makes a new Global Datastore
    // from the DR member and adds us-east-1's member as its secondary.
    sim.set_region_outage([]);
    let mut state = r.fence_old_primary.clone().unwrap();
    let fence = Fence {
        execution_id: r.id.clone(),
        epoch: Epoch::default(),
    };
    execute::fence_return::try_fence(sim.as_ref(), &p, &fence, &mut state, execute::now_rfc3339())
        .await;
    let ctx = reprotect::Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Unprotected,
        reprotects: 0,
    };
    let plan = reprotect::build(
        &p,
        &execute::observe_reprotect(sim.as_ref(), &p).await,
        &ctx,
    );
    let r = execute::execute_plan(sim, p, &mut journal, &plan, failback::opts("reprotect"))
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    let added = r
        .steps
        .iter()
        .find(|s| s.id == "add-cache-secondary")
        .unwrap();
    assert_eq!(added.status, StepStatus::Done, "{added:?}");
    assert_eq!(redis_role(&home.url()).await, "slave");
    assert!(failback::key_reaches(&redis.replica_url(), &home.url()).await);
}
