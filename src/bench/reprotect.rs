//! `drctl bench reprotect`: the modeled time of a reprotect on the
//! simulated cloud. For each seed a fresh world is failed over, its old
//! primary fenced and renamed on return (as `drill --cycle` does), and then
//! reprotected: the new replica of the database in the old primary's region,
//! the cache's secondary, the reverse MSK Replicator, each until it
//! replicates. The figure is the reprotect execution's modeled duration
//! (from its start to its last step's end), with its critical path.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::sim::{SimCloud, SimOptions};
use crate::duration;
use crate::execute::{self, ExecutionStatus, MemoryJournal, RunOptions};
use crate::model::{Epoch, Fence, Orientation, Protection};
use crate::plan::reprotect::{self, Context};
use crate::policy::Policy;
use crate::report::critical_path;

/// One seed's reprotect.
#[derive(Debug, Clone, Serialize)]
pub struct ReprotectRun {
    /// The seed.
    pub seed: u64,
    /// How the reprotect ended (`completed` on the shipped policies).
    pub status: String,
    /// Its modeled duration, in ms.
    pub modeled_ms: u64,
    /// Its critical path.
    pub critical_path: Vec<String>,
    /// The step that took longest and how long, in ms.
    pub slowest_step: (String, u64),
}

fn options(id: String) -> RunOptions {
    RunOptions {
        execution_id: Some(id),
        operator: "bench".into(),
        ..RunOptions::default()
    }
}

/// Fails a fresh world over, fences its old primary, then reprotects it.
/// Call on a runtime with a paused clock.
///
/// # Errors
///
/// When the failover does not complete (the reprotect then has nothing to
/// start from), or a journal error.
pub async fn run_seed(policy: &Arc<Policy>, seed: u64) -> Result<ReprotectRun, String> {
    let sim = SimOptions {
        seed,
        ..SimOptions::default()
    };
    let sim = Arc::new(SimCloud::new(policy, sim)?);
    let mut journal = MemoryJournal::default();
    let id = |phase: &str| format!("bench-{phase}-{seed}");
    let failover = execute::execute(
        sim.clone(),
        policy.clone(),
        &mut journal,
        options(id("failover")),
    )
    .await
    .map_err(|e| e.to_string())?;
    if failover.status != ExecutionStatus::Completed {
        return Err(format!(
            "seed {seed}: the failover ended {}",
            failover.status.label()
        ));
    }
    if let Some(mut state) = failover.fence_old_primary.clone() {
        let fence = Fence {
            execution_id: failover.id.clone(),
            epoch: Epoch::default(),
        };
        let now = execute::now_rfc3339();
        execute::fence_return::try_fence(sim.as_ref(), policy, &fence, &mut state, now).await;
    }
    let ctx = Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Unprotected,
        reprotects: 0,
    };
    let observed = execute::observe_reprotect(sim.as_ref(), policy).await;
    let plan = reprotect::build(policy, &observed, &ctx);
    let r = execute::execute_plan(
        sim,
        policy.clone(),
        &mut journal,
        &plan,
        options(id("reprotect")),
    )
    .await
    .map_err(|e| e.to_string())?;
    let took = |s: &execute::StepRecord| {
        s.ended_ms
            .unwrap_or(0)
            .saturating_sub(s.started_ms.unwrap_or(0))
    };
    let slowest_step = r
        .steps
        .iter()
        .max_by_key(|s| took(s))
        .map_or((String::new(), 0), |s| (s.id.clone(), took(s)));
    Ok(ReprotectRun {
        seed,
        status: r.status.label().to_string(),
        modeled_ms: r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap_or(0),
        critical_path: critical_path(&r.steps),
        slowest_step,
    })
}

/// The runs as a table for people: each seed, then min, median, p95 (nearest
/// rank) and max, and the first seed's critical path.
pub fn table(policy: &str, runs: &[ReprotectRun]) -> String {
    let f = |ms: u64| duration::fmt(Duration::from_millis(ms));
    let mut out = format!(
        "reprotect of {policy} after a failover, simulated cloud with the default latency model, {} seed(s)\n\n{:>6} {:>11} {:>12}  {}\n",
        runs.len(),
        "seed",
        "status",
        "modeled",
        "longest step (its duration)"
    );
    for r in runs {
        out += &format!(
            "{:>6} {:>11} {:>12}  {} ({})\n",
            r.seed,
            r.status,
            f(r.modeled_ms),
            r.slowest_step.0,
            f(r.slowest_step.1)
        );
    }
    let mut v: Vec<u64> = runs.iter().map(|r| r.modeled_ms).collect();
    v.sort_unstable();
    if let (Some(min), Some(max)) = (v.first(), v.last()) {
        out += &format!(
            "\nmodeled reprotect      min {:>9}  median {:>9}  p95 {:>9}  max {:>9}\n",
            f(*min),
            f(nearest_rank(&v, 50)),
            f(nearest_rank(&v, 95)),
            f(*max)
        );
    }
    if let Some(r) = runs.first() {
        out += &format!(
            "critical path (seed {}): {}\n",
            r.seed,
            r.critical_path.join(" → ")
        );
    }
    out
}

/// The `pct`th percentile of sorted `v` by nearest rank (0 when empty).
pub fn nearest_rank(v: &[u64], pct: u64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = (pct * v.len() as u64).div_ceil(100).max(1) as usize;
    v[rank.min(v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reprotect_of_the_shipped_policy_completes_in_modeled_minutes() {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        let policy = Arc::new(policy);
        let r = super::super::modeled_runtime()
            .block_on(run_seed(&policy, 3))
            .unwrap();
        assert_eq!(r.status, "completed", "{r:?}");
        // The replica's creation alone is modeled in minutes; the modeled
        // clock makes them free here.
        assert!(r.modeled_ms > 60_000, "{r:?}");
        assert!(
            r.critical_path.iter().any(|s| s == "wait-replication"),
            "{r:?}"
        );
        let text = table(&policy.name, &[r]);
        assert!(text.contains("modeled reprotect"), "{text}");
    }

    #[test]
    fn the_percentiles_are_taken_by_nearest_rank() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 50), 10);
        assert_eq!(nearest_rank(&v, 95), 19);
        assert_eq!(nearest_rank(&[7], 95), 7);
        assert_eq!(nearest_rank(&[], 50), 0);
    }
}
