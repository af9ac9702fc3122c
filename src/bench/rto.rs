//! `drctl bench`: the RTO benchmark on the simulated cloud.
//!
//! For each seed, the same world runs twice: once as the DAG and once one
//! step after another (the platform's manual, sequential procedure). For the
//! DAG run, the modeled RTO is split into the cloud's own time along the
//! critical path and the controller's overhead: the time the controller adds
//! by polling (noticing a change some time after the cloud finished it),
//! scheduling and its final checks.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::cloud::sim::{SimCloud, SimOptions, Transition};
use crate::duration;
use crate::execute::{self, ExecutionRecord, JournalError, MemoryJournal, RunOptions};
use crate::policy::Policy;
use crate::report::critical_path;

/// One seed's figures, in milliseconds of modeled time.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRun {
    /// The seed.
    pub seed: u64,
    /// Modeled RTO of the DAG.
    pub dag_rto_ms: u64,
    /// Modeled RTO of the same steps run one after another.
    pub sequential_rto_ms: u64,
    /// The cloud's own time along the DAG's critical path.
    pub critical_path_cloud_ms: u64,
    /// The DAG's RTO minus that: what the controller adds.
    pub overhead_ms: u64,
    /// The critical path.
    pub critical_path: Vec<String>,
    /// Wall-clock time the runs took on this machine, in microseconds.
    pub wall_us: u64,
    /// Calls of the DAG run to the primary region or Route 53's control plane.
    pub calls_to_primary: u32,
    /// With `--outage`: the DAG's outcome, modeled RTO and calls to the
    /// primary region under that outage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage: Option<OutageRun>,
}

/// The same seed's DAG under a regional outage.
#[derive(Debug, Clone, Serialize)]
pub struct OutageRun {
    /// The regions under outage.
    pub regions: Vec<String>,
    /// How the execution ended (`completed`, `preflight_failed`, ...).
    pub status: String,
    /// Modeled RTO (until the last step ended, whatever the outcome).
    pub rto_ms: u64,
    /// Calls to the primary region or Route 53's control plane.
    pub calls_to_primary: u32,
}

/// Runs both executions for one seed. Call on a runtime with a paused clock.
///
/// # Errors
///
/// Only journal errors, which an in-memory journal does not have.
pub async fn run_seed(
    policy: &Arc<Policy>,
    seed: u64,
    outage: &[String],
) -> Result<BenchRun, JournalError> {
    let wall = std::time::Instant::now();
    let (dag, transitions, t0, calls) = run_once(policy, seed, false, &[]).await?;
    let (seq, _, _, _) = run_once(policy, seed, true, &[]).await?;
    let rto = |r: &ExecutionRecord| r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap_or(0);
    let outage = if outage.is_empty() {
        None
    } else {
        let (r, _, _, calls) = run_once(policy, seed, false, outage).await?;
        Some(OutageRun {
            regions: outage.to_vec(),
            status: r.status.label().to_string(),
            rto_ms: rto(&r),
            calls_to_primary: calls,
        })
    };
    let path = critical_path(&dag.steps);
    let cloud = cloud_time(&dag, &path, &transitions, t0);
    let dag_rto_ms = rto(&dag);
    Ok(BenchRun {
        seed,
        dag_rto_ms,
        sequential_rto_ms: rto(&seq),
        critical_path_cloud_ms: cloud,
        overhead_ms: dag_rto_ms.saturating_sub(cloud),
        critical_path: path,
        wall_us: wall.elapsed().as_micros() as u64,
        calls_to_primary: calls,
        outage,
    })
}

async fn run_once(
    policy: &Arc<Policy>,
    seed: u64,
    sequential: bool,
    outage: &[String],
) -> Result<(ExecutionRecord, Vec<Transition>, Instant, u32), JournalError> {
    let sim = Arc::new(
        SimCloud::new(
            policy,
            SimOptions {
                seed,
                ..SimOptions::default()
            },
        )
        .expect("no faults to validate"),
    );
    sim.set_region_outage(outage.iter().cloned());
    let options = RunOptions {
        execution_id: Some(format!("bench-{seed}")),
        operator: "bench".into(),
        reason: None,
        sequential,
        ..RunOptions::default()
    };
    let t0 = Instant::now();
    let record = execute::execute(
        sim.clone(),
        policy.clone(),
        &mut MemoryJournal::default(),
        options,
    )
    .await?;
    let primary = &policy.regions.primary;
    let calls = sim
        .call_counts()
        .iter()
        .filter(|c| {
            crate::cloud::CallSite::new(&c.service, &c.region, c.plane)
                .depends_on(primary)
                .is_some()
        })
        .map(|c| c.count)
        .sum();
    Ok((record, sim.transitions(), t0, calls))
}

/// The cloud's time along the critical path. The observation before the
/// first step is all API calls, so it counts as cloud time. A step whose
/// resource went through a transition counts from its start until the cloud
/// completed the transition; time after that until the step noticed is
/// controller overhead. A step without a transition (the checks) is all
/// API calls and counts whole.
fn cloud_time(
    record: &ExecutionRecord,
    path: &[String],
    transitions: &[Transition],
    t0: Instant,
) -> u64 {
    let mut total = path
        .first()
        .and_then(|id| record.step(id))
        .and_then(|s| s.started_ms)
        .unwrap_or(0);
    for id in path {
        let Some(s) = record.step(id) else { continue };
        let (Some(start), Some(end)) = (s.started_ms, s.ended_ms) else {
            continue;
        };
        let completed = s.resource.as_ref().and_then(|r| {
            transitions
                .iter()
                .filter(|t| &t.resource == r)
                .filter_map(|t| t.completed)
                .map(|c| c.duration_since(t0).as_millis() as u64)
                .max()
        });
        total += match completed {
            Some(c) if c >= start => c.min(end) - start,
            _ => end - start,
        };
    }
    total
}

/// The runs as a table for people, with min, mean and max, the first
/// seed's critical path and, with `--outage`, the outage runs beside them.
pub fn table(policy: &str, runs: &[BenchRun]) -> String {
    let f = |ms: u64| duration::fmt(Duration::from_millis(ms));
    let mut out = format!(
        "policy {policy}, simulated cloud with the default latency model, {} seed(s)\n\n{:>6} {:>12} {:>15} {:>9} {:>20} {:>12} {:>10}\n",
        runs.len(),
        "seed",
        "DAG RTO",
        "sequential RTO",
        "speed-up",
        "crit. path (cloud)",
        "overhead",
        "wall"
    );
    for r in runs {
        out += &format!(
            "{:>6} {:>12} {:>15} {:>8.1}x {:>20} {:>12} {:>8}ms\n",
            r.seed,
            f(r.dag_rto_ms),
            f(r.sequential_rto_ms),
            r.sequential_rto_ms as f64 / r.dag_rto_ms.max(1) as f64,
            f(r.critical_path_cloud_ms),
            f(r.overhead_ms),
            r.wall_us / 1000
        );
    }
    let stat = |pick: fn(&BenchRun) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(pick).collect();
        v.sort_unstable();
        let mean = v.iter().sum::<u64>() / v.len().max(1) as u64;
        (v[0], mean, v[v.len() - 1])
    };
    out += "\n";
    for (name, pick) in [
        (
            "DAG RTO",
            (|r: &BenchRun| r.dag_rto_ms) as fn(&BenchRun) -> u64,
        ),
        ("sequential RTO", |r| r.sequential_rto_ms),
        ("critical path (cloud)", |r| r.critical_path_cloud_ms),
        ("controller overhead", |r| r.overhead_ms),
    ] {
        let (min, mean, max) = stat(pick);
        out += &format!(
            "{name:<22} min {:>9}  mean {:>9}  max {:>9}\n",
            f(min),
            f(mean),
            f(max)
        );
    }
    if let Some(r) = runs.first() {
        out += &format!(
            "\ncritical path (seed {}): {}\n",
            r.seed,
            r.critical_path.join(" → ")
        );
    }
    out += &outage_table(runs);
    out
}

/// The outage runs beside the normal ones, when `--outage` was given.
fn outage_table(runs: &[BenchRun]) -> String {
    let f = |ms: u64| duration::fmt(Duration::from_millis(ms));
    let with: Vec<(&BenchRun, &OutageRun)> = runs
        .iter()
        .filter_map(|r| r.outage.as_ref().map(|o| (r, o)))
        .collect();
    let Some((_, first)) = with.first() else {
        return String::new();
    };
    let mut out = format!(
        "\nwith {} down:\n{:>6} {:>12} {:>16} {:>12} {:>18} {:>16}\n",
        first.regions.join(" and "),
        "seed",
        "DAG RTO",
        "calls to primary",
        "outage RTO",
        "outage outcome",
        "calls to primary"
    );
    for (r, o) in &with {
        out += &format!(
            "{:>6} {:>12} {:>16} {:>12} {:>18} {:>16}\n",
            r.seed,
            f(r.dag_rto_ms),
            r.calls_to_primary,
            f(o.rto_ms),
            o.status,
            o.calls_to_primary
        );
    }
    let mean = |v: Vec<u64>| v.iter().sum::<u64>() / v.len().max(1) as u64;
    out += &format!(
        "mean: DAG RTO {}, under the outage {}; calls to the primary region or Route 53's control plane: {} normal, {} under the outage (all seeds)\n",
        f(mean(with.iter().map(|(r, _)| r.dag_rto_ms).collect())),
        f(mean(with.iter().map(|(_, o)| o.rto_ms).collect())),
        with.iter().map(|(r, _)| u64::from(r.calls_to_primary)).sum::<u64>(),
        with.iter().map(|(_, o)| u64::from(o.calls_to_primary)).sum::<u64>(),
    );
    out
}
