//! The seeded simulation of the whole controller: a fixed set of seeds
//! must keep every invariant, and a seed must replay to the same run.
//! `drctl simulate --seeds N --from S` runs any number more; a failing seed
//! prints the command that replays it.

use drctl::cli::simulate_cmd::{describe, run_range};
use drctl::simulate::run_seed;

/// The seeds CI runs, on two threads (each is a few minutes of virtual
/// time: an outage, partitions, crashes, a lossy network, lag above the
/// RPO, clock skew, an operator's request). About six minutes of the dev
/// build on two cores (docs/BENCHMARKS.md, "Seeded simulation").
const SEEDS: u64 = 500;

#[test]
fn every_seed_of_the_fixed_set_keeps_every_invariant() {
    let run = run_range(0, SEEDS, 2, false, false);
    let report: String = run.failed.iter().map(|o| describe(o, true)).collect();
    assert!(run.failed.is_empty(), "{report}");
}

#[test]
fn a_seed_replays_to_the_same_run() {
    let a = run_seed(0);
    let b = run_seed(0);
    assert!(a.passed(), "{}", describe(&a, true));
    assert!(a.completed_at.is_some(), "seed 0 fails over");
    assert_eq!(
        (a.digest, a.completed_at, a.mutations, a.net),
        (b.digest, b.completed_at, b.mutations, b.net),
        "one seed, one run"
    );
}
