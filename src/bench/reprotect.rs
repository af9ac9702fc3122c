//! `drctl bench reprotect`: the modeled time of a reprotect and of the
//! failback after it on the simulated cloud. For each seed a fresh world is
//! failed over, its old primary fenced and renamed on return, reprotected
//! (the new replica of the database in the old primary's region, the
//! cache's secondary, the reverse MSK Replicator, each until it
//! replicates), then failed back (as `drill --cycle` does). The figures are
//! each execution's modeled duration (from its start to its last step's
//! end), the reprotect's critical path, and the failback's modeled write
//! pause (quiesce to lift).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::sim::{SimCloud, SimOptions};
use crate::duration;
use crate::execute::cycle::{run_cycle, CyclePhase};
use crate::execute::{self, ExecutionRecord, ExecutionStatus, MemoryJournal, RunOptions};
use crate::policy::Policy;
use crate::report::critical_path;

/// One seed's reprotect and failback.
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
    /// How the failback that followed ended.
    pub failback_status: String,
    /// The failback's modeled duration, in ms (with its reprotect half).
    pub failback_ms: u64,
    /// The failback's modeled write pause: from the end of the quiesce to
    /// the end of the lift on the new primary's side, in ms.
    pub failback_pause_ms: u64,
}

fn options(seed: u64) -> impl Fn(CyclePhase) -> RunOptions {
    move |phase| RunOptions {
        execution_id: Some(format!("bench-{}-{seed}", phase.name())),
        operator: "bench".into(),
        ..RunOptions::default()
    }
}

/// The modeled duration of an execution: its last step's end.
fn modeled(r: &ExecutionRecord) -> u64 {
    r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap_or(0)
}

/// When step `id` of `r` ended.
fn ended(r: &ExecutionRecord, id: &str) -> Option<u64> {
    r.steps.iter().find(|s| s.id == id)?.ended_ms
}

/// Fails a fresh world over, fences its old primary, reprotects it, then
/// fails back (as `drill --cycle` does). Call on a runtime with a paused
/// clock.
///
/// # Errors
///
/// When the failover or the reprotect does not complete (what follows then
/// has nothing to start from), or a journal error.
pub async fn run_seed(policy: &Arc<Policy>, seed: u64) -> Result<ReprotectRun, String> {
    let sim = SimOptions {
        seed,
        ..SimOptions::default()
    };
    let sim = Arc::new(SimCloud::new(policy, sim)?);
    let mut journal = MemoryJournal::default();
    let phases = run_cycle(
        sim,
        policy,
        &mut journal,
        CyclePhase::Failback,
        options(seed),
        |_| {},
    )
    .await
    .map_err(|e| e.to_string())?;
    let of = |phase| phases.iter().find(|p| p.phase == phase);
    for phase in [CyclePhase::Failover, CyclePhase::Reprotect] {
        match of(phase) {
            Some(p) if p.execution.status == ExecutionStatus::Completed => {}
            Some(p) => {
                return Err(format!(
                    "seed {seed}: the {} ended {}",
                    phase.name(),
                    p.execution.status.label()
                ))
            }
            None => return Err(format!("seed {seed}: no {}", phase.name())),
        }
    }
    let r = &of(CyclePhase::Reprotect).expect("checked above").execution;
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
    let back = of(CyclePhase::Failback).map(|p| &p.execution);
    let pause = back.and_then(|b| {
        let lifted = ended(b, "lift-quiesce").or_else(|| ended(b, "undo-quiesce"))?;
        Some(lifted.saturating_sub(ended(b, "quiesce-writers")?))
    });
    Ok(ReprotectRun {
        seed,
        status: r.status.label().to_string(),
        modeled_ms: modeled(r),
        critical_path: critical_path(&r.steps),
        slowest_step,
        failback_status: back.map_or("not run", |b| b.status.label()).to_string(),
        failback_ms: back.map_or(0, modeled),
        failback_pause_ms: pause.unwrap_or(0),
    })
}

/// One figure of a run, in ms.
type Figure = fn(&ReprotectRun) -> u64;

/// The runs as a table for people: each seed, then min, median, p95 (nearest
/// rank) and max, and the first seed's critical path.
pub fn table(policy: &str, runs: &[ReprotectRun]) -> String {
    let f = |ms: u64| duration::fmt(Duration::from_millis(ms));
    let mut out = format!(
        "reprotect of {policy} after a failover, then the failback, simulated cloud with the default latency model, {} seed(s)\n\n{:>6} {:>11} {:>12} {:>11} {:>12} {:>10}  {}\n",
        runs.len(),
        "seed",
        "reprotect",
        "modeled",
        "failback",
        "modeled",
        "pause",
        "reprotect's longest step (its duration)"
    );
    for r in runs {
        out += &format!(
            "{:>6} {:>11} {:>12} {:>11} {:>12} {:>10}  {} ({})\n",
            r.seed,
            r.status,
            f(r.modeled_ms),
            r.failback_status,
            f(r.failback_ms),
            f(r.failback_pause_ms),
            r.slowest_step.0,
            f(r.slowest_step.1)
        );
    }
    out.push('\n');
    let figures: [(&str, Figure); 3] = [
        ("modeled reprotect", |r| r.modeled_ms),
        ("modeled failback", |r| r.failback_ms),
        ("failback write pause", |r| r.failback_pause_ms),
    ];
    for (name, of) in figures {
        let mut v: Vec<u64> = runs.iter().map(of).collect();
        v.sort_unstable();
        if let (Some(min), Some(max)) = (v.first(), v.last()) {
            out += &format!(
                "{name:<22} min {:>9}  median {:>9}  p95 {:>9}  max {:>9}\n",
                f(*min),
                f(nearest_rank(&v, 50)),
                f(nearest_rank(&v, 95)),
                f(*max)
            );
        }
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
        // The failback that follows completes with zero data loss; its
        // writers pause for the drain, the promotion and the cache.
        assert_eq!(r.failback_status, "completed", "{r:?}");
        assert!(r.failback_ms > r.failback_pause_ms, "{r:?}");
        assert!(r.failback_pause_ms > 60_000, "{r:?}");
        assert!(
            r.failback_pause_ms <= policy.failback.max_write_pause.as_millis() as u64,
            "{r:?}"
        );
        let r_pause = r.failback_pause_ms;
        let f_ms = |ms: u64| duration::fmt(Duration::from_millis(ms));
        let text = table(&policy.name, &[r]);
        assert!(text.contains("modeled reprotect"), "{text}");
        assert!(text.contains("failback write pause"), "{text}");
        // Each seed's row shows the failback beside its reprotect.
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("3 "))
            .expect("the seed's row");
        assert_eq!(row.matches("completed").count(), 2, "{row}");
        assert!(row.contains(&f_ms(r_pause)), "{row}");
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
