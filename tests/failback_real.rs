//! The way home on real PostgreSQL and Redis: the simulated cloud's data
//! tiers are backed by real servers, so its promotions really promote
//! (`pg_promote()`, `REPLICAOF NO ONE`), its reprotect really builds a new
//! standby from the new primary with `pg_basebackup` and makes a Redis
//! server a `REPLICAOF` it, and the failback's quiesce really revokes the
//! application's LOGIN on the active primary.
//!
//! The primary is killed under a write load and the platform fails over;
//! a reprotect builds the replicas in the old primary's region; then, under
//! a steady write load on the new primary, the failback's steps run one by
//! one (`quiesce-writers`, `drain`, `promote-database`, `failover-cache`,
//! `lift-quiesce`). Every row acknowledged before the quiesce must be on
//! the server promoted by the failback, and the application's write pause
//! must stay under `failback.max_write_pause`.
//!
//! The scenario itself is in `real_support::failback`, shared with the
//! benchmark (`cargo bench --bench failback_pause`).
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

mod real_support;

use std::time::Duration;

use real_support::failback::{self, Home};
use real_support::{missing_postgres, pg_connect};

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
    // The new primary's admin still reaches it (the fence is on the
    // application's roles only).
    pg_connect(&standby)
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}
