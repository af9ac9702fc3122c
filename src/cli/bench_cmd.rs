//! `drctl bench`: the flags of each benchmark; the harnesses themselves are
//! in [`crate::bench`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::controller_cmd::until_interrupted;
use super::{modeled_runtime, Exit, Output, PolicyArg};
use crate::bench::{self, run_seed};
use crate::policy::DEFAULT_POLICY;

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
    Cluster(BenchClusterArgs),
    /// Detection: fault → confirmed → failover started on real processes
    /// (1 s probes), false failovers (a site cut off, a flapping primary),
    /// and the shipped policy's settings on a paused clock. Run from the
    /// repository root, in release mode.
    Detect(BenchDetectArgs),
    /// End to end on the local cluster: the primary stopped → confirmed →
    /// decided → each step's end → the switched record answering with the
    /// DR target, per phase over the runs, beside the modeled RTO of the
    /// same policy. Run from the repository root, in release mode.
    E2e(BenchE2eArgs),
    /// Probe cost: CPU per HTTP and TCP probe on one thread, and so the
    /// targets one core serves at a 1 s interval.
    Probes(BenchProbesArgs),
    /// Readiness: calls, modeled time, wall time and CPU time of one
    /// evaluation of `drctl check` on the simulated cloud.
    Readiness(BenchReadinessArgs),
    /// Reprotect and failback: the modeled time of a reprotect after a
    /// failover, and of the failback after it with its write pause, on the
    /// simulated cloud, per seed, with median, p95 and max.
    Reprotect(BenchReprotectArgs),
    /// The status page: p50/p99 latency of `GET /` of a running node at a
    /// fixed rate on loopback, open-loop (start `drctl local-cluster` first).
    Page(BenchPageArgs),
}

pub(super) fn run(args: BenchArgs) -> Exit {
    match args.what {
        Some(BenchWhat::Cluster(c)) => return cluster(c),
        Some(BenchWhat::Detect(d)) => return detect(d),
        Some(BenchWhat::Probes(p)) => return probes(p),
        Some(BenchWhat::E2e(e)) => return e2e(e),
        Some(BenchWhat::Readiness(r)) => return readiness(r),
        Some(BenchWhat::Reprotect(r)) => return reprotect(r),
        Some(BenchWhat::Page(p)) => return page(p),
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
    print(args.output, &runs, |r| bench::rto::table(&policy.name, r));
    Exit::Ok
}

/// Prints a benchmark's results: as JSON, or as `table` renders them.
fn print<T: serde::Serialize>(output: Output, results: &T, table: impl FnOnce(&T) -> String) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(results).expect("results serialize")
        ),
        Output::Text => print!("{}", table(results)),
    }
}

/// `drctl bench cluster` arguments.
#[derive(Debug, Args)]
pub struct BenchClusterArgs {
    /// Leader kills to measure (a fresh cluster each).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// How long to watch the idle cluster for memory and CPU.
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_flag)]
    pub idle: Duration,
    /// Latency scale of the simulated cloud (promotion takes 3–5 s at 0.02).
    #[arg(long, default_value_t = 0.02)]
    pub scale: f64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn cluster(args: BenchClusterArgs) -> Exit {
    let options = bench::cluster::ClusterOptions {
        runs: args.runs,
        idle: args.idle,
        scale: args.scale,
    };
    match until_interrupted(bench::cluster::measure(&options)) {
        Ok(Ok(b)) => {
            print(args.output, &b, bench::cluster::table);
            Exit::Ok
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            Exit::Io
        }
        Err(e) => e,
    }
}

/// `drctl bench detect` arguments.
#[derive(Debug, Args)]
pub struct BenchDetectArgs {
    /// Primary outages on real processes (a fresh cluster each); 0 skips them.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub runs: u32,
    /// How long each false-failover scenario is watched; 0s skips them.
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_flag)]
    pub watch: Duration,
    /// Seeded runs per setting on the paused clock.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub seeds: u64,
    /// The shipped policy, measured on the paused clock.
    #[arg(long, default_value = DEFAULT_POLICY)]
    pub policy: PathBuf,
    /// Latency scale of the simulated cloud (the failover takes about 9 s at 0.02).
    #[arg(long, default_value_t = 0.02)]
    pub scale: f64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn detect(args: BenchDetectArgs) -> Exit {
    let options = bench::detect::DetectOptions {
        runs: args.runs,
        watch: args.watch,
        seeds: args.seeds,
        policy: args.policy,
        scale: args.scale,
    };
    let paused_clock = match bench::detect::paused_clock(&options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    match until_interrupted(bench::detect::measure(&options)) {
        Ok(Ok((outages, scenarios))) => {
            let b = bench::detect::DetectBench {
                outages,
                scenarios,
                paused_clock,
            };
            print(args.output, &b, bench::detect::table);
            Exit::Ok
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            Exit::Io
        }
        Err(e) => e,
    }
}

/// `drctl bench e2e` arguments.
#[derive(Debug, Args)]
pub struct BenchE2eArgs {
    /// Primary outages, a fresh local cluster each.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Latency scale of the simulated cloud (the failover takes about 9 s at 0.02).
    #[arg(long, default_value_t = 0.02)]
    pub scale: f64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn e2e(args: BenchE2eArgs) -> Exit {
    if !(args.scale > 0.0 && args.scale <= 10.0) {
        eprintln!("error: --scale {} must be in (0, 10]", args.scale);
        return Exit::Usage;
    }
    let options = bench::e2e::E2eOptions {
        runs: args.runs,
        scale: args.scale,
    };
    let (policy, modeled) = match bench::e2e::model_runs(&options) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let runs = match until_interrupted(bench::e2e::measure(&options)) {
        Ok(Ok(runs)) => runs,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
        Err(e) => return e,
    };
    let b = bench::e2e::E2eBench {
        policy,
        scale: args.scale,
        runs,
        modeled,
    };
    print(args.output, &b, bench::e2e_table::table);
    Exit::Ok
}

/// `drctl bench probes` arguments.
#[derive(Debug, Args)]
pub struct BenchProbesArgs {
    /// Probe targets per round.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub targets: u32,
    /// How long rounds run back to back, per kind of probe.
    #[arg(long, default_value = "3s", value_parser = crate::duration::parse_flag)]
    pub duration: Duration,
    /// Stop a kind earlier after this many probes: each one leaves a socket
    /// in TIME_WAIT on 127.0.0.1 for a minute.
    #[arg(long, default_value_t = 8000)]
    pub max_probes: u64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn probes(args: BenchProbesArgs) -> Exit {
    let options = bench::probes::ProbesOptions {
        targets: args.targets,
        duration: args.duration,
        max_probes: args.max_probes,
    };
    match bench::probes::measure_all(&options) {
        Ok(costs) => {
            print(args.output, &costs, |c| bench::probes::table(c));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Io
        }
    }
}

/// `drctl bench readiness` arguments.
#[derive(Debug, Args)]
pub struct BenchReadinessArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// How many evaluations to run.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn readiness(args: BenchReadinessArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    match bench::readiness::measure(&policy, args.runs) {
        Ok(cost) => {
            print(args.output, &cost, bench::readiness::table);
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Io
        }
    }
}

/// `drctl bench reprotect` arguments.
#[derive(Debug, Args)]
pub struct BenchReprotectArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds (each a failover, then the reprotect and the failback
    /// measured).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub runs: u64,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn reprotect(args: BenchReprotectArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => Arc::new(p),
        Err(e) => return e,
    };
    let rt = modeled_runtime();
    let mut runs = Vec::new();
    for seed in args.seed..args.seed + args.runs {
        match rt.block_on(bench::reprotect::run_seed(&policy, seed)) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Io;
            }
        }
    }
    print(args.output, &runs, |r| {
        bench::reprotect::table(&policy.name, r)
    });
    Exit::Ok
}

/// `drctl bench page` arguments.
#[derive(Debug, Args)]
pub struct BenchPageArgs {
    /// The page to load: a node's `/` (start one with `drctl local-cluster`).
    #[arg(long, default_value = "http://127.0.0.1:7101/")]
    pub url: String,
    /// Requests per second, sent on schedule.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub rate: u32,
    /// How long to send.
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse_flag)]
    pub duration: Duration,
    /// A request not answered within this counts as failed.
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse_flag)]
    pub timeout: Duration,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn page(args: BenchPageArgs) -> Exit {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(super::WORKER_STACK)
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime builds");
    let measured = bench::page::measure(&args.url, args.rate, args.duration, args.timeout);
    let r = match rt.block_on(measured) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    if r.ok == 0 {
        eprintln!(
            "error: no request to {} was answered 200: is a node running there (drctl local-cluster)?",
            r.url
        );
        return Exit::Unavailable;
    }
    print(args.output, &r, bench::page::table);
    Exit::Ok
}
