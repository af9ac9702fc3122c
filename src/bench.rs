//! The RTO benchmark on the simulated cloud.
//!
//! For each seed, the same world runs twice: once as the DAG and once one
//! step after another (the platform's manual, sequential procedure). For the
//! DAG run, the modeled RTO is split into the cloud's own time along the
//! critical path and the controller's overhead: the time the controller adds
//! by polling (noticing a change some time after the cloud finished it),
//! scheduling and its final checks.

use std::sync::Arc;

use serde::Serialize;
use tokio::time::Instant;

use crate::cloud::sim::{SimCloud, SimOptions, Transition};
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
