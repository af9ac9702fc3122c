//! `drctl simulate`: seeds of the deterministic simulation, in parallel,
//! each checked against the invariants; a failing seed prints how to
//! replay it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Exit;
use crate::simulate::{replay_command, run_seed, Outcome};

/// `drctl simulate` flags.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Replay exactly this seed, printing its schedule and outcome.
    #[arg(long, conflicts_with_all = ["seeds", "from"])]
    pub seed: Option<u64>,
    /// How many seeds to run.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// The first seed of the range.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Seeds run at once, one per thread (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: Option<u64>,
    /// Print every seed's schedule and outcome, not only failures.
    #[arg(long)]
    pub verbose: bool,
}

/// The commit the binary was built from, when git can tell.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The report of one seed, as printed.
pub fn describe(o: &Outcome, verbose: bool) -> String {
    let mut out = String::new();
    let verdict = if o.passed() { "ok" } else { "FAILED" };
    let completed = o
        .completed_at
        .map_or("no failover completed".to_string(), |t| {
            format!("failover completed at {:.1}s", t.as_secs_f64())
        });
    out.push_str(&format!(
        "seed {}: {verdict} — {:.0}s simulated, {completed}, {} mutations, {} messages ({} lost, {} duplicated), digest {:016x}\n",
        o.seed,
        o.simulated.as_secs_f64(),
        o.mutations,
        o.net.sent,
        o.net.lost,
        o.net.duplicated,
        o.digest
    ));
    if verbose || !o.passed() {
        out.push_str(&format!(
            "  {}\n",
            o.schedule.to_string().replace('\n', "\n  ")
        ));
        for (id, (status, summary)) in &o.executions {
            out.push_str(&format!("  execution {id}: {} {summary}\n", status.label()));
        }
    }
    for v in &o.violations {
        out.push_str(&format!(
            "  violated {} at {:.1}s: {}\n",
            v.invariant,
            v.at.as_secs_f64(),
            v.what
        ));
    }
    if !o.passed() {
        out.push_str(&format!(
            "  replay (commit {}): {}\n",
            commit(),
            replay_command(o.seed)
        ));
    }
    out
}

/// What a range of seeds gave.
#[derive(Debug)]
pub struct RangeRun {
    /// Every failed outcome, by seed.
    pub failed: Vec<Outcome>,
    /// The virtual time of every seed run, added up.
    pub simulated: Duration,
}

/// Runs `seeds` starting at `from` on `jobs` threads, printing as it goes
/// when `print` is set: a failed seed at once, every seed with `verbose`,
/// and otherwise a progress line on stderr each tenth of the range.
pub fn run_range(from: u64, seeds: u64, jobs: u64, verbose: bool, print: bool) -> RangeRun {
    let next = AtomicU64::new(from);
    let end = from.saturating_add(seeds);
    let (done, simulated_ms) = (AtomicU64::new(0), AtomicU64::new(0));
    let step = (seeds / 10).max(1);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    return;
                }
                let o = run_seed(seed);
                simulated_ms.fetch_add(o.simulated.as_millis() as u64, Ordering::Relaxed);
                if print && (verbose || !o.passed()) {
                    print!("{}", describe(&o, verbose));
                }
                if !o.passed() {
                    failed.lock().expect("failed seeds lock").push(o);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if print && !verbose && n % step == 0 && n < seeds {
                    let bad = failed.lock().expect("failed seeds lock").len();
                    eprintln!("{n} of {seeds} seeds run, {bad} failed");
                }
            });
        }
    });
    let mut failed = failed.into_inner().expect("failed seeds lock");
    failed.sort_by_key(|o| o.seed);
    RangeRun {
        failed,
        simulated: Duration::from_millis(simulated_ms.into_inner()),
    }
}

pub(super) fn run(args: SimulateArgs) -> Exit {
    if let Some(seed) = args.seed {
        let o = run_seed(seed);
        print!("{}", describe(&o, true));
        return if o.passed() { Exit::Ok } else { Exit::Failed };
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let wall = Instant::now();
    let RangeRun { failed, simulated } = run_range(args.from, args.seeds, jobs, args.verbose, true);
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "{} of {} seeds ({}..{}) passed in {secs:.1}s on {jobs} thread(s), {:.0} seeds/min, \
         {:.0}s simulated ({:.0} simulated seconds per second)",
        args.seeds - failed.len() as u64,
        args.seeds,
        args.from,
        args.from.saturating_add(args.seeds),
        args.seeds as f64 * 60.0 / secs.max(1e-9),
        simulated.as_secs_f64(),
        simulated.as_secs_f64() / secs.max(1e-9)
    );
    if failed.is_empty() {
        Exit::Ok
    } else {
        for o in &failed {
            println!("failed: seed {} — {}", o.seed, replay_command(o.seed));
        }
        Exit::Failed
    }
}
