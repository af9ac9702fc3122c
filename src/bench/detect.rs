//! `drctl bench detect`: how soon the detector confirms a dead primary and
//! starts the failover, and whether it ever fails over when it should not.
//!
//! On real processes (the local cluster of `bench cluster`: deploy/local's
//! files on free ports, probes every 1 s, 500 ms timeout, 3 failures):
//!
//! - outage runs: a fresh cluster each; once every node's verdict is
//!   healthy, at a random phase of the probe interval, the primary is set
//!   down through the simulated cloud's server, and every node's
//!   `/v1/status` is polled every 20 ms;
//! - false-failover scenarios, a fresh cluster each, watched `--watch`
//!   long: every site cut off from the primary in turn (a third of the
//!   window each), and a flapping primary (down 1.5 s, up 1 s, repeated).
//!
//! In process, on a paused clock (see `detect_virtual.rs`): the
//! shipped policy's settings and the local cluster's, over many seeds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::time::Instant;

use super::cluster::{cluster_configs, node_apis};
use super::detect_virtual::{self as virt, stats, VirtualSetting, SITES};
use crate::api::client::Controllers;
use crate::api::views::StatusView;
use crate::cli::local::{start_all, stop_all, LocalClusterArgs};
use crate::clock::now_ms;
use crate::cloud::sim::remote::RemoteSim;
use crate::cloud::sim::Outage;
use crate::controller::NodeConfig;
use crate::detect::Health;
use crate::execute::ExecutionStatus;
use crate::policy;

/// How often the nodes' status is read during an outage run.
const POLL: Duration = Duration::from_millis(20);

/// What `drctl bench detect` measures, and how long.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Primary outages on real processes (a fresh cluster each); 0 skips them.
    pub runs: u32,
    /// How long each false-failover scenario is watched; 0s skips them.
    pub watch: Duration,
    /// Seeded runs per setting on the paused clock.
    pub seeds: u64,
    /// The shipped policy, measured on the paused clock.
    pub policy: PathBuf,
    /// Latency scale of the simulated cloud (the failover takes about 9 s at 0.02).
    pub scale: f64,
}

/// One primary outage on real processes; times from the fault, in ms.
#[derive(Debug, Clone, Serialize)]
pub struct OutageRun {
    /// When in the probe interval the fault came (ms after the cluster
    /// was seen healthy).
    pub phase_ms: u64,
    /// Fault → the verdict's `confirmed_at_ms` (start of the round that
    /// completed the majority).
    pub confirmed_ms: u64,
    /// Fault → a node first answered `down` to the poll.
    pub seen_down_ms: u64,
    /// Fault → the detector's execution started (its `started_at`).
    pub failover_started_ms: u64,
    /// Fault → that execution seen completed.
    pub completed_ms: u64,
}

/// One false-failover scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// What was done.
    pub name: String,
    /// How long it was watched, in seconds.
    pub watch_s: u64,
    /// Executions the detector started (target 0).
    pub executions: usize,
    /// The worst health any node reported.
    pub worst: String,
    /// The most sites seeing the primary down at once.
    pub max_sites_down: usize,
    /// The longest run of failed rounds of one site.
    pub max_in_a_row: u64,
    /// Status polls answered.
    pub polls: u64,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
pub struct DetectBench {
    /// Outages on real processes.
    pub outages: Vec<OutageRun>,
    /// False-failover scenarios on real processes.
    pub scenarios: Vec<Scenario>,
    /// Paused-clock measurements, in process.
    pub paused_clock: Vec<VirtualSetting>,
}

/// The paused-clock settings: the options' policy, then deploy/local's,
/// each over `seeds` seeded runs.
///
/// # Errors
///
/// A policy is missing or invalid, or a run failed.
pub fn paused_clock(args: &DetectOptions) -> Result<Vec<VirtualSetting>, String> {
    let local = Path::new("deploy/local/emr-platform.yaml");
    [args.policy.as_path(), local]
        .into_iter()
        .map(|path| {
            policy::load(path)
                .map_err(|e| format!("invalid policy {e}"))
                .and_then(|p| virt::measure(&p, args.seeds))
        })
        .collect()
}

/// Runs the outages, then the false-failover scenarios, on real processes.
///
/// # Errors
///
/// A cluster did not start, or a run did not end as expected.
pub async fn measure(args: &DetectOptions) -> Result<(Vec<OutageRun>, Vec<Scenario>), String> {
    let dir = std::env::temp_dir().join(format!("drctl-bench-detect-{}", std::process::id()));
    let (configs, sim) = cluster_configs(&dir)?;
    let local = LocalClusterArgs {
        configs: Vec::new(),
        scale: args.scale,
        keep_data: false,
    };
    let mut outages = Vec::new();
    for i in 0..args.runs {
        let mut procs = start_all(&local, &configs, &sim).await?;
        let r = outage_run(&configs, &sim).await;
        stop_all(&mut procs).await;
        let r = r?;
        eprintln!(
            "outage {}/{}: confirmed {} ms, failover started {} ms after the fault",
            i + 1,
            args.runs,
            r.confirmed_ms,
            r.failover_started_ms
        );
        outages.push(r);
    }
    let mut scenarios = Vec::new();
    if !args.watch.is_zero() {
        for flapping in [false, true] {
            let mut procs = start_all(&local, &configs, &sim).await?;
            let s = scenario(&configs, &sim, args.watch, flapping).await;
            stop_all(&mut procs).await;
            let s = s?;
            eprintln!(
                "{}: {} execution(s), worst {}",
                s.name, s.executions, s.worst
            );
            scenarios.push(s);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((outages, scenarios))
}

/// Each node's API, asked alone.
pub(super) fn apis(configs: &[NodeConfig]) -> Vec<Controllers> {
    let urls: Vec<String> = configs.iter().map(|c| c.me().addr.clone()).collect();
    node_apis(&urls)
}

/// Every node's `/v1/status` (the ones that answered).
pub(super) async fn statuses(nodes: &[Controllers]) -> Vec<StatusView> {
    let reads = nodes
        .iter()
        .map(|api| async move { api.status().await.ok().map(|(_, s)| s) });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Waits (at most 30 s) until every node's verdict is healthy.
pub(super) async fn wait_healthy(nodes: &[Controllers]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = statuses(nodes).await;
        let healthy = all
            .iter()
            .filter(|s| {
                let first = s.policies.first();
                first.is_some_and(|p| p.verdict.health == Health::Healthy)
            })
            .count();
        if healthy == nodes.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the cluster never saw the primary healthy within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn probe_interval(configs: &[NodeConfig]) -> Duration {
    configs[0]
        .policies
        .values()
        .next()
        .map_or(Duration::from_secs(1), |p| p.detection.probe_interval)
}

async fn outage_run(configs: &[NodeConfig], sim: &str) -> Result<OutageRun, String> {
    let nodes = apis(configs);
    wait_healthy(&nodes).await?;
    let every = probe_interval(configs).as_millis() as u64;
    let phase_ms = rand::rng().random_range(0..every);
    tokio::time::sleep(Duration::from_millis(phase_ms)).await;
    let down = Outage {
        primary_down: true,
        ..Outage::default()
    };
    let t0 = now_ms();
    RemoteSim::new(sim).set_outage(&down).await?;
    let mut confirmed: Option<u64> = None;
    let (mut seen_down, mut started) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let now = now_ms();
        for s in statuses(&nodes).await {
            let Some(p) = s.policies.first() else {
                continue;
            };
            if let Some(c) = p.verdict.confirmed_at_ms {
                confirmed = Some(confirmed.map_or(c, |old| old.min(c)));
            }
            if p.verdict.health == Health::Down {
                seen_down.get_or_insert(now);
            }
            let Some(e) = p
                .execution
                .as_ref()
                .filter(|e| e.requested_by == "detector")
            else {
                continue;
            };
            if started.is_none() {
                started = humantime::parse_rfc3339(&e.started_at)
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as u64);
            }
            match e.status {
                ExecutionStatus::Completed => {
                    let since = |t: Option<u64>| t.map_or(0, |t| t.saturating_sub(t0));
                    return Ok(OutageRun {
                        phase_ms,
                        confirmed_ms: since(confirmed),
                        seen_down_ms: since(seen_down),
                        failover_started_ms: since(started),
                        completed_ms: now_ms() - t0,
                    });
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
        if Instant::now() > deadline {
            return Err(format!(
                "no completed failover 90 s after the fault (confirmed: {confirmed:?}, started: {started:?})"
            ));
        }
    }
}

/// Drives the outages of a scenario through the simulated cloud's server.
async fn drive(sim: RemoteSim, watch: Duration, flapping: bool) -> Result<(), String> {
    let start = Instant::now();
    if flapping {
        let (down, up) = (Duration::from_millis(1500), Duration::from_millis(1000));
        let mut at = start;
        while at + down <= start + watch {
            let primary_down = |on| Outage {
                primary_down: on,
                ..Outage::default()
            };
            sim.set_outage(&primary_down(true)).await?;
            at += down;
            tokio::time::sleep_until(at).await;
            sim.set_outage(&primary_down(false)).await?;
            at += up;
            tokio::time::sleep_until(at).await;
        }
    } else {
        let slice = watch / SITES.len() as u32;
        for (i, site) in SITES.iter().enumerate() {
            let cut = Outage {
                cut_off: [site.to_string()].into(),
                ..Outage::default()
            };
            sim.set_outage(&cut).await?;
            tokio::time::sleep_until(start + slice * (i as u32 + 1)).await;
        }
    }
    sim.set_outage(&Outage::default()).await?;
    Ok(())
}

/// The health as the API spells it.
fn label(health: Health) -> &'static str {
    match health {
        Health::Unknown => "unknown",
        Health::Healthy => "healthy",
        Health::Suspect => "suspect",
        Health::Down => "down",
    }
}

fn rank(health: &str) -> u8 {
    match health {
        "healthy" => 0,
        "unknown" => 1,
        "suspect" => 2,
        "down" => 3,
        _ => 4,
    }
}

async fn scenario(
    configs: &[NodeConfig],
    sim: &str,
    watch: Duration,
    flapping: bool,
) -> Result<Scenario, String> {
    let nodes = apis(configs);
    wait_healthy(&nodes).await?;
    let driver = tokio::spawn(drive(RemoteSim::new(sim), watch, flapping));
    // Watch a few intervals past the window, for a late confirmation.
    let end = Instant::now() + watch + probe_interval(configs) * 5;
    let mut worst = "healthy".to_string();
    let (mut max_sites_down, mut max_in_a_row, mut polls) = (0, 0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while Instant::now() < end {
        tick.tick().await;
        for s in statuses(&nodes).await {
            polls += 1;
            let verdict = s.policies.first().map(|p| &p.verdict);
            let health = verdict.map_or("?", |v| label(v.health));
            if rank(health) > rank(&worst) {
                worst = health.to_string();
            }
            let sites = verdict.map(|v| v.sites.as_slice()).unwrap_or_default();
            let down = sites.iter().filter(|x| x.down).count();
            max_sites_down = max_sites_down.max(down);
            for x in sites {
                max_in_a_row = max_in_a_row.max(u64::from(x.consecutive_failures));
            }
        }
    }
    driver.await.map_err(|e| e.to_string())??;
    let mut executions = 0;
    for u in &nodes {
        if let Ok((_, list)) = u.executions(None).await {
            executions = executions.max(list.executions.len());
        }
    }
    let name = if flapping {
        "flapping: primary down 1.5s, up 1s, repeated".to_string()
    } else {
        format!(
            "each site cut off in turn, {}s each",
            (watch / SITES.len() as u32).as_secs()
        )
    };
    Ok(Scenario {
        name,
        watch_s: watch.as_secs(),
        executions,
        worst,
        max_sites_down,
        max_in_a_row,
        polls,
    })
}

/// Picks one figure of a run.
type Pick<T> = fn(&T) -> u64;

/// The figures as a table for people.
pub fn table(b: &DetectBench) -> String {
    let mut out = String::new();
    if !b.outages.is_empty() {
        out += &format!(
            "primary down, real processes (3 nodes + simulated cloud on 127.0.0.1; probes every 1s, timeout 500ms, 3 failures), {} run(s); ms after the fault\n\n{:>4} {:>7} {:>11} {:>11} {:>17} {:>11}\n",
            b.outages.len(), "run", "phase", "→ confirmed", "→ seen down", "→ failover start", "→ completed"
        );
        for (i, r) in b.outages.iter().enumerate() {
            out += &format!(
                "{:>4} {:>7} {:>11} {:>11} {:>17} {:>11}\n",
                i + 1,
                r.phase_ms,
                r.confirmed_ms,
                r.seen_down_ms,
                r.failover_started_ms,
                r.completed_ms
            );
        }
        out += "\n";
        let figures: [(&str, Pick<OutageRun>); 4] = [
            ("fault → confirmed", |r| r.confirmed_ms),
            ("fault → seen down", |r| r.seen_down_ms),
            ("fault → failover started", |r| r.failover_started_ms),
            ("fault → completed", |r| r.completed_ms),
        ];
        for (name, pick) in figures {
            if let Some((min, mean, max)) = stats(b.outages.iter().map(pick)) {
                out += &format!("{name:<25} min {min:>6} ms  mean {mean:>6} ms  max {max:>6} ms\n");
            }
        }
        out += "(target: confirmed ≤ 10000 ms)\n\n";
    }
    if !b.scenarios.is_empty() {
        out += &format!(
            "false failovers (a fresh cluster each)\n\n{:<46} {:>6} {:>11} {:>9} {:>11} {:>11}\n",
            "scenario", "watch", "executions", "worst", "sites down", "in a row"
        );
        for s in &b.scenarios {
            out += &format!(
                "{:<46} {:>5}s {:>11} {:>9} {:>11} {:>11}\n",
                s.name, s.watch_s, s.executions, s.worst, s.max_sites_down, s.max_in_a_row
            );
        }
        out += "(target: 0 executions; sites down and in a row: the most seen at once)\n\n";
    }
    for s in &b.paused_clock {
        out += &format!(
            "paused clock, in process: {} (every {} ms, timeout {} ms, {} failures), {} seed(s)\n",
            s.source,
            s.interval_ms,
            s.timeout_ms,
            s.consecutive_failures,
            s.runs.len()
        );
        let figures: [(&str, Pick<virt::VirtualRun>); 2] = [
            ("fault → confirmed", |r| r.confirmed_ms),
            ("fault → known down", |r| r.known_ms),
        ];
        for (name, pick) in figures {
            if let Some((min, mean, max)) = stats(s.runs.iter().map(pick)) {
                out +=
                    &format!("  {name:<20} min {min:>7} ms  mean {mean:>7} ms  max {max:>7} ms\n");
            }
        }
        out += "\n";
    }
    out
}
