//! `drctl bench e2e`: from the primary stopped to traffic answering with
//! the DR target, end to end on the local cluster as a user runs it, phase
//! by phase, beside the modeled RTO of the same policy.
//!
//! Each run starts a fresh local cluster (deploy/local's files on free
//! ports: three controller processes and the shared simulated cloud),
//! waits until every node sees the primary healthy, stops the primary at a
//! random phase of the probe interval, then polls every 20 ms: every node's
//! `/v1/status` (the verdict's confirmation, the detector's execution), the
//! simulated DNS (does the switched record answer with the DR target?) and,
//! once the execution completed, its journal (each step's end). The modeled
//! figures run the same policy's plan on the simulated cloud with the same
//! latency scale on a paused clock, one seed per run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::time::Instant;

use super::cluster::cluster_configs;
use super::detect::{apis, statuses, wait_healthy};
use crate::cli::local::{start_all, stop_all, LocalClusterArgs};
use crate::clock::now_ms;
use crate::cloud::sim::remote::RemoteSim;
use crate::cloud::sim::{LatencyModel, Outage, SimCloud, SimOptions};
use crate::cloud::Resolver;
use crate::controller::NodeConfig;
use crate::execute::{self, ExecutionStatus, MemoryJournal, RunOptions};
use crate::policy::{DnsTier, Policy};

/// How often the cluster and the simulated DNS are read during a run.
const POLL: Duration = Duration::from_millis(20);

/// The longest one run may take from the fault to a completed failover.
const RUN_MAX: Duration = Duration::from_secs(120);

/// What `drctl bench e2e` measures.
#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// Primary outages, a fresh local cluster each.
    pub runs: u32,
    /// Latency scale of the simulated cloud (the failover takes about 9 s at 0.02).
    pub scale: f64,
}

/// A step's end, in milliseconds from the phase's origin.
#[derive(Debug, Clone, Serialize)]
pub struct StepEnd {
    /// The step id.
    pub id: String,
    /// When it ended.
    pub at_ms: u64,
}

/// One outage on real processes; times in ms after the primary stopped.
#[derive(Debug, Clone, Serialize)]
pub struct E2eRun {
    /// When in the probe interval the fault came.
    pub phase_ms: u64,
    /// The verdict's `confirmed_at_ms`.
    pub confirmed_ms: u64,
    /// The detector's execution started (its `started_at`): decided.
    pub decided_ms: u64,
    /// Each step's end, from the journal, in plan order.
    pub steps: Vec<StepEnd>,
    /// The switched record first answered with the DR target.
    pub dns_on_dr_ms: u64,
    /// The execution first seen completed.
    pub completed_ms: u64,
}

/// The same policy's plan on the paused clock; times from its start.
#[derive(Debug, Clone, Serialize)]
pub struct ModeledRun {
    /// The simulated cloud's seed.
    pub seed: u64,
    /// The last step's end: the modeled RTO.
    pub rto_ms: u64,
    /// Each step's end.
    pub steps: Vec<StepEnd>,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
pub struct E2eBench {
    /// The policy's name (deploy/local's).
    pub policy: String,
    /// The latency scale of both the cluster's simulated cloud and the model.
    pub scale: f64,
    /// Outages on real processes.
    pub runs: Vec<E2eRun>,
    /// The modeled executions.
    pub modeled: Vec<ModeledRun>,
}

/// The local cluster's policy (deploy/local's) and its plan modeled once
/// per run, seeds 1 to `runs`, at the options' latency scale.
///
/// # Errors
///
/// The policy is missing or invalid (the benchmark runs from the
/// repository root).
pub fn model_runs(args: &E2eOptions) -> Result<(String, Vec<ModeledRun>), String> {
    let local = Path::new("deploy/local/emr-platform.yaml");
    let policy = crate::policy::load(local)
        .map(Arc::new)
        .map_err(|e| format!("invalid policy {e} (run the benchmark from the repository root)"))?;
    let rt = super::modeled_runtime();
    let mut modeled = Vec::new();
    for seed in 1..=u64::from(args.runs) {
        modeled.push(rt.block_on(model(&policy, seed, args.scale)));
    }
    Ok((policy.name.clone(), modeled))
}

/// The policy's plan on the simulated cloud at `scale`, on the paused clock.
async fn model(policy: &Arc<Policy>, seed: u64, scale: f64) -> ModeledRun {
    let sim = SimCloud::new(
        policy,
        SimOptions {
            seed,
            latency: LatencyModel::default().scaled(scale),
            ..SimOptions::default()
        },
    )
    .expect("no faults to validate");
    let options = RunOptions {
        execution_id: Some(format!("bench-e2e-{seed}")),
        operator: "bench".into(),
        ..RunOptions::default()
    };
    let record = execute::execute(
        Arc::new(sim),
        policy.clone(),
        &mut MemoryJournal::default(),
        options,
    )
    .await
    .expect("an in-memory journal does not fail");
    let steps: Vec<StepEnd> = record
        .steps
        .iter()
        .filter_map(|s| {
            Some(StepEnd {
                id: s.id.clone(),
                at_ms: s.ended_ms?,
            })
        })
        .collect();
    ModeledRun {
        seed,
        rto_ms: steps.iter().map(|s| s.at_ms).max().unwrap_or(0),
        steps,
    }
}

/// Runs the outages on real processes, a fresh local cluster each.
///
/// # Errors
///
/// A cluster did not start, or a run did not end within its bound.
pub async fn measure(args: &E2eOptions) -> Result<Vec<E2eRun>, String> {
    let dir = std::env::temp_dir().join(format!("drctl-bench-e2e-{}", std::process::id()));
    let (configs, sim) = cluster_configs(&dir)?;
    let local = LocalClusterArgs {
        configs: Vec::new(),
        scale: args.scale,
        keep_data: false,
    };
    let mut runs = Vec::new();
    for i in 0..args.runs {
        let mut procs = start_all(&local, &configs, &sim).await?;
        let r = outage_run(&configs, &sim).await;
        stop_all(&mut procs).await;
        let r = r?;
        eprintln!(
            "run {}/{}: confirmed {} ms, decided {} ms, DR target answering {} ms after the primary stopped",
            i + 1,
            args.runs,
            r.confirmed_ms,
            r.decided_ms,
            r.dns_on_dr_ms
        );
        runs.push(r);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(runs)
}

/// Whether the switched record answers with the DR target now.
async fn answers_dr(sim: &RemoteSim, dns: &DnsTier) -> bool {
    let target = &dns.secondary.dns_name;
    let (have, want) = tokio::join!(sim.resolve(&dns.record), sim.resolve(target));
    matches!((have, want), (Ok(have), Ok(want)) if have.points_at(target, &want))
}

/// The execution's start, Unix ms, from its RFC 3339 `started_at`.
fn unix_ms(rfc3339: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339(rfc3339).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

async fn outage_run(configs: &[NodeConfig], sim_url: &str) -> Result<E2eRun, String> {
    let nodes = apis(configs);
    let policy = configs[0].policies.values().next().expect("a policy");
    let dns = policy
        .tiers
        .dns
        .as_ref()
        .ok_or("the local policy has no dns tier")?;
    let sim = RemoteSim::new(sim_url);
    wait_healthy(&nodes).await?;
    if answers_dr(&sim, dns).await {
        return Err(format!(
            "{} answers with the DR target before the fault",
            dns.record
        ));
    }
    let every = policy.detection.probe_interval.as_millis() as u64;
    let phase_ms = rand::rng().random_range(0..every.max(1));
    tokio::time::sleep(Duration::from_millis(phase_ms)).await;
    let t0 = now_ms();
    let down = Outage {
        primary_down: true,
        ..Outage::default()
    };
    sim.set_outage(&down).await?;
    let (mut confirmed, mut decided, mut dns_on_dr) = (None::<u64>, None, None);
    let mut completed: Option<(String, u64)> = None;
    let deadline = Instant::now() + RUN_MAX;
    let mut tick = tokio::time::interval(POLL);
    let since = |t: u64| t.saturating_sub(t0);
    loop {
        tick.tick().await;
        let now = now_ms();
        if dns_on_dr.is_none() && answers_dr(&sim, dns).await {
            dns_on_dr = Some(now);
        }
        for s in statuses(&nodes).await {
            let Some(p) = s.policies.first() else {
                continue;
            };
            if let Some(c) = p.verdict.confirmed_at_ms {
                confirmed = Some(confirmed.map_or(c, |old| old.min(c)));
            }
            let Some(e) = p
                .execution
                .as_ref()
                .filter(|e| e.requested_by == "detector")
            else {
                continue;
            };
            decided = decided.or_else(|| unix_ms(&e.started_at));
            match e.status {
                ExecutionStatus::Completed => {
                    completed.get_or_insert((e.id.clone(), now));
                }
                ExecutionStatus::Running => {}
                other => {
                    return Err(format!(
                        "the detector's failover ended {}: {}",
                        other.label(),
                        serde_json::json!(e.summary)
                    ))
                }
            }
        }
        if let (Some((id, done)), Some(dns_at), Some(decided)) = (&completed, dns_on_dr, decided) {
            let mut view = None;
            for api in &nodes {
                if let Ok((_, v)) = api.execution(id).await {
                    view = Some(v);
                    break;
                }
            }
            let view = view.ok_or_else(|| format!("no node answers {id}'s journal"))?;
            let steps = view
                .steps
                .iter()
                .filter_map(|s| {
                    Some(StepEnd {
                        id: s.id.clone(),
                        at_ms: since(decided + s.ended_ms?),
                    })
                })
                .collect();
            return Ok(E2eRun {
                phase_ms,
                confirmed_ms: confirmed.map_or(0, since),
                decided_ms: since(decided),
                steps,
                dns_on_dr_ms: since(dns_at),
                completed_ms: since(*done),
            });
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no completed failover with {} answering the DR target {} s after the fault (confirmed: {confirmed:?}, decided: {decided:?}, DNS on DR: {dns_on_dr:?})",
                dns.record,
                RUN_MAX.as_secs()
            ));
        }
    }
}
