//! `drctl bench`.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{modeled_runtime, Exit, Output, PolicyArg};
use crate::bench::{run_seed, BenchRun};
use crate::duration;

/// `drctl bench` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// Another benchmark instead of the RTO one.
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds to run (each is one DAG and one sequential execution).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub runs: u64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Also run each seed's DAG with this region down (repeatable), beside
    /// the normal run: modeled RTO and calls to the primary region.
    #[arg(long, value_name = "REGION")]
    pub outage: Vec<String>,
}

/// The other benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// The controller cluster on real processes: idle memory and CPU per
    /// node, and the time from killing the leader mid-failover to the next
    /// step on the new leader. Run from the repository root (it uses
    /// deploy/local's files), in release mode.
    Cluster(super::bench_cluster::BenchClusterArgs),
    /// Detection: fault → confirmed → failover started on real processes
    /// (1 s probes), false failovers (a site cut off, a flapping primary),
    /// and the shipped policy's settings on a paused clock. Run from the
    /// repository root, in release mode.
    Detect(super::bench_detect::BenchDetectArgs),
    /// End to end on the local cluster: the primary stopped → confirmed →
    /// decided → each step's end → the switched record answering with the
    /// DR target, per phase over the runs, beside the modeled RTO of the
    /// same policy. Run from the repository root, in release mode.
    E2e(super::bench_e2e::BenchE2eArgs),
    /// Probe cost: CPU per HTTP and TCP probe on one thread, and so the
    /// targets one core serves at a 1 s interval.
    Probes(super::bench_probes::BenchProbesArgs),
    /// Readiness: calls, modeled time, wall time and CPU time of one
    /// evaluation of `drctl check` on the simulated cloud.
    Readiness(super::bench_readiness::BenchReadinessArgs),
    /// The status page: p50/p99 latency of `GET /` of a running node at a
    /// fixed rate on loopback, open-loop (start `drctl local-cluster` first).
    Page(super::bench_page::BenchPageArgs),
}

pub(super) fn run(args: BenchArgs) -> Exit {
    match args.what {
        Some(BenchWhat::Cluster(c)) => return super::bench_cluster::run(c),
        Some(BenchWhat::Detect(d)) => return super::bench_detect::run(d),
        Some(BenchWhat::Probes(p)) => return super::bench_probes::run(p),
        Some(BenchWhat::E2e(e)) => return super::bench_e2e::run(e),
        Some(BenchWhat::Readiness(r)) => return super::bench_readiness::run(r),
        Some(BenchWhat::Page(p)) => return super::bench_page::run(p),
        None => {}
    }
    let policy = match args.policy.load() {
        Ok(p) => Arc::new(p),
        Err(e) => return e,
    };
    let rt = modeled_runtime();
    let mut runs = Vec::new();
    for seed in args.seed..args.seed + args.runs {
        match rt.block_on(run_seed(&policy, seed, &args.outage)) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Io;
            }
        }
    }
    print(args.output, &runs, |r| table(&policy.name, r));
    Exit::Ok
}

fn table(policy: &str, runs: &[BenchRun]) -> String {
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
    let with: Vec<(&BenchRun, &crate::bench::OutageRun)> = runs
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

/// Prints a benchmark's results: as JSON, or as `table` renders them.
pub(super) fn print<T: serde::Serialize>(
    output: Output,
    results: &T,
    table: impl FnOnce(&T) -> String,
) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(results).expect("results serialize")
        ),
        Output::Text => print!("{}", table(results)),
    }
}
