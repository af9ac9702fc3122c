//! The failback on the real servers, as the product runs it: the plan
//! `execute::cycle::plan_way_home` builds for the failback phase from what
//! the platform shows, in the roles the reprotect left, run by
//! `execute::execute_plan` on the simulated cloud whose writer fences act
//! on the real servers (`quiesce-writers` revokes the application's LOGIN
//! on the active primary) and whose drain reads the real replication
//! positions. The application follows the writer: it moves to the new
//! primary as soon as `lift-quiesce` gives it its writes back there.

use std::sync::Arc;
use std::time::Duration;

use drctl::execute::cycle::{self, CyclePhase};
use drctl::execute::{self, Event, ExecutionRecord, MemoryJournal, RunOptions};
use drctl::model::{DataTier, Exposure};
use tokio::sync::mpsc;

use super::{app, opts, policy, Home, Reprotected};
use crate::real_support::{missing_postgres, Acked, Missing, RealExposures};

/// How long each failback step took, on the wall clock, as its execution
/// record has it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimes {
    /// `quiesce-writers`.
    pub quiesce: Duration,
    /// `drain`.
    pub drain: Duration,
    /// `promote-database`, until the cloud reports the replica promoted.
    pub promote: Duration,
    /// `lift-quiesce`.
    pub lift: Duration,
    /// The whole execution, the reprotect the other way included.
    pub total: Duration,
}

/// What the failback measured.
#[derive(Debug)]
pub struct FailedBack {
    /// Writes acknowledged by the old primary (us-west-2) before the quiesce.
    pub before_quiesce: Vec<Acked>,
    /// What of them the new primary lacks.
    pub missing: Missing,
    /// Last acknowledgement by the old primary → first by the new one.
    pub pause: Duration,
    /// The policy's `failback.max_write_pause`.
    pub max_write_pause: Duration,
    /// Writes the new primary acknowledged.
    pub acked_after: usize,
    /// Each step's wall time.
    pub steps: StepTimes,
    /// us-east-1's Redis server is the primary, us-west-2's replicates from it.
    pub cache_roles_swapped: bool,
    /// The failback's execution record.
    pub record: ExecutionRecord,
}

/// The wall time step `id` of `record` took.
fn took(record: &ExecutionRecord, id: &str) -> Duration {
    let s = record.steps.iter().find(|s| s.id == id);
    let ms = s.and_then(|s| Some(s.ended_ms?.saturating_sub(s.started_ms?)));
    Duration::from_millis(ms.unwrap_or(0))
}

/// The failback under the write load, planned and run by the executor;
/// the load moves to the new primary (as its DNS name would) when the
/// quiesce is lifted there, and stops once the execution ended.
pub async fn fail_back(home: &mut Home, reprotected: &Reprotected) -> FailedBack {
    // The policy as written, its us-east-1 fencing connection naming the
    // server that now holds the database's name there (the standby the
    // reprotect made): an RDS endpoint follows its instance's name.
    let written = policy(&reprotected.standby, &home.pg.standby_conninfo());
    // A steady load first.
    home.acked_at_least(1, home.acked(1).len() + 50).await;
    // The stream tier is only simulated: its replicas have caught up.
    home.sim
        .set_lag(DataTier::Stream, Exposure::Known(Duration::ZERO));
    let exposures = RealExposures {
        postgres: (home.pg.standby_conninfo(), reprotected.standby.clone()),
        redis: Some((home.redis.replica_url(), home.redis_home.url())),
        sim: home.sim.clone(),
    };
    let (events, mut seen) = mpsc::unbounded_channel();
    let mut run = RunOptions {
        exposures: Some(Arc::new(exposures)),
        events: Some(events),
        ..opts("failback")
    };
    let real = home.real.clone();
    let (fb, plan) = cycle::plan_way_home(
        real.as_ref(),
        &written,
        &reprotected.roles,
        CyclePhase::Failback,
        &mut run,
    )
    .await;
    assert!(
        plan.preflight_problems.is_empty(),
        "{:?}",
        plan.preflight_problems
    );
    let mut journal = MemoryJournal::default();
    let target = &home.target;
    let new_primary = app(&reprotected.standby);
    let follow = async {
        while let Some(e) = seen.recv().await {
            if let Event::StepFinished { id, status, .. } = e {
                if id == "lift-quiesce" && status.succeeded() {
                    target.send_replace(new_primary.clone());
                }
            }
        }
    };
    let execution = execute::execute_plan(real, fb.clone(), &mut journal, &plan, run);
    let (record, ()) = tokio::join!(execution, follow);
    let record = record.unwrap();
    if *home.target.borrow() == new_primary {
        home.acked_at_least(2, 10).await;
    }

    let acked = home.load.take().unwrap().stop().await;
    let before: Vec<Acked> = acked.iter().filter(|a| a.target == 1).copied().collect();
    let after: Vec<&Acked> = acked.iter().filter(|a| a.target == 2).collect();
    let last = before.iter().map(|a| a.acked_ms).max().unwrap();
    let first = after.iter().map(|a| a.acked_ms).min().unwrap_or(last);
    let missing = missing_postgres(&reprotected.standby, &before).await;
    let west = home.redis.replica_info();
    let east = home.redis_home.info_replication();
    let east_port = home
        .redis_home
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    FailedBack {
        missing,
        pause: Duration::from_millis(first.saturating_sub(last)),
        max_write_pause: fb.failback.max_write_pause,
        acked_after: after.len(),
        steps: StepTimes {
            quiesce: took(&record, "quiesce-writers"),
            drain: took(&record, "drain"),
            promote: took(&record, "promote-database"),
            lift: took(&record, "lift-quiesce"),
            total: Duration::from_millis(record.last_ms()),
        },
        cache_roles_swapped: east.contains("role:master")
            && west.contains("role:slave")
            && west.contains(&format!("master_port:{east_port}")),
        before_quiesce: before,
        record,
    }
}
