//! The seeded simulation of the whole controller: a fixed set of seeds
//! must keep every invariant, and a seed must replay to the same run.
//! `drctl simulate --seeds N --from S` runs any number more; a failing seed
//! prints the command that replays it.

use drctl::cli::simulate_cmd::{describe, run_range};
use drctl::simulate::run_seed;

/// The seeds CI runs (each is a few minutes of virtual time: an outage,
/// partitions, crashes, a lossy network, lag above the RPO).
const SEEDS: u64 = 12;

/// Seeds that break liveness today, each a known, open defect: with 15%
/// of messages lost for the whole run the failover is still running at
/// its bound. Every other invariant holds in them. When a fix makes one
/// pass, this test says so: take it out of the list.
const KNOWN_LIVENESS_FAILURES: [u64; 1] = [7];

#[test]
fn every_seed_of_the_fixed_set_keeps_every_invariant() {
    let failed = run_range(0, SEEDS, 2, false, false);
    let report: String = failed.iter().map(|o| describe(o, true)).collect();
    let unexpected: Vec<_> = failed
        .iter()
        .filter(|o| {
            !KNOWN_LIVENESS_FAILURES.contains(&o.seed)
                || o.violations.iter().any(|v| v.invariant != "liveness")
        })
        .collect();
    assert!(unexpected.is_empty(), "{report}");
    let seeds: Vec<u64> = failed.iter().map(|o| o.seed).collect();
    assert_eq!(
        seeds, KNOWN_LIVENESS_FAILURES,
        "a known liveness failure now passes: take it out of the list\n{report}"
    );
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
